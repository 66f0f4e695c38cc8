// Loading an OWASP CRS v4 directory as it is installed (CRS INSTALL.md): `rules` may name the CRS
// directory itself instead of an entry file. The entry is then composed in CRS's documented order:
//
//   the request side of ModSecurity's modsecurity.conf-recommended (engine, body processors,
//     body-error rules 200000-200007; DetectionOnly unless the mode setting says otherwise)
//   crs-setup.conf            (crs-setup.conf.example, with a warning, when not copied yet)
//   plugins/*-config.conf     plugins/*-before.conf
//   rules/*.conf              (byte order: a REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf renamed
//                              from its .example runs first, RESPONSE-999-...-AFTER-CRS.conf last)
//   plugins/*-after.conf
//
// Sidewall's detection layer (rules/sidewall-layer, ids 9510000-9510999) is included by default
// between CRS's detection rules and REQUEST-949-BLOCKING-EVALUATION, so its matches count toward
// CRS's anomaly threshold; `sidewallLayer: false` (config `sidewall_layer: false`) leaves it out.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Directive } from '../seclang/ast.js';
import { parseDirectivesFromString, readDirectives } from '../seclang/reader.js';
import { PACKAGE_ROOT } from '../config/paths.js';

/** Sidewall's own detection layer (see rules/sidewall-layer/README.md). */
export const SIDEWALL_LAYER_DIR = join(PACKAGE_ROOT, 'rules', 'sidewall-layer');

export interface CrsLayoutOptions {
  /** Include the Sidewall detection layer before CRS's blocking evaluation (default true). */
  sidewallLayer?: boolean;
}

/** CRS rule files are named REQUEST-9xx/RESPONSE-9xx; the layer goes before the first of these. */
const LAYER_BEFORE = 'REQUEST-949';

/**
 * Include lines for `rulesDir`/*.conf in byte order, with the layer's files (when given) before
 * the blocking evaluation. Exported for harnesses that compose their own entry (benchmarks).
 */
export function crsRulesIncludes(rulesDir: string, layerDir: string | null): string[] {
  const files = readdirSync(rulesDir).filter((f) => f.endsWith('.conf')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (layerDir === null) return [`Include ${join(rulesDir, '*.conf')}`];
  const lines: string[] = [];
  let layerDone = false;
  for (const f of files) {
    if (!layerDone && f >= LAYER_BEFORE) {
      lines.push(`Include ${join(layerDir, '*.conf')}`);
      layerDone = true;
    }
    lines.push(`Include ${join(rulesDir, f)}`);
  }
  if (!layerDone) lines.push(`Include ${join(layerDir, '*.conf')}`);
  return lines;
}

/** Request-side directives of ModSecurity v3's modsecurity.conf-recommended. Response-body,
 * audit/debug log, file-system and status settings are left out (ext_authz sees no response and
 * Sidewall writes no files), and so is SecCookieFormat 0, the only cookie format there is. */
export const MODSECURITY_RECOMMENDED_REQUEST_SIDE = `# -- from ModSecurity v3 modsecurity.conf-recommended (request side) --
SecRuleEngine DetectionOnly
SecRequestBodyAccess On

SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" \\
     "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"

SecRule REQUEST_HEADERS:Content-Type "^application/json" \\
     "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"

SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRequestBodyJsonDepthLimit 512
SecArgumentsLimit 1000

SecRule &ARGS "@ge 1000" \\
"id:'200007', phase:2,t:none,log,deny,status:400,msg:'Failed to fully parse request body due to large argument count',severity:2"

SecRule REQBODY_ERROR "!@eq 0" \\
"id:'200002', phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"

SecRule MULTIPART_STRICT_ERROR "!@eq 0" \\
"id:'200003',phase:2,t:none,log,deny,status:400, \\
msg:'Multipart request body failed strict validation: \\
PE %{REQBODY_PROCESSOR_ERROR}, \\
BQ %{MULTIPART_BOUNDARY_QUOTED}, \\
BW %{MULTIPART_BOUNDARY_WHITESPACE}, \\
DB %{MULTIPART_DATA_BEFORE}, \\
DA %{MULTIPART_DATA_AFTER}, \\
HF %{MULTIPART_HEADER_FOLDING}, \\
LF %{MULTIPART_LF_LINE}, \\
SM %{MULTIPART_MISSING_SEMICOLON}, \\
IQ %{MULTIPART_INVALID_QUOTING}, \\
IP %{MULTIPART_INVALID_PART}, \\
IH %{MULTIPART_INVALID_HEADER_FOLDING}, \\
FL %{MULTIPART_FILE_LIMIT_EXCEEDED}'"

SecRule MULTIPART_UNMATCHED_BOUNDARY "@eq 1" \\
    "id:'200004',phase:2,t:none,log,deny,msg:'Multipart parser detected a possible unmatched boundary.'"

SecPcreMatchLimit 1000
SecPcreMatchLimitRecursion 1000

SecRule TX:/^MSC_/ "!@streq 0" \\
        "id:'200005',phase:2,t:none,deny,msg:'ModSecurity internal error flagged: %{MATCHED_VAR_NAME}'"

SecArgumentSeparator &
`;

/** True when `path` is a directory laid out like a CRS installation (has rules/ and a crs-setup). */
export function isCrsDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory() && existsSync(join(path, 'rules'));
  } catch {
    return false;
  }
}

export interface CrsLayout {
  /** The composed entry text (Include paths absolute). */
  text: string;
  /** Notes for the operator (e.g. crs-setup.conf.example used). */
  warnings: string[];
}

/** Composes the entry for a CRS directory. Throws with a clear message when it is not one. */
export function crsLayoutEntry(dir: string, options: CrsLayoutOptions = {}): CrsLayout {
  const root = resolve(dir);
  if (!existsSync(join(root, 'rules'))) throw new Error(`${root}: not a CRS directory (no rules/ inside)`);
  const warnings: string[] = [];
  let setup = join(root, 'crs-setup.conf');
  if (!existsSync(setup)) {
    const example = join(root, 'crs-setup.conf.example');
    if (!existsSync(example)) throw new Error(`${root}: no crs-setup.conf (nor crs-setup.conf.example) in the CRS directory`);
    warnings.push(`${example}: used as is; copy it to crs-setup.conf to customise the CRS setup`);
    setup = example;
  }
  const plugins = join(root, 'plugins');
  const text = [
    `# Composed by Sidewall from the CRS directory ${root} (CRS INSTALL order).`,
    MODSECURITY_RECOMMENDED_REQUEST_SIDE,
    `Include ${setup}`,
    `IncludeOptional ${join(plugins, '*-config.conf')}`,
    `IncludeOptional ${join(plugins, '*-before.conf')}`,
    ...crsRulesIncludes(join(root, 'rules'), options.sidewallLayer === false ? null : SIDEWALL_LAYER_DIR),
    `IncludeOptional ${join(plugins, '*-after.conf')}`,
    '',
  ].join('\n');
  return { text, warnings };
}

/**
 * Reads the directives of a rules path: a SecLang entry file, or a CRS directory composed as above
 * (with the Sidewall layer unless options.sidewallLayer is false)
 * (its notes go to `onWarning`). Throws SecLangError naming file:line.
 */
export function readRulesEntry(path: string, onWarning?: (message: string) => void, options: CrsLayoutOptions = {}): Directive[] {
  if (!isCrsDirectory(path)) return readDirectives(path);
  const layout = crsLayoutEntry(path, options);
  for (const w of layout.warnings) onWarning?.(w);
  return parseDirectivesFromString(layout.text, join(resolve(path), '(crs-layout)'));
}
