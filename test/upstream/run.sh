#!/bin/bash
# Runs Incus's own shell test suites (test/main.sh of an Incus checkout) with
# this tree's incus and incusd, one suite at a time, each in a fresh network,
# mount and PID namespace, and prints "ok NAME", "FAIL NAME (reason)" or
# "skip NAME (reason)" per suite, then "N ok, N failed, N skipped".
#
#   INCUS_SRC=/path/to/incus test/upstream/run.sh [SUITE...]
#
# Nothing is fetched: INCUS_SRC is a checkout (only its test/ folder is used,
# copied into a temporary directory so the checkout stays untouched). Without
# SUITE arguments the suites in suites.list run. Without INCUS_SRC the runner
# says so and exits 0, so CI can call it unconditionally.
#
# Environment: INCUS_BACKEND (dir or btrfs; default dir), UPSTREAM_TIMEOUT
# (seconds per suite, default 1200), UPSTREAM_LOGS (where each suite's output
# and daemon logs are kept, default /tmp/incus-upstream-logs), UPSTREAM_TMPDIR
# (parent of the per-suite work directories, default /tmp), UPSTREAM_KEEP=1
# (keep the work directory), INCUS_VERBOSE / INCUS_DEBUG (passed to main.sh:
# shell tracing and --verbose/--debug on every incus call).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BACKEND=${INCUS_BACKEND:-dir}
TIMEOUT=${UPSTREAM_TIMEOUT:-1200}
LOGS=${UPSTREAM_LOGS:-/tmp/incus-upstream-logs}
TMPPARENT=${UPSTREAM_TMPDIR:-/tmp}

n_ok=0 n_fail=0 n_skip=0
result() { # result ok|FAIL|skip NAME [REASON]
  case "$1" in ok) n_ok=$((n_ok + 1)) ;; FAIL) n_fail=$((n_fail + 1)) ;; skip) n_skip=$((n_skip + 1)) ;; esac
  if [ -n "${3:-}" ]; then echo "$1 $2 ($3)"; else echo "$1 $2"; fi
}
summary() {
  echo "$n_ok ok, $n_fail failed, $n_skip skipped"
  [ "$n_fail" -eq 0 ]
  exit $?
}

# Suite names from the arguments or suites.list (comments and blank lines dropped).
if [ "$#" -gt 0 ]; then
  SUITES=("$@")
else
  mapfile -t SUITES < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$HERE/suites.list")
fi

skip_all() { # skip_all REASON
  local s
  for s in "${SUITES[@]}"; do result skip "$s" "$1"; done
  summary
}

[ -n "${INCUS_SRC:-}" ] || skip_all "INCUS_SRC is not set: point it at an Incus checkout"
[ -f "$INCUS_SRC/test/main.sh" ] || skip_all "no test/main.sh in INCUS_SRC=$INCUS_SRC"
[ "$(id -u)" -eq 0 ] || skip_all "the upstream suites must run as root"
[ -f "$REPO/dist/lib/cli/main.js" ] && [ -f "$REPO/dist/lib/server/main.js" ] || skip_all "not built: run npm run build first"
case "$BACKEND" in
  dir) ;;
  btrfs) command -v btrfs > /dev/null || skip_all "INCUS_BACKEND=btrfs needs btrfs-progs" ;;
  *) skip_all "INCUS_BACKEND=$BACKEND: only dir and btrfs are supported here" ;;
esac

# main.sh refuses to start without the tools it lists in check_dependencies
# (incus and incusd come from bin/).
missing=""
for dep in $(sed -n 's/^check_dependencies //p' "$INCUS_SRC/test/main.sh"); do
  case "$dep" in incus | incusd) continue ;; esac
  command -v "$dep" > /dev/null 2>&1 || missing="$missing $dep"
done
[ -z "$missing" ] || skip_all "host tools main.sh requires are missing:$missing (Debian: acl socat bind9-dnsutils jq sqlite3 gettext git)"
if [ ! -x /bin/busybox ] || ldd /bin/busybox > /dev/null 2>&1; then
  skip_all "the test image is built from /bin/busybox, which must be static (busybox-static)"
fi

# Suites this host or this implementation cannot run, with the reason.
skip_reason() { # skip_reason NAME: prints the reason from skip.list, if any
  sed -e 's/#.*//' "$HERE/skip.list" | awk -v n="$1" -v b="$BACKEND" '
    { split($1, k, "@") }
    k[1] == n && (k[2] == "" || k[2] == b) { $1 = ""; sub(/^ +/, ""); print; exit }'
}

# Why this host cannot run a suite: a kernel feature a suite checks for
# (host-needs.list) that a probe in a throwaway network namespace finds
# missing. Prints nothing when every feature is there.
host_lacks() { # host_lacks FEATURE: prints why FEATURE is missing, if it is
  case "$1" in
    act_police) # limits.egress: the suites grep the police action's rate off the veth
      unshare --net sh -c 'tc qdisc add dev lo clsact && tc filter add dev lo egress protocol all u32 match u32 0 0 action police rate 1mbit burst 16k' > /dev/null 2>&1 ||
        echo "the kernel has no act_police (tc: Failed to load TC action module), whose rate the suite's limits.egress check reads" ;;
    dummy)
      unshare --net ip link add probe0 type dummy > /dev/null 2>&1 || echo "the kernel has no dummy link driver (ip link add TYPE dummy: Unknown device type)" ;;
    vfat)
      grep -qw vfat /proc/filesystems || echo "the kernel has no vfat filesystem, which the suite's raw.mount.options part mounts" ;;
    *) echo "unknown feature $1 in host-needs.list" ;;
  esac
}
host_skip_reason() { # host_skip_reason NAME: the missing features of NAME, joined
  local f why out=""
  for f in $(sed -e 's/#.*//' "$HERE/host-needs.list" | awk -v n="$1" '$1 == n { $1 = ""; print }'); do
    why=$(host_lacks "$f")
    [ -z "$why" ] || out="${out:+$out; }$why"
  done
  echo "$out"
}

