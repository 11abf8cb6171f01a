/**
 * The QEMU driver's core against real QEMU under TCG with OVMF and no disk:
 * start, QMP state, console ring buffer, adoption by a second process, pause,
 * figures, stop (ACPI then quit), force kill, start failures in QEMU's words.
 * Every QEMU started here is killed by PID in teardown, whatever happens.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { hostAccelerator } from '../../lib/server/instance/drivers/qemu/accelerator';
import { prepareFirmware, type FirmwareUsage } from '../../lib/server/instance/drivers/qemu/firmware';
import { qemuPaths, type QemuPaths } from '../../lib/server/instance/drivers/qemu/paths';
import { findQemu, findQemuPid, pinVcpus, startQemu, type QemuProcess } from '../../lib/server/instance/drivers/qemu/process';
import { buildQemuConfig, type QemuLaunch } from '../../lib/server/instance/drivers/qemu/qemu-config';
import type { QmpEvent } from '../../lib/server/instance/drivers/qemu/qmp';

const haveQemu = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd');
const root = mkdtempSync(join(tmpdir(), 'qc-'));
const started = new Map<number, string>();

/** Kills, by PID, every QEMU this file started that still runs (checked against its pidfile in argv). */
t.teardown(() => {
  for (const [pid, pidfile] of started) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv.includes(pidfile)) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});

interface Vm {
  paths: QemuPaths;
  launch: QemuLaunch;
}

async function makeVm(name: string, opts: { usage?: FirmwareUsage; rawQemu?: string; binary?: string } = {}): Promise<Vm> {
  const dir = join(root, name);
  const paths = qemuPaths({ runDir: join(dir, 'run'), logDir: join(dir, 'logs'), configDir: join(dir, 'config') });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'config'), { recursive: true });
  const fw = await prepareFirmware(join(dir, 'config'), opts.usage ?? 'generic');
  const launch = buildQemuConfig({
    name,
    uuid: randomUUID(),
    cpus: 2,
    memoryBytes: 256 * 1024 * 1024,
    accel: hostAccelerator(),
    firmware: { code: fw.code, nvram: fw.nvram },
    paths,
    drives: [],
    nics: [],
    shares: [],
    rawQemu: opts.rawQemu,
  });
  if (opts.binary) launch.binary = opts.binary;
  return { paths, launch };
}

async function start(vm: Vm): Promise<QemuProcess> {
  const p = await startQemu({ launch: vm.launch, paths: vm.paths, timeoutMs: 60000 });
  started.set(p.pid, vm.paths.pidfile);
  return p;
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** QEMU processes whose argv names this pidfile (what a failed start must not leave). */
function qemusFor(pidfile: string): number[] {
  const { readdirSync } = require('node:fs') as typeof import('node:fs');
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(pidfile) && alive(Number(d));
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function waitFor(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Finds the VM from another Node process by its pidfile and QMP socket, as a restarted incusd would. */
function adoptFromAnotherProcess(paths: QemuPaths): Promise<{ pid: number; status: string }> {
  const mod = join(__dirname, '..', '..', 'lib', 'server', 'instance', 'drivers', 'qemu', 'process.js');
  const script = `
    const { findQemu } = require(${JSON.stringify(mod)});
    findQemu(JSON.parse(process.argv[1])).then(async (p) => {
      const s = await p.status();
      console.log(JSON.stringify({ pid: p.pid, status: s.status }));
      p.detach();
      process.exit(0);
    }, (e) => { console.error(e.message); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script, JSON.stringify(paths)], { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`adopting process failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim()) as { pid: number; status: string });
    });
  });
}

