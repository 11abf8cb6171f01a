/**
 * `tpm` devices for containers, as Incus does them: a software TPM
 * (`swtpm chardev --vtpm-proxy`) keeps its state in the instance's
 * directory (tpm.<device>/) and makes the kernel create /dev/tpmN and
 * /dev/tpmrmN through the vTPM proxy (/dev/vtpmx); those two nodes are
 * passed in at `path` and `pathrm`. swtpm's PID file lives with the other
 * device files. Needs the swtpm package and a kernel with
 * CONFIG_TCG_VTPM_PROXY.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, deviceError, isAbsPath } from './options';
import { encodeDeviceName } from './paths';
import { stopPidFile, writePidFile } from './pid-file';
import { DEFAULT_NODE_MODE, type UnixNode, nodeRunConfig, plugNode, prepareNode, removeHostNodes, unplugNodes } from './unix-node';
import { type DeviceRunConfig, mergeRunConfigs } from './run-config';

/** How long swtpm may take to report its device. */
const SWTPM_START_MS = 10_000;

/** `New TPM device: /dev/tpm1 (major/minor = 253/1)` to its parts, or null. */
export function parseSwtpmDevice(text: string): { index: number; major: number; minor: number } | null {
  const m = /New TPM device: \/dev\/tpm(\d+) \(major\/minor = (\d+)\/(\d+)\)/.exec(text);
  return m ? { index: Number(m[1]), major: Number(m[2]), minor: Number(m[3]) } : null;
}

/** The resource manager node's numbers, from sysfs (its major differs from /dev/tpm0's 10:224). */
export function tpmrmNumber(sysRoot: string, index: number): { major: number; minor: number } | null {
  try {
    const m = /^(\d+):(\d+)$/.exec(readFileSync(join(sysRoot, 'class', 'tpmrm', `tpmrm${index}`, 'dev'), 'utf8').trim());
    return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
  } catch {
    return null;
  }
}

/** The nodes for path/pathrm once swtpm reported its device. */
export function tpmNodes(config: Record<string, string>, dev: { major: number; minor: number }, rm: { major: number; minor: number }): UnixNode[] {
  const base = { type: 'c' as const, mode: DEFAULT_NODE_MODE, uid: 0, gid: 0 };
  return [
    { ...base, path: config.path, ...dev },
    { ...base, path: config.pathrm, ...rm },
  ];
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).some((d) => {
    try {
      accessSync(join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function pidFile(ctx: DeviceStartContext): string {
  return join(ctx.devicesDir, `tpm.${encodeDeviceName(ctx.name)}.pid`);
}

/** Starts swtpm for the device and returns the two nodes it produced. */
async function startSwtpm(ctx: DeviceStartContext): Promise<UnixNode[]> {
  if (!onPath('swtpm')) throw new Error('Required tool "swtpm" is missing');
  if (!existsSync(join(ctx.host.devRoot, 'vtpmx'))) throw new Error('The kernel has no vTPM proxy (/dev/vtpmx is missing, CONFIG_TCG_VTPM_PROXY)');
  const state = join(ctx.inst.volumePath, `tpm.${encodeDeviceName(ctx.name)}`);
  await mkdir(state, { recursive: true, mode: 0o700 });
  await mkdir(ctx.devicesDir, { recursive: true, mode: 0o711 });
  await mkdir(ctx.logDir, { recursive: true, mode: 0o700 });
  await stopPidFile(pidFile(ctx));
  const logPath = join(ctx.logDir, `tpm.${encodeDeviceName(ctx.name)}.log`);
  const from = existsSync(logPath) ? readFileSync(logPath).length : 0;
  const log = openSync(logPath, 'a', 0o600);
  const child = spawn('swtpm', ['chardev', '--tpm2', '--tpmstate', `dir=${state}`, '--vtpm-proxy'], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new Error('Failed to start swtpm');
  await writePidFile(pidFile(ctx), pid);
  const deadline = Date.now() + SWTPM_START_MS;
  for (;;) {
    const dev = parseSwtpmDevice(readFileSync(logPath).subarray(from).toString());
    if (dev) {
      const rm = tpmrmNumber(ctx.host.sysRoot, dev.index);
      if (!rm) throw new Error(`No resource manager device for /dev/tpm${dev.index}`);
      return tpmNodes(ctx.config, dev, rm);
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`swtpm did not create a TPM device (see ${logPath})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(ctx: DeviceStartContext): Promise<void> {
  await removeHostNodes(ctx);
  await stopPidFile(pidFile(ctx));
}

export const tpmDevice: DeviceDriver = {
  type: 'tpm',
  validate(name, config, ctx) {
    checkDeviceOptions(name, config, { path: isAbsPath, pathrm: isAbsPath });
    if (!ctx.profile) for (const k of ['path', 'pathrm']) if (!config[k]) throw deviceError(name, `Missing "${k}" (required for containers)`);
  },
  async start(ctx) {
    const configs: DeviceRunConfig[] = [];
    for (const node of await startSwtpm(ctx)) configs.push(nodeRunConfig(await prepareNode(ctx, node), node));
    return mergeRunConfigs(configs);
  },
  stop,
  async hotplug(ctx) {
    for (const node of await startSwtpm(ctx)) await plugNode(ctx, node);
  },
  async hotunplug(ctx) {
    await unplugNodes(ctx);
    await stopPidFile(pidFile(ctx));
  },
};
