/**
 * YAML into the writable API structs (InstancePut, ProfilePut, ProjectPut, ServerPut)
 * the way Incus's Go decoder fills them: fields are typed by the struct, so
 * a plain scalar bound for a string keeps its source text (`limits.cpu: 2`
 * is "2", `x: 1.0` is "1.0", `null` is ""), unknown fields are ignored,
 * absent fields take their zero value, and a value of the wrong kind is an
 * error naming the line. The `yaml` package loads on first use only.
 */
import type * as YAML from 'yaml';

/** The kinds of field the writable structs have. */
export type FieldKind = 'string' | 'bool' | 'int' | 'time' | 'strings' | 'stringMap' | 'deviceMap';

/** A Go struct's YAML fields and their kinds, and its name for messages. */
export interface StructSpec {
  name: string;
  fields: Readonly<Record<string, FieldKind>>;
}

/** api.InstancePut */
export const INSTANCE_PUT: StructSpec = {
  name: 'api.InstancePut',
  fields: {
    architecture: 'string',
    config: 'stringMap',
    devices: 'deviceMap',
    ephemeral: 'bool',
    profiles: 'strings',
    restore: 'string',
    stateful: 'bool',
    description: 'string',
  },
};

/** api.InstanceSnapshotPut (`config edit INSTANCE/SNAPSHOT`) */
export const INSTANCE_SNAPSHOT_PUT: StructSpec = { name: 'api.InstanceSnapshotPut', fields: { expires_at: 'time' } };

/** api.InstanceSnapshot: the fields `config get --property` reads on a snapshot. */
export const INSTANCE_SNAPSHOT: StructSpec = {
  name: 'api.InstanceSnapshot',
  fields: {
    expires_at: 'time',
    architecture: 'string',
    config: 'stringMap',
    created_at: 'time',
    description: 'string',
    devices: 'deviceMap',
    ephemeral: 'bool',
    expanded_config: 'stringMap',
    expanded_devices: 'deviceMap',
    last_used_at: 'time',
    name: 'string',
    profiles: 'strings',
    stateful: 'bool',
    size: 'int',
  },
};

/** api.StorageVolumePut */
export const STORAGE_VOLUME_PUT: StructSpec = { name: 'api.StorageVolumePut', fields: { config: 'stringMap', description: 'string' } };

/** api.StorageVolume: the fields `storage volume get --property` reads. */
export const STORAGE_VOLUME: StructSpec = {
  name: 'api.StorageVolume',
  fields: {
    config: 'stringMap',
    description: 'string',
    name: 'string',
    type: 'string',
    used_by: 'strings',
    location: 'string',
    content_type: 'string',
    project: 'string',
    created_at: 'time',
  },
};

/** api.StorageVolumeSnapshotPut */
export const STORAGE_VOLUME_SNAPSHOT_PUT: StructSpec = {
  name: 'api.StorageVolumeSnapshotPut',
  fields: { description: 'string', expires_at: 'time' },
};

/** api.StorageVolumeSnapshot: the fields `storage volume get --property` reads on a snapshot. */
export const STORAGE_VOLUME_SNAPSHOT: StructSpec = {
  name: 'api.StorageVolumeSnapshot',
  fields: { description: 'string', expires_at: 'time', name: 'string', config: 'stringMap', content_type: 'string', created_at: 'time' },
};

/** api.ProfilePut */
export const PROFILE_PUT: StructSpec = {
  name: 'api.ProfilePut',
  fields: { config: 'stringMap', description: 'string', devices: 'deviceMap' },
};

/** api.ProjectPut */
export const PROJECT_PUT: StructSpec = { name: 'api.ProjectPut', fields: { config: 'stringMap', description: 'string' } };

/** api.ServerPut */
export const SERVER_PUT: StructSpec = { name: 'api.ServerPut', fields: { config: 'stringMap' } };

const GO_TYPE: Record<FieldKind, string> = {
  string: 'string',
  bool: 'bool',
  int: 'int64',
  time: 'time.Time',
  strings: '[]string',
  stringMap: 'map[string]string',
  deviceMap: 'map[string]map[string]string',
};

type Node = YAML.Node | null | undefined;
type Decoded = string | boolean | number | string[] | Record<string, string> | Record<string, Record<string, string>>;

class Decoder {
  constructor(
    private readonly yaml: typeof YAML,
    private readonly lines: YAML.LineCounter,
  ) {}

  private fail(node: Node, into: string): never {
    const line = node?.range ? this.lines.linePos(node.range[0]).line : 1;
    let tag = '!!str';
    if (this.yaml.isMap(node)) tag = '!!map';
    else if (this.yaml.isSeq(node)) tag = '!!seq';
    else if (this.yaml.isScalar(node)) {
      const v = node.value;
      tag = typeof v === 'boolean' ? '!!bool' : typeof v === 'number' ? (Number.isInteger(v) ? '!!int' : '!!float') : '!!str';
    }
    const shown = this.yaml.isScalar(node) ? ` \`${String(node.source ?? node.value)}\`` : '';
    throw new Error(`yaml: unmarshal errors:\n  line ${line}: cannot unmarshal ${tag}${shown} into ${into}`);
  }

