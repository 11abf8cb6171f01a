/**
 * The question-and-answer loop of interactive `incus admin init`, as Incus's
 * shared/ask Asker: the question goes to stdout, one line is read from the
 * input (node's readline, so piped answers work), an empty answer takes the
 * default, and an invalid one is reported on stderr before asking again.
 * The end of the input is an error ("EOF"), as Go's bufio reader makes it.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Writer } from './context';

export class Asker {
  private readonly rl: Interface;
  private readonly lines: AsyncIterator<string>;

  constructor(
    input: NodeJS.ReadableStream,
    private readonly out: Writer,
    private readonly err: Writer,
  ) {
    this.rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
    this.lines = this.rl[Symbol.asyncIterator]();
  }

  /** Stops reading the input. */
  close(): void {
    this.rl.close();
  }

  private async ask(question: string, defaultAnswer: string): Promise<string> {
    this.out.write(question);
    const next = await this.lines.next();
    if (next.done) throw new Error('EOF');
    const answer = next.value.trim();
    return answer === '' ? defaultAnswer : answer;
  }

  private invalid(why?: string): void {
    this.err.write(why === undefined ? 'Invalid input, try again.\n\n' : `Invalid input: ${why}\n\n`);
  }

  /** A yes/no question (yes, y, no, n in any case). */
  async askBool(question: string, defaultAnswer: string): Promise<boolean> {
    for (;;) {
      const a = (await this.ask(question, defaultAnswer)).toLowerCase();
      if (a === 'yes' || a === 'y') return true;
      if (a === 'no' || a === 'n') return false;
      this.invalid();
    }
  }

  /** One of `choices`, exactly. */
  async askChoice(question: string, choices: string[], defaultAnswer: string): Promise<string> {
    for (;;) {
      const a = await this.ask(question, defaultAnswer);
      if (choices.includes(a)) return a;
      this.invalid();
    }
  }

  /** An integer within [min, max] (-1: no bound) that `validate` accepts (it returns a reason to refuse, or null). */
  async askInt(question: string, min: number, max: number, defaultAnswer: string, validate?: (n: number) => Promise<string | null>): Promise<number> {
    for (;;) {
      const a = await this.ask(question, defaultAnswer);
      if (!/^[+-]?\d+$/.test(a) || !Number.isSafeInteger(Number(a))) {
        this.invalid(`strconv.ParseInt: parsing ${JSON.stringify(a)}: ${/^[+-]?\d+$/.test(a) ? 'value out of range' : 'invalid syntax'}`);
        continue;
      }
      const n = Number(a);
      if ((min > -1 && n < min) || (max > -1 && n > max)) {
        this.invalid('out of range');
        continue;
      }
      const why = validate ? await validate(n) : null;
      if (why !== null) {
        this.invalid(why);
        continue;
      }
      return n;
    }
  }

  /** A string `validate` accepts (it returns a reason to refuse, or null); without a validator any non-empty answer. */
  async askString(question: string, defaultAnswer: string, validate?: (s: string) => string | null): Promise<string> {
    for (;;) {
      const a = await this.ask(question, defaultAnswer);
      if (validate) {
        const why = validate(a);
        if (why === null) return a;
        this.invalid(why);
        continue;
      }
      if (a !== '') return a;
      this.invalid();
    }
  }
}
