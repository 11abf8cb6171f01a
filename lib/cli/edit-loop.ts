/**
 * The `edit` command flow shared by `config edit` and `profile edit`: YAML
 * from stdin when stdin is not a terminal, otherwise the user's editor,
 * reopened after a parse error or a refused update (as Incus does), with
 * the error also written as comment lines at the top of the text.
 */
import type { Terminal } from './terminal';

/** One object being edited. */
export interface EditSession<T> {
  /** The text the editor opens with. */
  text: string;
  /** Parses edited text. @throws Error on YAML that does not fit. */
  decode(text: string): T;
  /** True when saving `value` would change nothing, so no request is sent. */
  unchanged(value: T): boolean;
  /** Sends `value` to the server. @throws Error when the server refuses it. */
  save(value: T): Promise<void>;
}

/** Where the loop prints its prompts. */
export interface EditOutput {
  out(text: string): void;
  err(text: string): void;
}

const ERROR_PREFIX = '# Error: ';

/**
 * `content` with `message` as `# Error: ` comment lines at the top, in
 * place of those a previous round added.
 */
export function withErrorComment(content: string, message: string): string {
  const lines = content.split('\n');
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(ERROR_PREFIX)) i++;
  const note = message.split('\n').map((l) => ERROR_PREFIX + l);
  return [...note, ...lines.slice(i)].join('\n');
}

/**
 * Opens the editor on `session.text` and saves the result. On a parse error
 * or a refused save it prints `Config parsing error: ...`, waits for a key
 * and reopens the editor on the text as it was left, until a save succeeds
 * (or the user aborts with ^C, or stdin closes).
 */
export async function editInteractively<T>(io: EditOutput, term: Terminal, session: EditSession<T>): Promise<void> {
  let content = term.edit(session.text);
  for (;;) {
    try {
      const value = session.decode(content);
      if (!session.unchanged(value)) await session.save(value);
      return;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      io.err(`Config parsing error: ${message}\n`);
      io.out('Press enter to open the editor again or ctrl+c to abort change\n');
      term.waitForKey();
      content = term.edit(withErrorComment(content, message));
    }
  }
}

/**
 * Runs an edit: from stdin when it is not a terminal (decoded and saved
 * as given, like Incus), else through the editor loop.
 */
export async function runEdit<T>(io: EditOutput, term: Terminal, session: () => Promise<EditSession<T>>, fromStdin: (text: string) => Promise<void>): Promise<void> {
  if (!term.stdinIsTerminal()) {
    await fromStdin(term.readStdin());
    return;
  }
  await editInteractively(io, term, await session());
}