# Suites that skip themselves without a terminal (`tty -s`) get one.
tty_wanted() { # tty_wanted NAME: prints 1 for such a suite
  case "$1" in config_edit | container_snapshot_config) echo 1 ;; esac
}

# Why a suite failed: main.sh runs with sh -e, so the output before its
# cleanup ("df -h output:") ends with the failing command's own messages.
failure_reason() { # failure_reason LOG RC
  local tail
  if [ "$2" -eq 124 ] || [ "$2" -eq 137 ]; then
    echo "timed out after ${TIMEOUT}s"
    return
  fi
  tail=$(sed '/^df -h output:$/,$d' "$1" | grep -v '^[[:space:]]*$' | tail -n 200)
  local line
  # An error among the last lines is the failing command's; otherwise a
  # check failed silently after the last thing printed.
  line=$(printf '%s\n' "$tail" | tail -n 3 | grep -E '^(Error|error): ' | tail -n 1)
  [ -n "$line" ] || line="after: $(printf '%s\n' "$tail" | tail -n 1)"
  echo "exit $2: ${line:0:300}"
}

# Kills what is left of a namespace by PID (the PID namespace normally takes
# everything with it), detaches loop devices backed by files under the work
# directory and unmounts what is mounted below it.
cleanup_work() { # cleanup_work WORK
  local work=$1 ids pid ns killed=0
  if [ -s "$work/ns-ids" ]; then
    ids=$(cat "$work/ns-ids")
    for pid in /proc/[0-9]*; do
      pid=${pid#/proc/}
      for ns in pid net mnt; do
        if [[ " $ids " == *" $(readlink "/proc/$pid/ns/$ns" 2> /dev/null) "* ]]; then
          kill -9 "$pid" 2> /dev/null && killed=$((killed + 1))
          break
        fi
      done
    done
  fi
  [ "$killed" -eq 0 ] || echo "   killed $killed leftover process(es)" >&2
  losetup -nl -O NAME,BACK-FILE 2> /dev/null | while read -r dev file; do
    case "$file" in "$work"/*) losetup -d "$dev" 2> /dev/null || true ;; esac
  done
  awk -v w="$work/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2> /dev/null || true
  done
  if [ -z "${UPSTREAM_KEEP:-}" ]; then
    rm -rf --one-file-system "$work" 2> /dev/null || rm -rf "$work"
  fi
}

mkdir -p "$LOGS"
for suite in "${SUITES[@]}"; do
  reason=$(skip_reason "$suite")
  [ -n "$reason" ] || reason=$(host_skip_reason "$suite")
  if [ -n "$reason" ]; then
    result skip "$suite" "$reason"
    continue
  fi
  if ! grep -q "^test_${suite}()" "$INCUS_SRC"/test/suites/*.sh; then
    result FAIL "$suite" "no test_${suite} in $INCUS_SRC/test/suites"
    continue
  fi
  work=$(mktemp -d "$TMPPARENT/incus-upstream.XXXXXX")
  chmod 755 "$work" # unprivileged container roots traverse it
  cp -a "$INCUS_SRC/test" "$work/test"
  mkdir -p "$work/tmp" "$work/hosttools"
  # Suites ping containers; a host without iputils gets busybox's applets.
  for tool in ping ping6; do
    command -v "$tool" > /dev/null || ln -s /bin/busybox "$work/hosttools/$tool"
  done
  log="$LOGS/$suite.$BACKEND.log"
  rm -rf "$LOGS/$suite.$BACKEND.daemon"
  mkdir -p "$LOGS/$suite.$BACKEND.daemon"
  # unshare ignores SIGTERM while it waits, so timeout sends SIGKILL; with
  # --kill-child the namespace's init then gets SIGKILL too, and with it
  # every process of the PID namespace.
  timeout --signal=KILL "$TIMEOUT" \
    unshare --net --mount --pid --fork --kill-child --propagation private --mount-proc \
    env -i PATH="$REPO/bin:$work/hosttools:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    HOME="${HOME:-/root}" USER=root TERM=dumb TMPDIR="$work/tmp" \
    INCUS_OFFLINE=1 INCUS_BACKEND="$BACKEND" INCUS_LOGS="$LOGS/$suite.$BACKEND.daemon" INCUS_CONCURRENT=1 \
    INCUS_VERBOSE="${INCUS_VERBOSE:-}" INCUS_DEBUG="${INCUS_DEBUG:-}" UPSTREAM_TTY="$(tty_wanted "$suite")" \
    bash "$HERE/ns-init.sh" "$work" "$suite" < /dev/null > "$log" 2>&1
  rc=$?
  cleanup_work "$work"
  if [ "$rc" -eq 0 ]; then
    skipped=$(sed -n "s/^==> SKIP: test_${suite} //p" "$log" | head -n 1)
    if [ -n "$skipped" ]; then result skip "$suite" "$skipped"; else result ok "$suite"; fi
  else
    result FAIL "$suite" "$(failure_reason "$log" "$rc"); log: $log"
  fi
done
summary
