import t from 'tap';
import { join } from 'node:path';
import { generateName, hostnameProblem, validateInstanceName } from '../../../lib/server/instance/names';
import {
  apiNameProblem,
  childPath,
  ownDir,
  pathComponentProblem,
  validateBackupName,
  validateDeviceName,
  validateImageAliasName,
  validateInstanceSnapshotName,
  validateNetworkName,
  validatePoolName,
  validateProfileName,
  validateVolumeName,
  validateVolumeSnapshotName,
} from '../../../lib/server/names';
import { StatusError } from '../../../lib/server/errors';

/** Names no validator may let through: each could climb out of or wipe a directory, or break a path. */
const HOSTILE = ['.', '..', '...', '', 'a'.repeat(1000), 'a/b', '../x', '/', 'a\0b', '\0', ' a', 'a b', 'a\tb', 'a\nb', '-a', 'a\u00a0b', 'a\u2028b', '.a', 'a.', '_a'];

/** A name as ASCII for a test message (U+2028 would break a TAP line). */
const show = (n: string): string => JSON.stringify(n).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The status and message a validator throws for name, or null when it accepts it. */
function verdict(check: (n: string) => void, name: string): { status: number; message: string } | null {
  try {
    check(name);
    return null;
  } catch (e) {
    if (!(e instanceof StatusError)) throw e;
    return { status: e.status, message: e.message };
  }
}

t.test('instance names follow the DNS label rules', async (t) => {
  for (const ok of ['c1', 'a', 'web-01', 'A'.repeat(63)]) t.equal(hostnameProblem(ok), null, ok);
  t.match(hostnameProblem(''), /1-63/);
  t.match(hostnameProblem('a'.repeat(64)), /1-63/);
  t.match(hostnameProblem('-a'), /start/);
  t.match(hostnameProblem('a-'), /end/);
  t.match(hostnameProblem('123'), /number/);
  t.match(hostnameProblem('a_b'), /alphanumeric/);
  t.throws(() => validateInstanceName('a/b'), StatusError);
  t.match(verdict(validateInstanceName, 'a/b'), { status: 400, message: 'The character "/" is reserved for snapshots' });
  t.match(verdict(validateInstanceName, 'bad name'), { status: 400, message: 'Invalid instance name "bad name": Name can only contain alphanumeric and hyphen characters' });
  for (const bad of HOSTILE) t.equal(verdict(validateInstanceName, bad)?.status, 400, show(bad));
  t.equal(verdict(validateInstanceName, 'ünïcode')?.status, 400);
});

t.test('API names follow Incus IsAPIName', async (t) => {
  for (const ok of ['a', 'default', 'my_pool', 'a.b', 'a..b', 'a-b', 'A1', 'x'.repeat(64), 'a-._b', '0']) t.equal(apiNameProblem(ok), null, ok);
  t.equal(apiNameProblem('x'.repeat(65)), 'Maximum name length is 64 characters');
  // Go counts bytes: 22 three-byte characters are 66 bytes.
  t.equal(apiNameProblem(`a${'€'.repeat(21)}b`), 'Maximum name length is 64 characters');
  t.equal(apiNameProblem('a'.repeat(1000)), 'Maximum name length is 64 characters');
  t.equal(apiNameProblem('a b'), 'Name cannot contain white space');
  t.equal(apiNameProblem('a\u00a0b'), 'Name cannot contain white space');
  t.equal(apiNameProblem('a\u0085b'), 'Name cannot contain white space');
  t.equal(apiNameProblem('a\0b'), 'Name cannot contain control characters');
  for (const c of ['$', '?', '&', '+', '"', "'", '`', '*', '/']) t.equal(apiNameProblem(`a${c}b`), `Name contains invalid character ${JSON.stringify(c)}`, c);
  t.equal(apiNameProblem('a/b', true), null);
  t.equal(apiNameProblem('../x', true), 'Names must start and end with an alphanumeric character');
  for (const bad of ['', '.', '..', '...', '-a', 'a-', '_a', '.a', 'a.', 'ünïcode', 'aé']) {
    t.equal(apiNameProblem(bad), 'Names must start and end with an alphanumeric character', show(bad));
  }
  // Inside the name, Incus allows any character but the reserved ones.
  t.equal(apiNameProblem('aéb'), null);
});

