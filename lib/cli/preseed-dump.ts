/**
 * `incus admin init --dump`: the server's current state as preseed YAML, as
 * Incus writes it (yaml.v2 layout: fields in struct order, two-space indent,
 * list items flush with their key, empty lists as `[]`). Networks are the
 * default project's managed ones; profiles those of the default project.
 */
import type * as YAML from 'yaml';
import type { IncusClient } from '../client/client';

/** The dump's document, keys in api.InitLocalPreseed's order. */
export interface PreseedDump {
  config: Record<string, string>;
  networks: { config: Record<string, string>; description: string; name: string; type: string; project: string }[];
  storage_pools: { config: Record<string, string>; description: string; name: string; driver: string }[];
  storage_volumes: never[];
  profiles: {
    config: Record<string, string>;
    description: string;
    devices: Record<string, Record<string, string>>;
    name: string;
    project: string;
  }[];
  projects: { config: Record<string, string>; description: string; name: string }[];
  certificates: never[];
  cluster_groups: never[];
}

/** Wraps a failed read in Incus's message. */
async function read<T>(step: () => Promise<T>, what = 'Failed to retrieve current server configuration'): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

/** Reads the server's state into a {@link PreseedDump}. */
export async function collectPreseedDump(client: IncusClient): Promise<PreseedDump> {
  const { getNetworks } = require('../client/networks') as typeof import('../client/networks');
  const { getProjects } = require('../client/projects') as typeof import('../client/projects');
  const server = await read(() => client.getServer());
  const def = client.useProject('default');
  const networks = await read(
    () => getNetworks(def),
    'Failed to retrieve current server network configuration for project "default"',
  );
  const pools = await read(() => client.getStoragePools());
  const profiles = await read(() => def.getProfiles());
  const projects = await read(() => getProjects(client));
  return {
    config: server.config ?? {},
    networks: networks
      .filter((n) => n.managed)
      .map((n) => ({ config: n.config ?? {}, description: n.description ?? '', name: n.name, type: n.type, project: 'default' })),
    storage_pools: pools.map((p) => ({ config: p.config ?? {}, description: p.description ?? '', name: p.name, driver: p.driver })),
    storage_volumes: [],
    profiles: profiles.map((p) => ({
      config: p.config ?? {},
      description: p.description ?? '',
      devices: p.devices ?? {},
      name: p.name,
      project: '',
    })),
    projects: projects.map((p) => ({ config: (p.config ?? {}) as Record<string, string>, description: p.description ?? '', name: p.name })),
    certificates: [],
    cluster_groups: [],
  };
}

/** The dump as YAML text, map keys sorted as Go's encoder sorts them. */
export function formatPreseedDump(dump: PreseedDump): string {
  const yaml = require('yaml') as typeof YAML;
  const doc = new yaml.Document(dump, { sortMapEntries: false });
  // Go sorts map keys but keeps struct fields in order: sort only the string maps.
  yaml.visit(doc, {
    Map(_key, node, path) {
      const parent = path[path.length - 1];
      // The root and list items are structs; every other mapping is a Go map.
      if (yaml.isDocument(parent) || yaml.isSeq(parent)) return;
      const keyOf = (pair: (typeof node.items)[number]) => String((pair.key as YAML.Scalar).value);
      node.items.sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
    },
  });
  return doc.toString({ indent: 2, indentSeq: false, lineWidth: 0 });
}
