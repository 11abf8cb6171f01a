// batchState: state, init PID, start time and cgroup usage for many
// containers in one worker. A container first seen running is asked through
// its command socket (state, init PID); after that its init is recognised by
// (PID, start time) from the init cache, so steady listings make no liblxc
// round trips. Usage is read straight from the cgroup files, per controller
// from v1 or v2 since a host may be hybrid. This is the hot path for listing
// instances: large batches are split over a few threads.
// With a list of files (the metrics scrape), a running container's cgroup
// files by leaf name ("memory.stat": from the controller named before the
// first dot, in whichever hierarchy holds it) and /proc/<init>/ files
// ("proc/net/dev") are returned as raw text, those absent left out; the
// caller parses them. With a
// path per container (its root volume), also statfs(2) and the st_dev of
// that path, so that a scrape makes no call per container of its own.
// Man pages: cgroups(7), proc(5); kernel docs cgroup-v1/memory.rst,
// cgroup-v1/cpuacct.rst, cgroup-v1/blkio-controller.rst, cgroup-v2.rst
// (memory.*, cpu.stat, io.stat, pids.current).
#include <lxc/lxccontainer.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "cgroup.h"
#include "exports.h"
#include "init-cache.h"
#include "lxc-common.h"
#include "worker.h"

namespace incus {

namespace {

struct Entry {
  const char* state = "STOPPED";
  pid_t pid = -1;
  long long startTicks = -1;
  long long memoryUsage = -1, memoryPeak = -1, swapUsage = -1, swapPeak = -1;
  long long cpuUsage = -1, processes = -1;
  // Contents of the requested files, by request index (absent: not read).
  std::vector<std::pair<size_t, std::string>> files;
  // statfs(2) and stat(2) of the path asked for (fsOk: both succeeded).
  bool fsOk = false;
  struct statfs fs = {};
  dev_t fsDev = 0;
};

// Reusable scratch space for one thread of a batch.
struct Scratch {
  initcache::Init init;
  std::string buf;
  std::string dir;
  std::string file;
};

const std::string& Path(Scratch* s, const char* leaf) {
  s->file.assign(s->dir);
  s->file += '/';
  s->file += leaf;
  return s->file;
}

void ReadUsage(const std::string& name, Entry* e, Scratch* s) {
  const cgroup::ProcCgroups& pc = s->init.cgroups;
  bool v2 = false;
  if (cgroup::ControllerDir(pc, "memory", name, &s->dir, &v2)) {
    if (!v2) {
      e->memoryUsage = cgroup::ReadInt(Path(s, "memory.usage_in_bytes"));
      e->memoryPeak = cgroup::ReadInt(Path(s, "memory.max_usage_in_bytes"));
      long long sw = cgroup::ReadInt(Path(s, "memory.memsw.usage_in_bytes"));
      long long swPeak = cgroup::ReadInt(Path(s, "memory.memsw.max_usage_in_bytes"));
      // memsw counts memory plus swap.
      if (sw >= 0 && e->memoryUsage >= 0) e->swapUsage = sw > e->memoryUsage ? sw - e->memoryUsage : 0;
      if (swPeak >= 0 && e->memoryPeak >= 0)
        e->swapPeak = swPeak > e->memoryPeak ? swPeak - e->memoryPeak : 0;
    } else {
      e->memoryUsage = cgroup::ReadInt(Path(s, "memory.current"));
      e->memoryPeak = cgroup::ReadInt(Path(s, "memory.peak"));
      e->swapUsage = cgroup::ReadInt(Path(s, "memory.swap.current"));
      e->swapPeak = cgroup::ReadInt(Path(s, "memory.swap.peak"));
    }
  }
  if (cgroup::ControllerDir(pc, "cpuacct", name, &s->dir, &v2)) {
    if (!v2) {
      e->cpuUsage = cgroup::ReadInt(Path(s, "cpuacct.usage"));
    } else {
      long long us = cgroup::ReadKeyed(Path(s, "cpu.stat"), "usage_usec");
      e->cpuUsage = us >= 0 ? us * 1000 : -1;
    }
  }
  if (cgroup::ControllerDir(pc, "pids", name, &s->dir, &v2))
    e->processes = cgroup::ReadInt(Path(s, "pids.current"));
}

// The requested files of a running container; an unreadable one is left out.
void ReadFiles(const std::string& name, const std::vector<std::string>& files, Entry* e, Scratch* s) {
  std::string content;
  bool v2 = false;
  for (size_t i = 0; i < files.size(); i++) {
    const std::string& f = files[i];
    if (f.compare(0, 5, "proc/") == 0) {
      s->file = "/proc/" + std::to_string(e->pid) + f.substr(4);
    } else {
      std::string controller = f.substr(0, f.find('.'));
      if (!cgroup::ControllerDir(s->init.cgroups, controller.c_str(), name, &s->dir, &v2)) continue;
      Path(s, f.c_str());
    }
    if (cgroup::ReadWhole(s->file, &content) == 0) e->files.emplace_back(i, std::move(content));
  }
}

class BatchStateWorker : public PromiseWorker {
 public:
  BatchStateWorker(Napi::Env env, std::string lxcpath, std::vector<std::string> names,
                   std::vector<std::string> files, std::vector<std::string> statfsPaths)
      : PromiseWorker(env, "batchState", ""),
        lxcpath_(std::move(lxcpath)),
        names_(std::move(names)),
        files_(std::move(files)),
        statfsPaths_(std::move(statfsPaths)),
        entries_(names_.size()) {}

