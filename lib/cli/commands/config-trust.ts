/**
 * `incus config trust add|add-certificate|list|list-tokens|revoke-token|show|edit|remove`:
 * the server's trusted client certificates and pending add tokens, as
 * Incus's config_trust.go.
 */
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { type Certificate, type CertificatePut, encodeCertificateToken } from '../../api/certificate';
import type { CliContext } from '../context';
import { runEdit } from '../edit-loop';
import { formatDate, isZeroTime } from '../format/date';
import { parseFormat, renderList } from '../format/render';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import type { Terminal } from '../terminal';
import { CERTIFICATE_PUT, decodeYaml } from '../yaml-decode';

type CertApi = typeof import('../../client/certificates');
const api = (): CertApi => require('../../client/certificates') as CertApi;

/** A certificate in Incus's YAML field order (api.Certificate). */
function certificateDoc(c: Certificate): Record<string, unknown> {
  return {
    name: c.name,
    type: c.type,
    restricted: c.restricted,
    projects: c.projects ?? [],
    certificate: c.certificate,
    description: c.description,
    fingerprint: c.fingerprint,
  };
}

function putOf(c: Certificate): CertificatePut {
  return { name: c.name, type: c.type, restricted: c.restricted, projects: c.projects ?? [], certificate: c.certificate, description: c.description };
}

/** `--projects a,b` as Incus splits it (no trimming; empty: none). */
export function splitProjects(value: string | undefined): string[] | undefined {
  return value ? value.split(',') : undefined;
}

type Row = { cert: Certificate; x509: X509Certificate | null };
type Column = [header: string, data: (r: Row) => string];

const dateOf = (s: string | undefined): string => (s ? formatDate(new Date(s).toISOString()) : '');

const TRUST_COLUMNS: Record<string, Column> = {
  n: ['NAME', (r) => r.cert.name],
  t: ['TYPE', (r) => r.cert.type],
  c: ['COMMON NAME', (r) => /(?:^|\n)CN=([^\n]*)/.exec(r.x509?.subject ?? '')?.[1] ?? ''],
  f: ['FINGERPRINT', (r) => r.cert.fingerprint.slice(0, 12)],
  F: ['FINGERPRINT', (r) => r.cert.fingerprint],
  d: ['DESCRIPTION', (r) => r.cert.description],
  i: ['ISSUE DATE', (r) => dateOf(r.x509?.validFrom)],
  e: ['EXPIRY DATE', (r) => dateOf(r.x509?.validTo)],
  r: ['RESTRICTED', (r) => (r.cert.restricted ? 'yes' : 'no')],
  p: ['PROJECTS', (r) => [...(r.cert.projects ?? [])].sort().join('\n')],
};

/** Column shorthand letters to columns, with Incus's errors. */
export function parseColumns<T>(spec: string, table: Record<string, T>): T[] {
  const out: T[] = [];
  for (const entry of spec.split(',')) {
    if (entry === '') throw new Error(`Empty column entry (redundant, leading or trailing command) in '${spec}'`);
    for (const ch of entry) {
      const c = table[ch];
      if (c === undefined) throw new Error(`Unknown column shorthand char '${ch}' in '${entry}'`);
      out.push(c);
    }
  }
  return out;
}

/** Go's sort of string rows: by first differing column, byte order. */
function sortRows(rows: string[][]): string[][] {
  return rows.sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as string) < (b[i] as string) ? -1 : 1;
    return a.length - b.length;
  });
}

async function listTrust(ctx: CliContext, remoteArg: string | undefined, flags: { columns: string; format: string }): Promise<void> {
  if (remoteArg !== undefined) localName(remoteArg);
  const spec = parseFormat(flags.format);
  const cols = parseColumns(flags.columns, TRUST_COLUMNS);
  const certs = await api().getCertificates(ctx.client());
  const rows = certs.map((cert) => {
    let x509: X509Certificate | null = null;
    try {
      x509 = new X509Certificate(cert.certificate);
    } catch {
      throw new Error('Invalid certificate');
    }
    return cols.map(([, data]) => data({ cert, x509 }));
  });
  ctx.out(renderList(spec, cols.map(([h]) => h), sortRows(rows), certs.map(certificateDoc)));
}

type TokenColumn = [header: string, data: (t: import('../../api/certificate').CertificateAddToken) => string];

const TOKEN_COLUMNS: Record<string, TokenColumn> = {
  n: ['NAME', (t) => t.client_name],
  t: ['TOKEN', (t) => encodeCertificateToken(t)],
  E: ['EXPIRES AT', (t) => (isZeroTime(t.expires_at) ? ' ' : formatDate(t.expires_at))],
};

async function listTokens(ctx: CliContext, remoteArg: string | undefined, flags: { columns: string; format: string }): Promise<void> {
  if (remoteArg !== undefined) localName(remoteArg);
  const spec = parseFormat(flags.format);
  const cols = parseColumns(flags.columns, TOKEN_COLUMNS);
  const tokens = (await api().getCertificateTokens(ctx.client())).map((t) => t.token);
  const { sortRowsNaturally } = require('../format/sort') as typeof import('../format/sort');
  const rows = sortRowsNaturally(tokens.map((t) => cols.map(([, data]) => data(t))));
  ctx.out(renderList(spec, cols.map(([h]) => h), rows, tokens));
}

async function addToken(ctx: CliContext, arg: string, flags: { projects?: string; restricted?: boolean }): Promise<void> {
  const name = localName(arg);
  const op = await api().createCertificateToken(ctx.client(), {
    name,
    type: 'client',
    restricted: flags.restricted === true,
    ...(splitProjects(flags.projects) ? { projects: splitProjects(flags.projects) } : {}),
  });
  const token = api().tokenOfOperation(op);
  if (!token) throw new Error('Failed converting token operation to certificate add token: missing metadata');
  ctx.say(`Client ${name} certificate add token:\n`);
  ctx.out(`${encodeCertificateToken(token)}\n`);
}

