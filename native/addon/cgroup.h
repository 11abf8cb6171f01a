// Direct cgroup file access for a running container: where its payload
// cgroup lives in each hierarchy (v1 per controller, or the v2 unified tree;
// a host may be hybrid), plus small CLOEXEC read/write helpers. Used by the
// hot paths (batchState, freeze) to skip liblxc round trips.
// Man pages: cgroups(7), proc(5) (/proc/PID/cgroup, /proc/self/mountinfo).
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace incus {
namespace cgroup {

// The parsed /proc/<pid>/cgroup of one process, reusable between calls.
struct ProcCgroups {
  std::vector<std::pair<std::string, std::string>> v1;  // controllers, path
  std::string v2path;
  bool hasV2 = false;
};

// Parses /proc/<pid>/cgroup into out; buf is scratch space. Returns errno or 0.
int ReadProcCgroups(pid_t pid, ProcCgroups* out, std::string* buf);

// Directory of the container's payload cgroup for controller (cut after the
// "lxc.payload.<name>" component, since init may sit in a sub-cgroup). For
// the v2 core files (cgroup.freeze, cgroup.events) pass controller "".
// Sets *v2 to say which layout applies. False when no hierarchy has it.
bool ControllerDir(const ProcCgroups& pc, const char* controller,
                   const std::string& name, std::string* dir, bool* v2);

// Reads a whole small file (CLOEXEC) into buf, NUL-terminated. Returns the
// length or -errno.
ssize_t ReadSmall(const std::string& path, char* buf, size_t size);

// Reads a whole file of any size (CLOEXEC) into out. Returns 0 or errno.
int ReadWhole(const std::string& path, std::string* out);

// Reads a file holding one integer; -1 when absent or unparsable.
long long ReadInt(const std::string& path);

// Reads "key value" lines (cpu.stat, cgroup.events); -1 when absent.
long long ReadKeyed(const std::string& path, const char* key);

// Writes value to a cgroup file. Returns 0 or errno.
int WriteStr(const std::string& path, const char* value);

}  // namespace cgroup
}  // namespace incus
