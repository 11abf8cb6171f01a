/**
 * The adversarial suite's world: one daemon on an INCUS_DIR nested two
 * levels inside its own temp root (/tmp/adv-XXXX/a/b/incus), so a path that
 * climbs out of INCUS_DIR is still caught (and contained) under the root,
 * run in a network namespace of its own (its bridge, and any a hostile
 * request might make, stay there); and the objects the routes are exercised
 * against, re-created when a case destroyed one.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TestDaemon } from '../../lib/daemon';
import { NetNamespace } from '../../lib/netns';
import { type Reply, send } from './send';
import { snapshotTree, type Tree } from './tree';

/** Names of the fixture's objects. */
export const NAMES = {
  instance: 'c1',
  snapshot: 's1',
  backup: 'b1',
  profile: 'p1',
  pool: 'default',
  volume: 'v1',
  volumeSnapshot: 'vs1',
  alias: 'busybox',
  /** Made by `admin init --auto` inside the suite's network namespace. */
  network: 'incusbr0',
} as const;

export class Fixture {
  readonly root: string;
  readonly dir: string;
  daemon!: TestDaemon;
  fingerprint = '';

  constructor() {
    this.root = mkdtempSync('/tmp/adv-');
    this.dir = join(this.root, 'a', 'b', 'incus');
    mkdirSync(this.dir, { recursive: true });
  }

  get socket(): string {
    return this.daemon.socket;
  }

  /** A request that waits for the operation when it gets 202; returns the final reply and the operation's error, if any. */
  async api(method: string, path: string, body?: unknown): Promise<{ rep: Reply; opError: string | null }> {
    const rep = await send(this.socket, { method, path, body: body === undefined ? undefined : JSON.stringify(body) });
    return { rep, opError: rep.status === 202 ? await this.waitOperation(rep) : null };
  }

  /** Waits for the operation a 202 reply names; returns its error ('' when it succeeded). */
  async waitOperation(rep: Reply): Promise<string> {
    const op = (rep.json?.operation as string | undefined) ?? '';
    if (!op) return 'no operation in 202 reply';
    const w = await send(this.socket, { method: 'GET', path: `${op}/wait?timeout=120` }, 130_000);
    const md = w.json?.metadata as { status_code?: number; err?: string } | undefined;
    if (!md) return `wait failed: ${w.status} ${w.text.slice(0, 200)}`;
    return md.status_code === 200 ? '' : (md.err ?? `status ${md.status_code}`);
  }

  async start(): Promise<void> {
    process.env.INCUS_TEST_HOOKS = '1';
    // A network namespace of its own: a hostile network create that slipped through would make its bridge there.
    this.daemon = new TestDaemon(this.dir, await NetNamespace.create());
    await this.daemon.start();
    await this.daemon.init();
    await this.ensure();
    await this.saveOriginals();
  }

  private async must(method: string, path: string, body?: unknown): Promise<void> {
    const { rep, opError } = await this.api(method, path, body);
    if (rep.status >= 400 || opError) throw new Error(`fixture: ${method} ${path}: ${rep.status} ${opError ?? rep.text.slice(0, 300)}`);
  }

  private async exists(path: string): Promise<boolean> {
    return (await send(this.socket, { method: 'GET', path })).status === 200;
  }

