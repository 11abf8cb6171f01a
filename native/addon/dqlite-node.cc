// dqlite node lifecycle for clustering: create, bind, start, stop, recover,
// destroy a dqlite_node (libdqlite 1.11), plus a same-process connect to its
// abstract bind socket.
//
// Kinds (STYLE.md): dqliteNodeCreate/Start/Stop/Recover are async, but not
// AsyncWorkers: dqlite_node_start waits on a semaphore for dqlite's own
// thread and dqlite_node_stop joins it, so each runs on a thread of its own
// and settles its promise through a thread-safe function; no libuv pool
// thread is ever parked. dqliteNodeSetBindAddress, dqliteNodeSetOptions,
// dqliteNodeDestroy and dqliteConnectAbstract are sync-fast (bind/connect
// on unix sockets, frees).
//
// Outgoing raft connections: dqlite calls our connect function from a
// uv_queue_work item (transport.c), which in a Node process is Node's own
// libuv pool because Node exports the uv_* symbols. So it must not block:
// it makes a socketpair, hands one end and the target address to JS
// (onConnect(fd, address), where the TLS dial and the piping happen) and
// returns the other end to dqlite at once. A failed dial closes the JS end,
// which dqlite sees as a dropped connection and retries later.
// Man pages: socketpair(2), socket(2), connect(2), unix(7), fcntl(2),
// getsockname(2), proc(5) (/proc/self/fd); dqlite.h.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pthread.h>

#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

// dqlite.h has no extern "C" guard of its own.
extern "C" {
#include <dqlite.h>
}

#include "abstract-socket.h"
#include "exports.h"
#include "failure.h"
#include "worker.h"

namespace incus {

namespace {

// One dqlite node and what its callbacks need. Owned by a JS External; its
// memory is freed by dqliteNodeDestroy (or the External's finalizer when the
// node never started).
struct NodeBox {
  dqlite_node* node = nullptr;
  std::string label;  // "node <id>" for error messages
  napi_threadsafe_function onConnect = nullptr;
  std::mutex mu;
  bool busy = false;     // a start/stop/recover thread is running
  bool started = false;  // dqlite_node_start succeeded and no stop yet
  bool used = false;     // start was attempted: raft's io is gone after a stop
  bool destroyed = false;
};

// What one outgoing connection hands to JS.
struct ConnectRequest {
  int fd;
  std::string address;
};

// Runs on the main thread for each onConnect call; owns req.
void CallOnConnect(napi_env env, napi_value js, void* /*ctx*/, void* data) {
  ConnectRequest* req = static_cast<ConnectRequest*>(data);
  if (env == nullptr || js == nullptr) {  // the environment is going away
    close(req->fd);
    delete req;
    return;
  }
  napi_value argv[2];
  napi_create_int32(env, req->fd, &argv[0]);
  napi_create_string_utf8(env, req->address.c_str(), req->address.size(), &argv[1]);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_value result;
  // JS owns the fd from here; an exception in the callback is Node's to report.
  napi_call_function(env, undefined, js, 2, argv, &result);
  delete req;
}

// dqlite's connect function: never blocks (see the file comment).
int ConnectFunc(void* arg, const char* address, int* fd) {
  NodeBox* box = static_cast<NodeBox*>(arg);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return DQLITE_ERROR;
  ConnectRequest* req = new ConnectRequest{sv[1], address ? address : ""};
  if (napi_call_threadsafe_function(box->onConnect, req, napi_tsfn_nonblocking) != napi_ok) {
    delete req;
    close(sv[0]);
    close(sv[1]);
    return DQLITE_ERROR;
  }
  *fd = sv[0];
  return 0;
}

// A blocking dqlite call run on a thread of its own; settles a promise.
struct Job {
  napi_deferred deferred = nullptr;
  napi_threadsafe_function done = nullptr;
  std::string op;
  std::string label;
  Failure fail;
  std::function<void(Failure&)> work;
  std::function<napi_value(napi_env)> result;  // optional
  NodeBox* box = nullptr;                     // busy flag cleared when done
};

void SettleJob(napi_env env, napi_value /*js*/, void* /*ctx*/, void* data) {
  Job* job = static_cast<Job*>(data);
  if (job->box) {
    std::lock_guard<std::mutex> lock(job->box->mu);
    job->box->busy = false;
  }
  if (env != nullptr) {
    Napi::Env e(env);
    Napi::HandleScope scope(e);
    if (job->fail.failed) {
      napi_reject_deferred(env, job->deferred, MakeError(e, job->op, job->label, job->fail).Value());
    } else {
      napi_value v;
      if (job->result) v = job->result(env);
      else napi_get_undefined(env, &v);
      napi_resolve_deferred(env, job->deferred, v);
    }
  }
  delete job;
}

void* JobThread(void* arg) {
  Job* job = static_cast<Job*>(arg);
  job->work(job->fail);
  napi_threadsafe_function done = job->done;
  napi_call_threadsafe_function(done, job, napi_tsfn_blocking);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return nullptr;
}

// Starts job->work on a new thread and returns the promise it settles.
Napi::Value RunOnThread(Napi::Env env, Job* job) {
  napi_value promise;
  napi_create_promise(env, &job->deferred, &promise);
  napi_value name = Napi::String::New(env, job->op);
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr,
                                      SettleJob, &job->done) != napi_ok) {
    Failure f;
    f.Code("ENOMEM", ENOMEM, "cannot create a thread-safe function");
    napi_reject_deferred(env, job->deferred, MakeError(env, job->op, job->label, f).Value());
    if (job->box) {
      std::lock_guard<std::mutex> lock(job->box->mu);
      job->box->busy = false;
    }
    delete job;
    return Napi::Value(env, promise);
  }
  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rv = pthread_create(&thread, &attr, JobThread, job);
  pthread_attr_destroy(&attr);
  if (rv != 0) {
    job->fail.Sys("cannot start a thread", rv, "pthread_create");
    napi_call_threadsafe_function(job->done, job, napi_tsfn_blocking);
    napi_release_threadsafe_function(job->done, napi_tsfn_release);
  }
  return Napi::Value(env, promise);
}

