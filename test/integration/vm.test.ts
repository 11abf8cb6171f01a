/**
 * Virtual machines through QEMU (under TCG on these hosts), one booted
 * guest shared by the checks: the test VM image built and imported by
 * `incus-image-builder busybox --vm --import`, launch with limits, what
 * the guest sees (its boot marker on the serial console), list/info, a
 * DHCP lease on the managed bridge (incusd runs in a network namespace the
 * test makes), kill -9 of incusd and adoption, the stop paths, snapshots,
 * copy and delete leaving nothing behind; and the 400s for bad input.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { ROOT, withDaemon, type TestDaemon } from './lib/daemon';
import { buildTestVm, guestRun, ok, qemuPids, waitConsole, waitGone } from './lib/vm';
import { attachConsole, openOperationWebsocket } from '../../lib/client/console';
import { AGENT_MAGIC, encodeFrame } from '../../lib/server/instance/drivers/qemu/agent-protocol';
import { SftpSession } from '../../lib/client/sftp';
import { InstanceFiles } from '../../lib/client/files';
import { promisify } from 'node:util';
import { type ExecControl, execInstance } from '../../lib/client';

/** A SPICE link message for the main channel (what a SPICE client sends first on each connection). */
function spiceLinkMess(): Buffer {
  const b = Buffer.alloc(16 + 18);
  b.write('REDQ', 0, 'latin1');
  b.writeUInt32LE(2, 4); // major
  b.writeUInt32LE(2, 8); // minor
  b.writeUInt32LE(18, 12); // size of what follows
  b.writeUInt32LE(0, 16); // connection id
  b.writeUInt8(1, 20); // channel type: main
  b.writeUInt8(0, 21); // channel id
  b.writeUInt32LE(0, 22); // common caps
  b.writeUInt32LE(0, 26); // channel caps
  b.writeUInt32LE(18, 30); // caps offset
  return b;
}

function taps(d: TestDaemon): string[] {
  const out = d.netns!.run(['ip', '-o', 'link', 'show', 'type', 'tun']).out;
  return out.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]!);
}

function rootImages(d: TestDaemon): string[] {
  const r = spawnSync('find', [join(d.dir, 'storage-pools'), '-name', 'root.img', '-path', '*virtual-machines*'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

/** Waits until `incus exec NAME -- true` succeeds (the guest agent answers). */
async function waitAgent(d: TestDaemon, name: string, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await d.cli(['exec', name, '--', 'true'])).code === 0) return true;
    await new Promise((res) => setTimeout(res, 1000));
  }
  return false;
}

/** The guest side of the forged-message check: kills the agent, then writes forged.bin to the agent's port. */
const FORGER = `#!/bin/sh
sleep 1
kill -9 $(pidof incus-agent)
sleep 1
for n in /sys/class/virtio-ports/*/name; do
  [ "$(cat "$n")" = org.linuxcontainers.incus ] && port=/dev/$(basename "$(dirname "$n")")
done
cat /root/forged.bin > "$port"
echo FORGER-DONE
`;

/**
 * What a rogue guest process sends the daemon: answers to requests never
 * made, requests in the wrong direction (run this on the host, open a
 * host file), file replies naming channels, a reset, and a frame longer
 * than any allowed.
 */
function forgedFrames(hostMarker: string): Buffer {
  const control = (o: unknown): Buffer => encodeFrame(0, JSON.stringify(o));
  const fileReply = Buffer.alloc(72);
  fileReply.writeUInt32LE(0x80000005, 12); // an "opened file" channel
  return Buffer.concat([
    AGENT_MAGIC,
    control({ id: 0, ok: true, version: 'forged' }),
    control({ id: 1, ok: true, pid: 1, stdin: 1, stdout: 2, stderr: 3 }),
    control({ event: 'exit', id: 1, code: 0 }),
    control({ id: 9, op: 'exec', argv: ['touch', hostMarker] }),
    control({ id: 10, op: 'files' }),
    encodeFrame(0x80000001, Buffer.concat([fileReply, Buffer.from(hostMarker)])),
    encodeFrame(0x80000005, Buffer.from('content for a file nobody opened')),
    control({ event: 'file-closed', channel: 0x80000005, errno: 0 }),
    control({ event: 'reset', error: 'forged' }),
    Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
  ]);
}

