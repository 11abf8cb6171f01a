// Shared liblxc plumbing: an owning container handle, the state names, and
// the freezer read-back used to report FROZEN (the monitor's own state stays
// RUNNING when we freeze through the cgroup directly).
// Man pages: none beyond liblxc's lxccontainer.h; cgroups(7) for the freezer.
#pragma once

#include <lxc/lxccontainer.h>
#include <sys/types.h>

#include <string>

#include "cgroup.h"
#include "failure.h"

namespace incus {

// Owns a struct lxc_container reference.
class Container {
 public:
  Container() = default;
  ~Container() {
    if (c_) lxc_container_put(c_);
  }
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  // lxc_container_new(name, lxcpath); records a failure when it returns NULL.
  bool Open(const std::string& name, const std::string& lxcpath, Failure* f);
  // Drops any config liblxc loaded from lxcpath/name/config, then loads
  // path; records EINVAL naming the offending line when it does not parse.
  bool LoadConfig(const std::string& name, const std::string& lxcpath,
                  const std::string& path, Failure* f);

  struct lxc_container* operator->() const { return c_; }
  struct lxc_container* get() const { return c_; }

 private:
  struct lxc_container* c_ = nullptr;
};

// Records "container is not running" (ESRCH).
void NotRunning(Failure* f);

// The freezer state of a running container ("FROZEN", "FREEZING" or
// "THAWED"), read from its cgroup; nullptr when unknown. pc and scratch are
// reusable buffers.
const char* FreezerState(pid_t pid, const std::string& name,
                         cgroup::ProcCgroups* pc, std::string* scratch);

// The same from an already parsed /proc/<pid>/cgroup.
const char* FreezerStateOf(const cgroup::ProcCgroups& pc, const std::string& name);

}  // namespace incus
