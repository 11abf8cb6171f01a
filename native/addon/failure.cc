// Failure -> JS Error conversion shared by every export of the addon.
// Man pages: errno(3), strerror(3) (strerrorname_np, strerrordesc_np).
#include "failure.h"

#include <string.h>

namespace incus {

void Failure::Sys(std::string what, int errnum, const char* sys, std::string p) {
  failed = true;
  err = errnum;
  code.clear();
  syscall = sys ? sys : "";
  path = std::move(p);
  message = std::move(what);
}

void Failure::Lxc(std::string what) {
  failed = true;
  err = 0;
  code = "ELXC";
  message = std::move(what);
}

void Failure::Code(const char* c, int errnum, std::string what) {
  failed = true;
  err = errnum;
  code = c;
  message = std::move(what);
}

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  if (name) return name;
  return "E" + std::to_string(err);
}

Napi::Error MakeError(Napi::Env env, const std::string& op,
                      const std::string& instance, const Failure& f) {
  std::string msg = op;
  if (!instance.empty()) msg += " " + instance;
  msg += ": " + f.message;
  if (f.err) {
    const char* desc = strerrordesc_np(f.err);
    msg += ": ";
    msg += desc ? desc : ErrnoName(f.err);
  }
  Napi::Error e = Napi::Error::New(env, msg);
  std::string code = f.code;
  if (code.empty()) code = f.err ? ErrnoName(f.err) : "ELXC";
  e.Set("code", Napi::String::New(env, code));
  // Node's system errors carry the negated errno (libuv convention).
  if (f.err) e.Set("errno", Napi::Number::New(env, -f.err));
  if (!f.syscall.empty()) e.Set("syscall", Napi::String::New(env, f.syscall));
  e.Set("op", Napi::String::New(env, op));
  if (!instance.empty()) e.Set("instance", Napi::String::New(env, instance));
  if (!f.path.empty()) e.Set("path", Napi::String::New(env, f.path));
  return e;
}

void ThrowArgError(Napi::Env env, const std::string& op, const std::string& what) {
  Napi::TypeError e = Napi::TypeError::New(env, op + ": " + what);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  e.Set("op", Napi::String::New(env, op));
  e.ThrowAsJavaScriptException();
}

}  // namespace incus