  private isNull(node: Node): boolean {
    return node == null || (this.yaml.isScalar(node) && node.value === null);
  }

  /** A scalar's text as a Go string receives it. */
  string(node: Node): string {
    if (this.isNull(node)) return '';
    if (!this.yaml.isScalar(node)) return this.fail(node, 'string');
    if (node.type === 'PLAIN' && typeof node.source === 'string') return node.source;
    return String(node.value);
  }

  bool(node: Node): boolean {
    if (this.isNull(node)) return false;
    if (this.yaml.isScalar(node)) {
      if (typeof node.value === 'boolean') return node.value;
      const text = node.type === 'PLAIN' ? String(node.source ?? node.value).toLowerCase() : '';
      if (['yes', 'on'].includes(text)) return true;
      if (['no', 'off'].includes(text)) return false;
    }
    return this.fail(node, 'bool');
  }

  int(node: Node): number {
    if (this.isNull(node)) return 0;
    if (this.yaml.isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value)) return node.value;
    return this.fail(node, 'int64');
  }

  /** A timestamp's text, checked by the server (Go's zero time when absent). */
  time(node: Node): string {
    if (this.isNull(node)) return '0001-01-01T00:00:00Z';
    if (!this.yaml.isScalar(node) || typeof node.value === 'boolean' || typeof node.value === 'number') return this.fail(node, 'time.Time');
    return this.string(node);
  }

  strings(node: Node): string[] {
    if (this.isNull(node)) return [];
    if (!this.yaml.isSeq(node)) return this.fail(node, '[]string');
    return node.items.map((item) => this.string(item as Node));
  }

  stringMap(node: Node, into = 'map[string]string'): Record<string, string> {
    if (this.isNull(node)) return {};
    if (!this.yaml.isMap(node)) return this.fail(node, into);
    const out: Record<string, string> = {};
    for (const pair of node.items) out[this.string(pair.key as Node)] = this.string(pair.value as Node);
    return out;
  }

  deviceMap(node: Node): Record<string, Record<string, string>> {
    if (this.isNull(node)) return {};
    if (!this.yaml.isMap(node)) return this.fail(node, GO_TYPE.deviceMap);
    const out: Record<string, Record<string, string>> = {};
    for (const pair of node.items) out[this.string(pair.key as Node)] = this.stringMap(pair.value as Node);
    return out;
  }

  field(kind: FieldKind, node: Node): Decoded {
    switch (kind) {
      case 'string':
        return this.string(node);
      case 'bool':
        return this.bool(node);
      case 'int':
        return this.int(node);
      case 'time':
        return this.time(node);
      case 'strings':
        return this.strings(node);
      case 'stringMap':
        return this.stringMap(node);
      case 'deviceMap':
        return this.deviceMap(node);
    }
  }

  struct(spec: StructSpec, node: Node): Record<string, Decoded> {
    const out: Record<string, Decoded> = {};
    for (const [name, kind] of Object.entries(spec.fields)) out[name] = this.field(kind, null);
    if (this.isNull(node)) return out;
    if (!this.yaml.isMap(node)) return this.fail(node, spec.name);
    for (const pair of node.items) {
      const key = this.yaml.isScalar(pair.key) ? String(pair.key.value) : '';
      const kind = spec.fields[key];
      if (kind) out[key] = this.field(kind, pair.value as Node);
    }
    return out;
  }
}

/**
 * Decodes `text` into the struct `spec` describes. Empty text (or only
 * comments) gives every field its zero value, as in Go.
 * @throws Error `yaml: ...` for a syntax error or a value of the wrong kind.
 */
export function decodeYaml<T>(text: string, spec: StructSpec): T {
  const yaml = require('yaml') as typeof YAML;
  const lines = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) throw new Error(`yaml: ${first.message.split('\n')[0]!.replace(/:$/, '')}`);
  return new Decoder(yaml, lines).struct(spec, doc.contents as Node) as T;
}

/** api.CertificatePut */
export const CERTIFICATE_PUT: StructSpec = {
  name: 'api.CertificatePut',
  fields: { name: 'string', type: 'string', restricted: 'bool', projects: 'strings', certificate: 'string', description: 'string' },
};

/** api.ClusterGroupPut */
export const CLUSTER_GROUP_PUT: StructSpec = {
  name: 'api.ClusterGroupPut',
  fields: { config: 'stringMap', description: 'string', members: 'strings' },
};

/** api.ClusterMemberPut */
export const CLUSTER_MEMBER_PUT: StructSpec = {
  name: 'api.ClusterMemberPut',
  fields: { roles: 'strings', failure_domain: 'string', description: 'string', config: 'stringMap', groups: 'strings' },
};
