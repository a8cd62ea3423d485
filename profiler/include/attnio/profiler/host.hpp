// The host side of the CUPTI range profiler (CUDA 13, cupti_profiler_host.h): metric lookup,
// validation and configuration for a chip, and evaluation of recorded counter data. It needs no
// GPU, so a trace recorded on an H100 can be re-evaluated on a laptop with the chip name alone.
// Errors are returned as one-line strings; nothing here exits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct CUpti_Profiler_Host_Object;

namespace attnio::profiler {

struct MetricInfo {
  std::string name, description, hw_unit, dim_unit, type;  // type: counter, ratio, throughput
};

// attnio's default metrics with Nsight Compute names: kernel time, DRAM and L2 bytes, L1 and
// shared-memory traffic, tensor-pipe instructions (HMMA m16n8k16: 4096 FLOPs each) and HGMMA
// operations, FP32 add/mul/fma, and MUFU (special function) instructions.
const std::vector<std::string>& default_metrics();

class HostProfiler {
public:
  // "" on success; the object is returned in `out`.
  static std::string create(const std::string& chip, std::unique_ptr<HostProfiler>* out);
  // For configuring a live device: the counter-availability image read from it (RangeProfiler).
  static std::string create(const std::string& chip, const std::vector<std::uint8_t>& counter_availability,
                            std::unique_ptr<HostProfiler>* out);
  ~HostProfiler();
  HostProfiler(const HostProfiler&) = delete;
  HostProfiler& operator=(const HostProfiler&) = delete;

  static std::vector<std::string> supported_chips();
  const std::string& chip() const { return chip_; }
  // Base metric names of a type (0 counter, 1 ratio, 2 throughput), without rollup suffixes.
  std::vector<std::string> base_metrics(int type) const;
  // Properties of a metric (with or without a rollup such as .sum); "" or why it is unknown.
  std::string properties(const std::string& metric, MetricInfo* out) const;
  // Checks every name, then adds them to a configuration; "" or the first bad metric named.
  std::string check(const std::vector<std::string>& metrics) const;
  // Adds `metrics` to this object's configuration and returns its config image and pass count.
  std::string configure(const std::vector<std::string>& metrics, std::vector<std::uint8_t>* config_image,
                        std::size_t* passes);
  // Values of `metrics` for range `range` of a counter-data image recorded on this chip.
  std::string evaluate(const std::vector<std::uint8_t>& counter_data, std::size_t range,
                       const std::vector<std::string>& metrics, std::vector<double>* values) const;
  // The same in this process, for an image this process just recorded (no fork after CUDA init).
  std::string evaluate_own(const std::vector<std::uint8_t>& counter_data, std::size_t range,
                           const std::vector<std::string>& metrics, std::vector<double>* values) const;

private:
  HostProfiler(std::string chip, CUpti_Profiler_Host_Object* obj) : chip_(std::move(chip)), obj_(obj) {}
  std::string chip_;
  CUpti_Profiler_Host_Object* obj_;
};

}  // namespace attnio::profiler
