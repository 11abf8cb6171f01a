/**
 * Link plumbing for NICs with the host's `ip` and `tc`: veth pairs and
 * macvlans made on the host, moved into a running container under their
 * final name, and work inside the container's network namespace done by
 * `nsenter -n` (a separate process: the daemon itself never joins it).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { badRequest } from '../../errors';
import { ToolError, ip, runTool } from '../../network/tool';

/** `ip ...` inside the network namespace of process `pid`. */
export function ipIn(pid: number, ...args: string[]): Promise<string> {
  return runTool('nsenter', ['-t', String(pid), '-n', '--', 'ip', ...args]);
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/**
 * Whether host link `name` is a tap or a macvtap: the only kinds the VM
 * paths may replace or remove by name (a host_name that names any other
 * interface must never take it down).
 */
export function isTapLink(name: string): boolean {
  return existsSync(`/sys/class/net/${name}/tun_flags`) || existsSync(`/sys/class/net/${name}/macvtap`);
}

/**
 * Clears the way for a VM's tap or macvtap named `name`: one left by a VM
 * that died goes; any other interface by that name is refused (400), never
 * deleted.
 */
export async function replaceStaleTap(name: string, device: string): Promise<void> {
  if (!linkExists(name)) return;
  if (!isTapLink(name)) throw badRequest(`Device "${device}": Host interface "${name}" already exists`);
  await deleteLink(name);
}

/**
 * Creates a veth pair, the peer with the instance's MAC and MTU; the host end
 * gets `hostMtu` (a bridge's, so that the port does not lower it), else the same.
 */
export async function createVeth(host: string, peer: string, opts: { hwaddr: string; mtu: string; hostMtu?: string }): Promise<void> {
  await ip('link', 'add', 'dev', host, 'type', 'veth', 'peer', 'name', peer);
  await ip('link', 'set', 'dev', peer, 'address', opts.hwaddr);
  const hostMtu = opts.hostMtu || opts.mtu;
  if (hostMtu) await ip('link', 'set', 'dev', host, 'mtu', hostMtu);
  if (opts.mtu) await ip('link', 'set', 'dev', peer, 'mtu', opts.mtu);
}

/** `queue.tx.length` on both ends of a veth: `host`, and `inner` inside a container (a VM's tap has no inner end). */
export async function setTxQueueLength(host: string, inner: { pid: number; name: string } | null, length: string | undefined): Promise<void> {
  if (!length) return;
  await ip('link', 'set', 'dev', host, 'txqueuelen', length);
  if (inner) await ipIn(inner.pid, 'link', 'set', 'dev', inner.name, 'txqueuelen', length);
}

/** Creates a macvlan on `parent` for the instance. */
export async function createMacvlan(name: string, parent: string, opts: { hwaddr: string; mtu: string; mode: string }): Promise<void> {
  const args = ['link', 'add', 'dev', name, 'link', parent, 'address', opts.hwaddr];
  if (opts.mtu) args.push('mtu', opts.mtu);
  await ip(...args, 'type', 'macvlan', 'mode', opts.mode);
}

/** Moves `link` into the container of init `pid`, renamed to `name`, and brings it up there. */
export async function moveIntoContainer(pid: number, link: string, name: string): Promise<void> {
  await ip('link', 'set', 'dev', link, 'netns', String(pid), 'name', name);
  await ipIn(pid, 'link', 'set', 'dev', name, 'up');
}

/** Deletes a host link if it is there. */
export async function deleteLink(name: string): Promise<void> {
  if (!linkExists(name)) return;
  await ip('link', 'del', 'dev', name).catch((err: unknown) => {
    if (!(err instanceof ToolError && /Cannot find device/.test(err.stderr))) throw err;
  });
}

/** The ifb device that carries a NIC's egress shaping when the kernel lacks tc police. */
export function ifbName(hostName: string): string {
  return `ifb${createHash('sha256').update(hostName).digest('hex').slice(0, 8)}`;
}

const tc = (...args: string[]): Promise<string> => runTool('tc', args);

/**
 * limits.ingress / limits.egress (limits.max sets both) on the host side of
 * a veth, as Incus does: ingress (towards the instance) is an HTB class on
 * the host veth; egress (from the instance) is policed on the host veth's
 * ingress, or shaped on an ifb it is redirected to when the kernel has no
 * police action.
 */
export async function applyNicLimits(hostName: string, config: Record<string, string>): Promise<void> {
  const ingress = config['limits.ingress'] || config['limits.max'] || '';
  const egress = config['limits.egress'] || config['limits.max'] || '';
  await clearNicLimits(hostName);
  if (ingress) {
    await tc('qdisc', 'add', 'dev', hostName, 'root', 'handle', '1:0', 'htb', 'default', '10');
    await tc('class', 'add', 'dev', hostName, 'parent', '1:0', 'classid', '1:10', 'htb', 'rate', ingress);
  }
  if (!egress) return;
  await tc('qdisc', 'add', 'dev', hostName, 'handle', 'ffff:0', 'ingress');
  const match = ['filter', 'add', 'dev', hostName, 'parent', 'ffff:0', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0'];
  try {
    await tc(...match, 'police', 'rate', egress, 'burst', '1024k', 'mtu', '64kb', 'drop');
    return;
  } catch (err) {
    if (!(err instanceof ToolError && /action|TC action/i.test(err.stderr))) throw err;
  }
  const ifb = ifbName(hostName);
  await ip('link', 'add', 'dev', ifb, 'type', 'ifb');
  await ip('link', 'set', 'dev', ifb, 'up');
  await tc('qdisc', 'add', 'dev', ifb, 'root', 'handle', '1:0', 'htb', 'default', '10');
  await tc('class', 'add', 'dev', ifb, 'parent', '1:0', 'classid', '1:10', 'htb', 'rate', egress);
  await tc(...match, 'action', 'mirred', 'egress', 'redirect', 'dev', ifb);
}

/** Removes what applyNicLimits set up. */
export async function clearNicLimits(hostName: string): Promise<void> {
  if (linkExists(hostName)) {
    await tc('qdisc', 'del', 'dev', hostName, 'root').catch(() => undefined);
    await tc('qdisc', 'del', 'dev', hostName, 'ingress').catch(() => undefined);
  }
  await deleteLink(ifbName(hostName));
}

/** Whether the NIC config asks for any bandwidth limit. */
export function hasNicLimits(config: Record<string, string>): boolean {
  return Boolean(config['limits.ingress'] || config['limits.egress'] || config['limits.max']);
}
