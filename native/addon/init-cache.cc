// Process-wide cache of container inits; see init-cache.h. Guarded by one
// mutex because batchState workers may run on several pool threads.
#include "init-cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace incus {
namespace initcache {

namespace {

std::mutex mu;
std::unordered_map<std::string, Init> entries;
// Entries of containers that were deleted are never looked up again: once
// the map reaches this size it is swept, and the bound doubles from what
// survives, so sweeps stay rare and memory follows the live containers.
size_t sweepAt = 1024;

// Drops the entries whose init is gone. Caller holds mu.
void SweepLocked() {
  for (auto it = entries.begin(); it != entries.end();) {
    if (LiveStartTicks(it->second.pid) != it->second.startTicks)
      it = entries.erase(it);
    else
      ++it;
  }
  sweepAt = std::max<size_t>(1024, entries.size() * 2);
}

}  // namespace

long long LiveStartTicks(pid_t pid) {
  char path[32];
  snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  char buf[1024];
  if (cgroup::ReadSmall(path, buf, sizeof buf) <= 0) return -1;
  // comm (field 2) may hold spaces and parentheses: fields restart after the last ')'.
  const char* p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return -1;
  p += 2;
  if (*p == 'Z' || *p == 'X' || *p == 'x') return -1;
  // p is at field 3; skip to field 22.
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  char* end = nullptr;
  long long ticks = strtoll(p, &end, 10);
  return end == p ? -1 : ticks;
}

bool Lookup(const std::string& key, Init* out) {
  pid_t pid;
  long long ticks;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = entries.find(key);
    if (it == entries.end()) return false;
    pid = it->second.pid;
    ticks = it->second.startTicks;
  }
  // The /proc read happens outside the lock; the entry is re-checked after.
  bool live = LiveStartTicks(pid) == ticks;
  std::lock_guard<std::mutex> lock(mu);
  auto it = entries.find(key);
  if (it == entries.end() || it->second.pid != pid || it->second.startTicks != ticks) return false;
  if (!live) {
    entries.erase(it);
    return false;
  }
  *out = it->second;
  return true;
}

void Store(const std::string& key, const Init& init) {
  std::lock_guard<std::mutex> lock(mu);
  entries[key] = init;
  if (entries.size() >= sweepAt) SweepLocked();
}

}  // namespace initcache
}  // namespace incus
