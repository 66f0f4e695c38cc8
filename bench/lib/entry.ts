// A bench's (or runner's) entry point: its main runs only when the module is the script node was
// started with, not when tests or other benches import it.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Whether `moduleUrl` (a module's import.meta.url) is the process's entry script. */
export function isEntryModule(moduleUrl: string): boolean {
  const invoked = process.argv[1];
  return invoked !== undefined && moduleUrl === pathToFileURL(resolve(invoked)).href;
}

export interface EntryOptions {
  /** Exit code when main throws (default 2). */
  failCode?: number;
  /** Print the error's stack, not only its message. */
  stack?: boolean;
}

/**
 * Runs `main` with the command-line arguments when `moduleUrl` is the entry script: what it
 * returns is the exit code; what it throws is printed as `name: message` and exits `failCode`.
 */
export function runIfEntry(moduleUrl: string, name: string, main: (argv: string[]) => Promise<number>, options: EntryOptions = {}): void {
  if (!isEntryModule(moduleUrl)) return;
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      const text = err instanceof Error ? (options.stack === true ? (err.stack ?? err.message) : err.message) : String(err);
      console.error(`${name}: ${text}`);
      process.exitCode = options.failCode ?? 2;
    },
  );
}
