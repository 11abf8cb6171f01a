/** Runs a command inside a daemon-managed container with the raw liblxc tool, as an independent witness. */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function lxcAttach(incusDir: string, name: string, cmd: string[], timeoutMs = 60_000): { code: number | null; out: string; err: string } {
  const r = spawnSync('lxc-attach', ['-P', join(incusDir, 'containers'), '-n', name, '--', ...cmd], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * A cgroup v1 file of a container's payload cgroup, found through its init
 * PID (names alone collide when several daemons run containers called c1).
 */
export function payloadCgroupFile(controller: string, initPid: number, file: string): string {
  const lines = readFileSync(`/proc/${initPid}/cgroup`, 'utf8').split('\n');
  const line = lines.find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`no ${controller} cgroup for pid ${initPid}`);
  const path = line.split(':').slice(2).join(':');
  const payload = /^(.*?\/lxc\.payload\.[^/]+)/.exec(path)?.[1] ?? path;
  const dir = readdirSync('/sys/fs/cgroup').find((d) => d.split(',').includes(controller)) ?? controller;
  return readFileSync(`/sys/fs/cgroup/${dir}${payload}/${file}`, 'utf8').trim();
}
