/**
 * A private network + mount namespace for tests that make bridges, veths,
 * dnsmasq and firewall rules: a holder process (`sleep`) keeps it alive,
 * and the daemon, liblxc tools and checks all run in it through `nsenter`.
 * The mount namespace gets the sysfs of the new network namespace with the
 * host's cgroup hierarchies put back, as PLATFORM.md §6 shows; /tmp stays
 * shared, so the daemon's socket under INCUS_DIR is reachable from outside.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';

const SETUP = `
set -e
d=$(mktemp -d /tmp/cgsave.XXXXXX)
mount --rbind /sys/fs/cgroup "$d"
mount -t sysfs sysfs /sys
mount --rbind "$d" /sys/fs/cgroup
umount -l "$d"; rmdir "$d"
ip link set lo up
echo ready
exec sleep infinity
`;

export class NetNamespace {
  private constructor(private readonly holder: ChildProcess) {}

  /** Creates the namespaces and waits until the holder runs in them. */
  static async create(): Promise<NetNamespace> {
    const holder = spawn('unshare', ['--net', '--mount', '--propagation', 'private', 'sh', '-c', SETUP], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    holder.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      holder.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('ready')) resolve();
      });
      holder.once('exit', (code) => reject(new Error(`netns holder exited ${String(code)}: ${err}`)));
    });
    return new NetNamespace(holder);
  }

  /** PID whose namespaces nsenter joins. */
  get pid(): number {
    return this.holder.pid ?? -1;
  }

  /** The argv prefix that runs a command inside the namespaces. */
  prefix(): string[] {
    return ['nsenter', '-t', String(this.pid), '-n', '-m', '--'];
  }

  /** Runs a command inside and returns its exit status and output. */
  run(cmd: string[], timeoutMs = 60_000): { code: number | null; out: string; err: string } {
    const [bin, ...args] = [...this.prefix(), ...cmd];
    const r = spawnSync(bin!, args, { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
  }

  /** The network namespace inode, to tell it apart from the host's. */
  inode(): string {
    return readlinkSync(`/proc/${this.pid}/ns/net`);
  }

  /** Ends the holder (by PID); the namespace goes once nothing else is in it. */
  async close(): Promise<void> {
    const h = this.holder;
    if (h.exitCode !== null || h.signalCode !== null) return;
    const exited = new Promise((r) => h.once('exit', r));
    h.kill('SIGTERM');
    await exited;
  }
}

/** Network interface names of the host's own namespace (for the before/after checks). */
export function hostLinks(): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!)
    .sort();
}

/** The host's own nftables ruleset. */
export function hostRuleset(): string {
  return spawnSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).stdout;
}
