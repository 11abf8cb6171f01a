/**
 * `incus remote add` for HTTPS Incus servers, as Incus's remote.go: with a
 * certificate add token (addresses and server fingerprint from the token,
 * the client certificate trusted by redeeming it), or with a URL (the
 * server certificate shown and accepted, then a trust token asked for when
 * the server does not trust us yet). The server certificate is pinned in
 * `servercerts/<name>.crt`.
 */
import type { CertificateAddToken } from '../../api/certificate';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { ensureClientKeypair, removeServerCert, writeServerCert } from './client-cert';
import { type Remote, configDir, saveConfig } from './config';
import { cliConfig, openIncusClient } from './connect';

/** Flags of `remote add` that matter here. */
export interface HttpsAddFlags {
  protocol: string;
  public?: boolean;
  project?: string;
  authType?: string;
  acceptCertificate?: boolean;
  token?: string;
}

type Ask = (prompt: string) => Promise<string>;

/** Prints `prompt` and reads one line from stdin. */
function asker(ctx: CliContext): Ask {
  return async (prompt) => {
    ctx.out(prompt);
    const { readLine } = require('../read-line') as typeof import('../read-line');
    return readLine();
  };
}

/** Incus's findProject: the flag's project (checked), else the only one we may see, else the server's default. */
async function findProject(ctx: CliContext, client: IncusClient, project: string | undefined, ask: Ask): Promise<string | undefined> {
  const projects = require('../../client/projects') as typeof import('../../client/projects');
  if (project) {
    await projects.getProject(client, project);
    return project;
  }
  const names = (await projects.getProjects(client)).map((p) => p.name);
  if (names.length === 0) return undefined;
  if (names.length === 1) return names[0];
  if (names.includes('default')) return undefined;
  ctx.out('Available projects:\n');
  for (const n of names) ctx.out(` - ${n}\n`);
  const answer = await ask('Name of the project to use for this remote: ');
  if (!names.includes(answer)) throw new Error(`Invalid choice: ${answer}`);
  return answer;
}

/** Runs `body` with the remote registered in memory; on failure forgets it and its pinned certificate. */
async function withNewRemote(ctx: CliContext, name: string, remote: Remote, body: () => Promise<void>): Promise<void> {
  const conf = cliConfig(ctx);
  conf.remotes[name] = remote;
  try {
    await body();
  } catch (err) {
    delete conf.remotes[name];
    removeServerCert(configDir(ctx.io.env), name);
    throw err;
  }
  saveConfig(conf, ctx.io.env);
}

/** The first address whose certificate can be read, with that certificate. */
async function firstReachable(addrs: string[]): Promise<{ addr: string; pem: string; fingerprint: string }> {
  const { fetchRemoteCertificate } = require('../../client/remote-certificate') as typeof import('../../client/remote-certificate');
  const errs: string[] = [];
  for (const addr of addrs) {
    try {
      return { addr, ...(await fetchRemoteCertificate(addr)) };
    } catch (err) {
      errs.push((err as Error).message);
    }
  }
  throw new Error(`Unavailable remote server: ${errs.join('\n')}`);
}

/** `remote add NAME TOKEN`. */
export async function addFromToken(ctx: CliContext, name: string, token: string, raw: CertificateAddToken, flags: HttpsAddFlags): Promise<void> {
  const dir = configDir(ctx.io.env);
  await ensureClientKeypair(dir, (s) => ctx.err(s));
  const addrs = raw.addresses.map((a) => `https://${a}`);
  const remote: Remote = { addrs, protocol: flags.protocol, public: false, authType: flags.authType || 'tls' };
  await withNewRemote(ctx, name, remote, async () => {
    const found = await firstReachable(addrs);
    if (found.fingerprint !== raw.fingerprint) {
      throw new Error(`Certificate fingerprint mismatch between certificate token and server ${JSON.stringify(found.addr.replace(/^https:\/\//, ''))}`);
    }
    writeServerCert(dir, name, found.pem);
    const client = openIncusClient(ctx, name);
    try {
      const { createCertificate } = require('../../client/certificates') as typeof import('../../client/certificates');
      try {
        await createCertificate(client, { trust_token: token });
      } catch (err) {
        throw new Error(`Failed to create certificate: ${(err as Error).message}`);
      }
      try {
        remote.project = await findProject(ctx, client, flags.project, asker(ctx));
      } catch (err) {
        throw new Error(`Failed to find project: ${(err as Error).message}`);
      }
    } finally {
      client.close();
    }
  });
}

/**
 * Whether the fingerprint prompt's answer accepts the certificate (Incus:
 * `y`, or the fingerprint itself).
 * @throws Error on `n`/empty, or any other answer.
 */
export function acceptAnswer(answer: string, fingerprint: string): void {
  if (answer === fingerprint) return;
  const c = answer.charAt(0).toLowerCase();
  if (answer.length < 1 || c === 'n') throw new Error('Server certificate NACKed by user');
  if (c !== 'y') throw new Error("Please type 'y', 'n' or the fingerprint:");
}

/** `remote add NAME https://HOST[:PORT]...` (addresses already normalised). */
export async function addFromUrl(ctx: CliContext, name: string, addrs: string[], flags: HttpsAddFlags): Promise<void> {
  const dir = configDir(ctx.io.env);
  const authType = flags.authType || 'tls';
  if (authType !== 'tls') throw new Error(`Authentication type '${authType}' not supported by server`);
  if (!flags.public) await ensureClientKeypair(dir, (s) => ctx.err(s));
  const ask = asker(ctx);
  const remote: Remote = { addrs, protocol: 'incus', public: false, authType };
  await withNewRemote(ctx, name, remote, async () => {
    const found = await firstReachable(addrs);
    if (!flags.acceptCertificate) {
      ctx.out(`Certificate fingerprint: ${found.fingerprint}\n`);
      acceptAnswer(await ask('ok (y/n/[fingerprint])? '), found.fingerprint);
    }
    writeServerCert(dir, name, found.pem);
    if (flags.public) {
      Object.assign(remote, { public: true, authType: undefined });
      return;
    }
    const client = openIncusClient(ctx, name);
    try {
      let srv = await client.getServer();
      if (srv.public) {
        Object.assign(remote, { public: true, authType: undefined });
        return;
      }
      if (srv.auth !== 'trusted') {
        const token = flags.token || (await ask(`Trust token for ${name}: `));
        const { createCertificate } = require('../../client/certificates') as typeof import('../../client/certificates');
        await createCertificate(client, { trust_token: token, type: 'client' });
        srv = await client.getServer();
        if (srv.auth !== 'trusted') throw new Error("Server doesn't trust us after authentication");
        ctx.out(`Client certificate now trusted by server: ${name}\n`);
      }
      remote.project = await findProject(ctx, client, flags.project, ask);
    } finally {
      client.close();
    }
  });
}
