/**
 * `incus console --type vga`, as Incus's client does it: a local SPICE
 * socket ($INCUS_CONF/sockets/*.spice) whose every connection becomes a
 * websocket on the operation's `0` secret (a SPICE client opens one per
 * channel); `remote-viewer` or `spicy` is started on it when installed,
 * otherwise the socket's URI is printed. The session ends with the viewer,
 * or once every connection a viewer made has closed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import type { RawData } from 'ws';
import type { IncusClient } from '../client';
import { attachConsole, openOperationWebsocket } from '../client/console';

function findCommand(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return null;
}

/** Mirrors one local connection over a new websocket on `secret`. */
async function mirror(client: IncusClient, opId: string, secret: string, conn: Socket): Promise<void> {
  const ws = await openOperationWebsocket(client, opId, secret);
  await new Promise<void>((resolve) => {
    ws.on('message', (msg: RawData) => conn.write(Buffer.isBuffer(msg) ? msg : Array.isArray(msg) ? Buffer.concat(msg) : Buffer.from(msg)));
    conn.on('data', (b: Buffer) => ws.send(b, { binary: true }));
    const end = (): void => {
      conn.destroy();
      ws.close();
      resolve();
    };
    ws.on('close', end);
    ws.on('error', end);
    conn.on('close', end);
    conn.on('error', end);
  });
}

/** Runs the VGA console of `name` until the viewer (or every connection) is done. */
export async function runVgaConsole(client: IncusClient, name: string, confDir: string, out: (text: string) => void): Promise<void> {
  const att = await attachConsole(client, name, { type: 'vga' });
  // attachConsole opened one data connection; a SPICE client makes its own.
  att.data.close();
  const secret = (att.operation.data.metadata?.fds as Record<string, string> | undefined)?.['0'] ?? '';
  const dir = join(confDir, 'sockets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${randomBytes(6).toString('hex')}.spice`);
  const uri = `spice+unix://${path}`;
  let open = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const server = createServer((conn) => {
    open++;
    void mirror(client, att.operation.id, secret, conn)
      .catch(() => conn.destroy())
      .finally(() => {
        if (--open === 0 && !viewer) finish();
      });
  });
  await new Promise<void>((resolve, reject) => server.listen(path, resolve).once('error', reject));
  const remoteViewer = findCommand('remote-viewer');
  const spicy = findCommand('spicy');
  const viewer = remoteViewer ? spawn(remoteViewer, [uri], { stdio: 'inherit' }) : spicy ? spawn(spicy, [`--uri=${uri}`], { stdio: 'inherit' }) : null;
  if (viewer) {
    viewer.once('exit', () => finish());
    viewer.once('error', () => finish());
  } else {
    out('The client automatically uses either spicy or remote-viewer when present.\n');
    out('As neither could be found, the raw SPICE socket can be found at:\n');
    out(`  ${uri}\n`);
  }
  const stop = (): void => finish();
  process.once('SIGINT', stop);
  att.control.once('close', stop);
  try {
    await done;
  } finally {
    process.off('SIGINT', stop);
    server.close();
    rmSync(path, { force: true });
    att.control.close();
    await att.operation.wait().catch(() => undefined);
  }
}
