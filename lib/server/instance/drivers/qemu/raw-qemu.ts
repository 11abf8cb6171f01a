/**
 * `raw.qemu`: extra QEMU arguments written as a POSIX-shell-like string and
 * split into words (quotes and backslashes as a shell treats them, no
 * expansion), the way Incus splits it with go-shellquote.
 */

/** Splits `raw.qemu` into argv words; throws on an unterminated quote or escape. */
export function splitRawQemu(input: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 >= input.length) throw new Error('Unterminated backslash-escape in raw.qemu');
      // A backslash-newline is a line continuation.
      if (input[i + 1] !== '\n') word += input[i + 1];
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = input.indexOf("'", i + 1);
      if (end < 0) throw new Error('Unterminated single-quoted string in raw.qemu');
      word += input.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      for (;;) {
        if (i >= input.length) throw new Error('Unterminated double-quoted string in raw.qemu');
        const d = input[i];
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < input.length && '$`"\\\n'.includes(input[i + 1])) {
          if (input[i + 1] !== '\n') word += input[i + 1];
          i += 2;
          continue;
        }
        word += d;
        i++;
      }
      continue;
    }
    word += c;
    i++;
  }
  if (inWord) words.push(word);
  return words;
}

/** Whether raw.qemu brings its own boot code (`-bios` or `-kernel`), so no UEFI firmware is set up. */
export function rawQemuReplacesFirmware(words: readonly string[]): boolean {
  return words.includes('-bios') || words.includes('-kernel');
}
