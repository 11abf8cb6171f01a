/**
 * incus-benchmark against a real daemon: launch 20 busybox containers four
 * at a time with a CSV report, stop them (the report grows), delete them;
 * each printed summary agrees with the rows the run added.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Instance } from '../../lib/api/instance';
import { parseCsv } from '../../lib/tools/benchmark/report';
import { type CliResult, ROOT, runNodeScript, type TestDaemon, withDaemon } from './lib/daemon';

const TOOL = join(ROOT, 'bin', 'incus-benchmark');

function bench(d: TestDaemon, args: string[]): Promise<CliResult> {
  return runNodeScript(TOOL, args, { env: { INCUS_DIR: d.dir, INCUS_SOCKET: '' } });
}

/** The summary figures printed for `label`. */
function summary(out: string, label: string): { count: number; ok: number; failed: number; min: number; mean: number; max: number } {
  const m = new RegExp(`Summary \\(${label}\\):\\n  Containers: (\\d+) \\((\\d+) succeeded, (\\d+) failed\\)\\n.*\\n  Per container: min (\\d+)ms, mean (\\d+)ms, max (\\d+)ms`).exec(out);
  if (!m) throw new Error(`no summary for ${label} in:\n${out}`);
  const [, count, ok, failed, min, mean, max] = m.map(Number);
  return { count: count!, ok: ok!, failed: failed!, min: min!, mean: mean!, max: max! };
}

/** Checks the summary against the rows of one run. */
function agree(t: Test, out: string, label: string, rows: string[][]): void {
  const s = summary(out, label);
  const el = rows.map((r) => Number(r[1]));
  t.equal(s.count, rows.length, `${label}: count matches rows`);
  t.equal(s.ok, rows.filter((r) => r[4] === 'true').length, `${label}: successes match rows`);
  t.equal(s.min, Math.min(...el), `${label}: min matches`);
  t.equal(s.max, Math.max(...el), `${label}: max matches`);
  t.equal(s.mean, Math.round(el.reduce((a, b) => a + b, 0) / el.length), `${label}: mean matches`);
}

t.test('launch 20 -P 4 with a report, stop appends, delete removes them', async (t) => {
  const d = await withDaemon(t);
  const dir = mkdtempSync(join(tmpdir(), 'incus-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const csv = join(dir, 'r.csv');

  const l = await bench(d, ['launch', '--count', '20', '-P', '4', '--report-file', csv, 'busybox']);
  t.equal(l.code, 0, l.stderr);
  t.match(l.stdout, 'Test environment:');
  t.match(l.stdout, /Batches: 5\n  Batch size: 4\n  Remainder: 0/);
  let records = parseCsv(readFileSync(csv, 'utf8'));
  t.same(records[0], ['timeStamp', 'elapsed', 'label', 'responseCode', 'success']);
  t.equal(records.length, 21, '20 rows and a header');
  const launched = records.slice(1);
  t.ok(launched.every((r) => r[2] === 'launch' && r[4] === 'true' && Number(r[1]) > 0 && Number(r[0]) > 1.7e12));
  agree(t, l.stdout, 'launch', launched);

  const insts = ((await d.client.getInstances(1)) as Instance[]).filter((i) => i.name.startsWith('benchmark-'));
  t.same(insts.map((i) => i.name).sort(), Array.from({ length: 20 }, (_, i) => `benchmark-${String(i + 1).padStart(2, '0')}`));
  const off = insts.filter((i) => i.status !== 'Running' || i.config['user.incus-benchmark'] !== 'true');
  t.same(off.map((i) => `${i.name}: ${i.status}, user.incus-benchmark=${i.config['user.incus-benchmark']}`), [], 'every one running and marked');

  const s = await bench(d, ['stop', '-P', '8', '--report-file', csv, '--report-label', 'stop all']);
  t.equal(s.code, 0, s.stderr);
  records = parseCsv(readFileSync(csv, 'utf8'));
  t.equal(records.length, 41, 'the second run appends');
  t.same(records.slice(0, 21), [records[0], ...launched], 'earlier rows kept');
  agree(t, s.stdout, 'stop all', records.slice(21));
  t.ok(records.slice(21).every((r) => r[2] === 'stop all'));
  const stopped = ((await d.client.getInstances(1)) as Instance[]).filter((i) => i.name.startsWith('benchmark-'));
  t.ok(stopped.every((i) => i.status === 'Stopped'));

  const del = await bench(d, ['delete', '--report-file', csv]);
  t.equal(del.code, 0, del.stderr);
  records = parseCsv(readFileSync(csv, 'utf8'));
  t.equal(records.length, 61);
  agree(t, del.stdout, 'delete', records.slice(41));
  t.same(((await d.client.getInstances(0)) as string[]).length, 0, 'all deleted');
});

t.test('init --privileged, start, a missing image fails without a report row', async (t) => {
  const d = await withDaemon(t);
  const i = await bench(d, ['init', '-C', '2', '--privileged', 'busybox']);
  t.equal(i.code, 0, i.stderr);
  let insts = (await d.client.getInstances(1)) as Instance[];
  t.same(insts.map((x) => [x.name, x.status, x.config['security.privileged']]).sort(), [
    ['benchmark-1', 'Stopped', 'true'],
    ['benchmark-2', 'Stopped', 'true'],
  ]);
  // A container the tool did not make is left alone.
  t.equal((await d.cli(['init', 'busybox', 'other'])).code, 0);
  const st = await bench(d, ['start']);
  t.equal(st.code, 0, st.stderr);
  t.match(summary(st.stdout, 'start'), { count: 2, ok: 2 });
  insts = (await d.client.getInstances(1)) as Instance[];
  t.same(insts.map((x) => [x.name, x.status]).sort(), [['benchmark-1', 'Running'], ['benchmark-2', 'Running'], ['other', 'Stopped']]);
  t.equal((await bench(d, ['delete'])).code, 0);
  t.same(((await d.client.getInstances(0)) as string[]).length, 1);

  const dir = mkdtempSync(join(tmpdir(), 'incus-bench-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = await bench(d, ['launch', 'nosuchimage', '--report-file', join(dir, 'x.csv')]);
  t.not(bad.code, 0);
  t.match(bad.stdout, 'Image not found in local store: nosuchimage');
  t.notOk(existsSync(join(dir, 'x.csv')), 'no report written');
});

t.test('launch --freeze leaves them frozen; delete still removes them', async (t) => {
  const d = await withDaemon(t);
  const l = await bench(d, ['launch', '-C', '2', '-P', '2', '--freeze', 'busybox']);
  t.equal(l.code, 0, l.stderr);
  t.match(l.stdout, 'Startup mode: start and freeze');
  const insts = (await d.client.getInstances(1)) as Instance[];
  t.same(insts.map((i) => i.status), ['Frozen', 'Frozen']);
  const del = await bench(d, ['delete']);
  t.equal(del.code, 0, del.stdout);
  t.same(((await d.client.getInstances(0)) as string[]).length, 0);
});
