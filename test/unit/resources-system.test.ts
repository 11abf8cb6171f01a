/** System, load, the id databases, the 10 s cache and the `incus info --resources` text. */
import t from 'tap';
import Fastify from 'fastify';
import { checkAccess, requestUrl } from '../../lib/server/auth/access';
import type { Caller } from '../../lib/server/auth/caller';
import { registerResources } from '../../lib/server/http/routes/resources';
import { renderResources } from '../../lib/cli/format/resources';
import { parsePciIds, parseUsbIds } from '../../lib/server/resources/ids';
import { readLoad } from '../../lib/server/resources/load';
import { RESOURCES_TTL_MS, ResourcesReader } from '../../lib/server/resources/reader';
import { readSystem } from '../../lib/server/resources/system';
import { fixtureHost } from './fixtures/resources-host';

t.test('system: DMI strings, chassis type by number', async (t) => {
  const sys = await readSystem(fixtureHost(), 'physical');
  t.equal(sys.uuid, '4c4c4544-0042-3510-8056-b4c04f564433');
  t.equal(sys.product, 'Laptop (12th Gen Intel Core)');
  t.equal(sys.sku, 'FRANBMCP06');
  t.equal(sys.type, 'physical');
  t.same(sys.firmware, { vendor: 'INSYDE', date: '03/02/2023', version: '03.05' });
  t.same(sys.chassis, { vendor: 'Framework', type: 'Notebook', serial: 'FRAMSER', version: 'A6' });
  t.same(sys.motherboard, { vendor: 'Framework', product: 'FRANMACP06', serial: 'FRBSER', version: 'A6' });
  const bare = await readSystem({ ...fixtureHost(), sys: '/nonexistent' }, 'container');
  t.same([bare.type, bare.vendor, bare.firmware, bare.chassis, bare.motherboard], ['container', '', null, null, null], 'no DMI: nulls as Incus sends them');
});

t.test('load: averages and numeric /proc entries', async (t) => {
  t.same(await readLoad(fixtureHost()), { Average1Min: 0.69, Average5Min: 1.1, Average10Min: 1.29, Processes: 2 });
});

t.test('pci.ids and usb.ids', async (t) => {
  const pci = parsePciIds('1af4  Red Hat, Inc.\n\t1041  Virtio network\n\t\t1af4 1100  QEMU\nC 02  Network\n\t00  Ethernet\nffff  Not a vendor\n');
  t.equal(pci.vendors.get('1af4')?.products.get('1041'), 'Virtio network');
  t.equal(pci.vendors.size, 1, 'the class section ends the vendors');
  const usb = parseUsbIds('1d6b  Linux Foundation\n\t0002  2.0 root hub\nC 09  Hub\n\t00  Unused\nHID 00  None\n\t01  Not a product\n');
  t.equal(usb.vendors.get(0x1d6b)?.products.get(2), '2.0 root hub');
  t.equal(usb.classes.get(9)?.subclasses.get(0), 'Unused');
  t.equal(usb.vendors.get(0x1d6b)?.products.size, 1, 'other sections are skipped');
});

t.test('reader: one read for concurrent callers, reused for 10 s', async (t) => {
  let now = 1_000_000;
  let detects = 0;
  const reader = new ResourcesReader(fixtureHost(), async () => (detects++, 'physical'), () => now);
  const [a, b] = await Promise.all([reader.get(), reader.get()]);
  t.equal(a, b, 'concurrent callers share one read');
  t.equal(await reader.get(), a, 'cached');
  now += RESOURCES_TTL_MS;
  const c = await reader.get();
  t.not(c, a, 'read again after the TTL');
  t.same(c, a);
  t.equal(detects, 1, 'the system type is detected once');
  t.same(Object.keys(a), ['cpu', 'memory', 'gpu', 'network', 'storage', 'usb', 'pci', 'system', 'load', 'serial']);
});

