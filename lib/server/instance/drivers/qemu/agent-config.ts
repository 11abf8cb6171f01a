/**
 * The VM's agent config share (Incus's `config` share), laid out as Incus
 * lays it out so images that ship Incus's hook start our agent: the static
 * incus-agent binary, the per-VM secret the daemon authenticates with
 * (copied beside it), systemd/ (the unit and its setup script), udev/ (the
 * rule) and install.sh (installs those, or starts the agent directly where
 * there is no systemd). Made at every start; the secret stays across
 * starts so a restarted daemon can still reach an agent already running.
 */
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentBinaryPath } from '../../../../native/addon';

/** The share's folder inside the VM's config volume. */
export function agentConfigDir(volumePath: string): string {
  return join(volumePath, 'config');
}

/** Where the agent runs in the guest (as Incus: a tmpfs the setup script fills from the share). */
const GUEST_DIR = '/run/incus_agent';

/**
 * install.sh, run from the share. On systemd guests it installs what Incus
 * images ship (the unit, its setup script, the udev rule that starts the
 * agent when its port appears; TARGET becomes the directory used) and
 * starts the agent through them; elsewhere (busybox, sysvinit) it copies
 * the agent out of the share and starts it: a boot hook runs it each boot.
 */
const INSTALL_SH = `#!/bin/sh
# The Incus guest agent from this share (the instance's "config" share).
set -u
cd "$(dirname "$0")" || exit 1
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  TARGET=
  for dir in /usr/lib /lib /etc; do
    if [ -w "$dir/systemd" ] && [ -w "$dir/udev" ]; then TARGET=$dir; break; fi
  done
  if [ -n "$TARGET" ]; then
    mkdir -p "$TARGET/udev/rules.d" "$TARGET/systemd/system"
    sed "s#TARGET#$TARGET#g" udev/99-incus-agent.rules > "$TARGET/udev/rules.d/99-incus-agent.rules"
    sed "s#TARGET#$TARGET#g" systemd/incus-agent.service > "$TARGET/systemd/system/incus-agent.service"
    sed "s#TARGET#$TARGET#g" systemd/incus-agent-setup > "$TARGET/systemd/incus-agent-setup"
    chmod 0755 "$TARGET/systemd/incus-agent-setup"
    systemctl daemon-reload
    echo "incus-agent: installed into $TARGET; starting incus-agent.service"
    exec systemctl start --no-block incus-agent.service
  fi
fi
# A private tmpfs, as Incus's setup makes: /run may be mounted noexec.
umount -l ${GUEST_DIR} >/dev/null 2>&1 || true
mkdir -p ${GUEST_DIR}
mount -t tmpfs tmpfs ${GUEST_DIR} -o mode=0700,size=50M >/dev/null 2>&1 || true
cp incus-agent agent.secret ${GUEST_DIR}/
cd ${GUEST_DIR} && ./incus-agent </dev/null >/dev/console 2>&1 &
`;

/** The unit Incus images carry (Type=notify: the agent reports ready once its port is open). */
const AGENT_SERVICE = `[Unit]
Description=Incus - agent
Documentation=https://linuxcontainers.org/incus/docs/main/
Before=multi-user.target cloud-init.target cloud-init.service cloud-init-local.service
DefaultDependencies=no

[Service]
Type=notify
WorkingDirectory=-${GUEST_DIR}
ExecStartPre=TARGET/systemd/incus-agent-setup
ExecStart=${GUEST_DIR}/incus-agent
Restart=on-failure
RestartSec=5s
StartLimitInterval=60
StartLimitBurst=10
`;

/** The unit's setup: the share (9p tag config, else the incus-agent drive) copied into a private tmpfs. */
const AGENT_SETUP = `#!/bin/sh
set -eu
PREFIX=${GUEST_DIR}
MNT="$PREFIX.mnt"
mkdir -p "$MNT"
if ! mount -t virtiofs config "$MNT" >/dev/null 2>&1; then
  modprobe 9pnet_virtio >/dev/null 2>&1 || true
  if ! mount -t 9p config "$MNT" -o ro,access=0,trans=virtio,msize=1048576 >/dev/null 2>&1; then
    if ! mount -o ro /dev/disk/by-label/incus-agent "$MNT" >/dev/null 2>&1; then
      rmdir "$MNT" 2>/dev/null || true
      # A restart of the unit keeps the agent copied before.
      [ -x "$PREFIX/incus-agent" ] && exit 0
      echo "incus-agent-setup: no config share or drive"
      exit 1
    fi
  fi
fi
umount -l "$PREFIX" >/dev/null 2>&1 || true
mkdir -p "$PREFIX"
mount -t tmpfs tmpfs "$PREFIX" -o mode=0700,size=50M
cp -Ra "$MNT"/* "$PREFIX"
umount "$MNT"
rmdir "$MNT"
chown -R root:root "$PREFIX"
`;

/** Starts the unit when the agent's virtio-serial port shows up. */
const AGENT_UDEV_RULE = 'SYMLINK=="virtio-ports/org.linuxcontainers.incus", TAG+="systemd", ENV{SYSTEMD_WANTS}+="incus-agent.service"\n';


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
  await mkdir(join(dir, 'systemd'), { recursive: true, mode: 0o755 });
  await mkdir(join(dir, 'udev'), { recursive: true, mode: 0o755 });
  await writeFile(join(dir, 'systemd', 'incus-agent.service'), AGENT_SERVICE, { mode: 0o644 });
  await writeFile(join(dir, 'systemd', 'incus-agent-setup'), AGENT_SETUP, { mode: 0o755 });
  await writeFile(join(dir, 'udev', '99-incus-agent.rules'), AGENT_UDEV_RULE, { mode: 0o644 });
  return dir;
}