t.test('each kind wraps the rule in the message Incus gives', async (t) => {
  const cases: [(n: string) => void, string][] = [
    [validatePoolName, 'Invalid storage pool name "'],
    [validateVolumeName, 'Invalid storage volume name "'],
    [validateVolumeSnapshotName, 'Invalid storage volume snapshot name "'],
    [validateInstanceSnapshotName, 'Invalid snapshot name "'],
    [validateProfileName, 'Invalid profile name "'],
    [validateNetworkName, 'Invalid network name "'],
    [validateImageAliasName, 'Invalid image alias name "'],
  ];
  for (const [check, prefix] of cases) {
    t.equal(verdict(check, 'ok1'), null, prefix);
    for (const bad of HOSTILE) {
      if (bad === '' || (check === validateImageAliasName && bad === 'a/b')) continue;
      const v = verdict(check, bad);
      t.equal(v?.status, 400, `${prefix}${show(bad)}`);
      t.ok(v?.message.startsWith(prefix), show(String(v?.message)));
    }
  }
  t.match(verdict(validatePoolName, '..'), { status: 400, message: 'Invalid storage pool name "..": Names must start and end with an alphanumeric character' });
  t.match(verdict(validateVolumeName, '..'), { status: 400, message: 'Invalid storage volume name "..": Names must start and end with an alphanumeric character' });
  t.match(verdict(validateInstanceSnapshotName, 'a'.repeat(1000)), { status: 400, message: `Invalid snapshot name "${'a'.repeat(80)}...": Maximum name length is 64 characters` });
  t.match(verdict(validateVolumeName, '\u202eab\u2028'), { status: 400, message: 'Invalid storage volume name "\\u202eab\\u2028": Name cannot contain white space' });
  t.match(verdict(validateVolumeName, 'a\0b'), { status: 400, message: 'Invalid storage volume name "a\\u0000b": Name cannot contain control characters' });
  t.match(verdict(validatePoolName, ''), { status: 400, message: 'No name provided' });
  t.match(verdict(validateProfileName, ''), { status: 400, message: 'No name provided' });
  t.match(verdict(validateNetworkName, ''), { status: 400, message: 'No name provided' });
  t.match(verdict((n) => validateNetworkName(n, true), ''), { status: 400, message: 'New network name not provided' });
  t.match(verdict(validateNetworkName, 'none'), { status: 400, message: "Invalid network name: 'none' is a reserved name" });
  t.match(verdict(validateImageAliasName, ''), { status: 400, message: 'Alias name and target are required' });
  t.equal(verdict(validateImageAliasName, 'debian/12'), null);
  t.equal(verdict(validateVolumeName, '')?.status, 400);
  t.equal(verdict(validateInstanceSnapshotName, '')?.status, 400);
});

t.test('backup and device names: the API name rule', async (t) => {
  t.equal(verdict(validateBackupName, 'backup0'), null);
  t.match(verdict(validateBackupName, 'a/b'), { status: 400, message: 'Backup names may not contain slashes' });
  for (const bad of ['', '.', '..', 'a\0b', 'a\nb', 'a b', 'é', '%2F']) t.equal(verdict(validateBackupName, bad)?.status, 400, show(bad));
  for (const ok of ['root', 'eth0', 'my_disk', 'gpu.0']) t.equal(verdict(validateDeviceName, ok), null, ok);
  for (const bad of HOSTILE) t.equal(verdict(validateDeviceName, bad)?.status, 400, show(bad));
  t.match(verdict(validateDeviceName, '..'), { status: 400, message: 'Invalid device name "..": Names must start and end with an alphanumeric character' });
});

t.test('childPath keeps every path strictly inside its parent', async (t) => {
  t.equal(childPath('/var/lib/incus/storage-pools', 'default'), '/var/lib/incus/storage-pools/default');
  t.equal(childPath('/p', 'custom', 'vol'), '/p/custom/vol');
  t.equal(childPath('/p/', 'a..b'), '/p/a..b');
  t.equal(childPath('/p', '...'), '/p/...');
  t.equal(childPath('/', 'x'), '/x');
  for (const bad of ['', '.', '..', 'a/b', '../x', '/', '/etc', 'a\0b', 'x/..']) {
    t.equal(verdict(() => childPath('/p', bad), '')?.status, 400, show(bad));
    t.equal(verdict(() => childPath('/p', 'ok', bad), '')?.status, 400, `ok/${show(bad)}`);
    t.not(pathComponentProblem(bad), null, show(bad));
  }
  t.equal(verdict(() => childPath('/p'), '')?.status, 400);
  t.equal(pathComponentProblem('ok'), null);
  // A parent that is itself relative is resolved first; the child stays below it.
  t.equal(childPath('rel', 'x'), join(process.cwd(), 'rel', 'x'));
});

t.test('ownDir refuses a path that climbs or is the root', async (t) => {
  t.equal(ownDir('/var/lib/incus/storage-pools/p1'), '/var/lib/incus/storage-pools/p1');
  for (const bad of ['/', '', 'rel/dir', '/var/lib/incus/storage-pools/..', '/var/lib/incus/storage-pools/.', '/a/../b', '/a\0']) {
    t.equal(verdict(() => ownDir(bad), '')?.status, 400, show(bad));
  }
});

t.test('generated names avoid taken ones', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const n = await generateName(async (x) => seen.has(x));
    t.equal(hostnameProblem(n), null);
    t.notOk(seen.has(n));
    seen.add(n);
  }
});
