/**
 * One end of a migration around its transfer: the `control` and `fs`
 * channels opened, the work run, the outcome told to the peer (a failure
 * before the sockets drop), an abort of the operation ending the
 * connections, and the connections always closed.
 */
import type { MigrationChannel } from './channel';
import type { MigrationConns } from './conns';
import { receiveResult, sendResult } from './control';

/** How long the fs connection may take once control is up (dialed: from the start, alongside control). */
const FS_CONNECT_TIMEOUT_MS = 10_000;

export type SessionBody<T> = (ctrl: MigrationChannel, fs: MigrationChannel) => Promise<T>;

/** The sending side: failures become "Failed migration on source: ...". */
export async function sourceSession(conns: MigrationConns, signal: AbortSignal | undefined, body: SessionBody<void>): Promise<void> {
  conns.prefetch(['fs'], FS_CONNECT_TIMEOUT_MS);
  let ctrl;
  try {
    ctrl = await conns.channel('control');
  } catch (err) {
    // The fs dial may have got through: drop it with the rest.
    conns.terminate();
    throw err;
  }
  const onAbort = (): void => conns.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await body(ctrl, await conns.channel('fs', FS_CONNECT_TIMEOUT_MS));
  } catch (err) {
    await sendResult(ctrl, err as Error);
    conns.terminate();
    throw new Error(`Failed migration on source: ${(err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    conns.close();
  }
}

/**
 * The receiving side: the body's result is confirmed to the source;
 * `undo` runs on failure, which becomes "<what>: Failed migration on target: ...".
 */
export async function sinkSession<T>(conns: MigrationConns, signal: AbortSignal | undefined, what: string, undo: () => Promise<void>, body: SessionBody<T>): Promise<T> {
  const onAbort = (): void => conns.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  conns.prefetch(['fs'], FS_CONNECT_TIMEOUT_MS);
  let ctrl;
  try {
    ctrl = await conns.channel('control');
  } catch (err) {
    signal?.removeEventListener('abort', onAbort);
    conns.terminate();
    throw new Error(`Failed waiting for migration control connection on target: ${(err as Error).message}`);
  }
  try {
    const out = await body(ctrl, await conns.channel('fs', FS_CONNECT_TIMEOUT_MS));
    await sendResult(ctrl, null);
    return out;
  } catch (err) {
    await sendResult(ctrl, err as Error);
    conns.terminate();
    await undo();
    throw new Error(`${what}: Failed migration on target: ${(err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    conns.close();
  }
}

/**
 * The receiver's wait: the transfer to its end, unless the source speaks
 * first on control (it only does when it failed), which ends it at once;
 * on failure it returns only once the transfer's writers have stopped.
 */
export async function receiveUnlessSourceFails(ctrl: MigrationChannel, fs: MigrationChannel, transfer: Promise<unknown>): Promise<void> {
  const aborted = receiveResult(ctrl, 'source').then(
    () => {
      throw new Error('Migration source ended the transfer early');
    },
    (err: Error) => {
      throw err;
    },
  );
  transfer.catch(() => undefined);
  aborted.catch(() => undefined);
  try {
    await Promise.race([transfer, aborted]);
  } catch (err) {
    // The writers (rsync, btrfs receive) must be gone before what they made is undone.
    fs.terminate();
    await transfer.catch(() => undefined);
    throw err;
  }
}
