// peerCredentials (sync-fast): the pid, uid and gid of the process at the
// other end of a connected unix socket, as the kernel recorded them when
// the peer called connect(2). The guest API identifies its callers by this
// alone; the pid is translated into the daemon's pid namespace.
// Man pages: unix(7) (SO_PEERCRED), getsockopt(2).
#include <errno.h>
#include <sys/socket.h>

#include <string>

#include "exports.h"
#include "failure.h"
#include "worker.h"

namespace incus {

namespace {

Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double fdArg;
  if (!ArgNumber(info, 0, "peerCredentials", "fd", &fdArg)) return env.Undefined();
  if (fdArg < 0 || fdArg != static_cast<double>(static_cast<int>(fdArg))) {
    ThrowArgError(env, "peerCredentials", "fd must be a non-negative integer");
    return env.Undefined();
  }
  int fd = static_cast<int>(fdArg);
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    Failure f;
    f.Sys("cannot read the peer credentials of fd " + std::to_string(fd), errno, "getsockopt");
    MakeError(env, "peerCredentials", "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

}  // namespace

void InitPeercred(Napi::Env env, Napi::Object exports) {
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
}

}  // namespace incus
