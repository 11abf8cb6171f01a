// batchState: state, init PID and cgroup usage for many containers in one
// worker. State and PID come from each container's command socket (no config
// parsing); usage is read straight from the cgroup files, per controller
// from v1 or v2 since a host may be hybrid. This is the hot path for listing
// instances, so buffers are reused across the whole batch.
// Man pages: cgroups(7), proc(5); kernel docs cgroup-v1/memory.rst,
// cgroup-v1/cpuacct.rst, cgroup-v2.rst (memory.*, cpu.stat, pids.current).
#include <lxc/lxccontainer.h>
#include <string.h>

#include <string>
#include <vector>

#include "cgroup.h"
#include "exports.h"
#include "lxc-common.h"
#include "worker.h"

namespace incus {

namespace {

struct Entry {
  const char* state = "STOPPED";
  pid_t pid = -1;
  long long memoryUsage = -1, memoryPeak = -1, swapUsage = -1, swapPeak = -1;
  long long cpuUsage = -1, processes = -1;
};

// Reusable scratch space for one batch.
struct Scratch {
  cgroup::ProcCgroups pc;
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
  if (cgroup::ReadProcCgroups(e->pid, &s->pc, &s->buf) != 0) return;
  bool v2 = false;
  if (cgroup::ControllerDir(s->pc, "memory", name, &s->dir, &v2)) {
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
  if (cgroup::ControllerDir(s->pc, "cpuacct", name, &s->dir, &v2)) {
    if (!v2) {
      e->cpuUsage = cgroup::ReadInt(Path(s, "cpuacct.usage"));
    } else {
      long long us = cgroup::ReadKeyed(Path(s, "cpu.stat"), "usage_usec");
      e->cpuUsage = us >= 0 ? us * 1000 : -1;
    }
  }
  if (cgroup::ControllerDir(s->pc, "pids", name, &s->dir, &v2))
    e->processes = cgroup::ReadInt(Path(s, "pids.current"));
}

class BatchStateWorker : public PromiseWorker {
 public:
  BatchStateWorker(Napi::Env env, std::string lxcpath, std::vector<std::string> names)
      : PromiseWorker(env, "batchState", ""),
        lxcpath_(std::move(lxcpath)),
        names_(std::move(names)),
        entries_(names_.size()) {}

 protected:
  void Run() override {
    Scratch s;
    for (size_t i = 0; i < names_.size(); i++) {
      const std::string& name = names_[i];
      Entry* e = &entries_[i];
      struct lxc_container* c = lxc_container_new(name.c_str(), lxcpath_.c_str());
      if (!c) continue;  // an invalid name cannot be running
      const char* st = c->state(c);
      if (st && strcmp(st, "STOPPED") != 0) {
        e->state = st;
        e->pid = c->init_pid(c);
      }
      lxc_container_put(c);
      if (e->pid <= 0) {
        e->pid = -1;
        continue;
      }
      ReadUsage(name, e, &s);
      if (strcmp(e->state, "RUNNING") == 0) {
        const char* fz = FreezerState(e->pid, name, &s.pc, &s.buf);
        if (fz && strcmp(fz, "THAWED") != 0) e->state = fz;
      }
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, entries_.size());
    for (size_t i = 0; i < entries_.size(); i++) {
      const Entry& e = entries_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", names_[i]);
      o.Set("state", e.state);
      o.Set("pid", Napi::Number::New(env, e.pid));
      o.Set("memoryUsage", Napi::Number::New(env, static_cast<double>(e.memoryUsage)));
      o.Set("memoryPeak", Napi::Number::New(env, static_cast<double>(e.memoryPeak)));
      o.Set("swapUsage", Napi::Number::New(env, static_cast<double>(e.swapUsage)));
      o.Set("swapPeak", Napi::Number::New(env, static_cast<double>(e.swapPeak)));
      o.Set("cpuUsage", Napi::Number::New(env, static_cast<double>(e.cpuUsage)));
      o.Set("processes", Napi::Number::New(env, static_cast<double>(e.processes)));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  }

 private:
  std::string lxcpath_;
  std::vector<std::string> names_;
  std::vector<Entry> entries_;
};

Napi::Value BatchState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string lxcpath;
  if (!ArgString(info, 0, "batchState", "lxcpath", &lxcpath)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsArray()) {
    ThrowArgError(env, "batchState", "names must be an array of strings");
    return env.Undefined();
  }
  Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<std::string> names;
  names.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsString()) {
      ThrowArgError(env, "batchState", "names must be an array of strings");
      return env.Undefined();
    }
    names.push_back(v.As<Napi::String>().Utf8Value());
  }
  return (new BatchStateWorker(env, lxcpath, std::move(names)))->Start();
}

}  // namespace

void InitBatchState(Napi::Env env, Napi::Object exports) {
  exports.Set("batchState", Napi::Function::New(env, BatchState, "batchState"));
}

}  // namespace incus
