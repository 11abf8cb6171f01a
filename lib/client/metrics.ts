/** `GET /1.0/metrics`: the OpenMetrics text, for the project or all projects. */
import { parseEnvelope } from './envelope';
import type { CallOptions, IncusClient } from './client';

export async function getMetrics(client: IncusClient, opts: CallOptions & { allProjects?: boolean } = {}): Promise<string> {
  const project = opts.project ?? client.project;
  const q = new URLSearchParams();
  if (!opts.allProjects && project !== undefined) q.set('project', project);
  const path = `/1.0/metrics${q.size > 0 ? `?${q.toString()}` : ''}`;
  const res = await client.transport.request({ method: 'GET', path, signal: opts.signal });
  if (res.status !== 200) parseEnvelope(res, `GET ${path}`);
  return res.body.toString('utf8');
}
