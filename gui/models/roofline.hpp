// Roofline geometry for the GUI, in plain C++ (tested without Qt): the ceilings of a device for a
// dtype, their ridge points, and where a prediction sits.
//
// Williams, Waterman & Patterson, "Roofline: An Insightful Visual Performance Model for Multicore
// Architectures", CACM 52(4), 2009, §2: attainable FLOP/s = min(peak FLOP/s, bandwidth x AI); the
// ridge point of a (bandwidth, peak) pair is AI = peak / bandwidth FLOP/byte. The hierarchical form
// (one diagonal per memory level, here HBM, L2 and shared memory) follows Yang et al.,
// "Hierarchical Roofline Analysis for GPUs", 2020, §2.
#pragma once

#include <string>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/predict.hpp"

namespace attnio::gui {

struct RoofCeiling {
  std::string name;       // "Tensor (bf16)", "FP32", "SFU (exp)", "HBM", "L2", "SRAM"
  bool diagonal = false;  // a bandwidth (bytes/s) when true, else a rate (FLOP/s or ops/s)
  double value = 0;
  Ceiling ceiling = Ceiling::tensor;
  bool achievable = false;  // an implementation's sustained roof, not a datasheet ceiling
};

struct RidgePoint {
  std::string name;  // e.g. "HBM / Tensor (bf16)"
  double intensity = 0, flops_per_s = 0;
};

// The six ceilings, with measured rates where the device file has them (Device::*_rate()).
std::vector<RoofCeiling> roof_ceilings(const Device& d, Dtype dtype);
// The implementation's achievable roofs (docs/model.md "Time"): its MMA path's sustained tensor rate
// and the sustained HBM bandwidth (STREAM), so a student sees why FlashAttention-2 (mma.sync on
// Hopper) sits under the tensor roof and FlashAttention-3 (wgmma) closer to it. Empty for `ideal`.
std::vector<RoofCeiling> achievable_roofs(const Device& d, Dtype dtype, const ImplProfile* impl);
// Ridge points of every memory diagonal with the tensor roof, and of HBM with the FP32 roof.
std::vector<RidgePoint> ridge_points(const std::vector<RoofCeiling>& ceilings);

// A prediction on the roofline: x = FLOPs per HBM byte, y = FLOPs over predicted time.
struct RoofPoint {
  double intensity = 0, flops_per_s = 0;
};
RoofPoint roof_point(const Prediction& p);
// A measurement of the same work: the prediction's FLOPs over measured bytes and time (counters
// give bytes and time for every kernel; FLOP counters do not cover every unit, so the FLOPs are
// the model's).
RoofPoint measured_point(const Prediction& p, double measured_hbm_bytes, double measured_time_s);

// The same work per L2 byte and per SRAM byte, at the prediction's attained rate (hierarchical
// roofline, Yang et al. 2020 §2): where the point meets its binding diagonal. Levels with no bytes
// are left out.
struct LevelPoint {
  const char* level;  // "L2", "SRAM"
  RoofPoint point;
};
std::vector<LevelPoint> level_points(const Prediction& p);

// Axis ranges in whole decades spanning the roofs and every point (x = FLOP/byte, y = FLOP/s), with
// at least 1e-2..1e4 FLOP/byte and a little headroom above the highest roof.
struct RoofRange {
  double x_lo, x_hi, y_lo, y_hi;
};
RoofRange roof_range(const std::vector<RoofCeiling>& ceilings, const std::vector<RoofPoint>& points);

}  // namespace attnio::gui
