/**
 * `incus admin init --preseed` YAML into api.InitPreseed's local half
 * (server config, storage pools, networks, projects, profiles). Decoding is
 * strict as Incus's (yaml WithKnownFields): an unknown key is an error naming
 * its line; scalars bound for strings keep their source text (`5` is "5").
 * The `yaml` package loads on first use only.
 */
import type * as YAML from 'yaml';

/** One network of a preseed (api.InitNetworksProjectPost). */
export interface PreseedNetwork {
  name: string;
  type: string;
  description: string;
  config: Record<string, string>;
  project: string;
}

/** One storage pool of a preseed (api.StoragePoolsPost). */
export interface PreseedPool {
  name: string;
  driver: string;
  description: string;
  config: Record<string, string>;
}

/** One storage volume of a preseed (api.InitStorageVolumesProjectPost: api.StorageVolumesPost, pool, project). */
export interface PreseedVolume {
  name: string;
  /** `custom` when not given. */
  type: string;
  description: string;
  config: Record<string, string>;
  content_type: string;
  pool: string;
  /** `default` when not given. */
  project: string;
}

/** One project of a preseed (api.ProjectsPost). */
export interface PreseedProject {
  name: string;
  description: string;
  config: Record<string, string>;
}

/** One profile of a preseed (api.InitProfileProjectPost). */
export interface PreseedProfile {
  name: string;
  description: string;
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  project: string;
}

/** A preseed's `cluster` section (api.InitClusterPreseed: api.ClusterPut and a certificate path). */
export interface PreseedCluster {
  server_name: string;
  enabled: boolean;
  cluster_address: string;
  cluster_certificate: string;
  server_address: string;
  cluster_token: string;
  cluster_certificate_path: string;
}

/** The part of api.InitPreseed this CLI applies and dumps. */
export interface LocalPreseed {
  config: Record<string, string>;
  networks: PreseedNetwork[];
  storage_pools: PreseedPool[];
  storage_volumes: PreseedVolume[];
  profiles: PreseedProfile[];
  projects: PreseedProject[];
  /** Bootstrapping or joining a cluster; absent or null for none. */
  cluster?: PreseedCluster | null;
}

type Node = YAML.Node | null | undefined;

class PreseedDecoder {
  constructor(
    private readonly yaml: typeof YAML,
    private readonly lines: YAML.LineCounter,
  ) {}

  private line(node: Node): number {
    return node?.range ? this.lines.linePos(node.range[0]).line : 1;
  }

  private fail(node: Node, what: string): never {
    throw new Error(`yaml: unmarshal errors:\n  line ${this.line(node)}: ${what}`);
  }

  private isNull(node: Node): boolean {
    return node == null || (this.yaml.isScalar(node) && node.value === null);
  }

  string(node: Node): string {
    if (this.isNull(node)) return '';
    if (!this.yaml.isScalar(node)) return this.fail(node, 'cannot unmarshal a collection into string');
    if (node.type === 'PLAIN' && typeof node.source === 'string') return node.source;
    return String(node.value);
  }

  stringMap(node: Node): Record<string, string> {
    if (this.isNull(node)) return {};
    if (!this.yaml.isMap(node)) return this.fail(node, 'cannot unmarshal a non-mapping into map[string]string');
    const out: Record<string, string> = {};
    for (const pair of node.items) out[this.string(pair.key as Node)] = this.string(pair.value as Node);
    return out;
  }

  deviceMap(node: Node): Record<string, Record<string, string>> {
    if (this.isNull(node)) return {};
    if (!this.yaml.isMap(node)) return this.fail(node, 'cannot unmarshal a non-mapping into map[string]map[string]string');
    const out: Record<string, Record<string, string>> = {};
    for (const pair of node.items) out[this.string(pair.key as Node)] = this.stringMap(pair.value as Node);
    return out;
  }

  /** A mapping's known keys, each decoded by its handler; an unknown key fails. */
  struct(node: Node, type: string, fields: Record<string, (value: Node) => void>): void {
    if (this.isNull(node)) return;
    if (!this.yaml.isMap(node)) this.fail(node, `cannot unmarshal a non-mapping into ${type}`);
    for (const pair of node.items) {
      const key = this.string(pair.key as Node);
      const handler = fields[key];
      if (!handler) this.fail(pair.key as Node, `field ${key} not found in type ${type}`);
      handler(pair.value as Node);
    }
  }

  list<T>(node: Node, each: (item: Node) => T): T[] {
    if (this.isNull(node)) return [];
    if (!this.yaml.isSeq(node)) return this.fail(node, 'cannot unmarshal a non-sequence into a list');
    return node.items.map((item) => each(item as Node));
  }

  network(node: Node): PreseedNetwork {
    const n: PreseedNetwork = { name: '', type: '', description: '', config: {}, project: '' };
    this.struct(node, 'api.InitNetworksProjectPost', {
      name: (v) => (n.name = this.string(v)),
      type: (v) => (n.type = this.string(v)),
      description: (v) => (n.description = this.string(v)),
      config: (v) => (n.config = this.stringMap(v)),
      project: (v) => (n.project = this.string(v)),
    });
    return n;
  }

  pool(node: Node): PreseedPool {
    const p: PreseedPool = { name: '', driver: '', description: '', config: {} };
    this.struct(node, 'api.StoragePoolsPost', {
      name: (v) => (p.name = this.string(v)),
      driver: (v) => (p.driver = this.string(v)),
      description: (v) => (p.description = this.string(v)),
      config: (v) => (p.config = this.stringMap(v)),
    });
    return p;
  }

