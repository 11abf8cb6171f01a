/**
 * Instance replace (PUT /1.0/instances/{name}) that finishes the change
 * whichever way the server answers: Incus returns an operation (202), some
 * servers apply the change at once (200). Either way the call resolves only
 * once the change is in place.
 */
import type { InstancePut } from '../api/instance';
import type { IncusClient, WriteOptions } from './client';

/**
 * Replaces the writable part of instance `name` with `put` and waits for it
 * to be applied. With `opts.etag` the server refuses (412) if the instance
 * changed since it was read.
 * @throws ApiError with the server's message when the change is refused or fails.
 */
export async function putInstance(client: IncusClient, name: string, put: InstancePut, opts: WriteOptions = {}): Promise<void> {
  const env = await client.request('PUT', `/1.0/instances/${encodeURIComponent(name)}`, { ...opts, body: put });
  if (env.type !== 'async') return;
  const { Operation } = require('./operation') as typeof import('./operation');
  await new Operation(client, env.operation, opts.project ?? client.project).wait(opts.signal);
}