t.test('incus info --resources text', async (t) => {
  const text = renderResources(await new ResourcesReader(fixtureHost(), async () => 'physical').get());
  t.match(text, /^System:\n {2}UUID: 4c4c4544-0042-3510-8056-b4c04f564433\n {2}Vendor: Framework\n/);
  t.match(text, '  Chassis:\n      Vendor: Framework\n      Type: Notebook\n      Version: A6\n      Serial: FRAMSER\n');
  t.match(text, '\nLoad:\n  Processes: 2\n  Average: 0.69 1.10 1.29\n');
  t.match(
    text,
    [
      '\nCPU:',
      '  Architecture: x86_64',
      '  Vendor: GenuineIntel',
      '  Name: 12th Gen Intel(R) Core(TM) i7-1260P',
      '  Caches:',
      '    - Level 1 (type: Data): 48KiB',
      '    - Level 1 (type: Instruction): 32KiB',
      '    - Level 2 (type: Unified): 1MiB',
      '  Cores:',
      '    - Core 0',
      '      Frequency: 1000Mhz',
      '      Threads:',
      '        - 0 (id: 0, online: true, NUMA node: 0)',
      '        - 1 (id: 2, online: true, NUMA node: 0)',
    ].join('\n'),
  );
  t.match(text, '  Frequency: 1500Mhz (min: 400Mhz, max: 4700Mhz)\n\nMemory:\n  Hugepages:\n    Free: 2.00MiB\n    Used: 6.00MiB\n    Total: 8.00MiB\n');
  t.match(text, '\nGPU:\n  NUMA node: 0\n  Vendor: Intel Corporation (8086)\n');
  t.match(text, '  DRM:\n    ID: 0\n    Card: card0 (226:0)\n    Render: renderD128 (226:128)\n');
  t.match(text, '\nNICs:\n  Card 0:\n    NUMA node: 0\n');
  t.match(text, '        Link speed: 1000Mbit/s (full duplex)\n');
  t.match(text, '    SR-IOV information:\n      Current number of VFs: 0\n      Maximum number of VFs: 8\n');
  t.match(text, '\nDisk:\n  NUMA node: 0\n  ID: vda\n  Device: 254:0\n  Model: QEMU HARDDISK\n  Type: virtio\n  Size: 20.00GiB\n');
  t.match(text, '  Partitions:\n    - Partition 1\n      ID: vda1\n');
  t.match(text, '\nUSB devices:\n  Device 0:\n    Vendor: SanDisk Corp.\n');
  t.match(text, '    Serial Number: 4C530001\n');
  t.match(text, '\nPCI devices:\n  Device 0:\n    Address: 0000:00:02.0\n');
  t.match(text, '\nSerial device:\n  Id: ttyUSB0\n  Device: 188:0\n');
});

t.test('route: GET /1.0/resources answers a sync envelope', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  registerResources(app, new ResourcesReader(fixtureHost(), async () => 'physical'));
  const res = await app.inject({ method: 'GET', url: '/1.0/resources' });
  t.equal(res.statusCode, 200);
  const body = res.json() as { type: string; status_code: number; metadata: { cpu: { total: number }; storage: { total: number } } };
  t.match(body, { type: 'sync', status_code: 200, metadata: { cpu: { total: 4 }, storage: { total: 2 } } });
});

t.test('access: untrusted callers refused, restricted certificates may read (can_view_resources)', async (t) => {
  const tls = (trusted: boolean, projects: string[] | null): Caller => ({ protocol: 'tls', fingerprint: 'ab', certificate: undefined, trusted, projects });
  const check = (c: Caller, method: string) => checkAccess(c, method, '/1.0/resources', requestUrl('/1.0/resources'), { operationProject: () => undefined })?.status ?? null;
  t.equal(check(tls(false, null), 'GET'), 403);
  t.equal(check(tls(true, ['p']), 'GET'), null);
  t.equal(check(tls(true, null), 'GET'), null);
});
