// abstractListening (sync-fast): whether something listens on an abstract
// unix socket, such as liblxc's command socket. Node cannot ask: it pads
// abstract names to the whole sun_path, and liblxc's names are exact length.
// A non-blocking connect to a unix socket answers at once; the probe
// connection is closed straight away.
// Man pages: unix(7) (abstract namespace), connect(2), socket(2).
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "abstract-socket.h"
#include "exports.h"
#include "failure.h"
#include "worker.h"

namespace incus {

int ConnectAbstract(const std::string& name, int* err, const char** syscall) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  *syscall = "connect";
  // The leading NUL marks the abstract namespace; the name is not NUL-terminated.
  if (name.empty() || name.size() > sizeof(addr.sun_path) - 1 || name.find('\0') != std::string::npos) {
    *err = EINVAL;
    return -1;
  }
  memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    *syscall = "socket";
    return -1;
  }
  // A unix connect completes at once; EINPROGRESS is as good as done.
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0 && errno != EINPROGRESS) {
    *err = errno;
    close(fd);
    return -1;
  }
  *err = 0;
  return fd;
}

namespace {

Napi::Value AbstractListening(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!ArgString(info, 0, "abstractListening", "name", &name)) return env.Undefined();
  int err = 0;
  const char* syscall = "connect";
  int fd = ConnectAbstract(name, &err, &syscall);
  if (fd >= 0) {
    close(fd);
    return Napi::Boolean::New(env, true);
  }
  if (err == EINVAL) {
    ThrowArgError(env, "abstractListening", "name must be 1 to 107 bytes without NUL");
    return env.Undefined();
  }
  // EAGAIN: a listener whose backlog is full.
  if (err == EAGAIN) return Napi::Boolean::New(env, true);
  if (err == ECONNREFUSED) return Napi::Boolean::New(env, false);
  if (strcmp(syscall, "socket") == 0) {
    Failure f;
    f.Sys("cannot create a unix socket", err, "socket");
    MakeError(env, "abstractListening", "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Failure f;
  f.Sys("cannot connect to abstract socket @" + name, err, "connect");
  MakeError(env, "abstractListening", "", f).ThrowAsJavaScriptException();
  return env.Undefined();
}

}  // namespace

void InitAbstractSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("abstractListening", Napi::Function::New(env, AbstractListening, "abstractListening"));
}

}  // namespace incus
