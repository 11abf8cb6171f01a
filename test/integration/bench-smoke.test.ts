/**
 * A tiny run of the benchmark suite so that it cannot rot: every case below
 * must run to the end against a real daemon and print figures with ratios.
 * Results go to a scratch file, never to bench/RESULTS.md.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './lib/daemon';

t.test('bench suite smoke run (tiny N)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const results = join(dir, 'RESULTS.md');
  const env = {
    ...process.env,
    BENCH_RUNS: '1',
    BENCH_WARMUP: '0',
    BENCH_LIST_COUNTS: '0,2',
    BENCH_BULK_COUNT: '2',
    BENCH_HTTPS_COUNT: '2',
    BENCH_RESULTS: results,
  };
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const c = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'run.js'), '^(lifecycle|list|bulk|https)$'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    c.stdout.on('data', (b: Buffer) => (text += b.toString()));
    c.stderr.on('data', (b: Buffer) => (text += b.toString()));
    c.on('close', (code) => resolve({ code, text }));
  });
  t.equal(out.code, 0, out.text.slice(-2000));
  const md = readFileSync(results, 'utf8');
  t.match(md, /## lifecycle/);
  t.match(md, /## list/);
  t.match(md, /## bulk/);
  t.match(md, /## https/);
  for (const row of ['launch', 'start', 'stop', 'stop --force', 'restart --force', 'delete --force']) {
    t.match(md, `| ${row} |`, `lifecycle row ${row} with its reference`);
  }
  t.match(md, /\| 2 launches, 8 at a time \|/, 'bulk figures with their reference');
  t.match(md, /\| exec true \(round trip\) \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+× \|/, 'https exec: HTTPS next to the socket, with the ratio');
  t.match(md, /\| GET \/1\.0\/instances\?recursion=2, 2 running \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+× \|/, 'https list: HTTPS next to the socket, with the ratio');
  t.match(md, /target exec true \(round trip\): HTTPS ≤ 1\.5× the socket: (met|missed)/, 'https target stated');
  t.match(md, /\d+(\.\d+)?×/, 'ratios are printed');
});
