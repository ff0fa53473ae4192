#include "chimaera/ipc/allocator.h"

#include <bit>

namespace chi::ipc {
namespace {

constexpr u64 kAllocatorMagic = 0x434F4C4C41494843ull;  // "CHIALLOC"
constexpr u32 kBlockAllocated = 0xA110CA7Eu;
constexpr u32 kBlockFree = 0xF4EEB10Cu;
/** Header before an AllocateAligned result whose block starts earlier:
 * next_ holds the Pointer offset Allocate returned for the real block. */
constexpr u32 kBlockAlignedRedirect = 0xA1163D00u;

/** 16 bytes before every block's user data. */
struct BlockHeader {
  /** kBlockAllocated / kBlockFree. Free() flips it with a CAS so exactly one
   * of two racing frees of the same block wins (acq_rel: the winner sees the
   * owner's writes to the block before it recycles it). */
  std::atomic<u32> state_;
  u32 cls_;  /**< size class; written only while the block is owned exclusively */
  /** Next free block's offset while on a free list. Atomic (relaxed) because a
   * popper may read it while another thread has already popped and re-pushed
   * the block; the tagged-head CAS then fails and the stale value is discarded. */
  std::atomic<u64> next_;
};
static_assert(sizeof(BlockHeader) == kBlockHeaderBytes);

// Tagged free-list head: high 24 bits ABA tag, low 40 bits block offset / 16.
constexpr u32 kTagShift = 40;
constexpr u64 kOffMask = (1ull << kTagShift) - 1;
constexpr u64 HeadOff(u64 head) { return (head & kOffMask) << 4; }
constexpr u64 HeadTag(u64 head) { return head >> kTagShift; }
constexpr u64 MakeHead(u64 tag, u64 off) { return ((tag & 0xFFFFFFull) << kTagShift) | (off >> 4); }

constexpr u64 ClassBytes(u32 cls) { return 1ull << (cls + kMinBlockShift); }

}  // namespace

u32 SizeClassFor(std::size_t bytes) noexcept {
  if (bytes > (ClassBytes(kNumSizeClasses - 1) - kBlockHeaderBytes)) return kNumSizeClasses;
  u64 total = static_cast<u64>(bytes) + kBlockHeaderBytes;
  u32 shift = static_cast<u32>(std::bit_width(total - 1));  // ceil(log2(total))
  if (shift < kMinBlockShift) shift = kMinBlockShift;
  return shift - kMinBlockShift;
}

Allocator Allocator::Format(AllocatorId id, char *base, u64 header_offset, u64 end) noexcept {
  auto *hdr = new (base + header_offset) AllocatorHeader();
  hdr->id_ = id;
  u64 begin = header_offset + sizeof(AllocatorHeader);
  begin = (begin + kCacheLineBytes - 1) & ~(u64{kCacheLineBytes} - 1);
  hdr->heap_begin_ = begin;
  hdr->heap_end_ = end & ~u64{15};
  hdr->heap_top_.store(begin, std::memory_order_relaxed);
  for (auto &fl : hdr->free_lists_) fl.head_.store(0, std::memory_order_relaxed);
  // Published to other processes by the segment header's release store of its
  // magic (segment.cc), which happens after this function returns.
  hdr->magic_ = kAllocatorMagic;
  return Allocator(base, hdr);
}

Allocator Allocator::Open(char *base, u64 header_offset) noexcept {
  auto *hdr = reinterpret_cast<AllocatorHeader *>(base + header_offset);
  if (hdr->magic_ != kAllocatorMagic) return Allocator();
  return Allocator(base, hdr);
}

Pointer Allocator::PopFree(u32 cls) noexcept {
  auto &head = hdr_->free_lists_[cls].head_;
  // acquire: pairs with the release CAS in PushFree so the block's header
  // (next_, cls_) written by the pusher is visible before we read next_.
  u64 cur = head.load(std::memory_order_acquire);
  for (;;) {
    u64 off = HeadOff(cur);
    if (off == 0) return Pointer();
    auto *blk = reinterpret_cast<BlockHeader *>(base_ + off);
    u64 next = blk->next_.load(std::memory_order_relaxed);
    // The tag makes the CAS fail if the head was popped and pushed back in
    // between (ABA), which would make `next` stale.
    if (head.compare_exchange_weak(cur, MakeHead(HeadTag(cur) + 1, next), std::memory_order_acquire,
                                   std::memory_order_acquire)) {
      return Pointer(hdr_->id_, off);
    }
  }
}

void Allocator::PushFree(u32 cls, u64 block_off) noexcept {
  auto &head = hdr_->free_lists_[cls].head_;
  auto *blk = reinterpret_cast<BlockHeader *>(base_ + block_off);
  u64 cur = head.load(std::memory_order_relaxed);
  for (;;) {
    blk->next_.store(HeadOff(cur), std::memory_order_relaxed);
    // release: publishes next_/cls_/state_ of the block to the next popper.
    if (head.compare_exchange_weak(cur, MakeHead(HeadTag(cur) + 1, block_off), std::memory_order_release,
                                   std::memory_order_relaxed)) {
      return;
    }
  }
}

u64 Allocator::CarveFresh(u32 cls) noexcept {
  const u64 bytes = ClassBytes(cls);
  // relaxed CAS loop (not fetch_add) so a failed large request does not push
  // the top past the end and starve later small requests.
  u64 top = hdr_->heap_top_.load(std::memory_order_relaxed);
  for (;;) {
    if (top + bytes > hdr_->heap_end_ || top + bytes < top) return 0;
    if (hdr_->heap_top_.compare_exchange_weak(top, top + bytes, std::memory_order_relaxed)) return top;
  }
}

u64 Allocator::SplitLarger(u32 cls) noexcept {
  for (u32 k = cls + 1; k < kNumSizeClasses; ++k) {
    Pointer big = PopFree(k);
    if (big.IsNull()) continue;
    // Keep the lowest 2^cls bytes; push the upper halves [2^j, 2^(j+1)) for
    // j = k-1 .. cls as free blocks of class j.
    for (u32 j = k; j-- > cls;) {
      u64 off = big.offset_ + ClassBytes(j);
      auto *blk = reinterpret_cast<BlockHeader *>(base_ + off);
      blk->cls_ = j;
      blk->state_.store(kBlockFree, std::memory_order_relaxed);
      PushFree(j, off);
    }
    return big.offset_;
  }
  return 0;
}

u64 Allocator::Publish(u64 block_off, u32 cls) noexcept {
  auto *blk = reinterpret_cast<BlockHeader *>(base_ + block_off);
  blk->cls_ = cls;
  // relaxed: the block is exclusively ours; whoever receives its Pointer is
  // synchronised by the channel (queue, task completion) that carries it.
  blk->state_.store(kBlockAllocated, std::memory_order_relaxed);
  return block_off + kBlockHeaderBytes;
}

Pointer Allocator::Allocate(std::size_t bytes) noexcept {
  if (hdr_ == nullptr) return Pointer();
  u32 cls = SizeClassFor(bytes);
  if (cls >= kNumSizeClasses) return Pointer();
  Pointer blk = PopFree(cls);
  u64 off = blk.offset_;
  if (off == 0) off = CarveFresh(cls);
  if (off == 0) off = SplitLarger(cls);
  if (off == 0) return Pointer();
  return Pointer(hdr_->id_, Publish(off, cls));
}

Pointer Allocator::AllocateAligned(std::size_t bytes, std::size_t alignment) noexcept {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 4096) return Pointer();
  if (alignment <= 16) return Allocate(bytes);
  if (bytes > ~std::size_t{0} - alignment) return Pointer();
  Pointer p = Allocate(bytes + alignment);
  if (p.IsNull()) return p;
  u64 aligned = (p.offset_ + alignment - 1) & ~(u64{alignment} - 1);
  if (aligned == p.offset_) return p;
  // aligned - p.offset_ >= 16 (both are multiples of 16): room for a header.
  auto *redirect = reinterpret_cast<BlockHeader *>(base_ + aligned - kBlockHeaderBytes);
  redirect->cls_ = 0;
  redirect->next_.store(p.offset_, std::memory_order_relaxed);
  redirect->state_.store(kBlockAlignedRedirect, std::memory_order_relaxed);
  return Pointer(hdr_->id_, aligned);
}

