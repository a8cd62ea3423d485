// Device specification: what a GPU has. SI units throughout (bytes, bytes/s, FLOP/s, Hz, s).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnio {

enum class Dtype { fp32, fp16, bf16, fp8 };

// Ceilings that `attnio ceilings` measures on a real GPU. When present they replace the datasheet
// figure for time prediction; the datasheet figure stays in the record for reference.
struct MeasuredCeilings {
  std::optional<double> hbm_bytes_per_s;
  std::optional<double> l2_bytes_per_s;
  std::optional<double> bf16_tensor_flops_per_s;
  std::optional<double> fp16_tensor_flops_per_s;
  std::optional<double> fp8_tensor_flops_per_s;
  std::optional<double> tf32_tensor_flops_per_s;
  std::optional<double> fp32_flops_per_s;
  std::optional<double> sfu_ops_per_s;
  bool operator==(const MeasuredCeilings&) const = default;
};

struct Device {
  std::string key;   // short name for --device, e.g. "h100-sxm"
  std::string name;  // marketing name
  int sm_count = 0;
  double clock_hz = 0;  // boost clock the peak rates are quoted at
  double hbm_bytes_per_s = 0;
  double hbm_capacity_bytes = 0;
  double l2_bytes = 0;
  double l2_bytes_per_s = 0;
  double smem_bytes_per_sm = 0;     // largest shared memory one SM can give its CTAs
  double sram_bytes_per_s = 0;      // aggregate shared-memory bandwidth over all SMs
  double register_file_bytes_per_sm = 0;
  double bf16_tensor_flops_per_s = 0;  // dense, FP32 accumulate
  double fp16_tensor_flops_per_s = 0;
  double fp8_tensor_flops_per_s = 0;   // 0 where the chip has no FP8 tensor path
  double tf32_tensor_flops_per_s = 0;
  double fp32_flops_per_s = 0;         // CUDA-core FMA rate, an FMA counted as 2
  double sfu_ops_per_s = 0;            // MUFU (exp2, rcp, tanh) results per second
  double nvlink_bytes_per_s = 0;       // per direction per GPU; 0 where absent
  // GPUs the NVLink joins: 2 for PCIe cards' bridge (a pair), 0 where a switch joins any count.
  double nvlink_gpus = 0;
  double launch_overhead_s = 0;        // per kernel launch
  // For the execution model (docs/model.md "Time"); 0 where no source gives the figure, and the
  // model then uses the datasheet figure and says so.
  double compute_capability = 0;       // 80, 86, 89, 90: picks implementation profiles
  double achievable_hbm_bytes_per_s = 0;  // sustained DRAM bandwidth of a streaming kernel (STREAM)
  double dram_latency_s = 0;           // unloaded DRAM access latency (pointer chase)
  // SM-side latencies in SM clock cycles (microbenchmarks count clock() cycles), converted at the
  // clock the kernel runs at: a CTA-wide barrier (bar.sync) with every warp arriving together,
  // barrier_latency_cycles + barrier_cycles_per_warp x the CTA's warps; a shared-memory load; an L2
  // hit (pointer chase).
  double barrier_latency_cycles = 0;
  double barrier_cycles_per_warp = 0;
  double smem_latency_cycles = 0;
  double l2_latency_cycles = 0;
  double mma_sync_fraction = 0;        // sustained mma.sync rate over the 16-bit datasheet tensor peak
  double wgmma_fraction = 0;           // sustained wgmma rate over the 16-bit datasheet peak (sm90)
  double fp8_mma_fraction = 0;         // sustained FP8 rate over the FP8 datasheet peak
  double sustained_clock_fraction = 0; // SM clock under dense tensor load over clock_hz (power limit)
  // FP32 lanes per SM (the whitepaper's FP32 cores per SM): the execution model's FP32 pipe issues
  // this many lane-ops per clock at the clock it runs. A datasheet's fp32_flops_per_s may be quoted
  // at another clock than clock_hz (the H100's 66.9 TFLOP/s at 1.98 GHz, its tensor peak at 1.83).
  // 0: fp32_flops_per_s / 2 at clock_hz.
  double fp32_lanes_per_sm = 0;
  // An SM clock held fixed (nvidia-smi --lock-gpu-clocks, Nsight Compute's --clock-control, or a
  // source that states the clock its kernels ran at); 0: not locked, the execution model takes
  // clock_hz, or sustained_clock_fraction of it under tensor load. Locked, every SM-side rate and
  // cycle count runs at it and the tensor rate is the MMA path's per-clock figure at it
  // (docs/model.md "A locked clock"); DRAM and L2 keep their rates. Within 0.25-1.5 x clock_hz.
  double locked_clock_hz = 0;
  // DRAM latency under load (docs/model.md "Time", rule 6): what a load waits beyond
  // dram_latency_s when the chip's DRAM moves a given share of its sustained rate, as points
  // (utilization, added seconds) with utilization rising, for read-only traffic (`dram_queue_read`)
  // and for as many bytes written as read (`dram_queue_copy`). Measured by a streaming kernel at
  // rising occupancy (one load per thread in flight: latency = bytes in flight / rate, less its
  // value at the lowest load). Empty where no measurement was found: the unloaded latency is used.
  std::vector<std::pair<double, double>> dram_queue_read, dram_queue_copy;
  MeasuredCeilings measured;
  std::string sources;                 // where the figures come from
  // Per figure: key ("sm_count", a number key such as "clock_hz", or a DRAM queue curve) -> where
  // that figure comes from.
  std::map<std::string, std::string> field_sources;

  bool operator==(const Device&) const = default;

