/** Host checks behind the cgroup warnings, on fixture trees for cgroup v1 and v2. */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupControllers, readHostFacts } from '../../lib/server/warnings/host-checks';
import { statusName, warningSeverity, warningTypeName, WarningType } from '../../lib/server/warnings/types';

function tree(files: Record<string, string>, dirs: string[] = []): string {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
  for (const d of dirs) mkdirSync(join(root, d), { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), text);
  }
  return root;
}

t.test('cgroup v1: the mounted hierarchies are the controllers', async (t) => {
  const root = tree({ 'memory/memory.memsw.limit_in_bytes': '' }, ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'pids']);
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const { v2, controllers } = cgroupControllers(root);
  t.equal(v2, false);
  t.same([...controllers].sort(), ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids']);
  const facts = readHostFacts(root);
  t.equal(facts.swapAccounting, true, 'memsw present');
  t.equal(facts.blkioWeight, false, 'no blkio.weight');
});

t.test('cgroup v2: cgroup.controllers, devices and freezer built in', async (t) => {
  const root = tree({ 'cgroup.controllers': 'cpuset cpu io memory pids\n', 'init.scope/memory.swap.max': 'max\n' });
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const { v2, controllers } = cgroupControllers(root);
  t.equal(v2, true);
  for (const c of ['cpuset', 'cpu', 'io', 'memory', 'pids', 'devices', 'freezer']) t.ok(controllers.has(c), c);
  t.notOk(controllers.has('hugetlb'), 'no hugetlb');
  t.equal(readHostFacts(root).swapAccounting, true);
});

t.test("Incus's names, severities and statuses", async (t) => {
  t.equal(warningTypeName(WarningType.InstanceAutostartFailure), 'Failed to autostart instance');
  t.equal(warningTypeName(WarningType.AppArmorNotAvailable), 'AppArmor support has been disabled');
  t.equal(warningSeverity(WarningType.StoragePoolUnvailable), 'high');
  t.equal(warningSeverity(WarningType.MissingVirtiofsd), 'low');
  t.equal(statusName(2), 'acknowledged');
  t.equal(statusName(3), 'resolved');
});
