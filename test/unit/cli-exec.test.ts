/** `incus exec` flag handling: terminal mode, --env, uint32 ids, the shell alias. */
import t from 'tap';
import { type ExecFlags, SHELL_COMMAND, interactiveMode, parseEnvFlags, parseUint32 } from '../../lib/cli/commands/exec';

const auto: ExecFlags = { mode: 'auto' };

t.test('interactive when both stdin and stdout are terminals, unless told', async (t) => {
  t.equal(interactiveMode(auto, true, true), true);
  t.equal(interactiveMode(auto, true, false), false);
  t.equal(interactiveMode(auto, false, true), false);
  t.equal(interactiveMode({ ...auto, forceInteractive: true }, false, false), true, '-t');
  t.equal(interactiveMode({ ...auto, forceNoninteractive: true }, true, true), false, '-T');
  t.equal(interactiveMode({ mode: 'interactive' }, false, false), true);
  t.equal(interactiveMode({ mode: 'non-interactive' }, true, true), false);
  t.equal(interactiveMode({ ...auto, disableStdin: true, forceInteractive: true }, true, true), false, '-n wins');
  t.throws(() => interactiveMode({ ...auto, forceInteractive: true, forceNoninteractive: true }, true, true), {
    message: "You can't pass -t and -T at the same time",
  });
  t.throws(() => interactiveMode({ mode: 'interactive', forceInteractive: true }, true, true), {
    message: "You can't pass -t or -T at the same time as --mode",
  });
  t.throws(() => interactiveMode({ mode: 'sometimes' }, true, true), { message: 'Invalid mode "sometimes"' });
});

t.test('--env K=V', async (t) => {
  t.same(parseEnvFlags(['A=1', 'B=x=y', 'C', 'A=2']), { A: '2', B: 'x=y', C: '' });
  t.same(parseEnvFlags(undefined), {});
});

t.test('--user / --group take uint32 values', async (t) => {
  t.equal(parseUint32('0'), 0);
  t.equal(parseUint32('4294967295'), 4294967295);
  t.throws(() => parseUint32('4294967296'));
  t.throws(() => parseUint32('-1'));
  t.throws(() => parseUint32('root'));
});

t.test('incus shell runs su -l, as Incus\'s alias does', async (t) => {
  t.same(SHELL_COMMAND, ['su', '-l']);
});
