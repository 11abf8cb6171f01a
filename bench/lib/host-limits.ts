/** Host-wide limits that many containers run into, with how much of each is in use. */

import fs from 'node:fs/promises';

/** One limit: what is used now out of the maximum. */
export interface HostLimit {
  name: string;
  used: number;
  max: number;
}

async function num(file: string): Promise<number> {
  return Number((await fs.readFile(file, 'utf8')).trim().split(/\s+/)[0]);
}

/** Counts open inotify instances across all processes (fd links to anon_inode:inotify). */
async function inotifyInstances(): Promise<number> {
  let n = 0;
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = await fs.readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if ((await fs.readlink(`/proc/${pid}/fd/${fd}`)) === 'anon_inode:inotify') n++;
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return n;
}

/**
 * pids (tasks vs kernel.pid_max), ptys (kernel.pty.nr vs pty.max), file
 * handles (fs.file-nr), inotify instances (all users, vs the per-user
 * max_user_instances) and kernel keys for root.
 */
export async function hostLimits(): Promise<HostLimit[]> {
  const tasks = (await fs.readdir('/proc')).filter((p) => /^\d+$/.test(p)).length;
  const fileNr = (await fs.readFile('/proc/sys/fs/file-nr', 'utf8')).trim().split(/\s+/).map(Number);
  const keys = await fs.readFile('/proc/key-users', 'utf8').catch(() => '');
  const rootKeys = /^\s*0:\s+\d+\s+\d+\/\d+\s+(\d+)\/(\d+)/m.exec(keys);
  const limits: HostLimit[] = [
    { name: 'processes (kernel.pid_max)', used: tasks, max: await num('/proc/sys/kernel/pid_max') },
    { name: 'ptys (kernel.pty.max)', used: await num('/proc/sys/kernel/pty/nr'), max: await num('/proc/sys/kernel/pty/max') },
    { name: 'file handles (fs.file-max)', used: fileNr[0], max: fileNr[2] },
    { name: 'inotify instances (fs.inotify.max_user_instances, per user)', used: await inotifyInstances(), max: await num('/proc/sys/fs/inotify/max_user_instances') },
  ];
  if (rootKeys) limits.push({ name: 'root kernel keys (kernel.keys.root_maxkeys)', used: Number(rootKeys[1]), max: Number(rootKeys[2]) });
  return limits;
}

/** `name used/max` lines for notes. */
export function describeLimits(limits: readonly HostLimit[]): string {
  return limits.map((l) => `${l.name} ${l.used}/${l.max}`).join('; ');
}
