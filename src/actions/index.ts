// Registry of SecLang actions by name.
import type { ActionDef } from './types.js';
import { metadataActions } from './metadata.js';
import { disruptiveActions } from './disruptive.js';
import { flowActions } from './flow.js';
import { setvarActions } from './setvar.js';
import { ctlAction } from './ctl.js';
import { miscActions } from './misc.js';

const registry = new Map<string, ActionDef>();

export function registerAction(name: string, def: ActionDef): void {
  registry.set(name.toLowerCase(), def);
}

export function getAction(name: string): ActionDef | undefined {
  return registry.get(name.toLowerCase());
}

export function actionNames(): string[] {
  return [...registry.keys()];
}

for (const group of [metadataActions, disruptiveActions, flowActions, setvarActions, miscActions]) {
  for (const [name, def] of Object.entries(group)) registerAction(name, def);
}
registerAction('ctl', ctlAction);
