import t from 'tap';
import { generateName, hostnameProblem, validateInstanceName } from '../../../lib/server/instance/names';
import { StatusError } from '../../../lib/server/errors';

t.test('instance names follow the DNS label rules', async (t) => {
  for (const ok of ['c1', 'a', 'web-01', 'A'.repeat(63)]) t.equal(hostnameProblem(ok), null, ok);
  t.match(hostnameProblem(''), /1-63/);
  t.match(hostnameProblem('a'.repeat(64)), /1-63/);
  t.match(hostnameProblem('-a'), /start/);
  t.match(hostnameProblem('a-'), /end/);
  t.match(hostnameProblem('123'), /number/);
  t.match(hostnameProblem('a_b'), /alphanumeric/);
  t.throws(() => validateInstanceName('a/b'), StatusError);
  try {
    validateInstanceName('bad name');
    t.fail('should throw');
  } catch (e) {
    t.equal((e as StatusError).status, 400);
    t.match((e as Error).message, /"bad name"/);
  }
});

t.test('generated names avoid taken ones', async (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const n = generateName((x) => seen.has(x));
    t.equal(hostnameProblem(n), null);
    t.notOk(seen.has(n));
    seen.add(n);
  }
});
