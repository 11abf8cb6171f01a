/**
 * The client against a small real node:http server on a temporary Unix
 * socket: envelopes, errors, operations, ETags, projects, uploads, events.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { WebSocketServer } from 'ws';
import { ApiError, ConnectionError, IncusClient, isNotFound } from '../../lib/client';

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;

interface TestServer {
  socket: string;
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer }>;
  server: http.Server;
}

/** Starts a server whose routes are `METHOD path` (path without query) -> handler. */
async function startServer(tt: { teardown(fn: () => unknown): void }, routes: Record<string, Handler>): Promise<TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-test-'));
  const socket = path.join(dir, 'unix.socket');
  const requests: TestServer['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
      const h = routes[key];
      if (h) return h(req, body, res);
      send(res, 404, { type: 'error', error: 'not found', error_code: 404 });
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  tt.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { socket, requests, server };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const sync = (metadata: unknown) => ({ type: 'sync', status: 'Success', status_code: 200, operation: '', error_code: 0, error: '', metadata });

function op(id: string, statusCode: number, extra: Record<string, unknown> = {}) {
  const status = ({ 103: 'Running', 200: 'Success', 400: 'Failure', 401: 'Cancelled' } as Record<number, string>)[statusCode];
  return {
    id,
    class: 'task',
    description: 'Test',
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    status,
    status_code: statusCode,
    resources: { instances: ['/1.0/instances/c1'] },
    metadata: null,
    may_cancel: false,
    err: '',
    location: 'none',
    ...extra,
  };
}

const asyncResponse = (o: unknown) => ({
  type: 'async',
  status: 'Operation created',
  status_code: 100,
  operation: `/1.0/operations/${(o as { id: string }).id}`,
  error_code: 0,
  error: '',
  metadata: o,
});

t.test('sync envelope gives the metadata', async (t) => {
  const s = await startServer(t, {
    'GET /1.0': (_q, _b, res) => send(res, 200, sync({ api_version: '1.0', environment: { server_version: '6.0' } })),
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  const server = await c.getServer();
  t.equal(server.environment.server_version, '6.0');
  t.equal(s.requests[0]!.headers.host, 'unix.socket');
});

t.test('error envelope becomes ApiError with status and the server text', async (t) => {
  const s = await startServer(t, {
    'GET /1.0/instances/nope': (_q, _b, res) => send(res, 404, { type: 'error', error: 'Instance not found', error_code: 404 }),
    'GET /1.0/instances/bad': (_q, _b, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<html>bad gateway</html>');
    },
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  const err = await c.getInstance('nope').catch((e: unknown) => e);
  t.type(err, ApiError);
  t.equal((err as ApiError).status, 404);
  t.equal((err as ApiError).message, 'Instance not found');
  t.ok(isNotFound(err));
  const err2 = (await c.getInstance('bad').catch((e: unknown) => e)) as ApiError;
  t.type(err2, ApiError);
  t.equal(err2.status, 502);
  t.match(err2.message, /^Failed to fetch GET \/1\.0\/instances\/bad: 502 Bad Gateway$/);
});

t.test('async envelope gives an Operation; wait resolves or rejects with err', async (t) => {
  const s = await startServer(t, {
    'POST /1.0/instances': (_q, _b, res) => send(res, 202, asyncResponse(op('op-ok', 103))),
    'GET /1.0/operations/op-ok/wait': (_q, _b, res) => send(res, 200, sync(op('op-ok', 200))),
    'DELETE /1.0/instances/c1': (_q, _b, res) => send(res, 202, asyncResponse(op('op-fail', 103))),
    'GET /1.0/operations/op-fail/wait': (_q, _b, res) =>
      send(res, 200, sync(op('op-fail', 400, { err: 'Failed deleting instance: busy' }))),
    'PUT /1.0/instances/c1/state': (_q, _b, res) => send(res, 202, asyncResponse(op('op-cancel', 103, { may_cancel: true }))),
    'GET /1.0/operations/op-cancel/wait': (_q, _b, res) => send(res, 200, sync(op('op-cancel', 401))),
    'DELETE /1.0/operations/op-cancel': (_q, _b, res) => send(res, 200, sync({})),
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());

  const created = await c.createInstance({ name: 'c1', source: { type: 'none' } });
  t.equal(created.id, 'op-ok');
  const final = await created.wait();
  t.equal(final.status_code, 200);
  const waitReq = s.requests.find((r) => r.url.startsWith('/1.0/operations/op-ok/wait'))!;
  t.equal(waitReq.url, '/1.0/operations/op-ok/wait?timeout=-1');
  const post = s.requests.find((r) => r.method === 'POST')!;
  t.same(JSON.parse(post.body.toString()), { name: 'c1', source: { type: 'none' } });
  t.equal(post.headers['content-type'], 'application/json');

  const del = await c.deleteInstance('c1');
  const err = (await del.wait().catch((e: unknown) => e)) as ApiError;
  t.type(err, ApiError);
  t.equal(err.message, 'Failed deleting instance: busy');
  t.equal(err.status, 400);
  t.equal(err.operation?.id, 'op-fail');

  const st = await c.updateInstanceState('c1', { action: 'stop', timeout: 30, force: false, stateful: false });
  await st.cancel();
  t.ok(s.requests.some((r) => r.method === 'DELETE' && r.url === '/1.0/operations/op-cancel'));
  t.equal(((await st.wait().catch((e: unknown) => e)) as ApiError).status, 401);
});

t.test('a sync answer where an operation is due is an error', async (t) => {
  const s = await startServer(t, {
    'DELETE /1.0/instances/c1': (_q, _b, res) => send(res, 200, sync(null)),
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  await t.rejects(c.deleteInstance('c1'), /Expected an operation/);
});

t.test('ETag is returned and sent back as If-Match; project is a query parameter', async (t) => {
  const s = await startServer(t, {
    'GET /1.0/profiles/default': (_q, _b, res) =>
      send(res, 200, sync({ name: 'default', config: {}, devices: {}, description: '' }), { ETag: '"abc"' }),
    'PUT /1.0/profiles/default': (req, _b, res) =>
      req.headers['if-match'] === '"abc"'
        ? send(res, 200, sync({}))
        : send(res, 412, { type: 'error', error: 'ETag doesn\'t match: "x" vs "abc"', error_code: 412 }),
  });
  const c = new IncusClient({ socketPath: s.socket, project: 'p1' });
  t.teardown(() => c.close());
  const { value, etag } = await c.getProfileWithEtag('default');
  t.equal(etag, '"abc"');
  await c.updateProfile('default', { config: value.config, description: '', devices: {} }, { etag });
  const stale = await c.updateProfile('default', { config: {}, description: '', devices: {} }, { etag: '"x"' }).catch((e: unknown) => e);
  t.equal((stale as ApiError).status, 412);
  t.equal(s.requests[0]!.url, '/1.0/profiles/default?project=p1');
  await c.getProfile('default', { project: 'other' }).catch(() => undefined);
  t.equal(s.requests.at(-1)!.url, '/1.0/profiles/default?project=other');
});

t.test('list methods: recursion, names from URLs, filters', async (t) => {
  const s = await startServer(t, {
    'GET /1.0/instances': (req, _b, res) => {
      const q = new URL(req.url ?? '', 'http://x').searchParams;
      if (q.get('recursion') === '0') send(res, 200, sync(['/1.0/instances/a', '/1.0/instances/b%20c?project=default']));
      else send(res, 200, sync([{ name: 'a' }]));
    },
    'GET /1.0/operations': (_q, _b, res) => send(res, 200, sync({ running: [op('x', 103)], success: [op('y', 200)] })),
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  t.same(await c.getInstances(0), ['a', 'b c']);
  t.same(await c.getInstances(1, { filter: 'name eq a' }), [{ name: 'a' }]);
  t.equal(s.requests[1]!.url, '/1.0/instances?recursion=1&filter=name+eq+a');
  t.same((await c.getOperations()).map((o) => o.id).sort(), ['x', 'y']);
});

t.test('image upload streams the file with the Incus headers, then makes aliases', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-img-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'image.tar.xz');
  const content = Buffer.alloc(300_000, 7);
  fs.writeFileSync(file, content);
  const fp = 'a'.repeat(64);
  const s = await startServer(t, {
    'POST /1.0/images': (_q, _b, res) => send(res, 202, asyncResponse(op('up', 103))),
    'GET /1.0/operations/up/wait': (_q, _b, res) => send(res, 200, sync(op('up', 200, { metadata: { fingerprint: fp } }))),
    'DELETE /1.0/images/aliases/old': (_q, _b, res) => send(res, 200, sync({})),
    'POST /1.0/images/aliases': (_q, _b, res) => send(res, 201, sync({})),
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  const result = await c.createImageFromFile(file, { public: true, aliases: ['old', 'new'] });
  t.equal(result.fingerprint, fp);
  const upload = s.requests.find((r) => r.method === 'POST' && r.url === '/1.0/images')!;
  t.equal(upload.headers['content-type'], 'application/octet-stream');
  t.equal(upload.headers['x-incus-filename'], 'image.tar.xz');
  t.equal(upload.headers['x-incus-public'], 'true');
  t.equal(upload.headers['transfer-encoding'], 'chunked');
  t.ok(upload.body.equals(content), 'body is the file');
  const aliases = s.requests.filter((r) => r.url === '/1.0/images/aliases').map((r) => JSON.parse(r.body.toString()));
  t.same(aliases, [
    { name: 'old', target: fp, description: '' },
    { name: 'new', target: fp, description: '' },
  ]);
});

t.test('no daemon: ConnectionError with Incus wording', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-none-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'unix.socket');
  const c = new IncusClient({ socketPath: socket });
  const err = (await c.getServer().catch((e: unknown) => e)) as ConnectionError;
  t.type(err, ConnectionError);
  t.equal(err.code, 'ENOENT');
  t.equal(err.message, `The incus daemon doesn't appear to be started (socket path: ${socket})`);
});

t.test('raw returns the whole envelope', async (t) => {
  const s = await startServer(t, {
    'GET /1.0/instances': (_q, _b, res) => send(res, 200, sync(['/1.0/instances/a'])),
  });
  const c = new IncusClient({ socketPath: s.socket, project: 'ignored' });
  t.teardown(() => c.close());
  const { response } = await c.raw('GET', '/1.0/instances?recursion=0');
  t.equal(response.type, 'sync');
  t.same(response.metadata, ['/1.0/instances/a']);
  t.equal(s.requests[0]!.url, '/1.0/instances?recursion=0', 'path verbatim, no project added');
});

t.test('events: websocket on /1.0/events with the type filter', async (t) => {
  const s = await startServer(t, {});
  const wss = new WebSocketServer({ noServer: true });
  let seenUrl = '';
  s.server.on('upgrade', (req, sock, head) => {
    seenUrl = req.url ?? '';
    wss.handleUpgrade(req, sock, head, (ws) => {
      ws.send(JSON.stringify({ type: 'lifecycle', timestamp: 'now', metadata: { action: 'instance-started' }, location: 'none', project: 'default' }));
      ws.send(JSON.stringify({ type: 'lifecycle', timestamp: 'now', metadata: { action: 'instance-stopped' }, location: 'none', project: 'default' }));
    });
  });
  t.teardown(() => wss.close());
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  const stream = await c.events(['lifecycle', 'operation']);
  const actions: string[] = [];
  for await (const e of stream) {
    actions.push((e.metadata as { action: string }).action);
    if (actions.length === 2) break;
  }
  t.same(actions, ['instance-started', 'instance-stopped']);
  t.equal(seenUrl, '/1.0/events?type=lifecycle%2Coperation');
});

t.test('events: a refused upgrade rejects with the server error', async (t) => {
  const s = await startServer(t, {
    'GET /1.0/events': (_q, _b, res) => send(res, 403, { type: 'error', error: 'Forbidden', error_code: 403 }),
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  const err = (await c.events().catch((e: unknown) => e)) as ApiError;
  t.type(err, ApiError);
  t.equal(err.status, 403);
  t.equal(err.message, 'Forbidden');
});

t.test('wait(signal) stops waiting when aborted', async (t) => {
  const s = await startServer(t, {
    'POST /1.0/instances': (_q, _b, res) => send(res, 202, asyncResponse(op('slow', 103))),
    'GET /1.0/operations/slow/wait': () => undefined, // Never answers.
  });
  const c = new IncusClient({ socketPath: s.socket });
  t.teardown(() => c.close());
  const o = await c.createInstance({ name: 'c1', source: { type: 'none' } });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const err = (await o.wait(ac.signal).catch((e: unknown) => e)) as Error;
  t.equal(err.name, 'AbortError');
});
