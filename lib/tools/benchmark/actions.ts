/**
 * The benchmark actions: create (and start, and freeze) `count` containers,
 * or start/stop/delete the ones the tool made; each container is one
 * timed sample.
 */
import type { Instance } from '../../api/instance';
import type { IncusClient } from '../../client/client';
import { ApiError } from '../../client/errors';
import { batchSize, processBatch } from './batch';
import { ensureImage } from './image';
import { logf } from './log';
import { USER_CONFIG_KEY, changeState, createContainer, deleteContainer } from './operations';
import type { Sample } from './report';

/** Samples of one action and its wall time. */
export interface ActionResult {
  samples: Sample[];
  totalMs: number;
}

/** `benchmark-%.Nd`: the index (from 1) zero-padded to the width of `count`. */
export function containerName(count: number, index: number): string {
  return `benchmark-${String(index + 1).padStart(String(count).length, '0')}`;
}

/** Runs `work` for one container and records it; failures are logged, never thrown. */
async function timed(name: string, what: string, work: () => Promise<void>): Promise<Sample> {
  const startedAt = Date.now();
  const t0 = performance.now();
  try {
    await work();
    return { name, startedAt, elapsedMs: performance.now() - t0, ok: true, responseCode: '' };
  } catch (err) {
    logf(`Failed to ${what} container '${name}': ${(err as Error).message}`);
    const code = err instanceof ApiError && err.status > 0 ? String(err.status) : '';
    return { name, startedAt, elapsedMs: performance.now() - t0, ok: false, responseCode: code };
  }
}

async function batchOver(n: number, parallel: number, one: (i: number) => Promise<Sample>): Promise<ActionResult> {
  const samples: Sample[] = new Array<Sample>(n);
  const totalMs = await processBatch(n, batchSize(parallel), async (i) => {
    samples[i] = await one(i);
  });
  return { samples, totalMs };
}

/** Launch settings. */
export interface LaunchOptions {
  count: number;
  parallel: number;
  image: string;
  privileged: boolean;
  start: boolean;
  freeze: boolean;
}

/** Prints the test variables as Incus's tool does. */
function printTestConfig(o: LaunchOptions, size: number): void {
  process.stdout.write(
    'Test variables:\n' +
      `  Container count: ${o.count}\n` +
      `  Container mode: ${o.privileged ? 'privileged' : 'unprivileged'}\n` +
      `  Startup mode: ${o.freeze ? 'start and freeze' : 'normal startup'}\n` +
      `  Image: ${o.image}\n` +
      `  Batches: ${Math.floor(o.count / size)}\n` +
      `  Batch size: ${size}\n` +
      `  Remainder: ${o.count % size}\n\n`,
  );
}

/** Creates `count` containers (`init`), starting (and freezing) each when asked (`launch`). */
export async function launchContainers(c: IncusClient, o: LaunchOptions): Promise<ActionResult> {
  printTestConfig(o, batchSize(o.parallel));
  const fingerprint = await ensureImage(c, o.image);
  return batchOver(o.count, o.parallel, (i) => {
    const name = containerName(o.count, i);
    return timed(name, 'launch', async () => {
      await createContainer(c, fingerprint, name, o.privileged);
      if (!o.start) return;
      await changeState(c, name, 'start');
      if (o.freeze) await changeState(c, name, 'freeze');
    });
  });
}

/** The containers this tool created (marked with {@link USER_CONFIG_KEY}). */
export async function benchmarkContainers(c: IncusClient): Promise<Instance[]> {
  const all = (await c.getInstances(1)) as Instance[];
  return all.filter((i) => i.type === 'container' && i.config?.[USER_CONFIG_KEY] === 'true').sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Running or frozen, as Incus's IsActive counts. */
function isActive(i: Instance): boolean {
  return !['Stopped', 'Error'].includes(i.status);
}

/** Starts the tool's containers that are not running. */
export async function startContainers(c: IncusClient, list: Instance[], parallel: number): Promise<ActionResult> {
  logf(`Starting ${list.length} containers`);
  return batchOver(list.length, parallel, (i) => {
    const inst = list[i]!;
    return timed(inst.name, 'start', async () => {
      if (!isActive(inst)) await changeState(c, inst.name, 'start');
    });
  });
}

/** Force-stops the tool's running containers. */
export async function stopContainers(c: IncusClient, list: Instance[], parallel: number): Promise<ActionResult> {
  logf(`Stopping ${list.length} containers`);
  return batchOver(list.length, parallel, (i) => {
    const inst = list[i]!;
    return timed(inst.name, 'stop', async () => {
      if (isActive(inst)) await changeState(c, inst.name, 'stop');
    });
  });
}

/** Stops (when running) and deletes the tool's containers. */
export async function deleteContainers(c: IncusClient, list: Instance[], parallel: number): Promise<ActionResult> {
  logf(`Deleting ${list.length} containers`);
  return batchOver(list.length, parallel, (i) => {
    const inst = list[i]!;
    return timed(inst.name, 'delete', async () => {
      if (isActive(inst)) await changeState(c, inst.name, 'stop');
      await deleteContainer(c, inst.name);
    });
  });
}