 protected:
  void Run() override {
    // Below this many, one thread is faster than starting more.
    const size_t kPerThread = 128;
    size_t threads = std::min<size_t>(4, (names_.size() + kPerThread - 1) / kPerThread);
    if (threads <= 1) {
      Slice(0, 1);
      return;
    }
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; t++) pool.emplace_back(&BatchStateWorker::Slice, this, t, threads);
    Slice(0, threads);
    for (auto& th : pool) th.join();
  }

  // Entries first, first+stride, ... of the batch.
  void Slice(size_t first, size_t stride) {
    Scratch s;
    for (size_t i = first; i < names_.size(); i += stride) {
      One(names_[i], &entries_[i], &s);
      if (i < statfsPaths_.size() && !statfsPaths_[i].empty() && entries_[i].pid > 0) StatPath(statfsPaths_[i], &entries_[i]);
    }
  }

  void One(const std::string& name, Entry* e, Scratch* s) {
    std::string key = lxcpath_ + "/" + name;
    if (initcache::Lookup(key, &s->init)) {
      e->state = "RUNNING";
      e->pid = s->init.pid;
    } else if (!AskLiblxc(name, key, e, s)) {
      return;
    }
    e->startTicks = s->init.startTicks;
    ReadUsage(name, e, s);
    if (!files_.empty() && e->pid > 0) ReadFiles(name, files_, e, s);
    if (strcmp(e->state, "RUNNING") == 0) {
      const char* fz = FreezerStateOf(s->init.cgroups, name);
      if (fz && strcmp(fz, "THAWED") != 0) e->state = fz;
    }
  }

  static void StatPath(const std::string& path, Entry* e) {
    struct stat st;
    e->fsOk = statfs(path.c_str(), &e->fs) == 0 && stat(path.c_str(), &st) == 0;
    if (e->fsOk) e->fsDev = st.st_dev;
  }

