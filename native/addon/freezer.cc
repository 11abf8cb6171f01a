// freeze / unfreeze by writing the container's freezer cgroup directly
// (v1 freezer.state, v2 cgroup.freeze + cgroup.events) and polling briefly
// until the state is reached. liblxc's own freeze sleeps in 1 s steps on v1.
// Man pages: cgroups(7) (freezer), nanosleep(2); kernel doc
// cgroup-v1/freezer-subsystem.rst and cgroup-v2.rst (cgroup.freeze).
#include <errno.h>
#include <lxc/lxccontainer.h>
#include <string.h>
#include <time.h>

#include <string>

#include "cgroup.h"
#include "exports.h"
#include "lxc-common.h"
#include "worker.h"

namespace incus {

namespace {

// Give up after this long; a task stuck in uninterruptible sleep can keep a
// v1 cgroup in FREEZING.
constexpr long kBoundMs = 5000;

void SleepUs(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

long NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

class FreezeWorker : public PromiseWorker {
 public:
  FreezeWorker(Napi::Env env, bool freeze, std::string name, std::string lxcpath)
      : PromiseWorker(env, freeze ? "freeze" : "unfreeze", name),
        freeze_(freeze),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)) {}

 protected:
  void Run() override {
    Container c;
    if (!c.Open(name_, lxcpath_, &fail_)) return;
    pid_t pid = c->init_pid(c.get());
    if (pid <= 0) {
      NotRunning(&fail_);
      return;
    }
    cgroup::ProcCgroups pc;
    std::string scratch;
    int err = cgroup::ReadProcCgroups(pid, &pc, &scratch);
    if (err) {
      fail_.Sys("cannot read the cgroups of init", err, "open",
                "/proc/" + std::to_string(pid) + "/cgroup");
      return;
    }
    std::string dir;
    bool v2 = false;
    if (!cgroup::ControllerDir(pc, "freezer", name_, &dir, &v2)) {
      fail_.Code("ENOTSUP", ENOTSUP, "no freezer cgroup for this container");
      return;
    }
    if (v2)
      RunV2(dir);
    else
      RunV1(dir);
  }

 private:
  void RunV1(const std::string& dir) {
    std::string file = dir + "/freezer.state";
    const char* want = freeze_ ? "FROZEN" : "THAWED";
    long deadline = NowMs() + kBoundMs;
    long delay = 100;
    char buf[32];
    for (;;) {
      // Re-writing FROZEN makes the kernel retry tasks it could not freeze.
      int err = cgroup::WriteStr(file, want);
      if (err) {
        fail_.Sys(std::string("cannot write ") + want, err, "write", file);
        return;
      }
      ssize_t n = cgroup::ReadSmall(file, buf, sizeof buf);
      if (n < 0) {
        fail_.Sys("cannot read the freezer state", static_cast<int>(-n), "read", file);
        return;
      }
      if (strncmp(buf, want, strlen(want)) == 0) return;
      if (NowMs() > deadline) break;
      SleepUs(delay);
      if (delay < 10000) delay *= 2;
    }
    if (freeze_) cgroup::WriteStr(file, "THAWED");
    fail_.Code("ETIMEDOUT", ETIMEDOUT, std::string("not ") + want + " after 5 s");
    fail_.path = file;
  }

  void RunV2(const std::string& dir) {
    std::string file = dir + "/cgroup.freeze";
    int err = cgroup::WriteStr(file, freeze_ ? "1" : "0");
    if (err) {
      fail_.Sys("cannot write cgroup.freeze", err, "write", file);
      return;
    }
    std::string events = dir + "/cgroup.events";
    long deadline = NowMs() + kBoundMs;
    long delay = 100;
    for (;;) {
      long long frozen = cgroup::ReadKeyed(events, "frozen");
      if (frozen < 0) {
        fail_.Sys("cannot read cgroup.events", ENOENT, "read", events);
        return;
      }
      if ((frozen == 1) == freeze_) return;
      if (NowMs() > deadline) break;
      SleepUs(delay);
      if (delay < 10000) delay *= 2;
    }
    if (freeze_) cgroup::WriteStr(file, "0");
    fail_.Code("ETIMEDOUT", ETIMEDOUT, freeze_ ? "not frozen after 5 s" : "not thawed after 5 s");
    fail_.path = events;
  }

  bool freeze_;
  std::string name_, lxcpath_;
};

Napi::Value Run(const Napi::CallbackInfo& info, bool freeze) {
  const char* op = freeze ? "freeze" : "unfreeze";
  std::string name, lxcpath;
  if (!ArgString(info, 0, op, "name", &name) || !ArgString(info, 1, op, "lxcpath", &lxcpath))
    return info.Env().Undefined();
  return (new FreezeWorker(info.Env(), freeze, name, lxcpath))->Start();
}

Napi::Value Freeze(const Napi::CallbackInfo& info) { return Run(info, true); }
Napi::Value Unfreeze(const Napi::CallbackInfo& info) { return Run(info, false); }

}  // namespace

void InitFreezer(Napi::Env env, Napi::Object exports) {
  exports.Set("freeze", Napi::Function::New(env, Freeze, "freeze"));
  exports.Set("unfreeze", Napi::Function::New(env, Unfreeze, "unfreeze"));
}

}  // namespace incus
