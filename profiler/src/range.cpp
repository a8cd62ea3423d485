#include "attnio/profiler/range.hpp"

#include <cuda.h>
#include <cuda_runtime.h>
#include <cupti_profiler_target.h>
#include <cupti_range_profiler.h>
#include <cupti_target.h>
#include <cupti_version.h>

#include "cupti_error.hpp"

namespace attnio::profiler {

namespace {

#define ATTNIO_CUPTI_TRY(call, params)                                      \
  do {                                                                      \
    if (const CUptiResult r_ = call(&params); r_ != CUPTI_SUCCESS) return cupti_error(#call, r_); \
  } while (0)

// cuCtxGetCurrent through the runtime's driver entry point, so that attnio does not link libcuda
// (it must start on machines without a driver, where only the offline host API is used).
std::string current_context(CUcontext* ctx) {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q{};
  if (cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &fn, 12000, cudaEnableDefault, &q) != cudaSuccess ||
      q != cudaDriverEntryPointSuccess || !fn) {
    return "cannot reach cuCtxGetCurrent through the CUDA runtime";
  }
  using Get = CUresult (*)(CUcontext*);
  if (reinterpret_cast<Get>(fn)(ctx) != CUDA_SUCCESS || !*ctx) return "no current CUDA context";
  return {};
}

}  // namespace

std::string require_device() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device: cudaGetDeviceCount returned 0";
  return {};
}

MachineInfo machine_info() {
  MachineInfo m;
  auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  int v = 0;
  if (cudaDriverGetVersion(&v) == cudaSuccess) m.driver_version = version(v);
  if (cudaRuntimeGetVersion(&v) == cudaSuccess) m.cuda_version = version(v);
  std::uint32_t api = 0;
  if (cuptiGetVersion(&api) == CUPTI_SUCCESS) m.cupti_version = "API " + std::to_string(api);
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) == cudaSuccess && cudaGetDeviceProperties(&prop, device) == cudaSuccess) m.device_name = prop.name;
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device) == cudaSuccess) m.sm_clock_hz = khz * 1e3;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, device) == cudaSuccess) m.memory_clock_hz = khz * 1e3;
  return m;
}

std::string RangeProfiler::create(const std::vector<std::string>& metrics, std::unique_ptr<RangeProfiler>* out) {
  if (std::string e = require_device(); !e.empty()) return e;
  if (metrics.empty()) return "no metrics to profile";
  std::unique_ptr<RangeProfiler> p(new RangeProfiler());
  p->metrics_ = metrics;

  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || cudaFree(nullptr) != cudaSuccess) return "cannot create a CUDA context";
  CUcontext ctx = nullptr;
  if (std::string e = current_context(&ctx); !e.empty()) return e;

  CUpti_Profiler_Initialize_Params init{};
  init.structSize = CUpti_Profiler_Initialize_Params_STRUCT_SIZE;
  ATTNIO_CUPTI_TRY(cuptiProfilerInitialize, init);
  p->initialized_ = true;

  CUpti_Device_GetChipName_Params chip{};
  chip.structSize = CUpti_Device_GetChipName_Params_STRUCT_SIZE;
  chip.deviceIndex = static_cast<std::size_t>(device);
  ATTNIO_CUPTI_TRY(cuptiDeviceGetChipName, chip);
  p->chip_ = chip.pChipName;

  CUpti_Profiler_GetCounterAvailability_Params avail{};
  avail.structSize = CUpti_Profiler_GetCounterAvailability_Params_STRUCT_SIZE;
  avail.ctx = ctx;
  ATTNIO_CUPTI_TRY(cuptiProfilerGetCounterAvailability, avail);
  p->availability_.assign(avail.counterAvailabilityImageSize, 0);
  avail.pCounterAvailabilityImage = p->availability_.data();
  ATTNIO_CUPTI_TRY(cuptiProfilerGetCounterAvailability, avail);

  if (std::string e = HostProfiler::create(p->chip_, p->availability_, &p->host_); !e.empty()) return e;
  if (std::string e = p->host_->configure(metrics, &p->config_, &p->passes_); !e.empty()) return e;

  p->ctx_ = ctx;
  if (std::string e = p->restart(); !e.empty()) return e;
  *out = std::move(p);
  return {};
}

void RangeProfiler::disable() {
  if (!object_) return;
  CUpti_RangeProfiler_Disable_Params d{};
  d.structSize = CUpti_RangeProfiler_Disable_Params_STRUCT_SIZE;
  d.pRangeProfilerObject = object_;
  cuptiRangeProfilerDisable(&d);
  object_ = nullptr;
}

RangeProfiler::~RangeProfiler() {
  disable();
  host_.reset();
  if (initialized_) {
    CUpti_Profiler_DeInitialize_Params d{};
    d.structSize = CUpti_Profiler_DeInitialize_Params_STRUCT_SIZE;
    cuptiProfilerDeInitialize(&d);
  }
}

std::string RangeProfiler::restart() {
  disable();
  CUpti_RangeProfiler_Enable_Params enable{};
  enable.structSize = CUpti_RangeProfiler_Enable_Params_STRUCT_SIZE;
  enable.ctx = static_cast<CUcontext>(ctx_);
  ATTNIO_CUPTI_TRY(cuptiRangeProfilerEnable, enable);
  object_ = enable.pRangeProfilerObject;
  return {};
}