interface AddCertFlags {
  projects?: string;
  restricted?: boolean;
  name?: string;
  type: string;
  description?: string;
}

async function addCertificate(ctx: CliContext, args: string[], flags: AddCertFlags): Promise<void> {
  if (args.length === 2) localName(args[0] as string);
  let file = args[args.length - 1] as string;
  if (!['client', 'metrics'].includes(flags.type)) throw new Error(`Unknown certificate type ${JSON.stringify(flags.type)}`);
  if (file === '-') file = '/dev/stdin';
  if (!fs.existsSync(file)) throw new Error(`Provided certificate path doesn't exist: ${file}`);
  let der: Buffer;
  try {
    der = new X509Certificate(fs.readFileSync(file)).raw;
  } catch (err) {
    throw new Error(`Failed to parse the certificate: ${(err as Error).message}`);
  }
  await api().createCertificate(ctx.client(), {
    certificate: der.toString('base64'),
    name: flags.name || path.basename(file),
    description: flags.description ?? '',
    type: flags.type,
    restricted: flags.restricted === true,
    ...(splitProjects(flags.projects) ? { projects: splitProjects(flags.projects) } : {}),
  });
}

async function revokeToken(ctx: CliContext, arg: string): Promise<void> {
  const name = localName(arg);
  const client = ctx.client();
  for (const { op, token } of await api().getCertificateTokens(client)) {
    if (token.client_name !== name) continue;
    await api().deleteOperation(client, op.id);
    ctx.say(`Certificate add token for ${name} deleted\n`);
    return;
  }
  throw new Error(`No certificate add token for member ${name} on remote: ${ctx.targetRemote()}`);
}

async function editTrust(ctx: CliContext, arg: string, term: Terminal): Promise<void> {
  const fp = localName(arg);
  const client = ctx.client();
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const decode = (text: string) => decodeYaml<CertificatePut>(text, CERTIFICATE_PUT);
  const session = async () => {
    const { value, etag } = await api().getCertificate(client, fp);
    const current = putOf(value);
    return {
      text: `${EDIT_HELP}\n${renderYaml(certificateDoc(value))}`,
      decode,
      unchanged: (put: CertificatePut) => JSON.stringify(putOf({ ...value, ...put })) === JSON.stringify(current),
      save: (put: CertificatePut) => api().updateCertificate(client, value.fingerprint, { ...current, ...put }, { etag }),
    };
  };
  await runEdit(io, term, session, async (text) => {
    const { value } = await api().getCertificate(client, fp);
    await api().updateCertificate(client, value.fingerprint, { ...putOf(value), ...decode(text) });
  });
}

const EDIT_HELP = `### This is a YAML representation of the certificate.
### Any line starting with a '# will be ignored.
###
### Note that the fingerprint is shown but cannot be changed`;

/** Adds `config trust` under the `config` command. */
export function registerTrust(config: Command, ctx: CliContext, term: Terminal): void {
  const trust = config.command('trust').description('Manage trusted clients');

  trust
    .command('add')
    .description('Add new trusted client')
    .argument('<name>', '[<remote>:]<name>')
    .option('--projects <list>', 'List of projects to restrict the certificate to')
    .option('--restricted', 'Restrict the certificate to one or more projects')
    .action((name: string, flags: { projects?: string; restricted?: boolean }) => addToken(ctx, name, flags));

  trust
    .command('add-certificate')
    .description('Add new trusted client certificate')
    .argument('<args...>', '[<remote>:] <cert.crt>')
    .option('--projects <list>', 'List of projects to restrict the certificate to')
    .option('--restricted', 'Restrict the certificate to one or more projects')
    .option('--name <name>', 'Alternative certificate name')
    .option('-t, --type <type>', 'Type of certificate', 'client')
    .option('--description <text>', 'Certificate description')
    .action((args: string[], flags: AddCertFlags) => {
      if (args.length > 2) throw new Error('Invalid number of arguments');
      return addCertificate(ctx, args, flags);
    });

  trust
    .command('list')
    .alias('ls')
    .description('List trusted clients')
    .argument('[remote]', '[<remote>:]')
    .option('-c, --columns <columns>', 'Columns', 'ntdfe')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action((remote: string | undefined, flags: { columns: string; format: string }) => listTrust(ctx, remote, flags));

  trust
    .command('list-tokens')
    .description('List all active certificate add tokens')
    .argument('[remote]', '[<remote>:]')
    .option('-c, --columns <columns>', 'Columns', 'ntE')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action((remote: string | undefined, flags: { columns: string; format: string }) => listTokens(ctx, remote, flags));

  trust
    .command('revoke-token')
    .description('Revoke certificate add token')
    .argument('<name>', '[<remote>:]<name>')
    .action((name: string) => revokeToken(ctx, name));

  trust
    .command('show')
    .description('Show trust configurations')
    .argument('<fingerprint>', '[<remote>:]<fingerprint>')
    .action(async (arg: string) => {
      const { value } = await api().getCertificate(ctx.client(), localName(arg));
      ctx.out(renderYaml(certificateDoc(value)));
    });

  trust
    .command('edit')
    .description('Edit trust configurations as YAML')
    .argument('<fingerprint>', '[<remote>:]<fingerprint>')
    .action((arg: string) => editTrust(ctx, arg, term));

  trust
    .command('remove')
    .aliases(['rm', 'delete'])
    .description('Remove trusted client')
    .argument('<fingerprint>', '[<remote>:]<fingerprint>')
    .action((arg: string) => api().deleteCertificate(ctx.client(), localName(arg)));
}
