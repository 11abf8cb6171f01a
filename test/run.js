#!/usr/bin/env node
// Runs the compiled test files with tap and ends with one line
// "N passed, N failed, N skipped" counting the top-level tests of every file.
'use strict';
const { spawn } = require('node:child_process');
const { readdirSync, statSync, existsSync } = require('node:fs');
const { join } = require('node:path');

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

const tap = join(root, 'node_modules', '.bin', 'tap');
const child = spawn(tap, ['--reporter=tap', '--jobs=1', '--timeout=600', ...list], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});

let passed = 0;
let failed = 0;
let skipped = 0;
let buf = '';
// Tests inside a file appear one level below the file's own line.
const line = /^ {4}(not ok|ok) \d+ - (.*)$/;
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
child.on('close', (code) => {
  if (code !== 0 && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 ? 1 : 0);
});
