/** How the companion tools end: commander's own exit code, or `Error: message` and 1. */
import { type Command, CommanderError } from 'commander';

/** Parses `argv` with `program` (built with exitOverride) and sets the process exit code. */
export async function runProgram(program: Command, argv: readonly string[]): Promise<void> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
