/**
 * CSRF protection for browsers that send Fetch metadata, as Incus does for
 * its UI (cmd/incusd/daemon.go): a request to an API endpoint that another
 * site made (`Sec-Fetch-Site: cross-site` or `same-site`) is refused with a
 * 403, whoever the caller; same-origin, none and no header pass.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { StatusError } from '../errors';

const REFUSED_SITES = new Set(['cross-site', 'same-site']);

/** The 403 for a request from another site, else null. */
export function fetchSiteDenied(headers: IncomingHttpHeaders): StatusError | null {
  const site = headers['sec-fetch-site'];
  return typeof site === 'string' && REFUSED_SITES.has(site) ? new StatusError(403, 'Forbidden Sec-Fetch-Site header value') : null;
}