t.test('QEMU under the host accelerator with secure-boot OVMF', { skip: !haveQemu && 'qemu or ovmf missing' }, async (t: Test) => {
  const vm = await makeVm('sb', { usage: 'secureboot' });
  const p = await start(vm);
  t.ok(alive(p.pid), 'QEMU pid alive');
  t.equal(await findQemuPid(vm.paths), p.pid, 'pidfile names the live QEMU');
  t.same(await p.status(), { status: 'running', running: true, singlestep: false }, 'query-status running');
  t.ok(statSync(vm.paths.log).isFile(), 'qemu.log exists');
  t.match(readFileSync(vm.paths.conf, 'utf8'), /OVMF_CODE_4M\.ms\.fd/);
  t.match(vm.launch.args.join(' '), hostAccelerator().accel === 'tcg' ? /-accel tcg -cpu max/ : /-accel kvm -cpu host/);

  // The serial console goes to the ring buffer; OVMF refuses the unsigned built-in shell under secure boot.
  await waitFor('OVMF on the console', async () => /Security Violation/.test(await p.consoleLog()), 150000);
  t.match(readFileSync(vm.paths.consoleLog, 'utf8'), /BdsDxe/, 'console log saved to console.log');

  // The console moves onto a socket for `incus console` (keys reach the guest, output comes back) and back.
  const sock = await p.attachConsole();
  const seen = await new Promise<string>((resolve, reject) => {
    let got = '';
    const s = createConnection(sock, () => s.write('\r'));
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 20000);
    s.on('data', (d) => {
      got += d.toString('latin1');
      // Any key at "Press any key" opens OVMF's boot manager, which redraws the screen.
      if (got.length > 100) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
  });
  t.ok(seen.length > 0, 'the console socket carries guest output');
  await p.detachConsole();
  t.notOk(existsSync(vm.paths.console), 'console socket removed after detach');
  t.equal((await p.qmp.execute<Array<{ label: string; filename: string }>>('query-chardev')).find((c) => c.label === 'console')?.filename, 'ringbuf');

  await p.stop(0);
  t.notOk(alive(p.pid));
});

t.test('adoption, pause, figures, stop with timeout, force kill', { skip: !haveQemu && 'qemu or ovmf missing' }, async (t: Test) => {
  const vm = await makeVm('life');
  let p = await start(vm);
  const pid = p.pid;

  // A restarted daemon: this client goes away, another process finds QEMU by pidfile + QMP.
  p.detach();
  await p.qmp.closed;
  t.same(await adoptFromAnotherProcess(vm.paths), { pid, status: 'running' }, 'second process adopts the running VM');
  const again = await findQemu(vm.paths);
  if (!again) throw new Error('findQemu lost the VM');
  p = again;
  t.equal(p.pid, pid);

  const events: string[] = [];
  p.qmp.on('event', (e: QmpEvent) => events.push(e.event));
  await p.pause();
  t.equal((await p.status()).status, 'paused');
  await p.resume();
  t.equal((await p.status()).status, 'running');
  t.same(events.filter((e) => e === 'STOP' || e === 'RESUME'), ['STOP', 'RESUME'], 'STOP and RESUME events');

  const f = await p.figures();
  t.equal(f.vcpus.length, 2, 'two vCPUs');
  t.ok(f.vcpus.every((c) => c.threadId > 0));
  t.equal(f.memoryBytes, 256 * 1024 * 1024);
  t.ok(f.memoryUsageBytes > 0 && f.cpuTimeNs > 0);

  // limits.cpu as a list: each vCPU thread pinned to its host CPU.
  await pinVcpus(f.vcpus, [0]);
  for (const c of f.vcpus) t.match(readFileSync(`/proc/${pid}/task/${c.threadId}/status`, 'utf8'), /^Cpus_allowed_list:\s+0$/m);

  // Firmware without an OS ignores the ACPI power button: quit after the timeout.
  const t0 = Date.now();
  const outcome = await p.stop(2000);
  t.equal(outcome, 'quit', 'power-down timed out, quit ended QEMU');
  t.ok(Date.now() - t0 >= 2000, 'waited for the timeout first');
  t.notOk(alive(pid), 'process gone');
  t.notOk(existsSync(vm.paths.pidfile), 'pidfile removed');
  t.notOk(existsSync(vm.paths.monitor), 'monitor socket removed');
  t.equal(await findQemu(vm.paths), null, 'nothing to find after stop');

  // Start again in the same directories; then force.
  const q = await start(vm);
  t.not(q.pid, pid);
  await q.kill();
  t.notOk(alive(q.pid), 'SIGKILL ended QEMU');
  t.notOk(existsSync(vm.paths.pidfile));
});

t.test('start failures report QEMU words and leave nothing running', { skip: !haveQemu && 'qemu or ovmf missing' }, async (t: Test) => {
  const bad = await makeVm('bad', { rawQemu: '-device no-such-device' });
  const err = await startQemu({ launch: bad.launch, paths: bad.paths, timeoutMs: 30000 }).catch((e: Error) => e);
  t.ok(err instanceof Error);
  t.match((err as Error).message, /'no-such-device' is not a valid device model name/);
  t.match((err as Error).message, /^Failed to run: qemu-system-x86_64 /);
  t.same(qemusFor(bad.paths.pidfile), [], 'no QEMU left');
  t.notOk(existsSync(bad.paths.pidfile));

  const opt = await makeVm('opt', { rawQemu: '-no-such-option' });
  await t.rejects(startQemu({ launch: opt.launch, paths: opt.paths }), /-no-such-option: invalid option/);
  t.same(qemusFor(opt.paths.pidfile), []);

  const nobin = await makeVm('nobin', { binary: 'qemu-system-nonexistent' });
  await t.rejects(startQemu({ launch: nobin.launch, paths: nobin.paths }), /QEMU binary "qemu-system-nonexistent" not found/);

  await t.rejects(
    prepareFirmware(join(root, 'bad', 'config'), 'generic', { installations: [{ path: join(root, 'no-firmware-here'), usage: {} }] }),
    /Unable to locate a UEFI firmware in .*no-firmware-here; install OVMF/,
  );

  // QEMU stuck in initialisation (a chardev waiting for its client): the start gives up, nothing is left.
  const stuck = await makeVm('stuck', { rawQemu: `-chardev socket,id=hold,path=${join(root, 'hold.sock')},server=on,wait=on` });
  const t0 = Date.now();
  await t.rejects(startQemu({ launch: stuck.launch, paths: stuck.paths, timeoutMs: 3000 }), /QEMU did not start within 3s/);
  t.ok(Date.now() - t0 < 15000, 'no hang past the start timeout');
  t.same(qemusFor(stuck.paths.pidfile), [], 'the half-started QEMU was killed');

  // A second start while one runs is refused.
  const one = await makeVm('one');
  const p = await start(one);
  await t.rejects(startQemu({ launch: one.launch, paths: one.paths }), /QEMU is already running for this instance/);
  await p.kill();
});
