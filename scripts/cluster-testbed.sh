#!/bin/bash
# cluster-testbed.sh: N incusd members on one host, each in network and mount
# namespaces of its own, joined by veth pairs on a bridge in one more
# namespace. Nothing is created in the host's own network namespace: no
# interface, route, address, sysctl or firewall rule. Needs root.
#
#   cluster-testbed.sh up N [--dir D] [--prefix P]   start members m1..mN
#   cluster-testbed.sh status [--dir D]               members, addresses, PIDs
#   cluster-testbed.sh exec I [--dir D] [--] CMD...   run CMD inside member I
#   cluster-testbed.sh kill I [--dir D]               SIGKILL member I's daemon (a crash)
#   cluster-testbed.sh start I [--dir D]              start member I's daemon again
#   cluster-testbed.sh down [--dir D]                 stop and remove everything
#
# D defaults to /tmp/incus-testbed and P to incus-tb. Member I has
#   INCUS_DIR     D/mI (socket D/mI/unix.socket, log D/mI/incusd.log)
#   namespaces    D/ns/P-mI.net and D/ns/P-mI.mnt (the bridge's: D/ns/P-br.net)
#   address       10.203.0.(10+I)/24 on eth0; the bridge br0 has 10.203.0.1
# and D/testbed.json describes them all. The 10.203.0.0/24 network exists only
# inside these namespaces, so it cannot clash with the host's routes; two
# testbeds differ only by D and P.
#
# How the namespaces are kept. Each member's net and mount namespaces are made
# *persistent*: `unshare --net=FILE --mount=FILE` bind-mounts the namespace
# files onto D/ns/*, a private bind mount of its own (a mount namespace can
# only be pinned on a mount that does not propagate). Nothing depends on a
# process staying alive: the daemon can crash or be restarted, and every later
# command (`exec`, the daemon's start, `down`'s cleanup) enters the same
# namespaces with `nsenter --net=FILE --mount=FILE`, never through a PID that
# could be reused. `ip netns` is not used: it names only the net namespace,
# and its /run/netns mount would outlive the testbed.
#
# Inside a member's mount namespace the setup of PLATFORM.md §6 runs once:
# the sysfs of the member's net namespace is mounted on /sys (liblxc looks
# for /sys/class/net/BR/bridge) with the host's cgroup hierarchies put back
# on /sys/fs/cgroup, so that containers started by the member's daemon get
# their cgroups and veths (liblxc's abstract command sockets belong to the
# member's netns: lxc-* tools must run through `exec`). The member then drops
# its copies of the testbed's own namespace files, so that no member pins
# another. /tmp and the rest of the filesystem stay shared with the host:
# the host reaches each daemon through D/mI/unix.socket.
#
# `down` is idempotent and works after a partial `up` (which calls it itself
# on failure): it stops each daemon by the PID in D/mI/incusd.pid (checked
# against /proc/PID/cmdline; SIGTERM, then SIGKILL), force-stops containers,
# ends whatever still runs in the member's namespaces (found by namespace
# inode), unmounts the namespace files, detaches loop devices backed by files
# under D and removes D (only a D that `up` marked as a testbed).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE=${NODE:-node}
SUBNET=10.203.0
DIR=/tmp/incus-testbed
PREFIX=incus-tb

die() { echo "cluster-testbed: $*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: cluster-testbed.sh up N [--dir D] [--prefix P]
       cluster-testbed.sh status [--dir D]
       cluster-testbed.sh exec I [--dir D] [--] CMD...
       cluster-testbed.sh kill I [--dir D]
       cluster-testbed.sh start I [--dir D]
       cluster-testbed.sh down [--dir D]
EOF
  exit 2
}

# Whether PATH is a mount point in this (the host's) mount namespace.
is_mounted() { awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo; }

nsdir() { echo "$DIR/ns"; }
netfile() { echo "$DIR/ns/$PREFIX-$1.net"; }
mntfile() { echo "$DIR/ns/$PREFIX-$1.mnt"; }

# The process ids whose namespace of KIND (net, mnt) is the one pinned at FILE.
pids_in_ns() {
  local kind=$1 file=$2 ino
  is_mounted "$file" || return 0
  ino=$(stat -L -c %i "$file" 2>/dev/null) || return 0
  find /proc/[0-9]*/ns/"$kind" -maxdepth 0 -lname "$kind:\[$ino\]" 2>/dev/null | cut -d/ -f3
  return 0
}