void DqliteFailure(Failure& f, const char* what, int rv, dqlite_node* node) {
  std::string msg = std::string(what) + " failed (" + std::to_string(rv) + ")";
  const char* detail = node ? dqlite_node_errmsg(node) : nullptr;
  if (detail && *detail) msg += ": " + std::string(detail);
  f.Code("EDQLITE", 0, msg);
}

// Reads info[i] as the External<NodeBox>; throws a TypeError otherwise.
NodeBox* ArgNode(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (i >= info.Length() || !info[i].IsExternal()) {
    ThrowArgError(info.Env(), op, "node must be a handle from dqliteNodeCreate");
    return nullptr;
  }
  NodeBox* box = info[i].As<Napi::External<NodeBox>>().Data();
  if (box->destroyed || box->node == nullptr) {
    ThrowArgError(info.Env(), op, "node was destroyed");
    return nullptr;
  }
  return box;
}

// Marks box busy for op; throws and returns false when another call runs,
// or, given runningErr, when the node is running, or, with needFresh, when
// it has run before (raft_recover and raft_start need an io never closed).
bool TakeBusy(Napi::Env env, NodeBox* box, const char* op, int runningErr = 0,
              const char* runningMsg = nullptr, bool needFresh = false) {
  std::lock_guard<std::mutex> lock(box->mu);
  Failure f;
  if (box->busy) f.Code("EBUSY", EBUSY, "another start, stop or recover is in progress");
  else if (runningErr && box->started) f.Code(ErrnoName(runningErr).c_str(), runningErr, runningMsg);
  else if (needFresh && box->used)
    f.Code("EINVAL", EINVAL, "a node that has run cannot start or recover again: create a new one on the same data directory");
  if (f.failed) {
    MakeError(env, op, box->label, f).ThrowAsJavaScriptException();
    return false;
  }
  box->busy = true;
  return true;
}

// With box->mu held: whether the node is stopped and idle; throws EBUSY otherwise.
bool Stopped(Napi::Env env, NodeBox* box, const char* op) {
  if (!box->started && !box->busy) return true;
  Failure f;
  f.Code("EBUSY", EBUSY, "the node is running");
  MakeError(env, op, box->label, f).ThrowAsJavaScriptException();
  return false;
}

// A job that clears box's busy flag when it settles.
Job* NodeJob(const char* op, NodeBox* box) {
  Job* job = new Job();
  job->op = op;
  job->label = box->label;
  job->box = box;
  return job;
}

void FreeBox(NodeBox* box) {
  if (box->node) dqlite_node_destroy(box->node);
  box->node = nullptr;
  if (box->onConnect) napi_release_threadsafe_function(box->onConnect, napi_tsfn_release);
  box->onConnect = nullptr;
}

