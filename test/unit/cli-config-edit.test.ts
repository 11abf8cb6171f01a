/**
 * The edit flow: the editor is a real shell script run on a real temp file;
 * the loop reopens it after a failed save with the error on top, sends
 * nothing for unchanged text, and reads stdin when it is not a terminal.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import t from 'tap';
import { editInteractively, runEdit, withErrorComment, type EditSession } from '../../lib/cli/edit-loop';
import { editorCommand, runTextEditor, type Terminal } from '../../lib/cli/terminal';
import { decodeYaml, PROFILE_PUT } from '../../lib/cli/yaml-decode';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-edit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An editor script: logs each call (path and content) into `dir`, then runs `body` on "$1". */
function editorScript(dir: string, body: string): string {
  const file = path.join(dir, 'editor.sh');
  fs.writeFileSync(
    file,
    `#!/bin/sh\nn=$(cat "${dir}/calls" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/calls"\n` +
      `echo "$1" > "${dir}/path.$n"; cp "$1" "${dir}/seen.$n"\n${body}\n`,
    { mode: 0o755 },
  );
  return file;
}

const calls = (dir: string): number => Number(fs.readFileSync(path.join(dir, 'calls'), 'utf8'));

t.test('editor choice: VISUAL, then EDITOR (split on spaces), then PATH', async (t) => {
  t.same(editorCommand({ VISUAL: 'vis', EDITOR: 'ed' }), ['vis']);
  t.same(editorCommand({ EDITOR: 'vim -u NONE' }), ['vim', '-u', 'NONE']);
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'nano'), '#!/bin/sh\n', { mode: 0o755 });
  t.same(editorCommand({ PATH: dir }), ['nano']);
  t.throws(() => editorCommand({ PATH: '' }), { message: 'No text editor found, please set the EDITOR environment variable' });
});

t.test('the editor edits a private temp .yaml file that is removed afterwards', async (t) => {
  const dir = tempDir(t);
  const editor = editorScript(dir, `stat -c %a "$1" > "${dir}/mode"; echo 'added: line' >> "$1"`);
  const out = runTextEditor('config: {}\n', { ...process.env, EDITOR: editor, VISUAL: '' });
  t.equal(out, 'config: {}\nadded: line\n');
  const used = fs.readFileSync(path.join(dir, 'path.1'), 'utf8').trim();
  t.match(used, /\.yaml$/);
  t.equal(fs.readFileSync(path.join(dir, 'mode'), 'utf8').trim(), '600');
  t.notOk(fs.existsSync(used), 'temp file removed');
  const failing = editorScript(dir, 'exit 3');
  t.throws(() => runTextEditor('x', { ...process.env, EDITOR: failing, VISUAL: '' }), { message: 'exit status 3' });
});

t.test('withErrorComment puts the error on top and replaces an earlier one', async (t) => {
  const once = withErrorComment('a: 1\n', 'bad thing\nsecond line');
  t.equal(once, '# Error: bad thing\n# Error: second line\na: 1\n');
  t.equal(withErrorComment(once, 'other'), '# Error: other\na: 1\n');
});

interface Recorder {
  out: string;
  err: string;
}

function terminalFor(editor: string, keys: { n: number }): Terminal {
  return {
    stdinIsTerminal: () => true,
    readStdin: () => '',
    waitForKey: () => void keys.n++,
    edit: (content) => runTextEditor(content, { ...process.env, EDITOR: editor, VISUAL: '' }),
  };
}

t.test('a refused save reopens the editor with the error; the fix is saved', async (t) => {
  const dir = tempDir(t);
  // First call: invalid value; second call: fixed.
  const editor = editorScript(
    dir,
    `if [ $n = 1 ]; then sed -i 's/limits.memory: .*/limits.memory: lots/' "$1"; else sed -i 's/limits.memory: lots/limits.memory: 96MiB/' "$1"; fi`,
  );
  const keys = { n: 0 };
  const rec: Recorder = { out: '', err: '' };
  const saved: Array<Record<string, unknown>> = [];
  const session: EditSession<{ config: Record<string, string> }> = {
    text: 'config:\n  limits.memory: 64MiB\ndescription: ""\ndevices: {}\n',
    decode: (text) => decodeYaml(text, PROFILE_PUT),
    unchanged: () => false,
    save: async (put) => {
      if (put.config['limits.memory'] === 'lots') throw new Error('Invalid value for "limits.memory": lots');
      saved.push(put);
    },
  };
  await editInteractively({ out: (s) => (rec.out += s), err: (s) => (rec.err += s) }, terminalFor(editor, keys), session);
  t.equal(calls(dir), 2, 'editor opened twice');
  t.equal(keys.n, 1, 'waited for one key press');
  t.equal(rec.err, 'Config parsing error: Invalid value for "limits.memory": lots\n');
  t.equal(rec.out, 'Press enter to open the editor again or ctrl+c to abort change\n');
  const second = fs.readFileSync(path.join(dir, 'seen.2'), 'utf8');
  t.match(second, /^# Error: Invalid value for "limits.memory": lots\nconfig:\n  limits.memory: lots\n/, 'reopened on the edited text, error on top');
  t.same(saved, [{ config: { 'limits.memory': '96MiB' }, description: '', devices: {} }]);
});

t.test('YAML errors reopen the editor too; unchanged text saves nothing', async (t) => {
  const dir = tempDir(t);
  const editor = editorScript(dir, `if [ $n = 1 ]; then echo 'config: [' > "$1"; else sed -i '/^# Error/d' "$1"; printf 'config: {}\\n' > "$1"; fi`);
  const keys = { n: 0 };
  const rec: Recorder = { out: '', err: '' };
  let saves = 0;
  await editInteractively({ out: (s) => (rec.out += s), err: (s) => (rec.err += s) }, terminalFor(editor, keys), {
    text: 'config: {}\n',
    decode: (text) => decodeYaml<{ config: Record<string, string> }>(text, PROFILE_PUT),
    unchanged: (put) => Object.keys(put.config).length === 0,
    save: async () => void saves++,
  });
  t.equal(calls(dir), 2);
  t.match(rec.err, /^Config parsing error: yaml: /);
  t.equal(saves, 0, 'the text ended unchanged: nothing sent');
});

t.test('stdin that is not a terminal is read instead of opening an editor', async (t) => {
  let got = '';
  const term: Terminal = {
    stdinIsTerminal: () => false,
    readStdin: () => 'config:\n  user.a: b\n',
    waitForKey: () => t.fail('no prompt'),
    edit: () => t.fail('no editor') as never,
  };
  await runEdit(
    { out: () => undefined, err: () => undefined },
    term,
    async () => t.fail('no session') as never,
    async (text) => void (got = text),
  );
  t.equal(got, 'config:\n  user.a: b\n');
});
