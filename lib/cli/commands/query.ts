/** `incus query`: a raw API call, printed as pretty JSON. */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { Operation as OperationData } from '../../api/operation';
import type { Response } from '../../api/response';
import { parseEnvelope } from '../../client/envelope';
import { ApiError } from '../../client/errors';
import type { HttpMethod } from '../../client/transport';
import type { CliContext } from '../context';
import { quote } from '../kv';
import { localName } from '../remote';

/** `incus query` options. */
export interface QueryFlags {
  request: string;
  data?: string;
  dataFile?: string;
  wait?: boolean;
  raw?: boolean;
}

const METHODS: readonly string[] = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'];
const ENVELOPE_ORDER = ['type', 'status', 'status_code', 'operation', 'error_code', 'error', 'metadata'];

/** Go re-encodes decoded JSON with map keys sorted; do the same. */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = sortKeysDeep((value as Record<string, unknown>)[k]);
  return out;
}

/** Pretty JSON as `incus query` prints it (tab indent, and Println's extra newline). */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, '\t') + '\n\n';
}

/** The envelope in Go's struct order, metadata as the server sent it. */
function envelopeForPrint(resp: Response): Record<string, unknown> {
  const src = resp as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ENVELOPE_ORDER) out[k] = src[k] ?? (k === 'metadata' ? null : k.endsWith('code') ? 0 : '');
  return out;
}

function readBody(flags: QueryFlags): { body?: Buffer | Readable; contentType?: string } {
  if (flags.dataFile) {
    const stream = flags.dataFile === '-' || flags.dataFile === '/dev/stdin' ? process.stdin : fs.createReadStream(flags.dataFile);
    return { body: stream, contentType: 'application/octet-stream' };
  }
  if (flags.data === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(flags.data);
  } catch {
    value = flags.data; // Not JSON: Incus sends it as a JSON string.
  }
  return { body: Buffer.from(JSON.stringify(value) + '\n'), contentType: 'application/json' };
}

/** Sends the query and prints the answer the way Incus does. */
export async function query(ctx: CliContext, target: string, flags: QueryFlags): Promise<number> {
  const apiPath = localName(target);
  if (ctx.globals.project) throw new Error('--project cannot be used with the query command');
  if (flags.data !== undefined && flags.dataFile !== undefined) throw new Error('--data cannot be used with --data-file');
  if (!METHODS.includes(flags.request)) throw new Error(`Action ${quote(flags.request)} isn't supported by this tool`);
  if (!apiPath.startsWith('/')) throw new Error('Query path must start with /');

  if (flags.dataFile && flags.dataFile !== '-' && flags.dataFile !== '/dev/stdin') {
    await fs.promises.access(flags.dataFile).catch((err: Error) => {
      throw new Error(`Failed to open input file ${quote(flags.dataFile!)}: ${err.message}`);
    });
  }
  const client = ctx.client();
  const { body, contentType } = readBody(flags);
  const res = await client.rawHttp(flags.request as HttpMethod, apiPath, body, contentType);
  const what = `${flags.request} ${apiPath}`;
  let resp: Response;
  try {
    resp = parseEnvelope(res, what).response;
  } catch (err) {
    if (err instanceof ApiError && err.response) {
      if (flags.raw) {
        ctx.out(pretty(envelopeForPrint(err.response)));
        return 0;
      }
      throw err;
    }
    // Not an API envelope: a plain answer (a file, a log) is printed as is.
    if (res.status === 200) {
      ctx.out(res.body.toString('utf8'));
      return 0;
    }
    throw err;
  }

  if (flags.wait && resp.operation) {
    const [opPath, opQuery] = resp.operation.split('?');
    const waited = parseEnvelope(
      await client.rawHttp('GET', `${opPath}/wait?${opQuery ?? ''}`),
      `GET ${opPath}/wait`,
    ).response;
    const op = waited.metadata as OperationData | null;
    if (op && op.err) throw new Error(op.err);
    resp = waited;
  }

  if (flags.raw) {
    ctx.out(pretty(envelopeForPrint(resp)));
  } else if (resp.metadata !== null && resp.metadata !== undefined) {
    const m = resp.metadata;
    const emptyObject = typeof m === 'object' && !Array.isArray(m) && Object.keys(m as object).length === 0;
    if (!emptyObject) ctx.out(pretty(sortKeysDeep(m)));
  }
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('query')
    .description('Send a raw query to the server')
    .argument('<path>', '[<remote>:]<API path>')
    .option('-X, --request <method>', 'Action', 'GET')
    .option('-d, --data <data>', 'Input data')
    .option('--data-file <file>', 'Input data file ("-" for stdin)')
    .option('--wait', 'Wait for the operation to complete')
    .option('--raw', 'Print the raw response')
    .action(async (target: string, flags: QueryFlags) => {
      ctx.exitCode = await query(ctx, target, flags);
    });
}
