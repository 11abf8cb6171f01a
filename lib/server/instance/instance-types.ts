/**
 * `instance_type` on instance creation (`incus launch -t c2-m4`): the
 * resource form `c<cpus>-m<GiB>[-d<GiB>]` turned into limits as Incus's
 * instanceParseType does. Named cloud types (t2.micro, ...) come from a
 * list Incus downloads, which an offline daemon does not have.
 */
import { badRequest } from '../errors';

/** Config keys for `value` (Incus's rounding: Go float32 arithmetic). */
export function instanceTypeConfig(value: string): Record<string, string> {
  let cpu = 0;
  let memory = 0;
  if (value.includes(':')) throw badRequest(`Provided instance type doesn't exist: ${value}`);
  for (const field of value.split('-')) {
    if (field.length < 2 || !['c', 'm', 'd'].includes(field[0]!)) throw badRequest(`Provided instance type doesn't exist: ${value}`);
    const n = field.slice(1);
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(n)) throw badRequest(`Bad custom instance type: ${value}`);
    const f = Math.fround(Number(n));
    if (field[0] === 'c') cpu = f;
    else if (field[0] === 'm') memory = f;
  }
  const out: Record<string, string> = {};
  if (cpu > 0) {
    let cores = Math.trunc(cpu);
    if (cores < cpu) cores++;
    const time = Math.trunc(Math.fround(Math.fround(cpu / cores) * 100));
    out['limits.cpu'] = String(cores);
    if (time < 100) out['limits.cpu.allowance'] = `${time}%`;
  }
  if (memory > 0) out['limits.memory'] = `${Math.trunc(Math.fround(memory * 1024))}MiB`;
  return out;
}

/** Fills the request's config from its instance_type where the config leaves a key empty. */
export function applyInstanceType(body: { instance_type?: string; config?: Record<string, string> }): void {
  if (!body.instance_type) return;
  const config = (body.config ??= {});
  for (const [k, v] of Object.entries(instanceTypeConfig(body.instance_type))) if (!config[k]) config[k] = v;
}
