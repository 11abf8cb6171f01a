import * as fs from 'node:fs';
import t from 'tap';
import { renderCsv } from '../../lib/cli/format/csv';
import { formatDate, isZeroTime } from '../../lib/cli/format/date';
import { orderKeys } from '../../lib/cli/format/go-order';
import { renderJson } from '../../lib/cli/format/json';
import { parseFormat, renderList } from '../../lib/cli/format/render';
import { instanceFullShape } from '../../lib/cli/format/shapes';
import { naturalLess, sortRowsNaturally } from '../../lib/cli/format/sort';
import { renderTable } from '../../lib/cli/format/table';
import { parsePosixRule, resetZoneCache, tzifFooter } from '../../lib/cli/format/tz';
import { byteSizeIEC, byteSizeSI } from '../../lib/cli/format/units';
import { renderYaml } from '../../lib/cli/format/yaml';

const HEADER = ['NAME', 'AGE', 'CITY'];
const ROWS = [
  ['Alice', '25', 'New York'],
  ['Bob', '30', 'Boston'],
];

t.test('table: ASCII borders, centred headers, a line between rows', async (t) => {
  t.equal(
    renderTable(HEADER, ROWS, 'table'),
    [
      '+-------+-----+----------+',
      '| NAME  | AGE |   CITY   |',
      '+-------+-----+----------+',
      '| Alice | 25  | New York |',
      '+-------+-----+----------+',
      '| Bob   | 30  | Boston   |',
      '+-------+-----+----------+',
      '',
    ].join('\n'),
  );
});

t.test('table: the incus list layout, empty and with a two-line cell', async (t) => {
  const header = ['NAME', 'STATE', 'IPV4', 'IPV6', 'TYPE', 'SNAPSHOTS'];
  t.equal(
    renderTable(header, [], 'table'),
    [
      '+------+-------+------+------+------+-----------+',
      '| NAME | STATE | IPV4 | IPV6 | TYPE | SNAPSHOTS |',
      '+------+-------+------+------+------+-----------+',
      '',
    ].join('\n'),
  );
  t.equal(
    renderTable(header, [['c1', 'RUNNING', '10.0.0.2 (eth0)\n10.0.1.2 (eth1)', '', 'CONTAINER', '0']], 'table'),
    [
      '+------+---------+-----------------+------+-----------+-----------+',
      '| NAME |  STATE  |      IPV4       | IPV6 |   TYPE    | SNAPSHOTS |',
      '+------+---------+-----------------+------+-----------+-----------+',
      '| c1   | RUNNING | 10.0.0.2 (eth0) |      | CONTAINER | 0         |',
      '|      |         | 10.0.1.2 (eth1) |      |           |           |',
      '+------+---------+-----------------+------+-----------+-----------+',
      '',
    ].join('\n'),
  );
});

t.test('table: noheader, and nothing at all for no header and no rows', async (t) => {
  t.equal(renderTable(null, [['a', 'b']], 'table'), '+---+---+\n| a | b |\n+---+---+\n');
  t.equal(renderTable(null, [], 'table'), '');
});

t.test('compact: no borders or separators, cells padded by one space', async (t) => {
  t.equal(
    renderTable(HEADER, ROWS, 'compact'),
    [' NAME   AGE    CITY   ', ' Alice  25   New York ', ' Bob    30   Boston   ', ''].join('\n'),
  );
});

t.test('csv: Go encoding/csv quoting', async (t) => {
  t.equal(renderCsv(null, [['a', 'b c', '']]), 'a,b c,\n');
  t.equal(renderCsv(null, [['x,y', 'say "hi"', 'two\nlines', ' lead', '\\.']]), '"x,y","say ""hi""","two\nlines"," lead","\\."\n');
  t.equal(renderCsv(['N', 'S'], [['c1', 'RUNNING']]), 'N,S\nc1,RUNNING\n');
});

t.test('json: compact with Go HTML escaping', async (t) => {
  t.equal(renderJson([{ a: '<b>&' }]), '[{"a":"\\u003cb\\u003e\\u0026"}]\n');
  t.equal(renderJson(undefined), 'null\n');
  t.same(JSON.parse(renderJson({ k: 'x\u2028y' })), { k: 'x\u2028y' });
});

t.test('yaml: Go layout (sequences flush with their key, quoted ambiguous scalars)', async (t) => {
  t.equal(
    renderYaml({ name: 'c1', profiles: ['default'], config: {}, description: '', t: 'true', n: 3 }),
    'name: c1\nprofiles:\n- default\nconfig: {}\ndescription: ""\nt: "true"\nn: 3\n',
  );
});

t.test('parseFormat: formats, modifiers and Incus error messages', async (t) => {
  t.same(parseFormat('table'), { format: 'table', noHeader: false, header: false, raw: false });
  t.same(parseFormat('csv,header'), { format: 'csv', noHeader: false, header: true, raw: false });
  t.same(parseFormat('compact,noheader,raw'), { format: 'compact', noHeader: true, header: false, raw: true });
  t.throws(() => parseFormat('xml'), { message: 'Invalid value "xml" for flag "--format"' });
  t.throws(() => parseFormat('csv,bogus'), { message: 'Invalid modifier "bogus" on flag "--format" ("csv,bogus")' });
});

