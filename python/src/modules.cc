// Bindings of the shipped module `compressor` (issue 6), part of
// chimaera._core: what its schema cannot generate (codec names and levels,
// batches with a window of tasks in flight, CRCs). The Pythonic API is
// chimaera.CompressorPool. bdev's binding is generated (chimaera_bdev, issue 14).
//
// Data path: the runtime only sees its shared-memory segment, so every input
// (any C-contiguous object with the buffer protocol: bytes, bytearray,
// memoryview, numpy arrays) is copied exactly once, straight from the
// caller's buffer into a shm buffer (no intermediate Python copy), and every
// output is copied once from shm into a new `bytes`. The shm buffers belong
// to the task: they are freed with it (also when a future is dropped while
// its task runs: the graveyard frees task and buffers once it completed).
//
// Every wait releases the GIL (and large copies run without it).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <exception>
#include <string>
#include <vector>

#include "chimaera/ipc/futex.h"
#include "compressor/compressor_client.h"
#include "task_handle.h"

namespace chi::pyb {
// core_module.cc: the query a Python call encodes (chimaera.client._query).
DomainQuery QueryFromCode(i64 code);

namespace {

namespace cz = chimaera::compressor;

constexpr std::size_t kGilFreeCopy = 1 << 16;  // copies larger than this release the GIL

/** A C-contiguous read-only view of a Python buffer (PyBUF_SIMPLE). */
class View {
 public:
  explicit View(const py::handle &obj) {
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_SIMPLE) != 0) throw py::error_already_set();
  }
  ~View() { PyBuffer_Release(&view_); }
  View(const View &) = delete;
  View &operator=(const View &) = delete;
  const char *data() const noexcept { return static_cast<const char *>(view_.buf); }
  u64 size() const noexcept { return static_cast<u64>(view_.len); }

 private:
  Py_buffer view_{};
};

void RequireConnected() {
  if (!Connected()) ThrowUnavailable("not connected to a Chimaera runtime: call chimaera.connect(port) first");
}

[[noreturn]] void ThrowNoMemory(u64 bytes) {
  PyErr_SetString(PyExc_MemoryError,
                  ("the runtime's shared-memory segment has no room for " + std::to_string(bytes) +
                   " bytes (raise shm_size, or use smaller buffers / a smaller window)")
                      .c_str());
  throw py::error_already_set();
}

void Copy(void *dst, const void *src, std::size_t n) {
  if (n == 0) return;
  if (n >= kGilFreeCopy && PyGILState_Check()) {
    py::gil_scoped_release release;
    std::memcpy(dst, src, n);
  } else {
    std::memcpy(dst, src, n);
  }
}

ipc::Allocator &Alloc() { return CHI_IPC_MANAGER->GetAllocator(); }

cz::Codec ParseCodec(const std::string &name) {
  if (name == "zstd") return cz::Codec::kZstd;
  if (name == "zlib") return cz::Codec::kZlib;
  throw py::value_error("unknown codec '" + name + "' (expected 'zstd' or 'zlib')");
}

/** Wait for a codec task (tens of µs to ms): spin for at most `spin_us`,
 * then park on its futex. For a short task (decompressing a small file) the
 * caller passes about twice its expected run time, so it costs no futex
 * sleep and wake-up (~30 µs on a VM, as long as the task itself); for a
 * longer one 0, which leaves the core to the workers at once (on a small
 * machine a spinning client steals the core a worker needs). Same protocol
 * as ClientWait (kPending -> kPendingWaiter; the runtime wakes the futex when
 * it completes a task with a waiter). Returns false after `timeout_us`;
 * fails the task when the runtime died. */
bool ParkWait(Task *task, i64 timeout_us, i64 spin_us = 0) noexcept {
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
  for (int i = 0;; ++i) {
    if (task->completion_.load(std::memory_order_acquire) == kComplete) return true;
    __builtin_ia32_pause();
    if (i >= 64 && (i & 63) == 0 && std::chrono::steady_clock::now() >= spin_until) break;
  }
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    u32 v = task->completion_.load(std::memory_order_acquire);
    if (v == kComplete) return true;
    if (v == kPending && !task->completion_.compare_exchange_strong(v, kPendingWaiter, std::memory_order_acq_rel))
      continue;
    i64 left = timeout_us -
               std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) {
      auto *ipc = CHI_IPC_MANAGER;
      if (ipc->IsInitialized() && !ipc->IsRuntimeAlive() &&
          task->completion_.load(std::memory_order_acquire) != kComplete) {
        task->SetError(kTaskRuntimeDead, "the Chimaera runtime died before the task completed");
        task->completion_.store(kComplete, std::memory_order_release);
        return true;
      }
      return false;
    }
    ipc::FutexWait(task->completion_, kPendingWaiter, left);
  }
}

