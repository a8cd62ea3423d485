// predict(): resolve and validate the workload, let the variant's descriptor append the kernels one
// layer launches (its closed form, model/src/variants/), multiply by the layers, apply the roofline
// per kernel and sum.
#include "attnio/model/predict.hpp"

#include <algorithm>
#include <cmath>

#include "engine/evaluator.hpp"
#include "variants/common.hpp"

namespace attnio {

namespace {

using namespace detail;
__extension__ typedef __int128 i128;  // GCC/Clang extension: exact sums before the 64-bit check

// ---- roofline and time ----------------------------------------------------------------------

// Roofline (Williams, Waterman & Patterson 2009), one ceiling per unit and memory level (hierarchical
// roofline, Yang et al. 2020): a kernel takes as long as its slowest ceiling. Wave quantization at SM
// granularity: the busiest SM runs ceil(CTAs / SMs) CTAs while the average runs CTAs / SMs, so the
// per-SM ceilings deliver that fraction (a grid smaller than the SM count leaves SMs idle, docs/model.md
// "Time"). Each launch adds the device's launch overhead.
void apply_roofline(Prediction& pr, const Device& dev, u64 layers) {
  const Dtype dtype = pr.workload.dtype;
  const double rates[kCeilingCount] = {dev.tensor_rate(dtype), dev.fp32_rate(), dev.sfu_rate(), dev.hbm_rate(),
                                       dev.l2_rate(), dev.sram_bytes_per_s, dev.nvlink_bytes_per_s};
  double longest = -1;
  for (int i = 0; i < pr.kernel_count; ++i) {
    KernelCost& k = pr.kernels[i];
    const double per_sm = k.ctas.d() / static_cast<double>(k.launches) / static_cast<double>(dev.sm_count);
    const double eff = per_sm / std::ceil(per_sm);
    const double work[kCeilingCount] = {k.tensor_flops.d(), k.fp32_flops.d(), k.sfu_ops.d(),
                                        (k.hbm_read + k.hbm_write).d(), (k.l2_read + k.l2_write).d(),
                                        (k.sram_read + k.sram_write).d(), k.link_bytes.d()};
    double t = 0;
    for (int c = 0; c < kCeilingCount; ++c) {
      if (work[c] == 0) continue;
      const bool per_sm = static_cast<Ceiling>(c) != Ceiling::link;
      const double tc = work[c] / (rates[c] * (per_sm ? eff : 1.0));
      pr.ceiling_time_s[c] += tc * static_cast<double>(layers);
      t = std::max(t, tc);
    }
    const double launch = static_cast<double>(k.launches) * dev.launch_overhead_s;
    pr.launch_time_s += launch * static_cast<double>(layers);
    pr.predicted_time_s += (t + launch) * static_cast<double>(layers);
    if (t > longest) {
      longest = t;
      pr.wave_efficiency = eff;
    }
  }
  int best = 0;
  for (int c = 1; c < kCeilingCount; ++c) {
    if (pr.ceiling_time_s[c] > pr.ceiling_time_s[best]) best = c;
  }
  pr.binding_ceiling = static_cast<Ceiling>(best);
}

}  // namespace

std::string_view to_string(Ceiling c) {
  switch (c) {
    case Ceiling::tensor: return "tensor";
    case Ceiling::fp32: return "fp32";
    case Ceiling::sfu: return "sfu";
    case Ceiling::hbm: return "hbm";
    case Ceiling::l2: return "l2";
    case Ceiling::sram: return "sram";
    case Ceiling::link: return "nvlink";
  }
  return "?";
}

Count sum_clamped(std::uint64_t n, std::int64_t c, std::uint64_t k) {
  const i128 N = n, C = c, K = k;
  // Terms are 0 while r + c <= 0, r + c while 0 < r + c < k, and k after.
  const i128 ra = std::min<i128>(N, std::max<i128>(0, 1 - C));
  const i128 rb = std::min<i128>(N, std::max<i128>(ra, K - C));
  const i128 rising = (rb - ra) * C + (ra + rb - 1) * (rb - ra) / 2;
  const i128 total = rising + (N - rb) * K;
  if (total < 0 || total > static_cast<i128>(UINT64_MAX)) Count::overflow();
  return static_cast<std::uint64_t>(total);
}

BlockSizes flash_block_sizes(std::uint64_t sram_bytes, std::uint64_t elem_bytes, std::uint64_t head_dim) {
  const u64 m = sram_bytes / elem_bytes;  // M in elements
  const u64 bc = ceil_div(m, 4 * head_dim);
  return {min_u(bc, head_dim), bc};
}


Count memory_footprint_bytes(const Prediction& p) {
  const Workload& w = p.workload;
  const Count activations = Count(w.batch) * w.query_len() * w.heads * (w.head_dim + w.v_head_dim) * dtype_bytes(w.dtype);
  return p.kv_cache_bytes + p.extra_memory_bytes + activations;
}

bool fits_in_hbm(const Prediction& p, const Device& device) {
  return memory_footprint_bytes(p).d() <= device.hbm_capacity_bytes;
}

std::string params_text(const Prediction& p) {
  const VariantDescriptor& v = *p.workload.variant;
  return v.params_text ? v.params_text(p) : std::string();
}

Prediction predict(const Device& device, const Workload& input) {
  const Workload w = resolve(input, device);
  validate(w, device);
  Prediction out;
  out.workload = w;
  Evaluator ev(device, out.workload, out);
  w.variant->evaluate(ev);

  for (int i = 0; i < out.kernel_count; ++i) {
    const KernelCost& k = out.kernels[i];
    const Count n = w.layers;
    out.tensor_flops += k.tensor_flops * n;
    out.fp32_flops += k.fp32_flops * n;
    out.sfu_flops += k.sfu_ops * n;
    out.hbm_read_bytes += k.hbm_read * n;
    out.hbm_write_bytes += k.hbm_write * n;
    out.l2_read_bytes += k.l2_read * n;
    out.l2_write_bytes += k.l2_write * n;
    out.sram_read_bytes += k.sram_read * n;
    out.sram_write_bytes += k.sram_write * n;
    out.link_bytes += k.link_bytes * n;
    out.launches += Count(k.launches) * n;
    out.ctas += k.ctas * n;
  }
  out.kv_cache_bytes = w.variant->cache_bytes ? w.variant->cache_bytes(w) : kv_cache_bytes(w);
  out.io_complexity = w.variant->io_complexity(w);
  const Count hbm = out.hbm_bytes();
  out.arithmetic_intensity = hbm.v == 0 ? 0.0 : out.flops().d() / hbm.d();
  apply_roofline(out, device, w.layers);
  return out;
}

}  // namespace attnio
