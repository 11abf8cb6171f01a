/**
 * Projects (`/1.0/projects`): list, read, create, update, rename, delete and
 * the resource state. Projects are not themselves in a project, so these
 * calls never carry the client's `?project=`.
 */
import type { Project, ProjectPut, ProjectState, ProjectsPost } from '../api/project';
import { IncusClient, type CallOptions, type WithEtag, type WriteOptions } from './client';
import type { Operation } from './operation';

const projectPath = (name: string): string => `/1.0/projects/${encodeURIComponent(name)}`;

/** The same connection without a default project. */
function unscoped(client: IncusClient): IncusClient {
  return client.project === undefined ? client : new IncusClient({ transport: client.transport });
}

async function metadata<T>(client: IncusClient, path: string, opts: CallOptions, query: Record<string, string | number> = {}): Promise<WithEtag<T>> {
  const env = await unscoped(client).request('GET', path, { signal: opts.signal, query });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${path}`);
  return { value: env.metadata as T, etag: env.etag };
}

/**
 * GET /1.0/projects?recursion=1, with server-side filters (`key=value`
 * turned into `key eq value` and joined with `and`, as Incus's client sends them).
 */
export async function getProjects(client: IncusClient, filters: readonly string[] = [], opts: CallOptions = {}): Promise<Project[]> {
  const query: Record<string, string | number> = { recursion: 1 };
  const clauses = filters.filter((f) => f.includes('=')).map((f) => `${f.slice(0, f.indexOf('='))} eq ${f.slice(f.indexOf('=') + 1)}`);
  if (clauses.length > 0) query.filter = clauses.join(' and ');
  return (await metadata<Project[] | null>(client, '/1.0/projects', opts, query)).value ?? [];
}

export async function getProject(client: IncusClient, name: string, opts: CallOptions = {}): Promise<Project> {
  return (await metadata<Project>(client, projectPath(name), opts)).value;
}

export function getProjectWithEtag(client: IncusClient, name: string, opts: CallOptions = {}): Promise<WithEtag<Project>> {
  return metadata<Project>(client, projectPath(name), opts);
}

/** GET /1.0/projects/{name}/state: resource limits and usage. */
export async function getProjectState(client: IncusClient, name: string, opts: CallOptions = {}): Promise<ProjectState> {
  return (await metadata<ProjectState>(client, `${projectPath(name)}/state`, opts)).value;
}

/** POST /1.0/projects. */
export async function createProject(client: IncusClient, post: ProjectsPost, opts: CallOptions = {}): Promise<void> {
  await unscoped(client).request('POST', '/1.0/projects', { signal: opts.signal, body: post });
}

/** PUT /1.0/projects/{name}: replaces config and description. */
export async function updateProject(client: IncusClient, name: string, put: ProjectPut, opts: WriteOptions = {}): Promise<void> {
  await unscoped(client).request('PUT', projectPath(name), { signal: opts.signal, etag: opts.etag, body: put });
}

/** POST /1.0/projects/{name} {name: newName}: an operation. */
export async function renameProject(client: IncusClient, name: string, newName: string, opts: CallOptions = {}): Promise<Operation> {
  const c = unscoped(client);
  const env = await c.request('POST', projectPath(name), { signal: opts.signal, body: { name: newName } });
  if (env.type !== 'async') throw new Error(`Expected an operation from POST ${projectPath(name)}, got a ${env.type} response`);
  const { Operation: Handle } = require('./operation') as typeof import('./operation');
  return new Handle(c, env.operation);
}

/** DELETE /1.0/projects/{name} (`?force=1` deletes everything it contains). */
export async function deleteProject(client: IncusClient, name: string, opts: CallOptions & { force?: boolean } = {}): Promise<void> {
  const query = opts.force ? { force: 1 } : undefined;
  await unscoped(client).request('DELETE', projectPath(name), { signal: opts.signal, query });
}
