// FlashAttention forward in the FA1 loop order (FlashAttention Alg. 1) on tensor cores (WMMA).
//
// What it computes: the same O as flash2.cu. How: one CTA per head (grid (batch, heads), as
// flash-attention v1 launched it); the outer loop walks the K/V blocks, loading K_j and V_j once
// (line 6); the inner loop walks the Q blocks, loading Q_i, O_i, l_i, m_i from HBM (line 8),
// updating them with the block's statistics (lines 9-12) and writing them back (line 13). O, l and m
// are initialized in HBM first (line 2). IO: Θ(N²d²/M) (Theorem 2; predict.cpp flash1_fwd).
// O_i travels in the input dtype between K/V blocks, as Alg. 1 stores it.
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
  static_assert(BR == 16 * kWarps && BC % 32 == 0 && D % 16 == 0, "whole WMMA tiles per warp");
  static constexpr std::size_t smem_bytes =
      sizeof(T) * (BR * D + 2 * BC * D + BR * BC) + sizeof(float) * (BR * BC + BR * D + 2 * BR);
};

// Keys [lo, hi) row i may see (bottom-right causal, window).
__device__ __forceinline__ int key_lo(const Flash2Params& p, int i) {
  return p.window > 0 ? max(0, i + (p.nk - p.n) + 1 - p.window) : 0;
}
__device__ __forceinline__ int key_hi(const Flash2Params& p, int i) {
  return (p.causal || p.window > 0) ? min(p.nk, i + (p.nk - p.n) + 1) : p.nk;
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) flash1_fwd_kernel(Flash2Params p, float* l_hbm, float* m_hbm) {
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

  const int b = blockIdx.x, h = blockIdx.y, kvh = h / (p.heads / p.kv_heads);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  T* O = static_cast<T*>(p.o);
  const long q_stride = static_cast<long>(p.heads) * D;
  const long stat = (static_cast<long>(b) * p.heads + h) * p.n;
  const float scale = p.scale != 0 ? p.scale : rsqrtf(static_cast<float>(D));
  const T zero = from_float<T>(0.f);
  auto o_at = [&](int i, int c) { return (static_cast<long>(b) * p.n + i) * q_stride + static_cast<long>(h) * D + c; };

  // Alg. 1 line 2.
  for (int idx = tid; idx < p.n * D; idx += kThreads) O[o_at(idx / D, idx % D)] = zero;
  for (int i = tid; i < p.n; i += kThreads) {
    l_hbm[stat + i] = 0.f;
    m_hbm[stat + i] = -INFINITY;
  }
  __syncthreads();

  const int tr = ceil_div(p.n, BR), tc = ceil_div(p.nk, BC);
  for (int jb = 0; jb < tc; ++jb) {
    const int c0 = jb * BC, c1 = min(p.nk, c0 + BC);
    load_rows<T, D, BC>(sK, K, b, c0, p.nk, p.kv_heads, kvh, tid, kThreads);
    load_rows<T, D, BC>(sV, V, b, c0, p.nk, p.kv_heads, kvh, tid, kThreads);
    __syncthreads();
    for (int ib = 0; ib < tr; ++ib) {
      const int r0 = ib * BR, r1 = min(p.n, r0 + BR);
      // Visit the pair only if some row of the block sees some key of the block.
      if (max(c0, key_lo(p, r0)) >= min(c1, key_hi(p, r1 - 1))) continue;
      if (p.block_layout && !p.block_layout[static_cast<long>(ib) * tc + jb]) continue;
      for (int idx = tid; idx < BR * D; idx += kThreads) {
        const int r = idx / D, c = idx % D, i = r0 + r;
        sQ[idx] = i < p.n ? Q[o_at(i, c)] : zero;
        sO[idx] = i < p.n ? to_float(O[o_at(i, c)]) : 0.f;
      }
      for (int r = tid; r < BR; r += kThreads) {
        sM[r] = r0 + r < p.n ? m_hbm[stat + r0 + r] : -INFINITY;
        sL[r] = r0 + r < p.n ? l_hbm[stat + r0 + r] : 0.f;
      }
      __syncthreads();
      warp_abt<T, D, BC>(sQ + warp * 16 * D, sK, sS + warp * 16 * BC);  // S = Q_i K_j^T
      __syncwarp();
      // Lines 9-12: block statistics m_ij, l_ij, then the running ones; O_i rescaled in place and
      // P scaled so that O_i += P V lands normalized.
      for (int rr = 0; rr < 16; ++rr) {
        const int r = warp * 16 + rr, i = r0 + r;
        float* srow = sS + r * BC;
        const int lo = i < p.n ? key_lo(p, i) : 0, hi = i < p.n ? key_hi(p, i) : 0;
        float mx = -INFINITY;
        for (int c = lane; c < BC; c += 32) {
          const int j = c0 + c;
          const float s = (j >= lo && j < hi) ? srow[c] * scale : -INFINITY;
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
        float l_ij = 0.f;
        for (int c = lane; c < BC; c += 32) l_ij += mx == -INFINITY ? 0.f : __expf(srow[c] - mx);
        l_ij = warp_sum(l_ij);
        const float m_old = sM[r], l_old = sL[r];
        if (mx == -INFINITY) {  // no key of this block for the row: nothing changes
          for (int c = lane; c < BC; c += 32) sP[r * BC + c] = zero;
          continue;
        }
        const float m_new = fmaxf(m_old, mx);
        const float a_old = m_old == -INFINITY ? 0.f : __expf(m_old - m_new) * l_old;
        const float a_new = __expf(mx - m_new);
        const float l_new = a_old + a_new * l_ij;
        for (int c = lane; c < BC; c += 32) sP[r * BC + c] = from_float<T>(__expf(srow[c] - mx) * a_new / l_new);
        for (int c = lane; c < D; c += 32) sO[r * D + c] *= a_old / l_new;
        __syncwarp();
        if (lane == 0) {
          sM[r] = m_new;
          sL[r] = l_new;
        }
      }
      __syncwarp();
      warp_ab_accumulate<T, BC, D>(sP + warp * 16 * BC, sV, sO + warp * 16 * D);  // O_i += P V_j
      __syncthreads();
      // Line 13: O_i, l_i, m_i back to HBM.
      for (int idx = tid; idx < BR * D; idx += kThreads) {
        const int r = idx / D, c = idx % D, i = r0 + r;
        if (i < p.n) O[o_at(i, c)] = from_float<T>(sO[idx]);
      }
      for (int r = tid; r < BR; r += kThreads) {
        if (r0 + r >= p.n) continue;
        m_hbm[stat + r0 + r] = sM[r];
        l_hbm[stat + r0 + r] = sL[r];
      }
      __syncthreads();
    }
  }
  if (p.lse != nullptr) {
    for (int i = tid; i < p.n; i += kThreads) {
      p.lse[stat + i] = p.sigmoid ? 0.f : (l_hbm[stat + i] > 0.f ? m_hbm[stat + i] + logf(l_hbm[stat + i]) : -INFINITY);
    }
  }
}

template <typename T, int D>
std::string launch(const Flash2Params& p, float* workspace, cudaStream_t stream) {
  using TL = Tiles<T, D>;
  auto kernel = flash1_fwd_kernel<T, D>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(TL::smem_bytes)) != cudaSuccess) {
    return launch_error("flash1_fwd (shared memory)");
  }
  const long rows = static_cast<long>(p.batch) * p.heads * p.n;
  kernel<<<dim3(p.batch, p.heads), kThreads, TL::smem_bytes, stream>>>(p, workspace, workspace + rows);
  return launch_error("flash1_fwd");
}

}  // namespace

std::size_t flash1_workspace_bytes(const Flash2Params& p) {
  return 2 * sizeof(float) * static_cast<std::size_t>(p.batch) * p.heads * p.n;
}

std::string flash1_forward(const Flash2Params& p, float* workspace, void* stream) {
  if (p.batch < 1 || p.heads < 1 || p.kv_heads < 1 || p.n < 1 || p.nk < 1 || p.heads % p.kv_heads != 0) {
    return "flash1_fwd: bad shape";
  }
  if (workspace == nullptr) return "flash1_fwd: needs a workspace for l and m";
  if (p.gate != nullptr) return "flash1_fwd: no fused gate (flash2 only)";
  const auto s = static_cast<cudaStream_t>(stream);
  const bool bf16 = p.elem == Elem::bf16;
  switch (p.head_dim) {
    case 64: return bf16 ? launch<__nv_bfloat16, 64>(p, workspace, s) : launch<__half, 64>(p, workspace, s);
    case 128: return bf16 ? launch<__nv_bfloat16, 128>(p, workspace, s) : launch<__half, 128>(p, workspace, s);
    default: return "flash1_fwd: head dim " + std::to_string(p.head_dim) + " not built (64, 128)";
  }
}

}  // namespace attnio::kernels
