/**
 * User-defined command aliases (`aliases:` in config.yml), expanded as
 * Incus's main_aliases.go expands them: the longest matching alias wins,
 * `@ARGS@` takes the remaining arguments (appended at the end otherwise),
 * `@ARGn@` one of them; the result runs once more without expansion
 * (INCUS_ALIASES=1), or as an external command when it starts with "/".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configDir } from './remotes/config';

/** Aliases Incus has without configuration (listed by `incus alias list`). */
export const DEFAULT_ALIASES: Readonly<Record<string, string>> = { shell: 'exec @ARGS@ -- su -l' };

/** Global flags that take a value, so the word after them is no command. */
const VALUE_FLAGS = new Set(['--project']);

/** Splits like go-shellquote (quotes and backslashes), or null on unbalanced quotes. */
export function shellSplit(s: string): string[] | null {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < s.length && '$`"\\\n'.includes(s[i + 1]!)) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur !== '') out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
    }
  }
  if (quote) return null;
  if (has || cur !== '') out.push(cur);
  return out;
}

/** The alias matching the words at the start of `words`: its key and value, longest key first. */
export function findAlias(aliases: Readonly<Record<string, string>>, words: readonly string[]): { key: string[]; value: string[] } | null {
  const names = Object.keys(aliases)
    .sort()
    .sort((a, b) => b.split(' ').length - a.split(' ').length);
  for (const name of names) {
    const key = name.split(' ');
    if (key.every((k, i) => words[i] === k)) {
      const v = aliases[name]!;
      return { key, value: shellSplit(v) ?? v.split(' ') };
    }
  }
  return null;
}

/** What an alias expands to: arguments for the incus CLI, or an external command line. */
export type Expansion = { kind: 'incus'; args: string[] } | { kind: 'external'; args: string[] };

/** Expands `argv` (without the program name) with `aliases`; null when no alias applies. */
export function expandAlias(aliases: Readonly<Record<string, string>>, argv: readonly string[]): Expansion | null {
  let first = 0;
  while (first < argv.length && argv[first]!.startsWith('-') && argv[first] !== '-') {
    if (argv[first] === '--') return null;
    first += VALUE_FLAGS.has(argv[first]!) ? 2 : 1;
  }
  if (first >= argv.length) return null;
  const flags = argv.slice(0, first);
  const words = argv.slice(first);
  const found = findAlias(aliases, words);
  if (!found || found.value.length === 0) return null;
  let atArgs = words.slice(found.key.length);
  const numbered = new Map<number, string>();
  for (const arg of found.value) {
    for (const m of arg.matchAll(/@ARG(\d+)@/g)) {
      const n = Number(m[1]);
      if (n > atArgs.length || n < 1) throw new Error(`Found alias "${found.key.join(' ')}" references an argument outside the given number`);
      numbered.set(n, atArgs[n - 1]!);
    }
  }
  atArgs = atArgs.filter((_, i) => !numbered.has(i + 1));
  const out = [...flags];
  let replacedArgs = false;
  for (const arg of found.value) {
    if (arg === '@ARGS@') {
      out.push(...atArgs);
      replacedArgs = true;
    } else {
      out.push(arg.replace(/@ARG(\d+)@/g, (_, n: string) => numbered.get(Number(n)) ?? ''));
    }
  }
  if (!replacedArgs) out.push(...atArgs);
  return found.value[0]!.startsWith('/') ? { kind: 'external', args: out } : { kind: 'incus', args: out };
}

/**
 * The user's aliases from config.yml, read without the YAML parser when the
 * file has none (most runs), so that plain commands pay nothing for them.
 */
export function userAliases(env: NodeJS.ProcessEnv): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(path.join(configDir(env), 'config.yml'), 'utf8');
  } catch {
    return {};
  }
  if (!/^aliases:[ \t]*(?:#.*)?\r?\n[ \t]+\S/m.test(text) && !/^aliases:[ \t]*\{[ \t]*[^}\s]/m.test(text)) return {};
  let doc: { aliases?: unknown } | null;
  try {
    doc = (require('yaml') as typeof import('yaml')).parse(text) as { aliases?: unknown } | null;
  } catch (err) {
    throw new Error(`Failed to load configuration: ${(err as Error).message}`);
  }
  const a = doc?.aliases;
  return a && typeof a === 'object' ? Object.fromEntries(Object.entries(a as Record<string, unknown>).map(([k, v]) => [k, String(v)])) : {};
}
