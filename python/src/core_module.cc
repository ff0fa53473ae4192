// chimaera._core: pybind11 bindings of the Chimaera client (DESIGN.md §10).
// A thin layer: the Pythonic API (Runtime, Pool, Future, CLI) lives in the
// `chimaera` package, which is the only intended user of this module.
//
// Conventions: times are seconds (float; None or negative = no limit); pool
// ids are ints; every blocking call releases the GIL while it waits and
// wakes every 50 ms to let Python handle signals (Ctrl-C). Errors:
// chimaera.RuntimeUnavailableError (no runtime / runtime died / not
// connected), chimaera.TaskError(code, message) (the task failed),
// TimeoutError (TaskHandle.result with a timeout), MemoryError-like
// RuntimeError from the shm allocator when the segment is full.
//
// Thread-safety: every function may be called from any Python thread once
// connected; connect/disconnect must not race with other calls.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <exception>
#include <vector>

#include "admin/admin_client.h"
#include "chimaera/python/task_api.h"
#include "remote_queue/remote_queue_client.h"
#include "chimaera/ipc/segment.h"
#include "small_message/small_message_client.h"
#include "task_handle.h"

namespace chi::pyb {
void BindModules(pybind11::module_ &m);  // modules.cc: compressor (bdev: the generated chimaera_bdev)
/** A query as chimaera.client._query encodes it: -1 Dynamic, else kind
 * (bits 56..63), range count (32..55), selector (0..31). Raises ValueError
 * for an unknown kind. */
DomainQuery QueryFromCode(i64 code) {
  if (code < 0) return DomainQuery::GetDynamic();
  const u32 kind = static_cast<u32>(static_cast<u64>(code) >> 56), sel = static_cast<u32>(code),
            count = static_cast<u32>(static_cast<u64>(code) >> 32) & DomainQuery::kMaxRangeCount;
  switch (kind) {
    case DomainQuery::kGlobalNode: return DomainQuery::GetGlobalNode(sel);
    case DomainQuery::kDirectId: return DomainQuery::GetDirectId(sel);
    case DomainQuery::kDirectHash: return DomainQuery::GetDirectHash(sel);
    case DomainQuery::kRange: return DomainQuery::GetRange(sel, count);
    case DomainQuery::kBroadcast: return DomainQuery::GetBroadcast();
    case DomainQuery::kLocalHash: return DomainQuery::GetLocalHash(sel);
    default: throw std::invalid_argument("unknown DomainQuery kind " + std::to_string(kind));
  }
}

namespace {

using SmClient = chimaera::small_message::Client;
using chimaera::small_message::MdTask;

DomainQuery Dyn() { return DomainQuery::GetDynamic(); }
void RequireConnected() {
  if (!Connected()) ThrowUnavailable("not connected to a Chimaera runtime: call chimaera.connect(port) first");
}

double Timeout(const py::object &t) { return t.is_none() ? -1.0 : t.cast<double>(); }

/** Own a task until it is waited on; bury it if the wait is interrupted. */
template <typename T>
void WaitOwned(ipc::FullPtr<T> task) {
  ipc::FullPtr<Task> base(task);
  const u64 epoch = Epoch();
  try {
    WaitReleasingGil(base.ptr_, -1, epoch);
  } catch (...) {
    Bury(base, &DeleteTaskAs<T>);
    throw;
  }
  if (task->HasError()) {
    int code = task->return_code_;
    std::string msg = std::string(TaskErrorName(code)) + ": " + task->error_.str();
    CHI_IPC_MANAGER->DelTask(task);
    ThrowTaskError(code, msg);
  }
}

void Connect(u16 port, const std::string &host_arg) {
  // A reconnect that drops the old mapping (another port or node, or a
  // restarted runtime) retires every handle of the old epoch first.
  if (port == 0) port = DefaultPort();
  const std::string host = host_arg.empty() ? DefaultHost() : host_arg;
  if (Connected() && (CHI_IPC_MANAGER->Port() != port || CHI_IPC_MANAGER->Host() != host ||
                      !CHI_IPC_MANAGER->IsRuntimeAlive())) {
    ClearGraveyard();
    RetireEpoch();
  }
  CHI_IPC_MANAGER->ClientInit(port, host);
}

void Disconnect() {
  if (!Connected()) return;
  ClearGraveyard();
  RetireEpoch();
  CHI_IPC_MANAGER->Finalize();
}

TaskHandle *CreatePoolAsync(const std::string &name, const std::string &module, const std::string &args,
                            const std::vector<u32> &nodes, u64 pool_id) {
  RequireConnected();
  ReapGraveyard();
  auto t = chimaera::admin::Client().AsyncCreatePool(ipc::MemContext(), Dyn(), name, module, args, PoolId(pool_id),
                                                     nodes);
  return new TaskHandle(ipc::FullPtr<Task>(t), &DeleteTaskAs<chimaera::admin::CreatePoolTask>,
                        ResultKind::kPoolId);
}

u64 CreatePool(const std::string &name, const std::string &module, const std::string &args,
               const std::vector<u32> &nodes, u64 pool_id) {
  RequireConnected();
  ReapGraveyard();
  auto t = chimaera::admin::Client().AsyncCreatePool(ipc::MemContext(), Dyn(), name, module, args, PoolId(pool_id),
                                                     nodes);
  WaitOwned(t);
  u64 id = t->pool_id_.id_;
  CHI_IPC_MANAGER->DelTask(t);
  return id;
}

void DestroyPool(u64 pool) {
  RequireConnected();
  auto *ipc = CHI_IPC_MANAGER;
  auto t = ipc->NewTask<chimaera::admin::DestroyPoolTask>(ipc::MemContext(), ipc->NewTaskNode(), Dyn(), PoolId(pool));
  ipc->Enqueue(t);
  WaitOwned(t);
  ipc->DelTask(t);
}

u32 StopRuntime(bool all_nodes) {
  RequireConnected();
  auto *ipc = CHI_IPC_MANAGER;
  auto t = ipc->NewTask<chimaera::admin::StopRuntimeTask>(
      ipc::MemContext(), ipc->NewTaskNode(), Dyn(),
      all_nodes ? chimaera::admin::StopScope::kAllNodes : chimaera::admin::StopScope::kThisNode);
  ipc->Enqueue(t);
  WaitOwned(t);
  const u32 n = t->stopped_;
  ipc->DelTask(t);
  return n;
}

/** The node table as the attached node sees it ([] on a single-node runtime). */
py::list Nodes() {
  RequireConnected();
  std::vector<chimaera::remote_queue::PeerInfo> peers;
  bool cluster = true;
  {
    py::gil_scoped_release nogil;
    try {
      peers = chimaera::remote_queue::Client().Peers();
    } catch (const TaskError &e) {
      if (e.Code() != kTaskUnknownPool) throw;
      cluster = false;  // no remote queue: one node
    }
  }
  py::list out;
  if (!cluster) return out;
  for (const auto &p : peers) {
    py::dict d;
    d["id"] = p.node;
    d["address"] = p.address;
    d["state"] = p.state;
    d["alive"] = p.state == "alive" || p.state == "self";
    d["incarnation"] = p.incarnation;
    d["load"] = p.load;
    d["ms_since_heard"] = p.ms_since_heard;
    d["in_flight"] = p.in_flight;
    d["reason"] = p.reason;
    out.append(d);
  }
  return out;
}

ipc::FullPtr<MdTask> SubmitMd(u64 pool, const DomainQuery &dom) {
  SmClient c;
  c.pool_id_ = PoolId(pool);
  return c.AsyncMd(ipc::MemContext(), dom);
}

void Md(u64 pool, i64 node) {
  RequireConnected();
  auto t = SubmitMd(pool, QueryFromCode(node));
  WaitOwned(t);  // frees the task itself only on error
  CHI_IPC_MANAGER->DelTask(t);
}

TaskHandle *MdAsync(u64 pool, i64 node) {
  RequireConnected();
  ReapGraveyard();
  return new TaskHandle(ipc::FullPtr<Task>(SubmitMd(pool, QueryFromCode(node))), &DeleteTaskAs<MdTask>, ResultKind::kNone);
}

std::vector<TaskHandle *> MdSubmit(u64 pool, u64 n, i64 node) {
  RequireConnected();
  ReapGraveyard();
  const DomainQuery dom = QueryFromCode(node);
  std::vector<TaskHandle *> out;
  out.reserve(n);
  try {
    for (u64 i = 0; i < n; ++i)
      out.push_back(new TaskHandle(ipc::FullPtr<Task>(SubmitMd(pool, dom)), &DeleteTaskAs<MdTask>, ResultKind::kNone));
  } catch (...) {
    for (TaskHandle *h : out) delete h;  // buries the tasks still running
    throw;
  }
  return out;
}

/** Submit `n` empty tasks keeping at most `window` in flight, wait for all;
 * one crossing into C++, GIL released throughout. Returns the number that
 * succeeded; raises TaskError (the first failure) once all completed. */
u64 MdBatch(u64 pool, u64 n, u32 window, i64 node) {
  RequireConnected();
  const DomainQuery dom = QueryFromCode(node);
  if (window == 0) window = 1;
  if (n < window) window = static_cast<u32>(n ? n : 1);
  std::vector<ipc::FullPtr<MdTask>> ring(window);
  u64 submitted = 0, completed = 0, ok = 0;
  int first_code = 0;
  std::string first_msg;
  bool interrupted = false, abandoned = false;
  std::exception_ptr failure;
  const u64 epoch = Epoch();
  {
    py::gil_scoped_release release;
    ShmAccess access(epoch);
    auto *ipc = CHI_IPC_MANAGER;
    std::size_t head = 0, count = 0;
    InterruptPoller poller;
    // A disconnect from another thread abandons the in-flight tasks (their
    // memory is about to be unmapped) instead of touching them again.
    auto retire = [&](ipc::FullPtr<MdTask> &t) {
      if (abandoned) return;
      while (!ClientWait(t.ptr_, 50000)) {
        if (!access.Valid()) {
          abandoned = true;
          return;
        }
      }
      if (t->HasError()) {
        if (first_code == 0) {
          first_code = t->return_code_;
          first_msg = std::string(TaskErrorName(first_code)) + ": " + t->error_.str();
        }
      } else {
        ++ok;
      }
      ipc->DelTask(t);
    };
    try {
      while (!abandoned && (completed < submitted || (submitted < n && !interrupted))) {
        if (!access.Valid()) {
          abandoned = true;
          break;
        }
        while (submitted < n && count < window && !interrupted) {
          ring[(head + count) % window] = SubmitMd(pool, dom);
          ++count;
          ++submitted;
        }
        retire(ring[head]);
        head = (head + 1) % window;
        --count;
        ++completed;
        if ((completed & 255) == 0 && poller.Interrupted()) interrupted = true;  // error stays set
      }
    } catch (...) {
      failure = std::current_exception();
      while (count > 0) {
        retire(ring[head]);
        head = (head + 1) % window;
        --count;
      }
    }
  }
  if (abandoned) ThrowUnavailable("disconnected from the runtime during md_batch");
  if (failure) std::rethrow_exception(failure);
  if (interrupted) throw py::error_already_set();
  if (first_code != 0) ThrowTaskError(first_code, first_msg);
  return ok;
}

/** Wait until every handle is done or `timeout` elapsed; true when all done. */
bool WaitAll(const std::vector<TaskHandle *> &hs, const py::object &timeout) {
  double limit = Timeout(timeout);
  auto start = std::chrono::steady_clock::now();
  for (TaskHandle *h : hs) {
    if (h->Done()) {
      h->Harvest();
      continue;
    }
    double left = -1;
    if (limit >= 0) {
      left = limit - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (left < 0) left = 0;
    }
    if (!h->Wait(left)) return false;
  }
  return true;
}

/** Index of a done handle (the first found), or -1 after `timeout`. */
long WaitAny(const std::vector<TaskHandle *> &hs, const py::object &timeout) {
  if (hs.empty()) return -1;
  double limit = Timeout(timeout);
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<Task *> raw;
    raw.reserve(hs.size());
    for (std::size_t i = 0; i < hs.size(); ++i) {
      if (hs[i]->Done()) {
        hs[i]->Harvest();
        return static_cast<long>(i);
      }
      raw.push_back(hs[i]->Raw());
    }
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (limit >= 0 && elapsed >= limit) return -1;
    for (TaskHandle *h : hs) ++h->waiters_;
    const u64 epoch = Epoch();
    {
      py::gil_scoped_release release;
      ShmAccess access(epoch);
      // Poll every task for ~100 us, then park briefly on the first one.
      auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
      bool any = !access.Valid();  // disconnecting: leave at once
      while (!any && std::chrono::steady_clock::now() < until)
        for (Task *t : raw)
          if (t->IsComplete()) any = true;
      if (!any && access.Valid()) ClientWait(raw.front(), 1000);
    }
    for (TaskHandle *h : hs) --h->waiters_;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

/** "absent", "alive" or "dead": the state of the runtime segment of `port`. */
std::string SegmentState(u16 port, const std::string &host) {
  switch (ipc::Segment::QueryOwner(ipc::Segment::MakeName(RuntimeInstance(port, host)))) {
    case ipc::OwnerState::kAbsent: return "absent";
    case ipc::OwnerState::kAlive: return "alive";
    default: return "dead";
  }
}

/** Unlink the segment of `port` if the runtime that made it is dead. */
bool ReclaimSegment(u16 port, const std::string &host) {
  std::string name = ipc::Segment::MakeName(RuntimeInstance(port, host));
  if (ipc::Segment::QueryOwner(name) != ipc::OwnerState::kDead) return false;
  return ipc::Segment::Unlink(name);
}

py::dict Status() {
  RequireConnected();
  auto *ipc = CHI_IPC_MANAGER;
  RuntimeShared &s = ipc->Shared();
  py::dict d;
  d["port"] = ipc->Port();
  d["host"] = ipc->Host();
  d["segment"] = ipc->SegmentName();
  d["pid"] = s.runtime_pid_;
  d["num_workers"] = s.num_workers_;
  d["node_id"] = s.node_id_;
  d["abi_version"] = s.abi_version_;
  u32 st = s.state_.load(std::memory_order_acquire);
  d["state"] = st == kRuntimeRunning ? "running" : st == kRuntimeStopping ? "stopping" : "starting";
  py::list done;
  for (u32 i = 0; i < s.num_workers_; ++i)
    done.append(ipc->Workers()[i].tasks_completed_.load(std::memory_order_relaxed));
  d["tasks_completed"] = done;
  // Tasks waiting in each lane of the process queue (a snapshot).
  py::list depths;
  TaskQueue &pq = ipc->ProcessQueue();
  for (u32 l = 0; l < pq.GetNumLanes(); ++l) depths.append(pq.GetLane(l).Size());
  d["queue_depths"] = depths;
  // The runtime's pools (an admin ListPools task; GIL released while waiting).
  std::vector<chimaera::admin::Client::PoolDesc> pools;
  {
    py::gil_scoped_release nogil;
    pools = chimaera::admin::Client().ListPools(ipc::MemContext(), DomainQuery::GetDynamic());
  }
  py::list pl;
  for (const auto &p : pools) {
    py::dict e;
    e["id"] = p.id.id_;
    e["name"] = p.name;
    e["module"] = p.module;
    e["nodes"] = p.nodes;
    pl.append(e);
  }
  d["pools"] = pl;
  std::vector<chimaera::admin::Client::ModuleDesc> mods;
  {
    py::gil_scoped_release nogil;
    mods = chimaera::admin::Client().ListModules(ipc::MemContext(), DomainQuery::GetLocalHash(0));
  }
  py::list ml;
  for (const auto &m : mods) {
    py::dict e;
    e["name"] = m.name;
    e["path"] = m.path;
    ml.append(e);
  }
  d["modules"] = ml;
  return d;
}

/** task_api.h make_handle: a TaskHandle owning `task`, as a Python object. */
PyObject *MakeHandleForExtension(ipc::FullPtr<Task> task, TaskDeleter del, RawResultFn result) noexcept {
  std::unique_ptr<TaskHandle> handle;
  try {
    handle = std::make_unique<TaskHandle>(task, del, result);
  } catch (...) {
    Bury(task, del);  // freed once it completed
    PyErr_NoMemory();
    return nullptr;
  }
  try {
    py::object obj = py::cast(handle.get(), py::return_value_policy::take_ownership);
    handle.release();
    return obj.release().ptr();
  } catch (py::error_already_set &e) {
    e.restore();
  } catch (const std::exception &e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;  // ~TaskHandle frees or buries the task
}

/** task_api.h require_connected. */
int RequireConnectedForExtension() noexcept {
  if (Connected()) return 0;
  try {
    ThrowUnavailable("not connected to a Chimaera runtime: call chimaera.connect(port) first");
  } catch (py::error_already_set &e) {
    e.restore();
  }
  return -1;
}

}  // namespace
}  // namespace chi::pyb

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  using namespace chi::pyb;
  m.doc() = "Low-level bindings of the Chimaera client; use the `chimaera` package instead.";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const chi::TaskError &e) {
      try {
        ThrowTaskError(e.Code(), e.what());
      } catch (py::error_already_set &err) {
        err.restore();
      }
    } catch (const chi::RuntimeUnavailable &e) {
      try {
        ThrowUnavailable(e.what());
      } catch (py::error_already_set &err) {
        err.restore();
      }
    }
  });

  // The C API of module extensions (chimaera/python/task_api.h).
  static const chi::pyapi::TaskApi kTaskApi = {chi::pyapi::kTaskApiVersion, chi::kChimaeraAbiVersion,
                                               &MakeHandleForExtension, &RequireConnectedForExtension};
  m.attr("_task_api") = py::capsule(&kTaskApi, chi::pyapi::kTaskApiCapsule);

  py::class_<TaskHandle>(m, "TaskHandle", "One in-flight task (see chimaera.Future for the public API).")
      .def("done", &TaskHandle::Done, "True once the task completed (never blocks).")
      .def(
          "wait", [](TaskHandle &h, const py::object &t) { return h.Wait(Timeout(t)); },
          py::arg("timeout") = py::none(), "Wait up to `timeout` seconds (None: forever); True when done.")
      .def(
          "result", [](TaskHandle &h, const py::object &t) { return h.Result(Timeout(t)); },
          py::arg("timeout") = py::none(),
          "Wait and return the result (None, or the pool id); raises TaskError or TimeoutError.")
      .def_property_readonly("code", &TaskHandle::Code, "Return code once done (0 = ok), -1 while pending.")
      .def_property_readonly("message", &TaskHandle::Message, "Error message once done ('' on success).");

  m.def("connect", &Connect, py::arg("port") = 0, py::arg("host") = "",
        "Attach to the runtime on `port` (0: $CHI_PORT or 9413) and, for one of several nodes of a cluster on "
        "this machine, `host` (its node-table entry; '': $CHI_HOST, else the one node on that port). Raises "
        "RuntimeUnavailableError (also when several nodes share the port and no host is given).");
  m.def("disconnect", &Disconnect, "Detach from the runtime; pending task handles become unusable.");
  m.def("is_connected", &Connected);
  m.def("connected_port", []() { return CHI_IPC_MANAGER->IsInitialized() ? CHI_IPC_MANAGER->Port() : 0; });
  m.def("runtime_alive", []() { return Connected() && CHI_IPC_MANAGER->IsRuntimeAlive(); },
        "Whether the runtime this process is attached to still lives (~10 us).");
  m.def("default_port", &chi::DefaultPort, "$CHI_PORT when valid, else 9413.");
  m.def("status", &Status,
        "Runtime facts: port, pid, num_workers, state, tasks_completed per worker, queue_depths per process-queue "
        "lane, pools (id, name, module). Raises TaskError if the admin pool cannot answer.");
  m.def("create_pool", &CreatePool, py::arg("name"), py::arg("module"), py::arg("args") = "",
        py::arg("nodes") = std::vector<chi::u32>{}, py::arg("pool_id") = 0,
        "Create a pool of `module` on every node of the cluster, or with container k on nodes[k], with id "
        "`pool_id` (0: any); returns its id. All or none: raises TaskError naming the node (unknown module, pool "
        "exists, id in use, bad node list, node unreachable) and no node keeps the pool.");
  m.def("create_pool_async", &CreatePoolAsync, py::arg("name"), py::arg("module"), py::arg("args") = "",
        py::arg("nodes") = std::vector<chi::u32>{}, py::arg("pool_id") = 0, py::return_value_policy::take_ownership);
  m.def("destroy_pool", &DestroyPool, py::arg("pool_id"), "Destroy a pool. Raises TaskError (unknown pool).");
  m.def("stop_runtime", &StopRuntime, py::arg("all_nodes") = false,
        "Ask the runtime to stop (all_nodes: every node of its cluster); returns once it accepted, with the "
        "number of nodes that did.");
  m.def("nodes", &Nodes,
        "The node table as the attached node sees it: dicts with id, address, state (self, connecting, alive, "
        "dead, refused), alive, incarnation, load, ms_since_heard, in_flight, reason; [] on a single-node runtime.");
  m.def("connected_host", []() { return CHI_IPC_MANAGER->IsInitialized() ? CHI_IPC_MANAGER->Host() : std::string(); });
  m.def("md", &Md, py::arg("pool_id"), py::arg("node") = -1,
        "small_message: one empty task, synchronously. `node`: the query (chimaera.client._query's code; -1: "
        "where the pool decides).");
  m.def("md_async", &MdAsync, py::arg("pool_id"), py::arg("node") = -1, py::return_value_policy::take_ownership,
        "small_message: submit one empty task; returns a TaskHandle.");
  m.def("md_submit", &MdSubmit, py::arg("pool_id"), py::arg("n"), py::arg("node") = -1,
        py::return_value_policy::take_ownership,
        "small_message: submit `n` empty tasks at once; returns their TaskHandles.");
  m.def("md_batch", &MdBatch, py::arg("pool_id"), py::arg("n"), py::arg("window") = 256, py::arg("node") = -1,
        "small_message: run `n` empty tasks with at most `window` in flight, in one call; returns the count "
        "that succeeded, raises TaskError (first failure) after all completed.");
  m.def("wait_all", &WaitAll, py::arg("handles"), py::arg("timeout") = py::none(),
        "Wait for every handle; False on timeout (seconds).");
  m.def("wait_any", &WaitAny, py::arg("handles"), py::arg("timeout") = py::none(),
        "Index of a completed handle, or -1 on timeout (seconds).");
  m.def("segment_state", &SegmentState, py::arg("port"), py::arg("host") = "",
        "State of the runtime segment of `port` (and node `host`, for a node of a cluster) for this user: "
        "'absent', 'alive' or 'dead'.");
  m.def("reclaim_segment", &ReclaimSegment, py::arg("port"), py::arg("host") = "",
        "Unlink the segment of `port` (and `host`) if its runtime died (SIGKILL, crash); True if removed.");
  BindModules(m);
  m.def("error_name", &chi::TaskErrorName, py::arg("code"), "Name of a task return code.");
}
