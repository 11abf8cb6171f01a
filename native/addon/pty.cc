// Terminals and pipes for exec, all sync-fast (a few bounded syscalls):
//  - openpty(pid, uid, gid): a pty pair from the devpts instance seen by
//    process `pid` (a container's init: /proc/<pid>/root/dev/pts/ptmx,
//    resolved with RESOLVE_IN_ROOT so that no link inside the container can
//    lead elsewhere), or from the host's /dev/ptmx when pid is 0. The slave
//    comes from TIOCGPTPEER and is chowned to uid:gid (the container's root
//    as the host sees it) unless uid is -1. The master is non-blocking, so
//    writes from the event loop can never stall on a full input queue.
//  - setWindowSize(fd, cols, rows): TIOCSWINSZ on either side of a pty.
//  - makePipe(): pipe2(O_CLOEXEC), for a command's stdin/stdout/stderr.
//  - streamPair(): socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC), for a
//    helper's control channel (a stream, so libuv can read it as a pipe).
// Every fd is close-on-exec from birth.
// Man pages: pty(7), ioctl_tty(2) (TIOCSPTLCK, TIOCGPTPEER, TIOCGPTN,
// TIOCSWINSZ), openat2(2), fstatfs(2), fchown(2), termios(3), pipe(2),
// socketpair(2).
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "exports.h"
#include "failure.h"
#include "worker.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

namespace incus {

namespace {

// Default size until the client sends its own, as Incus does.
constexpr unsigned short kDefaultCols = 80;
constexpr unsigned short kDefaultRows = 25;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Opens the ptmx of the devpts instance that process `pid` sees.
int OpenContainerPtmx(pid_t pid, Failure* f) {
  std::string root = "/proc/" + std::to_string(pid) + "/root";
  Fd dir(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) {
    f->Sys("cannot open the root of process " + std::to_string(pid), errno, "open", root);
    return -1;
  }
  struct open_how how = {};
  how.flags = O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(syscall(SYS_openat2, dir.get(), "dev/pts/ptmx", &how, sizeof(how)));
  if (fd < 0) f->Sys("cannot open the container's pty multiplexer", errno, "openat2", root + "/dev/pts/ptmx");
  return fd;
}

// True when fd is a pty multiplexer (char 5:2); inside a container it must
// also sit on a devpts filesystem (the host's /dev/ptmx is on devtmpfs).
bool IsPtmx(int fd, bool inDevpts, Failure* f) {
  struct statfs sfs;
  struct stat st;
  if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0) {
    f->Sys("cannot inspect the pty multiplexer", errno, "fstat");
    return false;
  }
  if ((inDevpts && sfs.f_type != DEVPTS_SUPER_MAGIC) || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
      minor(st.st_rdev) != 2) {
    f->Code("EPERM", EPERM, "not a pty multiplexer");
    return false;
  }
  return true;
}

bool ReadInt(const Napi::CallbackInfo& info, size_t i, const char* op, const char* name, double lo, double hi,
             long* out) {
  double v;
  if (!ArgNumber(info, i, op, name, &v)) return false;
  if (v != static_cast<double>(static_cast<long>(v)) || v < lo || v > hi) {
    ThrowArgError(info.Env(), op, std::string(name) + " is out of range");
    return false;
  }
  *out = static_cast<long>(v);
  return true;
}

Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  long pid, uid, gid;
  if (!ReadInt(info, 0, "openpty", "pid", 0, 4194304, &pid) ||
      !ReadInt(info, 1, "openpty", "uid", -1, 4294967294.0, &uid) ||
      !ReadInt(info, 2, "openpty", "gid", -1, 4294967294.0, &gid))
    return env.Undefined();

  Failure f;
  Fd master(pid > 0 ? OpenContainerPtmx(static_cast<pid_t>(pid), &f)
                    : open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  if (master.get() < 0 && pid == 0) f.Sys("cannot open /dev/ptmx", errno, "open", "/dev/ptmx");
  Fd slave;
  int index = -1, unlock = 0;
  if (!f.failed && IsPtmx(master.get(), pid > 0, &f)) {
    if (ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) {
      f.Sys("cannot unlock the pty", errno, "ioctl");
    } else if (ioctl(master.get(), TIOCGPTN, &index) < 0) {
      f.Sys("cannot read the pty number", errno, "ioctl");
    } else {
      slave.reset(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
      if (slave.get() < 0) f.Sys("cannot open the pty slave", errno, "ioctl");
    }
  }
  if (!f.failed) {
    struct termios t;
    struct winsize ws = {};
    ws.ws_col = kDefaultCols;
    ws.ws_row = kDefaultRows;
    if (tcgetattr(slave.get(), &t) == 0) {
      t.c_iflag |= IUTF8;
      tcsetattr(slave.get(), TCSANOW, &t);
    }
    if (ioctl(master.get(), TIOCSWINSZ, &ws) < 0) {
      f.Sys("cannot set the window size", errno, "ioctl");
    } else if (uid >= 0 && fchown(slave.get(), static_cast<uid_t>(uid), static_cast<gid_t>(gid < 0 ? -1 : gid)) < 0) {
      f.Sys("cannot hand the pty to the container's root", errno, "fchown");
    }
  }
  if (f.failed) {
    MakeError(env, "openpty", "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("master", Napi::Number::New(env, master.release()));
  out.Set("slave", Napi::Number::New(env, slave.release()));
  out.Set("index", Napi::Number::New(env, index));
  return out;
}

Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  long fd, cols, rows;
  if (!ReadInt(info, 0, "setWindowSize", "fd", 0, 2147483647.0, &fd) ||
      !ReadInt(info, 1, "setWindowSize", "cols", 1, 65535, &cols) ||
      !ReadInt(info, 2, "setWindowSize", "rows", 1, 65535, &rows))
    return env.Undefined();
  struct winsize ws = {};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  if (ioctl(static_cast<int>(fd), TIOCSWINSZ, &ws) < 0) {
    Failure f;
    f.Sys("cannot set the window size of fd " + std::to_string(fd), errno, "ioctl");
    MakeError(env, "setWindowSize", "", f).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value MakePipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) {
    Failure f;
    f.Sys("cannot create a pipe", errno, "pipe2");
    MakeError(env, "makePipe", "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

Napi::Value StreamPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
    Failure f;
    f.Sys("cannot create a socket pair", errno, "socketpair");
    MakeError(env, "streamPair", "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, sv[0]));
  out.Set(1u, Napi::Number::New(env, sv[1]));
  return out;
}

}  // namespace

void InitPty(Napi::Env env, Napi::Object exports) {
  exports.Set("openpty", Napi::Function::New(env, OpenPty, "openpty"));
  exports.Set("setWindowSize", Napi::Function::New(env, SetWindowSize, "setWindowSize"));
  exports.Set("makePipe", Napi::Function::New(env, MakePipe, "makePipe"));
  exports.Set("streamPair", Napi::Function::New(env, StreamPair, "streamPair"));
}

}  // namespace incus