// ---------------------------------------------------------------- compressor

template <typename T>
void DeleteCodecTask(ipc::FullPtr<Task> t) {
  auto *task = reinterpret_cast<T *>(t.ptr_);
  Alloc().Free(task->data_);
  Alloc().Free(task->out_);
  CHI_IPC_MANAGER->DelTask(ipc::FullPtr<T>(t));
}

py::bytes BytesOf(const char *p, u64 n) {
  PyObject *b = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n));
  if (b == nullptr) throw py::error_already_set();
  py::bytes out = py::reinterpret_steal<py::bytes>(b);
  Copy(PyBytes_AS_STRING(b), p, n);
  return out;
}

py::object CodecResult(Task *t) {
  auto *task = static_cast<cz::CodecTask *>(t);
  return py::make_tuple(BytesOf(Alloc().Convert<char>(task->out_), task->out_size_), py::int_(task->checksum_));
}

/** Allocate the input and output buffers and copy `in` in; null on OOM. */
template <typename T>
ipc::FullPtr<T> SubmitCodec(u64 pool, u32 method, cz::Codec codec, int level, const char *in, u64 size,
                            u64 capacity, const DomainQuery &dom = DomainQuery::GetDynamic()) {
  auto &alloc = Alloc();
  ipc::Pointer data = alloc.Allocate(size), out = alloc.Allocate(capacity);
  if (data.IsNull() || out.IsNull()) {
    alloc.Free(data), alloc.Free(out);
    return ipc::FullPtr<T>();
  }
  Copy(alloc.Convert<char>(data), in, size);
  auto *ipc = CHI_IPC_MANAGER;
  ipc::FullPtr<T> task;
  try {
    // Dynamic by default: the compressor places it on its least-loaded
    // worker / node.
    task = ipc->NewTask<T>(ipc::MemContext(), ipc->NewTaskNode(), PoolId(pool), dom, method, codec, level, data,
                           size, out, capacity);
  } catch (...) {
    alloc.Free(data), alloc.Free(out);
    throw;
  }
  ipc->Enqueue(task);
  return task;
}

template <typename T>
ipc::FullPtr<T> SubmitCodecChecked(u64 pool, bool compress, const std::string &codec_name, int level,
                                   const py::handle &data, u64 original_size, i64 query) {
  RequireConnected();
  ReapGraveyard();
  cz::Codec codec = ParseCodec(codec_name);
  View v(data);
  u64 cap = compress ? cz::CompressBound(codec, v.size()) : original_size;
  auto t = SubmitCodec<T>(pool, compress ? chimaera::compressor::Method::kCompress
                                         : chimaera::compressor::Method::kDecompress,
                          codec, level, v.data(), v.size(), cap, QueryFromCode(query));
  if (t.IsNull()) ThrowNoMemory(v.size() + cap);
  return t;
}

/** Wait for a task we own; on success return fn(task); always frees it. */
template <typename T>
py::object Finish(ipc::FullPtr<T> task, TaskDeleter del, ResultFn fn) {
  ipc::FullPtr<Task> base(task);
  try {
    WaitReleasingGil(base.ptr_, -1, Epoch());
  } catch (...) {
    Bury(base, del);  // Ctrl-C / disconnect: freed once it completes
    throw;
  }
  if (task->HasError()) {
    int code = task->return_code_;
    std::string msg = std::string(TaskErrorName(code)) + ": " + task->error_.str();
    del(base);
    ThrowTaskError(code, msg);
  }
  py::object r;
  try {
    r = fn != nullptr ? fn(base.ptr_) : py::none();
  } catch (...) {
    del(base);
    throw;
  }
  del(base);
  return r;
}

py::object Compress(u64 pool, const py::handle &data, const std::string &codec, int level, i64 query) {
  auto t = SubmitCodecChecked<cz::CompressTask>(pool, true, codec, level, data, 0, query);
  return Finish(t, &DeleteCodecTask<cz::CompressTask>, &CodecResult);
}

py::object Decompress(u64 pool, const py::handle &data, u64 original_size, const std::string &codec,
                      i64 query) {
  auto t = SubmitCodecChecked<cz::DecompressTask>(pool, false, codec, 0, data, original_size, query);
  return Finish(t, &DeleteCodecTask<cz::DecompressTask>, &CodecResult);
}

TaskHandle *CompressAsync(u64 pool, const py::handle &data, const std::string &codec, int level, i64 query) {
  auto t = SubmitCodecChecked<cz::CompressTask>(pool, true, codec, level, data, 0, query);
  return new TaskHandle(ipc::FullPtr<Task>(t), &DeleteCodecTask<cz::CompressTask>, &CodecResult);
}

