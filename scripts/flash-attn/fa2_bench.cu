// A timing harness for FlashAttention-2's own kernels, without PyTorch: it fills the library's
// Flash_fwd_params the way flash-attention's csrc/flash_attn/flash_api.cpp does (set_params_fprop,
// set_params_splitkv, mha_fwd for prefill, mha_fwd_kvcache for decode: the query heads of a group
// swapped into the rows, cache_seqlens read by the kernel, the split heuristic over 2 CTAs per SM)
// and calls the library's dispatch (run_mha_fwd_, run_mha_fwd_splitkv_dispatch), so it runs the
// kernels flash-attn runs (one split runs the forward kernel, as run_mha_fwd does without
// force_split_kernel). Built by scripts/flash-attn/build-bench from a flash-attention checkout; run
// on a GPU by scripts/device-check (its output goes into attnio's validation evidence, labelled as
// measured on that device).
//
// Per case it checks the output against a float64 CPU reference (sampled rows of the first and
// last batch; every head in decode; every element written: outputs start as NaN; and after the
// timing, the timed calls' output the same as the first call's), then
// times the call with CUDA events, median over 100 calls after 10 warm-up calls, queued behind a
// 20 ms spin kernel so that the host's launch work is not in the intervals:
//   warm: calls back to back (prefill is timed warm only);
//   cold: a 256 MiB cudaMemsetAsync before each call (the L2 flushed, as flash-attention-lab's
//         harness does with zero_()), outside the events.
// The query is drawn from [-8, 8) and K and V from [-1, 1), so each row's softmax is peaked and a
// row read from the wrong head, batch or stride differs from the reference by far more than the
// 0.02 allowed (a correct fp16 or bf16 run is within a few 1e-3).
// Exits 1 when an output is further than 0.02 from the reference (the parameters would be wrong).
// Output: one CSV line per case and mode, as each finishes, in bench_common.cuh's columns (kernel
// fa2, pass fwd, causal 0).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <cutlass/numeric_types.h>

#include "bench_common.cuh"
#include "flash.h"

