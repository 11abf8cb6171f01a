/**
 * limits.priority on NICs of containers started together: each NIC's
 * netprio chain in the shared `netdev incus` table comes and goes with its
 * instance, and instances starting at once do not trip over each other
 * (the table is left in place, as Incus leaves it).
 */
import t from 'tap';
import { withDaemon } from './lib/daemon';
import { hostLinks } from './lib/netns';

const hostBefore = hostLinks();
t.teardown(() => {
  const links = hostLinks();
  if (JSON.stringify(links) !== JSON.stringify(hostBefore)) throw new Error(`host interfaces changed: ${links.join(' ')}`);
});

t.test('netprio chains of instances started and stopped in one call', async (t) => {
  const d = await withDaemon(t, { netns: true });
  const ok = async (args: string[]): Promise<void> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')} ${r.stderr.trim()}`);
  };
  const names = ['p1', 'p2', 'p3'];
  for (const n of names) {
    await ok(['init', 'busybox', n]);
    await ok(['config', 'device', 'add', n, 'eth9', 'nic', 'nictype=p2p', 'name=eth9', 'limits.priority=5']);
  }
  const chains = (): string[] => {
    const r = d.netns!.run(['nft', '-j', 'list', 'table', 'netdev', 'incus']);
    if (r.code !== 0) return [];
    const objs = (JSON.parse(r.out) as { nftables: { chain?: { name: string } }[] }).nftables;
    return objs.flatMap((o) => (o.chain ? [o.chain.name] : [])).filter((c) => c.startsWith('egress.netprio.')).sort();
  };
  for (let round = 0; round < 2; round++) {
    await ok(['start', ...names]);
    const up = chains();
    t.equal(up.length, 3, `round ${round}: one netprio chain per instance (${up.join(' ')})`);
    for (const n of names) t.ok(up.some((c) => c.startsWith(`egress.netprio.${n}.`)), `round ${round}: ${n} has its chain`);
    await ok(['stop', '-f', ...names]);
    t.same(chains(), [], `round ${round}: the chains went with the instances`);
  }
});
