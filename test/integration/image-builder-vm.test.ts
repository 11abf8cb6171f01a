/**
 * `incus-image-builder busybox --vm`: the split test VM image is small,
 * boots under QEMU (TCG + OVMF, as on these hosts) to its boot marker with
 * the CPUs and memory it was given, powers off on ACPI system_powerdown,
 * and is stored by the daemon as a virtual-machine image (list, info,
 * export byte for byte, unified VM tarball too).
 */
import t, { type Test } from 'tap';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import type { Image } from '../../lib/api/image';
import { type BuiltVmImage, buildBusyboxVmImage } from '../../lib/image-builder/busybox-vm';
import { READY_MARKER } from '../../lib/image-builder/vm/guest-init';
import { withDaemon } from './lib/daemon';

const exec = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..', '..');
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const QEMU = '/usr/bin/qemu-system-x86_64';
const MiB = 1024 * 1024;
const missing = [QEMU, OVMF_CODE, OVMF_VARS].filter((f) => !existsSync(f));
const skip = process.getuid?.() !== 0 ? 'needs root' : missing.length > 0 ? `missing ${missing.join(', ')} (scripts/setup.sh installs them)` : false;

const sha = (...files: string[]): string => {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex');
};

// One build for the whole file; the kernel package comes from the builder's cache after the first run.
let work = '';
let built: BuiltVmImage | undefined;
async function image(): Promise<BuiltVmImage> {
  if (built) return built;
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'ib-vm-'));
  const t0 = Date.now();
  built = await buildBusyboxVmImage({ outputDir: path.join(work, 'img'), creationDate: 1700000000 });
  t.comment(`VM image built in ${Date.now() - t0} ms: ${built.size} bytes, kernel ${built.kernelVersion}`);
  return built;
}
t.teardown(() => (work ? fs.rm(work, { recursive: true, force: true }) : undefined));

/** A tiny QMP exchange: greeting, qmp_capabilities, then one command; resolves with its return. */
function qmp(socketPath: string, command: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    let stage = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`QMP ${command}: no answer`));
    }, 10_000);
    sock.on('error', reject);
    sock.on('data', (b) => {
      buf += b.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        buf = buf.slice(nl + 1);
        if (msg.event) continue;
        if (msg.error) {
          clearTimeout(timer);
          sock.destroy();
          reject(new Error(msg.error.desc));
          return;
        }
        if (stage === 0 && msg.QMP) {
          stage = 1;
          sock.write('{"execute":"qmp_capabilities"}\n');
        } else if (stage === 1 && msg.return !== undefined) {
          stage = 2;
          sock.write(`${JSON.stringify({ execute: command })}\n`);
        } else if (stage === 2 && msg.return !== undefined) {
          clearTimeout(timer);
          sock.end();
          resolve(msg.return);
        }
      }
    });
  });
}

/** Polls `file` until `re` matches its text or `ms` pass. */
async function waitFor(file: string, re: RegExp, ms: number, proc: ChildProcess): Promise<RegExpExecArray | null> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = re.exec(await fs.readFile(file, 'utf8').catch(() => ''));
    if (m) return m;
    if (proc.exitCode !== null || proc.signalCode !== null) return null;
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

