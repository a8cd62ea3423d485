// The target side of the CUPTI range profiler (CUDA 13, cupti_range_profiler.h): counters read
// around one user range per kernel run, with user replay until every pass is submitted. Needs a
// GPU; the device is checked before any CUPTI target call (libcupti crashes without one).
// Errors are returned as one-line strings; nothing here exits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attnio/profiler/host.hpp"

struct CUpti_RangeProfiler_Object;

namespace attnio::profiler {

struct RangeResult {
  std::vector<double> values;              // one per metric, in the order given to create()
  std::vector<std::uint8_t> counter_data;  // the raw image, for offline re-evaluation
  std::size_t passes = 0;                  // how many times the launch ran
};

class RangeProfiler {
public:
  // Device check, CUPTI profiler initialization on the current device's primary context, counter
  // availability, configuration of `metrics` for this chip. Errors: "no CUDA device: ...", the
  // privilege message with how to allow counter access, or the first metric the chip refuses.
  static std::string create(const std::vector<std::string>& metrics, std::unique_ptr<RangeProfiler>* out);
  ~RangeProfiler();
  RangeProfiler(const RangeProfiler&) = delete;
  RangeProfiler& operator=(const RangeProfiler&) = delete;

  const std::string& chip() const { return chip_; }
  const std::vector<std::uint8_t>& config_image() const { return config_; }
  std::size_t passes() const { return passes_; }
  const HostProfiler& host() const { return *host_; }  // the chip's host object (metric properties)

  // Runs `launch` inside one user range once per replay pass. `launch` must enqueue the same work
  // each time from the same inputs (the kernels' launches are: outputs are overwritten, and the
  // backward's accumulator is zeroed by its own preprocess kernel) and returns "" or its error.
  // `prepare` (may be empty) runs before every pass, outside the range: e.g. an L2 flush, so each
  // pass starts from the same cold cache. After an error the session is restarted (Disable, Enable)
  // so the next run starts clean.
  std::string profile(const std::string& range_name, const std::function<std::string()>& prepare,
                      const std::function<std::string()>& launch, RangeResult* out);

private:
  RangeProfiler() = default;
  std::string run_passes(const std::string& range_name, const std::function<std::string()>& prepare,
                         const std::function<std::string()>& launch, RangeResult* out);
  std::string restart();  // (Re-)Enable on ctx_, first disabling any session (also after a failed run)
  void disable();
  void* ctx_ = nullptr;   // CUcontext
  std::string chip_;
  std::vector<std::string> metrics_;
  std::vector<std::uint8_t> config_, availability_;
  std::size_t passes_ = 0;
  std::unique_ptr<HostProfiler> host_;
  CUpti_RangeProfiler_Object* object_ = nullptr;
  bool initialized_ = false;
};

// What a trace header records of the machine: driver, runtime and CUPTI versions, the current
// device's name and SM/memory clocks (Hz). Call after require_device().
struct MachineInfo {
  std::string driver_version, cuda_version, cupti_version, device_name;
  double sm_clock_hz = 0, memory_clock_hz = 0;
};
MachineInfo machine_info();

// "" when a CUDA device is present, else "no CUDA device: <cuda error>".
std::string require_device();

}  // namespace attnio::profiler
