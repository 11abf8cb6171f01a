/**
 * The usual three-member cluster of the testbed tests: m1 gets an address, a
 * dir pool `default` as the default profile's root disk and the busybox
 * image, then forms the cluster; m2.. join it with a token each.
 */
import type { Test } from 'tap';
import type { ClusterTestbed } from './cluster-testbed';
import type { CliResult } from './daemon';
import { busyboxImage } from './image';

export const memberAddress = (i: number): string => `10.203.0.${10 + i}:8443`;

/** `ok` runs the CLI on a member, asserting success, and resolves to stdout. */
export async function formCluster(n: number, ok: (i: number, args: string[], input?: string) => Promise<string>): Promise<void> {
  await ok(1, ['config', 'set', `core.https_address=${memberAddress(1)}`]);
  await ok(1, ['storage', 'create', 'default', 'dir']);
  await ok(1, ['profile', 'device', 'add', 'default', 'root', 'disk', 'path=/', 'pool=default']);
  await ok(1, ['image', 'import', await busyboxImage(), '--alias', 'busybox']);
  await ok(1, ['cluster', 'enable', 'm1']);
  for (let i = 2; i <= n; i++) {
    const token = (await ok(1, ['cluster', 'add', `m${i}`])).trim().split('\n').pop()!;
    await ok(i, ['admin', 'init', '--preseed'], `cluster:\n  enabled: true\n  server_address: ${memberAddress(i)}\n  cluster_token: ${token}\n`);
  }
}

/** The CLI on member i: `run` as is, `ok` asserting success (resolves to stdout). */
export function memberCli(
  t: Test,
  tb: ClusterTestbed,
): { run: (i: number, args: string[], input?: string) => Promise<CliResult>; ok: (i: number, args: string[], input?: string) => Promise<string> } {
  const run = async (i: number, args: string[], input?: string) => tb.cli(i, args, { input, timeoutMs: 120_000 });
  const ok = async (i: number, args: string[], input?: string): Promise<string> => {
    const r = await run(i, args, input);
    t.equal(r.code, 0, `m${i}: incus ${args.join(' ')}${r.code === 0 ? '' : `: ${r.stderr}`}`);
    return r.stdout;
  };
  return { run, ok };
}
