// Container lifecycle calls through liblxc's command socket: version,
// define (config parse check), state and shutdown (halt signal only). Each
// is one bounded round trip. Nothing here waits for a state: stop's SIGKILL
// and its waits live in lib/native/lxc.ts (pidfds polled on the event loop),
// since liblxc's stop() and wait() block a thread until the container is
// down, which would park libuv's small pool behind slow stops.
// Starting is not here: it runs in the incusd-helper executable.
// Man pages: signal(7); liblxc lxccontainer.h.
#include <lxc/lxccontainer.h>
#include <lxc/version.h>

#include <string>

#include "exports.h"
#include "lxc-common.h"
#include "worker.h"

namespace incus {

namespace {

// define(name, lxcpath, configPath): async.
class DefineWorker : public PromiseWorker {
 public:
  DefineWorker(Napi::Env env, std::string name, std::string lxcpath,
               std::string config)
      : PromiseWorker(env, "define", name),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)),
        config_(std::move(config)) {}

 protected:
  void Run() override {
    Container c;
    if (c.Open(name_, lxcpath_, &fail_)) c.LoadConfig(name_, lxcpath_, config_, &fail_);
  }

 private:
  std::string name_, lxcpath_, config_;
};

// state(name, lxcpath): async.
class StateWorker : public PromiseWorker {
 public:
  StateWorker(Napi::Env env, std::string name, std::string lxcpath)
      : PromiseWorker(env, "state", name),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)) {}

 protected:
  void Run() override {
    Container c;
    if (!c.Open(name_, lxcpath_, &fail_)) return;
    const char* s = c->state(c.get());
    if (!s) {
      fail_.Lxc("cannot read state");
      return;
    }
    state_ = s;
    if (state_ == "STOPPED") return;
    pid_ = c->init_pid(c.get());
    if (state_ == "RUNNING" && pid_ > 0) {
      cgroup::ProcCgroups pc;
      std::string scratch;
      const char* fz = FreezerState(pid_, name_, &pc, &scratch);
      if (fz && std::string(fz) != "THAWED") state_ = fz;
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("state", state_);
    o.Set("pid", Napi::Number::New(env, pid_ > 0 ? pid_ : -1));
    return o;
  }

 private:
  std::string name_, lxcpath_;
  std::string state_;
  pid_t pid_ = -1;
};

// shutdown(name, lxcpath, configPath): async; signal only, no wait.
class ShutdownWorker : public PromiseWorker {
 public:
  ShutdownWorker(Napi::Env env, std::string name, std::string lxcpath,
                 std::string config)
      : PromiseWorker(env, "shutdown", name),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)),
        config_(std::move(config)) {}

 protected:
  void Run() override {
    Container c;
    // The config gives lxc.signal.halt; without it liblxc picks SIGPWR.
    if (!c.Open(name_, lxcpath_, &fail_) ||
        !c.LoadConfig(name_, lxcpath_, config_, &fail_))
      return;
    if (!c->is_running(c.get())) return;
    if (!c->shutdown(c.get(), 0)) fail_.Lxc("cannot send the halt signal to init");
  }

 private:
  std::string name_, lxcpath_, config_;
};

Napi::Value LxcVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), lxc_get_version());
}

Napi::Value Define(const Napi::CallbackInfo& info) {
  std::string name, lxcpath, config;
  if (!ArgString(info, 0, "define", "name", &name) ||
      !ArgString(info, 1, "define", "lxcpath", &lxcpath) ||
      !ArgString(info, 2, "define", "configPath", &config))
    return info.Env().Undefined();
  return (new DefineWorker(info.Env(), name, lxcpath, config))->Start();
}

Napi::Value State(const Napi::CallbackInfo& info) {
  std::string name, lxcpath;
  if (!ArgString(info, 0, "state", "name", &name) ||
      !ArgString(info, 1, "state", "lxcpath", &lxcpath))
    return info.Env().Undefined();
  return (new StateWorker(info.Env(), name, lxcpath))->Start();
}

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  std::string name, lxcpath, config;
  if (!ArgString(info, 0, "shutdown", "name", &name) ||
      !ArgString(info, 1, "shutdown", "lxcpath", &lxcpath) ||
      !ArgString(info, 2, "shutdown", "configPath", &config))
    return info.Env().Undefined();
  return (new ShutdownWorker(info.Env(), name, lxcpath, config))->Start();
}

}  // namespace

void InitLxcOps(Napi::Env env, Napi::Object exports) {
  exports.Set("lxcVersion", Napi::Function::New(env, LxcVersion, "lxcVersion"));
  exports.Set("define", Napi::Function::New(env, Define, "define"));
  exports.Set("state", Napi::Function::New(env, State, "state"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
}

}  // namespace incus
