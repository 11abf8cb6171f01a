/**
 * Which cgroup version each controller uses on this host (v1, v2 or a
 * hybrid of both), read from the mounted hierarchies under a root that
 * tests point at a fixture tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Controller = 'memory' | 'cpu' | 'cpuset' | 'pids' | 'blkio' | 'io';

export interface HostCgroups {
  /** 1 or 2 for the controller, or 0 when the host lacks it. */
  version(c: Controller): 0 | 1 | 2;
  /** Whether a v1 controller offers a file (e.g. memory.memsw.limit_in_bytes). */
  hasV1File(c: Controller, file: string): boolean;
}

export function detectHostCgroups(root = '/sys/fs/cgroup'): HostCgroups {
  const v2Root = existsSync(join(root, 'cgroup.controllers')) ? root : join(root, 'unified');
  let v2: Set<string>;
  try {
    v2 = new Set(readFileSync(join(v2Root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean));
  } catch {
    v2 = new Set();
  }
  const cache = new Map<Controller, 0 | 1 | 2>();
  const version = (c: Controller): 0 | 1 | 2 => {
    const hit = cache.get(c);
    if (hit !== undefined) return hit;
    let v: 0 | 1 | 2 = 0;
    if (c !== 'io' && existsSync(join(root, c)) && root !== v2Root) v = 1;
    else if (v2.has(c)) v = 2;
    cache.set(c, v);
    return v;
  };
  return {
    version,
    hasV1File: (c, file) => version(c) === 1 && existsSync(join(root, c, file)),
  };
}
