// Mamba's selective scan (Gu & Dao 2023 §3.3.2 and App. D), fused and naive.
//
// Fused: one CTA per (batch entry, channel), grid (batch, dim) as mamba's selective_scan_fwd. The
// sequence is walked in chunks of 128 threads x 8 tokens; each thread reduces its 8 tokens of each
// state to the pair (a, b) of h -> a h + b, a block scan composes the pairs, and each thread
// replays its tokens from the state entering them. x, delta, A, B, C are read once and y written
// once; the (L, N) states never leave the chip (predict.cpp mamba_fused).
// Naive: A_bar = exp(delta A) and B_bar x written as (B, D, L, N) fp32 tensors, a scan writing h,
// and a contraction with C: O(B·L·D·N) bytes (predict.cpp mamba_naive).
#include <cmath>

#include "attnio/kernels/subquadratic_kernels.hpp"
#include "attnio/model/tile_traits.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

constexpr int kThreads = 128, kItems = 8, kChunk = kThreads * kItems;
constexpr int kMaxStates = 64;

template <typename T>
__global__ void __launch_bounds__(kThreads) scan_fused_kernel(ScanParams p) {
  __shared__ float pa[2][kThreads], pb[2][kThreads];
  __shared__ float carry[kMaxStates];
  const int b = blockIdx.x, d = blockIdx.y, tid = threadIdx.x;
  const long row = (static_cast<long>(b) * p.channels + d) * p.length;
  const T* X = static_cast<const T*>(p.x);
  const T* Dt = static_cast<const T*>(p.delta);
  const T* Bm = static_cast<const T*>(p.b);
  const T* Cm = static_cast<const T*>(p.c);
  for (int n = tid; n < p.states; n += kThreads) carry[n] = 0.f;
  __syncthreads();
  for (int c0 = 0; c0 < p.length; c0 += kChunk) {
    const int t0 = c0 + tid * kItems;
    float x[kItems], dt[kItems], y[kItems];
    for (int k = 0; k < kItems; ++k) {
      const int t = t0 + k;
      x[k] = t < p.length ? to_float(X[row + t]) : 0.f;
      dt[k] = t < p.length ? to_float(Dt[row + t]) : 0.f;
      y[k] = 0.f;
    }
    for (int n = 0; n < p.states; ++n) {
      const float an = p.a[static_cast<long>(d) * p.states + n];
      const long brow = (static_cast<long>(b) * p.states + n) * p.length;
      // This thread's tokens as one map h -> a h + b (padding tokens: the identity).
      float a = 1.f, bb = 0.f;
      for (int k = 0; k < kItems; ++k) {
        const int t = t0 + k;
        if (t >= p.length) break;
        const float at = __expf(dt[k] * an);
        a *= at;
        bb = at * bb + dt[k] * to_float(Bm[brow + t]) * x[k];
      }
      // Inclusive Hillis-Steele scan of the maps in thread order: (earlier) then (later).
      int cur = 0;
      pa[cur][tid] = a;
      pb[cur][tid] = bb;
      __syncthreads();
      for (int off = 1; off < kThreads; off <<= 1) {
        float na = pa[cur][tid], nb = pb[cur][tid];
        if (tid >= off) {
          const float ea = pa[cur][tid - off], eb = pb[cur][tid - off];
          nb = na * eb + nb;
          na = ea * na;
        }
        pa[cur ^ 1][tid] = na;
        pb[cur ^ 1][tid] = nb;
        cur ^= 1;
        __syncthreads();
      }
      // The state entering this thread's tokens: the maps of the threads before it, applied to the
      // chunk's incoming state.
      const float h_chunk = carry[n];
      float h = tid == 0 ? h_chunk : pa[cur][tid - 1] * h_chunk + pb[cur][tid - 1];
      for (int k = 0; k < kItems; ++k) {
        const int t = t0 + k;
        if (t >= p.length) break;
        h = __expf(dt[k] * an) * h + dt[k] * to_float(Bm[brow + t]) * x[k];
        y[k] += to_float(Cm[brow + t]) * h;
      }
      __syncthreads();
      if (tid == kThreads - 1) carry[n] = pa[cur][tid] * h_chunk + pb[cur][tid];
      __syncthreads();
    }
    for (int k = 0; k < kItems; ++k) {
      const int t = t0 + k;
      if (t < p.length) static_cast<T*>(p.y)[row + t] = from_float<T>(y[k]);
    }
  }
}

