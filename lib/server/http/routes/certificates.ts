/** `/1.0/certificates`: the trust store (list, add, token, get, update, remove), as Incus's certificates.go. */
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Certificate, type CertificatePut, type CertificatesPost, decodeCertificateToken } from '../../../api/certificate';
import { decodeJoinToken } from '../../../api/cluster';
import { redeemJoinToken } from '../../cluster/join-tokens';
import { asyncResponse, syncResponse } from '../../response';
import { badRequest, conflict, forbidden, notFound } from '../../errors';
import type { Queries } from '../../db';
import type { DaemonState } from '../../state';
import { type Caller, callerOf, isTls } from '../../auth/caller';
import { NOT_AUTHORIZED } from '../../auth/access';
import { listenAddresses } from '../../auth/listen-addresses';
import { createToken, redeemToken } from '../../auth/tokens';
import { commonNameOf, fingerprintOf, parseCertificate, pemOf, validateCertificate } from '../../auth/x509';
import { matchFilter, parseFilter } from '../filter';
import { checkIfMatch, query, recursionOf, setEtag } from '../request';

type FpParams = { Params: { fingerprint: string } };

const TYPES = new Set(['client', 'metrics', 'server']);
const url = (fp: string): string => `/1.0/certificates/${fp}`;

/** Field types of a POST/PUT/PATCH body, checked before anything is used. */
function checkBody(b: Record<string, unknown>): void {
  for (const k of ['name', 'type', 'certificate', 'description', 'trust_token']) {
    if (b[k] !== undefined && b[k] !== null && typeof b[k] !== 'string') throw badRequest(`Invalid value for "${k}": expected a string`);
  }
  for (const k of ['restricted', 'token']) {
    if (b[k] !== undefined && b[k] !== null && typeof b[k] !== 'boolean') throw badRequest(`Invalid value for "${k}": expected a boolean`);
  }
  const p = b.projects;
  if (p !== undefined && p !== null && (!Array.isArray(p) || p.some((x) => typeof x !== 'string'))) {
    throw badRequest('Invalid value for "projects": expected a list of strings');
  }
}

function checkType(type: string): void {
  if (!TYPES.has(type)) throw badRequest('Invalid certificate type');
}

async function checkProjects(db: Queries, projects: string[]): Promise<void> {
  for (const p of projects) if ((await db.projects.id(p)) === undefined) throw notFound(`Project ${JSON.stringify(p)} not found`);
}

function bodyOf(req: FastifyRequest): Record<string, unknown> {
  const b = (req.body ?? {}) as Record<string, unknown>;
  checkBody(b);
  return b;
}

/** The TLS client certificate of the request's connection, if any. */
function peerCertificate(req: FastifyRequest): X509Certificate | null {
  const raw = (req.raw.socket as TLSSocket).getPeerCertificate?.(false)?.raw;
  return raw && raw.length > 0 ? new X509Certificate(raw) : null;
}

/** Redeems a certificate add token; what it grants, or 403. */
function redeemCertificateToken(s: DaemonState, token: string): ReturnType<typeof redeemToken> & object {
  let secret: string;
  try {
    secret = decodeCertificateToken(token).secret;
  } catch {
    throw forbidden(NOT_AUTHORIZED);
  }
  const granted = redeemToken(s.ops, secret);
  if (!granted) throw forbidden('No matching certificate add operation found');
  return granted;
}

