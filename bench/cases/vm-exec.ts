/**
 * Exec round trip into a VM next to the same into a container, in one run
 * on one daemon: `true` through lib/client (POST exec + websockets +
 * operation wait) into the busybox test VM (QEMU, through its guest agent
 * on the virtio-serial port) and into a busybox container, batches
 * alternating. The container is the reference. Under TCG (no usable KVM
 * here) the guest side is emulated, so the VM figure is an upper bound
 * of what a KVM host sees. Unavailable without QEMU and OVMF.
 */

import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execInstance } from '../../lib/client';
import { buildBusyboxImage, importImage } from '../../lib/image-builder';
import { buildBusyboxVmImage } from '../../lib/image-builder/busybox-vm';
import { type BenchContext, Unavailable } from '../lib/case';
import { daemonWithContainer, type IncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';

/** Commands per batch; batches alternate between VM and container. */
const BATCH = 10;
/** How long the guest may take to boot and start its agent under TCG. */
const AGENT_TIMEOUT_MS = 240_000;

const COLUMNS = { vm: 'VM (API)' } as const;

function sink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

async function apiTrue(daemon: IncusDaemon, name: string): Promise<void> {
  const r = await execInstance(daemon.client, name, { command: ['true'] }, { stdout: sink(), stderr: sink() });
  if (r.code !== 0) throw new Error(`exec true in ${name} returned ${r.code}`);
}

/** Waits until exec into `name` works (its agent answers); returns the milliseconds it took. */
async function waitAgent(ctx: BenchContext, daemon: IncusDaemon, name: string): Promise<number> {
  const started = Date.now();
  let last = '';
  while (Date.now() - started < AGENT_TIMEOUT_MS) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    try {
      await apiTrue(daemon, name);
      return Date.now() - started;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`the agent of ${name} did not answer within ${AGENT_TIMEOUT_MS / 1000} s (${last})`);
}

export const name = 'vm-exec';

export async function run(ctx: BenchContext): Promise<void> {
  if (!fs.existsSync('/usr/bin/qemu-system-x86_64') || !fs.existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd')) {
    throw new Unavailable('QEMU or OVMF is not installed');
  }
  const work = await ctx.tmpDir('bench-vm-exec-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const vmImage = await buildBusyboxVmImage({ outputDir: path.join(work, 'vm') });
  const ct = `bench-ct-${process.pid}`;
  const vm = `bench-vm-${process.pid}`;
  const daemon = await daemonWithContainer(ctx, image.path, ct);
  await importImage(vmImage.metadata, { aliases: ['bench-vm'], rootfs: vmImage.disk, socketPath: daemon.socket });
  const launched = Date.now();
  await (
    await daemon.client.createInstance({
      name: vm,
      type: 'virtual-machine',
      source: { type: 'image', alias: 'bench-vm' },
      config: { 'limits.cpu': '1', 'limits.memory': '256MiB', 'security.secureboot': 'false' },
    })
  ).wait();
  await (await daemon.client.updateInstanceState(vm, { action: 'start' })).wait();
  const bootMs = Date.now() - launched;
  const agentMs = await waitAgent(ctx, daemon, vm);
  ctx.log(`VM started in ${bootMs} ms, its agent answered ${agentMs} ms later`);

  const samples = { ct: [] as number[], vm: [] as number[] };
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const measured = i >= ctx.warmup;
    ctx.log(`${measured ? 'batch' : 'warm-up'} ${measured ? i - ctx.warmup + 1 : i + 1} (${BATCH} execs per side)`);
    const ctMs: number[] = [];
    const vmMs: number[] = [];
    for (let k = 0; k < BATCH; k++) ctMs.push(await timeMs(() => apiTrue(daemon, ct)));
    for (let k = 0; k < BATCH; k++) vmMs.push(await timeMs(() => apiTrue(daemon, vm)));
    if (!measured) continue;
    samples.ct.push(...ctMs);
    samples.vm.push(...vmMs);
  }

  ctx.legend('reference: the same exec (`true`, lib/client: POST exec + websockets + operation wait) into a busybox container of the same daemon');
  ctx.column(COLUMNS.vm, 'into the busybox test VM (1 vCPU, 256 MiB) through its guest agent over virtio-serial; QEMU under TCG here');
  ctx.legend(`medians of ${samples.ct.length} execs per side (${ctx.runs} batches of ${BATCH}, after ${ctx.warmup} warm-up batch); sides alternate batch by batch`);
  const ref = median(samples.ct);
  const v = median(samples.vm);
  ctx.metric('vm_exec.true.container', ref, 'ms');
  ctx.metric('vm_exec.true.vm', v, 'ms');
  ctx.metric('vm_exec.true.ratio', v / ref, 'x');
  ctx.metric('vm_exec.start_to_agent', bootMs + agentMs, 'ms');
  ctx.row({ metric: 'exec true (round trip)', unit: 'ms', values: { [COLUMNS.vm]: v }, reference: ref });
  ctx.row({ metric: 'start to agent answering (TCG)', unit: 'ms', values: { [COLUMNS.vm]: bootMs + agentMs } });
  await daemon.stop();
}
