// What batchState learnt about each running container's init, kept between
// calls so a listing does not ask liblxc's command socket (two round trips
// through the monitor process) for containers it has already seen running.
// An entry is trusted only while /proc/<pid>/stat still shows the same start
// time and a live process: a PID can be reused, a (pid, start time) pair not.
// Man pages: proc(5) (/proc/PID/stat fields 3 and 22).
#pragma once

#include <sys/types.h>

#include <string>

#include "cgroup.h"

namespace incus {
namespace initcache {

struct Init {
  pid_t pid = -1;
  long long startTicks = -1;  // clock ticks after boot, /proc/PID/stat field 22
  cgroup::ProcCgroups cgroups;
};

// Field 22 of /proc/<pid>/stat, or -1 when the process is gone or a zombie.
long long LiveStartTicks(pid_t pid);

// Copies the entry for key into *out when it still names a live init.
// A stale entry is dropped.
bool Lookup(const std::string& key, Init* out);

void Store(const std::string& key, const Init& init);

}  // namespace initcache
}  // namespace incus
