// Failure records what went wrong inside a worker (no N-API calls allowed
// there) and turns it into a JS Error with code/errno/syscall/op/instance/path
// once back on the main thread.
// Man pages: errno(3), strerror(3) (strerrorname_np, strerrordesc_np).
#pragma once

#include <napi.h>

#include <string>

namespace incus {

struct Failure {
  bool failed = false;
  int err = 0;           // errno; 0 when liblxc gave none ("ELXC")
  std::string code;      // explicit code; empty means derived from err
  std::string syscall;
  std::string path;
  std::string message;   // what failed, without the "op instance: " prefix

  // A syscall failed with errnum.
  void Sys(std::string what, int errnum, const char* sys, std::string p = "");
  // A liblxc call failed without a usable errno.
  void Lxc(std::string what);
  // A failure with an explicit code (e.g. ETIMEDOUT for a bounded wait).
  void Code(const char* c, int errnum, std::string what);
};

// "ENOENT" for ENOENT; "E<n>" when glibc has no name for it.
std::string ErrnoName(int err);

// Builds the JS Error: message "<op> <instance>: <message>[: <strerror>]".
Napi::Error MakeError(Napi::Env env, const std::string& op,
                      const std::string& instance, const Failure& f);

// Throws a TypeError with code ERR_INVALID_ARG_TYPE for a bad argument.
void ThrowArgError(Napi::Env env, const std::string& op, const std::string& what);

}  // namespace incus
