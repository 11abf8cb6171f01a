#!/bin/bash
# ns-init.sh WORK SUITE: the first process of run.sh's fresh net+mount+PID
# namespace. Prepares the namespace as liblxc needs
# it (sysfs of the new netns, the host's cgroup hierarchies kept), records the
# namespace ids for run.sh's leftover check, then runs Incus's test/main.sh
# for one suite from the copied test folder (on a pseudo-terminal when
# UPSTREAM_TTY is set, for the suites that want one). As PID 1 of the namespace, bash
# also reaps the processes orphaned in it.
set -eu
work=$1
suite=$2

# /sys of the new network namespace (LXC checks /sys/class/net/BR/bridge),
# with the cgroup mounts carried over.
d=$(mktemp -d "$work/cgsave.XXXXXX")
mount --rbind /sys/fs/cgroup "$d"
mount -t sysfs sysfs /sys
mount --rbind "$d" /sys/fs/cgroup
umount -l "$d"
rmdir "$d"
ip link set lo up

echo "$(readlink /proc/self/ns/pid) $(readlink /proc/self/ns/net) $(readlink /proc/self/ns/mnt)" > "$work/ns-ids"

cd "$work/test"
set +e
if [ -n "${UPSTREAM_TTY:-}" ]; then
  # The suite checks `tty -s` (it drives an editor): give it a terminal.
  script -qefc "./main.sh $suite" /dev/null
else
  ./main.sh "$suite"
fi
rc=$?
exit "$rc"