namespace {

using flash::Flash_fwd_params;
using namespace bench;

// flash_api.cpp num_splits_heuristic, as called by set_params_splitkv (2 CTAs per SM).
int num_splits_heuristic(int batch_nheads_mblocks, int num_sms, int num_n_blocks, int max_splits) {
  if (batch_nheads_mblocks >= 0.8f * num_sms) return 1;
  max_splits = std::min({max_splits, num_sms, num_n_blocks});
  auto cdiv = [](int a, int b) { return (a + b - 1) / b; };
  auto eligible = [&](int s) { return s == 1 || cdiv(num_n_blocks, s) != cdiv(num_n_blocks, s - 1); };
  std::vector<float> eff(max_splits + 1, 0.f);  // float, as the library computes it
  float best = 0.f;
  for (int s = 1; s <= max_splits; ++s) {
    if (!eligible(s)) continue;
    const float waves = float(batch_nheads_mblocks * s) / num_sms;
    eff[s] = waves / std::ceil(waves);
    best = std::max(best, eff[s]);
  }
  for (int s = 1; s <= max_splits; ++s) {
    if (eligible(s) && eff[s] >= 0.85 * best) return s;  // compared in double, as the library does
  }
  return 1;
}

void common(Flash_fwd_params& p, float scale) {
  p.scale_softmax = scale;
  p.scale_softmax_log2 = scale * float(M_LOG2E);
  p.p_dropout = 1.f;  // the keep probability: no dropout
  p.p_dropout_in_uint8_t = 255;
  p.rp_dropout = 1.f;
  p.scale_softmax_rp_dropout = scale;
  p.window_size_left = p.window_size_right = -1;
  p.is_causal = false;
  p.softcap = 0.f;
  p.rotary_dim = 0;
}

// mha_fwd: q, k, v (B, N, H, d) contiguous, fp16, not causal.
template <int D>
void prefill(int b, int h, int n, void* flush, size_t flush_bytes) {
  using T = cutlass::half_t;
  const size_t elems = size_t(b) * n * h * D;
  Device<T> q(elems), k(elems), v(elems), o(elems);
  Device<float> lse(size_t(b) * h * n);
  inputs(q, k, v, o, 1);
  Flash_fwd_params p{};
  p.q_ptr = q.p, p.k_ptr = k.p, p.v_ptr = v.p, p.o_ptr = o.p, p.softmax_lse_ptr = lse.p;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.o_row_stride = int64_t(h) * D;
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.o_head_stride = D;
  p.q_batch_stride = p.k_batch_stride = p.v_batch_stride = p.o_batch_stride = int64_t(n) * h * D;
  p.b = b, p.h = p.h_k = h, p.h_h_k_ratio = 1;
  p.seqlen_q = p.seqlen_k = n;
  p.seqlen_q_rounded = p.seqlen_k_rounded = round_up(n, 128);
  p.d = D, p.d_rounded = round_up(D, 32);
  p.is_seqlens_k_cumulative = true;
  p.num_splits = 1;
  common(p, 1.f / std::sqrt(float(D)));
  auto call = [&] { flash::run_mha_fwd_<T, D, false>(p, nullptr); };
  run_once(call, "prefill");
  // Rows at the start, middle and end of the first and last batch, at three heads.
  const auto hq = q.host(), hk = k.host(), hv = v.host(), ho = o.host();
  double err = all_finite(ho) ? 0.0 : INFINITY;  // every output written
  for (int bi : {0, b - 1}) {
    for (int row : {0, n / 2, n - 1}) {
      for (int head : {0, h / 2, h - 1}) {
        const size_t base = size_t(bi) * n * h * D, off = base + size_t(row) * h * D + size_t(head) * D;
        err = std::max(err, max_row_error(hq, hk, hv, ho, off, base + size_t(head) * D, size_t(h) * D, off, n, D));
      }
    }
  }
  const Timing t = time_call(call, false, flush, flush_bytes);
  err = std::max(err, max_abs_diff(ho, o.host()));  // the timed calls wrote the same output
  line("fa2", "prefill", "fwd", false, "fp16", b, h, h, n, n, D, 1, "warm", t, err);
}

// mha_fwd_kvcache with cache_seqlens and no new K/V: q (B, 1, H, d), caches (B, Nk, Hkv, d), bf16.
// splits 0: the library's heuristic.
// once: the checked call only, no timing (for Nsight Compute to time each kernel).
void decode(int b, int h, int hk, int nk, int splits_given, void* flush, size_t flush_bytes, int num_sms, bool once) {
  constexpr int D = 128;
  using T = cutlass::bfloat16_t;
  const size_t qn = size_t(b) * h * D, kn = size_t(b) * nk * hk * D;
  Device<T> q(qn), k(kn), v(kn), o(qn);
  Device<int> seqlens(b);
  inputs(q, k, v, o, 4);
  std::vector<int> lens(b, nk);
  check(cudaMemcpy(seqlens.p, lens.data(), b * sizeof(int), cudaMemcpyHostToDevice), "seqlens");
  // seqlenq_ngroups_swapped: q viewed as (B, ngroups, Hkv, d), strides (H d, d, ngroups d).
  const bool swapped = h > hk;
  const int ngroups = h / hk, seqlen_q = swapped ? ngroups : 1, heads = swapped ? hk : h;
  Flash_fwd_params p{};
  p.q_ptr = q.p, p.k_ptr = k.p, p.v_ptr = v.p, p.o_ptr = o.p;
  p.q_row_stride = p.o_row_stride = swapped ? D : int64_t(h) * D;
  p.q_head_stride = p.o_head_stride = swapped ? int64_t(ngroups) * D : D;
  p.q_batch_stride = p.o_batch_stride = int64_t(h) * D;
  p.k_row_stride = p.v_row_stride = int64_t(hk) * D;
  p.k_head_stride = p.v_head_stride = D;
  p.k_batch_stride = p.v_batch_stride = int64_t(nk) * hk * D;
  p.b = b, p.h = heads, p.h_k = hk, p.h_h_k_ratio = heads / hk;
  p.seqlen_q = seqlen_q, p.seqlen_k = nk;
  p.seqlen_q_rounded = round_up(seqlen_q, 128), p.seqlen_k_rounded = round_up(nk, 128);
  p.d = D, p.d_rounded = D;
  p.is_bf16 = true;
  p.cu_seqlens_k = seqlens.p;
  p.is_seqlens_k_cumulative = false;
  common(p, 1.f / std::sqrt(float(D)));
  Device<float> lse(size_t(b) * heads * seqlen_q);
  p.softmax_lse_ptr = lse.p;
  const int block_n = 128, n_blocks = (nk + block_n - 1) / block_n, m_blocks = (seqlen_q + 63) / 64;
  p.num_splits = splits_given > 0 ? splits_given : num_splits_heuristic(b * heads * m_blocks, num_sms * 2, n_blocks, 128);
  const size_t acc_rows = size_t(p.num_splits) * b * heads * seqlen_q;
  Device<float> lse_accum(p.num_splits > 1 ? acc_rows : 0), o_accum(p.num_splits > 1 ? acc_rows * D : 0);
  if (p.num_splits > 1) p.softmax_lseaccum_ptr = lse_accum.p, p.oaccum_ptr = o_accum.p;
  // run_mha_fwd(params, stream, force_split_kernel = false): one split runs the forward kernel.
  auto call = [&] {
    if (p.num_splits <= 1) {
      flash::run_mha_fwd_<T, D, false>(p, nullptr);
    } else {
      flash::run_mha_fwd_splitkv_dispatch<T, D, false>(p, nullptr);
    }
  };
  run_once(call, "decode");
  const auto hq = q.host(), hkc = k.host(), hvc = v.host(), ho = o.host();
  double err = all_finite(ho) ? 0.0 : INFINITY;
  for (int bi : {0, b - 1}) {
    for (int head = 0; head < h; ++head) {
      const size_t off = size_t(bi) * h * D + size_t(head) * D;
      const size_t k_off = size_t(bi) * nk * hk * D + size_t(head / ngroups) * D;
      err = std::max(err, max_row_error(hq, hkc, hvc, ho, off, k_off, size_t(hk) * D, off, nk, D));
    }
  }
  if (once) {
    worst_error = std::max(worst_error, err);
    std::fprintf(stderr, "fa2_bench: decode B=%d H=%d Hkv=%d Nk=%d, %d split(s): max |error| %.3g\n", b, h, hk, nk,
                 p.num_splits, err);
    return;
  }
  for (const bool cold : {false, true}) {
    const Timing t = time_call(call, cold, flush, flush_bytes);
    line("fa2", "decode", "fwd", false, "bf16", b, h, hk, 1, nk, D, p.num_splits, cold ? "cold" : "warm", t,
         std::max(err, max_abs_diff(ho, o.host())));
  }
}

}  // namespace

