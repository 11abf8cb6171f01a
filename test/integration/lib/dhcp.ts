/**
 * DHCP inside busybox test containers: the image's rcS brings up only lo,
 * and busybox ships no udhcpc script, so tests install this one (it applies
 * the lease with `ip` and writes resolv.conf) and run udhcpc themselves.
 */
import type { TestDaemon } from './daemon';

const SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    { [ -n "$domain" ] && echo "search $domain"; for s in $dns; do echo "nameserver $s"; done; } > /etc/resolv.conf
    ;;
esac
exit 0
`;

/** Writes /etc/udhcpc.sh into the container. */
export function installDhcpScript(d: TestDaemon, name: string): void {
  const r = d.attach(name, ['sh', '-c', `cat > /etc/udhcpc.sh <<'EOS'\n${SCRIPT}EOS\nchmod +x /etc/udhcpc.sh`]);
  if (r.code !== 0) throw new Error(`cannot write the udhcpc script into ${name}: ${r.err}`);
}

/** Runs one DHCP exchange on `iface`; returns the leased address and how long it took. */
export function dhcp(d: TestDaemon, name: string, iface = 'eth0'): { address: string; ms: number; log: string } {
  const t0 = Date.now();
  const r = d.attach(name, ['udhcpc', '-i', iface, '-s', '/etc/udhcpc.sh', '-q', '-n', '-t', '5', '-T', '1']);
  const ms = Date.now() - t0;
  const m = /lease of (\S+) obtained/.exec(r.err);
  return { address: m?.[1] ?? '', ms, log: r.err };
}
