/**
 * Applies a decoded preseed through the public API, in Incus's order
 * (ApplyServerPreseed): server config, storage pools, networks of the
 * default project, projects, networks of other projects, storage volumes,
 * profiles. Existing
 * items are updated (config keys merged, description replaced when given),
 * new ones created; every error names the item at fault.
 */
import type { IncusClient } from '../client/client';
import type { LocalPreseed, PreseedNetwork, PreseedPool, PreseedProfile, PreseedProject, PreseedVolume } from './preseed-decode';

/** Read-modify-write views of the resources a preseed touches; the seam the unit test fakes. */
export interface PreseedApi {
  getServerConfig(): Promise<{ config: Record<string, string>; etag: string }>;
  updateServerConfig(config: Record<string, string>, etag: string): Promise<void>;
  getPoolNames(): Promise<string[]>;
  getPool(name: string): Promise<{ driver: string; description: string; config: Record<string, string>; etag: string }>;
  createPool(pool: PreseedPool): Promise<void>;
  updatePool(name: string, put: { description: string; config: Record<string, string> }, etag: string): Promise<void>;
  /** null when the project has no network of that name. */
  getNetwork(project: string, name: string): Promise<{ managed: boolean; description: string; config: Record<string, string>; etag: string } | null>;
  createNetwork(network: PreseedNetwork): Promise<void>;
  updateNetwork(project: string, name: string, put: { description: string; config: Record<string, string> }, etag: string): Promise<void>;
  getProjectNames(): Promise<string[]>;
  getProject(name: string): Promise<{ description: string; config: Record<string, string>; etag: string }>;
  createProject(project: PreseedProject): Promise<void>;
  updateProject(name: string, put: { description: string; config: Record<string, string> }, etag: string): Promise<void>;
  /** null when the pool has no such volume in the project. */
  getVolume(project: string, pool: string, type: string, name: string): Promise<{ type: string; description: string; config: Record<string, string>; etag: string } | null>;
  createVolume(volume: PreseedVolume): Promise<void>;
  updateVolume(project: string, pool: string, type: string, name: string, put: { description: string; config: Record<string, string> }, etag: string): Promise<void>;
  /** null when the project has no profile of that name. */
  getProfile(
    project: string,
    name: string,
  ): Promise<{ description: string; config: Record<string, string>; devices: Record<string, Record<string, string>>; etag: string } | null>;
  createProfile(profile: PreseedProfile): Promise<void>;
  updateProfile(
    project: string,
    name: string,
    put: { description: string; config: Record<string, string>; devices: Record<string, Record<string, string>> },
    etag: string,
  ): Promise<void>;
}

const msg = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs `step`, prefixing any failure with `what` as Incus words it. */
async function named<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new Error(`${what}: ${msg(err)}`);
  }
}

async function applyPools(api: PreseedApi, pools: PreseedPool[]): Promise<void> {
  if (pools.length === 0) return;
  const names = await named('Failed to retrieve list of storage pools', () => api.getPoolNames());
  for (const target of pools) {
    if (!names.includes(target.name)) {
      await named(`Failed to create storage pool "${target.name}"`, () => api.createPool(target));
      continue;
    }
    const cur = await named(`Failed to retrieve current storage pool "${target.name}"`, () => api.getPool(target.name));
    if (cur.driver !== target.driver) throw new Error(`Storage pool "${target.name}" is of type "${cur.driver}" instead of "${target.driver}"`);
    const put = { description: target.description || cur.description, config: { ...cur.config, ...target.config } };
    await named(`Failed to update storage pool "${target.name}"`, () => api.updatePool(target.name, put, cur.etag));
  }
}

async function applyNetwork(api: PreseedApi, target: PreseedNetwork): Promise<void> {
  const where = `local member network "${target.name}" in project "${target.project}"`;
  const cur = await api.getNetwork(target.project, target.name).catch(() => null);
  if (!cur || !cur.managed) {
    await named(`Failed to create ${where}`, () => api.createNetwork(target));
    return;
  }
  const put = { description: target.description || cur.description, config: { ...cur.config, ...target.config } };
  await named(`Failed to update ${where}`, () => api.updateNetwork(target.project, target.name, put, cur.etag));
}

async function applyProjects(api: PreseedApi, projects: PreseedProject[]): Promise<void> {
  if (projects.length === 0) return;
  const names = await named('Failed to retrieve list of projects', () => api.getProjectNames());
  for (const target of projects) {
    if (!names.includes(target.name)) {
      await named(`Failed to create local member project "${target.name}"`, () => api.createProject(target));
      continue;
    }
    const cur = await named(`Failed to retrieve current project "${target.name}"`, () => api.getProject(target.name));
    const put = { description: target.description || cur.description, config: { ...cur.config, ...target.config } };
    await named(`Failed to update local member project "${target.name}"`, () => api.updateProject(target.name, put, cur.etag));
  }
}

async function applyVolume(api: PreseedApi, target: PreseedVolume): Promise<void> {
  const cur = await api.getVolume(target.project, target.pool, target.type, target.name).catch(() => null);
  if (!cur) {
    await named(`Failed to create storage volume "${target.name}" in project "${target.project}" on pool "${target.pool}"`, () => api.createVolume(target));
    return;
  }
  if (cur.type !== target.type) throw new Error(`Storage volume "${target.name}" in project "${target.project}" is of type "${cur.type}" instead of "${target.type}"`);
  const put = { description: target.description || cur.description, config: { ...cur.config, ...target.config } };
  await named(`Failed to update storage volume "${target.name}" in project "${target.project}"`, () => api.updateVolume(target.project, target.pool, target.type, target.name, put, cur.etag));
}

