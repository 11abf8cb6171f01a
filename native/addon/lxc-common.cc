// Container handle, config loading with a precise parse error, freezer
// read-back. Man pages: access(2), open(2); liblxc lxccontainer.h.
#include "lxc-common.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <fstream>

namespace incus {

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Replays the file line by line through set_config_item to find the first
// line liblxc refuses; only used once load_config has already failed.
void FindBadLine(const std::string& name, const std::string& lxcpath,
                 const std::string& path, Failure* f) {
  std::ifstream in(path);
  struct lxc_container* c = lxc_container_new(name.c_str(), lxcpath.c_str());
  if (c && c->lxc_conf) c->clear_config(c);
  std::string line;
  int lineno = 0;
  while (c && std::getline(in, line)) {
    lineno++;
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    size_t eq = t.find('=');
    std::string key = Trim(eq == std::string::npos ? t : t.substr(0, eq));
    std::string value = eq == std::string::npos ? "" : Trim(t.substr(eq + 1));
    if (eq == std::string::npos || !c->set_config_item(c, key.c_str(), value.c_str())) {
      f->Code("EINVAL", EINVAL,
              "config " + path + " line " + std::to_string(lineno) +
                  ": bad key or value \"" + key + "\"");
      f->path = path;
      lxc_container_put(c);
      return;
    }
  }
  if (c) lxc_container_put(c);
  f->Code("EINVAL", EINVAL, "config " + path + " does not parse");
  f->path = path;
}

}  // namespace

bool Container::Open(const std::string& name, const std::string& lxcpath,
                     Failure* f) {
  c_ = lxc_container_new(name.c_str(), lxcpath.c_str());
  if (!c_) {
    f->Lxc("cannot open container in " + lxcpath);
    return false;
  }
  return true;
}

bool Container::LoadConfig(const std::string& name, const std::string& lxcpath,
                           const std::string& path, Failure* f) {
  if (access(path.c_str(), R_OK) != 0) {
    f->Sys("cannot read config", errno, "access", path);
    return false;
  }
  // lxc_container_new() already loaded lxcpath/name/config if it exists;
  // loading again would append every entry twice.
  if (c_->lxc_conf) c_->clear_config(c_);
  if (!c_->load_config(c_, path.c_str())) {
    FindBadLine(name, lxcpath, path, f);
    return false;
  }
  return true;
}

void NotRunning(Failure* f) { f->Code("ESRCH", ESRCH, "container is not running"); }

const char* FreezerState(pid_t pid, const std::string& name,
                         cgroup::ProcCgroups* pc, std::string* scratch) {
  if (cgroup::ReadProcCgroups(pid, pc, scratch) != 0) return nullptr;
  return FreezerStateOf(*pc, name);
}

const char* FreezerStateOf(const cgroup::ProcCgroups& pc, const std::string& name) {
  std::string dir;
  bool v2 = false;
  if (!cgroup::ControllerDir(pc, "freezer", name, &dir, &v2)) return nullptr;
  if (!v2) {
    char buf[32];
    if (cgroup::ReadSmall(dir + "/freezer.state", buf, sizeof buf) <= 0)
      return nullptr;
    if (strncmp(buf, "FROZEN", 6) == 0) return "FROZEN";
    if (strncmp(buf, "FREEZING", 8) == 0) return "FREEZING";
    return "THAWED";
  }
  long long frozen = cgroup::ReadKeyed(dir + "/cgroup.events", "frozen");
  if (frozen == 1) return "FROZEN";
  if (frozen < 0) return nullptr;
  return cgroup::ReadInt(dir + "/cgroup.freeze") == 1 ? "FREEZING" : "THAWED";
}

}  // namespace incus
