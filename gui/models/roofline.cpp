#include "roofline.hpp"

#include <algorithm>
#include <cmath>

namespace attnio::gui {

std::vector<RoofCeiling> roof_ceilings(const Device& d, Dtype dtype) {
  const std::string dt(to_string(dtype));
  return {
      {"Tensor (" + dt + ")", false, d.tensor_rate(dtype), Ceiling::tensor},
      {"FP32", false, d.fp32_rate(), Ceiling::fp32},
      {"SFU (exp)", false, d.sfu_rate(), Ceiling::sfu},
      {"HBM", true, d.hbm_rate(), Ceiling::hbm},
      {"L2", true, d.l2_rate(), Ceiling::l2},
      {"SRAM", true, d.sram_bytes_per_s, Ceiling::sram},
  };
}

std::vector<RoofCeiling> achievable_roofs(const Device& d, Dtype dtype, const ImplProfile* impl) {
  if (impl == nullptr || impl->ideal || d.compute_capability <= 0) return {};
  const KernelTraits t = impl->traits(KernelRole::fwd, 128, false, dtype, d.smem_bytes_per_sm, static_cast<int>(d.compute_capability));
  const RoofCeiling hbm{"HBM sustained", true, d.sustained_hbm_rate(), Ceiling::hbm, true};
  // A kernel whose dot products are CUDA-core FMAs is capped by the FP32 lanes (2 FLOPs an FMA, at
  // the SM clock, as the execution model runs them), not by any MMA path.
  if (t.cuda_core_math) return {{std::string(impl->key) + " FP32 (CUDA cores)", false, 2 * d.fp32_lane_rate(), Ceiling::fp32, true}, hbm};
  std::string path(to_string(t.mma));
  if (t.mma == MmaPath::native) path = d.compute_capability >= 90 ? "wgmma" : "mma.sync";
  return {{std::string(impl->key) + " tensor (" + path + ", sustained)", false, sustained_tensor_rate(d, t.mma, dtype), Ceiling::tensor, true},
          hbm};
}

std::vector<RidgePoint> ridge_points(const std::vector<RoofCeiling>& ceilings) {
  std::vector<RidgePoint> out;
  const RoofCeiling* tensor = nullptr;
  const RoofCeiling* fp32 = nullptr;
  for (const auto& c : ceilings) {
    if (c.achievable) continue;  // ridges are the datasheet roofline's
    if (c.ceiling == Ceiling::tensor) tensor = &c;
    if (c.ceiling == Ceiling::fp32) fp32 = &c;
  }
  for (const auto& c : ceilings) {
    if (!c.diagonal || c.value <= 0 || c.achievable) continue;
    // Williams et al. §2: the ridge sits at AI = peak / bandwidth.
    if (tensor && tensor->value > 0) out.push_back({c.name + " / " + tensor->name, tensor->value / c.value, tensor->value});
    if (c.ceiling == Ceiling::hbm && fp32 && fp32->value > 0) {
      out.push_back({c.name + " / " + fp32->name, fp32->value / c.value, fp32->value});
    }
  }
  return out;
}

RoofPoint roof_point(const Prediction& p) {
  const double flops = p.flops().d(), bytes = p.hbm_bytes().d();
  return {bytes > 0 ? flops / bytes : 0, p.predicted_time_s > 0 ? flops / p.predicted_time_s : 0};
}

RoofPoint measured_point(const Prediction& p, double measured_hbm_bytes, double measured_time_s) {
  const double flops = p.flops().d();
  return {measured_hbm_bytes > 0 ? flops / measured_hbm_bytes : 0, measured_time_s > 0 ? flops / measured_time_s : 0};
}

std::vector<LevelPoint> level_points(const Prediction& p) {
  std::vector<LevelPoint> out;
  const double flops = p.flops().d(), rate = roof_point(p).flops_per_s;
  const std::pair<const char*, double> levels[] = {{"L2", p.l2_bytes().d()}, {"SRAM", p.sram_bytes().d()}};
  for (const auto& [name, bytes] : levels) {
    if (bytes > 0) out.push_back({name, {flops / bytes, rate}});
  }
  return out;
}

RoofRange roof_range(const std::vector<RoofCeiling>& ceilings, const std::vector<RoofPoint>& points) {
  double x_lo = 1e-2, x_hi = 1e4, y_lo = 1e30, y_hi = 0;
  for (const auto& c : ceilings) {
    if (!c.diagonal) y_lo = std::min(y_lo, c.value), y_hi = std::max(y_hi, c.value);
  }
  for (const auto& p : points) {
    if (p.intensity <= 0 || p.flops_per_s <= 0) continue;
    x_lo = std::min(x_lo, p.intensity), x_hi = std::max(x_hi, p.intensity);
    y_lo = std::min(y_lo, p.flops_per_s), y_hi = std::max(y_hi, p.flops_per_s);
  }
  return {std::pow(10, std::floor(std::log10(x_lo))), std::pow(10, std::ceil(std::log10(x_hi * 1.5))),
          std::pow(10, std::floor(std::log10(std::max(y_lo, 1.0) / 3))), std::pow(10, std::ceil(std::log10(std::max(y_hi, 1.0) * 1.5)))};
}

}  // namespace attnio::gui
