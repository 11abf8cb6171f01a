/**
 * Interactive `admin init`'s answer checks (Incus's validate wording) and
 * the `--auto` storage flags' checks and resulting pool, without a daemon;
 * plus the Asker's loop over piped answers.
 */
import { PassThrough } from 'node:stream';
import t from 'tap';
import { Asker } from '../../lib/cli/admin-init-ask';
import { autoStoragePool } from '../../lib/cli/admin-init-auto';
import { bindAddressProblem, interfaceNameProblem, ipv4AnswerProblem, ipv6AnswerProblem } from '../../lib/cli/admin-init-validate';

t.test('answer checks', async (t) => {
  t.equal(interfaceNameProblem('incusbr0'), null);
  t.equal(interfaceNameProblem('a'), 'Network interface is too short (minimum 2 characters)');
  t.equal(interfaceNameProblem('abcdefghijklmnop'), 'Network interface is too long (maximum 15 characters)');
  t.equal(interfaceNameProblem('br 0'), 'Network interface contains invalid characters');
  for (const ok of ['auto', 'none', '10.0.0.1/24', '192.168.1.254/30']) t.equal(ipv4AnswerProblem(ok), null, ok);
  t.equal(ipv4AnswerProblem('10.0.0.0/24'), 'Not a usable IPv4 address "10.0.0.0/24"');
  t.equal(ipv4AnswerProblem('10.0.0.1'), 'invalid CIDR address: 10.0.0.1');
  t.equal(ipv4AnswerProblem('10.0.0.1/33'), 'invalid CIDR address: 10.0.0.1/33');
  t.equal(ipv4AnswerProblem('fd00::1/64'), 'Not an IPv4 address "fd00::1/64"');
  for (const ok of ['auto', 'none', 'fd42::1/64', '2001:db8::1:2/112', 'fd00::1.2.3.4/120']) t.equal(ipv6AnswerProblem(ok), null, ok);
  t.equal(ipv6AnswerProblem('fd42::/64'), 'Not a usable IPv6 address "fd42::/64"');
  t.equal(ipv6AnswerProblem('10.0.0.1/24'), 'Not an IPv6 address "10.0.0.1/24"');
  t.equal(bindAddressProblem('all'), null);
  t.equal(bindAddressProblem('::'), null);
  t.equal(bindAddressProblem('host'), '"host" is not an IP address');
});

t.test('--auto storage flags', async (t) => {
  const env = { INCUS_DIR: '/nonexistent-incus-dir' };
  const drivers = ['btrfs', 'dir', 'lvm'];
  t.same(autoStoragePool({}, drivers, 0, env), { name: 'default', driver: 'dir', config: {} });
  t.same(autoStoragePool({ backend: 'btrfs', loopSize: 5 }, drivers, 0, env), { name: 'default', driver: 'btrfs', config: { size: '5GiB' } });
  t.same(autoStoragePool({ backend: 'lvm', device: '/dev/sdb', pool: 'fast' }, drivers, 0, env), { name: 'fast', driver: 'lvm', config: { source: '/dev/sdb' } });
  t.same(autoStoragePool({ backend: 'btrfs', pool: '/srv/btrfs' }, drivers, 0, env), { name: 'default', driver: 'btrfs', config: { source: '/srv/btrfs' } });
  t.equal(autoStoragePool({}, drivers, 1, env), null, 'pools exist: none made');
  t.throws(() => autoStoragePool({ backend: 'ceph' }, drivers, 0, env), { message: "The requested backend 'ceph' isn't supported by init" });
  t.throws(() => autoStoragePool({ backend: 'zfs' }, drivers, 0, env), { message: "The requested backend 'zfs' isn't available on your system (missing tools)" });
  t.throws(() => autoStoragePool({ loopSize: 3 }, drivers, 0, env), { message: /may be used with the 'dir' backend$/ });
  t.throws(() => autoStoragePool({ backend: 'lvm', loopSize: 3, device: '/dev/sdb' }, drivers, 0, env), {
    message: 'Only one of --storage-create-device or --storage-create-loop can be specified',
  });
  t.throws(() => autoStoragePool({ backend: 'btrfs' }, drivers, 2, env), { message: 'Storage has already been configured' });
});

t.test('the Asker: defaults, invalid answers asked again, EOF', async (t) => {
  const input = new PassThrough();
  let out = '';
  let err = '';
  const ask = new Asker(input, { write: (s: string) => (out += s) }, { write: (s: string) => (err += s) });
  input.end('maybe\n\n  eth1  \nx\n7\n3\n');
  t.equal(await ask.askBool('Q1? ', 'yes'), true, 'empty answer takes the default');
  t.equal(await ask.askString('Q2: ', ''), 'eth1', 'answers are trimmed');
  t.equal(await ask.askInt('Q3: ', 1, 5, '2'), 3, 'out-of-range and non-numbers are asked again');
  await t.rejects(ask.askBool('Q4? ', 'no'), { message: 'EOF' }, 'input ended');
  ask.close();
  t.equal(out, 'Q1? Q1? Q2: Q3: Q3: Q3: Q4? ');
  t.equal(err, 'Invalid input, try again.\n\nInvalid input: strconv.ParseInt: parsing "x": invalid syntax\n\nInvalid input: out of range\n\n');
});
