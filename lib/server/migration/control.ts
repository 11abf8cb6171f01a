/** The `control` channel's messages, with the time limits Incus gives the handshake. */
import type { MigrationChannel } from './channel';
import { decodeControl, decodeHeader, encodeControl, encodeHeader, type MigrationControl, type MigrationHeader } from './proto';

/** How long the handshake may wait for the peer's header (Incus: 2 minutes). */
const HANDSHAKE_MS = 120_000;

export function sendHeader(ctrl: MigrationChannel, h: MigrationHeader): Promise<void> {
  return ctrl.send(encodeHeader(h));
}

/** The peer's header, or its failure message as an error. */
export async function receiveHeader(ctrl: MigrationChannel): Promise<MigrationHeader> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Timed out waiting for the migration header')), HANDSHAKE_MS);
  });
  try {
    return decodeHeader(await Promise.race([ctrl.readMessage(), timeout]));
  } finally {
    clearTimeout(timer);
  }
}

/** Sends the final word: success, or the error that ended the migration here. */
export function sendResult(ctrl: MigrationChannel, err: Error | null): Promise<void> {
  return ctrl.send(encodeControl({ success: err === null, message: err ? err.message : '' })).catch(() => undefined);
}

/** The peer's final word; an error when it failed or the channel went away first. */
export async function receiveResult(ctrl: MigrationChannel, peer: 'source' | 'target'): Promise<void> {
  let msg: MigrationControl;
  try {
    msg = decodeControl(await ctrl.readMessage());
  } catch (err) {
    throw new Error(`Error reading migration control ${peer}: ${(err as Error).message}`);
  }
  if (!msg.success) throw new Error(`Error from migration control ${peer}: ${msg.message ?? ''}`);
}

/**
 * The sender's wait: the transfer to its end, unless the receiver's verdict
 * comes first as a failure (which ends it at once); then the verdict.
 */
export async function transferThenVerdict(transfer: Promise<unknown>, verdict: Promise<void>): Promise<void> {
  const failed = verdict.then(
    () => new Promise<never>(() => undefined),
    (err: Error) => {
      throw err;
    },
  );
  // Whichever loses the race is settled later: never left unhandled.
  transfer.catch(() => undefined);
  failed.catch(() => undefined);
  await Promise.race([transfer, failed]);
  await verdict;
}
