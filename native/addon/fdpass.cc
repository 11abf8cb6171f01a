// Message sockets with fd passing, for talking to helper processes (the
// forkfile helper hands back opened files): seqpacketPair, sendMsg and
// recvMsg, all sync-fast. The daemon's end is non-blocking; callers wait
// for it with pollReadable (uv_poll) and never park a pool thread.
// Man pages: socketpair(2), unix(7) (SCM_RIGHTS), sendmsg(2), recvmsg(2),
// cmsg(3), fcntl(2).
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "exports.h"
#include "failure.h"
#include "worker.h"

namespace incus {

namespace {

// Most fds one message may carry in either direction.
constexpr size_t kMaxFds = 16;

void ThrowSys(Napi::Env env, const char* op, const std::string& what, int err, const char* sys) {
  Failure f;
  f.Sys(what, err, sys);
  MakeError(env, op, "", f).ThrowAsJavaScriptException();
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, const char* op, int* out) {
  double v;
  if (!ArgNumber(info, i, op, "fd", &v)) return false;
  if (v < 0 || v != static_cast<double>(static_cast<int>(v))) {
    ThrowArgError(info.Env(), op, "fd must be a non-negative integer");
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

Napi::Value SeqpacketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowSys(env, "seqpacketPair", "cannot create a socket pair", errno, "socketpair");
    return env.Undefined();
  }
  // Only our end: the child's stays blocking.
  int fl = fcntl(sv[0], F_GETFL);
  if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) < 0) {
    int err = errno;
    close(sv[0]);
    close(sv[1]);
    ThrowSys(env, "seqpacketPair", "cannot make the socket non-blocking", err, "fcntl");
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, sv[0]));
  out.Set(1u, Napi::Number::New(env, sv[1]));
  return out;
}

Napi::Value SendMsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, "sendMsg", &fd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsBuffer()) {
    ThrowArgError(env, "sendMsg", "data must be a Buffer");
    return env.Undefined();
  }
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  std::vector<int> fds;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsArray()) {
      ThrowArgError(env, "sendMsg", "fds must be an array of fds");
      return env.Undefined();
    }
    Napi::Array a = info[2].As<Napi::Array>();
    if (a.Length() > kMaxFds) {
      ThrowArgError(env, "sendMsg", "too many fds");
      return env.Undefined();
    }
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (d < 0 || d != static_cast<double>(static_cast<int>(d))) {
        ThrowArgError(env, "sendMsg", "fds must be non-negative integers");
        return env.Undefined();
      }
      fds.push_back(static_cast<int>(d));
    }
  }

  struct iovec iov = {data.Data(), data.Length()};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  std::vector<char> cbuf;
  if (!fds.empty()) {
    cbuf.assign(CMSG_SPACE(fds.size() * sizeof(int)), 0);
    mh.msg_control = cbuf.data();
    mh.msg_controllen = cbuf.size();
    struct cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ThrowSys(env, "sendMsg", "cannot send on fd " + std::to_string(fd), errno, "sendmsg");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value RecvMsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  double maxLen;
  if (!ArgFd(info, 0, "recvMsg", &fd)) return env.Undefined();
  if (!ArgNumber(info, 1, "recvMsg", "maxLen", &maxLen)) return env.Undefined();
  if (maxLen < 1 || maxLen > 16 * 1024 * 1024) {
    ThrowArgError(env, "recvMsg", "maxLen must be between 1 and 16 MiB");
    return env.Undefined();
  }

  std::vector<char> buf(static_cast<size_t>(maxLen));
  char cbuf[CMSG_SPACE(kMaxFds * sizeof(int))];
  struct iovec iov = {buf.data(), buf.size()};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = cbuf;
  mh.msg_controllen = sizeof(cbuf);
  ssize_t n;
  do {
    n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    ThrowSys(env, "recvMsg", "cannot receive on fd " + std::to_string(fd), errno, "recvmsg");
    return env.Undefined();
  }

  Napi::Array fds = Napi::Array::New(env);
  uint32_t nfds = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.Set(nfds++, Napi::Number::New(env, got));
    }
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, buf.data(), static_cast<size_t>(n)));
  out.Set("fds", fds);
  out.Set("truncated", Napi::Boolean::New(env, (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0));
  return out;
}

}  // namespace

void InitFdpass(Napi::Env env, Napi::Object exports) {
  exports.Set("seqpacketPair", Napi::Function::New(env, SeqpacketPair, "seqpacketPair"));
  exports.Set("sendMsg", Napi::Function::New(env, SendMsg, "sendMsg"));
  exports.Set("recvMsg", Napi::Function::New(env, RecvMsg, "recvMsg"));
}

}  // namespace incus
