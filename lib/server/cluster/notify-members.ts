/**
 * Incus's cluster notifier: the same request sent to every other member,
 * marked as passed on so that each serves it locally (creating a pool or a
 * network on its own host) instead of acting for the whole cluster again.
 */
import type { DaemonState } from '../state';
import { memberRequest, metadataOf } from './member-client';
import { FORWARDED_HEADER } from './member-proxy';

/** The other members, by name and address. */
export async function otherMembers(s: DaemonState): Promise<{ name: string; address: string }[]> {
  const self = s.cluster.serverName;
  return (await s.db.members.list()).filter((m) => m.name !== self).map((m) => ({ name: m.name, address: m.address }));
}

/**
 * Sends `method path` to each other member in turn (`bodyFor` gives each its
 * own body: its member keys); the first member's error is thrown.
 */
export async function notifyOthers(s: DaemonState, method: string, path: string, bodyFor?: (member: string) => unknown): Promise<void> {
  const cert = s.cluster.certificate;
  if (!cert) throw new Error('This member has no cluster certificate');
  for (const m of await otherMembers(s)) {
    const reply = await memberRequest(m.address, cert, cert.certPem, method, path, bodyFor?.(m.name), { [FORWARDED_HEADER]: '1' });
    metadataOf(reply);
  }
}

/** Whether the request was sent by another member (the receiver acts on its own host only). */
export function fromMember(headers: Record<string, unknown>): boolean {
  return headers[FORWARDED_HEADER] !== undefined;
}

/** Whether a pool or network is made member by member (Incus: more than one member, or one left pending). */
export async function createdPerMember(s: DaemonState, existingStatus: string | undefined): Promise<boolean> {
  return (existingStatus !== undefined && existingStatus !== 'Created') || (await s.db.members.list()).length > 1;
}
