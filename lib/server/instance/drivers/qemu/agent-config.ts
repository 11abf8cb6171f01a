/**
 * The VM's agent config share (Incus's `config` share): the static
 * incus-agent binary, the per-VM secret the daemon authenticates with, and
 * the install.sh a guest's boot hook runs to start the agent. Made at every
 * start; the secret stays across starts so a restarted daemon can still
 * reach an agent already running.
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentBinaryPath } from '../../../../native/addon';

/** The share's folder inside the VM's config volume. */
export function agentConfigDir(volumePath: string): string {
  return join(volumePath, 'config');
}

const INSTALL_SH = `#!/bin/sh
# Started by the guest's boot hook from the "config" share.
mkdir -p /run/incus_agent
cp incus-agent agent.secret /run/incus_agent/
cd /run/incus_agent && ./incus-agent </dev/null >/dev/console 2>&1 &
`;

/** The VM's agent secret, made on first use. */
export async function agentSecret(volumePath: string): Promise<string> {
  const file = join(agentConfigDir(volumePath), 'agent.secret');
  try {
    const s = (await readFile(file, 'utf8')).trim();
    if (s) return s;
  } catch {
    // Not made yet.
  }
  const secret = randomBytes(32).toString('hex');
  await mkdir(agentConfigDir(volumePath), { recursive: true, mode: 0o700 });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Fills the share: the agent binary, its secret and install.sh; returns the folder. */
export async function prepareAgentConfig(volumePath: string): Promise<string> {
  const dir = agentConfigDir(volumePath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await agentSecret(volumePath);
  await copyFile(agentBinaryPath(), join(dir, 'incus-agent'));
  await chmod(join(dir, 'incus-agent'), 0o755);
  await writeFile(join(dir, 'install.sh'), INSTALL_SH, { mode: 0o755 });
  return dir;
}
