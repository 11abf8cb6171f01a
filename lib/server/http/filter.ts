/**
 * The API's `filter` query parameter: `field eq value` clauses joined with
 * `and` / `or`, optionally negated with `not`; fields may be nested with
 * dots (config.image.os). Evaluated left to right.
 */
import { badRequest } from '../errors';

interface Clause {
  not: boolean;
  field: string;
  op: 'eq' | 'ne';
  value: string;
}

type Expr = { clauses: Clause[]; joins: ('and' | 'or')[] };

function tokenize(s: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:"([^"]*)"|'([^']*)'|(\S+))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    if (m[0].trim() === '') break;
    out.push(m[1] ?? m[2] ?? m[3]);
  }
  return out;
}

export function parseFilter(text: string): Expr {
  const t = tokenize(text);
  const expr: Expr = { clauses: [], joins: [] };
  let i = 0;
  while (i < t.length) {
    let not = false;
    if (t[i] === 'not') {
      not = true;
      i++;
    }
    const [field, op, value] = [t[i], t[i + 1], t[i + 2]];
    if (field === undefined || value === undefined || (op !== 'eq' && op !== 'ne')) {
      throw badRequest(`Invalid filter "${text}"`);
    }
    expr.clauses.push({ not, field, op, value });
    i += 3;
    if (i < t.length) {
      const j = t[i];
      if (j !== 'and' && j !== 'or') throw badRequest(`Invalid filter "${text}": expected "and" or "or"`);
      expr.joins.push(j);
      i++;
    }
  }
  return expr;
}

function lookup(obj: unknown, field: string): unknown {
  let cur: unknown = obj;
  const parts = field.split('.');
  for (let i = 0; i < parts.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const rec = cur as Record<string, unknown>;
    const rest = parts.slice(i).join('.');
    if (rest in rec && i > 0) return rec[rest];
    cur = rec[parts[i]];
  }
  return cur;
}

function test(c: Clause, obj: unknown): boolean {
  const v = lookup(obj, c.field);
  const s = v === undefined || v === null ? '' : String(v);
  const eq = c.field === 'name' || c.field === 'status' ? s.toLowerCase() === c.value.toLowerCase() : s === c.value;
  const r = c.op === 'eq' ? eq : !eq;
  return c.not ? !r : r;
}

/** True when obj matches the filter expression. */
export function matchFilter(expr: Expr, obj: unknown): boolean {
  let acc = test(expr.clauses[0], obj);
  for (let i = 0; i < expr.joins.length; i++) {
    const next = test(expr.clauses[i + 1], obj);
    acc = expr.joins[i] === 'and' ? acc && next : acc || next;
  }
  return acc;
}
