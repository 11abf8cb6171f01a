#!/usr/bin/env node
// Runs the compiled test files with tap and ends with one line
// "N passed, N failed, N skipped" counting the top-level tests of every file.
// Files run TEST_JOBS (default 2) at a time: most of a file's time is spent
// waiting on daemons and containers, so two at once nearly halve the suite.
// The files SERIAL names then run one at a time, alone on the host.
'use strict';
const { spawn } = require('node:child_process');
const { readdirSync, statSync, existsSync } = require('node:fs');
const { basename, join } = require('node:path');

const root = join(__dirname, '..');
const which = process.argv[2];
const groups = which ? [which] : ['unit', 'integration'];

function files(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (e.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const list = groups.flatMap((g) => files(join(root, 'dist', 'test', g)));
if (list.length === 0) {
  console.error('No compiled tests found: run "npm run build" first');
  process.exit(2);
}

// Files another file beside them could fail for reasons not theirs.
const SERIAL = [
  // They bound latencies or measure CPU time.
  /^(native|stop-stall|stop-stall-native|limits)\.test\.js$/,
  // They compare the host's own links, routes and nftables before and after.
  /^(network|network-nic|nic-netprio|cluster-testbed)\.test\.js$/,
  // Leader election against heartbeat timeouts.
  /^cluster-failover\.test\.js$/,
  // QEMU under TCG: guests boot against deadlines, and each takes a core.
  /^(vm[-.]|qemu-|.*-vm\.)/,
];
const serial = (f) => SERIAL.some((re) => re.test(basename(f)));
const jobs = Number(process.env.TEST_JOBS ?? 2);
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error(`TEST_JOBS: ${process.env.TEST_JOBS} is not a positive whole number`);
  process.exit(2);
}
const tap = join(root, 'node_modules', '.bin', 'tap');

let passed = 0;
let failed = 0;
let skipped = 0;
// Tests inside a file appear one level below the file's own line.
const line = /^ {4}(not ok|ok) \d+ - (.*)$/;

/** Runs `files` through tap, `n` at a time, counting their tests; resolves tap's exit code. */
function runTap(files, n) {
  if (files.length === 0) return Promise.resolve(0);
  const child = spawn(tap, ['--reporter=tap', `--jobs=${n}`, '--timeout=600', ...files], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    buf += chunk.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = line.exec(l);
      if (!m) continue;
      if (/# SKIP/i.test(m[2])) skipped++;
      else if (m[1] === 'ok') passed++;
      else failed++;
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

(async () => {
  const codes = [await runTap(list.filter((f) => !serial(f)), jobs), await runTap(list.filter(serial), 1)];
  if (codes.some((c) => c !== 0) && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 ? 1 : 0);
})();
