/** `incus snapshot create|list|show|rename|restore|delete` (Incus 0.1+ verbs). */
import type { Command } from 'commander';
import type { InstanceSnapshot } from '../../api/instance-snapshot';
import {
  createSnapshot,
  deleteSnapshot,
  getSnapshot,
  getSnapshots,
  renameSnapshot,
  restoreSnapshot,
} from '../../client/snapshots';
import type { CliContext } from '../context';
import { formatDate } from '../format/date';
import { parseFormat, renderList } from '../format/render';
import { snapshotShowText } from '../config-text';
import { localName } from '../remote';
import { parseColumnLetters } from '../column-letters';

type Column = [name: string, data: (s: InstanceSnapshot) => string];

const COLUMNS: Record<string, Column> = {
  n: ['NAME', (s) => s.name],
  T: ['TAKEN AT', (s) => formatDate(s.created_at)],
  E: ['EXPIRES AT', (s) => formatDate(s.expires_at)],
  s: ['STATEFUL', (s) => (s.stateful ? 'YES' : 'NO')],
};

/** Parses a `snapshot list -c` value (default `nTEs`). */
export function parseSnapshotColumns(spec: string): Column[] {
  return parseColumnLetters(spec, COLUMNS);
}

const GO_DATE = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2})(?: (\S+))?$/;

/**
 * `--expiry`: a span such as `1d 3H` (from now) or a date `2006/01/02 15:04 MST`
 * (local time when the zone is not UTC). Returns an ISO time.
 */
export function parseExpiryFlag(text: string, now = new Date()): string {
  const m = GO_DATE.exec(text.trim());
  if (m) {
    const [y, mo, d, h, mi] = m.slice(1, 6).map(Number) as [number, number, number, number, number];
    const utc = m[6] === 'UTC' || m[6] === 'Z';
    return (utc ? new Date(Date.UTC(y, mo - 1, d, h, mi)) : new Date(y, mo - 1, d, h, mi)).toISOString();
  }
  const units: Record<string, number> = { S: 1, M: 60, H: 3600, d: 86400, w: 7 * 86400 };
  const t = new Date(now.getTime());
  for (const v of text.trim().split(' ')) {
    const f = /^(\d+)(S|M|H|d|w|m|y)$/.exec(v);
    if (!f) throw new Error('Invalid expiry expression');
    const n = Number(f[1]);
    if (f[2] === 'm') t.setMonth(t.getMonth() + n);
    else if (f[2] === 'y') t.setFullYear(t.getFullYear() + n);
    else t.setTime(t.getTime() + n * units[f[2]!]! * 1000);
  }
  return t.toISOString();
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const cmd = program.command('snapshot').description('Manage instance snapshots');

  cmd
    .command('create')
    .alias('add')
    .description('Create instance snapshot')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('[snapshot]', 'Snapshot name')
    .option('--stateful', "Whether or not to snapshot the instance's running state")
    .option('--expiry <expiry>', 'Expiry for the new snapshot (either a time span like `1d 3H` or a date in `2006/01/02 15:04 MST` format)')
    .option('--no-expiry', 'Ignore any configured auto-expiry for the instance')
    .option('--reuse', 'If the snapshot name already exists, delete and create a new one')
    .action(async (inst: string, snap: string | undefined, o: { stateful?: boolean; expiry?: string | false; reuse?: boolean }) => {
      const c = ctx.client();
      const name = localName(inst);
      if (o.reuse && snap) {
        const existing = await getSnapshots(c, name);
        if (existing.some((s) => s.name === snap)) await deleteSnapshot(c, name, snap);
      }
      let expiresAt: string | null = null;
      if (o.expiry === false) expiresAt = '0001-01-01T00:00:00Z';
      else if (typeof o.expiry === 'string') expiresAt = parseExpiryFlag(o.expiry);
      await createSnapshot(c, name, { name: snap ?? '', stateful: o.stateful === true, expires_at: expiresAt });
      ctx.exitCode = 0;
    });

  cmd
    .command('list')
    .alias('ls')
    .description('List instance snapshots')
    .argument('<instance>', '[<remote>:]<instance>')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact|markdown)', 'table')
    .option('-c, --columns <columns>', 'Columns', 'nTEs')
    .action(async (inst: string, o: { format: string; columns: string }) => {
      const spec = parseFormat(o.format);
      const columns = parseSnapshotColumns(o.columns);
      const snaps = await getSnapshots(ctx.client(), localName(inst));
      const rows = snaps.map((s) => columns.map(([, data]) => data(s)));
      ctx.out(renderList(spec, columns.map(([n]) => n), rows, snaps));
      ctx.exitCode = 0;
    });

  cmd
    .command('show')
    .description('Show instance snapshot configuration')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('<snapshot>', 'Snapshot name')
    .option('--expanded', 'Show the expanded configuration')
    .action(async (inst: string, snap: string, o: { expanded?: boolean }) => {
      // The whole snapshot, expanded config included, as Incus prints it.
      ctx.out(snapshotShowText(await getSnapshot(ctx.client(), localName(inst), snap), o.expanded === true));
      ctx.exitCode = 0;
    });

  cmd
    .command('rename')
    .description('Rename instance snapshots')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('<old-snapshot>', 'Snapshot name')
    .argument('<new-snapshot>', 'New snapshot name')
    .action(async (inst: string, from: string, to: string) => {
      await renameSnapshot(ctx.client(), localName(inst), from, to);
      ctx.exitCode = 0;
    });

  cmd
    .command('restore')
    .description('Restore instance snapshots')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('<snapshot>', 'Snapshot name')
    .option('--stateful', "Whether or not to restore the instance's running state from snapshot (if available)")
    .action(async (inst: string, snap: string, o: { stateful?: boolean }) => {
      await restoreSnapshot(ctx.client(), localName(inst), snap, o.stateful === true);
      ctx.exitCode = 0;
    });

  cmd
    .command('delete')
    .aliases(['rm', 'remove'])
    .description('Delete instance snapshots')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('<snapshot...>', 'Snapshot names')
    .action(async (inst: string, snaps: string[]) => {
      for (const s of snaps) await deleteSnapshot(ctx.client(), localName(inst), s);
      ctx.exitCode = 0;
    });
}
