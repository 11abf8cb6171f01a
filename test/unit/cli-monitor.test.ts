/** `incus monitor` rendering: yaml/json documents, Go value text, logrus lines and level filtering. */
import t from 'tap';
import type { Event } from '../../lib/api/event';
import { eventLogRecord, goYamlKeyLess, goYamlQuotes, renderEventJson, renderEventYaml } from '../../lib/cli/format/event';
import { goFloat, goQuote, goRfc3339, goRfc3339Nano, goTimeString, goValue } from '../../lib/cli/format/go-text';
import { levelPasses, parseLogLevel, renderLogText } from '../../lib/cli/format/log-text';

const lifecycle: Event = {
  type: 'lifecycle',
  timestamp: '2026-12-04T14:51:18.120Z',
  metadata: {
    source: '/1.0/instances/c1',
    action: 'instance-started',
    context: { command: ['sh', '-c'], size: 1073741824, ok: true, note: 'yes' },
    requestor: { username: 'root', protocol: 'unix', address: '@' },
    project: 'default',
    name: 'c1',
  },
  location: 'none',
  project: 'default',
};

t.test('go-text', async (t) => {
  t.equal(goFloat(200), '200');
  t.equal(goFloat(123456), '123456');
  t.equal(goFloat(1000000), '1e+06');
  t.equal(goFloat(1073741824), '1.073741824e+09');
  t.equal(goFloat(0.0001), '0.0001');
  t.equal(goFloat(0.00001), '1e-05');
  t.equal(goFloat(1.5), '1.5');
  t.equal(goValue({ b: [1, 'x'], a: null, c: { z: false } }), 'map[a:<nil> b:[1 x] c:map[z:false]]');
  t.equal(goQuote('a "b"\n\x1b é\u2028'), '"a \\"b\\"\\n\\x1b é\\u2028"');
  t.equal(goRfc3339Nano('2026-12-04T14:51:18.120Z'), '2026-12-04T14:51:18.12Z');
  t.equal(goRfc3339Nano('2026-12-04T14:51:18.000+00:00'), '2026-12-04T14:51:18Z');
  t.equal(goRfc3339Nano('2026-12-04T14:51:18.5-05:30'), '2026-12-04T14:51:18.5-05:30');
  t.equal(goRfc3339('2026-12-04T14:51:18.999Z'), '2026-12-04T14:51:18Z');
  t.equal(goTimeString('2026-12-04T14:51:18.120Z'), '2026-12-04 14:51:18.12 +0000 UTC');
  t.equal(goTimeString('2026-12-04T14:51:18+01:00'), '2026-12-04 14:51:18 +0100 +0100');
});

t.test('yaml key order and quoting follow Go', async (t) => {
  const sorted = ['b10', 'a', 'b2', 'B', '_x', 'a_b', 'ab'].sort((x, y) => (goYamlKeyLess(x, y) ? -1 : 1));
  t.same(sorted, ['_x', 'B', 'a', 'a_b', 'ab', 'b2', 'b10']);
  for (const s of ['', 'yes', 'Off', 'null', 'true', '12', '0x1f', '1_000', '1.5e3', '.5', '2026-12-04T14:51:18Z', '2026-1-2', '<<', '-.inf']) {
    t.ok(goYamlQuotes(s), `${JSON.stringify(s)} is quoted`);
  }
  for (const s of ['instance-started', '/1.0/instances/c1', 'yesno', '12a', '-', '.', 'x.5']) t.notOk(goYamlQuotes(s), `${JSON.stringify(s)} is plain`);
});

t.test('yaml document', async (t) => {
  t.equal(
    renderEventYaml(lifecycle),
    [
      'location: none',
      'metadata:',
      '  action: instance-started',
      '  context:',
      '    command:',
      '    - sh',
      '    - -c',
      '    note: "yes"',
      '    ok: true',
      '    size: 1.073741824e+09',
      '  name: c1',
      '  project: default',
      '  requestor:',
      '    address: "@"',
      '    protocol: unix',
      '    username: root',
      '  source: /1.0/instances/c1',
      'project: default',
      'timestamp: "2026-12-04T14:51:18.12Z"',
      'type: lifecycle',
      '',
      '',
      '',
    ].join('\n'),
  );
});

