import t from 'tap';
import { parseConsolePost } from '../../../lib/server/http/routes/instance-console';
import { StatusError } from '../../../lib/server/errors';

t.test('defaults as Incus decodes an empty request', async (t) => {
  t.same(parseConsolePost(undefined), { width: 0, height: 0, type: 'console', force: false });
  t.same(parseConsolePost({ type: '' }), { width: 0, height: 0, type: 'console', force: false });
  t.same(parseConsolePost({ width: 80, height: 24, type: 'vga', force: true }), { width: 80, height: 24, type: 'vga', force: true });
});

t.test('bad fields are 400s naming the field', async (t) => {
  const bad = (body: unknown, re: RegExp) => {
    let err: unknown = null;
    try {
      parseConsolePost(body);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof StatusError && err.status === 400, `400 for ${JSON.stringify(body)}`);
    t.match((err as Error).message, re);
  };
  bad({ type: 'serial' }, /^Unknown console type "serial"$/);
  bad({ width: '80' }, /"width"/);
  bad({ height: 1.5 }, /"height"/);
  bad({ force: 'yes' }, /"force"/);
  bad([], /expected an object/);
});
