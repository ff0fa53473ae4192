// compressor client: codec helpers shared with callers.
#include <zlib.h>
#include <zstd.h>

#include "compressor/compressor_client.h"

namespace chimaera::compressor {

chi::u64 CompressBound(Codec codec, chi::u64 n) {
  return codec == Codec::kZlib ? compressBound(static_cast<uLong>(n)) : ZSTD_compressBound(n);
}

}  // namespace chimaera::compressor
