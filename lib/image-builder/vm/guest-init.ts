/**
 * The test VM's userspace (pure text): `/init` of the initramfs, which is
 * the whole guest, and the udhcpc hook. Markers go to the serial console
 * one per line so host tests can wait for them:
 *   INCUS-TESTVM-READY cpus=<n> mem_kb=<MemTotal> kernel=<uname -r> nics=<a,b|-> disks=<a,b|-> uptime=<s>
 *   INCUS-TESTVM-LEASE iface=<nic> ip=<address> router=<gw|->
 *   INCUS-TESTVM-AGENT source=<what was mounted>   (before install.sh runs)
 *   INCUS-TESTVM-POWEROFF                          (ACPI power button seen)
 */

/** Prefix of the boot marker line. */
export const READY_MARKER = 'INCUS-TESTVM-READY';
/** Prefix of the line printed when a NIC gets a DHCP lease. */
export const LEASE_MARKER = 'INCUS-TESTVM-LEASE';
/** Printed when the power button is pressed, just before `poweroff -f`. */
export const POWEROFF_MARKER = 'INCUS-TESTVM-POWEROFF';
/** Printed when an agent config share or drive was mounted. */
export const AGENT_MARKER = 'INCUS-TESTVM-AGENT';

/** Where /init mounts an agent config share or drive; `install.sh` there runs once at boot. */
export const AGENT_CONFIG_DIR = '/mnt/agent-config';

/** Kernel command line baked into the unified kernel image. */
export const KERNEL_CMDLINE = 'console=ttyS0 quiet scsi_mod.scan=sync';

/** udhcpc's event script: configures the address and route, then prints the lease marker. */
export const UDHCPC_SCRIPT = `#!/bin/sh
# udhcpc hook (busybox): $1 is the event, the lease comes in the environment.
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      ip route replace default via "\${router%% *}" dev "$interface"
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "${LEASE_MARKER} iface=$interface ip=$ip router=\${router:--}" > /dev/console
    ;;
esac
exit 0
`;

/**
 * /init: mounts the API filesystems, loads the modules listed in
 * /etc/modules, prints the boot marker with what the guest sees, watches
 * the ACPI power button, starts DHCP on every NIC, runs the agent hook,
 * and keeps a shell on the console. It never exits (PID 1).
 */
export const INIT_SCRIPT = `#!/bin/sh
# Test VM init (incus-image-builder busybox --vm). PID 1: must never exit.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1

for m in $(cat /etc/modules); do modprobe "$m" 2>/dev/null || echo "init: cannot load $m"; done
# Coldplug: drivers for the virtio devices present, then for the SCSI devices their controllers found.
coldplug() { for a in /sys/bus/$1/devices/*/modalias; do [ -r "$a" ] && modprobe -q "$(cat "$a")"; done; }
coldplug virtio
coldplug scsi
# Hot-plugged devices (QMP device_add) get their driver through mdev.
mdev -d
hostname -F /etc/hostname
ip link set lo up

# ACPI power button (QMP system_powerdown): any event on its input device powers off.
# The device is opened here, before the marker, so a press right after it is not lost.
for d in /sys/class/input/input*; do
  [ "$(cat "$d/name" 2>/dev/null)" = "Power Button" ] || continue
  for e in "$d"/event*; do
    [ -e "/dev/input/\${e##*/}" ] || continue
    exec 3<"/dev/input/\${e##*/}"
    ( head -c 1 <&3 >/dev/null && echo "${POWEROFF_MARKER}" && poweroff -f ) &
    exec 3<&-
    break 2
  done
done

list() { r=; for x in "$@"; do r="\${r:+$r,}$x"; done; echo "\${r:--}"; }
nics=; for n in /sys/class/net/*; do n=\${n##*/}; [ "$n" = lo ] || nics="$nics $n"; done
disks=; for b in /sys/block/*; do b=\${b##*/}; case "$b" in loop*|ram*|zram*) ;; *) disks="$disks $b";; esac; done
mem_kb=$(sed -n 's/^MemTotal: *\\([0-9]*\\) kB$/\\1/p' /proc/meminfo)
echo "${READY_MARKER} cpus=$(nproc) mem_kb=$mem_kb kernel=$(uname -r) nics=$(list $nics) disks=$(list $disks) uptime=$(cut -d' ' -f1 /proc/uptime)"

for n in $nics; do
  ip link set "$n" up
  udhcpc -b -i "$n" -s /etc/udhcpc.script -p "/run/udhcpc.$n.pid" >/dev/null 2>&1
done

# Hook for the guest agent: a share tagged config or agent (virtiofs or 9p), or a drive labelled incus-agent.
has_tag() {
  for f in /sys/bus/virtio/drivers/$1/*/mount_tag /sys/bus/virtio/drivers/$1/*/tag; do
    [ -r "$f" ] && [ "$(tr -d '\\0' < "$f")" = "$2" ] && return 0
  done
  return 1
}
has_virtiofs() { grep -qx 0x001a /sys/bus/virtio/devices/*/device 2>/dev/null; }
agent_mount() {
  d=${AGENT_CONFIG_DIR}
  mkdir -p "$d"
  for tag in config agent; do
    has_virtiofs && mount -t virtiofs "$tag" "$d" 2>/dev/null && { echo "virtiofs:$tag"; return 0; }
    has_tag 9pnet_virtio "$tag" && mount -t 9p -o trans=virtio,version=9p2000.L "$tag" "$d" 2>/dev/null && { echo "9p:$tag"; return 0; }
  done
  # Named types, so the kernel loads the filesystem module on demand (plain mount tries only loaded ones).
  dev=$(findfs LABEL=incus-agent 2>/dev/null) || return 1
  for fs in iso9660 ext4; do
    mount -t "$fs" -o ro "$dev" "$d" 2>/dev/null && { echo "drive:$dev"; return 0; }
  done
  return 1
}
if src=$(agent_mount); then
  echo "${AGENT_MARKER} source=$src"
  [ -f ${AGENT_CONFIG_DIR}/install.sh ] && ( cd ${AGENT_CONFIG_DIR} && sh ./install.sh ) &
fi

# A root shell on the console, started again whenever it exits.
while :; do
  setsid -c sh -l
  sleep 1
done
`;

/** mdev (hot-plug) rules: load the driver of any device that appears; nodes come from devtmpfs. */
export const MDEV_CONF = '$MODALIAS=.* 0:0 660 @modprobe -q "$MODALIAS"\n';

/** Files of the initramfs besides busybox, the modules and /init. */
export function guestEtcFiles(bootModules: readonly string[]): { path: string; mode: number; content: string }[] {
  return [
    { path: 'etc/modules', mode: 0o644, content: `${bootModules.join('\n')}\n` },
    { path: 'etc/hostname', mode: 0o644, content: 'testvm\n' },
    { path: 'etc/passwd', mode: 0o644, content: 'root:x:0:0:root:/root:/bin/sh\n' },
    { path: 'etc/group', mode: 0o644, content: 'root:x:0:\n' },
    { path: 'etc/profile', mode: 0o644, content: 'export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nPS1="testvm# "\n' },
    { path: 'etc/udhcpc.script', mode: 0o755, content: UDHCPC_SCRIPT },
    { path: 'etc/mdev.conf', mode: 0o644, content: MDEV_CONF },
  ];
}
