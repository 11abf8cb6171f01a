/** Small helpers for tests that work inside projects: raw calls, waiting on operations, test projects and instances. */
import { rawRequest } from './http';
import type { TestDaemon } from './daemon';

export type Body = Record<string, unknown>;

/** A raw JSON call; the status and the decoded envelope. */
export async function q(d: TestDaemon, method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
  const r = await rawRequest(d.socket, method, path, body === undefined ? undefined : JSON.stringify(body));
  return { status: r.status, body: r.body };
}

/** Waits for the operation an async answer names; its final state. */
export async function waitOp(d: TestDaemon, b: Body): Promise<Body> {
  const id = (b.metadata as Body).id as string;
  const r = await q(d, 'GET', `/1.0/operations/${id}/wait?timeout=60`);
  return r.body.metadata as Body;
}

/**
 * A project using default's images (features.images=false) with its own
 * default profile holding a root disk on the `default` pool.
 */
export async function makeProject(d: TestDaemon, name: string, config: Record<string, string> = {}): Promise<void> {
  const r = await q(d, 'POST', '/1.0/projects', { name, config: { 'features.images': 'false', 'features.profiles': 'true', ...config } });
  if (r.status !== 200) throw new Error(`create project ${name}: ${JSON.stringify(r.body)}`);
  const p = await q(d, 'PATCH', `/1.0/profiles/default?project=${name}`, { devices: { root: { type: 'disk', path: '/', pool: 'default' } } });
  if (p.status !== 200) throw new Error(`root disk for ${name}: ${JSON.stringify(p.body)}`);
}

/**
 * POST /1.0/instances from the busybox image into `project`; on a 202 waits
 * for the operation. The HTTP status, the error (sync or from the
 * operation) and the operation's status.
 */
export async function createInstance(
  d: TestDaemon,
  project: string,
  name: string,
  extra: Body = {},
): Promise<{ status: number; error: string; opStatus?: string }> {
  const r = await q(d, 'POST', `/1.0/instances?project=${project}`, { name, source: { type: 'image', alias: 'busybox' }, ...extra });
  if (r.status !== 202) return { status: r.status, error: String(r.body.error ?? '') };
  const op = await waitOp(d, r.body);
  return { status: r.status, error: String(op.err ?? ''), opStatus: String(op.status) };
}

/** Force-deletes the project's instances (the daemon helper's cleanup sees only the default project). */
export async function deleteProjectInstances(d: TestDaemon, project: string): Promise<void> {
  const list = await q(d, 'GET', `/1.0/instances?project=${project}`);
  for (const url of (list.body.metadata as string[] | undefined) ?? []) {
    const name = decodeURIComponent(url.split('/').pop()!.split('?')[0]!);
    await d.cli(['--project', project, 'delete', '-f', name]);
  }
}
