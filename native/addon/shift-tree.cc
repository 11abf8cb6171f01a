// shiftTree: lchown every entry under a path from 0-based ids to
// id+offset (the rootfs shift used where idmapped mounts do not work).
// Never follows symlinks; puts back setuid/setgid bits that chown clears.
// File capabilities (security.capability xattrs) are not re-created.
// Man pages: nftw(3), lchown(2), chmod(2), inode(7).
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "exports.h"
#include "worker.h"

namespace incus {

namespace {

// nftw() has no user pointer; each pool thread walks one tree at a time.
struct ShiftContext {
  uint64_t uidOffset = 0;
  uint64_t gidOffset = 0;
  Failure* fail = nullptr;
};
thread_local ShiftContext tls;

int Visit(const char* path, const struct stat* st, int type, struct FTW* /*ftw*/) {
  if (type == FTW_NS || type == FTW_DNR) {
    struct stat again;
    int err = lstat(path, &again) != 0 ? errno : EACCES;
    tls.fail->Sys(type == FTW_NS ? "cannot stat" : "cannot read directory", err,
                  type == FTW_NS ? "lstat" : "opendir", path);
    return 1;
  }
  uint64_t uid = static_cast<uint64_t>(st->st_uid) + tls.uidOffset;
  uint64_t gid = static_cast<uint64_t>(st->st_gid) + tls.gidOffset;
  if (uid >= UINT32_MAX || gid >= UINT32_MAX) {
    tls.fail->Sys("shifted id out of range", EOVERFLOW, "lchown", path);
    return 1;
  }
  if (lchown(path, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
    tls.fail->Sys("cannot change owner", errno, "lchown", path);
    return 1;
  }
  if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID))) {
    if (chmod(path, st->st_mode & 07777) != 0) {
      tls.fail->Sys("cannot restore mode", errno, "chmod", path);
      return 1;
    }
  }
  return 0;
}

class ShiftWorker : public PromiseWorker {
 public:
  ShiftWorker(Napi::Env env, std::string path, uint64_t uidOffset, uint64_t gidOffset)
      : PromiseWorker(env, "shiftTree", ""),
        path_(std::move(path)),
        uidOffset_(uidOffset),
        gidOffset_(gidOffset) {}

 protected:
  void Run() override {
    tls = ShiftContext{uidOffset_, gidOffset_, &fail_};
    int rc = nftw(path_.c_str(), Visit, 64, FTW_PHYS);
    if (rc < 0 && !fail_.failed) fail_.Sys("cannot walk", errno, "nftw", path_);
    tls = ShiftContext{};
  }

 private:
  std::string path_;
  uint64_t uidOffset_, gidOffset_;
};

Napi::Value ShiftTree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  double uid, gid;
  if (!ArgString(info, 0, "shiftTree", "path", &path) ||
      !ArgNumber(info, 1, "shiftTree", "uidOffset", &uid) ||
      !ArgNumber(info, 2, "shiftTree", "gidOffset", &gid))
    return env.Undefined();
  if (uid < 0 || gid < 0 || uid >= UINT32_MAX || gid >= UINT32_MAX ||
      uid != static_cast<double>(static_cast<uint64_t>(uid)) ||
      gid != static_cast<double>(static_cast<uint64_t>(gid))) {
    ThrowArgError(env, "shiftTree", "offsets must be integers in [0, 2^32-1)");
    return env.Undefined();
  }
  return (new ShiftWorker(env, path, static_cast<uint64_t>(uid), static_cast<uint64_t>(gid)))
      ->Start();
}

}  // namespace

void InitShiftTree(Napi::Env env, Napi::Object exports) {
  exports.Set("shiftTree", Napi::Function::New(env, ShiftTree, "shiftTree"));
}

}  // namespace incus
