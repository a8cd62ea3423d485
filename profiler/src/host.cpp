#include "attnio/profiler/host.hpp"

#include "cupti_error.hpp"

#include <cupti_profiler_host.h>
#include <sys/wait.h>
#include <unistd.h>

namespace attnio::profiler {

namespace {

CUpti_Profiler_Host_Object* make_object(const std::string& chip, CUptiResult* r,
                                        const std::uint8_t* availability = nullptr) {
  CUpti_Profiler_Host_Initialize_Params p{};
  p.structSize = CUpti_Profiler_Host_Initialize_Params_STRUCT_SIZE;
  p.profilerType = CUPTI_PROFILER_TYPE_RANGE_PROFILER;
  p.pChipName = chip.c_str();
  p.pCounterAvailabilityImage = availability;
  *r = cuptiProfilerHostInitialize(&p);
  return *r == CUPTI_SUCCESS ? p.pHostObject : nullptr;
}

void destroy(CUpti_Profiler_Host_Object* obj) {
  if (!obj) return;
  CUpti_Profiler_Host_Deinitialize_Params p{};
  p.structSize = CUpti_Profiler_Host_Deinitialize_Params_STRUCT_SIZE;
  p.pHostObject = obj;
  cuptiProfilerHostDeinitialize(&p);
}

// EvaluateToGpuValues for `metrics` of one range into `out` (metrics.size() values).
CUptiResult evaluate_values(CUpti_Profiler_Host_Object* obj, const std::vector<std::uint8_t>& counter_data,
                            std::size_t range, const std::vector<std::string>& metrics, double* out) {
  std::vector<const char*> names;
  for (const auto& m : metrics) names.push_back(m.c_str());
  CUpti_Profiler_Host_EvaluateToGpuValues_Params p{};
  p.structSize = CUpti_Profiler_Host_EvaluateToGpuValues_Params_STRUCT_SIZE;
  p.pHostObject = obj;
  p.pCounterDataImage = counter_data.data();
  p.counterDataImageSize = counter_data.size();
  p.rangeIndex = range;
  p.ppMetricNames = names.data();
  p.numMetrics = names.size();
  p.pMetricValues = out;
  return cuptiProfilerHostEvaluateToGpuValues(&p);
}

}  // namespace

const std::vector<std::string>& default_metrics() {
  static const std::vector<std::string> m = {
      "gpu__time_duration.sum",
      "dram__bytes_read.sum",
      "dram__bytes_write.sum",
      "lts__t_bytes.sum",
      "l1tex__t_bytes.sum",
      "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum",
      "sm__inst_executed_pipe_tensor_op_hmma.sum",
      "sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32.sum",
      "sm__sass_thread_inst_executed_op_fadd_pred_on.sum",
      "sm__sass_thread_inst_executed_op_fmul_pred_on.sum",
      "sm__sass_thread_inst_executed_op_ffma_pred_on.sum",
      "sm__inst_executed_pipe_xu.sum",
  };
  return m;
}

std::string HostProfiler::create(const std::string& chip, std::unique_ptr<HostProfiler>* out) {
  CUptiResult r;
  CUpti_Profiler_Host_Object* obj = make_object(chip, &r);
  if (!obj) {
    std::string known;
    for (const auto& c : supported_chips()) known += (known.empty() ? "" : ", ") + c;
    return "chip '" + chip + "' is not supported by this CUPTI (" + cupti_error("cuptiProfilerHostInitialize", r) +
           "; known: " + known + ")";
  }
  out->reset(new HostProfiler(chip, obj));
  return {};
}

std::string HostProfiler::create(const std::string& chip, const std::vector<std::uint8_t>& counter_availability,
                                 std::unique_ptr<HostProfiler>* out) {
  CUptiResult r;
  CUpti_Profiler_Host_Object* obj =
      make_object(chip, &r, counter_availability.empty() ? nullptr : counter_availability.data());
  if (!obj) return "chip '" + chip + "': " + cupti_error("cuptiProfilerHostInitialize", r);
  out->reset(new HostProfiler(chip, obj));
  return {};
}

HostProfiler::~HostProfiler() { destroy(obj_); }

std::string HostProfiler::configure(const std::vector<std::string>& metrics, std::vector<std::uint8_t>* config_image,
                                    std::size_t* passes) {
  for (const auto& m : metrics) {
    MetricInfo info;
    if (std::string e = properties(m, &info); !e.empty()) return e;
  }
  std::vector<const char*> names;
  for (const auto& m : metrics) names.push_back(m.c_str());
  CUpti_Profiler_Host_ConfigAddMetrics_Params add{};
  add.structSize = CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE;
  add.pHostObject = obj_;
  add.ppMetricNames = names.data();
  add.numMetrics = names.size();
  if (CUptiResult r = cuptiProfilerHostConfigAddMetrics(&add); r != CUPTI_SUCCESS) return cupti_error("ConfigAddMetrics", r);
  CUpti_Profiler_Host_GetConfigImageSize_Params size{};
  size.structSize = CUpti_Profiler_Host_GetConfigImageSize_Params_STRUCT_SIZE;
  size.pHostObject = obj_;
  if (CUptiResult r = cuptiProfilerHostGetConfigImageSize(&size); r != CUPTI_SUCCESS) return cupti_error("GetConfigImageSize", r);
  // Offline (no counter-availability image) CUPTI 13 reports size 0 for GH100; say so plainly.
  if (size.configImageSize == 0) return "CUPTI produced an empty config image for " + chip_ + " (it needs the device's counter availability)";
  config_image->assign(size.configImageSize, 0);
  CUpti_Profiler_Host_GetConfigImage_Params img{};
  img.structSize = CUpti_Profiler_Host_GetConfigImage_Params_STRUCT_SIZE;
  img.pHostObject = obj_;
  img.configImageSize = config_image->size();
  img.pConfigImage = config_image->data();
  if (CUptiResult r = cuptiProfilerHostGetConfigImage(&img); r != CUPTI_SUCCESS) return cupti_error("GetConfigImage", r);
  CUpti_Profiler_Host_GetNumOfPasses_Params np{};
  np.structSize = CUpti_Profiler_Host_GetNumOfPasses_Params_STRUCT_SIZE;
  np.configImageSize = config_image->size();
  np.pConfigImage = config_image->data();
  if (CUptiResult r = cuptiProfilerHostGetNumOfPasses(&np); r != CUPTI_SUCCESS) return cupti_error("GetNumOfPasses", r);
  *passes = np.numOfPasses;
  return {};
}

std::vector<std::string> HostProfiler::supported_chips() {
  CUpti_Profiler_Host_GetSupportedChips_Params p{};
  p.structSize = CUpti_Profiler_Host_GetSupportedChips_Params_STRUCT_SIZE;
  std::vector<std::string> out;
  if (cuptiProfilerHostGetSupportedChips(&p) == CUPTI_SUCCESS) {
    for (std::size_t i = 0; i < p.numChips; ++i) out.emplace_back(p.ppChipNames[i]);
  }
  return out;
}

std::vector<std::string> HostProfiler::base_metrics(int type) const {
  CUpti_Profiler_Host_GetBaseMetrics_Params p{};
  p.structSize = CUpti_Profiler_Host_GetBaseMetrics_Params_STRUCT_SIZE;
  p.pHostObject = obj_;
  p.metricType = static_cast<CUpti_MetricType>(type);
  std::vector<std::string> out;
  if (cuptiProfilerHostGetBaseMetrics(&p) == CUPTI_SUCCESS) {
    for (std::size_t i = 0; i < p.numMetrics; ++i) out.emplace_back(p.ppMetricNames[i]);
  }
  return out;
}

std::string HostProfiler::properties(const std::string& metric, MetricInfo* out) const {
  CUpti_Profiler_Host_GetMetricProperties_Params p{};
  p.structSize = CUpti_Profiler_Host_GetMetricProperties_Params_STRUCT_SIZE;
  p.pHostObject = obj_;
  p.pMetricName = metric.c_str();
  const CUptiResult r = cuptiProfilerHostGetMetricProperties(&p);
  if (r != CUPTI_SUCCESS) return "metric '" + metric + "' is not available on " + chip_ + " (" + cupti_error("GetMetricProperties", r) + ")";
  static const char* const kTypes[] = {"counter", "ratio", "throughput"};
  *out = {metric, p.pDescription ? p.pDescription : "", p.pHwUnit ? p.pHwUnit : "", p.pDimUnit ? p.pDimUnit : "",
          p.metricType < CUPTI_METRIC_TYPE__COUNT ? kTypes[p.metricType] : "?"};
  return {};
}

std::string HostProfiler::check(const std::vector<std::string>& metrics) const {
  for (const auto& m : metrics) {
    MetricInfo info;
    if (std::string e = properties(m, &info); !e.empty()) return e;
  }
  // A fresh object, so that checks do not accumulate into one configuration.
  CUptiResult r;
  CUpti_Profiler_Host_Object* obj = make_object(chip_, &r);
  if (!obj) return cupti_error("cuptiProfilerHostInitialize", r);
  std::vector<const char*> names;
  for (const auto& m : metrics) names.push_back(m.c_str());
  CUpti_Profiler_Host_ConfigAddMetrics_Params p{};
  p.structSize = CUpti_Profiler_Host_ConfigAddMetrics_Params_STRUCT_SIZE;
  p.pHostObject = obj;
  p.ppMetricNames = names.data();
  p.numMetrics = names.size();
  r = cuptiProfilerHostConfigAddMetrics(&p);
  destroy(obj);
  return r == CUPTI_SUCCESS ? std::string() : cupti_error("ConfigAddMetrics", r);
}

std::string HostProfiler::evaluate_own(const std::vector<std::uint8_t>& counter_data, std::size_t range,
                                       const std::vector<std::string>& metrics, std::vector<double>* values) const {
  if (counter_data.empty()) return "no counter data to evaluate";
  values->assign(metrics.size(), 0.0);
  const CUptiResult r = evaluate_values(obj_, counter_data, range, metrics, values->data());
  return r == CUPTI_SUCCESS ? std::string() : cupti_error("EvaluateToGpuValues", r);
}

// libnvperf_host crashes on a malformed counter-data image (seen: a 4-byte image segfaults inside
// EvaluateToGpuValues), and trace files come from other machines. So the evaluation runs in a child
// process: a crash there becomes an error here, never a crash of attnio.
std::string HostProfiler::evaluate(const std::vector<std::uint8_t>& counter_data, std::size_t range,
                                   const std::vector<std::string>& metrics, std::vector<double>* values) const {
  if (counter_data.empty()) return "no counter data to evaluate";
  values->assign(metrics.size(), 0.0);
  int fds[2];
  if (pipe(fds) != 0) return "evaluate: pipe failed";
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return "evaluate: fork failed";
  }
  if (pid == 0) {
    close(fds[0]);
    std::vector<double> v(metrics.size(), 0.0);
    const int status = static_cast<int>(evaluate_values(obj_, counter_data, range, metrics, v.data()));
    const bool ok = write(fds[1], &status, sizeof status) == sizeof status &&
                    write(fds[1], v.data(), v.size() * sizeof(double)) == static_cast<ssize_t>(v.size() * sizeof(double));
    _exit(ok ? 0 : 1);
  }
  close(fds[1]);
  int status = -1;
  const bool got = read(fds[0], &status, sizeof status) == sizeof status &&
                   read(fds[0], values->data(), values->size() * sizeof(double)) == static_cast<ssize_t>(values->size() * sizeof(double));
  close(fds[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  if (!got || !WIFEXITED(wstatus)) return "counter data image is malformed (CUPTI failed while evaluating it)";
  if (status != CUPTI_SUCCESS) return cupti_error("EvaluateToGpuValues", static_cast<CUptiResult>(status));
  return {};
}

}  // namespace attnio::profiler