// The External's finalizer: frees a node that never ran; a running node
// cannot be stopped here (that blocks), so it is left to the process.
void FinalizeBox(Napi::Env /*env*/, NodeBox* box) {
  {
    std::lock_guard<std::mutex> lock(box->mu);
    if (box->started || box->busy) return;  // leaked on purpose, see above
    if (!box->destroyed) {
      box->destroyed = true;
      FreeBox(box);
    }
  }
  delete box;
}

// dqliteNodeCreate(id, address, dataDir, onConnect) -> Promise<External>.
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteNodeCreate";
  double id;
  std::string address, dataDir;
  if (!ArgNumber(info, 0, op, "id", &id)) return env.Undefined();
  if (!ArgString(info, 1, op, "address", &address)) return env.Undefined();
  if (!ArgString(info, 2, op, "dataDir", &dataDir)) return env.Undefined();
  if (info.Length() < 4 || !info[3].IsFunction()) {
    ThrowArgError(env, op, "onConnect must be a function");
    return env.Undefined();
  }
  if (!(id >= 1 && id <= 9007199254740991.0) || id != static_cast<double>(static_cast<uint64_t>(id))) {
    ThrowArgError(env, op, "id must be a positive safe integer");
    return env.Undefined();
  }
  NodeBox* box = new NodeBox();
  box->label = "node " + std::to_string(static_cast<uint64_t>(id));
  napi_value name = Napi::String::New(env, "dqliteConnect");
  if (napi_create_threadsafe_function(env, info[3], nullptr, name, 0, 1, nullptr, nullptr, nullptr,
                                      CallOnConnect, &box->onConnect) != napi_ok) {
    delete box;
    Failure f;
    f.Code("ENOMEM", ENOMEM, "cannot create a thread-safe function");
    MakeError(env, op, "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // A node must not keep the process alive by itself.
  napi_unref_threadsafe_function(env, box->onConnect);

  Job* job = new Job();
  job->op = op;
  job->label = box->label;
  uint64_t nodeId = static_cast<uint64_t>(id);
  // raft_uv_init probes the data directory's I/O capabilities (writes and
  // fsyncs a file), so even create runs off the event loop.
  job->work = [box, nodeId, address, dataDir](Failure& f) {
    int rv = dqlite_node_create(nodeId, address.c_str(), dataDir.c_str(), &box->node);
    if (rv != 0) {
      DqliteFailure(f, "dqlite_node_create", rv, box->node);
      return;
    }
    rv = dqlite_node_set_connect_func(box->node, ConnectFunc, box);
    if (rv != 0) DqliteFailure(f, "dqlite_node_set_connect_func", rv, box->node);
  };
  job->result = [box](napi_env e) -> napi_value {
    return Napi::External<NodeBox>::New(Napi::Env(e), box, FinalizeBox);
  };
  // A failed create frees the box here: no External will own it.
  auto work = job->work;
  job->work = [box, work](Failure& f) {
    work(f);
    if (!f.failed) return;
    if (box->node) dqlite_node_destroy(box->node);
    napi_release_threadsafe_function(box->onConnect, napi_tsfn_release);
    delete box;
  };
  Napi::Value promise = RunOnThread(env, job);
  return promise;
}

// Sets FD_CLOEXEC on the socket bound to the abstract name: dqlite 1.11
// creates its listener without it (fcntl(fd, FD_CLOEXEC) in server.c is a
// no-op F_GETFD).
void CloexecListener(const std::string& bound) {
  if (bound.size() < 2 || bound[0] != '@') return;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return;
  while (dirent* e = readdir(d)) {
    char* end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || fd < 3 || fd == dirfd(d)) continue;
    sockaddr_un addr{};
    socklen_t len = sizeof(addr);
    if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    if (addr.sun_family != AF_UNIX || len <= offsetof(sockaddr_un, sun_path) + 1) continue;
    if (addr.sun_path[0] != '\0') continue;
    size_t n = len - offsetof(sockaddr_un, sun_path) - 1;
    // dqlite reports the whole sun_path; compare the name up to its first NUL.
    std::string name(addr.sun_path + 1, strnlen(addr.sun_path + 1, n));
    if (name != std::string(bound.c_str() + 1)) continue;
    int flags = fcntl(static_cast<int>(fd), F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC);
  }
  closedir(d);
}

