// The container console: consoleOpen (async) asks the monitor, over the
// command socket, for a proxy pty bridged to the container's /dev/console
// (liblxc console_getfd with tty 0; nothing forks); consoleLog (async) reads
// or clears the console ring buffer. Reading and writing the pty is left to
// libuv in Node; its window size is set with pty.cc's setWindowSize.
// Man pages: pty(7), termios(3), unix(7) (SCM_RIGHTS), fcntl(2); liblxc
// lxccontainer.h (console_getfd, console_log).
#include <errno.h>
#include <fcntl.h>
#include <lxc/lxccontainer.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "exports.h"
#include "lxc-common.h"
#include "worker.h"

namespace incus {

namespace {

// liblxc creates both fds close-on-exec (SOCK_CLOEXEC, MSG_CMSG_CLOEXEC);
// this only guards against a build that does not, and reports failure.
bool EnsureCloexec(int fd, Failure* f) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) {
    f->Sys("cannot read the flags of fd " + std::to_string(fd), errno, "fcntl");
    return false;
  }
  if ((flags & FD_CLOEXEC) == 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
    f->Sys("cannot set close-on-exec on fd " + std::to_string(fd), errno, "fcntl");
    return false;
  }
  return true;
}

// consoleOpen(name, lxcpath): async; resolves { ptx, keepalive }.
class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, std::string name, std::string lxcpath)
      : PromiseWorker(env, "consoleOpen", name),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)) {}

 protected:
  void Run() override {
    Container c;
    if (!c.Open(name_, lxcpath_, &fail_)) return;
    if (!c->is_running(c.get())) {
      NotRunning(&fail_);
      return;
    }
    // tty 0 is the console; the monitor hands out one proxy at a time and
    // keeps it for as long as the returned command socket stays open.
    int ttynum = 0;
    int ptx = -1;
    int sock = c->console_getfd(c.get(), &ttynum, &ptx);
    if (sock < 0 || ptx < 0) {
      if (sock >= 0) close(sock);
      fail_.Code("EBUSY", EBUSY, "cannot get the console (it is in use or the container has none)");
      return;
    }
    if (!EnsureCloexec(sock, &fail_) || !EnsureCloexec(ptx, &fail_)) {
      close(sock);
      close(ptx);
      return;
    }
    // liblxc leaves output processing on in the proxy, so every "\r\n" from
    // the console would arrive as "\r\r\n": pass the console's bytes as they
    // are. On a master, tcsetattr sets the pair's (the slave's) modes.
    struct termios tios;
    if (tcgetattr(ptx, &tios) == 0) {
      tios.c_oflag &= ~OPOST;
      tcsetattr(ptx, TCSANOW, &tios);
    }
    ptx_ = ptx;
    keepalive_ = sock;
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ptx", Napi::Number::New(env, ptx_));
    o.Set("keepalive", Napi::Number::New(env, keepalive_));
    return o;
  }

 private:
  std::string name_, lxcpath_;
  int ptx_ = -1;
  int keepalive_ = -1;
};

// consoleLog(name, lxcpath, clear): async; resolves the ring buffer (read)
// or an empty Buffer (clear).
class LogWorker : public PromiseWorker {
 public:
  LogWorker(Napi::Env env, std::string name, std::string lxcpath, bool clear)
      : PromiseWorker(env, "consoleLog", name),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)),
        clear_(clear) {}

  ~LogWorker() override { free(data_); }

 protected:
  void Run() override {
    Container c;
    if (!c.Open(name_, lxcpath_, &fail_)) return;
    uint64_t max = 0;  // 0: the whole ring buffer
    struct lxc_console_log log = {};
    log.clear = clear_;
    log.read = !clear_;
    log.read_max = &max;
    log.data = nullptr;
    int ret = c->console_log(c.get(), &log);
    if (ret < 0) {
      free(log.data);
      if (ret < -1)
        fail_.Sys(clear_ ? "cannot clear the console log" : "cannot read the console log", -ret, nullptr);
      else if (!c->is_running(c.get()))
        NotRunning(&fail_);
      else
        fail_.Lxc(clear_ ? "cannot clear the console log" : "cannot read the console log");
      return;
    }
    data_ = log.data;
    size_ = log.data ? static_cast<size_t>(max) : 0;
  }

  Napi::Value Result(Napi::Env env) override {
    return Napi::Buffer<char>::Copy(env, data_ ? data_ : "", size_);
  }

 private:
  std::string name_, lxcpath_;
  bool clear_;
  char* data_ = nullptr;
  size_t size_ = 0;
};

Napi::Value ConsoleOpen(const Napi::CallbackInfo& info) {
  std::string name, lxcpath;
  if (!ArgString(info, 0, "consoleOpen", "name", &name) ||
      !ArgString(info, 1, "consoleOpen", "lxcpath", &lxcpath))
    return info.Env().Undefined();
  return (new OpenWorker(info.Env(), name, lxcpath))->Start();
}

Napi::Value ConsoleLog(const Napi::CallbackInfo& info) {
  std::string name, lxcpath;
  if (!ArgString(info, 0, "consoleLog", "name", &name) ||
      !ArgString(info, 1, "consoleLog", "lxcpath", &lxcpath))
    return info.Env().Undefined();
  if (info.Length() < 3 || !info[2].IsBoolean()) {
    ThrowArgError(info.Env(), "consoleLog", "clear must be a boolean");
    return info.Env().Undefined();
  }
  bool clear = info[2].As<Napi::Boolean>().Value();
  return (new LogWorker(info.Env(), name, lxcpath, clear))->Start();
}

}  // namespace

void InitConsole(Napi::Env env, Napi::Object exports) {
  exports.Set("consoleOpen", Napi::Function::New(env, ConsoleOpen, "consoleOpen"));
  exports.Set("consoleLog", Napi::Function::New(env, ConsoleLog, "consoleLog"));
}

}  // namespace incus
