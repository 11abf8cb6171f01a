/**
 * The promise checks of eslint.config.mjs hold over lib/ and bench/: no
 * floating promise, no promise where a value or a void callback belongs.
 * Run here so that CI counts it; `npm run lint` prints the same report.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const eslint = join(root, 'node_modules', '.bin', 'eslint');

t.test('eslint: promise checks over lib and bench', { skip: existsSync(eslint) ? false : 'eslint is not installed (npm ci installs it)' }, async (t) => {
  const r = spawnSync(eslint, ['--format', 'stylish', 'lib', 'bench'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  t.equal(r.status, 0, r.stdout + r.stderr);
});
