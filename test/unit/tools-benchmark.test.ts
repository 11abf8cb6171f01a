/** incus-benchmark's pure parts: container names, CSV report round trip, summary figures, batching. */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerName } from '../../lib/tools/benchmark/actions';
import { processBatch } from '../../lib/tools/benchmark/batch';
import { stampMilli } from '../../lib/tools/benchmark/log';
import { CSV_FIELDS, loadReport, parseCsv, sampleRow, writeReport } from '../../lib/tools/benchmark/report';
import { summarize } from '../../lib/tools/benchmark/summary';

t.test('names are padded to the width of the count, from 1', async (t) => {
  t.equal(containerName(1, 0), 'benchmark-1');
  t.equal(containerName(20, 0), 'benchmark-01');
  t.equal(containerName(20, 19), 'benchmark-20');
  t.equal(containerName(100, 4), 'benchmark-005');
});

t.test('report: header once, rows appended, quoting survives a round trip', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-unit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'r.csv');
  const s = { name: 'b-1', startedAt: 1700000000123.4, elapsedMs: 41.6, ok: true, responseCode: '' };
  writeReport(f, loadReport(f), [sampleRow(s, 'my, "label"')]);
  writeReport(f, loadReport(f), [sampleRow({ ...s, ok: false, responseCode: '500' }, 'launch')]);
  const text = readFileSync(f, 'utf8');
  t.equal(text.split('\n')[0], CSV_FIELDS.join(','));
  t.same(parseCsv(text), [[...CSV_FIELDS], ['1700000000123', '42', 'my, "label"', '', 'true'], ['1700000000123', '42', 'launch', '500', 'false']]);
  writeFileSync(f, 'a,b\n');
  t.throws(() => loadReport(f), /Invalid number of fields/);
});

t.test('summary counts every sample, times only the successful ones', async (t) => {
  const mk = (ms: number, ok = true) => ({ name: 'x', startedAt: 0, elapsedMs: ms, ok, responseCode: ok ? '' : '400' });
  t.same(summarize('launch', [mk(10.4), mk(30), mk(5, false)], 99.6), { action: 'launch', count: 3, succeeded: 2, failed: 1, totalMs: 100, minMs: 10, meanMs: 20, maxMs: 30 });
  t.match(summarize('x', [], 0), { count: 0, minMs: 0, meanMs: 0, maxMs: 0 });
});

t.test('batches run size at a time, then the remainder', async (t) => {
  let running = 0;
  let peak = 0;
  const seen: number[] = [];
  const lines: string[] = [];
  await processBatch(10, 4, async (i) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    seen.push(i);
    running--;
  }, (l) => lines.push(l));
  t.equal(peak, 4);
  t.same(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.match(lines.join('\n'), /Processed 4 containers.*\n.*Processed 8 containers/);
});

t.test('log stamps as Go StampMilli', async (t) => {
  t.equal(stampMilli(new Date(2024, 0, 2, 3, 4, 5, 6)), 'Jan  2 03:04:05.006');
});
