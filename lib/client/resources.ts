/** The server's hardware (`GET /1.0/resources`). */
import type { Resources } from '../api/resources';
import type { CallOptions, IncusClient } from './client';

export async function getServerResources(client: IncusClient, opts: CallOptions = {}): Promise<Resources> {
  const env = await client.request('GET', '/1.0/resources', opts);
  if (env.type !== 'sync') throw new Error('Expected a sync response from GET /1.0/resources');
  return env.metadata as Resources;
}
