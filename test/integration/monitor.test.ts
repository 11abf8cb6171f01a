/**
 * `incus monitor` against a real daemon: lifecycle events as json lines,
 * pretty log lines, the --loglevel filter on a daemon warning, SIGINT.
 */
// The snapshot scheduler's tick hook gives a daemon warning on demand.
process.env.INCUS_TEST_HOOKS = '1';

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ROOT, type TestDaemon, withDaemon } from './lib/daemon';

interface Monitor {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** Starts `incus monitor <args>`; the test's teardown kills it if it is still running. */
function startMonitor(t: Test, d: TestDaemon, args: string[]): Monitor {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'incus'), 'monitor', ...args], {
    env: { ...process.env, ...d.cliEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out: () => out, err: () => err, exited };
}

/** Repeats `poke` until `cond` holds (the monitor may not be subscribed yet when the first poke happens). */
async function pokeUntil(what: string, poke: () => Promise<unknown>, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await poke();
    for (let i = 0; i < 10 && !cond(); i++) await new Promise((r) => setTimeout(r, 30));
  }
}

async function stopWithSigint(t: Test, m: Monitor): Promise<void> {
  m.proc.kill('SIGINT');
  t.equal(await m.exited, 0, `SIGINT ends the monitor with 0 (stderr: ${m.err()})`);
}

t.test('incus monitor', async (t) => {
  const d = await withDaemon(t);
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    if (r.code !== 0) throw new Error(`incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  let probe = 0;
  const touchProfile = () => ok(['profile', 'set', 'default', `user.monitor-probe=${++probe}`]);

  await t.test('lifecycle events as json lines', async (t) => {
    const m = startMonitor(t, d, ['--type', 'lifecycle', '-f', 'json']);
    await pokeUntil('the monitor to see a profile update', touchProfile, () => m.out().includes('"profile-updated"'));
    await ok(['create', 'busybox', 'c1']);
    await ok(['start', 'c1']);
    await ok(['stop', 'c1', '--force']);
    const wanted = ['instance-created', 'instance-started', 'instance-stopped'];
    const lines = () => m.out().split('\n').filter((l) => l !== '');
    const events = () => lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    await pokeUntil('the instance events', async () => undefined, () => wanted.every((a) => m.out().includes(`"${a}"`)));
    t.match(m.out(), /^(\{.*\}\n\n)+$/, 'one json document per line, each followed by a blank line');
    const seen = events().filter((e) => (e.metadata as { source?: string }).source === '/1.0/instances/c1');
    t.same(
      seen.map((e) => (e.metadata as { action: string }).action),
      wanted,
      'created, started, stopped in order',
    );
    for (const e of seen) {
      t.equal(e.type, 'lifecycle');
      t.equal(e.project, 'default');
      t.equal(e.location, 'none');
      t.match(e.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$/, 'RFC 3339 timestamp as Go writes it');
      t.same(Object.keys(e), ['location', 'metadata', 'project', 'timestamp', 'type'], 'keys sorted');
      t.match(e.metadata, { source: '/1.0/instances/c1', name: 'c1', project: 'default' });
    }
    t.notOk(events().some((e) => e.type !== 'lifecycle'), 'only lifecycle events');
    await stopWithSigint(t, m);
  });

  await t.test('yaml by default', async (t) => {
    const m = startMonitor(t, d, []);
    await pokeUntil('a yaml lifecycle document', touchProfile, () => m.out().includes('action: profile-updated'));
    t.match(m.out(), /(^|\n)metadata:\n {2}action: profile-updated\n/);
    t.match(m.out(), /\ntimestamp: "\d{4}-[^"]+"\ntype: lifecycle\n\n\n/, 'quoted timestamp, two blank lines after each document');
    await stopWithSigint(t, m);
  });

  await t.test('--pretty renders log lines', async (t) => {
    const m = startMonitor(t, d, ['--pretty', '--type', 'lifecycle']);
    await pokeUntil('a pretty lifecycle line', touchProfile, () => m.out().includes('profile-updated'));
    t.match(
      m.out(),
      /^time="\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z" level=info msg="Action: profile-updated, Source: \/1\.0\/profiles\/default[^"]*"/m,
    );
    await stopWithSigint(t, m);
  });

  await t.test('--loglevel keeps warnings and drops info', async (t) => {
    await ok(['create', 'busybox', 'w1']);
    // A pattern with an unknown template makes every scheduled snapshot fail with a daemon warning.
    await ok(['config', 'set', 'w1', 'snapshots.schedule=* * * * *', 'snapshots.schedule.stopped=true', 'snapshots.pattern={{ bogus }}']);
    const tick = () => d.client.raw('POST', '/internal/testing/snapshots/tick', {});
    const warning = /level=warning msg="Scheduled snapshot failed" err="(?:[^"\\\n]|\\.)*" instance=w1\n/g;
    const count = (m: Monitor) => m.out().match(warning)?.length ?? 0;

    const m = startMonitor(t, d, ['--pretty', '--loglevel', 'warning']);
    await pokeUntil('the snapshot warning', tick, () => count(m) > 0);
    // Info events (a lifecycle update) between two warnings must not show.
    await touchProfile();
    const before = count(m);
    await pokeUntil('a second warning', tick, () => count(m) > before);
    t.notMatch(m.out(), /profile-updated|level=info/, 'info-level events filtered out');
    t.match(m.out(), /^time="[^"]+" level=warning msg="Scheduled snapshot failed" err="Unsupported template in snapshot pattern \\"\{\{ bogus \}\}\\"" instance=w1$/m);
    await stopWithSigint(t, m);

    const mismatch = await d.cli(['monitor', '--loglevel', 'warning']);
    t.equal(mismatch.code, 1);
    t.equal(mismatch.stderr, 'Error: Log level filtering can only be used with pretty formatting\n');
  });

  await t.test('bad format', async (t) => {
    const r = await d.cli(['monitor', '-f', 'table']);
    t.equal(r.code, 1);
    t.equal(r.stderr, 'Error: Invalid format: table\n');
  });
});