t.test('renderList dispatches on the format', async (t) => {
  const raw = [{ name: 'c1' }];
  t.equal(renderList(parseFormat('csv'), ['NAME'], [['c1']], raw), 'c1\n');
  t.equal(renderList(parseFormat('csv,header'), ['NAME'], [['c1']], raw), 'NAME\nc1\n');
  t.equal(renderList(parseFormat('json'), ['NAME'], [['c1']], raw), '[{"name":"c1"}]\n');
  t.equal(renderList(parseFormat('yaml'), ['NAME'], [['c1']], raw), '- name: c1\n');
  t.equal(renderList(parseFormat('table,noheader'), ['NAME'], [['c1']], raw), '+----+\n| c1 |\n+----+\n');
});

t.test('natural sort: numbers by value, empty cells last', async (t) => {
  t.ok(naturalLess('c2', 'c10'));
  t.notOk(naturalLess('c10', 'c2'));
  t.ok(naturalLess('a1', 'a01'), 'fewer leading zeros first');
  t.ok(naturalLess('1x', 'ax'), 'digits before letters');
  t.ok(naturalLess('ab', 'abc'));
  t.same(
    sortRowsNaturally([['c10', 'x'], ['c2', 'x'], ['', 'a'], ['c2', ''], ['c1', 'z']]),
    [['c1', 'z'], ['c2', 'x'], ['c2', ''], ['c10', 'x'], ['', 'a']],
  );
});

t.test('byte sizes as Incus units', async (t) => {
  t.equal(byteSizeIEC(1023), '1023B');
  t.equal(byteSizeIEC(1024), '1.00KiB');
  t.equal(byteSizeIEC(1536 * 1024), '1.50MiB');
  t.equal(byteSizeIEC(5 * 1024 ** 3), '5.00GiB');
  t.equal(byteSizeSI(999), '999B');
  t.equal(byteSizeSI(1500), '1.50kB');
});

function withTz(t: { teardown(fn: () => void): void }, tz: string): void {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  resetZoneCache();
  t.teardown(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
    resetZoneCache();
  });
}

t.test('dates: Go layout in local time, zero times', async (t) => {
  withTz(t, 'UTC');
  t.equal(formatDate('2024-03-23T20:05:00Z'), '2024/03/23 20:05 UTC');
  t.equal(formatDate('0001-01-01T00:00:00Z'), '');
  t.ok(isZeroTime(''));
  t.ok(isZeroTime('not a date'));
  t.notOk(isZeroTime('2024-03-23T20:05:00-04:00'));
});

const noTzdata = !fs.existsSync('/usr/share/zoneinfo/Europe/Paris') && 'no tzdata on this host';

t.test('dates: zone abbreviations from the zoneinfo rule, summer and winter', { skip: noTzdata }, async (t) => {
  withTz(t, 'Europe/Paris');
  t.equal(formatDate('2024-01-15T12:00:00Z'), '2024/01/15 13:00 CET');
  t.equal(formatDate('2024-07-15T12:00:00Z'), '2024/07/15 14:00 CEST');
});

t.test('dates: a POSIX rule in TZ works without a zone file', async (t) => {
  withTz(t, 'EST5EDT');
  t.equal(formatDate('2024-07-01T00:00:00Z'), '2024/06/30 20:00 EDT');
  t.equal(formatDate('2024-01-01T00:00:00Z'), '2023/12/31 19:00 EST');
});

t.test('POSIX rules and TZif footers', async (t) => {
  t.same(parsePosixRule('CET-1CEST,M3.5.0,M10.5.0/3'), { std: 'CET', stdOffset: 60, dst: 'CEST' });
  t.same(parsePosixRule('IST-5:30'), { std: 'IST', stdOffset: 330, dst: undefined });
  t.same(parsePosixRule('<-03>3'), { std: '-03', stdOffset: -180, dst: undefined });
  t.same(parsePosixRule('EST5EDT,M3.2.0,M11.1.0'), { std: 'EST', stdOffset: -300, dst: 'EDT' });
  t.equal(parsePosixRule('garbage'), null);
  const file = Buffer.concat([Buffer.from('TZif2'), Buffer.alloc(60), Buffer.from('\nUTC0\n')]);
  t.equal(tzifFooter(file), 'UTC0');
  t.equal(tzifFooter(Buffer.from('not a tzif file at all, no sir, not at all.....\n')), null);
});

t.test('orderKeys puts an instance in Go field order with sorted maps', async (t) => {
  const inst = {
    name: 'c1',
    status: 'Running',
    state: { pid: 1, status: 'Running', memory: { total: 0, usage: 5 } },
    config: { 'volatile.b': '2', 'image.os': 'x' },
    architecture: 'x86_64',
    extra: true,
  };
  const out = orderKeys(inst, instanceFullShape) as Record<string, unknown>;
  t.same(Object.keys(out), ['architecture', 'config', 'name', 'status', 'state', 'extra']);
  t.same(Object.keys(out.config as object), ['image.os', 'volatile.b']);
  const state = out.state as Record<string, unknown>;
  t.same(Object.keys(state), ['status', 'memory', 'pid']);
  t.same(Object.keys(state.memory as object), ['usage', 'total']);
});
