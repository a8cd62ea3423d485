// A timing harness for FlashAttention-3's own kernels (flash-attention's hopper/), without PyTorch:
// it fills the library's Flash_fwd_params and Flash_bwd_params the way hopper/flash_api.cpp does
// (set_params_fprop and mha_fwd: the causal flag as a window, one split as flash_attn_func asks, the
// pack-GQA heuristic, the persistent scheduler's tile-count semaphore zeroed before each call; set_params_dgrad and mha_bwd:
// the backward's own row rounding, dQ accumulator, softmax_d and log2-LSE buffers, dQ semaphore) and
// calls the library's dispatch (run_mha_fwd_ through its instantiation files; the backward through
// fa3_bwd_hdim128.cu, the two configurations its d = 128 dispatch picks on sm90). Built by
// `scripts/flash-attn/build-bench --fa3` from a flash-attention checkout; run on a GPU by
// scripts/device-check. It needs an sm_90 GPU (H100, H200).
//
// What it times (fp16, warm: FlashAttention's own benchmarks do not flush the L2):
//   forward: the FlashAttention-3 chart's shapes (B x N = 16k tokens, H x d = 2048), d = 64, 128
//            and 256, N = 512, 1024, 2048, 8192, causal and not (the model's FA3 causal d = 256
//            rows are 10-14 % too fast where the non-causal ones fit);
//   backward: d = 128, H = 16 at ThunderKittens' N = 768 and 1536 (B = 16) and the FlashAttention-3
//            paper's N = 512 (B = 32) and 1024 (B = 16), causal and not (its N = 768 rows are the
//            table's furthest, 42-48 % above the model).
// Checks: the forward's rows at the edges of the first row tiles, around the middle and at the end,
// of the first and last batch at three heads, against a float64 reference, with their LSE; every
// output element written (outputs start as NaN); the timed calls' output the same as the first.
// The backward's dQ, dK and dV of three heads, whole, against float64 gradients (error over each
// tensor's largest |reference|). Exits 1 beyond 0.02 (the parameters would be wrong).
// Output: bench_common.cuh's CSV, kernel fa3.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>
#include <vector>

#include <cutlass/numeric_types.h>

#include "bench_common.cuh"
#include "flash.h"
#include "tile_size.h"

// fa3_bwd_hdim128.cu: the library's sm90 d = 128 backward for MHA, not deterministic, not varlen.
void fa3_bwd_hdim128_fp16(Flash_bwd_params& params, cudaStream_t stream);

