// libFuzzer target: the node-to-node wire decoder (chi::net::DecodeMessage)
// on arbitrary frames, and, for every request or reply record it accepts,
// the remote queue's rebuild path: the record's inline bytes as task bytes
// (TaskInputArchiveIN) with its bulk frames as bulk buffers (SetBulkIn). Input layout: byte 0 = number of frames (mod 64); then each
// frame is a 2-byte little-endian length and that many bytes (cut short at
// the end of the input). Any outcome but a rejection (nullopt, ArchiveError,
// ShmOutOfMemory) or success is a finding: a crash, an over-read under ASan,
// another exception.
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "../core/blob_task.h"
#include "chimaera/ipc/segment.h"
#include "chimaera/net/wire.h"

namespace {
chi::ipc::Allocator &Alloc() {
  static std::unique_ptr<chi::ipc::Segment> seg = [] {
    std::string name = chi::ipc::Segment::MakeName("fuzzwire_" + std::to_string(getpid()));
    auto s = chi::ipc::Segment::Create({name, 256ull << 20, chi::ipc::AllocatorId(51)});
    chi::ipc::Segment::Unlink(name);
    return s;
  }();
  return seg->GetAllocator();
}

void Rebuild(const std::vector<chi::net::FrameView> &frames, const chi::net::Record &r) {
  const chi::net::FrameView first = frames[0];
  std::vector<chi::BulkSegment> bulk;
  for (chi::u32 i = 0; i < r.bulk_frames; ++i) {
    const chi::net::FrameView f = frames[r.first_bulk_frame + i];
    bulk.push_back({reinterpret_cast<const char *>(f.data()), f.size()});
  }
  chi::ipc::Allocator &alloc = Alloc();
  auto task = alloc.NewObj<chi::testing::BlobTask>(chi::ipc::CtxAllocator<CHI_ALLOC_T>(alloc));
  chi::TaskInputArchiveIN ar(
      std::string_view(reinterpret_cast<const char *>(first.data()) + r.inline_offset, r.inline_size), alloc);
  ar.SetBulkIn(bulk);
  ar.SetMaxExposeBytes(1 << 20);
  try {
    ar.LoadTaskIn(*task);
  } catch (const chi::ArchiveError &) {
  } catch (const chi::ipc::ShmOutOfMemory &) {
  }
  alloc.Free(task->in_data_);
  alloc.Free(task->out_data_);
  alloc.DelObj(task);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const std::size_t nframes = data[0] % 64;
  std::vector<chi::net::FrameView> frames;
  std::size_t pos = 1;
  for (std::size_t i = 0; i < nframes && pos + 2 <= size; ++i) {
    std::size_t len = data[pos] | (static_cast<std::size_t>(data[pos + 1]) << 8);
    pos += 2;
    len = std::min(len, size - pos);
    frames.emplace_back(data + pos, len);
    pos += len;
  }
  std::string error;
  auto m = chi::net::DecodeMessage(frames, &error);
  if (!m) return 0;
  if (m->header.type == chi::net::MessageType::kRequests || m->header.type == chi::net::MessageType::kReplies)
    for (const auto &r : m->records) Rebuild(frames, r);
  return 0;
}