// dqliteNodeSetBindAddress(node, address) -> the address bound ("@name").
Napi::Value SetBindAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteNodeSetBindAddress";
  NodeBox* box = ArgNode(info, 0, op);
  if (!box) return env.Undefined();
  std::string address;
  if (!ArgString(info, 1, op, "address", &address)) return env.Undefined();
  if (address.empty() || address[0] != '@' || address.size() > 107) {
    ThrowArgError(env, op, "address must be an abstract unix socket name \"@name\" of at most 107 bytes");
    return env.Undefined();
  }
  std::lock_guard<std::mutex> lock(box->mu);
  if (!Stopped(env, box, op)) return env.Undefined();
  int rv = dqlite_node_set_bind_address(box->node, address.c_str());
  if (rv != 0) {
    Failure f;
    int err = errno;
    DqliteFailure(f, "dqlite_node_set_bind_address", rv, nullptr);
    if (err == EADDRINUSE) f.Code("EADDRINUSE", err, "cannot bind " + address);
    MakeError(env, op, box->label, f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const char* bound = dqlite_node_get_bind_address(box->node);
  std::string out = bound ? std::string(bound) : address;
  CloexecListener(out);
  return Napi::String::New(env, out);
}

// dqliteNodeSetOptions(node, {networkLatencyMs?, failureDomain?, snapshotThreshold?, snapshotTrailing?}).
Napi::Value SetOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteNodeSetOptions";
  NodeBox* box = ArgNode(info, 0, op);
  if (!box) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsObject()) {
    ThrowArgError(env, op, "options must be an object");
    return env.Undefined();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  std::lock_guard<std::mutex> lock(box->mu);
  if (!Stopped(env, box, op)) return env.Undefined();
  auto num = [&](const char* key, double* out) -> bool {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) return false;
    *out = v.As<Napi::Number>().DoubleValue();
    return true;
  };
  double v, w;
  int rv = 0;
  const char* what = "";
  if (num("networkLatencyMs", &v)) {
    what = "dqlite_node_set_network_latency_ms";
    rv = dqlite_node_set_network_latency_ms(box->node, static_cast<unsigned>(v));
  }
  if (rv == 0 && num("failureDomain", &v)) {
    what = "dqlite_node_set_failure_domain";
    rv = dqlite_node_set_failure_domain(box->node, static_cast<unsigned long long>(v));
  }
  if (rv == 0 && num("snapshotThreshold", &v) && num("snapshotTrailing", &w)) {
    what = "dqlite_node_set_snapshot_params";
    rv = dqlite_node_set_snapshot_params(box->node, static_cast<unsigned>(v), static_cast<unsigned>(w));
  }
  if (rv != 0) {
    Failure f;
    DqliteFailure(f, what, rv, nullptr);
    MakeError(env, op, box->label, f).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// dqliteNodeStart(node) -> Promise<void>.
Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteNodeStart";
  NodeBox* box = ArgNode(info, 0, op);
  if (!box || !TakeBusy(env, box, op, EALREADY, "the node is already running", true)) return env.Undefined();
  Job* job = NodeJob(op, box);
  box->used = true;
  job->work = [box](Failure& f) {
    int rv = dqlite_node_start(box->node);
    if (rv != 0) {
      DqliteFailure(f, "dqlite_node_start", rv, box->node);
      return;
    }
    std::lock_guard<std::mutex> lock(box->mu);
    box->started = true;
  };
  return RunOnThread(env, job);
}

// dqliteNodeStop(node) -> Promise<void>; a node that is not running resolves at once.
Napi::Value Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteNodeStop";
  NodeBox* box = ArgNode(info, 0, op);
  if (!box || !TakeBusy(env, box, op)) return env.Undefined();
  Job* job = NodeJob(op, box);
  job->work = [box](Failure& f) {
    {
      std::lock_guard<std::mutex> lock(box->mu);
      if (!box->started) return;
    }
    int rv = dqlite_node_stop(box->node);
    std::lock_guard<std::mutex> lock(box->mu);
    box->started = false;
    if (rv != 0) DqliteFailure(f, "dqlite_node_stop", rv, box->node);
  };
  return RunOnThread(env, job);
}

