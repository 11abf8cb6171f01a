/**
 * The CLI on testbed members as cluster tests use it, and the cluster they
 * form: m1 with a dir pool as the default profile's root and a busybox
 * image, then the other members joined with tokens m1 gives.
 */
import type { Test } from 'tap';
import type { ClusterTestbed } from './cluster-testbed';
import { busyboxImage } from './image';

/** Member i's cluster address in the testbed. */
export const ADDR = (i: number): string => `10.203.0.${10 + i}:8443`;

export interface ClusterCli {
  run(i: number, args: string[], input?: string): ReturnType<ClusterTestbed['cli']>;
  /** Runs and checks it exits 0; its stdout. */
  ok(i: number, args: string[], input?: string): Promise<string>;
}

export function clusterCli(t: Test, tb: ClusterTestbed): ClusterCli {
  const run = async (i: number, args: string[], input?: string) => tb.cli(i, args, { input, timeoutMs: 120_000 });
  const ok = async (i: number, args: string[], input?: string): Promise<string> => {
    const r = await run(i, args, input);
    t.equal(r.code, 0, `m${i}: incus ${args.join(' ')}${r.code === 0 ? '' : `: ${r.stderr}`}`);
    return r.stdout;
  };
  return { run, ok };
}

/** Forms the cluster of members 1..n (about 20 s for three). */
export async function formCluster({ ok }: ClusterCli, n: number): Promise<void> {
  await ok(1, ['config', 'set', `core.https_address=${ADDR(1)}`]);
  await ok(1, ['storage', 'create', 'default', 'dir']);
  await ok(1, ['profile', 'device', 'add', 'default', 'root', 'disk', 'path=/', 'pool=default']);
  await ok(1, ['image', 'import', await busyboxImage(), '--alias', 'busybox']);
  await ok(1, ['cluster', 'enable', 'm1']);
  for (let i = 2; i <= n; i++) {
    const token = (await ok(1, ['cluster', 'add', `m${i}`])).trim().split('\n').pop()!;
    await ok(i, ['admin', 'init', '--preseed'], `cluster:\n  enabled: true\n  server_address: ${ADDR(i)}\n  cluster_token: ${token}\n`);
  }
}
