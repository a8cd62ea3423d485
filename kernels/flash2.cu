// FlashAttention-2 forward (FlashAttention-2 §3.1, Alg. 1) on tensor cores (WMMA, bf16/fp16 in,
// fp32 accumulate).
//
// What it computes: O = softmax(scale·QK^T + mask) V per head (or sigmoid(scale·QK^T + bias) V), with
// GQA head mapping, bottom-right causal masks, sliding windows and block-sparse layouts. IO: Q read
// once, O and the log-sum-exp written once; each CTA (one Q block of Br = 64 rows of one head) reads
// the K/V blocks it needs, so K and V cross L2 ceil(N / Br) times per head (predict.cpp, flash2_fwd).
// Tiles from tile_traits.hpp. Correct first: S, P and the fp32 O accumulator live in shared memory,
// so every row's online-softmax rescaling is a plain loop; a register-resident O (mma.sync with known
// fragment layouts) is the next step for speed.
#include <mma.h>

#include <cmath>

#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/model/tile_traits.hpp"
#include "cuda/common.cuh"
#include "cuda/flash_tiles.cuh"

namespace attnio::kernels {

namespace {

using namespace nvcuda;
constexpr int kWarps = kFlashWarps;
constexpr int kThreads = kFlashThreads;

template <typename T, int D>
struct Tiles {
  static constexpr int BR = static_cast<int>(traits::flash_block_m(D));
  static constexpr int BC = static_cast<int>(traits::flash_block_n(D));
  static_assert(BR == 16 * kWarps, "each warp owns 16 query rows");
  static_assert(BC % 32 == 0 && D % 16 == 0, "whole WMMA tiles, whole warps per row");
  // Q, K, V (T), S (fp32), P (T), O (fp32), m and l (fp32).
  static constexpr std::size_t smem_bytes = traits::flash2_smem_bytes(sizeof(T), D);
};

// σ(g) = (1 + tanh(g/2)) / 2 with one MUFU.TANH (PTX ISA: tanh.approx.f32, sm_75 and later), as
// the model counts the gate (model/src/variants/gated.cpp): an FMUL, the MUFU op and an FFMA.
__device__ __forceinline__ float sigmoid_tanh(float g) {
  float t;
  asm("tanh.approx.f32 %0, %1;" : "=f"(t) : "f"(0.5f * g));
  return fmaf(0.5f, t, 0.5f);
}

__device__ __forceinline__ bool allowed(const Flash2Params& p, int i, int j) {
  if (j >= p.nk) return false;
  const int pos = i + (p.nk - p.n);
  if ((p.causal || p.window > 0) && j > pos) return false;
  if (p.window > 0 && j <= pos - p.window) return false;
  return true;
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) flash2_fwd_kernel(Flash2Params p) {
  using TL = Tiles<T, D>;
  constexpr int BR = TL::BR, BC = TL::BC;
  extern __shared__ __align__(128) unsigned char smem[];
  T* sQ = reinterpret_cast<T*>(smem);
  T* sK = sQ + BR * D;
  T* sV = sK + BC * D;
  T* sP = sV + BC * D;
  float* sS = reinterpret_cast<float*>(sP + BR * BC);
  float* sO = sS + BR * BC;
  float* sM = sO + BR * D;
  float* sL = sM + BR;

  // Grid (Q block, batch, head): the Q blocks of one head run next to each other.
  const int iblk = blockIdx.x, b = blockIdx.y, h = blockIdx.z;
  const int kvh = h / (p.heads / p.kv_heads);
  const int r0 = iblk * BR;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  T* O = static_cast<T*>(p.o);
  const long q_stride = static_cast<long>(p.heads) * D;
  const float scale = p.scale != 0 ? p.scale : rsqrtf(static_cast<float>(D));

  load_rows<T, D, BR>(sQ, Q, b, r0, p.n, p.heads, h, tid, kThreads);
  for (int idx = tid; idx < BR * D; idx += kThreads) sO[idx] = 0.f;
  for (int r = tid; r < BR; r += kThreads) {
    sM[r] = -INFINITY;
    sL[r] = 0.f;
  }
  __syncthreads();

  // Keys any row of the block may see; blocks outside are skipped (FlashAttention-2 §3.1.1).
  const int off = p.nk - p.n, last_row = min(r0 + BR, p.n) - 1;
  int key_lo = 0, key_hi = p.nk;
  if (p.causal || p.window > 0) key_hi = min(p.nk, last_row + off + 1);
  if (p.window > 0) key_lo = max(0, r0 + off + 1 - p.window);
  const int tc = ceil_div(p.nk, BC);
  const int jb_first = key_hi > key_lo ? key_lo / BC : 0, jb_last = key_hi > key_lo ? (key_hi - 1) / BC : -1;

  for (int jb = jb_last; jb >= jb_first; --jb) {  // from the last block down, as flash-attention
    if (p.block_layout && !p.block_layout[static_cast<long>(iblk) * tc + jb]) continue;
    const int c0 = jb * BC;
    load_rows<T, D, BC>(sK, K, b, c0, p.nk, p.kv_heads, kvh, tid, kThreads);
    load_rows<T, D, BC>(sV, V, b, c0, p.nk, p.kv_heads, kvh, tid, kThreads);
    __syncthreads();

    warp_abt<T, D, BC>(sQ + warp * 16 * D, sK, sS + warp * 16 * BC);  // S = Q K^T, the warp's rows
    __syncwarp();

    // Online softmax of the warp's rows: mask, row max, exponentials, rescale O and l.
    for (int rr = 0; rr < 16; ++rr) {
      const int r = warp * 16 + rr, i = r0 + r;
      float* srow = sS + r * BC;
      float mx = -INFINITY;
      for (int c = lane; c < BC; c += 32) {
        const bool ok = i < p.n && allowed(p, i, c0 + c);
        const float s = ok ? srow[c] * scale : -INFINITY;
        srow[c] = s;
        mx = fmaxf(mx, s);
      }
      if (p.sigmoid) {
        for (int c = lane; c < BC; c += 32) {
          const float s = srow[c];
          sP[r * BC + c] = from_float<T>(s == -INFINITY ? 0.f : 1.f / (1.f + __expf(-(s + p.sigmoid_bias))));
        }
        continue;
      }
      mx = warp_max(mx);
      const float m_old = sM[r];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.f;
      for (int c = lane; c < BC; c += 32) {
        const float e = m_new == -INFINITY ? 0.f : __expf(srow[c] - m_new);
        sP[r * BC + c] = from_float<T>(e);
        sum += e;
      }
      sum = warp_sum(sum);
      const float alpha = m_old == -INFINITY ? 0.f : __expf(m_old - m_new);
      for (int c = lane; c < D; c += 32) sO[r * D + c] *= alpha;
      __syncwarp();
      if (lane == 0) {
        sM[r] = m_new;
        sL[r] = sL[r] * alpha + sum;
      }
    }
    __syncwarp();

    warp_ab_accumulate<T, BC, D>(sP + warp * 16 * BC, sV, sO + warp * 16 * D);  // O += P V
    __syncthreads();  // K and V are overwritten next
  }

  for (int idx = tid; idx < BR * D; idx += kThreads) {
    const int r = idx / D, c = idx % D, i = r0 + r;
    if (i >= p.n) continue;
    const float l = sL[r];
    float val = p.sigmoid ? sO[idx] : (l > 0.f ? sO[idx] / l : 0.f);
    const long at = (static_cast<long>(b) * p.n + i) * q_stride + static_cast<long>(h) * D + c;
    if (p.gate != nullptr) val *= sigmoid_tanh(to_float(static_cast<const T*>(p.gate)[at]));
    O[at] = from_float<T>(val);
  }
  if (p.lse != nullptr) {
    for (int r = tid; r < BR; r += kThreads) {
      const int i = r0 + r;
      if (i >= p.n) continue;
      p.lse[(static_cast<long>(b) * p.heads + h) * p.n + i] =
          p.sigmoid ? 0.f : (sL[r] > 0.f ? sM[r] + logf(sL[r]) : -INFINITY);
    }
  }
}

template <typename T, int D>
std::string launch(const Flash2Params& p, cudaStream_t stream) {
  using TL = Tiles<T, D>;
  auto kernel = flash2_fwd_kernel<T, D>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(TL::smem_bytes)) != cudaSuccess) {
    return launch_error("flash2_fwd (shared memory)");
  }
  const dim3 grid(ceil_div(p.n, TL::BR), p.batch, p.heads);
  kernel<<<grid, kThreads, TL::smem_bytes, stream>>>(p);
  return launch_error("flash2_fwd");
}

}  // namespace

std::string flash2_forward(const Flash2Params& p, void* stream) {
  if (p.batch < 1 || p.heads < 1 || p.kv_heads < 1 || p.n < 1 || p.nk < 1 || p.heads % p.kv_heads != 0) {
    return "flash2_fwd: bad shape";
  }
  const auto s = static_cast<cudaStream_t>(stream);
  const bool bf16 = p.elem == Elem::bf16;
  switch (p.head_dim) {
    case 64: return bf16 ? launch<__nv_bfloat16, 64>(p, s) : launch<__half, 64>(p, s);
    case 128: return bf16 ? launch<__nv_bfloat16, 128>(p, s) : launch<__half, 128>(p, s);
    default: return "flash2_fwd: head dim " + std::to_string(p.head_dim) + " not built (64, 128)";
  }
}

bool cuda_device_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    if (why) *why = e != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e) : "no CUDA device";
    return false;
  }
  return true;
}

}  // namespace attnio::kernels