t.test('size, metadata and disk layout', { skip }, async (t) => {
  const img = await image();
  t.ok(img.size < 40 * MiB, `whole image ${(img.size / MiB).toFixed(1)} MiB < 40 MiB`);
  t.equal(path.basename(img.metadata), 'incus.tar.xz');
  t.equal(path.basename(img.disk), 'disk.qcow2');
  t.equal(img.fingerprint, sha(img.metadata, img.disk), 'fingerprint: sha256 of metadata then disk');
  const { stdout: meta } = await exec('tar', ['-xJOf', img.metadata, 'metadata.yaml']);
  const md = parse(meta) as { architecture: string; creation_date: number; properties: Record<string, string> };
  t.equal(md.architecture, 'x86_64');
  t.equal(md.creation_date, 1700000000);
  t.equal(md.properties.os, 'busybox');
  t.equal(md.properties['requirements.secureboot'], 'false', 'the unsigned UKI asks for secure boot off');
  const { stdout: info } = await exec('qemu-img', ['info', '--output=json', img.disk]);
  t.equal((JSON.parse(info) as { format: string }).format, 'qcow2');
  const raw = path.join(work, 'check.raw');
  await exec('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', img.disk, raw]);
  const { stdout: gpt } = await exec('sgdisk', ['-p', raw]);
  t.match(gpt, /\n\s*1\s+2048\s+\d+.*EF00/, 'one GPT partition of type EF00 at 1 MiB');
  const { stdout: dir } = await exec('mdir', ['-i', `${raw}@@1048576`, '-b', '::/EFI/BOOT'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  t.match(dir, /BOOTX64\.EFI/i, 'the UKI is the removable-media boot path');
  await fs.rm(raw);
});

t.test('boots under TCG + OVMF to the marker, then powers off on system_powerdown', { skip }, async (t: Test) => {
  const img = await image();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ib-vm-boot-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const vars = path.join(dir, 'vars.fd');
  const disk = path.join(dir, 'root.qcow2');
  const serial = path.join(dir, 'serial.log');
  const qmpSock = path.join(dir, 'qmp.sock');
  await fs.copyFile(OVMF_VARS, vars);
  await exec('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', img.disk, disk]);
  const t0 = Date.now();
  const q = spawn(QEMU, [
    '-accel', 'tcg', '-cpu', 'max', '-machine', 'q35', '-smp', '2', '-m', '512',
    '-nodefaults', '-nic', 'none', '-display', 'none', '-no-user-config',
    '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
    '-drive', `if=pflash,format=raw,file=${vars}`,
    '-device', 'virtio-scsi-pci,id=scsi0',
    '-drive', `file=${disk},format=qcow2,if=none,id=root`,
    '-device', 'scsi-hd,drive=root,bus=scsi0.0',
    '-serial', `file:${serial}`,
    '-qmp', `unix:${qmpSock},server=on,wait=off`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  q.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => q.once('exit', (code) => r(code)));
  t.teardown(() => {
    if (q.exitCode === null && q.signalCode === null && q.pid) process.kill(q.pid, 'SIGKILL');
  });

  const m = await waitFor(serial, new RegExp(`${READY_MARKER} cpus=(\\d+) mem_kb=(\\d+) kernel=(\\S+) nics=(\\S+) disks=(\\S+) uptime=(\\S+)`), 60_000, q);
  const bootMs = Date.now() - t0;
  if (!m) {
    t.fail(`no boot marker within 60 s; qemu: ${stderr.trim()}; console tail: ${(await fs.readFile(serial, 'utf8').catch(() => '')).slice(-2000)}`);
    return;
  }
  t.comment(`boot marker after ${bootMs} ms (guest uptime ${m[6]} s): ${m[0]}`);
  t.equal(m[1], '2', 'the guest sees the 2 vCPUs');
  const memKb = Number(m[2]);
  t.ok(memKb > 400 * 1024 && memKb <= 512 * 1024, `MemTotal ${memKb} kB fits -m 512`);
  t.equal(m[4], '-', 'no NIC with -nic none');
  t.equal(m[5], 'sda', 'the root disk on virtio-scsi is seen');

  t.same(await qmp(qmpSock, 'system_powerdown'), {});
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
  t.equal(code, 0, 'QEMU exits by itself after the ACPI power-down');
  t.match(await fs.readFile(serial, 'utf8'), /INCUS-TESTVM-POWEROFF/, 'the guest saw the power button');
});

t.test('the daemon stores it as a virtual-machine image', { skip }, async (t) => {
  const img = await image();
  const d = await withDaemon(t, { init: false });
  process.env.INCUS_CONF = path.join(d.dir, 'client-conf');

  // The builder's own --import (rebuilds from the cache, then uploads both files).
  const out = path.join(d.dir, 'built');
  const env = { ...process.env, ...d.cliEnv, INCUS_SOCKET: d.socket, SOURCE_DATE_EPOCH: '1700000000' };
  const r = await exec(process.execPath, [path.join(ROOT, 'bin', 'incus-image-builder'), 'busybox', '--vm', '--output', out, '--import', 'testvm'], { env });
  t.same(r.stdout.trim().split('\n'), [path.join(out, 'incus.tar.xz'), path.join(out, 'disk.qcow2')], 'prints both files');
  const alias = await d.client.getImageAlias('testvm');
  t.equal(alias.target, sha(path.join(out, 'incus.tar.xz'), path.join(out, 'disk.qcow2')));
  const api = await d.client.getImage(alias.target);
  t.equal(api.type, 'virtual-machine');
  t.equal(api.properties?.os, 'busybox');
  t.equal(alias.target, img.fingerprint, 'a rebuild with the same SOURCE_DATE_EPOCH gives the same bytes');
  await (await d.client.deleteImage(alias.target)).wait();

  // incus image import META DISK, list, info.
  const imp = await d.cli(['image', 'import', img.metadata, img.disk, '--alias', 'vm2']);
  t.equal(imp.code, 0, imp.stderr);
  t.match(imp.stdout, img.fingerprint);
  const list = await d.cli(['image', 'list', '-f', 'csv', '-c', 'ltf']);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, new RegExp(`^vm2,VIRTUAL-MACHINE,${img.fingerprint.slice(0, 12)}`, 'm'), 'TYPE column');
  const info = await d.cli(['image', 'info', 'vm2']);
  t.match(info.stdout, /^Type: virtual-machine$/m);
  const shown = parse((await d.cli(['image', 'show', 'vm2'])).stdout) as Image;
  t.equal(shown.type, 'virtual-machine');
  t.equal(shown.size, (await fs.stat(img.metadata)).size + (await fs.stat(img.disk)).size);

  // Export gives both files back, byte for byte, under Incus's names.
  const exp = path.join(d.dir, 'export');
  await fs.mkdir(exp);
  const e = await d.cli(['image', 'export', 'vm2', exp]);
  t.equal(e.code, 0, e.stderr);
  t.same((await fs.readdir(exp)).sort(), [`${img.fingerprint}.qcow2`, `meta-${img.fingerprint}.tar.xz`].sort());
  t.equal(sha(path.join(exp, `meta-${img.fingerprint}.tar.xz`)), sha(img.metadata), 'metadata round trip');
  t.equal(sha(path.join(exp, `${img.fingerprint}.qcow2`)), sha(img.disk), 'disk round trip');
  const raw = await d.client.rawHttp('GET', `/1.0/images/${img.fingerprint}/export`);
  t.match(raw.body.toString('latin1', 0, 400), /name="rootfs\.img"|name="metadata"/);
  t.match(raw.body.toString('latin1'), /Content-Disposition: form-data; name="rootfs\.img"; filename="[0-9a-f]{64}\.qcow2"/, 'rootfs part named as Incus names a VM disk');

  // A unified VM tarball (metadata.yaml + rootfs.img) is a VM image too.
  const uni = path.join(d.dir, 'unified');
  await fs.mkdir(uni);
  await exec('tar', ['-xJf', img.metadata, '-C', uni]);
  await fs.copyFile(img.disk, path.join(uni, 'rootfs.img'));
  const tarball = path.join(d.dir, 'unified.tar.gz');
  await exec('tar', ['-czf', tarball, '-C', uni, 'metadata.yaml', 'rootfs.img']);
  const u = await d.client.createImageFromFile(tarball, { aliases: ['vm3'] });
  t.equal((await d.client.getImage(u.fingerprint)).type, 'virtual-machine', 'unified tarball with rootfs.img');
  t.equal(u.fingerprint, sha(tarball));
});
