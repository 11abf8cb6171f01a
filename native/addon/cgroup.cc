// Resolution of a container's cgroup directories from /proc/self/mountinfo
// (parsed once) and /proc/<pid>/cgroup, and tiny file helpers.
// Man pages: cgroups(7), proc(5), open(2), read(2), write(2).
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <map>
#include <mutex>

namespace incus {
namespace cgroup {

namespace {

struct Mount {
  std::string mountpoint;
  std::string root;  // the cgroup path mounted at mountpoint
};

struct Hierarchies {
  std::map<std::string, Mount> v1;  // controller (or "name=x") -> mount
  Mount v2;
  bool hasV2 = false;
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                               (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos - start));
    if (pos == std::string::npos) break;
    start = pos + 1;
  }
  return parts;
}

Hierarchies ParseMountinfo() {
  Hierarchies h;
  std::string data;
  int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return h;
  char chunk[8192];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof chunk)) > 0) data.append(chunk, n);
  close(fd);
  for (const std::string& line : Split(data, '\n')) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<std::string> pre = Split(line.substr(0, dash), ' ');
    std::vector<std::string> post = Split(line.substr(dash + 3), ' ');
    if (pre.size() < 5 || post.size() < 3) continue;
    Mount m{Unescape(pre[4]), Unescape(pre[3])};
    if (post[0] == "cgroup2") {
      if (!h.hasV2) {
        h.v2 = m;
        h.hasV2 = true;
      }
    } else if (post[0] == "cgroup") {
      for (const std::string& opt : Split(post[2], ','))
        if (!h.v1.count(opt)) h.v1[opt] = m;
    }
  }
  return h;
}

const Hierarchies& Get() {
  static std::once_flag once;
  static Hierarchies h;
  std::call_once(once, [] { h = ParseMountinfo(); });
  return h;
}

bool HasController(const std::string& list, const char* controller) {
  size_t len = strlen(controller);
  size_t start = 0;
  for (;;) {
    size_t pos = list.find(',', start);
    size_t end = pos == std::string::npos ? list.size() : pos;
    if (end - start == len && list.compare(start, len, controller) == 0)
      return true;
    if (pos == std::string::npos) return false;
    start = pos + 1;
  }
}

// mountpoint + (path relative to the mount's root), cut after the payload.
bool Join(const Mount& m, const std::string& path, const std::string& name,
          std::string* dir) {
  std::string rel;
  if (m.root == "/") {
    rel = path;
  } else if (path.compare(0, m.root.size(), m.root) == 0 &&
             (path.size() == m.root.size() || path[m.root.size()] == '/')) {
    rel = path.substr(m.root.size());
  } else {
    return false;
  }
  std::string comp = "/lxc.payload." + name;
  size_t pos = 0;
  while ((pos = rel.find(comp, pos)) != std::string::npos) {
    size_t end = pos + comp.size();
    if (end == rel.size() || rel[end] == '/') {
      rel.resize(end);
      break;
    }
    pos = end;
  }
  dir->assign(m.mountpoint);
  if (rel != "/") dir->append(rel);
  return true;
}

}  // namespace

int ReadProcCgroups(pid_t pid, ProcCgroups* out, std::string* buf) {
  out->v1.clear();
  out->v2path.clear();
  out->hasV2 = false;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cgroup", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  buf->resize(4096);
  size_t len = 0;
  for (;;) {
    if (len == buf->size()) buf->resize(buf->size() * 2);
    ssize_t n = read(fd, &(*buf)[len], buf->size() - len);
    if (n < 0) {
      int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    len += n;
  }
  close(fd);
  size_t start = 0;
  while (start < len) {
    size_t nl = buf->find('\n', start);
    if (nl == std::string::npos || nl > len) nl = len;
    size_t c1 = buf->find(':', start);
    size_t c2 = c1 == std::string::npos ? c1 : buf->find(':', c1 + 1);
    if (c2 != std::string::npos && c2 < nl) {
      std::string controllers = buf->substr(c1 + 1, c2 - c1 - 1);
      std::string cgpath = buf->substr(c2 + 1, nl - c2 - 1);
      if (controllers.empty() && buf->compare(start, c1 - start, "0") == 0) {
        out->v2path = cgpath;
        out->hasV2 = true;
      } else {
        out->v1.emplace_back(std::move(controllers), std::move(cgpath));
      }
    }
    start = nl + 1;
  }
  return 0;
}

bool ControllerDir(const ProcCgroups& pc, const char* controller,
                   const std::string& name, std::string* dir, bool* v2) {
  const Hierarchies& h = Get();
  if (*controller) {
    auto m = h.v1.find(controller);
    if (m != h.v1.end()) {
      for (const auto& entry : pc.v1) {
        if (HasController(entry.first, controller)) {
          *v2 = false;
          return Join(m->second, entry.second, name, dir);
        }
      }
    }
  }
  if (h.hasV2 && pc.hasV2) {
    *v2 = true;
    return Join(h.v2, pc.v2path, name, dir);
  }
  return false;
}

ssize_t ReadSmall(const std::string& path, char* buf, size_t size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = 0;
  while (len + 1 < size) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return -err;
    }
    if (n == 0) break;
    len += n;
  }
  close(fd);
  buf[len] = '\0';
  return static_cast<ssize_t>(len);
}

int ReadWhole(const std::string& path, std::string* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    out->append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  return 0;
}

long long ReadInt(const std::string& path) {
  char buf[64];
  if (ReadSmall(path, buf, sizeof buf) <= 0) return -1;
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (errno || end == buf) return -1;
  return v;
}

long long ReadKeyed(const std::string& path, const char* key) {
  char buf[4096];
  if (ReadSmall(path, buf, sizeof buf) <= 0) return -1;
  size_t klen = strlen(key);
  for (char* line = buf; line && *line;) {
    char* next = strchr(line, '\n');
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
      return strtoll(line + klen + 1, nullptr, 10);
    line = next ? next + 1 : nullptr;
  }
  return -1;
}

int WriteStr(const std::string& path, const char* value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t len = strlen(value);
  ssize_t n = write(fd, value, len);
  int err = n < 0 ? errno : (static_cast<size_t>(n) == len ? 0 : EIO);
  close(fd);
  return err;
}

}  // namespace cgroup
}  // namespace incus