  volume(node: Node): PreseedVolume {
    const v: PreseedVolume = { name: '', type: '', description: '', config: {}, content_type: '', pool: '', project: '' };
    this.struct(node, 'api.InitStorageVolumesProjectPost', {
      name: (x) => (v.name = this.string(x)),
      type: (x) => (v.type = this.string(x)),
      description: (x) => (v.description = this.string(x)),
      config: (x) => (v.config = this.stringMap(x)),
      content_type: (x) => (v.content_type = this.string(x)),
      pool: (x) => (v.pool = this.string(x)),
      project: (x) => (v.project = this.string(x)),
      // A copy or migration source has no meaning at init time here.
      source: (x) => this.unsupported(x, 'source'),
    });
    return v;
  }

  project(node: Node): PreseedProject {
    const p: PreseedProject = { name: '', description: '', config: {} };
    this.struct(node, 'api.ProjectsPost', {
      name: (v) => (p.name = this.string(v)),
      description: (v) => (p.description = this.string(v)),
      config: (v) => (p.config = this.stringMap(v)),
    });
    return p;
  }

  profile(node: Node): PreseedProfile {
    const p: PreseedProfile = { name: '', description: '', config: {}, devices: {}, project: '' };
    this.struct(node, 'api.InitProfileProjectPost', {
      name: (v) => (p.name = this.string(v)),
      description: (v) => (p.description = this.string(v)),
      config: (v) => (p.config = this.stringMap(v)),
      devices: (v) => (p.devices = this.deviceMap(v)),
      project: (v) => (p.project = this.string(v)),
    });
    return p;
  }

  bool(node: Node): boolean {
    if (this.isNull(node)) return false;
    if (!this.yaml.isScalar(node) || typeof node.value !== 'boolean') return this.fail(node, `cannot unmarshal !!str \`${this.string(node)}\` into bool`);
    return node.value;
  }

  cluster(node: Node): PreseedCluster | null {
    if (this.isNull(node)) return null;
    const c: PreseedCluster = { server_name: '', enabled: false, cluster_address: '', cluster_certificate: '', server_address: '', cluster_token: '', cluster_certificate_path: '' };
    this.struct(node, 'api.InitClusterPreseed', {
      server_name: (v) => (c.server_name = this.string(v)),
      enabled: (v) => (c.enabled = this.bool(v)),
      cluster_address: (v) => (c.cluster_address = this.string(v)),
      cluster_certificate: (v) => (c.cluster_certificate = this.string(v)),
      server_address: (v) => (c.server_address = this.string(v)),
      cluster_token: (v) => (c.cluster_token = this.string(v)),
      cluster_certificate_path: (v) => (c.cluster_certificate_path = this.string(v)),
      member_config: (v) => this.unsupported(v, 'member_config'),
    });
    return c;
  }

  /** Accepts an absent or empty `key`; anything else is refused by name. */
  private unsupported(node: Node, key: string): void {
    if (this.isNull(node)) return;
    if ((this.yaml.isSeq(node) || this.yaml.isMap(node)) && node.items.length === 0) return;
    this.fail(node, `${key} is not supported by this client's preseed`);
  }

  preseed(node: Node): LocalPreseed {
    const out: LocalPreseed = { config: {}, networks: [], storage_pools: [], storage_volumes: [], profiles: [], projects: [] };
    this.struct(node, 'api.InitPreseed', {
      config: (v) => (out.config = this.stringMap(v)),
      networks: (v) => (out.networks = this.list(v, (i) => this.network(i))),
      storage_pools: (v) => (out.storage_pools = this.list(v, (i) => this.pool(i))),
      profiles: (v) => (out.profiles = this.list(v, (i) => this.profile(i))),
      projects: (v) => (out.projects = this.list(v, (i) => this.project(i))),
      storage_volumes: (v) => (out.storage_volumes = this.list(v, (i) => this.volume(i))),
      // A dump carries these (empty); this CLI does not apply them yet.
      certificates: (v) => this.unsupported(v, 'certificates'),
      cluster_groups: (v) => this.unsupported(v, 'cluster_groups'),
      cluster: (v) => (out.cluster = this.cluster(v)),
    });
    return out;
  }
}

/**
 * Decodes a preseed document.
 * @throws Error `Failed to parse the preseed: yaml: ...` for bad YAML, an
 *   unknown key or a value of the wrong kind; `... is missing its name` for
 *   an unnamed item.
 */
export function decodePreseed(text: string): LocalPreseed {
  const yaml = require('yaml') as typeof YAML;
  const lines = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  let out: LocalPreseed;
  try {
    const first = doc.errors[0];
    if (first) throw new Error(`yaml: ${first.message.split('\n')[0]!.replace(/:$/, '')}`);
    out = new PreseedDecoder(yaml, lines).preseed(doc.contents as Node);
  } catch (err) {
    throw new Error(`Failed to parse the preseed: ${(err as Error).message}`);
  }
  const unnamed = (list: { name: string }[], what: string) => {
    const idx = list.findIndex((item) => item.name === '');
    if (idx >= 0) throw new Error(`Failed to parse the preseed: ${what} ${idx} is missing its name`);
  };
  unnamed(out.storage_pools, 'storage_pools entry');
  unnamed(out.networks, 'networks entry');
  unnamed(out.projects, 'projects entry');
  unnamed(out.profiles, 'profiles entry');
  unnamed(out.storage_volumes, 'storage_volumes entry');
  const driverless = out.storage_pools.find((p) => p.driver === '');
  if (driverless) throw new Error(`Failed to parse the preseed: storage pool "${driverless.name}" is missing its driver`);
  return out;
}
