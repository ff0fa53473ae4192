#pragma once
/**
 * @file pipeline.h
 * The main job through the runtime: every file of the corpus is read
 * straight into a shared-memory buffer (pread, no intermediate copy),
 * compressed by the compressor pool, decompressed, and verified without
 * reading it again (the CRC-32 the Compress task computed of the input
 * against the one the Decompress task computed of the output, plus a byte
 * comparison with the buffer the client already holds). Up to `in_flight`
 * files are in the pipeline at once; the client reads the next file while the
 * workers compress, and blocks on the oldest task only when no task
 * completed (no polling loop). Thread-safety: one call at a time per client.
 */
#include <functional>
#include <map>
#include <vector>

#include "baselines.h"
#include "compressor/compressor_client.h"

namespace chi::mainjob {

/** Where a file's tasks go: the query, and a label to count them under
 * (e.g. the node id; -1 for "not reported"). */
struct Placement {
  chi::DomainQuery query;
  int label = -1;
};

struct PipelineOptions {
  chimaera::compressor::Codec codec = chimaera::compressor::Codec::kZstd;
  int level = 3;
  int in_flight = 16;
  /** File index -> placement of its Compress and Decompress tasks. */
  std::function<Placement(std::size_t)> place;
  bool progress = true;  /**< a progress bar (or decile lines) on stderr */
};

struct PipelineResult : RunResult {
  std::vector<u64> tasks_per_worker;  /**< tasks the attached runtime's workers completed during the run */
  struct Share {
    std::size_t files = 0;
    double bytes = 0;
  };
  std::map<int, Share> per_label;  /**< by Placement::label */
};

/** Run the corpus through `zip`'s pool. Throws chi::TaskError when a task
 * fails, RuntimeUnavailable when the runtime goes away. */
PipelineResult RunPipeline(const Corpus &corpus, chimaera::compressor::Client &zip, const PipelineOptions &opt);

}  // namespace chi::mainjob
