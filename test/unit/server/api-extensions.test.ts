/**
 * Every API extension we advertise is one Incus knows, and none is listed
 * twice. The names are checked against internal/version/api.go of the Incus
 * checkout in INCUS_SRC (read at test time only; nothing is vendored).
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_EXTENSIONS } from '../../../lib/server/api-extensions';

t.test('no extension is listed twice', async (t) => {
  const seen = new Set<string>();
  const twice = API_EXTENSIONS.filter((e) => (seen.has(e) ? true : (seen.add(e), false)));
  t.same(twice, []);
});

const apiGo = process.env.INCUS_SRC ? join(process.env.INCUS_SRC, 'internal', 'version', 'api.go') : '';
const skip = !process.env.INCUS_SRC
  ? 'INCUS_SRC is not set (an Incus checkout to compare with)'
  : existsSync(apiGo)
    ? false
    : `no internal/version/api.go in INCUS_SRC=${process.env.INCUS_SRC}`;

t.test('every advertised extension is one Incus has', { skip }, async (t) => {
  const text = readFileSync(apiGo, 'utf8');
  const start = text.indexOf('var APIExtensions = []string{');
  t.ok(start >= 0, 'APIExtensions found in api.go');
  const body = text.slice(start, text.indexOf('\n}', start));
  const incus = new Set([...body.matchAll(/^\s*"([a-z0-9_]+)",/gm)].map((m) => m[1]));
  t.ok(incus.size > 100, `${incus.size} extensions read from Incus`);
  t.same(API_EXTENSIONS.filter((e) => !incus.has(e)), [], 'names Incus does not know');
});