TaskHandle *DecompressAsync(u64 pool, const py::handle &data, u64 original_size, const std::string &codec,
                            i64 query) {
  auto t = SubmitCodecChecked<cz::DecompressTask>(pool, false, codec, 0, data, original_size, query);
  return new TaskHandle(ipc::FullPtr<Task>(t), &DeleteCodecTask<cz::DecompressTask>, &CodecResult);
}

/** compress_many / decompress_many: one crossing into C++, at most `window`
 * tasks in flight, GIL released except to create each result `bytes`.
 * Returns [(bytes, checksum)] in input order; raises TaskError (the first
 * failure, by input order) once every task completed. */
py::list CodecMany(u64 pool, bool compress, const py::sequence &buffers, const std::vector<u64> &sizes,
                   const std::string &codec_name, int level, u32 window) {
  RequireConnected();
  ReapGraveyard();
  const cz::Codec codec = ParseCodec(codec_name);
  const std::size_t n = py::len(buffers);
  if (!compress && sizes.size() != n) throw py::value_error("original_sizes must have one size per buffer");
  if (window == 0) window = 1;
  std::vector<std::unique_ptr<View>> views;
  views.reserve(n);
  for (std::size_t i = 0; i < n; ++i) views.push_back(std::make_unique<View>(buffers[i]));
  std::vector<PyObject *> outs(n, nullptr);
  std::vector<u32> sums(n, 0);
  int first_code = 0;
  std::size_t first_index = n;
  std::string first_msg;
  bool interrupted = false, abandoned = false, no_memory = false;
  u64 no_memory_bytes = 0;
  std::exception_ptr failure;
  const u64 epoch = Epoch();
  using T = cz::CodecTask;  // Compress and Decompress tasks share the layout
  const u32 method = compress ? chimaera::compressor::Method::kCompress : chimaera::compressor::Method::kDecompress;
  TaskDeleter del = compress ? &DeleteCodecTask<cz::CompressTask> : &DeleteCodecTask<cz::DecompressTask>;
  {
    py::gil_scoped_release release;
    ShmAccess access(epoch);
    struct Slot {
      ipc::FullPtr<T> task;
      std::size_t index;
    };
    // In flight, oldest submission first. Tasks are retired as they complete,
    // not in input order: one long task at the front does not stall the
    // window while the workers sit idle (results still land at their index).
    std::deque<Slot> in_flight;
    std::size_t next = 0;
    InterruptPoller poller;
    // Expected run time as the compressor estimates it: ~200 MB/s of input
    // compressed, ~1 GB/s of output decompressed.
    auto expected_us = [&](const T *t) -> u64 { return compress ? t->data_size_ / 200 : t->out_capacity_ / 1000; };
    auto take_result = [&](const Slot &s) {
      T *t = s.task.ptr_;
      if (t->HasError()) {
        if (s.index < first_index) {
          first_index = s.index;
          first_code = t->return_code_;
          first_msg = std::string(TaskErrorName(first_code)) + ": " + t->error_.str();
        }
      } else if (!failure) {
        PyObject *b;
        {
          py::gil_scoped_acquire acquire;
          b = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(t->out_size_));
          if (b == nullptr) PyErr_Clear();
        }
        if (b == nullptr) {
          failure = std::make_exception_ptr(std::bad_alloc());
        } else {
          if (t->out_size_) std::memcpy(PyBytes_AS_STRING(b), Alloc().Convert<char>(t->out_), t->out_size_);
          outs[s.index] = b;
          sums[s.index] = t->checksum_;
        }
      }
      del(ipc::FullPtr<Task>(s.task));
    };
    // Retire every completed task; when none has, park on the oldest (spin
    // first only for short ones: a longer spin takes a core the workers use).
    auto retire = [&]() {
      if (abandoned) {
        in_flight.clear();
        return;
      }
      bool any = false;
      for (auto it = in_flight.begin(); it != in_flight.end();) {
        if (!it->task->IsComplete()) {
          ++it;
          continue;
        }
        take_result(*it);
        it = in_flight.erase(it);
        any = true;
      }
      if (any) return;
      Slot &oldest = in_flight.front();
      const u64 est_us = expected_us(oldest.task.ptr_);
      while (!ParkWait(oldest.task.ptr_, 50000, est_us <= 30 ? static_cast<i64>(2 * est_us) : 0)) {
        if (!access.Valid()) {
          abandoned = true;
          in_flight.clear();
          return;
        }
      }
      take_result(oldest);
      in_flight.pop_front();
    };
    try {
      while (!abandoned && (!in_flight.empty() || (next < n && !interrupted && !failure && !no_memory))) {
        if (!access.Valid()) {
          abandoned = true;
          break;
        }
        while (next < n && in_flight.size() < window && !interrupted && !failure) {
          const View &v = *views[next];
          u64 cap = compress ? cz::CompressBound(codec, v.size()) : sizes[next];
          // The task type of the method (the dispatch checks it): Compress
          // and Decompress tasks share a layout, not a type.
          ipc::FullPtr<T> t =
              compress ? ipc::FullPtr<T>(SubmitCodec<cz::CompressTask>(pool, method, codec, level, v.data(), v.size(), cap))
                       : ipc::FullPtr<T>(SubmitCodec<cz::DecompressTask>(pool, method, codec, level, v.data(), v.size(), cap));
          if (t.IsNull()) {
            if (in_flight.empty()) {
              no_memory = true;
              no_memory_bytes = v.size() + cap;
            }
            break;  // retry once an in-flight task freed its buffers
          }
          in_flight.push_back(Slot{t, next});
          ++next;
        }
        if (in_flight.empty()) break;
        retire();
        if (poller.Interrupted()) interrupted = true;  // error stays set
      }
    } catch (...) {
      if (!failure) failure = std::current_exception();
      while (!in_flight.empty()) retire();
    }
  }
  py::list result;
  auto drop = [&]() {
    for (PyObject *b : outs) Py_XDECREF(b);
  };
  if (abandoned) {
    drop();
    ThrowUnavailable("disconnected from the runtime during a batch");
  }
  if (failure) {
    drop();
    std::rethrow_exception(failure);
  }
  if (interrupted) {
    drop();
    throw py::error_already_set();
  }
  if (no_memory) {
    drop();
    ThrowNoMemory(no_memory_bytes);
  }
  if (first_code != 0) {
    drop();
    ThrowTaskError(first_code, "item " + std::to_string(first_index) + ": " + first_msg);
  }
  for (std::size_t i = 0; i < n; ++i)
    result.append(py::make_tuple(py::reinterpret_steal<py::bytes>(outs[i]), py::int_(sums[i])));
  return result;
}

}  // namespace