bool Allocator::Free(Pointer p) noexcept {
  if (hdr_ == nullptr || p.IsNull() || p.alloc_id_ != hdr_->id_) return false;
  if (p.offset_ < hdr_->heap_begin_ + kBlockHeaderBytes || p.offset_ >= hdr_->heap_end_ || (p.offset_ & 15) != 0)
    return false;
  u64 off = p.offset_ - kBlockHeaderBytes;
  auto *blk = reinterpret_cast<BlockHeader *>(base_ + off);
  u32 expected = kBlockAllocated;
  if (!blk->state_.compare_exchange_strong(expected, kBlockFree, std::memory_order_acq_rel)) {
    // An AllocateAligned result: retire the redirect (once), free the block.
    if (expected != kBlockAlignedRedirect ||
        !blk->state_.compare_exchange_strong(expected, kBlockFree, std::memory_order_acq_rel))
      return false;
    u64 real = blk->next_.load(std::memory_order_relaxed);
    if (real >= p.offset_) return false;
    return Free(Pointer(p.alloc_id_, real));
  }
  u32 cls = blk->cls_;
  if (cls >= kNumSizeClasses || off + ClassBytes(cls) > hdr_->heap_end_) return false;  // corrupt header
  PushFree(cls, off);
  return true;
}

std::size_t Allocator::UsableSize(Pointer p) const noexcept {
  if (hdr_ == nullptr || p.IsNull() || p.offset_ < hdr_->heap_begin_ + kBlockHeaderBytes ||
      p.offset_ >= hdr_->heap_end_)
    return 0;
  auto *blk = reinterpret_cast<const BlockHeader *>(base_ + p.offset_ - kBlockHeaderBytes);
  if (blk->state_.load(std::memory_order_relaxed) != kBlockAllocated || blk->cls_ >= kNumSizeClasses) return 0;
  return ClassBytes(blk->cls_) - kBlockHeaderBytes;
}

u64 Allocator::UnusedBumpBytes() const noexcept {
  return hdr_ ? hdr_->heap_end_ - hdr_->heap_top_.load(std::memory_order_relaxed) : 0;
}


}  // namespace chi::ipc