# Whether PID is member I's incusd (guards against a reused PID).
is_member_daemon() {
  local pid=$1 i=$2 cmdline
  cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmdline == *"/incusd --logfile $DIR/m$i/incusd.log "* ]]
}

member_count() {
  local n=0 d
  for d in "$DIR"/m[0-9]*; do [ -d "$d" ] && n=$((n + 1)); done
  echo "$n"
}

# Runs CMD in member I's namespaces (the host's filesystem, the member's /sys).
in_member() {
  local i=$1; shift
  nsenter --net="$(netfile "m$i")" --mount="$(mntfile "m$i")" --wd="$PWD" -- "$@"
}

# The setup that runs once inside a new member's namespaces (PLATFORM.md §6).
# Arguments: testbed dir, namespace dir, bridge netns file, member index, address.
MEMBER_SETUP='
set -e
dir=$1 nsdir=$2 brnet=$3 i=$4 addr=$5
save="$dir/cgsave.m$i"
mkdir "$save"
mount --rbind /sys/fs/cgroup "$save"
mount -t sysfs sysfs /sys
mount --rbind "$save" /sys/fs/cgroup
umount -l "$save"; rmdir "$save"
ip link set lo up
nsenter --net="$brnet" ip link add "m$i" type veth peer name eth0 netns $$
nsenter --net="$brnet" ip link set "m$i" master br0 up
ip addr add "$addr/24" dev eth0
ip link set eth0 up
umount -l "$nsdir"
'

write_json() {
  local n=$1 i sep=''
  {
    printf '{\n  "dir": "%s",\n  "prefix": "%s",\n' "$DIR" "$PREFIX"
    printf '  "bridge": { "netns": "%s", "netns_file": "%s", "interface": "br0", "address": "%s.1/24" },\n' \
      "$PREFIX-br" "$(netfile br)" "$SUBNET"
    printf '  "members": [\n'
    for ((i = 1; i <= n; i++)); do
      printf '%s    { "index": %d, "name": "m%d", "netns": "%s", "netns_file": "%s", "mountns_file": "%s",\n' \
        "$sep" "$i" "$i" "$PREFIX-m$i" "$(netfile "m$i")" "$(mntfile "m$i")"
      printf '      "address": "%s.%d", "incus_dir": "%s", "socket": "%s", "pid": %s }' \
        "$SUBNET" $((10 + i)) "$DIR/m$i" "$DIR/m$i/unix.socket" "$(cat "$DIR/m$i/incusd.pid")"
      sep=$',\n'
    done
    printf '\n  ]\n}\n'
  } >"$DIR/testbed.json.tmp"
  mv "$DIR/testbed.json.tmp" "$DIR/testbed.json"
}

start_member() {
  local i=$1 m="$DIR/m$1"
  mkdir -p "$m"
  touch "$(netfile "m$i")" "$(mntfile "m$i")"
  unshare --net="$(netfile "m$i")" --mount="$(mntfile "m$i")" --propagation private \
    sh -c "$MEMBER_SETUP" member-setup "$DIR" "$(nsdir)" "$(netfile br)" "$i" "$SUBNET.$((10 + i))"
  launch_daemon "$i"
}

# Starts member I's incusd in its (existing) namespaces; D/mI/incusd.pid holds its PID.
launch_daemon() {
  local i=$1 m="$DIR/m$1" pid
  # setsid (not a group leader here, so it does not fork), nsenter and env all
  # exec: $! is incusd's own PID. Its own session keeps it out of our job control.
  setsid nsenter --net="$(netfile "m$i")" --mount="$(mntfile "m$i")" --wd=/ -- \
    env INCUS_DIR="$m" INCUS_SOCKET= "$NODE" "$ROOT/bin/incusd" --logfile "$m/incusd.log" \
    </dev/null >"$m/incusd.out" 2>&1 &
  pid=$!
  echo "$pid" >"$m/incusd.pid"
}

wait_member() {
  local i=$1 m="$DIR/m$1" pid
  pid=$(cat "$m/incusd.pid")
  if ! INCUS_DIR="$m" INCUS_SOCKET= "$NODE" "$ROOT/bin/incus" admin waitready --timeout 60 >/dev/null 2>&1; then
    echo "member m$i (pid $pid) did not become ready; its log:" >&2
    tail -n 20 "$m/incusd.log" "$m/incusd.out" >&2 2>/dev/null || true
    return 1
  fi
  is_member_daemon "$pid" "$i" || { echo "member m$i: PID $pid is not its incusd" >&2; return 1; }
}