// dqliteNodeRecover(node, [{id, address, role}]) -> Promise<void>; the node must be stopped.
Napi::Value Recover(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteNodeRecover";
  NodeBox* box = ArgNode(info, 0, op);
  if (!box) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsArray()) {
    ThrowArgError(env, op, "members must be an array");
    return env.Undefined();
  }
  Napi::Array arr = info[1].As<Napi::Array>();
  struct Member {
    uint64_t id;
    std::string address;
    uint64_t role;
  };
  std::vector<Member> members;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value item = arr.Get(i);
    if (!item.IsObject()) {
      ThrowArgError(env, op, "each member must be {id, address, role}");
      return env.Undefined();
    }
    Napi::Object m = item.As<Napi::Object>();
    Napi::Value id = m.Get("id"), address = m.Get("address"), role = m.Get("role");
    if (!id.IsNumber() || !address.IsString() || !role.IsNumber()) {
      ThrowArgError(env, op, "each member must be {id: number, address: string, role: number}");
      return env.Undefined();
    }
    members.push_back({static_cast<uint64_t>(id.As<Napi::Number>().DoubleValue()),
                       address.As<Napi::String>().Utf8Value(),
                       static_cast<uint64_t>(role.As<Napi::Number>().DoubleValue())});
  }
  if (!TakeBusy(env, box, op, EBUSY, "the node is running: stop it before recovering", true)) return env.Undefined();
  Job* job = NodeJob(op, box);
  job->work = [box, members](Failure& f) {
    std::vector<dqlite_node_info_ext> infos(members.size());
    for (size_t i = 0; i < members.size(); i++) {
      infos[i].size = sizeof(dqlite_node_info_ext);
      infos[i].id = members[i].id;
      infos[i].address = reinterpret_cast<uint64_t>(members[i].address.c_str());
      infos[i].dqlite_role = members[i].role;
    }
    int rv = dqlite_node_recover_ext(box->node, infos.data(), static_cast<int>(infos.size()));
    if (rv != 0) DqliteFailure(f, "dqlite_node_recover_ext", rv, box->node);
  };
  return RunOnThread(env, job);
}

// dqliteNodeDestroy(node): frees a stopped node; throws EBUSY while it runs.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteNodeDestroy";
  if (info.Length() < 1 || !info[0].IsExternal()) {
    ThrowArgError(env, op, "node must be a handle from dqliteNodeCreate");
    return env.Undefined();
  }
  NodeBox* box = info[0].As<Napi::External<NodeBox>>().Data();
  std::lock_guard<std::mutex> lock(box->mu);
  if (box->destroyed) return env.Undefined();
  if (box->started || box->busy) {
    Failure f;
    f.Code("EBUSY", EBUSY, "the node is running: stop it first");
    MakeError(env, op, box->label, f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  box->destroyed = true;
  FreeBox(box);
  return env.Undefined();
}

// dqliteConnectAbstract(name) -> fd: a CLOEXEC, non-blocking stream socket
// connected to the abstract unix socket "@name" (exact length; Node pads
// abstract names to the whole sun_path, dqlite binds them exactly).
Napi::Value ConnectAbstractNapi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "dqliteConnectAbstract";
  std::string name;
  if (!ArgString(info, 0, op, "name", &name)) return env.Undefined();
  if (!name.empty() && name[0] == '@') name.erase(0, 1);
  int err = 0;
  const char* syscall = "connect";
  int fd = ConnectAbstract(name, &err, &syscall);
  if (fd < 0 && err == EINVAL) {
    ThrowArgError(env, op, "name must be 1 to 107 bytes without NUL");
    return env.Undefined();
  }
  if (fd < 0) {
    Failure f;
    f.Sys(strcmp(syscall, "socket") == 0 ? "cannot create a unix socket" : "cannot connect to @" + name, err, syscall);
    MakeError(env, op, "", f).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// dqliteVersion() -> major*10000 + minor*100 + release (11000 for Debian's 1.11.1).
Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), dqlite_version_number());
}

}  // namespace

void InitDqliteNode(Napi::Env env, Napi::Object exports) {
  exports.Set("dqliteNodeCreate", Napi::Function::New(env, Create, "dqliteNodeCreate"));
  exports.Set("dqliteNodeSetBindAddress", Napi::Function::New(env, SetBindAddress, "dqliteNodeSetBindAddress"));
  exports.Set("dqliteNodeSetOptions", Napi::Function::New(env, SetOptions, "dqliteNodeSetOptions"));
  exports.Set("dqliteNodeStart", Napi::Function::New(env, Start, "dqliteNodeStart"));
  exports.Set("dqliteNodeStop", Napi::Function::New(env, Stop, "dqliteNodeStop"));
  exports.Set("dqliteNodeRecover", Napi::Function::New(env, Recover, "dqliteNodeRecover"));
  exports.Set("dqliteNodeDestroy", Napi::Function::New(env, Destroy, "dqliteNodeDestroy"));
  exports.Set("dqliteConnectAbstract", Napi::Function::New(env, ConnectAbstractNapi, "dqliteConnectAbstract"));
  exports.Set("dqliteVersion", Napi::Function::New(env, Version, "dqliteVersion"));
}

}  // namespace incus
