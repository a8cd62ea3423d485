#include "roofline.hpp"

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

std::vector<RidgePoint> ridge_points(const std::vector<RoofCeiling>& ceilings) {
  std::vector<RidgePoint> out;
  const RoofCeiling* tensor = nullptr;
  const RoofCeiling* fp32 = nullptr;
  for (const auto& c : ceilings) {
    if (c.ceiling == Ceiling::tensor) tensor = &c;
    if (c.ceiling == Ceiling::fp32) fp32 = &c;
  }
  for (const auto& c : ceilings) {
    if (!c.diagonal || c.value <= 0) continue;
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

}  // namespace attnio::gui