cmd_up() {
  local n=$1 i
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 200)) || die "N must be between 1 and 200"
  [ -e "$DIR/testbed.prefix" ] && die "$DIR already holds a testbed: run '$0 down --dir $DIR' first"
  command -v nsenter >/dev/null && command -v unshare >/dev/null || die "nsenter and unshare (util-linux) are needed"
  mkdir -p "$DIR" "$(nsdir)"
  # Unprivileged containers' root must get through to each member's INCUS_DIR (as through /var/lib).
  chmod 0711 "$DIR"
  echo "$PREFIX" >"$DIR/testbed.prefix"
  trap 'echo "cluster-testbed: up failed, cleaning up" >&2; cmd_down >&2 || true' ERR
  set -E
  # A private mount of its own: mount namespace files can be pinned only there.
  mount --bind "$(nsdir)" "$(nsdir)"
  mount --make-private "$(nsdir)"

  touch "$(netfile br)"
  unshare --net="$(netfile br)" sh -c "
    set -e
    ip link set lo up
    ip link add br0 type bridge
    ip addr add $SUBNET.1/24 dev br0
    ip link set br0 up"

  for ((i = 1; i <= n; i++)); do start_member "$i"; done
  for ((i = 1; i <= n; i++)); do wait_member "$i"; done
  write_json "$n"
  trap - ERR
  cmd_status
}

cmd_status() {
  local i n pid state
  [ -e "$DIR/testbed.prefix" ] || { echo "no testbed in $DIR"; return 0; }
  n=$(member_count)
  echo "testbed $DIR (namespaces $PREFIX-*), bridge br0 $SUBNET.1/24 in $(netfile br)"
  for ((i = 1; i <= n; i++)); do
    pid=$(cat "$DIR/m$i/incusd.pid" 2>/dev/null || echo '-')
    if [ "$pid" != - ] && is_member_daemon "$pid" "$i"; then state=running; else state=stopped; fi
    printf 'm%-3d %-14s pid %-8s %-8s INCUS_DIR=%s\n' "$i" "$SUBNET.$((10 + i))" "$pid" "$state" "$DIR/m$i"
  done
}