std::string RangeProfiler::profile(const std::string& range_name, const std::function<std::string()>& prepare,
                                   const std::function<std::string()>& launch, RangeResult* out) {
  if (!object_) {
    if (std::string e = restart(); !e.empty()) return "range profiler unavailable: " + e;
  }
  std::string e = run_passes(range_name, prepare, launch, out);
  if (!e.empty()) {
    // A half-finished replay would make the next SetConfig fail: start the next run clean.
    if (std::string r = restart(); !r.empty()) e += "; restarting the range profiler failed: " + r;
  }
  return e;
}

std::string RangeProfiler::run_passes(const std::string& range_name, const std::function<std::string()>& prepare,
                                      const std::function<std::string()>& launch, RangeResult* out) {
  std::vector<const char*> names;
  for (const auto& m : metrics_) names.push_back(m.c_str());

  // A fresh counter-data image per run: one range, one level.
  CUpti_RangeProfiler_GetCounterDataSize_Params size{};
  size.structSize = CUpti_RangeProfiler_GetCounterDataSize_Params_STRUCT_SIZE;
  size.pRangeProfilerObject = object_;
  size.pMetricNames = names.data();
  size.numMetrics = names.size();
  size.maxNumOfRanges = 1;
  size.maxNumRangeTreeNodes = 1;
  ATTNIO_CUPTI_TRY(cuptiRangeProfilerGetCounterDataSize, size);
  out->counter_data.assign(size.counterDataSize, 0);
  CUpti_RangeProfiler_CounterDataImage_Initialize_Params ci{};
  ci.structSize = CUpti_RangeProfiler_CounterDataImage_Initialize_Params_STRUCT_SIZE;
  ci.pRangeProfilerObject = object_;
  ci.counterDataSize = out->counter_data.size();
  ci.pCounterData = out->counter_data.data();
  ATTNIO_CUPTI_TRY(cuptiRangeProfilerCounterDataImageInitialize, ci);

  CUpti_RangeProfiler_SetConfig_Params cfg{};
  cfg.structSize = CUpti_RangeProfiler_SetConfig_Params_STRUCT_SIZE;
  cfg.pRangeProfilerObject = object_;
  cfg.configSize = config_.size();
  cfg.pConfig = config_.data();
  cfg.counterDataImageSize = out->counter_data.size();
  cfg.pCounterDataImage = out->counter_data.data();
  cfg.range = CUPTI_UserRange;
  cfg.replayMode = CUPTI_UserReplay;
  cfg.maxRangesPerPass = 1;
  cfg.numNestingLevels = 1;
  cfg.minNestingLevel = 1;
  cfg.passIndex = 0;
  cfg.targetNestingLevel = 1;
  ATTNIO_CUPTI_TRY(cuptiRangeProfilerSetConfig, cfg);

  // User replay: the same launch once per pass until CUPTI says every pass is submitted. The bound
  // guards against a configuration that never completes.
  out->passes = 0;
  for (bool all_submitted = false; !all_submitted;) {
    if (out->passes > passes_ + 2) return "range profiler did not finish after " + std::to_string(out->passes) + " passes";
    if (prepare) {
      if (std::string e = prepare(); !e.empty()) return e;
    }
    CUpti_RangeProfiler_Start_Params start{};
    start.structSize = CUpti_RangeProfiler_Start_Params_STRUCT_SIZE;
    start.pRangeProfilerObject = object_;
    ATTNIO_CUPTI_TRY(cuptiRangeProfilerStart, start);
    CUpti_RangeProfiler_PushRange_Params push{};
    push.structSize = CUpti_RangeProfiler_PushRange_Params_STRUCT_SIZE;
    push.pRangeProfilerObject = object_;
    push.pRangeName = range_name.c_str();
    ATTNIO_CUPTI_TRY(cuptiRangeProfilerPushRange, push);
    const std::string launch_error = launch();
    const cudaError_t sync = cudaDeviceSynchronize();
    CUpti_RangeProfiler_PopRange_Params pop{};
    pop.structSize = CUpti_RangeProfiler_PopRange_Params_STRUCT_SIZE;
    pop.pRangeProfilerObject = object_;
    ATTNIO_CUPTI_TRY(cuptiRangeProfilerPopRange, pop);
    CUpti_RangeProfiler_Stop_Params stop{};
    stop.structSize = CUpti_RangeProfiler_Stop_Params_STRUCT_SIZE;
    stop.pRangeProfilerObject = object_;
    ATTNIO_CUPTI_TRY(cuptiRangeProfilerStop, stop);
    ++out->passes;
    if (!launch_error.empty()) return launch_error;
    if (sync != cudaSuccess) return std::string("kernel failed: ") + cudaGetErrorString(sync);
    all_submitted = stop.isAllPassSubmitted != 0;
  }

  CUpti_RangeProfiler_DecodeData_Params decode{};
  decode.structSize = CUpti_RangeProfiler_DecodeData_Params_STRUCT_SIZE;
  decode.pRangeProfilerObject = object_;
  ATTNIO_CUPTI_TRY(cuptiRangeProfilerDecodeData, decode);
  if (decode.numOfRangeDropped != 0) return std::to_string(decode.numOfRangeDropped) + " range(s) dropped while decoding";
  return host_->evaluate_own(out->counter_data, 0, metrics_, &out->values);
}

}  // namespace attnio::profiler
