// What several variant files share: the parameters declared once for a family (flash tiles,
// split-KV splits, cross-layer K/V sharing), the default K/V cache, and the small formatting helpers
// of params_text and explain. Internal to model/.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>

#include "attnio/model/variant.hpp"
#include "attnio/model/workload.hpp"
#include "../engine/evaluator.hpp"
#include "../engine/schedule.hpp"

namespace attnio::detail {

// ALU instructions (FMNMX, ISETP, SEL/FSEL, the F2FP packs; flash.cpp per_score_instr): issue
// slots beside the FMA pipe (KernelCost::other_instr) and the ALU pipe's own lanes (alu_instr).
inline void add_alu(KernelCost& k, Count n) {
  k.other_instr += n;
  k.alu_instr += n;
}

// FFTs on CUDA cores (fnet, longconv). FLOPs by FFTW's benchFFT convention: 5 n log2 n per complex
// transform of length n, half that for a real one. Passes over the data: one when a signal of `len`
// complex fp32 values fits in half an SM's shared memory, else two (the four-step FFT, Bailey 1990):
// an assumption about cuFFT's plans.
inline u64 fft_passes(const Evaluator& ev, u64 len) { return len * 8 <= ev.dev().smem_bytes_per_sm / 2 ? 1 : 2; }
inline double fft_flops_per_point(u64 len, bool real) { return (real ? 2.5 : 5.0) * std::log2(static_cast<double>(len)); }

// Flash tiles Br x Bc (FlashAttention Alg. 1 line 1 when not given) and GQA-packed split-KV.
extern const ParamSpec kBlockM, kBlockN, kSplits;
// Cross-layer attention (Brandon et al. 2024 §2): one K/V cache per k consecutive layers.
extern const ParamSpec kClaShare;
// Quantized K/V caches of the decode variants: bits per cached element and the group of elements
// sharing one fp16 scale and zero point (0: one scale per tensor, as fp8 caches keep it).
extern const ParamSpec kKvBits, kKvGroup;

// Resident threads per SM (CUDA C++ Programming Guide, "Compute Capabilities"): 2048 on sm_70,
// sm_80 and sm_90, 1536 on sm_86 and sm_89, 1024 on sm_75.
inline u64 threads_per_sm(const Device& dev) {
  const int cc = dev.compute_capability;
  return cc == 75 ? 1024 : cc == 86 || cc == 89 ? 1536 : 2048;
}

// Bytes of one cached row of `elems` elements (a token's K, V or latent): the activation dtype, or
// kv-bits per element plus 4 bytes (fp16 scale and zero point, KIVI §3.2) per kv-group elements.
u64 kv_row_bytes(const Workload& w, u64 elems);
// FP32-pipe instructions that turn one cached element back into the MMA's dtype: 0 unquantized;
// with a per-tensor scale 1 (a conversion; the scale folds into the softmax scale and the output, as
// vLLM's fp8 kernels apply k_scale and v_scale), 2 for 4-bit (an unpack as well); with group scales
// one FMA more (scale and zero point): 2, or 3 for 4-bit.
u64 kv_dequant_instr(const Workload& w);
// Refuses kv-bits/kv-group settings the layout cannot hold (InputError naming the flags).
void check_kv_format(const Workload& w);

// Given block sizes must fit with their Q, K and V tiles in SRAM (InputError naming both flags).
void check_block_tiles(const Workload& w);

// The tiles Br x Bc of the workload's implementation for one of its kernels at head dim `d`:
// the profile's own (impl.cpp), or FlashAttention Alg. 1 from M for `ideal`, for profiles that
// name no tile for that head dim, and where the profile's tiles do not fit the workload's
// --sram-bytes. {0, 0} for d = 0.
BlockSizes impl_tiles(const Workload& w, KernelRole role, u64 d);
// Fills block_m / block_n that are not set with impl_tiles().
void fill_tiles(Workload& w, KernelRole role, u64 d);

// The K/V cache of batch x kv-len tokens of every K/V head, for ceil(layers / cla-share) layers.
Count kv_cache_bytes(const Workload& w);
// The keys and values one prefill layer attends, over all layers, for variants with no decode step
// and no cross-layer sharing (clustered, gau): kv_heads_bytes(shape, kv-len) x layers.
inline Count attended_kv_bytes(const Workload& w) {
  const Shape s = shape_of(w);
  return kv_heads_bytes(s, s.nk, dtype_bytes(w.dtype)) * w.layers;
}
Count kv_cache_tokens(const Workload& w, u64 tokens);

// Paged caches (variants/paged.cpp): the schedules place a sequence's logical page p at physical
// page (b·pages + p)·stride mod slots, a fixed permutation of the `slots` pages (stride coprime to
// slots, from a multiplicative hash), so that pages scatter as an allocator's do.
inline u64 page_permutation_stride(u64 slots) {
  if (slots <= 1) return 1;
  u64 stride = 2654435761u % slots;
  if (stride == 0) stride = 1;
  auto gcd = [](u64 a, u64 b) { while (b) { a %= b; std::swap(a, b); } return a; };
  while (gcd(stride, slots) != 1) ++stride;
  return stride;
}
// A paged decode's pages per sequence and the bytes of its last pages' empty tails (over all layers).
inline void set_page_extras(Evaluator& ev, u64 pages) {
  const Workload& w = ev.w();
  const Shape s = ev.shape();
  ev.out().extras.pages_per_seq = pages;
  ev.out().extras.page_waste_bytes = Count(s.batch) * s.kv_heads * (pages * w.count("page_size") - s.nk) *
                                     (kv_row_bytes(w, s.d) + kv_row_bytes(w, s.dv)) * w.layers;
}

// "key=value" words of params_text.
inline void put(std::string& s, const std::string& key, const std::string& value) {
  s += (s.empty() ? "" : " ") + key + "=" + value;
}
// params_text's trailing split count of split-KV kernels.
inline std::string splits_text(const Prediction& p) {
  std::string s;
  if (p.splits != 0) put(s, "splits", std::to_string(p.splits));
  return s;
}

inline std::string num(u64 v) { return std::to_string(v); }
inline std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

}  // namespace attnio::detail
