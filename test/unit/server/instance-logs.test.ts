import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatusError } from '../../../lib/server/errors';
import { deletableLogFileName, deleteLogFile, listLogFiles, openLogFile, validLogFileName } from '../../../lib/server/instance/logs';

t.test('names the logs API serves and deletes', async (t) => {
  for (const ok of ['lxc.log', 'qemu.log', 'qemu.early.log', 'qemu.qmp.log', 'migration_x.log', 'snapshot_s0.log']) t.ok(validLogFileName(ok), ok);
  for (const no of ['lxc.conf', 'console.log', '', '.', '..', '../lxc.log', 'a/lxc.log', 'snapshot_/../x', 'exec_1.stdout']) {
    t.notOk(validLogFileName(no), JSON.stringify(no));
  }
  t.notOk(deletableLogFileName('lxc.log'));
  t.notOk(deletableLogFileName('qemu.log'));
  t.ok(deletableLogFileName('qemu.early.log'));
  t.ok(deletableLogFileName('snapshot_s0.log'));
  t.notOk(deletableLogFileName('snapshot_s0'));
});

t.test('listing, reading and deleting in a directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'logs-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.same(await listLogFiles(join(dir, 'missing')), [], 'no directory yet: empty list');
  writeFileSync(join(dir, 'lxc.log'), 'hello\n');
  writeFileSync(join(dir, 'lxc.conf'), 'lxc.uts.name = c1\n');
  writeFileSync(join(dir, 'console.log'), 'console\n');
  writeFileSync(join(dir, 'snapshot_a.log'), 'snap\n');
  t.same(await listLogFiles(dir), ['lxc.log', 'snapshot_a.log']);

  const fh = await openLogFile(dir, 'lxc.log');
  t.equal((await fh.readFile()).toString(), 'hello\n');
  await fh.close();

  const status = async (p: Promise<unknown>) => {
    const e = await p.then(() => null, (err: unknown) => err);
    return e instanceof StatusError ? e.status : e;
  };
  t.equal(await status(openLogFile(dir, 'lxc.conf')), 400, 'not a served name');
  t.equal(await status(openLogFile(dir, 'qemu.log')), 404, 'missing');
  symlinkSync('/etc/hostname', join(dir, 'qemu.log'));
  t.equal(await status(openLogFile(dir, 'qemu.log')), 400, 'a symlink is never followed');
  t.equal(spawnSync('mkfifo', [join(dir, 'qemu.early.log')]).status, 0, 'mkfifo');
  t.equal(await status(openLogFile(dir, 'qemu.early.log')), 400, 'a FIFO is refused without blocking');

  t.equal(await status(deleteLogFile(dir, 'lxc.log')), 400);
  await deleteLogFile(dir, 'snapshot_a.log');
  t.same(await listLogFiles(dir), ['lxc.log', 'qemu.early.log', 'qemu.log']);
  t.equal(await status(deleteLogFile(dir, 'snapshot_a.log')), 404);
});