cmd_exec() {
  local i=$1; shift
  [ "${1:-}" = -- ] && shift
  [ $# -gt 0 ] || die "exec: no command"
  [[ $i =~ ^[0-9]+$ ]] && [ -d "$DIR/m$i" ] || die "exec: no member $i in $DIR"
  is_mounted "$(mntfile "m$i")" || die "exec: member $i's namespaces are gone"
  INCUS_DIR="$DIR/m$i" INCUS_SOCKET= PATH="$ROOT/bin:$PATH" in_member "$i" "$@"
}

# Member I's number, checked: it exists and its namespaces are up.
member_arg() {
  [[ $1 =~ ^[0-9]+$ ]] && [ -d "$DIR/m$1" ] || die "no member $1 in $DIR"
  is_mounted "$(mntfile "m$1")" || die "member $1's namespaces are gone"
}

# kill I: SIGKILL to member I's daemon alone (a crash; its containers and namespaces stay).
cmd_kill() {
  local i=$1 pid
  member_arg "$i"
  pid=$(cat "$DIR/m$i/incusd.pid" 2>/dev/null || true)
  [ -n "$pid" ] && is_member_daemon "$pid" "$i" || die "member m$i's daemon is not running"
  kill -KILL "$pid"
  while is_member_daemon "$pid" "$i"; do sleep 0.05; done
  echo "m$i (pid $pid) killed"
}

# start I: starts member I's daemon again in its namespaces and waits until it is ready.
cmd_start() {
  local i=$1 pid
  member_arg "$i"
  pid=$(cat "$DIR/m$i/incusd.pid" 2>/dev/null || true)
  [ -n "$pid" ] && is_member_daemon "$pid" "$i" && die "member m$i's daemon is running (pid $pid)"
  launch_daemon "$i"
  wait_member "$i"
  write_json "$(member_count)"
  echo "m$i started (pid $(cat "$DIR/m$i/incusd.pid"))"
}

# Stops member I's processes: the daemon by PID, then containers, then anything left in its namespaces.
stop_member() {
  local i=$1 m="$DIR/m$1" pid t c lxcpath pids sig
  pid=$(cat "$m/incusd.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && is_member_daemon "$pid" "$i"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((t = 0; t < 100; t++)); do is_member_daemon "$pid" "$i" || break; sleep 0.1; done
    is_member_daemon "$pid" "$i" && kill -KILL "$pid" 2>/dev/null || true
  fi
  is_mounted "$(mntfile "m$i")" || return 0
  lxcpath="$m/containers"
  if [ -d "$lxcpath" ]; then
    for c in $(in_member "$i" lxc-ls -P "$lxcpath" --running -1 2>/dev/null || true); do
      in_member "$i" lxc-stop -P "$lxcpath" -n "$c" -k >/dev/null 2>&1 || true
    done
  fi
  # Whatever is still inside (dnsmasq, QEMU, lxc monitors finishing their cleanup) was
  # started by this testbed: a second to end on its own, SIGTERM, two more, SIGKILL.
  for ((t = 0; t <= 30; t++)); do
    pids=$(pids_in_ns net "$(netfile "m$i")"; pids_in_ns mnt "$(mntfile "m$i")")
    [ -z "$pids" ] && break
    if ((t == 10)); then sig=TERM; elif ((t == 30)); then sig=KILL; else sig=''; fi
    # shellcheck disable=SC2086
    if [ -n "$sig" ]; then kill -"$sig" $pids 2>/dev/null || true; fi
    sleep 0.1
  done
  return 0
}

cmd_down() {
  local i n f line
  [ -n "$DIR" ] && [ "$DIR" != / ] || die "refusing to clean up '$DIR'"
  if [ ! -e "$DIR/testbed.prefix" ]; then echo "no testbed in $DIR"; return 0; fi
  PREFIX=$(cat "$DIR/testbed.prefix")
  n=$(member_count)
  for ((i = 1; i <= n; i++)); do stop_member "$i"; done
  for f in "$(nsdir)"/*.mnt "$(nsdir)"/*.net; do
    if [ -e "$f" ] && is_mounted "$f"; then umount "$f"; fi
  done
  if is_mounted "$(nsdir)"; then umount "$(nsdir)" || umount -l "$(nsdir)"; fi
  # Loop devices of storage pools made by the members (their mounts went with the mount namespaces).
  losetup -a 2>/dev/null | while IFS= read -r line; do
    [[ $line =~ ^(/dev/loop[0-9]+):.*\((.*)\)$ ]] || continue
    [[ ${BASH_REMATCH[2]% (deleted)} == "$DIR"/* ]] && losetup -d "${BASH_REMATCH[1]}" || true
  done
  if grep -qF " $DIR/" /proc/self/mountinfo; then
    echo "cluster-testbed: mounts under $DIR remain; leaving the directory" >&2
    return 1
  fi
  rm -rf --one-file-system "$DIR"
  echo "testbed $DIR removed"
}

[ $# -ge 1 ] || usage
cmd=$1; shift
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --dir) DIR=${2:?--dir needs a value}; shift 2 ;;
    --dir=*) DIR=${1#--dir=}; shift ;;
    --prefix) PREFIX=${2:?--prefix needs a value}; shift 2 ;;
    --prefix=*) PREFIX=${1#--prefix=}; shift ;;
    --) args+=("$@"); break ;;
    *) if [ "$cmd" = exec ] && [ ${#args[@]} -ge 1 ]; then args+=("$@"); break; fi
       args+=("$1"); shift ;;
  esac
done
[ "$(id -u)" = 0 ] || die "needs root (namespaces, mounts)"
[[ $DIR == /* && $DIR != *[[:space:]]* ]] || die "--dir must be an absolute path without spaces"
DIR=${DIR%/}
[[ $PREFIX =~ ^[A-Za-z0-9_.-]+$ ]] || die "--prefix may hold only letters, digits, '.', '_' and '-'"
[ -e "$DIR/testbed.prefix" ] && [ "$cmd" != up ] && PREFIX=$(cat "$DIR/testbed.prefix")

case $cmd in
  up) [ ${#args[@]} -eq 1 ] || usage; cmd_up "${args[0]}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  exec) [ ${#args[@]} -ge 2 ] || usage; cmd_exec "${args[@]}" ;;
  kill) [ ${#args[@]} -eq 1 ] || usage; cmd_kill "${args[0]}" ;;
  start) [ ${#args[@]} -eq 1 ] || usage; cmd_start "${args[0]}" ;;
  *) usage ;;
esac
