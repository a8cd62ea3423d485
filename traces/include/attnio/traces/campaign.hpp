// The driver behind `attnio profile`: a sweep of workloads, split into shards, each point measured
// by an injected function and appended to a trace the moment it finishes. It knows nothing of CUDA:
// the CLI passes a measurer built on the kernels and the CUPTI range profiler, the tests a fake.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "attnio/traces/trace.hpp"

namespace attnio::traces {

// Shard i of n (0-based, as a Slurm array's SLURM_ARRAY_TASK_ID with --array=0-(n-1)): the points
// whose index in the sweep is congruent to i mod n, so shards get an even mix of sizes.
struct Shard {
  std::size_t index = 0, count = 1;
};
// Parses "i/n"; throws InputError naming the problem (not two numbers, n = 0, i >= n).
Shard parse_shard(const std::string& spec);

struct Measurement {
  std::map<std::string, std::int64_t> launch;
  std::vector<Metric> metrics;
  std::string counter_data, config_image;  // base64
};

struct Measurer {
  // The kernel that runs a workload ("" when none does: the point is recorded as failed).
  std::function<std::string(const Workload&)> kernel;
  // Runs and measures it: "" or the error (the record is then marked failed, the sweep goes on).
  std::function<std::string(const Workload&, Measurement*)> measure;
};

// Thrown by a measurer when the GPU can no longer run anything (a sticky CUDA error): the point's
// record is written as failed with this message, then the campaign stops so the rest are not all
// recorded as failed; --resume continues after a restart.
struct CampaignAbort : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CampaignStats {
  std::size_t in_shard = 0, already_done = 0, ok = 0, failed = 0;
};

// Measures every point of `shard` not already in the writer's file (resume) and appends one record
// per point as soon as it finishes, with the prediction of `device` at record time. `progress` is
// called after each record with (finished, to do, record).
CampaignStats run_campaign(const std::vector<Workload>& points, const Shard& shard, const Device& device,
                           const Measurer& measurer, Writer& writer,
                           const std::function<void(std::size_t, std::size_t, const Record&)>& progress);

}  // namespace attnio::traces