template <typename T>
__global__ void discretize_kernel(ScanParams p, float* abar, float* bx) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;  // ((b, d, t), n)
  const long total = static_cast<long>(p.batch) * p.channels * p.length * p.states;
  if (i >= total) return;
  const int n = static_cast<int>(i % p.states);
  const long xt = i / p.states;  // (b, d, t)
  const int t = static_cast<int>(xt % p.length), d = static_cast<int>((xt / p.length) % p.channels);
  const int b = static_cast<int>(xt / (static_cast<long>(p.length) * p.channels));
  const float dt = to_float(static_cast<const T*>(p.delta)[xt]);
  abar[i] = __expf(dt * p.a[static_cast<long>(d) * p.states + n]);
  bx[i] = dt * to_float(static_cast<const T*>(p.b)[(static_cast<long>(b) * p.states + n) * p.length + t]) *
          to_float(static_cast<const T*>(p.x)[xt]);
}

__global__ void naive_scan_kernel(ScanParams p, const float* abar, const float* bx, float* h) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;  // (b, d, n)
  if (i >= static_cast<long>(p.batch) * p.channels * p.states) return;
  const int n = static_cast<int>(i % p.states);
  const long bd = i / p.states;
  float state = 0.f;
  for (int t = 0; t < p.length; ++t) {
    const long at = (bd * p.length + t) * p.states + n;
    state = abar[at] * state + bx[at];
    h[at] = state;
  }
}

template <typename T>
__global__ void contract_kernel(ScanParams p, const float* h) {
  const long xt = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;  // (b, d, t)
  if (xt >= static_cast<long>(p.batch) * p.channels * p.length) return;
  const int t = static_cast<int>(xt % p.length);
  const int b = static_cast<int>(xt / (static_cast<long>(p.length) * p.channels));
  float y = 0.f;
  for (int n = 0; n < p.states; ++n) {
    y += to_float(static_cast<const T*>(p.c)[(static_cast<long>(b) * p.states + n) * p.length + t]) * h[xt * p.states + n];
  }
  static_cast<T*>(p.y)[xt] = from_float<T>(y);
}

std::string check(const ScanParams& p) {
  if (p.batch < 1 || p.channels < 1 || p.length < 1 || p.states < 1 || p.channels > 65535) return "selective_scan: bad shape";
  if (p.states > kMaxStates) return "selective_scan: at most " + std::to_string(kMaxStates) + " states";
  return {};
}

}  // namespace

std::string selective_scan(const ScanParams& p, void* stream) {
  if (std::string e = check(p); !e.empty()) return e;
  const auto s = static_cast<cudaStream_t>(stream);
  const dim3 grid(p.batch, p.channels);
  if (p.elem == Elem::bf16) scan_fused_kernel<__nv_bfloat16><<<grid, kThreads, 0, s>>>(p);
  else scan_fused_kernel<__half><<<grid, kThreads, 0, s>>>(p);
  return launch_error("selective_scan_fused");
}

std::size_t scan_naive_workspace_bytes(const ScanParams& p) {
  return 3 * sizeof(float) * static_cast<std::size_t>(p.batch) * p.channels * p.length * p.states;
}

std::string selective_scan_naive(const ScanParams& p, void* workspace, void* stream) {
  if (std::string e = check(p); !e.empty()) return e;
  if (workspace == nullptr) return "selective_scan_naive: needs a workspace";
  const auto s = static_cast<cudaStream_t>(stream);
  const long big = static_cast<long>(p.batch) * p.channels * p.length * p.states;
  float* abar = static_cast<float*>(workspace);
  float* bx = abar + big;
  float* h = bx + big;
  const int blocks = static_cast<int>((big + 255) / 256);
  if (p.elem == Elem::bf16) discretize_kernel<__nv_bfloat16><<<blocks, 256, 0, s>>>(p, abar, bx);
  else discretize_kernel<__half><<<blocks, 256, 0, s>>>(p, abar, bx);
  naive_scan_kernel<<<static_cast<int>((static_cast<long>(p.batch) * p.channels * p.states + 255) / 256), 256, 0, s>>>(p, abar, bx, h);
  const int rows = static_cast<int>((static_cast<long>(p.batch) * p.channels * p.length + 255) / 256);
  if (p.elem == Elem::bf16) contract_kernel<__nv_bfloat16><<<rows, 256, 0, s>>>(p, h);
  else contract_kernel<__half><<<rows, 256, 0, s>>>(p, h);
  return launch_error("selective_scan_naive");
}

}  // namespace attnio::kernels
