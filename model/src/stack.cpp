// The whole-model step (stack.hpp). Layer shapes as the Hugging Face modeling files build them
// (hf_config.cpp count_params cites them); a step's tokens T = B·N in prefill, B in decode.
#include "attnio/model/stack.hpp"

#include <algorithm>
#include <cmath>

namespace attnio {

namespace {

void add_gemm(StackCost& out, const Device& dev, Dtype dt, const char* name, std::uint64_t count, std::uint64_t m,
              std::uint64_t n, std::uint64_t k) {
  if (count == 0 || m == 0 || n == 0 || k == 0) return;
  const Prediction p = predict_gemm(dev, dt, m, n, k, count);
  StackPart part{name, count, p.flops().d(), static_cast<double>(count) * static_cast<double>(k * n * dtype_bytes(dt)),
                 p.hbm_bytes().d(), p.predicted_time_s, p.bound};
  out.parts.push_back(part);
}

// A memory-bound elementwise pass of `bytes` (read and written) over the chip's sustained
// bandwidth plus one launch per pass.
void add_pass(StackCost& out, const Device& dev, const char* name, std::uint64_t count, double bytes) {
  if (count == 0 || bytes <= 0) return;
  const double t = bytes / dev.sustained_hbm_rate() + static_cast<double>(count) * dev.launch_overhead_s;
  out.parts.push_back({name, count, 0, 0, bytes, t, Bound::hbm});
}

}  // namespace

StackCost evaluate_stack(const Device& dev, const ModelConfig& c, const Workload& input) {
  StackCost out;
  Workload w = c.apply(input);
  const Prediction mixer = predict(dev, w);
  const Workload& r = mixer.workload;
  const Dtype dt = r.dtype;
  const double e = static_cast<double>(dtype_bytes(dt));
  const std::uint64_t T = r.batch * r.query_len(), h = c.hidden_size, L = c.layers;
  out.tokens = T;
  out.cache_bytes = mixer.kv_cache_bytes.d();
  out.parts.push_back({c.native_variant.is("mamba") ? "Mamba mixer" : "attention mixer", L, mixer.flops().d(), 0,
                       mixer.hbm_bytes().d(), mixer.predicted_time_s, mixer.bound});
  const ParamCount params = count_params(c);
  if (c.native_variant.is("mamba")) {
    // MambaMixer: in_proj h -> 2D, x_proj D -> r + 2N, dt_proj r -> D, out_proj D -> h.
    const std::uint64_t D = c.d_inner, N = c.state_dim, rk = c.dt_rank != 0 ? c.dt_rank : (h + 15) / 16;
    add_gemm(out, dev, dt, "in_proj", L, T, 2 * D, h);
    add_gemm(out, dev, dt, "x_proj", L, T, rk + 2 * N, D);
    add_gemm(out, dev, dt, "dt_proj", L, T, D, rk);
    add_gemm(out, dev, dt, "out_proj", L, T, h, D);
  } else {
    // Attention in: q, k, v (or MLA's low-rank chain, taken as one GEMM of the same weights);
    // attention out: o_proj.
    const double attn_per_layer = params.attention / static_cast<double>(L);
    const std::uint64_t o_in = c.heads * c.v_head_dim;
    const std::uint64_t in_width = static_cast<std::uint64_t>(std::llround((attn_per_layer - static_cast<double>(o_in * h)) / static_cast<double>(h)));
    add_gemm(out, dev, dt, "attention projections", L, T, in_width, h);
    add_gemm(out, dev, dt, "output projection", L, T, h, o_in);
    std::uint64_t moe_layers = 0;
    if (c.experts != 0) {
      for (std::uint64_t l = c.first_dense_layers; l < L; ++l) moe_layers += (l % c.moe_layer_freq == 0) ? 1 : 0;
    }
    const std::uint64_t dense = L - moe_layers;
    const std::uint64_t I = c.intermediate != 0 ? c.intermediate : 4 * h;
    if (c.gated_mlp) {
      add_gemm(out, dev, dt, "MLP gate+up", dense, T, 2 * I, h);
    } else {
      add_gemm(out, dev, dt, "MLP up", dense, T, I, h);
    }
    add_gemm(out, dev, dt, "MLP down", dense, T, h, I);
    if (moe_layers != 0) {
      const std::uint64_t Im = c.moe_intermediate != 0 ? c.moe_intermediate : I;
      add_gemm(out, dev, dt, "router", moe_layers, T, c.experts, h);
      // The experts the step's tokens touch, each with its share of the T·k routed tokens.
      const double touched = expected_experts(c.experts, c.experts_per_token, T);
      const std::uint64_t experts = static_cast<std::uint64_t>(std::ceil(touched));
      const std::uint64_t per_expert = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(static_cast<double>(T * c.experts_per_token) / touched)));
      add_gemm(out, dev, dt, "routed experts gate+up", moe_layers * experts, per_expert, 2 * Im, h);
      add_gemm(out, dev, dt, "routed experts down", moe_layers * experts, per_expert, h, Im);
      if (c.shared_experts != 0) {
        add_gemm(out, dev, dt, "shared experts gate+up", moe_layers, T, 2 * Im * c.shared_experts, h);
        add_gemm(out, dev, dt, "shared experts down", moe_layers, T, h, Im * c.shared_experts);
      }
    }
  }
  // Norms: two per layer and a final one, each reading and writing T x h activations.
  add_pass(out, dev, "norms", 2 * L + 1, static_cast<double>(2 * L + 1) * 2 * static_cast<double>(T * h) * e);
  // Embedding: T rows gathered and written.
  add_pass(out, dev, "embedding", 1, 2 * static_cast<double>(T * h) * e);
  add_gemm(out, dev, dt, "LM head", 1, T, c.vocab, h);
  out.footprint_bytes = params.total() * e + out.cache_bytes;
  out.fits = out.footprint_bytes <= dev.hbm_capacity_bytes;
  for (const StackPart& p : out.parts) {
    out.time_s += p.time_s;
    out.flops += p.flops;
    out.weight_bytes += p.weight_bytes;
    out.hbm_bytes += p.hbm_bytes;
  }
  return out;
}

}  // namespace attnio
