/**
 * The cluster most instance tests start from: three (or n) testbed members
 * joined to m1, a dir pool `default` in the default profile, and the busybox
 * image as `busybox` (defined before the joins, so each joiner gets them).
 */
import type { Test } from 'tap';
import type { CliResult } from './daemon';
import type { ClusterTestbed } from './cluster-testbed';
import { busyboxImage } from './image';

/** A member's cluster address on the testbed bridge. */
export const ADDR = (i: number): string => `10.203.0.${10 + i}:8443`;

export interface MemberCli {
  /** Runs `incus ARGS` inside member i. */
  run(i: number, args: string[], input?: string): Promise<CliResult>;
  /** The same, asserting success; resolves with its stdout. */
  ok(i: number, args: string[], input?: string): Promise<string>;
}

export function memberCli(t: Test, tb: ClusterTestbed): MemberCli {
  const run = async (i: number, args: string[], input?: string): Promise<CliResult> => tb.cli(i, args, { input, timeoutMs: 120_000 });
  const ok = async (i: number, args: string[], input?: string): Promise<string> => {
    const r = await run(i, args, input);
    t.equal(r.code, 0, `m${i}: incus ${args.join(' ')}${r.code === 0 ? '' : `: ${r.stderr}`}`);
    return r.stdout;
  };
  return { run, ok };
}

/** Bootstraps m1 with the pool and the image, then joins m2..mN to it. */
export async function formCluster(ok: MemberCli['ok'], members: number): Promise<void> {
  await ok(1, ['config', 'set', `core.https_address=${ADDR(1)}`]);
  await ok(1, ['storage', 'create', 'default', 'dir']);
  await ok(1, ['profile', 'device', 'add', 'default', 'root', 'disk', 'path=/', 'pool=default']);
  await ok(1, ['image', 'import', await busyboxImage(), '--alias', 'busybox']);
  await ok(1, ['cluster', 'enable', 'm1']);
  for (let i = 2; i <= members; i++) {
    const token = (await ok(1, ['cluster', 'add', `m${i}`])).trim().split('\n').pop()!;
    await ok(i, ['admin', 'init', '--preseed'], `cluster:\n  enabled: true\n  server_address: ${ADDR(i)}\n  cluster_token: ${token}\n`);
  }
}