async function applyProfile(api: PreseedApi, target: PreseedProfile): Promise<void> {
  const where = `profile "${target.name}" in project "${target.project}"`;
  const cur = await api.getProfile(target.project, target.name).catch(() => null);
  if (!cur) {
    await named(`Failed to create ${where}`, () => api.createProfile(target));
    return;
  }
  // Devices merge key by key, as Incus's device overrides do.
  const devices = { ...cur.devices };
  for (const [dev, conf] of Object.entries(target.devices)) devices[dev] = { ...(devices[dev] ?? {}), ...conf };
  const put = { description: target.description || cur.description, config: { ...cur.config, ...target.config }, devices };
  await named(`Failed to update ${where}`, () => api.updateProfile(target.project, target.name, put, cur.etag));
}

/** Applies `preseed` through `api`; stops at the first failure, naming the item. */
export async function applyPreseed(api: PreseedApi, preseed: LocalPreseed): Promise<void> {
  if (Object.keys(preseed.config).length > 0) {
    const cur = await named('Failed to retrieve current server configuration', () => api.getServerConfig());
    const config = { ...cur.config, ...preseed.config };
    await named('Failed to update server configuration', () => api.updateServerConfig(config, cur.etag));
  }
  await applyPools(api, preseed.storage_pools);
  const networks = preseed.networks.map((n) => ({ ...n, project: n.project || 'default' }));
  // Default-project networks first, so projects may refer to them; others once their projects exist.
  for (const n of networks.filter((n) => n.project === 'default')) await applyNetwork(api, n);
  await applyProjects(api, preseed.projects);
  for (const n of networks.filter((n) => n.project !== 'default')) await applyNetwork(api, n);
  for (const v of preseed.storage_volumes) await applyVolume(api, { ...v, project: v.project || 'default', type: v.type || 'custom' });
  for (const p of preseed.profiles) await applyProfile(api, { ...p, project: p.project || 'default' });
}

/** The notFound test for the client's errors. */
function isNotFound(err: unknown): boolean {
  return (err as { status?: number }).status === 404;
}

/** {@link PreseedApi} over the real client. */
export function clientPreseedApi(client: IncusClient): PreseedApi {
  const { getNetworkWithEtag, createNetwork, updateNetwork } = require('../client/networks') as typeof import('../client/networks');
  const storage = require('../client/storage') as typeof import('../client/storage');
  const projects = require('../client/projects') as typeof import('../client/projects');
  const { createProfile } = require('../client/profiles') as typeof import('../client/profiles');
  return {
    async getServerConfig() {
      const { value, etag } = await client.getServerWithEtag();
      return { config: value.config ?? {}, etag };
    },
    updateServerConfig: (config, etag) => client.updateServer({ config }, { etag: etag || undefined }),
    getPoolNames: async () => (await client.getStoragePools()).map((p) => p.name),
    async getPool(name) {
      const { value, etag } = await storage.getStoragePool(client, name);
      return { driver: value.driver, description: value.description ?? '', config: value.config ?? {}, etag };
    },
    createPool: (p) => client.createStoragePool({ name: p.name, driver: p.driver, description: p.description, config: p.config }),
    updatePool: (name, put, etag) => storage.updateStoragePool(client, name, put, { etag: etag || undefined }),
    async getNetwork(project, name) {
      try {
        const { value, etag } = await getNetworkWithEtag(client.useProject(project), name);
        return { managed: value.managed, description: value.description ?? '', config: value.config ?? {}, etag };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    createNetwork: (n) =>
      createNetwork(client.useProject(n.project), { name: n.name, type: n.type || undefined, description: n.description, config: n.config }),
    updateNetwork: (project, name, put, etag) => updateNetwork(client.useProject(project), name, put, { etag: etag || undefined }),
    getProjectNames: async () => (await projects.getProjects(client)).map((p) => p.name),
    async getProject(name) {
      const { value, etag } = await projects.getProjectWithEtag(client, name);
      return { description: value.description ?? '', config: (value.config ?? {}) as Record<string, string>, etag };
    },
    createProject: (p) => projects.createProject(client, { name: p.name, description: p.description, config: p.config }),
    updateProject: (name, put, etag) => projects.updateProject(client, name, put, { etag: etag || undefined }),
    async getVolume(project, pool, type, name) {
      try {
        const { value, etag } = await storage.getStorageVolume(client.useProject(project), pool, type, name);
        return { type: value.type, description: value.description ?? '', config: value.config ?? {}, etag };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    createVolume: (v) =>
      storage.createStorageVolume(client.useProject(v.project), v.pool, {
        name: v.name,
        type: v.type,
        description: v.description,
        config: v.config,
        ...(v.content_type ? { content_type: v.content_type } : {}),
      }),
    updateVolume: (project, pool, type, name, put, etag) => storage.updateStorageVolume(client.useProject(project), pool, type, name, put, { etag: etag || undefined }),
    async getProfile(project, name) {
      try {
        const { value, etag } = await client.useProject(project).getProfileWithEtag(name);
        return { description: value.description ?? '', config: value.config ?? {}, devices: value.devices ?? {}, etag };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    createProfile: (p) =>
      createProfile(client.useProject(p.project), { name: p.name, description: p.description, config: p.config, devices: p.devices }),
    updateProfile: (project, name, put, etag) => client.useProject(project).updateProfile(name, put, { etag: etag || undefined }),
  };
}
