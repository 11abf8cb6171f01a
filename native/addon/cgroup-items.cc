// getCgroupItem / setCgroupItem through liblxc, which asks the monitor for
// the container's limiting cgroup over the command socket.
// Man pages: cgroups(7); liblxc lxccontainer.h (get/set_cgroup_item).
#include <errno.h>
#include <lxc/lxccontainer.h>

#include <string>
#include <vector>

#include "exports.h"
#include "lxc-common.h"
#include "worker.h"

namespace incus {

namespace {

// get_cgroup_item returns -errno from liblxc's cgroup_get, or plain -1.
void ItemFailure(Failure* f, int ret, const std::string& what) {
  if (ret < -1)
    f->Sys(what, -ret, nullptr);
  else
    f->Lxc(what);
}

class GetItemWorker : public PromiseWorker {
 public:
  GetItemWorker(Napi::Env env, std::string name, std::string lxcpath, std::string key)
      : PromiseWorker(env, "getCgroupItem", name),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)),
        key_(std::move(key)) {}

 protected:
  void Run() override {
    Container c;
    if (!c.Open(name_, lxcpath_, &fail_)) return;
    if (!c->is_running(c.get())) {
      NotRunning(&fail_);
      return;
    }
    int need = c->get_cgroup_item(c.get(), key_.c_str(), nullptr, 0);
    if (need < 0) {
      ItemFailure(&fail_, need, "cannot read " + key_);
      return;
    }
    // Sized from a first read; the value may grow in between, so retry.
    for (int attempt = 0; attempt < 4; attempt++) {
      std::vector<char> buf(static_cast<size_t>(need) + 4096);
      int got = c->get_cgroup_item(c.get(), key_.c_str(), buf.data(),
                                   static_cast<int>(buf.size()));
      if (got < 0) {
        ItemFailure(&fail_, got, "cannot read " + key_);
        return;
      }
      if (static_cast<size_t>(got) < buf.size()) {
        value_.assign(buf.data(), got);
        while (!value_.empty() && value_.back() == '\n') value_.pop_back();
        return;
      }
      need = got * 2;
    }
    fail_.Code("EOVERFLOW", EOVERFLOW, "value of " + key_ + " keeps growing");
  }

  Napi::Value Result(Napi::Env env) override { return Napi::String::New(env, value_); }

 private:
  std::string name_, lxcpath_, key_, value_;
};

class SetItemWorker : public PromiseWorker {
 public:
  SetItemWorker(Napi::Env env, std::string name, std::string lxcpath,
                std::string key, std::string value)
      : PromiseWorker(env, "setCgroupItem", name),
        name_(std::move(name)),
        lxcpath_(std::move(lxcpath)),
        key_(std::move(key)),
        value_(std::move(value)) {}

 protected:
  void Run() override {
    Container c;
    if (!c.Open(name_, lxcpath_, &fail_)) return;
    if (!c->is_running(c.get())) {
      NotRunning(&fail_);
      return;
    }
    errno = 0;
    if (!c->set_cgroup_item(c.get(), key_.c_str(), value_.c_str())) {
      // liblxc reports only a bool; errno holds the failed write's cause.
      std::string what = "cannot set " + key_ + " to \"" + value_ + "\"";
      if (errno)
        fail_.Sys(what, errno, "write");
      else
        fail_.Lxc(what);
    }
  }

 private:
  std::string name_, lxcpath_, key_, value_;
};

Napi::Value GetItem(const Napi::CallbackInfo& info) {
  std::string name, lxcpath, key;
  if (!ArgString(info, 0, "getCgroupItem", "name", &name) ||
      !ArgString(info, 1, "getCgroupItem", "lxcpath", &lxcpath) ||
      !ArgString(info, 2, "getCgroupItem", "key", &key))
    return info.Env().Undefined();
  return (new GetItemWorker(info.Env(), name, lxcpath, key))->Start();
}

Napi::Value SetItem(const Napi::CallbackInfo& info) {
  std::string name, lxcpath, key, value;
  if (!ArgString(info, 0, "setCgroupItem", "name", &name) ||
      !ArgString(info, 1, "setCgroupItem", "lxcpath", &lxcpath) ||
      !ArgString(info, 2, "setCgroupItem", "key", &key) ||
      !ArgString(info, 3, "setCgroupItem", "value", &value))
    return info.Env().Undefined();
  return (new SetItemWorker(info.Env(), name, lxcpath, key, value))->Start();
}

}  // namespace

void InitCgroupItems(Napi::Env env, Napi::Object exports) {
  exports.Set("getCgroupItem", Napi::Function::New(env, GetItem, "getCgroupItem"));
  exports.Set("setCgroupItem", Napi::Function::New(env, SetItem, "setCgroupItem"));
}

}  // namespace incus
