/**
 * Dialing a migration peer's websockets, against a real HTTPS server on
 * 127.0.0.1: a prefetched channel is dialed at once (its handshake need not
 * wait for control's), asking for it again takes that same dial, its
 * failure reaches whoever asks, and connections torn down while a dial is
 * under way close that socket when it lands instead of keeping it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { WebSocket, WebSocketServer } from 'ws';
import { MigrationConns } from '../../../lib/server/migration/conns';

interface Peer {
  operation: string;
  cert: string;
  key: string;
  /** Secrets of the upgrades the server has seen, in arrival order. */
  arrived: string[];
  /** The server's side of each accepted websocket, by secret. */
  accepted: Map<string, WebSocket>;
  /** Holds each upgrade this long before answering it. */
  delayMs: number;
  /** Secrets answered 403. */
  refuse: Set<string>;
}

async function peer(t: Test): Promise<Peer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'conns-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [keyFile, certFile] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=peer'], { stdio: 'ignore' });
  const p: Peer = { operation: '', cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), arrived: [], accepted: new Map(), delayMs: 0, refuse: new Set() };
  const https = createServer({ key: p.key, cert: p.cert });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  https.on('upgrade', (req: IncomingMessage, sock: Socket, head: Buffer) => {
    const secret = new URL(req.url ?? '', 'https://x').searchParams.get('secret') ?? '';
    p.arrived.push(secret);
    setTimeout(() => {
      if (p.refuse.has(secret)) {
        sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, sock, head, (ws) => p.accepted.set(secret, ws));
    }, p.delayMs);
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  p.operation = `https://127.0.0.1:${(https.address() as AddressInfo).port}/1.0/operations/op1`;
  t.teardown(() => {
    for (const ws of p.accepted.values()) ws.terminate();
    wss.close();
    https.close();
    https.closeAllConnections();
  });
  return p;
}

function outgoing(p: Peer): MigrationConns {
  return MigrationConns.outgoing(['control', 'fs'], {
    operation: p.operation,
    secrets: { control: 'sc', fs: 'sf' },
    certificate: p.cert,
    certPem: p.cert,
    keyPem: p.key,
  });
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

t.test('prefetch dials fs at once, and asking for it takes that same dial', async (t) => {
  const p = await peer(t);
  const conns = outgoing(p);
  t.teardown(() => conns.terminate());
  conns.prefetch(['fs']);
  await until('the fs upgrade', () => p.arrived.includes('sf'));
  t.same(p.arrived, ['sf'], 'fs dialed before control was asked for');
  const fs = await conns.channel('fs');
  t.equal(await conns.channel('fs'), fs, 'the same channel, not a second dial');
  const ctrl = await conns.channel('control');
  t.not(ctrl, fs);
  t.same(p.arrived, ['sf', 'sc'], 'one dial each');
});

t.test('a prefetched dial that fails fails whoever asks for the channel', async (t) => {
  const p = await peer(t);
  p.refuse.add('sf');
  const conns = outgoing(p);
  t.teardown(() => conns.terminate());
  conns.prefetch(['fs']);
  await t.rejects(conns.channel('fs'), /refused the connection: 403/);
  t.same(p.arrived, ['sf'], 'not dialed a second time');
});

t.test('torn down mid-dial: the socket that lands afterwards is closed, not kept', async (t) => {
  const p = await peer(t);
  p.delayMs = 200;
  const conns = outgoing(p);
  conns.prefetch(['fs']);
  await until('the fs upgrade', () => p.arrived.includes('sf'));
  conns.terminate();
  await t.rejects(conns.channel('fs'), /already closed/);
  await until('the server to accept', () => p.accepted.has('sf'));
  const server = p.accepted.get('sf')!;
  await until('the late socket to close', () => server.readyState === WebSocket.CLOSED).catch(() => undefined);
  t.equal(server.readyState, WebSocket.CLOSED, 'the late socket was dropped by the dialer');
});

t.test('channels the peer opens are not dialed by prefetch', async (t) => {
  const conns = MigrationConns.incoming(['control', 'fs']);
  conns.prefetch(['fs']);
  t.ok(conns.accepts(conns.secrets().fs!), 'fs still waits for the peer');
  conns.close();
});