t.test('a VM from the test image: boot, limits, lease, restart of incusd, stop paths, snapshots, copy, delete', async (t) => {
  const d = await withDaemon(t, { netns: true });
  t.teardown(async () => {
    for (const pid of qemuPids(d)) process.kill(pid, 'SIGKILL');
  });

  const b = buildTestVm(d);
  t.equal(b.status, 0, `image builder: ${b.stderr.slice(-500)}`);
  const images = JSON.parse(await ok(t, d, ['image', 'list', '--format', 'json'])) as { type: string; aliases: { name: string }[] }[];
  t.equal(images.find((i) => i.aliases.some((a) => a.name === 'testvm'))?.type, 'virtual-machine', 'imported as a VM image');

  const started = Date.now();
  await ok(t, d, ['launch', 'testvm', 'v1', '--vm', '-c', 'limits.cpu=2', '-c', 'limits.memory=512MiB', '-c', 'security.secureboot=false']);
  // Before the guest agent is up: Incus's 400, at once.
  const early = Date.now();
  const noAgent = await d.cli(['exec', 'v1', '--', 'true']);
  t.not(noAgent.code, 0, 'exec before the agent is up fails');
  t.match(noAgent.stderr, /VM agent isn't currently running/);
  t.ok(Date.now() - early < 3000, `within a second or so of the daemon's wait (${Date.now() - early} ms with the CLI's start-up)`);
  const marker = await waitConsole(d, 'v1', /INCUS-TESTVM-READY cpus=(\d+) mem_kb=(\d+)[^\n]*/);
  t.ok(marker, `boot marker on the serial console (${((Date.now() - started) / 1000).toFixed(1)} s after launch)`);
  t.equal(marker?.[1], '2', 'limits.cpu=2: the guest sees 2 CPUs');
  const memKb = Number(marker?.[2] ?? 0);
  t.ok(memKb > 400 * 1024 && memKb <= 512 * 1024, `limits.memory=512MiB: the guest sees ${memKb} kB`);

  // The agent from the config share: exec through it.
  t.ok(await waitConsole(d, 'v1', /incus-agent [\d.]+: serving/), 'the guest started the agent from the config share');
  t.equal((await ok(t, d, ['exec', 'v1', '--', 'uname', '-r'])).trim(), marker?.[0].match(/kernel=(\S+)/)?.[1], 'exec uname -r prints the guest kernel');
  for (const code of [0, 1, 7]) t.equal((await d.cli(['exec', 'v1', '--', 'sh', '-c', `exit ${code}`])).code, code, `exit code ${code} comes back`);
  t.equal((await d.cli(['exec', 'v1', '--', 'cat'], 'through stdin\n')).stdout, 'through stdin\n', 'stdin reaches the command');
  // Interactive exec over the websockets: a pty in the guest sized as asked, resized by a control message (the WINCH trap prints the new size).
  let screen = '';
  let ctl: ExecControl | undefined;
  let resized = false;
  const guard = setTimeout(() => ctl?.signal(9), 120_000);
  // Output can arrive before the control websocket is up (a loaded host): resize once both are there.
  const resizeWhenReady = (): void => {
    if (resized || !ctl || !screen.includes('ready')) return;
    resized = true;
    ctl.resize(132, 43);
  };
  const term = await execInstance(
    d.client,
    'v1',
    { command: ['sh', '-c', 'tty; stty size; trap "stty size; exit 4" WINCH; echo ready; while :; do sleep 1; done'], interactive: true, width: 100, height: 30 },
    {
      stdout: new Writable({
        write(b: Buffer, _e, cb) {
          screen += b.toString();
          resizeWhenReady();
          cb();
        },
      }),
      onControl: (c) => {
        ctl = c;
        resizeWhenReady();
      },
    },
  );
  clearTimeout(guard);
  t.equal(term.code, 4, 'interactive exec: the WINCH trap ended the command with its code');
  t.match(screen, /^\/dev\/pts\/\d+\r\n30 100\r\nready\r\n43 132\r\n$/, `tty answers /dev/pts/N; stty size sees 30x100, then the resize: ${JSON.stringify(screen)}`);

  const list = await ok(t, d, ['list', '-c', 'nst', '-f', 'csv']);
  t.match(list, /^v1,RUNNING,VIRTUAL-MACHINE$/m, 'list shows a running VIRTUAL-MACHINE');
  const info = await ok(t, d, ['info', 'v1']);
  t.match(info, /Type: virtual-machine/);
  t.match(info, /PID: \d+/);
  t.match(info, /Accelerator: (kvm|tcg)/, 'info shows the accelerator');

  // The guest runs udhcpc on eth0 (the default profile's NIC on incusbr0).
  const leaseDeadline = Date.now() + 60_000;
  let leases = '';
  while (Date.now() < leaseDeadline) {
    leases = (await d.cli(['network', 'list-leases', 'incusbr0', '-f', 'csv'])).stdout;
    if (/^v1,/m.test(leases)) break;
    await new Promise((res) => setTimeout(res, 1000));
  }
  t.match(leases, /^v1,[0-9a-f:]+,\d+\.\d+\.\d+\.\d+,DYNAMIC/m, 'the VM got a DHCP lease on the managed bridge');
  t.equal(taps(d).length, 1, 'one tap in the namespace');
  // The guest agent reports the leased address, which incus list shows.
  const leased = /^v1,[0-9a-f:]+,(\d+\.\d+\.\d+\.\d+),/m.exec(leases)?.[1] ?? 'none';
  let listed = '';
  const ipDeadline = Date.now() + 20_000;
  while (!listed.includes(leased) && Date.now() < ipDeadline) {
    listed = (await d.cli(['list', 'v1', '-c', 'n4', '-f', 'csv'])).stdout;
    if (!listed.includes(leased)) await new Promise((res) => setTimeout(res, 1000));
  }
  t.match(listed, new RegExp(`^v1,"?${leased.replace(/\./g, '\\.')} \\(eth0\\)`, 'm'), `incus list shows the VM's IPv4 from its agent: ${listed.trim()}`);

  // What the guest says of itself through the agent: processes, memory as the guest sees it, its root filesystem.
  const guestState = await d.client.getInstanceState('v1');
  t.ok(guestState.processes > 1, `processes from the agent (${guestState.processes})`);
  t.ok(guestState.memory.total > 400 * 1024 * 1024 && guestState.memory.usage > 0, `memory from the guest (${guestState.memory.usage} of ${guestState.memory.total})`);
  t.ok((guestState.disk?.root?.usage ?? 0) > 0, `root filesystem use (${JSON.stringify(guestState.disk?.root)})`);
  t.match(await ok(t, d, ['info', 'v1']), /Processes: [1-9]\d*/, 'incus info shows them');

  // Files through the agent: 16 MiB pushed and pulled back byte for byte, create, delete, errors.
  const big = randomBytes(16 * 1024 * 1024);
  const local = join(d.dir, 'big.bin');
  writeFileSync(local, big);
  const pushStarted = Date.now();
  await ok(t, d, ['file', 'push', local, 'v1/root/big.bin', '--mode', '0640']);
  const pushMs = Date.now() - pushStarted;
  t.equal((await ok(t, d, ['exec', 'v1', '--', 'stat', '-c', '%s %a', '/root/big.bin'])).trim(), `${big.length} 640`, 'pushed: size and mode in the guest');
  const pulled = join(d.dir, 'big.back');
  const pullStarted = Date.now();
  await ok(t, d, ['file', 'pull', 'v1/root/big.bin', pulled]);
  t.ok(readFileSync(pulled).equals(big), `16 MiB push/pull byte-identical (push ${pushMs} ms, pull ${Date.now() - pullStarted} ms)`);
  await ok(t, d, ['file', 'create', 'v1/root/sub/dir/', '--create-dirs', '--type', 'directory']);
  t.equal((await ok(t, d, ['exec', 'v1', '--', 'ls', '-d', '/root/sub/dir'])).trim(), '/root/sub/dir', 'file create of a directory with its parents');
  await ok(t, d, ['file', 'delete', 'v1/root/big.bin']);
  t.not((await d.cli(['exec', 'v1', '--', 'test', '-e', '/root/big.bin'])).code, 0, 'file delete removed it');
  const missing = await d.cli(['file', 'pull', 'v1/root/nope', pulled]);
  t.not(missing.code, 0, 'pulling a missing file fails');
  t.match(missing.stderr, /file does not exist/, 'saying the file does not exist');
  // SFTP (what `incus file mount` speaks): files opened as agent handles, read and written at offsets.
  const sftp = await SftpSession.open(new InstanceFiles(d.client), 'v1');
  const sftpSrc = join(d.dir, 'sftp-src');
  writeFileSync(sftpSrc, big.subarray(0, 3 * 1024 * 1024 + 17));
  await promisify(sftp.raw.fastPut.bind(sftp.raw))(sftpSrc, '/root/sftp-file', {});
  const sftpBack = join(d.dir, 'sftp-back');
  await promisify(sftp.raw.fastGet.bind(sftp.raw))('/root/sftp-file', sftpBack, {});
  t.ok(readFileSync(sftpBack).equals(readFileSync(sftpSrc)), 'SFTP put then get into the VM: byte-identical');
  t.ok((await sftp.readdir('/root')).some((n) => n.filename === 'sftp-file'), 'SFTP lists the guest directory');
  sftp.close();

  // incus console: the serial port over the websocket, a shell on ttyS0 answering.
  const out = await guestRun(d, 'v1', 'echo $((6*7))-vmcon', /42-vmcon/);
  t.match(out, /42-vmcon/, 'the guest shell answered through the console websocket');
  const logAfter = await d.cli(['console', 'v1', '--show-log']);
  t.equal(logAfter.code, 0, 'console log readable again after detaching');
  t.match(logAfter.stdout, /INCUS-TESTVM-READY/, 'with the boot output saved before the session');

  // The VGA console: each websocket on the 0 secret is its own connection to QEMU's SPICE server.
  const vga = await attachConsole(d.client, 'v1', { type: 'vga' });
  const secret = (vga.operation.data.metadata?.fds as Record<string, string>)['0']!;
  const replies = await Promise.all(
    [vga.data, await openOperationWebsocket(d.client, vga.operation.id, secret)].map(
      (ws) =>
        new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve(''), 10_000);
          ws.once('message', (m: Buffer) => {
            clearTimeout(timer);
            resolve(m.subarray(0, 4).toString('latin1'));
          });
          ws.send(spiceLinkMess(), { binary: true });
        }),
    ),
  );
  t.same(replies, ['REDQ', 'REDQ'], 'two SPICE channels, each answered by the SPICE server');
  vga.control.close();
  await vga.operation.wait().catch(() => undefined);

  // incus console --type vga without a SPICE viewer installed: a local socket to point one at.
  const cli = spawn(process.execPath, [join(ROOT, 'bin', 'incus'), 'console', 'v1', '--type', 'vga'], {
    env: { ...process.env, ...d.cliEnv, INCUS_CONF: join(d.dir, 'client-conf'), PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let cliOut = '';
  cli.stdout.on('data', (b: Buffer) => (cliOut += b.toString()));
  const cliExited = new Promise((res) => cli.once('exit', () => res('exited')));
  const uriDeadline = Date.now() + 20_000;
  while (!/spice\+unix:\/\/\S+/.test(cliOut) && Date.now() < uriDeadline) await new Promise((res) => setTimeout(res, 100));
  const sock = /spice\+unix:\/\/(\S+)/.exec(cliOut)?.[1];
  t.ok(sock, `the CLI printed the SPICE socket: ${cliOut.trim().split('\n').pop()}`);
  const viaCli = await new Promise<string>((resolve) => {
    const c = connect(sock ?? '/nonexistent');
    const timer = setTimeout(() => resolve(''), 10_000);
    c.on('error', () => resolve(''));
    c.once('data', (b: Buffer) => {
      clearTimeout(timer);
      resolve(b.subarray(0, 4).toString('latin1'));
      c.destroy();
    });
    c.on('connect', () => c.write(spiceLinkMess()));
  });
  t.equal(viaCli, 'REDQ', 'a SPICE client on that socket reaches the VM');
  const cliEnd = await Promise.race([
    cliExited,
    new Promise((res) => setTimeout(() => res('still running'), 15_000)),
  ]);
  if (cliEnd !== 'exited') cli.kill('SIGKILL');
  t.equal(cliEnd, 'exited', 'the CLI ends once its last SPICE connection closes');

  // Hot-plug over QMP: a bridged NIC (a new tap) and a custom block volume (a new SCSI disk), seen by the guest's mdev, then removed.
  const guestLs = async (dir: string): Promise<string[]> => (await d.cli(['exec', 'v1', '--', 'ls', dir])).stdout.split(/\s+/).filter(Boolean);
  const waitGuest = async (dir: string, want: (names: string[]) => boolean): Promise<string[]> => {
    const deadline = Date.now() + 60_000;
    let names = await guestLs(dir);
    while (!want(names) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 1000));
      names = await guestLs(dir);
    }
    return names;
  };
  const qemuHolds = (file: string): boolean => {
    const [qpid] = qemuPids(d);
    const r = spawnSync('find', [`/proc/${qpid}/fd`, '-lname', file], { encoding: 'utf8' });
    return r.stdout.trim() !== '';
  };
  const netsBefore = await guestLs('/sys/class/net');
  const blocksBefore = await guestLs('/sys/block');
  t.notOk(netsBefore.includes('eth1'), `no eth1 in the guest before: ${netsBefore.join(' ')}`);
  await ok(t, d, ['storage', 'volume', 'create', 'default', 'hpvol', '--type=block', 'size=16MiB']);
  const volFile = spawnSync('find', [join(d.dir, 'storage-pools'), '-name', 'root.img', '-path', '*custom*hpvol*'], { encoding: 'utf8' }).stdout.trim();
  t.ok(volFile, `the block volume's disk: ${volFile}`);
  // A second NIC on incusbr0 would give v1's DNS name twice there (refused, as Incus): a network of its own.
  await ok(t, d, ['network', 'create', 'incusbr9', 'ipv4.address=10.229.0.1/24', 'ipv6.address=none']);
  await ok(t, d, ['config', 'device', 'add', 'v1', 'eth1', 'nic', 'network=incusbr9']);
  t.equal(taps(d).length, 2, 'hot-plugged NIC: a second tap on the host');
  t.ok((await waitGuest('/sys/class/net', (n) => n.includes('eth1'))).includes('eth1'), 'the guest sees eth1');
  await ok(t, d, ['config', 'device', 'add', 'v1', 'hpvol', 'disk', 'pool=default', 'source=hpvol']);
  t.ok(qemuHolds(volFile), 'QEMU has the volume open');
  const blocksPlugged = await waitGuest('/sys/block', (n) => n.length > blocksBefore.length);
  t.equal(blocksPlugged.length, blocksBefore.length + 1, `the guest sees a new disk: ${blocksPlugged.join(' ')}`);
  const devs = await ok(t, d, ['config', 'device', 'list', 'v1']);
  t.match(devs, /eth1/, 'the NIC is recorded');
  t.match(devs, /hpvol/, 'the volume is recorded');
  const pathOnBlock = await d.cli(['config', 'device', 'add', 'v1', 'hpvol2', 'disk', 'pool=default', 'source=hpvol', 'path=/mnt']);
  t.match(pathOnBlock.stderr, /Custom block volumes cannot have a path defined/, 'a block volume with a path: 400');

  await ok(t, d, ['config', 'device', 'remove', 'v1', 'eth1']);
  t.notOk((await waitGuest('/sys/class/net', (n) => !n.includes('eth1'))).includes('eth1'), 'eth1 is gone from the guest');
  t.equal(taps(d).length, 1, 'and its tap from the host');
  await ok(t, d, ['network', 'delete', 'incusbr9']);
  await ok(t, d, ['config', 'device', 'remove', 'v1', 'hpvol']);
  t.same(await waitGuest('/sys/block', (n) => n.length === blocksBefore.length), blocksBefore, 'the disk is gone from the guest');
  t.notOk(qemuHolds(volFile), 'QEMU let go of the volume');
  t.notMatch(await ok(t, d, ['config', 'device', 'list', 'v1']), /eth1|hpvol/, 'neither is recorded any more');
  // A failure midway (the second volume's disk vanished on the host): the first is taken out again, a 400 names the device, nothing recorded.
  await ok(t, d, ['storage', 'volume', 'create', 'default', 'hpbad', '--type=block', 'size=8MiB']);
  rmSync(volFile.replace(/hpvol/, 'hpbad'));
  const both = await d.cli(['query', '-X', 'PATCH', '/1.0/instances/v1', '-d', JSON.stringify({ devices: { hpa: { type: 'disk', pool: 'default', source: 'hpvol' }, hpb: { type: 'disk', pool: 'default', source: 'hpbad' } } })]);
  t.not(both.code, 0, 'plugging two volumes, the second failing, fails');
  t.match(both.stderr, /Failed to add device "hpb": Missing disk/, 'naming the device that failed');
  t.notOk(qemuHolds(volFile), 'the first volume was taken out again');
  t.same(await waitGuest('/sys/block', (n) => n.length === blocksBefore.length), blocksBefore, 'the guest has no new disk');
  t.notMatch(await ok(t, d, ['config', 'device', 'list', 'v1']), /hpa|hpb/, 'neither is recorded');
  await ok(t, d, ['storage', 'volume', 'delete', 'default', 'hpbad']);
  await ok(t, d, ['storage', 'volume', 'delete', 'default', 'hpvol']);

  // A host-path share still needs a restart: refused, and nothing recorded.
  const plug = await d.cli(['config', 'device', 'add', 'v1', 'share', 'disk', `source=${d.dir}`, 'path=/mnt/share']);
  t.not(plug.code, 0, 'adding a host-path disk to a running VM is refused');
  t.match(plug.stderr, /Device "share" cannot be added when instance is running/);
  t.notMatch(await ok(t, d, ['config', 'device', 'list', 'v1']), /share/, 'and not recorded');

  // kill -9 of incusd: QEMU runs on, and the new daemon finds it again.
  const [pid] = qemuPids(d);
  await d.signal('SIGKILL');
  await d.start();
  t.equal(qemuPids(d)[0], pid, 'QEMU survived the daemon');
  t.match(await ok(t, d, ['list', '-c', 'ns', '-f', 'csv']), /^v1,RUNNING$/m, 'still RUNNING after the restart');

  // Clean stop: ACPI power-down, which the guest answers.
  await ok(t, d, ['stop', 'v1']);
  t.same(await waitGone(d, 'qemu-system'), [], 'stop: no QEMU left');
  t.same(taps(d), [], 'stop: no tap left');
  t.match(await ok(t, d, ['list', '-c', 'ns', '-f', 'csv']), /^v1,STOPPED$/m);
  const stoppedPull = await d.cli(['file', 'pull', 'v1/etc/hostname', '-']);
  t.match(stoppedPull.stderr, /Instance is not running/, 'files of a stopped VM: Incus\'s "Instance is not running"');

  await ok(t, d, ['start', 'v1']);
  t.ok(await waitAgent(d, 'v1'), 'the agent is back after the start');

  // A guest that ignores the ACPI power button (its watcher killed): incus stop goes through the agent.
  await ok(t, d, ['exec', 'v1', '--', 'sh', '-c', 'kill $(pidof head)']);
  const agentStop = Date.now();
  const stopping = d.cli(['stop', 'v1', '--timeout', '90']);
  const asked = await waitConsole(d, 'v1', /incus-agent: shutdown requested by the host/, 30_000);
  t.equal((await stopping).code, 0, 'stop with the ACPI button ignored');
  const agentStopMs = Date.now() - agentStop;
  t.ok(asked, 'the agent was asked to shut the guest down');
  t.ok(agentStopMs < 60_000, `the guest powered off through its agent in ${agentStopMs} ms, well before the 90 s timeout's quit`);
  t.same(await waitGone(d, 'qemu-system'), [], 'agent stop: no QEMU left');
  t.same(taps(d), [], 'agent stop: no tap left');

  // A guest process in place of the agent writes forged frames to the port: the daemon acts on none.
  await ok(t, d, ['start', 'v1']);
  t.ok(await waitAgent(d, 'v1'), 'the agent is up again');
  const hostMarker = join(d.dir, `forged-${process.pid}`);
  writeFileSync(join(d.dir, 'forged.bin'), forgedFrames(hostMarker));
  writeFileSync(join(d.dir, 'forge.sh'), FORGER);
  await ok(t, d, ['file', 'push', join(d.dir, 'forged.bin'), 'v1/root/forged.bin']);
  await ok(t, d, ['file', 'push', join(d.dir, 'forge.sh'), 'v1/root/forge.sh', '--mode', '0755']);
  await d.cli(['exec', 'v1', '--', 'sh', '-c', 'setsid /root/forge.sh </dev/null >/dev/console 2>&1 &']);
  t.ok(await waitConsole(d, 'v1', /FORGER-DONE/, 60_000), 'the forger wrote its frames to the port');
  const afterForge = Date.now();
  const noAgentNow = await d.cli(['exec', 'v1', '--', 'true']);
  t.not(noAgentNow.code, 0, 'exec with the agent gone fails');
  t.ok(Date.now() - afterForge < 10_000, `and does not hang (${Date.now() - afterForge} ms)`);
  t.notOk(existsSync(hostMarker), 'nothing the forged frames asked for ran on the host');
  t.match(await ok(t, d, ['list', '-c', 'ns', '-f', 'csv']), /^v1,RUNNING$/m, 'the daemon serves on');
  t.ok((await d.cli(['info', 'v1'])).code === 0, 'info still answers');

  await ok(t, d, ['restart', 'v1', '--force']);
  t.equal(qemuPids(d).length, 1, 'restart: one QEMU');
  await ok(t, d, ['stop', 'v1', '--force']);
  t.same(await waitGone(d, 'qemu-system'), [], 'stop --force: no QEMU left');
  t.same(taps(d), [], 'stop --force: no tap left');

  await ok(t, d, ['snapshot', 'create', 'v1', 's0']);
  await ok(t, d, ['snapshot', 'restore', 'v1', 's0']);
  await ok(t, d, ['copy', 'v1', 'v2']);
  t.equal(rootImages(d).length, 4, 'disks of v1, v2 and their snapshots');
  await ok(t, d, ['snapshot', 'delete', 'v1', 's0']);
  await ok(t, d, ['delete', 'v2']);
  await ok(t, d, ['delete', 'v1']);
  t.same(rootImages(d), [], 'delete: no VM disk left');
  t.same(qemuPids(d), [], 'no QEMU left');
  t.notOk(existsSync(join(d.dir, 'logs', 'v1')), 'no log directory left');
});

