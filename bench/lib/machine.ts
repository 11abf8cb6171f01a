/** Describes the machine and source tree a benchmark ran on. */

import fs from 'node:fs/promises';
import os from 'node:os';
import { execTracked } from './exec';

/** Facts printed next to every result table. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  node: string;
}

/** CPU model, core count, memory and kernel of this host. */
export async function machineInfo(): Promise<MachineInfo> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(await fs.readFile('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1].trim();
  } catch {
    // Keep os.cpus()'s answer.
  }
  return {
    cpu,
    cores: os.cpus().length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

/** `abc1234` (with `+dirty` for local changes), or `none` before the first commit. */
export async function gitCommit(repoRoot: string): Promise<string> {
  const head = await execTracked('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD'], { allowFail: true });
  if (head.code !== 0) return 'none (no commit yet)';
  const st = await execTracked('git', ['-C', repoRoot, 'status', '--porcelain', '--untracked-files=no'], { allowFail: true });
  return head.stdout.trim() + (st.stdout.trim() !== '' ? '+dirty' : '');
}
