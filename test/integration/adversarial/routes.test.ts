/**
 * The adversarial walk: every route the daemon registers (read from its own
 * route table, so a new route is covered without being listed here) gets
 * hostile path parameters, malformed and wrongly typed bodies, hostile
 * names and traversal paths. Each reply must be a 4xx in Incus's error
 * envelope (never a 5xx), the daemon must keep answering, and nothing on
 * disk may appear, vanish or change outside what the API reports, not even
 * above INCUS_DIR (which sits two levels inside the suite's temp root).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { type Case, casesFor, EXCLUDED, type Route } from './lib/cases';
import { Fixture } from './lib/fixture';
import { closeAgents, isErrorEnvelope, send } from './lib/send';
import { diffTrees, topmost } from './lib/tree';

const CONCURRENCY = 8;
const HOST_SHADOW = (() => {
  try {
    return readFileSync('/etc/shadow', 'utf8').split('\n')[0] ?? '';
  } catch {
    return '';
  }
})();

const show = (c: Case): string => {
  const body = c.req.body === undefined ? '' : ` body=${c.req.body.length > 120 ? `${c.req.body.slice(0, 120)}...(${c.req.body.length} B)` : c.req.body}`;
  const path = c.req.path.length > 160 ? `${c.req.path.slice(0, 160)}...(${c.req.path.length} chars)` : c.req.path;
  return `${c.req.method} ${path}${body}`;
};

/** Runs fn over items, at most n at a time. */
async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

t.test('every route refuses hostile input without 5xx, crash or damage on disk', async (t) => {
  const fx = new Fixture();
  const cwd = process.cwd();
  // Relative paths the daemon might resolve land inside the temp root too.
  process.chdir(fx.dir);
  t.teardown(async () => {
    closeAgents();
    process.chdir(cwd);
    await fx.destroy();
  });
  await fx.start();
  const table = await send(fx.socket, { method: 'GET', path: '/internal/testing/routes' });
  const routes = (table.json?.metadata as Route[] | undefined) ?? [];
  t.ok(routes.length > 50, `route table served (${routes.length} routes)`);

  let total = 0;
  let unsendable = 0;
  const failures: string[] = [];
  for (const route of routes) {
    const key = `${route.method} ${route.url}`;
    if (EXCLUDED[key]) {
      t.comment(`skipped ${key}: ${EXCLUDED[key]}`);
      continue;
    }
    const cases = casesFor(route, fx.fingerprint, fx.root);
    if (cases.length === 0) {
      t.fail(`${key}: no generated cases`);
      continue;
    }
    total += cases.length;
    const treeBefore = fx.tree();
    const objsBefore = await fx.objects();
    const bad: string[] = [];
    const accepted: string[] = [];
    await pool(cases, CONCURRENCY, async (c) => {
      const rep = await send(fx.socket, c.req);
      let opError: string | null = null;
      if (rep.transportError?.startsWith('unsendable')) {
        unsendable++;
        return;
      }
      if (rep.status < 300) accepted.push(`${show(c)} -> ${rep.status}`);
      if (rep.transportError) bad.push(`${show(c)}: no reply (${rep.transportError})`);
      else if (rep.status >= 500) bad.push(`${show(c)}: ${rep.status} ${rep.text.slice(0, 300)}`);
      else if (rep.status >= 400 && !isErrorEnvelope(rep)) bad.push(`${show(c)}: ${rep.status} not in Incus's error envelope: ${rep.text.slice(0, 200)}`);
      else if (rep.status === 202) {
        opError = await fx.waitOperation(rep);
        if (c.expect === 'reject' && !opError) bad.push(`${show(c)}: accepted (202, operation succeeded)`);
      } else if (c.expect === 'reject' && rep.status < 400) bad.push(`${show(c)}: accepted (${rep.status})`);
      if (HOST_SHADOW && rep.text.includes(HOST_SHADOW)) bad.push(`${show(c)}: reply holds the host's /etc/shadow`);
      const alive = await send(fx.socket, { method: 'GET', path: '/1.0' }, 20_000);
      if (alive.status !== 200) {
        bad.push(`${show(c)}: daemon stopped answering (${alive.status} ${alive.transportError ?? ''})`);
        if (fx.daemon.proc?.exitCode !== null || fx.daemon.proc?.signalCode) {
          fx.daemon.proc = null;
          await fx.daemon.start();
        }
      }
    });

    const swept = await fx.sweep();
    if (swept.gone.length > 0) t.comment(`${key}: removed what its cases created: ${swept.gone.join(', ')}`);
    if (swept.stuck.length > 0) bad.push(`objects created that cannot be deleted through the API: ${swept.stuck.join(', ')}`);
    const remade = await fx.ensure();
    if (remade.length > 0) bad.push(`fixture objects destroyed: ${remade.join(', ')}`);
    const objsAfter = await fx.objects();
    for (const [u, v] of objsBefore) {
      if (objsAfter.get(u) === v || remade.length) continue;
      bad.push(`fixture ${u} changed: ${v.slice(0, 200)} -> ${(objsAfter.get(u) ?? '').slice(0, 300)}`);
      // Later routes start from the fixture as it was.
      if (!(await fx.restore(u))) bad.push(`fixture ${u} could not be restored`);
    }
    if (accepted.length && (swept.gone.length || bad.length)) t.comment(`${key}: requests that succeeded: ${accepted.slice(0, 10).join('; ')}`);
    const diff = diffTrees(treeBefore, fx.tree());
    const where = (p: string[]): string => topmost(p).join(', ');
    if (diff.removed.length) bad.push(`paths destroyed: ${where(diff.removed)}`);
    if (diff.added.length) bad.push(`paths added: ${where(diff.added)}`);
    // backup.yaml mirrors the instance's current state: legitimate snapshots a case made (and the sweep removed) rewrite it.
    const altered = diff.changed.filter((c) => !/\/backup\.yaml \(/.test(c));
    if (altered.length) bad.push(`paths altered: ${topmost(altered).join(', ')}`);
    for (const b of bad) t.fail(`${key}: ${b}`);
    if (bad.length === 0) t.pass(`${key}: ${cases.length} cases`);
    failures.push(...bad.map((b) => `${key}: ${b}`));
  }
  t.comment(`${total} cases over ${routes.length} routes (${unsendable} refused by the HTTP client itself), ${failures.length} failures`);
});