t.test('bad input for VMs and containers', async (t) => {
  const d = await withDaemon(t);
  const img = buildTestVm(d);
  t.equal(img.status, 0, 'image built');

  const cases: [string[], RegExp][] = [
    [['create', 'testvm', 'v1', '--vm', '-c', 'raw.lxc=lxc.aa_profile=unconfined'], /raw\.lxc/],
    [['create', 'testvm', 'v1', '--vm', '-c', 'security.privileged=true'], /security\.privileged/],
    [['create', 'busybox', 'c1', '-c', 'raw.qemu=-m 1G'], /raw\.qemu/],
    [['create', 'busybox', 'c1', '-c', 'security.secureboot=false'], /security\.secureboot/],
  ];
  for (const [args, re] of cases) {
    const r = await d.cli(args);
    t.not(r.code, 0, `refused: incus ${args.join(' ')}`);
    t.match(r.stderr, re, 'names the key');
  }
  // Device types a VM cannot have.
  await ok(t, d, ['create', 'testvm', 'v1', '--vm', '-c', 'security.secureboot=false']);
  const dev = await d.client.patchInstance('v1', { devices: { null0: { type: 'unix-char', path: '/dev/null0', source: '/dev/null' } } }).catch((e: Error) => e);
  t.match(String(dev), /Unsupported device type "unix-char" for virtual machines/, 'unix-char on a VM: 400');
  // QEMU's own words when it refuses to start.
  await ok(t, d, ['create', 'testvm', 'v3', '--vm', '-c', 'security.secureboot=false', '-c', 'raw.qemu=-device no-such-device']);
  const bad = await d.cli(['start', 'v3']);
  t.not(bad.code, 0, 'start with a bad raw.qemu fails');
  t.match(bad.stderr, /no-such-device/, `with QEMU's message: ${bad.stderr.trim().slice(-200)}`);
  t.same(qemuPids(d), [], 'and leaves no QEMU');
  await ok(t, d, ['delete', 'v3']);
  // The image's type must match.
  const wrong = await d.cli(['create', 'busybox', 'v2', '--vm']);
  t.not(wrong.code, 0, 'a container image for a VM is refused');
  t.match(wrong.stderr, /type/i);
  await ok(t, d, ['delete', 'v1']);
});

