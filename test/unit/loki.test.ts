/**
 * Loki forwarding without a daemon: events become Incus's entries (labels,
 * line), and the pusher batches them into Loki's JSON push body, retries
 * 5xx and stops on 4xx, against a receiver on 127.0.0.1.
 */
import t, { type Test } from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lokiConfigOf, lokiKeyProblem } from '../../lib/server/loki/config';
import { toEntry } from '../../lib/server/loki/entry';
import { LokiPusher } from '../../lib/server/loki/pusher';

interface Received {
  headers: IncomingMessage['headers'];
  url: string;
  body: { streams: { stream: Record<string, string>; values: [string, string][] }[] };
}

async function receiver(t: Test, statuses: number[] = []): Promise<{ url: string; got: Received[] }> {
  const got: Received[] = [];
  const srv = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, url: req.url ?? '', body: JSON.parse(text) as Received['body'] });
      res.statusCode = statuses.shift() ?? 204;
      res.end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, got };
}

const lifecycle = {
  type: 'lifecycle',
  timestamp: '2026-12-04T10:00:00.123Z',
  location: 'none',
  metadata: { action: 'instance-started', source: '/1.0/instances/c1', name: 'c1', project: 'default', context: { reason: 'user' } },
};
const logging = { type: 'logging', timestamp: '2026-12-04T10:00:01Z', metadata: { message: 'Something odd', level: 'warning', context: { instance: 'c1' } } };

t.test('entries: labels and lines as Incus builds them', async (t) => {
  const cfg = lokiConfigOf({ 'loki.api.url': 'http://x', 'loki.instance': 'host1', 'loki.labels': 'action,instance' })!;
  const e = toEntry(cfg, lifecycle)!;
  t.same(e.labels, { app: 'incus', type: 'lifecycle', location: cfg.location, instance: 'host1', name: 'c1', project: 'default', action: 'instance-started' });
  t.equal(e.line, 'context-reason="user" source="/1.0/instances/c1" instance-started');
  t.equal(e.ts, '1796378400123000000');
  const l = toEntry(cfg, logging)!;
  t.equal(l.labels.type, 'logging');
  // `instance` is already a label (the server's): the context's stays in the line.
  t.equal(l.line, 'context-instance="c1" level="warning" Something odd');
  const quiet = lokiConfigOf({ 'loki.api.url': 'http://x', 'loki.loglevel': 'error' })!;
  t.equal(toEntry(quiet, logging), null, 'below loki.loglevel: dropped');
  const onlyLogs = lokiConfigOf({ 'loki.api.url': 'http://x', 'loki.types': 'logging' })!;
  t.equal(toEntry(onlyLogs, lifecycle), null, 'not in loki.types: dropped');
  t.equal(lokiConfigOf({}), null, 'no URL: no forwarding');
  t.equal(lokiKeyProblem('loki.api.url', 'ftp://x'), 'Invalid URL scheme');
  t.match(lokiKeyProblem('loki.types', 'lifecycle,bogus') ?? '', /bogus/);
  t.match(lokiKeyProblem('loki.loglevel', 'loud') ?? '', /not one of/);
});

t.test('pusher: one batch in the push format, basic auth, grouped streams', async (t) => {
  const rx = await receiver(t);
  const cfg = lokiConfigOf({ 'loki.api.url': rx.url, 'loki.auth.username': 'u', 'loki.auth.password': 'p', 'loki.instance': 'h' })!;
  const p = new LokiPusher(cfg, { batchBytes: 10 * 1024, batchWaitMs: 50, retries: 3, retryDelayMs: 20, timeoutMs: 2000 });
  p.push(toEntry(cfg, lifecycle)!);
  p.push(toEntry(cfg, lifecycle)!);
  p.push(toEntry(cfg, logging)!);
  await p.stop();
  t.equal(rx.got.length, 1, 'one push');
  const r = rx.got[0]!;
  t.equal(r.url, '/loki/api/v1/push');
  t.equal(r.headers['content-type'], 'application/json');
  t.equal(r.headers.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
  t.equal(r.body.streams.length, 2, 'one stream per label set');
  t.equal(r.body.streams[0]!.values.length, 2, 'same labels: one stream, two values');
  // Without loki.labels the action stays in the line, before the action itself (as Incus writes it).
  t.same(r.body.streams[0]!.values[0], ['1796378400123000000', 'action="instance-started" context-reason="user" source="/1.0/instances/c1" instance-started']);
});

t.test('pusher: 5xx retried, 4xx dropped, a full batch goes at once', async (t) => {
  const rx = await receiver(t, [503, 204, 400]);
  const cfg = lokiConfigOf({ 'loki.api.url': rx.url })!;
  const p = new LokiPusher(cfg, { batchBytes: 100, batchWaitMs: 10_000, retries: 3, retryDelayMs: 20, timeoutMs: 2000 });
  const big = { ...logging, metadata: { ...logging.metadata, message: 'x'.repeat(80) } };
  p.push(toEntry(cfg, big)!);
  p.push(toEntry(cfg, big)!); // over 100 bytes: the first batch goes now
  await new Promise((r) => setTimeout(r, 300));
  t.equal(rx.got.length, 2, 'the first batch was sent without waiting, and retried after the 503');
  await p.stop();
  t.equal(rx.got.length, 3, 'the second batch sent once: its 400 is not retried');
});
