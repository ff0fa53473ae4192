#pragma once
/**
 * @file compressor_tasks.h
 * Tasks of the compressor module (seed 002 "CompressTask", kCompress: 10,
 * kDecompress: 11). Both read a caller buffer (CHI_WRITE bulk: `data_`,
 * `data_size_` bytes) and write into a caller buffer (CHI_EXPOSE bulk:
 * `out_`, `out_capacity_` bytes), returning the bytes written (`out_size_`)
 * and the CRC-32 of the *uncompressed* bytes (`checksum_`), so a round trip
 * can be verified end to end.
 */
#include "admin/admin_tasks.h"
#include "chimaera/core/task_archives.h"
#include "compressor_methods.h"

namespace chimaera::compressor {
using CreateTask = chimaera::admin::CreatePoolTask;
using DestroyTask = chimaera::admin::DestroyPoolTask;

/** Codecs (zstd and zlib through Debian's libzstd / zlib). */
enum class Codec : chi::u32 { kZstd = 1, kZlib = 2 };

/** Upper bound of the compressed size of `n` bytes for `codec`, in bytes. */
chi::u64 CompressBound(Codec codec, chi::u64 n);

/** Shared layout of Compress and Decompress tasks. */
struct CodecTask : public chi::Task {
  IN Codec codec_ = Codec::kZstd;
  IN chi::i32 level_ = 3;            /**< zstd 1..22, zlib 1..9 */
  IN chi::ipc::Pointer data_;        /**< input bytes (CHI_WRITE) */
  IN chi::u64 data_size_ = 0;
  INOUT chi::ipc::Pointer out_;      /**< output buffer (CHI_EXPOSE) */
  INOUT chi::u64 out_capacity_ = 0;
  OUT chi::u64 out_size_ = 0;        /**< bytes written to out_ */
  OUT chi::u32 checksum_ = 0;        /**< CRC-32 of the uncompressed bytes */

  explicit CodecTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc) : chi::Task(alloc) {}
  CodecTask(const chi::ipc::CtxAllocator<CHI_ALLOC_T> &alloc, const chi::TaskNode &node, const chi::PoolId &pool,
            const chi::DomainQuery &dom, chi::u32 method, Codec codec, chi::i32 level, chi::ipc::Pointer data,
            chi::u64 data_size, chi::ipc::Pointer out, chi::u64 out_capacity)
      : chi::Task(alloc), codec_(codec), level_(level), data_(data), data_size_(data_size), out_(out),
        out_capacity_(out_capacity) {
    task_node_ = node;
    pool_ = pool;
    method_ = method;
    dom_query_ = dom;
  }
  template <typename Ar>
  void SerializeIn(Ar &ar) {
    ar(codec_, level_);
    ar.bulk(data_, data_size_, chi::CHI_WRITE);
    ar.bulk(out_, out_capacity_, chi::CHI_EXPOSE);
  }
  template <typename Ar>
  void SerializeOut(Ar &ar) {
    ar(out_size_, checksum_);
    ar.bulk(out_, out_capacity_, chi::CHI_EXPOSE);
  }
};

struct CompressTask : public CodecTask {
  using CodecTask::CodecTask;
};
struct DecompressTask : public CodecTask {
  using CodecTask::CodecTask;
};

}  // namespace chimaera::compressor
