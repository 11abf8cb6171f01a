/** liblxc lines for the instance layer's neutral settings: cgroup limits and id maps. */
import type { IdmapEntry } from '../../idmap-alloc';
import type { CgroupSetting } from '../../limits/cgroup-limits';

/** The liblxc config lines for settings (`lxc.cgroup.KEY` or `lxc.cgroup2.KEY`), skipping no-op resets. */
export function lxcCgroupLines(settings: CgroupSetting[]): string[] {
  const lines: string[] = [];
  for (const s of settings) {
    if (s.value === '-1' || s.value === 'max' || s.value === 'max 100000') continue;
    lines.push(`${s.version === 1 ? 'lxc.cgroup' : 'lxc.cgroup2'}.${s.key} = ${s.value}`);
  }
  return lines;
}

/** liblxc lxc.idmap lines. */
export function lxcIdmapLines(entries: IdmapEntry[]): string[] {
  return entries.map((e) => `lxc.idmap = ${e.isUid ? 'u' : 'g'} ${e.nsId} ${e.hostId} ${e.range}`);
}