  // Rates for time prediction: the measured ceiling where one exists, else the datasheet.
  double hbm_rate() const { return measured.hbm_bytes_per_s.value_or(hbm_bytes_per_s); }
  // What a streaming kernel sustains: measured, else the STREAM figure, else the datasheet.
  double sustained_hbm_rate() const {
    return measured.hbm_bytes_per_s.value_or(achievable_hbm_bytes_per_s > 0 ? achievable_hbm_bytes_per_s : hbm_bytes_per_s);
  }
  // Whether `attnio ceilings` measured the tensor rate for this dtype (then it is the sustained rate).
  bool tensor_rate_measured(Dtype dtype) const;
  double l2_rate() const { return measured.l2_bytes_per_s.value_or(l2_bytes_per_s); }
  double fp32_rate() const { return measured.fp32_flops_per_s.value_or(fp32_flops_per_s); }
  // FP32 lane-operations (an FMA is one) per second at clock_hz, for the execution model: a
  // measured rate where `attnio ceilings` gave one (taken as at clock_hz: the benchmark does not
  // record the clock it ran at), else fp32_lanes_per_sm x SMs x clock_hz, else half the datasheet
  // FLOP rate.
  double fp32_lane_rate() const {
    if (measured.fp32_flops_per_s) return *measured.fp32_flops_per_s / 2;
    return fp32_lanes_per_sm > 0 ? fp32_lanes_per_sm * sm_count * clock_hz : fp32_flops_per_s / 2;
  }
  double sfu_rate() const { return measured.sfu_ops_per_s.value_or(sfu_ops_per_s); }
  // Tensor-core rate for matmuls whose inputs have this dtype (fp32 inputs run as TF32).
  double tensor_rate(Dtype dtype) const;
  // A copy of this device with its SM clock locked at `hz` (locked_clock_hz; 0 unlocks it), keyed
  // KEY@<MHz>MHz (e.g. h100-sxm@1815MHz) so that it is told apart from the unlocked device; throws
  // InputError naming `what` and the device when hz is outside 0.25-1.5 x clock_hz.
  Device with_locked_clock(double hz, std::string_view what) const;
  // The key without a lock's @<MHz>MHz suffix: the device a published row or a file names.
  std::string unlocked_key() const;
  // The SM clock over clock_hz when locked, 1 when not: what the SM's peaks (tensor, FP32, MUFU,
  // shared memory) scale by in the roofline and the simulator.
  double locked_clock_scale() const { return locked_clock_hz > 0 ? locked_clock_hz / clock_hz : 1.0; }
  // The clocks this device can be locked at, in Hz: 0.25-1.5 x clock_hz (wide enough for a base
  // clock and a maximum boost, narrow enough to catch a clock given in the wrong unit).
  std::pair<double, double> locked_clock_range() const { return {0.25 * clock_hz, 1.5 * clock_hz}; }
  // The latency of a DRAM load while DRAM moves `bytes_per_s` in all, `write_share` of it writes:
  // dram_latency_s plus the queue curves' growth at that utilization of sustained_hbm_rate(),
  // interpolated linearly between the read-only (share 0) and the copy (share 1/2 and above)
  // curve, and past the last point along its last segment. dram_latency_s where no curve is given.
  double loaded_dram_latency_s(double bytes_per_s, double write_share) const;
  // Little's law at the loaded latency: the read rate r with r x loaded_dram_latency_s(r (1 +
  // write_per_read), write share) = `inflight_bytes`. The curves are piecewise linear, so r is the
  // root of a quadratic on the segment where it lies (found exactly, segment by segment).
  double inflight_read_rate(double inflight_bytes, double write_per_read) const;
};

// One run of a streaming kernel whose every resident thread keeps one load of `bytes_per_thread`
// in flight (RRZE-HPC/gpu-benches gpu-stream; `attnio ceilings`): its resident threads, the rate
// its reads moved and the rate of all its DRAM traffic (reads plus writes).
struct StreamSample {
  double resident_threads = 0;
  double bytes_per_thread = 8;
  double read_bytes_per_s = 0;
  double total_bytes_per_s = 0;
};
// A DRAM queue curve (Device::dram_queue_read / dram_queue_copy) from streaming runs at rising
// occupancy: Little's law gives the latency each run's loads saw, resident threads x bytes per
// thread / read rate; less the latency of the lowest-occupancy run (which holds the kernel's own
// per-thread costs, the same at every load) it is the queue. Points are (total rate over the
// highest total rate, added seconds) in rising utilization, made non-decreasing (a running
// maximum over noisy points) and thinned to at most 12 points, as scripts/dram-queue-curves does
// for gpu-stream's published files. Throws InputError on fewer than 2 samples or a rate <= 0.
std::vector<std::pair<double, double>> dram_queue_curve(const std::vector<StreamSample>& samples);

// The built-in devices, in a fixed order; the first is the default. They are data: model/devices/
// <key>.json, embedded at build time and parsed by device_from_json.
const std::vector<Device>& builtin_devices();
const Device& default_device();
// Looks a built-in device up by key; throws InputError naming the unknown key and the known ones.
const Device& find_device(std::string_view key);

// Device JSON: the keys of Device, plus an optional "measured" object with the MeasuredCeilings keys
// and an optional "field_sources" object (figure key -> non-empty source text).
// Parsing checks every required key, its type and its range and throws InputError on the first
// problem (one line, naming the key).
Device device_from_json(std::string_view json_text, std::string_view origin);
Device load_device_file(const std::string& path);
std::string device_to_json(const Device& device);
std::string devices_to_json(const std::vector<Device>& devices);

}  // namespace attnio
