/**
 * Positional arguments of `config`, `profile` and `device` commands, split
 * the way Incus's usage parser splits them: `key=value` pairs (or the
 * deprecated `key value` form), an optional leading instance for
 * `config set|get|unset` (found by parsing from the right), and `-` as a
 * value read from stdin.
 */

/** Incus's quoting in argument errors: “x”. */
export function curly(s: string): string {
  return `“${s}”`;
}

/** What a key/value list parse found. */
export interface KeyValueArgs {
  /** Pairs in command-line order. */
  pairs: Array<[string, string]>;
  /** Arguments left over, in command-line order. */
  rest: string[];
  /** How many pairs used the deprecated `key value` form. */
  deprecated: number;
}

/** The warning Incus prints for each `key value` pair. */
export const DEPRECATED_KV_WARNING =
  'Warning: the “<key> <value>” syntax is deprecated; please switch to the “<key>=<value>” syntax\n';

function splitPair(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  return [arg.slice(0, eq), arg.slice(eq + 1)];
}

/** `not enough arguments; expected a value for “<what>”` */
export function notEnoughArguments(what: string): Error {
  return new Error(`not enough arguments; expected a value for ${curly(what)}`);
}

/** `too many arguments; unexpected “a b”` */
export function tooManyArguments(args: readonly string[]): Error {
  const shown = args.map((a) => (a.includes(' ') ? JSON.stringify(a) : a)).join(' ');
  return new Error(`too many arguments; unexpected ${curly(shown)}`);
}

/**
 * Parses key/value pairs from the left (`device add`, `device set`): each
 * argument with `=` is one pair (split at the first `=`), otherwise it and
 * the next argument are a deprecated `key value` pair. Parsing stops at the
 * first argument that fits neither; it and the rest come back in `rest`.
 * @throws Error when fewer than `min` pairs are found.
 */
export function parseKeyValuesLeft(args: readonly string[], min: number): KeyValueArgs {
  const out: KeyValueArgs = { pairs: [], rest: [...args], deprecated: 0 };
  while (out.rest.length > 0) {
    const first = out.rest[0]!;
    if (first.includes('=')) {
      out.pairs.push(splitPair(first));
      out.rest.shift();
    } else if (out.rest.length >= 2) {
      out.pairs.push([first, out.rest[1]!]);
      out.rest.splice(0, 2);
      out.deprecated++;
    } else break;
  }
  if (out.pairs.length < min) {
    if (out.rest.length === 0) throw notEnoughArguments('<key>=<value>');
    throw new Error(`unexpected ${curly(out.rest[0]!)}`);
  }
  return out;
}

/**
 * Parses key/value pairs from the right (`config set`): the last argument
 * with `=` is a pair, else it and the one before it are a deprecated
 * `key value` pair; repeated while arguments fit. What is left at the front
 * comes back in `rest` (the instance, if any).
 * @throws Error when fewer than `min` pairs are found.
 */
export function parseKeyValuesRight(args: readonly string[], min: number): KeyValueArgs {
  const out: KeyValueArgs = { pairs: [], rest: [...args], deprecated: 0 };
  while (out.rest.length > 0) {
    const last = out.rest[out.rest.length - 1]!;
    if (last.includes('=')) {
      out.pairs.unshift(splitPair(last));
      out.rest.pop();
    } else if (out.rest.length >= 2) {
      out.pairs.unshift([out.rest[out.rest.length - 2]!, last]);
      out.rest.splice(-2, 2);
      out.deprecated++;
    } else break;
  }
  if (out.pairs.length < min) {
    if (out.rest.length === 0) throw notEnoughArguments('<key>=<value>');
    throw new Error(`unexpected ${curly(out.rest[out.rest.length - 1]!)}`);
  }
  return out;
}

/** An optional `[<remote>:]<instance>` followed by key/value pairs (`config set`). */
export interface TargetedPairs {
  /** The instance, or undefined for the server. */
  target?: string;
  pairs: Array<[string, string]>;
  deprecated: number;
}

/**
 * Splits `config set` arguments: pairs from the right; what is left (at
 * most one argument, since any two would make a `key value` pair) is the
 * instance. So `config set a b c=1` sets two server keys, as in Incus.
 * @throws Error when there is no pair at all.
 */
export function parseConfigSetArgs(args: readonly string[]): TargetedPairs {
  const kv = parseKeyValuesRight(args, 1);
  return { target: kv.rest[0], pairs: kv.pairs, deprecated: kv.deprecated };
}

/**
 * Splits `config get` arguments: the key is last, an instance may come
 * before it.
 */
export function parseConfigGetArgs(args: readonly string[]): { target?: string; key: string } {
  if (args.length === 0) throw notEnoughArguments('<key>');
  if (args.length > 2) throw tooManyArguments(args.slice(0, -2));
  return args.length === 2 ? { target: args[0], key: args[1]! } : { key: args[0]! };
}

/**
 * Splits `config unset` arguments as Incus does: one argument is a server
 * key; with more, the first is the instance and the rest are keys.
 */
export function parseConfigUnsetArgs(args: readonly string[]): { target?: string; keys: string[] } {
  if (args.length === 0) throw notEnoughArguments('<key>');
  if (args.length === 1) return { keys: [args[0]!] };
  return { target: args[0], keys: args.slice(1) };
}

/**
 * Turns pairs into a map, later pairs winning. A value of `-` is replaced by
 * all of stdin when stdin is not a terminal (once only).
 * @throws Error `Cannot read the stdin twice` for a second `-`.
 */
export function pairsToMap(
  pairs: ReadonlyArray<readonly [string, string]>,
  stdin?: { isTerminal(): boolean; read(): string },
): Record<string, string> {
  const out: Record<string, string> = {};
  let read = false;
  for (const [key, value] of pairs) {
    let v = value;
    if (v === '-' && stdin && !stdin.isTerminal()) {
      if (read) throw new Error('Cannot read the stdin twice');
      v = stdin.read();
      read = true;
    }
    out[key] = v;
  }
  return out;
}

/**
 * The profile list of `profile assign`: each argument may hold several
 * names separated by commas (the older syntax); empty names are dropped, so
 * `""` alone means no profiles.
 */
export function parseProfileList(args: readonly string[]): string[] {
  return args.flatMap((a) => a.split(',')).filter((p) => p !== '');
}