  /** Creates whichever fixture object is missing (all of them the first time). */
  async ensure(): Promise<string[]> {
    const made: string[] = [];
    const n = NAMES;
    const alias = await send(this.socket, { method: 'GET', path: `/1.0/images/aliases/${n.alias}` });
    const target = (alias.json?.metadata as { target?: string } | undefined)?.target;
    if (target) this.fingerprint = target;
    else if (this.fingerprint) {
      await this.must('POST', '/1.0/images/aliases', { name: n.alias, target: this.fingerprint });
      made.push('image alias');
    } else throw new Error(`fixture: no "${n.alias}" alias: ${alias.status} ${alias.text.slice(0, 200)}`);
    if (!(await this.exists(`/1.0/profiles/${n.profile}`))) {
      await this.must('POST', '/1.0/profiles', { name: n.profile, config: { 'user.adv': 'x' }, devices: {} });
      made.push('profile');
    }
    if (!(await this.exists(`/1.0/instances/${n.instance}`))) {
      await this.must('POST', '/1.0/instances', { name: n.instance, source: { type: 'image', alias: n.alias }, profiles: ['default', n.profile] });
      made.push('instance');
    }
    if (!(await this.exists(`/1.0/instances/${n.instance}/snapshots/${n.snapshot}`))) {
      await this.must('POST', `/1.0/instances/${n.instance}/snapshots`, { name: n.snapshot });
      made.push('snapshot');
    }
    if (!(await this.exists(`/1.0/instances/${n.instance}/backups/${n.backup}`))) {
      await this.must('POST', `/1.0/instances/${n.instance}/backups`, { name: n.backup });
      made.push('backup');
    }
    const vol = `/1.0/storage-pools/${n.pool}/volumes/custom/${n.volume}`;
    if (!(await this.exists(vol))) {
      await this.must('POST', `/1.0/storage-pools/${n.pool}/volumes/custom`, { name: n.volume, config: {} });
      made.push('volume');
    }
    if (!(await this.exists(`${vol}/snapshots/${n.volumeSnapshot}`))) {
      await this.must('POST', `${vol}/snapshots`, { name: n.volumeSnapshot });
      made.push('volume snapshot');
    }
    return made;
  }

  private originals = new Map<string, Record<string, unknown>>();

  /** The writable fields of each restorable fixture object, as they are now. */
  async saveOriginals(): Promise<void> {
    const n = NAMES;
    const urls = [
      `/1.0/instances/${n.instance}`,
      `/1.0/profiles/${n.profile}`,
      '/1.0/profiles/default',
      `/1.0/storage-pools/${n.pool}`,
      `/1.0/storage-pools/${n.pool}/volumes/custom/${n.volume}`,
      `/1.0/networks/${n.network}`,
      '/1.0',
    ];
    for (const u of urls) {
      const md = (await send(this.socket, { method: 'GET', path: u })).json?.metadata as Record<string, unknown>;
      const put: Record<string, unknown> = {};
      for (const k of ['config', 'devices', 'profiles', 'description', 'ephemeral']) if (k in md) put[k] = md[k];
      this.originals.set(u, put);
    }
  }

  /** Puts a fixture object back as saveOriginals saw it; false when it is not restorable. */
  async restore(url: string): Promise<boolean> {
    const put = this.originals.get(url);
    if (!put) return false;
    const { rep, opError } = await this.api('PUT', url, put);
    return rep.status < 400 && !opError;
  }

  /** The fixture's objects as the API shows them (stable fields only), keyed by URL. */
  async objects(): Promise<Map<string, string>> {
    const n = NAMES;
    const vol = `/1.0/storage-pools/${n.pool}/volumes/custom/${n.volume}`;
    const urls = [
      `/1.0/instances/${n.instance}`,
      `/1.0/instances/${n.instance}/snapshots/${n.snapshot}`,
      `/1.0/instances/${n.instance}/backups/${n.backup}`,
      `/1.0/profiles/${n.profile}`,
      `/1.0/profiles/default`,
      `/1.0/storage-pools/${n.pool}`,
      vol,
      `${vol}/snapshots/${n.volumeSnapshot}`,
      `/1.0/images/aliases/${n.alias}`,
      `/1.0/images/${this.fingerprint}`,
      `/1.0/networks/${n.network}`,
      '/1.0',
    ];
    const out = new Map<string, string>();
    for (const u of urls) {
      const r = await send(this.socket, { method: 'GET', path: u });
      const md = (r.json?.metadata ?? null) as Record<string, unknown> | null;
      out.set(u, r.status === 200 && md ? JSON.stringify(stable(u, md)) : `missing (${r.status})`);
    }
    return out;
  }

  /** Objects sweep could not delete: reported once, then left alone. */
  readonly stuck = new Set<string>();

