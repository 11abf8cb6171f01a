// pidfdOpen and pidfdSendSignal (sync-fast), pollReadable (wait): signal
// and watch a process without parking a libuv pool thread and without PID
// reuse races. pollReadable puts a uv_poll_t on the main loop, settles its
// promise once the fd is readable, then stops and closes the poll handle;
// the fd itself stays open for the caller to close.
// Man pages: pidfd_open(2), pidfd_send_signal(2), poll(2); libuv uv_poll_t.
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "exports.h"
#include "failure.h"
#include "worker.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

namespace incus {

namespace {

struct PollRequest {
  PollRequest(Napi::Env e, int f)
      : env(e), deferred(Napi::Promise::Deferred::New(e)), context(e, "pollReadable"), fd(f) {}
  uv_poll_t handle;
  Napi::Env env;
  Napi::Promise::Deferred deferred;
  Napi::AsyncContext context;
  int fd;
  int status = 0;
};

void OnClosed(uv_handle_t* h) {
  PollRequest* req = static_cast<PollRequest*>(h->data);
  {
    Napi::HandleScope scope(req->env);
    // A callback scope so that promise reactions run right after.
    Napi::CallbackScope cb(req->env, req->context);
    if (req->status < 0) {
      Failure f;
      f.Sys("cannot poll fd " + std::to_string(req->fd), -req->status, "epoll_wait");
      req->deferred.Reject(MakeError(req->env, "pollReadable", "", f).Value());
    } else {
      req->deferred.Resolve(req->env.Undefined());
    }
  }
  delete req;
}

void OnPoll(uv_poll_t* h, int status, int /*events*/) {
  PollRequest* req = static_cast<PollRequest*>(h->data);
  req->status = status;
  uv_poll_stop(h);
  uv_close(reinterpret_cast<uv_handle_t*>(h), OnClosed);
}

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double pid;
  if (!ArgNumber(info, 0, "pidfdOpen", "pid", &pid)) return env.Undefined();
  if (pid <= 0 || pid != static_cast<double>(static_cast<pid_t>(pid))) {
    ThrowArgError(env, "pidfdOpen", "pid must be a positive integer");
    return env.Undefined();
  }
  // pidfds are always close-on-exec.
  int fd = static_cast<int>(syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0));
  if (fd < 0) {
    Failure f;
    f.Sys("cannot open pid " + std::to_string(static_cast<long>(pid)), errno, "pidfd_open");
    MakeError(env, "pidfdOpen", "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double fdArg, sigArg;
  if (!ArgNumber(info, 0, "pidfdSendSignal", "fd", &fdArg) ||
      !ArgNumber(info, 1, "pidfdSendSignal", "signal", &sigArg))
    return env.Undefined();
  int fd = static_cast<int>(fdArg);
  int sig = static_cast<int>(sigArg);
  if (fd < 0 || fd != fdArg) {
    ThrowArgError(env, "pidfdSendSignal", "fd must be a non-negative integer");
    return env.Undefined();
  }
  if (sig <= 0 || sig >= NSIG || sig != sigArg) {
    ThrowArgError(env, "pidfdSendSignal", "signal must be a signal number");
    return env.Undefined();
  }
  if (syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0) < 0) {
    Failure f;
    f.Sys("cannot send signal " + std::to_string(sig) + " through pidfd " + std::to_string(fd), errno,
          "pidfd_send_signal");
    MakeError(env, "pidfdSendSignal", "", f).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value PollReadable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double fdArg;
  if (!ArgNumber(info, 0, "pollReadable", "fd", &fdArg)) return env.Undefined();
  int fd = static_cast<int>(fdArg);
  if (fd < 0 || fd != fdArg) {
    ThrowArgError(env, "pollReadable", "fd must be a non-negative integer");
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    Napi::Error::New(env, "pollReadable: no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  PollRequest* req = new PollRequest(env, fd);
  Napi::Promise promise = req->deferred.Promise();
  int rc = uv_poll_init(loop, &req->handle, fd);
  if (rc == 0) {
    req->handle.data = req;
    rc = uv_poll_start(&req->handle, UV_READABLE, OnPoll);
    if (rc != 0) {
      req->status = rc;
      uv_close(reinterpret_cast<uv_handle_t*>(&req->handle), OnClosed);
    }
    return promise;
  }
  Failure f;
  f.Sys("cannot poll fd " + std::to_string(fd), -rc, "epoll_ctl");
  req->deferred.Reject(MakeError(env, "pollReadable", "", f).Value());
  delete req;
  return promise;
}

}  // namespace

void InitPidfd(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("pollReadable", Napi::Function::New(env, PollReadable, "pollReadable"));
}

}  // namespace incus
