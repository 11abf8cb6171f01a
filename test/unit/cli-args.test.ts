/**
 * Argument handling: key=value, device overrides, remote prefixes, the
 * command word, and image references (resolved against a small real HTTP
 * server on a temporary Unix socket).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { matchFingerprint, resolveImage } from '../../lib/cli/image-ref';
import { parseDeviceOverrides, parseKeyValues } from '../../lib/cli/kv';
import { commandWord } from '../../lib/cli/main';
import { localName } from '../../lib/cli/remote';
import { ApiError, IncusClient } from '../../lib/client';

t.test('key=value pairs', async (t) => {
  t.same(parseKeyValues(['a=1', 'b=x=y', 'c=', 'a=2']), { a: '2', b: 'x=y', c: '' });
  t.throws(() => parseKeyValues(['novalue']), { message: 'Bad key=value pair: "novalue"' });
});

t.test('device overrides', async (t) => {
  t.same(parseDeviceOverrides(['root,size=10GiB', 'root,io.bus=nvme', 'eth0,mtu=1400']), {
    root: { size: '10GiB', 'io.bus': 'nvme' },
    eth0: { mtu: '1400' },
  });
  t.throws(() => parseDeviceOverrides(['root=5']), {
    message: 'Bad device override syntax, expecting <device>,<key>=<value>: root=5',
  });
});

t.test('remote prefixes: local: is accepted, others do not exist yet', async (t) => {
  t.equal(localName('c1'), 'c1');
  t.equal(localName('local:c1'), 'c1');
  t.equal(localName('local:'), '');
  t.throws(() => localName('images:debian/12'), { message: 'The remote "images" doesn\'t exist' });
  t.equal(localName('c1/snap:0'), 'c1/snap:0', 'no remote when the part before ":" has a slash');
});

t.test('command word skips global options', async (t) => {
  t.equal(commandWord(['list']), 'list');
  t.equal(commandWord(['--project', 'p1', 'list', '-c', 'n']), 'list');
  t.equal(commandWord(['--project=p1', '-q', 'launch', 'img']), 'launch');
  t.equal(commandWord(['--help']), undefined);
  t.equal(commandWord([]), undefined);
});

const FP1 = 'ab12' + '0'.repeat(60);
const FP2 = 'ab34' + '1'.repeat(60);
const FP3 = 'cd56' + '2'.repeat(60);

t.test('fingerprint prefixes', async (t) => {
  t.equal(matchFingerprint([FP1, FP2, FP3], 'cd'), FP3);
  t.equal(matchFingerprint([FP1, FP2, FP3], FP1), FP1);
  const none = (() => {
    try {
      matchFingerprint([FP1], 'ff');
    } catch (e) {
      return e;
    }
  })() as ApiError;
  t.type(none, ApiError);
  t.equal(none.status, 404);
  t.equal(none.message, 'Image not found');
  t.throws(() => matchFingerprint([FP1, FP2], 'ab'), { message: 'More than one image matches' });
});

t.test('image references: alias, full fingerprint, unique prefix', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-imgref-'));
  const socket = path.join(dir, 'unix.socket');
  const images: Record<string, { fingerprint: string; type: string }> = {
    [FP1]: { fingerprint: FP1, type: 'container' },
    [FP2]: { fingerprint: FP2, type: 'container' },
    [FP3]: { fingerprint: FP3, type: 'virtual-machine' },
  };
  const aliases: Record<string, string> = { busybox: FP3 };
  const ok = (metadata: unknown) => JSON.stringify({ type: 'sync', status: 'Success', status_code: 200, metadata });
  const notFound = (what: string) => JSON.stringify({ type: 'error', error: `${what} not found`, error_code: 404 });
  // Like a server without prefix matching: only full fingerprints are found.
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '', 'http://x');
    const m = /^\/1\.0\/images(?:\/aliases\/(.+)|\/(.+))?$/.exec(url.pathname);
    res.setHeader('Content-Type', 'application/json');
    if (m?.[1] !== undefined) {
      const target = aliases[decodeURIComponent(m[1])];
      res.statusCode = target ? 200 : 404;
      return res.end(target ? ok({ name: m[1], target }) : notFound('Image alias'));
    }
    if (m?.[2] !== undefined) {
      const img = images[m[2]];
      res.statusCode = img ? 200 : 404;
      return res.end(img ? ok(img) : notFound('Image'));
    }
    if (m) return res.end(ok(Object.keys(images).map((f) => `/1.0/images/${f}`)));
    res.statusCode = 404;
    res.end(notFound('Path'));
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const client = new IncusClient({ socketPath: socket });
  t.teardown(async () => {
    client.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const byAlias = await resolveImage(client, 'local:busybox');
  t.equal(byAlias.image.fingerprint, FP3);
  t.equal(byAlias.alias, 'busybox');
  t.equal((await resolveImage(client, FP2)).image.fingerprint, FP2);
  t.equal((await resolveImage(client, 'cd5')).image.fingerprint, FP3);
  t.equal((await resolveImage(client, 'ab1')).alias, undefined);
  await t.rejects(resolveImage(client, 'ab'), { message: 'More than one image matches' });
  await t.rejects(resolveImage(client, 'nope'), { message: 'Image not found' });
  await t.rejects(resolveImage(client, 'busybox', { aliases: false }), { message: 'Image not found' });
  await t.rejects(resolveImage(client, 'other:busybox'), { message: 'The remote "other" doesn\'t exist' });
});
