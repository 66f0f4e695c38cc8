// Helpers shared by the gRPC and admin listeners.
import { lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

/** A listen address could not be bound; the message names the address and the reason. */
export class ListenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ListenError';
  }
}

/** Removes a unix socket file left behind by a dead process; refuses one that is in use. */
export async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return; // does not exist
  }
  if (!stat.isSocket()) throw new ListenError(`cannot listen on unix:${path}: the path exists and is not a socket`);
  const inUse = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (inUse) throw new ListenError(`cannot listen on unix:${path}: another process is listening on it`);
  unlinkSync(path);
}

/** Deletes a socket file we created, ignoring a missing one. */
export function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
