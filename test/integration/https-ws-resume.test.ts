/**
 * lib/client's HttpsTransport opens websockets through its keep-alive
 * agent, so each new websocket (an exec opens three) resumes the TLS
 * session instead of a full handshake, and is still authenticated as the
 * trusted client certificate; so does a connection started early
 * (`preconnect`, as exec does while its POST is in flight).
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type WebSocket from 'ws';
import { HttpsTransport, IncusClient } from '../../lib/client';
import { rawRequest } from './lib/http';
import { withDaemon } from './lib/daemon';
import { makeClientKeypair } from './lib/tls-transport';
import { freeLocalPort as freePort } from '../../bench/lib/free-port';

/** Opens `path` and waits for the upgrade; rejects on an error (e.g. 403 for an untrusted caller). */
function opened(ws: WebSocket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve((ws as unknown as { _socket: TLSSocket })._socket));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`websocket refused: ${res.statusCode}`)));
  });
}

t.test('HTTPS websockets resume the TLS session and stay trusted', async (t) => {
  const d = await withDaemon(t);
  const keys = mkdtempSync(join(tmpdir(), 'incus-ws-resume-'));
  t.teardown(() => rmSync(keys, { recursive: true, force: true }));
  const port = await freePort();
  t.equal((await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.https_address': `127.0.0.1:${port}` } }))).status, 200, 'core.https_address set');
  const kp = makeClientKeypair(keys, 'resume');
  t.equal((await rawRequest(d.socket, 'POST', '/1.0/certificates', JSON.stringify({ type: 'client', name: 'resume', certificate: kp.cert }))).status, 200, 'client certificate trusted');

  const tr = new HttpsTransport({ url: `https://127.0.0.1:${port}`, clientCert: kp.cert, clientKey: kp.key, serverCert: readFileSync(join(d.dir, 'server.crt'), 'utf8') });
  const client = new IncusClient({ transport: tr });
  t.teardown(() => client.close());
  t.equal((await client.getServer()).auth, 'trusted', 'requests are trusted');

  const reused: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    const ws = tr.openWebSocket('/1.0/events');
    const sock = await opened(ws);
    reused.push(sock.isSessionReused());
    ws.close();
  }
  // The first may take the idle request connection from the pool (no
  // handshake at all); the rest are new connections and must resume.
  t.same(reused.slice(1), [true, true], 'later websockets resumed the TLS session, and the events endpoint accepted them as trusted');

  const early = tr.preconnect();
  t.ok(early, 'a connection can be started early once there is a session to resume');
  const ws = tr.openWebSocket('/1.0/events', early);
  const sock = await opened(ws);
  t.equal(sock, early, 'the websocket went over the early connection');
  t.ok(sock.isSessionReused(), 'the early connection resumed the TLS session');
  ws.close();

  const fresh = new HttpsTransport({ url: `https://127.0.0.1:${port}`, clientCert: kp.cert, clientKey: kp.key, serverCert: readFileSync(join(d.dir, 'server.crt'), 'utf8') });
  t.teardown(() => fresh.close());
  t.equal(fresh.preconnect(), undefined, 'no early connection before there is a session: a full handshake would race the request');
});
