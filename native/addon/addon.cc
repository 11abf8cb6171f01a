// Module entry point of incus_native.node: gathers the exports of every
// subsystem file. The surface is declared in lib/native/binding.d.ts.
// Man pages: none.
#include <napi.h>

#include "exports.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  incus::InitLxcOps(env, exports);
  incus::InitCgroupItems(env, exports);
  incus::InitFreezer(env, exports);
  incus::InitBatchState(env, exports);
  incus::InitPidfd(env, exports);
  incus::InitShiftTree(env, exports);
  incus::InitPty(env, exports);
  incus::InitConsole(env, exports);
  incus::InitFdpass(env, exports);
  incus::InitAbstractSocket(env, exports);
  incus::InitPeercred(env, exports);
  incus::InitDqliteNode(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(incus_native, Init)
