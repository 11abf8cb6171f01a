/**
 * Input bounds that are pure logic: environment.* key names and values,
 * limits.cpu against the host's possible CPUs, linux.kernel_modules names,
 * server listen addresses, and incusd's command line (cobra's leniency).
 */
import t from 'tap';
import { validateInstanceConfig } from '../../../lib/server/instance/config-keys';
import { cpuLimitProblem, environmentNameProblem, isKernelModuleList } from '../../../lib/server/instance/config/validators';
import { listenAddressProblem, serverKeyProblem } from '../../../lib/server/server-config-keys';
import { parseArgs } from '../../../lib/server/main';

t.test('environment.* names and values', async (t) => {
  t.doesNotThrow(() => validateInstanceConfig({ 'environment.FOO': 'bar', 'environment.lower_1': 'x y' }));
  t.throws(() => validateInstanceConfig({ 'environment.': 'x' }), /Invalid key "environment\.": .*empty/);
  t.throws(() => validateInstanceConfig({ 'environment.A=B': 'x' }), /cannot contain "="/);
  t.throws(() => validateInstanceConfig({ 'environment.A\nB': 'x' }), /control characters/);
  t.throws(() => validateInstanceConfig({ 'environment.A': 'x\ny' }), /Environment variables cannot contain line breaks/);
  t.equal(environmentNameProblem('PATH'), null);
});

t.test('limits.cpu: counts and sets a host can meet', async (t) => {
  t.equal(cpuLimitProblem('2', 4), null);
  t.equal(cpuLimitProblem('0-1,3', 4), null);
  t.match(cpuLimitProblem('1000', 4), /CPU count 1000 is more than this host can ever have \(4\)/);
  t.match(cpuLimitProblem('0', 4), /Invalid cpuset value/);
  t.match(cpuLimitProblem('0-4000000000', 4), /does not exist on this host/, 'a huge range is refused without expanding it');
  t.match(cpuLimitProblem('1-3,3', 4), /Cannot define CPU multiple times/);
  t.match(cpuLimitProblem('a', 4), /Invalid CPU limit syntax/);
  t.throws(() => validateInstanceConfig({ 'limits.cpu': '100000' }), /limits\.cpu/);
});

t.test('linux.kernel_modules: module names only', async (t) => {
  t.equal(isKernelModuleList('overlay, br_netfilter,nf-nat'), null);
  t.equal(isKernelModuleList(''), null);
  t.match(isKernelModuleList('../../x'), /Invalid kernel module name "\.\.\/\.\.\/x"/);
  t.match(isKernelModuleList('a,-v'), /Invalid kernel module name/);
  t.throws(() => validateInstanceConfig({ 'linux.kernel_modules': '/lib/x.ko' }), /linux\.kernel_modules/);
});

t.test('core.https_address and core.shutdown_timeout', async (t) => {
  for (const ok of ['', ':8443', '[::]:8443', '0.0.0.0', '10.0.0.1:8443', '::1', 'example.com:443', 'host']) {
    t.equal(listenAddressProblem(ok), null, ok);
  }
  t.match(listenAddressProblem('not-an-address:xx'), /Invalid port "xx"/);
  t.match(listenAddressProblem('1.2.3.4:70000'), /Invalid port/);
  t.match(listenAddressProblem('bad_host!:1'), /Invalid address/);
  t.match(listenAddressProblem('[::1'), /Invalid address/);
  t.equal(serverKeyProblem('core.https_address', 'not-an-address:xx'), `cannot set 'core.https_address' to 'not-an-address:xx': Invalid port "xx"`);
  t.equal(serverKeyProblem('core.shutdown_timeout', '5'), null);
  t.match(serverKeyProblem('core.shutdown_timeout', 'soon'), /invalid integer/);
});

t.test('server user.* keys: letters, digits and punctuation only, as Incus checks them', async (t) => {
  t.equal(serverKeyProblem('user.foo-bar_1.é', 'x'), null);
  t.equal(serverKeyProblem('user.⍾', 'foo'), `cannot set 'user.⍾' to 'foo': Invalid key name`);
  t.equal(serverKeyProblem('user.a b', ''), `cannot set 'user.a b' to '': Invalid key name`);
});

t.test("incusd's arguments: empty positional ones ignored as cobra does; the first word is the subcommand", async (t) => {
  t.same(parseArgs(['']), { logFile: null, debug: false, group: null, command: null });
  t.same(parseArgs(['--logfile', 'x', '']), { logFile: 'x', debug: false, group: null, command: null });
  t.same(parseArgs(['activateifneeded', '--debug']), { logFile: null, debug: true, group: null, command: 'activateifneeded' });
  t.same(parseArgs(['--', '--debug']), { logFile: null, debug: false, group: null, command: null });
  t.throws(() => parseArgs(['--nope']), /unknown flag: --nope/);
  t.throws(() => parseArgs(['-x']), /unknown shorthand flag: 'x' in -x/);
  t.throws(() => parseArgs(['--logfile']), /Missing value/);
});
