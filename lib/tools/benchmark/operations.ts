/** The API calls a benchmark times, each waited to completion, as Incus's tool makes them. */
import type { IncusClient } from '../../client/client';
import type { StateAction } from '../../api/instance-state';

/** Marks the instances the tool made, so `start`/`stop`/`delete` touch only those. */
export const USER_CONFIG_KEY = 'user.incus-benchmark';

/** Creates a container from a local image (by fingerprint), marked as the tool's. */
export async function createContainer(c: IncusClient, fingerprint: string, name: string, privileged: boolean): Promise<void> {
  const config: Record<string, string> = { [USER_CONFIG_KEY]: 'true' };
  if (privileged) config['security.privileged'] = 'true';
  await (await c.createInstance({ name, type: 'container', source: { type: 'image', fingerprint }, config })).wait();
}

/** Changes the state; stop is forced, as Incus's tool does. */
export async function changeState(c: IncusClient, name: string, action: StateAction): Promise<void> {
  await (await c.updateInstanceState(name, { action, timeout: -1, ...(action === 'stop' ? { force: true } : {}) })).wait();
}

/** Deletes an instance. */
export async function deleteContainer(c: IncusClient, name: string): Promise<void> {
  await (await c.deleteInstance(name)).wait();
}
