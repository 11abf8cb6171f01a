// Registration hooks: each subsystem file adds its exports to the module.
// Man pages: none.
#pragma once

#include <napi.h>

namespace incus {

void InitLxcOps(Napi::Env env, Napi::Object exports);
void InitCgroupItems(Napi::Env env, Napi::Object exports);
void InitFreezer(Napi::Env env, Napi::Object exports);
void InitBatchState(Napi::Env env, Napi::Object exports);
void InitPidfd(Napi::Env env, Napi::Object exports);
void InitShiftTree(Napi::Env env, Napi::Object exports);
void InitPty(Napi::Env env, Napi::Object exports);
void InitConsole(Napi::Env env, Napi::Object exports);
void InitFdpass(Napi::Env env, Napi::Object exports);
void InitAbstractSocket(Napi::Env env, Napi::Object exports);
void InitPeercred(Napi::Env env, Napi::Object exports);
void InitDqliteNode(Napi::Env env, Napi::Object exports);

}  // namespace incus
