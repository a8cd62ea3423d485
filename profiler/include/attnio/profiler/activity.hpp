// Kernel durations from the CUPTI Activity API (CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL): the GPU
// start and end timestamps of every kernel a launch enqueues, with no replay and no counters
// collected. The range profiler's gpu__time_duration covers one replayed range with counters
// armed; these are the kernels' own times, what `attnio compare` holds the model's time against.
// Needs a GPU; checked before any CUPTI call. Errors are returned as one-line strings.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace attnio::profiler {

struct KernelTimes {
  std::size_t kernels = 0;
  double sum_ns = 0;   // sum of the kernels' durations
  double span_ns = 0;  // first kernel's start to last kernel's end
  std::vector<std::string> names;
};

// Runs `launch` once with kernel activity recording on, waits for the GPU, and collects its kernels.
// Not thread-safe (the Activity API's buffers are process-wide); call from one thread.
std::string time_kernels(const std::function<std::string()>& launch, KernelTimes* out);

}  // namespace attnio::profiler
