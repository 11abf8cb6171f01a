/** UEFI firmware choice and the VM's NVRAM, on a fake firmware directory and on the host's OVMF. */
import t from 'tap';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  firmwareCandidates,
  firmwareUsage,
  prepareFirmware,
  removeNvram,
  type FirmwareInstallation,
} from '../../lib/server/instance/drivers/qemu/firmware';

function fakeFirmware(t: { teardown(fn: () => void): void }): { dir: string; installations: FirmwareInstallation[]; vm: string } {
  const root = mkdtempSync(join(tmpdir(), 'fw-unit-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'OVMF');
  mkdirSync(dir);
  for (const f of ['CODE.fd', 'VARS.fd', 'CODE.ms.fd', 'VARS.ms.fd']) writeFileSync(join(dir, f), `template ${f}`);
  const vm = join(root, 'vm');
  mkdirSync(vm);
  return {
    dir,
    vm,
    installations: [{ path: dir, usage: { generic: [['NOPE.fd', 'VARS.fd'], ['CODE.fd', 'VARS.fd']], secureboot: [['CODE.ms.fd', 'VARS.ms.fd']] } }],
  };
}

t.test('usage from config: secure boot by default, off when false, CSM wins', async (t) => {
  t.equal(firmwareUsage({}), 'secureboot');
  t.equal(firmwareUsage({ 'security.secureboot': 'true' }), 'secureboot');
  t.equal(firmwareUsage({ 'security.secureboot': 'false' }), 'generic');
  t.equal(firmwareUsage({ 'security.csm': 'true', 'security.secureboot': 'false' }), 'csm');
});

t.test('NVRAM: copied once as a link to the vars copy, kept across starts, regenerated on usage change', async (t) => {
  const { dir, installations, vm } = fakeFirmware(t);
  t.same(firmwareCandidates('generic', { installations }), [{ code: join(dir, 'CODE.fd'), vars: join(dir, 'VARS.fd') }]);

  const sb = await prepareFirmware(vm, 'secureboot', { installations });
  t.same(sb, { code: join(dir, 'CODE.ms.fd'), nvram: join(vm, 'qemu.nvram'), varsTemplate: join(dir, 'VARS.ms.fd') });
  t.ok(lstatSync(join(vm, 'qemu.nvram')).isSymbolicLink());
  t.equal(readlinkSync(join(vm, 'qemu.nvram')), 'VARS.ms.fd');
  t.equal(readFileSync(join(vm, 'qemu.nvram'), 'utf8'), 'template VARS.ms.fd');

  // UEFI variables written by the guest survive the next start.
  writeFileSync(join(vm, 'VARS.ms.fd'), 'guest wrote this');
  await prepareFirmware(vm, 'secureboot', { installations });
  t.equal(readFileSync(join(vm, 'qemu.nvram'), 'utf8'), 'guest wrote this');

  // security.secureboot=false: a fresh generic NVRAM, the old copy gone.
  const gen = await prepareFirmware(vm, 'generic', { installations });
  t.equal(gen.code, join(dir, 'CODE.fd'));
  t.equal(readlinkSync(join(vm, 'qemu.nvram')), 'VARS.fd');
  t.notOk(existsSync(join(vm, 'VARS.ms.fd')));

  writeFileSync(join(vm, 'VARS.fd'), 'changed');
  await prepareFirmware(vm, 'generic', { installations, reset: true });
  t.equal(readFileSync(join(vm, 'qemu.nvram'), 'utf8'), 'template VARS.fd', 'reset copies the template again');

  await removeNvram(vm);
  t.notOk(existsSync(join(vm, 'qemu.nvram')));
  t.notOk(existsSync(join(vm, 'VARS.fd')));
});

t.test('missing firmware: a clear error naming where it looked', async (t) => {
  const { vm, installations } = fakeFirmware(t);
  const none: FirmwareInstallation[] = [{ path: join(vm, 'no-such-dir'), usage: installations[0].usage }];
  await t.rejects(prepareFirmware(vm, 'secureboot', { installations: none }), {
    message: `Unable to locate a UEFI secure boot firmware in ${join(vm, 'no-such-dir')}; install OVMF (or set security.secureboot=false)`,
  });
  await t.rejects(prepareFirmware(vm, 'csm', { installations }), /Unable to locate a UEFI CSM firmware/);
  t.throws(() => firmwareCandidates('generic', { edk2Path: '/no/such/edk2' }), /INCUS_EDK2_PATH set to "\/no\/such\/edk2" but path doesn't exist/);
  t.notOk(existsSync(join(vm, 'qemu.nvram')));
});

t.test('INCUS_EDK2_PATH is searched before the installation directory', async (t) => {
  const { installations, vm } = fakeFirmware(t);
  const override = join(vm, 'edk2');
  mkdirSync(override);
  writeFileSync(join(override, 'CODE.fd'), 'o');
  writeFileSync(join(override, 'VARS.fd'), 'o');
  t.equal(firmwareCandidates('generic', { installations, edk2Path: override })[0].code, join(override, 'CODE.fd'));
});

t.test("the host's OVMF (Debian ovmf package)", { skip: !existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd') && 'ovmf not installed' }, async (t) => {
  t.same(firmwareCandidates('secureboot')[0], { code: '/usr/share/OVMF/OVMF_CODE_4M.ms.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.ms.fd' });
  t.same(firmwareCandidates('generic')[0], { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' });
});