  // State and init PID through the command socket; caches a running init.
  // False when the container is not running.
  bool AskLiblxc(const std::string& name, const std::string& key, Entry* e, Scratch* s) {
    struct lxc_container* c = lxc_container_new(name.c_str(), lxcpath_.c_str());
    if (!c) return false;  // an invalid name cannot be running
    const char* st = c->state(c);
    if (st && strcmp(st, "STOPPED") != 0) {
      e->state = st;
      e->pid = c->init_pid(c);
    }
    lxc_container_put(c);
    if (e->pid <= 0) {
      e->pid = -1;
      return false;
    }
    s->init.pid = e->pid;
    s->init.startTicks = initcache::LiveStartTicks(e->pid);
    if (s->init.startTicks < 0 || cgroup::ReadProcCgroups(e->pid, &s->init.cgroups, &s->buf) != 0) {
      s->init.cgroups = cgroup::ProcCgroups();
      return true;
    }
    // Only a settled container is cached: STARTING/STOPPING must be asked again.
    if (strcmp(st, "RUNNING") == 0 || strcmp(st, "FROZEN") == 0 || strcmp(st, "FREEZING") == 0 ||
        strcmp(st, "THAWED") == 0)
      initcache::Store(key, s->init);
    return true;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, entries_.size());
    for (size_t i = 0; i < entries_.size(); i++) {
      const Entry& e = entries_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", names_[i]);
      o.Set("state", e.state);
      o.Set("pid", Napi::Number::New(env, e.pid));
      o.Set("startTicks", Napi::Number::New(env, static_cast<double>(e.startTicks)));
      o.Set("memoryUsage", Napi::Number::New(env, static_cast<double>(e.memoryUsage)));
      o.Set("memoryPeak", Napi::Number::New(env, static_cast<double>(e.memoryPeak)));
      o.Set("swapUsage", Napi::Number::New(env, static_cast<double>(e.swapUsage)));
      o.Set("swapPeak", Napi::Number::New(env, static_cast<double>(e.swapPeak)));
      o.Set("cpuUsage", Napi::Number::New(env, static_cast<double>(e.cpuUsage)));
      o.Set("processes", Napi::Number::New(env, static_cast<double>(e.processes)));
      if (!files_.empty()) {
        Napi::Object files = Napi::Object::New(env);
        for (const auto& f : e.files) files.Set(files_[f.first], f.second);
        o.Set("files", files);
      }
      if (e.fsOk) {
        Napi::Object fs = Napi::Object::New(env);
        fs.Set("type", Napi::Number::New(env, static_cast<double>(e.fs.f_type)));
        fs.Set("bsize", Napi::Number::New(env, static_cast<double>(e.fs.f_bsize)));
        fs.Set("blocks", Napi::Number::New(env, static_cast<double>(e.fs.f_blocks)));
        fs.Set("bfree", Napi::Number::New(env, static_cast<double>(e.fs.f_bfree)));
        fs.Set("bavail", Napi::Number::New(env, static_cast<double>(e.fs.f_bavail)));
        fs.Set("dev", Napi::Number::New(env, static_cast<double>(e.fsDev)));
        o.Set("statfs", fs);
      }
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }

 private:
  std::string lxcpath_;
  std::vector<std::string> names_;
  std::vector<std::string> files_;
  std::vector<std::string> statfsPaths_;
  std::vector<Entry> entries_;
};

// Reads info[idx] as an array of strings into out; false (and throws) otherwise.
bool StringArray(const Napi::CallbackInfo& info, size_t idx, const char* what,
                 std::vector<std::string>* out) {
  std::string msg = std::string(what) + " must be an array of strings";
  if (info.Length() <= idx || !info[idx].IsArray()) {
    ThrowArgError(info.Env(), "batchState", msg);
    return false;
  }
  Napi::Array arr = info[idx].As<Napi::Array>();
  out->reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsString()) {
      ThrowArgError(info.Env(), "batchState", msg);
      return false;
    }
    out->push_back(v.As<Napi::String>().Utf8Value());
  }
  return true;
}

Napi::Value BatchState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string lxcpath;
  if (!ArgString(info, 0, "batchState", "lxcpath", &lxcpath)) return env.Undefined();
  std::vector<std::string> names, files, statfsPaths;
  if (!StringArray(info, 1, "names", &names)) return env.Undefined();
  if (info.Length() >= 3 && !info[2].IsUndefined() && !StringArray(info, 2, "files", &files))
    return env.Undefined();
  if (info.Length() >= 4 && !info[3].IsUndefined() && !StringArray(info, 3, "statfsPaths", &statfsPaths))
    return env.Undefined();
  if (!statfsPaths.empty() && statfsPaths.size() != names.size()) {
    ThrowArgError(env, "batchState", "statfsPaths must have one path (or \"\") per name");
    return env.Undefined();
  }
  return (new BatchStateWorker(env, lxcpath, std::move(names), std::move(files), std::move(statfsPaths)))
      ->Start();
}

}  // namespace

void InitBatchState(Napi::Env env, Napi::Object exports) {
  exports.Set("batchState", Napi::Function::New(env, BatchState, "batchState"));
}

}  // namespace incus
