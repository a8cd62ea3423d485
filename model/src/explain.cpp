#include "attnio/model/explain.hpp"

#include <cmath>
#include <cstdio>
#include <string>

namespace attnio {

namespace {

std::string scaled_unit(double x, const char* const units[], int count, double step) {
  int i = 0;
  while (std::fabs(x) >= step && i + 1 < count) {
    x /= step;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, x >= 100 || i == 0 ? "%.0f %s" : "%.3g %s", x, units[i]);
  return buf;
}

std::string num(std::uint64_t v) { return std::to_string(v); }

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

std::string derivation(const Prediction& p) {
  const Workload& w = p.workload;
  const std::uint64_t e = dtype_bytes(w.dtype);
  const std::string N = num(w.query_len()), Nk = num(w.kv_len), d = num(w.head_dim), dv = num(w.v_head_dim);
  const std::string B = num(w.batch), H = num(w.heads), Hkv = num(w.kv_heads), E = num(e);
  const std::string M = num(w.sram_bytes / e);
  const std::string br = num(p.block_m), bc = num(p.block_n);
  switch (w.variant) {
    case Variant::standard:
      return "FlashAttention Alg. 0: S = QK^T is written to HBM (B·H·N·Nk·e = " + B + "·" + H + "·" + N + "·" + Nk +
             "·" + E + " bytes), read back by the softmax, which writes P of the same size, which the PV GEMM reads "
             "again: four N×Nk passes, Θ(N·d + N²) per head. GEMM tiles re-read Q, K, V through L2.\n";
    case Variant::flash1:
      return "FlashAttention Alg. 1 (FA1 loop order): block sizes Bc = ⌈M/4d⌉ = " + bc + ", Br = min(⌈M/4d⌉, d) = " + br +
             " with M = " + M + " elements. K_j, V_j are read once; for each of the Tc = ⌈Nk/Bc⌉ K/V blocks every Q block "
             "reads Q_i, O_i, l_i, m_i and writes O_i, l_i, m_i: Θ(N²d²/M) (Theorem 2). Doubling M halves Tc and so the "
             "Q/O traffic.\n";
    case Variant::flash2:
    case Variant::sliding_window:
    case Variant::block_sparse:
    case Variant::sigmoid:
    case Variant::dilated:
      return "FlashAttention-2 §3.1 (FA2 loop order): block sizes Br = " + br + ", Bc = " + bc + " (Alg. 1 from M = " + M +
             " elements unless given). Q is read once and O written once; each of the ⌈N/Br⌉ Q-block CTAs of a head "
             "reads the K/V blocks it needs, so K/V cross L2 ⌈N/Br⌉ times per head: 2·N·d·e + ⌈N/Br⌉·2·Nk·d·e. Those "
             "re-reads hit L2 when the K/V of the heads resident together fit (" +
             (w.l2 ? std::string("modeled") : std::string("turned off with --l2 off")) + ")." +
             (w.variant == Variant::sliding_window ? " The window W = " + num(w.window) + " bounds the K/V each Q block visits (Mistral 7B §2)." : "") +
             (w.variant == Variant::block_sparse ? " Only a fraction s = " + fmt("%.3g", w.block_density) + " of the blocks is visited (FlashAttention Prop. 4)." : "") +
             (w.variant == Variant::sigmoid ? " Sigmoid needs no row max or sum: no statistics written, no rescaling (FlashSigmoid)." : "") +
             (w.variant == Variant::dilated ? " Dilated: segments of w = " + num(w.segment) + " keep every r = " + num(w.dilation) + "th token (LongNet §2.2)." : "") + "\n";
    case Variant::chunked:
      return "Rabe & Staats 2021: query and key chunks of " + num(w.chunk) + " tokens; each chunk pair writes its scores "
             "(fp32) to HBM and reads them back, and a combine pass reads every partial output: memory O(chunk²) "
             "instead of O(N²), but the bytes stay Θ(N²) per head because nothing is fused across launches.\n";
    case Variant::flash_decoding:
      return "Flash-Decoding: one query token per sequence, so the K/V cache (2·B·Nk·Hkv·d·e = 2·" + B + "·" + Nk + "·" +
             Hkv + "·" + d + "·" + E + " bytes) dominates; the " + num(w.heads / w.kv_heads) +
             " query heads of a group share one read, and the keys are split " + num(p.splits) +
             " ways so that all SMs stream. Arithmetic intensity ≈ 2·g/e FLOP/byte: memory-bound.\n";
    case Variant::paged:
      return "PagedAttention (vLLM §4): the cache is read page by page (" + num(w.page_size) +
             " tokens) through a block table; the last page of each sequence is partly empty and still read. One CTA "
             "per query head: the g heads of a group re-read the same pages, mostly from L2.\n";
    case Variant::mla:
      return w.phase == Phase::decode
                 ? "DeepSeek-V2 §2.1 absorbed decode: the cache holds d_c + d_r = " + num(w.latent_dim) + " + " +
                       num(w.rope_dim) + " elements per token, read once for all " + H +
                       " heads; FLOPs 2·B·H·Nk·(2·d_c + d_r). With many heads this sits near the ridge point.\n"
                 : "DeepSeek-V2 prefill: the latent cache is up-projected to per-head K and V, then flash2 runs over "
                   "head dim d + d_r.\n";
    case Variant::linear:
      return "Katharopoulos et al. §3.2: φ(Q)(φ(K)^T V) with φ = elu + 1; the causal form carries an F×dv state "
             "per head between chunks of " + num(w.chunk) + " tokens, so Q, K, V are read once and O written once: Θ(N·d).\n";
    case Variant::performer:
      return "FAVOR+ (Choromanski et al. §2.3): r = " + num(w.features) + " positive random features per token are "
             "written by a feature kernel and read by linear attention: Θ(N·(d + r)) bytes, O(N·r·d) FLOPs.\n";
    case Variant::mamba:
      return "Mamba App. D: the fused scan reads x, Δ (B·L·D), B, C (B·L·N) and A (D·N) once and writes y once; "
             "the (B,L,D,N) state never leaves the chip. D = " + num(w.d_inner) + ", N = " + num(w.state_dim) + ".\n";
    case Variant::mamba_naive:
      return "Mamba App. D, unfused: the discretized Ā and B̄x (B,L,D,N), and the states h, are written to HBM and read "
             "back: Θ(B·L·D·N) bytes, N = " + num(w.state_dim) + " times the fused kernel's.\n";
    case Variant::fnet:
      return "FNet §3.1: FFT over the hidden size, then over the sequence, real part kept: a few passes over the "
             "activations (" + params_text(p) + "), O(N·d·log(N·d)) FLOPs on CUDA cores.\n";
    case Variant::ring:
      return "Ring attention (Liu et al. §3): " + num(w.gpus) + " GPUs hold N/P tokens each; each of P steps computes "
             "one block while passing K/V to the next GPU over NVLink; the transfer hides when a block's compute takes "
             "longer than its bytes over the link. Counts are for the busiest GPU.\n";
  }
  return "";
}

}  // namespace

std::string human_bytes(double bytes) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  return scaled_unit(bytes, units, 7, 1000.0);
}
std::string human_flops(double flops) {
  static const char* const units[] = {"FLOP", "kFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"};
  return scaled_unit(flops, units, 7, 1000.0);
}
std::string human_time(double s) {
  char buf[64];
  if (s < 1e-3) std::snprintf(buf, sizeof buf, "%.1f µs", s * 1e6);
  else if (s < 1) std::snprintf(buf, sizeof buf, "%.3g ms", s * 1e3);
  else std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

std::string explain(const Device& dev, const Prediction& p) {
  const Workload& w = p.workload;
  std::string out;
  out += std::string(to_string(w.variant)) + ": " + std::string(variant_summary(w.variant)) + "\n";
  out += "workload: B=" + num(w.batch) + " N=" + num(w.query_len()) + " Nk=" + num(w.kv_len) + " H=" + num(w.heads) +
         " Hkv=" + num(w.kv_heads) + " d=" + num(w.head_dim) + " dv=" + num(w.v_head_dim) + " " +
         std::string(to_string(w.dtype)) + " " + std::string(to_string(w.phase)) + " " + std::string(to_string(w.pass)) +
         (w.causal ? " causal" : "") + " layers=" + num(w.layers) + (params_text(p).empty() ? "" : " " + params_text(p)) + "\n";
  out += "device: " + dev.name + "\n\n";
  out += derivation(p);
  out += "IO complexity: " + std::string(p.io_complexity) + "\n\n";
  out += "kernels (one layer):\n";
  for (int i = 0; i < p.kernel_count; ++i) {
    const KernelCost& k = p.kernels[i];
    out += "  " + std::string(k.name) + (k.launches > 1 ? " x" + num(k.launches) : "") + ": " +
           num(k.ctas.v) + " CTAs; L2 read " + human_bytes(k.l2_read.d()) + ", write " + human_bytes(k.l2_write.d()) +
           "; HBM read " + human_bytes(k.hbm_read.d()) + ", write " + human_bytes(k.hbm_write.d()) + "; " +
           human_flops((k.tensor_flops + k.fp32_flops + k.sfu_ops).d()) + "\n";
  }
  out += "\ntotals: " + human_flops(p.flops().d()) + " (tensor " + human_flops(p.tensor_flops.d()) + ", fp32 " +
         human_flops(p.fp32_flops.d()) + ", sfu " + human_flops(p.sfu_flops.d()) + "); HBM " +
         human_bytes(p.hbm_bytes().d()) + ", L2 " + human_bytes(p.l2_bytes().d()) + ", SRAM " +
         human_bytes(p.sram_bytes().d()) + "\n";
  out += "arithmetic intensity: " + fmt("%.1f", p.arithmetic_intensity) + " FLOP/byte of HBM; ridge point " +
         fmt("%.0f", dev.tensor_rate(w.dtype) / dev.hbm_rate()) + " FLOP/byte for tensor math\n";
  out += "time by ceiling:";
  for (int c = 0; c < kCeilingCount; ++c) {
    if (p.ceiling_time_s[c] > 0) out += " " + std::string(to_string(static_cast<Ceiling>(c))) + " " + human_time(p.ceiling_time_s[c]);
  }
  out += "; launches " + human_time(p.launch_time_s) + "\n";
  out += "verdict: " + std::string(p.memory_bound() ? "memory" : "compute") + "-bound on " +
         std::string(to_string(p.binding_ceiling)) + ", predicted " + human_time(p.predicted_time_s) +
         ", KV cache " + human_bytes(p.kv_cache_bytes.d()) + "\n";
  return out;
}

}  // namespace attnio
