/** Small helpers shared by routes: project, recursion, ETag checks. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { etagOf } from '../response';
import { notFound, preconditionFailed } from '../errors';
import type { FeatureKind } from '../projects/features';
import type { DaemonState } from '../state';

type Query = Record<string, string | undefined>;

export function query(req: FastifyRequest): Query {
  return req.query as Query;
}

/** The request's project (`?project=`), checked to exist. */
export async function projectOf(s: DaemonState, req: FastifyRequest): Promise<string> {
  const p = query(req).project || 'default';
  if ((await s.db.projects.id(p)) === undefined) throw notFound('Project not found');
  return p;
}

/**
 * The project whose resources of `kind` the request's project uses: itself,
 * or `default` when the project lacks that feature (features.profiles, ...).
 */
export async function featureProjectOf(s: DaemonState, req: FastifyRequest, kind: FeatureKind): Promise<string> {
  return await s.projects.featureProject(await projectOf(s, req), kind);
}

/** null when `all-projects=true` was asked for. */
export async function projectOrAll(s: DaemonState, req: FastifyRequest): Promise<string | null> {
  if (query(req)['all-projects'] === 'true') return null;
  return projectOf(s, req);
}

export function recursionOf(req: FastifyRequest): number {
  const r = Number(query(req).recursion ?? '0');
  return Number.isInteger(r) && r > 0 ? Math.min(r, 2) : 0;
}

/** Sets the ETag header for an entity's writable fields. */
export function setEtag(reply: FastifyReply, value: unknown): void {
  void reply.header('ETag', `"${etagOf(value)}"`);
}

/** Refuses the write with 412 when If-Match names another version. */
export function checkIfMatch(req: FastifyRequest, current: unknown): void {
  const h = req.headers['if-match'];
  if (!h) return;
  const want = String(h).replace(/^W\//, '').replace(/"/g, '');
  if (want !== etagOf(current)) throw preconditionFailed('ETag doesn\'t match');
}

/** An Incus-style header, accepting the LXD spelling too. */
export function incusHeader(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[`x-incus-${name}`] ?? req.headers[`x-lxd-${name}`];
  return Array.isArray(v) ? v[0] : v;
}