  /** Deletes objects a case created (anything not in the fixture); returns what went and what would not go. */
  async sweep(): Promise<{ gone: string[]; stuck: string[] }> {
    const stuck: string[] = [];
    const n = NAMES;
    const gone: string[] = [];
    const list = async (path: string): Promise<string[]> => {
      if (path !== '/1.0/networks') return ((await send(this.socket, { method: 'GET', path })).json?.metadata as string[] | undefined) ?? [];
      // Only managed networks are ours to delete (the namespace's own lo is listed too).
      const all = ((await send(this.socket, { method: 'GET', path: `${path}?recursion=1` })).json?.metadata as { name: string; managed: boolean }[] | undefined) ?? [];
      return all.filter((x) => x.managed).map((x) => `/1.0/networks/${encodeURIComponent(x.name)}`);
    };
    const keep = new Set([
      `/1.0/instances/${n.instance}`,
      `/1.0/instances/${n.instance}/snapshots/${n.snapshot}`,
      `/1.0/instances/${n.instance}/backups/${n.backup}`,
      `/1.0/profiles/default`,
      `/1.0/profiles/${n.profile}`,
      `/1.0/storage-pools/${n.pool}`,
      `/1.0/storage-pools/${n.pool}/volumes/custom/${n.volume}`,
      `/1.0/storage-pools/${n.pool}/volumes/custom/${n.volume}/snapshots/${n.volumeSnapshot}`,
      `/1.0/images/aliases/${n.alias}`,
      `/1.0/images/${this.fingerprint}`,
      `/1.0/networks/${n.network}`,
    ]);
    const sources = [
      '/1.0/instances',
      `/1.0/instances/${n.instance}/snapshots`,
      `/1.0/instances/${n.instance}/backups`,
      '/1.0/profiles',
      `/1.0/storage-pools/${n.pool}/volumes/custom`,
      `/1.0/storage-pools/${n.pool}/volumes/custom/${n.volume}/snapshots`,
      '/1.0/images/aliases',
      '/1.0/images',
      '/1.0/storage-pools',
      '/1.0/networks',
    ];
    for (const src of sources) {
      for (const raw of await list(src)) {
        const url = raw.split('?')[0]!;
        if (keep.has(url) || keep.has(decodeURI(url)) || this.stuck.has(url)) continue;
        if (url.startsWith('/1.0/instances/') && !url.includes('/snapshots/') && !url.includes('/backups/')) {
          await this.api('PUT', `${url}/state`, { action: 'stop', force: true });
        }
        const { rep, opError } = await this.api('DELETE', url);
        if (rep.status >= 400 || opError) {
          this.stuck.add(url);
          stuck.push(`${url} (${rep.status} ${opError ?? rep.text.slice(0, 120)})`);
        } else gone.push(decodeURIComponent(url));
      }
    }
    return { gone, stuck };
  }

  /** Snapshot of everything under the temp root, minus what the daemon rewrites as it runs. */
  tree(): Tree {
    const inc = 'a/b/incus/';
    return snapshotTree(this.root, (rel) => {
      if (!rel.startsWith(inc)) return false;
      const r = rel.slice(inc.length);
      return (
        r === 'unix.socket' ||
        r.endsWith('.log') ||
        r.startsWith('database') ||
        r.startsWith('logs') ||
        /^images\/(upload|download|publish)-/.test(r) ||
        /^backups\/.*\.(tmp|partial)$/.test(r)
      );
    });
  }

  async destroy(): Promise<void> {
    await this.daemon?.destroy();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The fields of an object that only a write can change. */
function stable(url: string, md: Record<string, unknown>): unknown {
  if (url === '/1.0') return { config: md.config };
  const pick = ['name', 'config', 'devices', 'profiles', 'description', 'expires_at', 'target', 'properties', 'public', 'ephemeral', 'driver'];
  const out: Record<string, unknown> = {};
  for (const k of pick) if (k in md) out[k] = md[k];
  // Runtime keys the daemon updates on its own.
  const cfg = out.config as Record<string, string> | undefined;
  if (cfg) out.config = Object.fromEntries(Object.entries(cfg).filter(([k]) => !k.startsWith('volatile.') || k.endsWith('.hwaddr')));
  return out;
}
