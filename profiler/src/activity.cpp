#include "attnio/profiler/activity.hpp"

#include <cuda_runtime.h>
#include <cupti_activity.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>

#include "attnio/profiler/range.hpp"
#include "cupti_error.hpp"

namespace attnio::profiler {

namespace {

struct KernelRecord {
  std::uint64_t start, end;
  std::string name;
};

// Filled by the completion callback, which CUPTI may call from its own thread.
std::mutex g_mutex;
std::vector<KernelRecord> g_records;
std::size_t g_dropped = 0;

constexpr std::size_t kBufferBytes = 4u << 20;
constexpr std::size_t kAlign = 8;  // CUPTI requires 8-byte aligned activity buffers

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(kAlign, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream_id, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* record = nullptr;
  std::lock_guard<std::mutex> lock(g_mutex);
  while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
    // CUDA 13's kernel record (CUpti_ActivityKernel10): start/end in ns of the GPU timestamp.
    const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
    g_records.push_back({k->start, k->end, k->name ? k->name : ""});
  }
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(ctx, stream_id, &dropped) == CUPTI_SUCCESS) g_dropped += dropped;
  std::free(buffer);
}

}  // namespace

std::string time_kernels(const std::function<std::string()>& launch, KernelTimes* out) {
  *out = {};
  if (std::string e = require_device(); !e.empty()) return e;
  static std::once_flag registered;
  static CUptiResult registration = CUPTI_SUCCESS;
  std::call_once(registered, [] { registration = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed); });
  if (registration != CUPTI_SUCCESS) return cupti_error("cuptiActivityRegisterCallbacks", registration);
  if (cudaDeviceSynchronize() != cudaSuccess) return std::string("before timing: ") + cudaGetErrorString(cudaGetLastError());
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_records.clear();
    g_dropped = 0;
  }
  if (const CUptiResult r = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL); r != CUPTI_SUCCESS) {
    return cupti_error("cuptiActivityEnable", r);
  }
  std::string err = launch();
  if (err.empty() && cudaDeviceSynchronize() != cudaSuccess) err = std::string("timed run: ") + cudaGetErrorString(cudaGetLastError());
  cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  if (const CUptiResult r = cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED); r != CUPTI_SUCCESS && err.empty()) {
    err = cupti_error("cuptiActivityFlushAll", r);
  }
  if (!err.empty()) return err;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_dropped != 0) return "the Activity API dropped " + std::to_string(g_dropped) + " kernel records";
  if (g_records.empty()) return "the Activity API recorded no kernel for this launch";
  std::uint64_t first = std::numeric_limits<std::uint64_t>::max(), last = 0;
  for (const auto& k : g_records) {
    out->sum_ns += static_cast<double>(k.end - k.start);
    first = std::min(first, k.start);
    last = std::max(last, k.end);
    out->names.push_back(k.name);
  }
  out->kernels = g_records.size();
  out->span_ns = static_cast<double>(last - first);
  return {};
}

}  // namespace attnio::profiler