int main(int argc, char** argv) {
  program = "fa2_bench";
  // --decode-once: each decode case's checked call alone, no prefill and no timing, so that
  // `ncu --cache-control all` times each kernel of each call with the caches flushed.
  const bool once = argc > 1 && std::string(argv[1]) == "--decode-once";
  if (argc > 2 || (argc == 2 && !once)) {
    std::fprintf(stderr, "usage: fa2_bench [--decode-once]\n");
    return 2;
  }
  int dev = 0, sms = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "SM count");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  std::fprintf(stderr, "fa2_bench: %s, %d SMs; built with nvcc %d.%d.%d\n", prop.name, sms, __CUDACC_VER_MAJOR__,
               __CUDACC_VER_MINOR__, __CUDACC_VER_BUILD__);
  const size_t flush_bytes = size_t(256) << 20;
  void* flush = nullptr;
  check(cudaMalloc(&flush, flush_bytes), "flush buffer");
  if (!once) {
    header();
    // The FlashAttention-2 paper's forward shapes (B x N = 16k tokens, H = 2048 / d), not causal.
    for (const int n : {2048, 8192}) prefill<64>(16384 / n, 32, n, flush, flush_bytes);
    for (const int n : {2048, 8192}) prefill<128>(16384 / n, 16, n, flush, flush_bytes);
  }
  // flash-attention-lab's decode shapes (H = 32, d = 128), the library's split count.
  const int shapes[][3] = {{1, 8, 512}, {1, 32, 512}, {8, 8, 512}, {1, 8, 2048}, {4, 8, 2048}, {8, 32, 2048}, {1, 8, 32768}};
  for (const auto& s : shapes) decode(s[0], 32, s[1], s[2], 0, flush, flush_bytes, sms, once);
  // One small decode at fixed split counts: 1 runs the forward kernel alone (as the library does
  // with one split), more run the split-KV kernel and the combine.
  for (const int splits : {1, 2, 4, 8, 16}) decode(1, 32, 8, 2048, splits, flush, flush_bytes, sms, once);
  cudaFree(flush);
  return verdict();
}
