/** VM hot-plug over QMP (drivers/qemu/hotplug.ts) against a fake monitor: command order, waits for DEVICE_DELETED, undo. */
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineReader, QmpClient } from '../../lib/server/instance/drivers/qemu/qmp';
import { type PluggedDevice, VmPlugger, deviceDelAndWait } from '../../lib/server/instance/drivers/qemu/hotplug';
import { StatusError } from '../../lib/server/errors';

const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n';

type Msg = { execute: string; arguments?: Record<string, unknown>; id?: number };
/** What the fake QEMU answers to a command: a return value, an error, and events to send after it. */
type Answer = { ret?: unknown; error?: { class: string; desc: string }; events?: Record<string, unknown>[] } | null;

/** A fake monitor that records every command and answers through `answer`; a connected client to it. */
async function monitor(t: Test, answer: (m: Msg) => Answer): Promise<{ qmp: QmpClient; log: Msg[]; dir: string; send(o: unknown): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'hotplug-unit-'));
  const log: Msg[] = [];
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    sock.write(GREETING);
    const reader = new LineReader((raw) => {
      const m = raw as Msg;
      if (m.execute === 'qmp_capabilities') return void sock.write(`{"return": {}, "id": ${m.id}}\r\n`);
      log.push(m);
      const a = answer(m);
      if (a === null) return;
      sock.write(`${JSON.stringify(a.error ? { error: a.error, id: m.id } : { return: a.ret ?? {}, id: m.id })}\r\n`);
      for (const e of a.events ?? []) sock.write(`${JSON.stringify(e)}\r\n`);
    });
    sock.on('data', (d) => reader.push(d));
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(join(dir, 'm.sock'), r));
  const qmp = await QmpClient.connect(join(dir, 'm.sock'));
  t.teardown(() => {
    qmp.close();
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { qmp, log, dir, send: (o) => sockets[sockets.length - 1]!.write(`${JSON.stringify(o)}\r\n`) };
}

const deleted = (device: string) => ({ event: 'DEVICE_DELETED', data: { device, path: `/machine/peripheral/${device}` }, timestamp: { seconds: 1, microseconds: 0 } });

t.test('unplug waits for DEVICE_DELETED of that device; a device already gone is no error', async (t) => {
  const { qmp, log, send } = await monitor(t, (m) => {
    if (m.execute === 'device_del' && m.arguments?.id === 'gone') return { error: { class: 'DeviceNotFound', desc: "Device 'gone' not found" } };
    // Another device's event comes first.
    return { events: [deleted('other')] };
  });
  await deviceDelAndWait(qmp, 'gone');
  let done = false;
  const p = deviceDelAndWait(qmp, 'dev-incus_d').then(() => (done = true));
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(done, "not done on another device's event");
  send(deleted('dev-incus_d'));
  await p;
  t.ok(done, 'done on its own DEVICE_DELETED');
  t.same(log.map((m) => m.execute), ['device_del', 'device_del']);
});

t.test('a guest that never lets go: a timeout error, not a hang', async (t) => {
  const { qmp } = await monitor(t, () => ({}));
  const err = await deviceDelAndWait(qmp, 'dev-incus_x', 200).catch((e: Error) => e);
  t.match(String(err), /did not release the device/);
});

t.test('a block volume: blockdev-add then scsi-hd; unplug: device_del, wait, blockdev-del', async (t) => {
  const { qmp, log, dir } = await monitor(t, (m) => (m.execute === 'device_del' ? { events: [deleted(m.arguments!.id as string)] } : {}));
  const disk = join(dir, 'root.img');
  writeFileSync(disk, Buffer.alloc(4096));
  const plugged = new Map<string, PluggedDevice>();
  const p = new VmPlugger({ qmp, nics: [], plugged, runDir: dir });
  await p.plug('vol', { drives: [{ device: 'vol', source: disk }] });
  t.same(plugged.get('vol'), { kind: 'drive', id: 'vol' });
  t.same(log[0], {
    execute: 'blockdev-add',
    id: log[0]!.id,
    arguments: { driver: 'raw', 'node-name': 'incus_vol', 'read-only': false, discard: 'unmap', file: { driver: 'file', filename: disk, 'read-only': false } },
  });
  t.same(log[1]!.arguments, { driver: 'scsi-hd', id: 'dev-incus_vol', bus: 'qemu_scsi.0', channel: 0, lun: 1, drive: 'incus_vol', serial: 'incus_vol' });
  await p.unplug('vol');
  t.same(log.slice(2).map((m) => [m.execute, m.arguments]), [
    ['device_del', { id: 'dev-incus_vol' }],
    ['blockdev-del', { 'node-name': 'incus_vol' }],
  ]);
  t.equal(plugged.size, 0, 'forgotten once out');
  await p.unplug('vol');
  t.equal(log.length, 4, 'unplugging what is not plugged does nothing');
});

t.test('device_add failing: the block node goes again and the error comes back', async (t) => {
  const { qmp, log, dir } = await monitor(t, (m) => (m.execute === 'device_add' ? { error: { class: 'GenericError', desc: 'Bus qemu_scsi.0 is full' } } : {}));
  const disk = join(dir, 'root.img');
  writeFileSync(disk, Buffer.alloc(4096));
  const plugged = new Map<string, PluggedDevice>();
  const err = await new VmPlugger({ qmp, nics: [], plugged, runDir: dir }).plug('vol', { drives: [{ device: 'vol', source: disk }] }).catch((e: Error) => e);
  t.match(String(err), /Bus qemu_scsi.0 is full/);
  t.same(log.map((m) => m.execute), ['blockdev-add', 'device_add', 'blockdev-del']);
  t.equal(plugged.size, 0);
});

t.test('shares and passthrough are refused with a 400 naming the device; a share from the start cannot be removed', async (t) => {
  const { qmp, log, dir } = await monitor(t, () => ({}));
  const plugged = new Map<string, PluggedDevice>([['data', { kind: 'share' }]]);
  const p = new VmPlugger({ qmp, nics: [], plugged, runDir: dir });
  const add = await p.plug('share', { mounts: [{ source: dir, target: '/mnt', kind: 'dir', device: 'share' }] }).catch((e: Error) => e);
  t.ok(add instanceof StatusError && add.status === 400);
  t.equal((add as Error).message, 'Device "share" cannot be added when instance is running');
  const rm = await p.unplug('data').catch((e: Error) => e);
  t.equal((rm as StatusError).status, 400);
  t.equal((rm as Error).message, 'Device "data" cannot be removed when instance is running');
  t.same(log, [], 'QEMU was not asked anything');
});