t.test('missing QEMU or firmware: a clear error at launch, not a hang', async (t) => {
  const saved = { qemu: process.env.INCUS_QEMU_BINARY, edk2: process.env.INCUS_EDK2_PATH };
  t.teardown(() => {
    process.env.INCUS_QEMU_BINARY = saved.qemu;
    process.env.INCUS_EDK2_PATH = saved.edk2;
    if (saved.qemu === undefined) delete process.env.INCUS_QEMU_BINARY;
    if (saved.edk2 === undefined) delete process.env.INCUS_EDK2_PATH;
  });
  // The daemon inherits these from the test process.
  process.env.INCUS_QEMU_BINARY = '/nonexistent/qemu-system-x86_64';
  const noQemu = await withDaemon(t);
  const img = buildTestVm(noQemu);
  t.equal(img.status, 0, 'image built');
  const r = await noQemu.cli(['launch', 'testvm', 'v1', '--vm']);
  t.not(r.code, 0, 'launch refused');
  t.match(r.stderr, /QEMU.*not found/, `says QEMU is missing: ${r.stderr.trim()}`);
  delete process.env.INCUS_QEMU_BINARY;

  process.env.INCUS_EDK2_PATH = '/nonexistent/edk2';
  const noFw = await withDaemon(t);
  const img2 = buildTestVm(noFw);
  t.equal(img2.status, 0, 'image built');
  const started = Date.now();
  const f = await noFw.cli(['launch', 'testvm', 'v1', '--vm', '-c', 'security.secureboot=false']);
  t.not(f.code, 0, 'launch fails');
  t.match(f.stderr, /INCUS_EDK2_PATH|firmware/i, `says the firmware is missing: ${f.stderr.trim()}`);
  t.ok(Date.now() - started < 30_000, 'at once');
  t.same(qemuPids(noFw), [], 'no QEMU left');
  await noFw.cli(['delete', '-f', 'v1']);
});
