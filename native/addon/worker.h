// PromiseWorker: the one AsyncWorker shape every async export uses. Run()
// executes on a libuv pool thread and may only make syscalls / liblxc calls
// and fill fail_; Result() builds the JS value on the main thread.
// Also the argument readers shared by the exports.
// Man pages: none (libuv thread pool via node-addon-api AsyncWorker).
#pragma once

#include <napi.h>

#include <string>
#include <utility>

#include "failure.h"

namespace incus {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* op, std::string instance)
      : Napi::AsyncWorker(env, op),
        deferred_(Napi::Promise::Deferred::New(env)),
        op_(op),
        instance_(std::move(instance)) {}

  // Queues the worker; it deletes itself after settling the promise.
  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

  Failure fail_;

 private:
  void Execute() override { Run(); }
  void OnOK() override {
    Napi::Env env = Env();
    if (fail_.failed)
      deferred_.Reject(MakeError(env, op_, instance_, fail_).Value());
    else
      deferred_.Resolve(Result(env));
  }

  Napi::Promise::Deferred deferred_;
  std::string op_;
  std::string instance_;
};

// Reads info[i] as a string; throws a TypeError and returns false otherwise.
inline bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* op,
                      const char* name, std::string* out) {
  if (i >= info.Length() || !info[i].IsString()) {
    ThrowArgError(info.Env(), op, std::string(name) + " must be a string");
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

// Reads info[i] as a number; throws a TypeError and returns false otherwise.
inline bool ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* op,
                      const char* name, double* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    ThrowArgError(info.Env(), op, std::string(name) + " must be a number");
    return false;
  }
  *out = info[i].As<Napi::Number>().DoubleValue();
  return true;
}

}  // namespace incus