namespace {

using namespace bench;
using T = cutlass::half_t;

// set_params_fprop and the fields mha_fwd sets after it, for q, k, v, o (B, N, H, d) contiguous,
// H = H_kv, no varlen, paging, rotary, new K/V or FP8 scales; p is reset first, as there.
void fprop(Flash_fwd_params& p, int b, int h, int n, int d, int seqlen_q_rounded, int seqlen_k_rounded, void* q, void* k,
           void* v, void* o, void* lse, bool causal, int arch, int num_sm) {
  p = {};
  p.is_bf16 = false, p.is_e4m3 = false;
  p.q_ptr = q, p.k_ptr = k, p.v_ptr = v, p.o_ptr = o;
  p.q_row_stride = p.k_row_stride = p.v_row_stride = p.o_row_stride = int64_t(h) * d;  // stride(-3)
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.o_head_stride = d;           // stride(-2)
  p.v_dim_stride = 1;
  p.q_batch_stride = p.k_batch_stride = p.v_batch_stride = p.o_batch_stride = int64_t(n) * h * d;
  p.softmax_lse_ptr = lse;
  p.b = b, p.h = h, p.h_k = h;
  p.seqlen_q = p.seqlen_k = n;
  p.seqlen_q_rounded = seqlen_q_rounded, p.seqlen_k_rounded = seqlen_k_rounded;
  p.d = d, p.d_rounded = d;  // round_up_headdim: 64, 128 and 256 are their own
  p.scale_softmax = 1.f / std::sqrt(float(d));
  p.softcap = 0.f;
  p.p_dropout = 1.f, p.p_dropout_in_uint8_t = 255, p.rp_dropout = 1.f;  // keep probability 1
  // mha_fwd / mha_bwd: a window as wide as the sequence is none (-1); causal sets the right one to 0.
  int left = -1, right = causal ? 0 : -1;
  p.is_causal = left < 0 && right == 0;
  p.is_local = false;
  if (left < 0) left = n - 1;
  if (right < 0) right = n - 1;
  p.window_size_left = left, p.window_size_right = right, p.attention_chunk = 0;
  p.arch = arch, p.num_sm = num_sm;
  p.total_q = p.total_k = b * n;
  p.b_k = b;
  p.dv = d, p.dv_rounded = d;
  p.page_size = 1, p.num_pages = 0;
  p.rotary_dim = 0;
}

// mha_fwd's scheduler metadata without varlen: b_rounded ints for each of the batch-sort and
// head-swizzle vectors, then one int, the persistent causal scheduler's tile counter; the whole
// buffer zeroed before every call (tile_count_semaphore.zero_()).
struct Scheduler {
  int ints = 0, offset = 0;
  std::unique_ptr<Device<int>> meta;
  Scheduler(Flash_fwd_params& p, bool needs_semaphore) {
    p.varlen_sort_batches = !p.is_local;
    p.head_swizzle = p.is_causal || p.is_local;
    p.skip_scheduler_metadata_computation = false;
    p.num_splits_dynamic_ptr = nullptr, p.num_m_blocks_ptr = nullptr;
    p.varlen_batch_idx_ptr = nullptr, p.num_nheads_in_l2_ptr = nullptr;
    if (!needs_semaphore) return;
    offset = round_up(p.b, 4) * ((p.varlen_sort_batches ? 1 : 0) + (p.head_swizzle ? 1 : 0));
    ints = 1 + offset;
    meta = std::make_unique<Device<int>>(size_t(ints));
    p.tile_count_semaphore = meta->p + offset;
    p.tile_count_semaphore_offset = offset;
  }
  void zero() const {
    if (meta) check(cudaMemsetAsync(meta->p, 0, size_t(ints) * sizeof(int)), "tile_count_semaphore.zero_()");
  }
};

template <int D>
void run_forward(Flash_fwd_params& p) {
  run_mha_fwd_<90, T, D, D, false, false, false, false>(p, nullptr);
}

void forward_call(int d, Flash_fwd_params& p) {
  switch (d) {
    case 64: return run_forward<64>(p);
    case 128: return run_forward<128>(p);
    default: return run_forward<256>(p);
  }
}

// mha_fwd: q, k, v (B, N, H, d) contiguous, fp16; H = 2048 / d.
void forward(int d, int b, int n, bool causal, int arch, int num_sm) {
  const int h = 2048 / d;
  const size_t elems = size_t(b) * n * h * d;
  Device<T> q(elems), k(elems), v(elems), o(elems);
  Device<float> lse(size_t(b) * h * n);
  inputs(q, k, v, o, 1);
  Flash_fwd_params p;
  fprop(p, b, h, n, d, round_up(n, 128), round_up(n, 128), q.p, k.p, v.p, o.p, lse.p, causal, arch, num_sm);
  // flash_attn_func passes num_splits = 1 (flash_attn_interface.py), so mha_fwd does not ask
  // get_num_splits; pack_gqa None asks get_pack_gqa, false for H = H_kv.
  p.num_splits = 1;
  p.pack_gqa = false;
  const Scheduler sched(p, p.is_causal || p.is_local);
  auto call = [&] {
    sched.zero();
    forward_call(d, p);
  };
  run_once(call, "forward");
  const auto hq = q.host(), hk = k.host(), hv = v.host(), ho = o.host();
  const auto hl = lse.host();
  // Rows at the edges of the first row tiles and around the middle, and the last, of the first and
  // last batch at three heads: each against float64, with its LSE; and every output written.
  const int block_m = std::get<0>(tile_size_fwd_sm90(d, d, causal, false, 2, false, false, false));
  double err = all_finite(ho) ? 0.0 : INFINITY;
  for (int bi : {0, b - 1}) {
    for (int row : {0, block_m - 1, block_m, n / 2 - 1, n / 2, n - 1}) {
      for (int head : {0, h / 2, h - 1}) {
        const size_t base = size_t(bi) * n * h * d, off = base + size_t(row) * h * d + size_t(head) * d;
        double ref_lse = 0;
        err = std::max(err, max_row_error(hq, hk, hv, ho, off, base + size_t(head) * d, size_t(h) * d, off,
                                          causal ? row + 1 : n, d, &ref_lse));
        // softmax_lse (B, H, N): the natural log of the row's sum of exp(scaled score).
        err = std::max(err, std::fabs(double(hl[(size_t(bi) * h + head) * n + row]) - ref_lse));
      }
    }
  }
  const Timing t = time_call(call, false, nullptr, 0);
  err = std::max(err, max_abs_diff(ho, o.host()));  // the timed calls wrote the same output
  line("fa3", "prefill", "fwd", causal, "fp16", b, h, h, n, n, d, 1, "warm", t, err);
}

// float64 gradients of one head (rows `row` apart from `base`, head offset `head`), whole: P, O,
// D_i = dO_i . O_i, dS = P (dP - D), dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO (FlashAttention-2
// §2.3, Alg. 2). Returns the largest of max |got - ref| / max |ref| over dQ, dK and dV.
double head_grad_error(const std::vector<T>& q, const std::vector<T>& k, const std::vector<T>& v, const std::vector<T>& dout,
                       const std::vector<T>& dq, const std::vector<T>& dk, const std::vector<T>& dv, size_t base, size_t row,
                       size_t head, int n, int d, bool causal) {
  auto at = [&](const std::vector<T>& x, int i, int c) { return double(float(x[base + size_t(i) * row + head + c])); };
  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> P(size_t(n) * n, 0.0), O(size_t(n) * d, 0.0), Di(n, 0.0);
  for (int i = 0; i < n; ++i) {
    const int keys = causal ? i + 1 : n;
    double m = -INFINITY;
    for (int j = 0; j < keys; ++j) {
      double s = 0;
      for (int c = 0; c < d; ++c) s += at(q, i, c) * at(k, j, c);
      P[size_t(i) * n + j] = s * scale;
      m = std::max(m, s * scale);
    }
    double sum = 0;
    for (int j = 0; j < keys; ++j) sum += P[size_t(i) * n + j] = std::exp(P[size_t(i) * n + j] - m);
    for (int j = 0; j < keys; ++j) P[size_t(i) * n + j] /= sum;
    for (int c = 0; c < d; ++c) {
      double o = 0;
      for (int j = 0; j < keys; ++j) o += P[size_t(i) * n + j] * at(v, j, c);
      O[size_t(i) * d + c] = o;
      Di[i] += at(dout, i, c) * o;
    }
  }
  std::vector<double> rq(size_t(n) * d, 0.0), rk(size_t(n) * d, 0.0), rv(size_t(n) * d, 0.0);
  for (int i = 0; i < n; ++i) {
    const int keys = causal ? i + 1 : n;
    for (int j = 0; j < keys; ++j) {
      const double pij = P[size_t(i) * n + j];
      double dp = 0;
      for (int c = 0; c < d; ++c) dp += at(dout, i, c) * at(v, j, c);
      const double ds = pij * (dp - Di[i]);
      for (int c = 0; c < d; ++c) {
        rq[size_t(i) * d + c] += scale * ds * at(k, j, c);
        rk[size_t(j) * d + c] += scale * ds * at(q, i, c);
        rv[size_t(j) * d + c] += pij * at(dout, i, c);
      }
    }
  }
  double worst = 0;
  for (const auto& [got, ref] : {std::pair{&dq, &rq}, std::pair{&dk, &rk}, std::pair{&dv, &rv}}) {
    double err = 0, peak = 0;
    for (int i = 0; i < n; ++i) {
      for (int c = 0; c < d; ++c) {
        const double g = at(*got, i, c), r = (*ref)[size_t(i) * d + c];
        if (!std::isfinite(g)) return INFINITY;  // not written (the buffer starts as NaN)
        err = std::max(err, std::fabs(g - r));
        peak = std::max(peak, std::fabs(r));
      }
    }
    worst = std::max(worst, err / std::max(peak, 1e-6));
  }
  return worst;
}

// mha_bwd after FlashAttention-3's own forward (its O and LSE): d = 128, fp16, H = H_kv = 16.
void backward(int b, int n, bool causal, int arch, int num_sm) {
  constexpr int D = 128, h = 16;
  const size_t elems = size_t(b) * n * h * D;
  Device<T> q(elems), k(elems), v(elems), o(elems), dout(elems), dq(elems), dk(elems), dv(elems);
  Device<float> lse(size_t(b) * h * n);
  inputs(q, k, v, o, 7);
  dout.fill_with(11, 1.f);
  dq.poison(), dk.poison(), dv.poison();
  Flash_fwd_params f;
  fprop(f, b, h, n, D, round_up(n, 128), round_up(n, 128), q.p, k.p, v.p, o.p, lse.p, causal, arch, num_sm);
  f.num_splits = 1, f.pack_gqa = false;  // as flash_attn_func's forward
  {
    const Scheduler sched(f, f.is_causal);
    run_once(
        [&] {
          sched.zero();
          run_forward<D>(f);
        },
        "backward's forward");
  }
  // mha_bwd's tiles for d = 128 on sm90: kBlockM 64 causal (80 otherwise), kBlockN 128.
  const int block_m = causal ? 64 : 80, block_n = 128;
  const int q_rounded = round_up(n, block_m), k_rounded = round_up(n, block_n);
  Device<float> softmax_d(size_t(b) * h * q_rounded), lse_log2(size_t(b) * h * q_rounded);
  Device<float> dq_accum(size_t(b) * h * q_rounded * D);
  Device<int> dq_semaphore(size_t((n + block_m - 1) / block_m) * b * h);
  Flash_bwd_params p{};
  fprop(p, b, h, n, D, q_rounded, k_rounded, q.p, k.p, v.p, o.p, lse.p, causal, arch, num_sm);
  p.do_ptr = dout.p, p.dq_ptr = dq.p, p.dk_ptr = dk.p, p.dv_ptr = dv.p;
  p.do_row_stride = p.dq_row_stride = p.dk_row_stride = p.dv_row_stride = int64_t(h) * D;
  p.do_head_stride = p.dq_head_stride = p.dk_head_stride = p.dv_head_stride = D;
  p.do_batch_stride = p.dq_batch_stride = p.dk_batch_stride = p.dv_batch_stride = int64_t(n) * h * D;
  p.dq_accum_ptr = dq_accum.p, p.dk_accum_ptr = nullptr, p.dv_accum_ptr = nullptr;  // MHA: no dK/dV accumulators
  p.dsoftmax_sum = softmax_d.p;
  p.deterministic = false;
  p.softmax_lse_log2_ptr = lse_log2.p;
  p.dq_semaphore = dq_semaphore.p;
  auto call = [&] { fa3_bwd_hdim128_fp16(p, nullptr); };
  run_once(call, "backward");
  const auto hq = q.host(), hk = k.host(), hv = v.host(), hdo = dout.host(), hdq = dq.host(), hdk = dk.host(), hdv = dv.host();
  double err = 0;
  // Two corner heads and one inside (batch 1, head H/2), which a batch-major and a head-major
  // layout of the per-head buffers (LSE, softmax_d, dQ accumulator) put at different addresses.
  for (const auto [bi, head] : {std::pair{0, 0}, std::pair{b - 1, h - 1}, std::pair{1, h / 2}}) {
    err = std::max(err, head_grad_error(hq, hk, hv, hdo, hdq, hdk, hdv, size_t(bi) * n * h * D, size_t(h) * D,
                                        size_t(head) * D, n, D, causal));
  }
  line("fa3", "prefill", "bwd", causal, "fp16", b, h, h, n, n, D, 1, "warm", time_call(call, false, nullptr, 0), err);
}

}  // namespace

int main() {
  program = "fa3_bench";
  int dev = 0, sms = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev), "SM count");
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
  const int arch = prop.major * 10 + prop.minor;
  std::fprintf(stderr, "fa3_bench: %s, %d SMs, sm_%d; built with nvcc %d.%d.%d\n", prop.name, sms, arch, __CUDACC_VER_MAJOR__,
               __CUDACC_VER_MINOR__, __CUDACC_VER_BUILD__);
  if (arch != 90) {
    std::fprintf(stderr, "fa3_bench: FlashAttention-3's kernels are built for sm_90a; this GPU is sm_%d\n", arch);
    return 1;
  }
  header();
  for (const int d : {64, 128, 256}) {
    for (const int n : {512, 1024, 2048, 8192}) {
      for (const bool causal : {false, true}) forward(d, 16384 / n, n, causal, arch, sms);
    }
  }
  const int bwd_shapes[][2] = {{32, 512}, {16, 768}, {16, 1024}, {16, 1536}};
  for (const auto& s : bwd_shapes) {
    for (const bool causal : {false, true}) backward(s[0], s[1], causal, arch, sms);
  }
  return verdict();
}