export function registerCertificates(app: FastifyInstance, s: DaemonState): void {
  app.get('/1.0/certificates', async (req) => {
    const q = query(req);
    const filter = q.filter ? parseFilter(q.filter) : null;
    const all = s.trust.list().filter((c) => !filter || matchFilter(filter, c));
    return syncResponse(recursionOf(req) > 0 ? all : all.map((c) => url(c.fingerprint)));
  });

  app.post('/1.0/certificates', async (req, reply) => {
    let body = bodyOf(req) as CertificatesPost;
    const config = await s.db.config.all();
    const httpsAddress = config['core.https_address'] ?? '';
    if (body.token && body.certificate) throw badRequest("Can't use certificate if token is requested");
    if (body.token) {
      if (body.type !== 'client') throw badRequest('Tokens can only be issued for client certificates');
      if (!httpsAddress) throw badRequest("Can't issue token when server isn't listening on network");
    }
    const caller = callerOf(req.raw, s.trust);
    if (caller.trusted && !body.certificate && !body.token) throw badRequest('Client is already trusted');
    if (!caller.trusted || caller.projects !== null) {
      if (body.token || !body.trust_token) throw forbidden(NOT_AUTHORIZED);
      const join = decodeJoinToken(body.trust_token);
      if (join) {
        // A joining member adds its own server certificate with its join token (Incus's SetupTrust).
        if (!redeemJoinToken(s.ops, join.server_name, join.secret)) throw forbidden('No matching cluster join operation found');
      } else {
        // The token's request stands; the caller may not override any of it.
        body = { ...redeemCertificateToken(s, body.trust_token) };
      }
    }
    const type = body.type ?? '';
    checkType(type);
    let cert: X509Certificate;
    if (body.certificate) cert = parseCertificate(body.certificate);
    else if (body.token) {
      await checkProjects(s.db, body.projects ?? []);
      const op = createToken(s.ops, body, {
        fingerprint: s.keypair.fingerprint,
        addresses: listenAddresses(httpsAddress),
        expiry: config['core.remote_token_expiry'] ?? '',
      });
      return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
    } else if (isTls(req.raw.socket)) {
      const peer = peerCertificate(req);
      if (!peer) throw badRequest('No client certificate provided');
      cert = peer;
    } else throw badRequest("Can't use TLS data on non-TLS link");
    validateCertificate(cert);
    const fingerprint = fingerprintOf(cert);
    const name = body.name || commonNameOf(cert) || (req.raw.socket.remoteAddress ?? '');
    if (s.trust.lookup(fingerprint)) throw conflict('Certificate already in trust store');
    const projects = body.projects ?? [];
    await s.trust.create({
      fingerprint,
      type,
      name,
      certificate: pemOf(cert),
      restricted: body.restricted === true,
      projects,
      description: body.description ?? '',
    }, (tx) => checkProjects(tx, projects));
    s.events.lifecycle('certificate-created', url(fingerprint));
    return reply.header('Location', url(fingerprint)).send(syncResponse({}));
  });

  app.get<FpParams>('/1.0/certificates/:fingerprint', async (req, reply) => {
    const c = s.trust.byPrefix(req.params.fingerprint);
    setEtag(reply, c);
    return syncResponse(c);
  });

  const update = (merge: boolean) => async (req: FastifyRequest<FpParams>) => {
    const { fingerprint } = s.trust.byPrefix(req.params.fingerprint);
    const caller = callerOf(req.raw, s.trust);
    // Read, merged and written in one transaction: a concurrent PATCH is never lost.
    await s.trust.update(fingerprint, async (current, tx) => {
      checkIfMatch(req, current);
      const b = bodyOf(req) as Partial<CertificatePut>;
      const base: CertificatePut = merge ? current : { name: '', type: '', restricted: false, projects: [], certificate: '', description: '' };
      const want: CertificatePut = {
        name: b.name ?? base.name,
        type: b.type ?? base.type,
        restricted: b.restricted ?? base.restricted,
        projects: b.projects ?? base.projects,
        certificate: b.certificate ?? base.certificate,
        description: b.description ?? base.description,
      };
      return nextCertificate(tx, caller, current, want);
    });
    s.events.lifecycle('certificate-updated', `/1.0/certificates/${fingerprint}`);
    return syncResponse({});
  };
  app.put<FpParams>('/1.0/certificates/:fingerprint', update(false));
  app.patch<FpParams>('/1.0/certificates/:fingerprint', update(true));

  app.delete<FpParams>('/1.0/certificates/:fingerprint', async (req) => {
    const c = s.trust.byPrefix(req.params.fingerprint);
    const caller = callerOf(req.raw, s.trust);
    // A restricted client may only remove itself.
    if (caller.projects !== null && caller.fingerprint !== c.fingerprint) throw forbidden('Certificate cannot be deleted');
    await s.trust.remove(c.fingerprint);
    s.events.lifecycle('certificate-deleted', url(c.fingerprint));
    return syncResponse({});
  });
}

/** Incus's doCertificateUpdate: type fixed; a restricted client changes only its own certificate and description. */
async function nextCertificate(tx: Queries, caller: Caller, current: Certificate, want: CertificatePut): Promise<Certificate> {
  if (want.type !== current.type) throw badRequest('The certificate type cannot be changed');
  checkType(want.type);
  if (caller.projects !== null) {
    if (caller.fingerprint !== current.fingerprint) throw forbidden('Certificate cannot be changed');
    const sameProjects = want.projects.length === current.projects.length && want.projects.every((p, i) => p === current.projects[i]);
    if (want.restricted !== current.restricted || want.name !== current.name || !sameProjects) {
      throw forbidden('Only the certificate can be changed');
    }
  }
  const next: Certificate = { ...current, name: want.name, restricted: want.restricted, projects: want.projects, description: want.description };
  if (want.certificate !== '' && want.certificate !== current.certificate) {
    if (!/-----BEGIN CERTIFICATE-----/.test(want.certificate)) throw badRequest('Invalid PEM encoded certificate');
    const cert = parseCertificate(want.certificate);
    validateCertificate(cert);
    next.certificate = pemOf(cert);
    next.fingerprint = fingerprintOf(cert);
    if (next.fingerprint !== current.fingerprint && (await tx.certificates.get(next.fingerprint))) throw conflict('Certificate already in trust store');
  }
  await checkProjects(tx, next.projects);
  return next;
}