void BindModules(py::module_ &m) {
  // compressor
  m.def("compress", &Compress, py::arg("pool_id"), py::arg("data"), py::arg("codec") = "zstd",
        py::arg("level") = 3, py::arg("query") = -1, "compressor: compress a bytes-like object; returns (bytes, crc32 of the input).");
  m.def("decompress", &Decompress, py::arg("pool_id"), py::arg("data"), py::arg("original_size"),
        py::arg("codec") = "zstd", py::arg("query") = -1, "compressor: decompress; returns (bytes, crc32 of the output).");
  m.def("compress_async", &CompressAsync, py::arg("pool_id"), py::arg("data"), py::arg("codec") = "zstd",
        py::arg("level") = 3, py::arg("query") = -1, py::return_value_policy::take_ownership,
        "compressor: submit a compression (data copied into shm before returning); TaskHandle -> (bytes, crc32).");
  m.def("decompress_async", &DecompressAsync, py::arg("pool_id"), py::arg("data"), py::arg("original_size"),
        py::arg("codec") = "zstd", py::arg("query") = -1, py::return_value_policy::take_ownership,
        "compressor: submit a decompression; TaskHandle -> (bytes, crc32 of the output).");
  m.def(
      "compress_many",
      [](u64 pool, const py::sequence &bufs, const std::string &codec, int level, u32 window) {
        return CodecMany(pool, true, bufs, {}, codec, level, window);
      },
      py::arg("pool_id"), py::arg("buffers"), py::arg("codec") = "zstd", py::arg("level") = 3,
      py::arg("window") = 16,
      "compressor: compress every buffer in one call (at most `window` tasks in flight, GIL released); "
      "[(bytes, crc32)] in order. Raises TaskError (first failing item) after all completed, MemoryError.");
  m.def(
      "decompress_many",
      [](u64 pool, const py::sequence &bufs, const std::vector<u64> &sizes, const std::string &codec, u32 window) {
        return CodecMany(pool, false, bufs, sizes, codec, 0, window);
      },
      py::arg("pool_id"), py::arg("buffers"), py::arg("original_sizes"), py::arg("codec") = "zstd",
      py::arg("window") = 16,
      "compressor: decompress every buffer (original_sizes[i] bounds output i) in one call; like compress_many.");
  m.def(
      "compress_bound",
      [](const std::string &codec, u64 n) { return cz::CompressBound(ParseCodec(codec), n); }, py::arg("codec"),
      py::arg("n"), "Upper bound of the compressed size of n bytes (bytes).");
}

}  // namespace chi::pyb