t.test('json line', async (t) => {
  const line = renderEventJson({ ...lifecycle, location: '', metadata: { message: 'a<b', level: 'info', context: {} } });
  t.equal(line, '{"metadata":{"context":{},"level":"info","message":"a\\u003cb"},"project":"default","timestamp":"2026-12-04T14:51:18.12Z","type":"lifecycle"}\n\n');
});

t.test('log records', async (t) => {
  const rec = eventLogRecord(lifecycle);
  t.equal(rec.level, 'info');
  t.equal(rec.message, 'Action: instance-started, Source: /1.0/instances/c1, Requestor: unix/root (@)');
  t.same(rec.context, { command: '[sh -c]', size: '1.073741824e+09', ok: 'true', note: 'yes' });

  const log = eventLogRecord({ ...lifecycle, type: 'logging', metadata: { message: 'Scheduled snapshot failed', level: 'warning', context: { instance: 'c1' } } });
  t.same(log, { time: lifecycle.timestamp, level: 'warning', message: 'Scheduled snapshot failed', context: { instance: 'c1' } });

  const op = eventLogRecord({
    ...lifecycle,
    type: 'operation',
    metadata: {
      id: 'u1',
      class: 'task',
      description: 'Starting instance',
      created_at: '2026-12-04T14:51:18Z',
      updated_at: '2026-12-04T14:51:18.5Z',
      status: 'Running',
      status_code: 103,
      resources: { instances: ['/1.0/instances/c1'] },
      metadata: null,
      may_cancel: false,
      err: '',
      location: 'none',
    },
  });
  t.equal(op.message, 'ID: u1, Class: task, Description: Starting instance');
  t.same(op.context, {
    CreatedAt: '2026-12-04 14:51:18 +0000 UTC',
    UpdatedAt: '2026-12-04 14:51:18.5 +0000 UTC',
    Status: 'Running',
    StatusCode: 'Running',
    Resources: 'map[instances:[/1.0/instances/c1]]',
    Metadata: 'map[]',
    MayCancel: 'false',
    Err: '',
    Location: 'none',
  });
  t.throws(() => eventLogRecord({ ...lifecycle, type: 'other' as Event['type'] }), /Not supported event type: other/);
});

t.test('logrus text', async (t) => {
  const entry = { time: '2026-12-04T14:51:18.12Z', level: 'warning' as const, message: 'Scheduled snapshot failed', fields: { instance: 'c1', err: 'bad {{ x }}', msg: 'm' } };
  t.equal(
    renderLogText(entry, false),
    'time="2026-12-04T14:51:18Z" level=warning msg="Scheduled snapshot failed" err="bad {{ x }}" fields.msg=m instance=c1\n',
  );
  t.equal(
    renderLogText({ ...entry, fields: { instance: 'c1' } }, true),
    `\x1b[33mWARNING\x1b[0m[2026-12-04T14:51:18Z] ${'Scheduled snapshot failed'.padEnd(44)}  \x1b[33minstance\x1b[0m=c1\n`,
  );
  t.equal(renderLogText({ ...entry, level: 'info', message: '', fields: {} }, false), 'time="2026-12-04T14:51:18Z" level=info\n');
});

t.test('levels', async (t) => {
  t.equal(parseLogLevel('WARN'), 'warning');
  t.equal(parseLogLevel('Info'), 'info');
  t.throws(() => parseLogLevel('loud'), { message: 'not a valid logrus Level: "loud"' });
  t.ok(levelPasses('error', 'warning'));
  t.ok(levelPasses('warning', 'warning'));
  t.notOk(levelPasses('info', 'warning'));
  t.notOk(levelPasses('trace', 'debug'));
});
