// FlashAttention-2 backward (FlashAttention-2 §3.1.2, Alg. 2) on tensor cores (WMMA).
//
// What it computes: dQ, dK, dV of O = softmax(scale·QK^T + mask) V (or the sigmoid form) given dO,
// from Q, K, V, O and the forward's log-sum-exp. Kernels: a preprocess writes D = rowsum(dO ∘ O) and
// zeroes the fp32 dQ accumulator; the main kernel runs one CTA per K/V block of one query head,
// keeps K_j, V_j and the dK_j, dV_j accumulators on chip, walks the Q blocks from the last down
// recomputing P = exp(scale·S - LSE), and adds dQ_i into the accumulator with atomics; a last kernel
// converts dQ. With GQA, dK and dV go to per-query-head buffers [B][Nk][H][d] and a reduction sums
// each group (as flash-attention's dk_expanded). IO: predict.cpp flash2_bwd.
// Correct first: S, dP, P/dS and dQ's tile go through shared memory.
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
  static constexpr int BR = static_cast<int>(traits::flash_bwd_block_m(D));
  static constexpr int BC = static_cast<int>(traits::flash_bwd_block_n(D));
  static_assert(BR == 16 * kWarps && BC % 16 == 0 && D % 16 == 0, "whole WMMA tiles");
  // K, V, Q, dO, P/dS (T); S, dP (fp32, BR x BC); dK, dV (fp32, BC x D); dQ tile (fp32, BR x D);
  // LSE and D (fp32, BR).
  static constexpr std::size_t smem_bytes = traits::flash_bwd_smem_bytes(sizeof(T), D);
};

__device__ __forceinline__ bool allowed(const BackwardParams& p, int i, int j) {
  if (j >= p.nk || i >= p.n) return false;
  const int pos = i + (p.nk - p.n);
  if ((p.causal || p.window > 0) && j > pos) return false;
  if (p.window > 0 && j <= pos - p.window) return false;
  return true;
}

template <typename T, int D>
__global__ void preprocess_kernel(BackwardParams p, float* delta, float* dq_acc) {
  const long row = blockIdx.x;  // (b, h, i) with i fastest
  const int i = static_cast<int>(row % p.n), h = static_cast<int>((row / p.n) % p.heads), b = static_cast<int>(row / (static_cast<long>(p.n) * p.heads));
  const long at = ((static_cast<long>(b) * p.n + i) * p.heads + h) * D;
  float s = 0.f;
  for (int c = threadIdx.x; c < D; c += 32) {
    s += to_float(static_cast<const T*>(p.dout)[at + c]) * to_float(static_cast<const T*>(p.o)[at + c]);
    dq_acc[row * D + c] = 0.f;
  }
  s = warp_sum(s);
  if (threadIdx.x == 0) delta[row] = p.sigmoid ? 0.f : s;
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads) bwd_kernel(BackwardParams p, const float* delta, float* dq_acc) {
  using TL = Tiles<T, D>;
  constexpr int BR = TL::BR, BC = TL::BC;
  extern __shared__ __align__(128) unsigned char smem[];
  T* sK = reinterpret_cast<T*>(smem);
  T* sV = sK + BC * D;
  T* sQ = sV + BC * D;
  T* sdO = sQ + BR * D;
  T* sP = sdO + BR * D;  // P, then dS
  float* sS = reinterpret_cast<float*>(sP + BR * BC);
  float* sdP = sS + BR * BC;
  float* sdK = sdP + BR * BC;
  float* sdV = sdK + BC * D;
  float* sdQ = sdV + BC * D;
  float* sLse = sdQ + BR * D;
  float* sD = sLse + BR;

  const int jb = blockIdx.x, b = blockIdx.y, h = blockIdx.z;
  const int g = p.heads / p.kv_heads, kvh = h / g;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int c0 = jb * BC;
  const long q_stride = static_cast<long>(p.heads) * D, kv_stride = static_cast<long>(p.kv_heads) * D;
  const float scale = p.scale != 0 ? p.scale : rsqrtf(static_cast<float>(D));
  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  const T* dO = static_cast<const T*>(p.dout);

  load_rows<T, D, BC>(sK, K, b, c0, p.nk, p.kv_heads, kvh, tid, kThreads);
  load_rows<T, D, BC>(sV, V, b, c0, p.nk, p.kv_heads, kvh, tid, kThreads);
  for (int idx = tid; idx < BC * D; idx += kThreads) {
    sdK[idx] = 0.f;
    sdV[idx] = 0.f;
  }
  __syncthreads();

  const int tr = ceil_div(p.n, BR);
  for (int ib = tr - 1; ib >= 0; --ib) {  // Q blocks from the last down
    const int r0 = ib * BR, r1 = min(p.n, r0 + BR);
    // Skip Q blocks none of whose rows sees a key of this block.
    const int off = p.nk - p.n;
    const int first_key = p.window > 0 ? max(0, r0 + off + 1 - p.window) : 0;
    const int last_key = (p.causal || p.window > 0) ? min(p.nk, r1 - 1 + off + 1) : p.nk;
    if (max(c0, first_key) >= min(min(p.nk, c0 + BC), last_key)) continue;
    load_rows<T, D, BR>(sQ, Q, b, r0, p.n, p.heads, h, tid, kThreads);
    load_rows<T, D, BR>(sdO, dO, b, r0, p.n, p.heads, h, tid, kThreads);
    for (int r = tid; r < BR; r += kThreads) {
      const long row = (static_cast<long>(b) * p.heads + h) * p.n + r0 + r;
      sLse[r] = r0 + r < p.n && p.lse != nullptr ? p.lse[row] : 0.f;
      sD[r] = r0 + r < p.n ? delta[row] : 0.f;
    }
    __syncthreads();

    // S = Q K^T (warp rows), then P recomputed from the LSE (or the sigmoid), masked to 0.
    warp_abt<T, D, BC>(sQ + warp * 16 * D, sK, sS + warp * 16 * BC);
    __syncwarp();
    for (int idx = lane; idx < 16 * BC; idx += 32) {
      const int r = warp * 16 + idx / BC, c = idx % BC;
      const float s = sS[r * BC + c] * scale;
      float pr = 0.f;
      if (allowed(p, r0 + r, c0 + c)) pr = p.sigmoid ? 1.f / (1.f + __expf(-(s + p.sigmoid_bias))) : __expf(s - sLse[r]);
      sS[r * BC + c] = pr;
      sP[r * BC + c] = from_float<T>(pr);
    }
    __syncthreads();

    // dV_j += P^T dO: rows of dV split among the warps.
    for (int m = warp; m < BC / 16; m += kWarps) {
      for (int n = 0; n < D / 16; ++n) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::load_matrix_sync(acc, sdV + m * 16 * D + n * 16, D, wmma::mem_row_major);
        for (int k = 0; k < BR / 16; ++k) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> pt;  // P^T from row-major P
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bo;
          wmma::load_matrix_sync(pt, sP + k * 16 * BC + m * 16, BC);
          wmma::load_matrix_sync(bo, sdO + k * 16 * D + n * 16, D);
          wmma::mma_sync(acc, pt, bo, acc);
        }
        wmma::store_matrix_sync(sdV + m * 16 * D + n * 16, acc, D, wmma::mem_row_major);
      }
    }
    warp_abt<T, D, BC>(sdO + warp * 16 * D, sV, sdP + warp * 16 * BC);  // dP = dO V^T (warp rows)
    __syncthreads();  // every warp has read P for dV before it becomes dS
    // dS = P ∘ (dP - D) (softmax) or dP ∘ sigma (1 - sigma) (sigmoid), times the scale.
    for (int idx = tid; idx < BR * BC; idx += kThreads) {
      const int r = idx / BC;
      const float pr = sS[idx], dp = sdP[idx];
      const float ds = p.sigmoid ? dp * pr * (1.f - pr) : pr * (dp - sD[r]);
      sP[idx] = from_float<T>(ds * scale);
    }
    __syncthreads();
    // dK_j += dS^T Q.
    for (int m = warp; m < BC / 16; m += kWarps) {
      for (int n = 0; n < D / 16; ++n) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::load_matrix_sync(acc, sdK + m * 16 * D + n * 16, D, wmma::mem_row_major);
        for (int k = 0; k < BR / 16; ++k) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> dst;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> bq;
          wmma::load_matrix_sync(dst, sP + k * 16 * BC + m * 16, BC);
          wmma::load_matrix_sync(bq, sQ + k * 16 * D + n * 16, D);
          wmma::mma_sync(acc, dst, bq, acc);
        }
        wmma::store_matrix_sync(sdK + m * 16 * D + n * 16, acc, D, wmma::mem_row_major);
      }
    }
    // dQ_i += dS K_j (warp rows), into the fp32 accumulator with atomics.
    for (int idx = lane; idx < 16 * D; idx += 32) sdQ[warp * 16 * D + idx] = 0.f;
    __syncwarp();
    warp_ab_accumulate<T, BC, D>(sP + warp * 16 * BC, sK, sdQ + warp * 16 * D);
    __syncwarp();
    for (int idx = lane; idx < 16 * D; idx += 32) {
      const int r = warp * 16 + idx / D, c = idx % D, i = r0 + r;
      if (i < p.n) atomicAdd(&dq_acc[((static_cast<long>(b) * p.heads + h) * p.n + i) * D + c], sdQ[r * D + c]);
    }
    __syncthreads();  // Q, dO, P/dS and the tiles are reloaded next
  }

  // dK_j, dV_j: straight into dK, dV without GQA; per query head [B][Nk][H][d] with it.
  T* dk = static_cast<T*>(g > 1 ? p.dk_expanded : p.dk);
  T* dv = static_cast<T*>(g > 1 ? p.dv_expanded : p.dv);
  const long stride = g > 1 ? q_stride : kv_stride;
  const int head = g > 1 ? h : kvh;
  for (int idx = tid; idx < BC * D; idx += kThreads) {
    const int r = idx / D, c = idx % D, j = c0 + r;
    if (j >= p.nk) continue;
    const long a = (static_cast<long>(b) * p.nk + j) * stride + static_cast<long>(head) * D + c;
    dk[a] = from_float<T>(sdK[idx]);
    dv[a] = from_float<T>(sdV[idx]);
  }
}

template <typename T, int D>
__global__ void convert_dq_kernel(BackwardParams p, const float* dq_acc) {
  const long row = blockIdx.x;
  const int i = static_cast<int>(row % p.n), h = static_cast<int>((row / p.n) % p.heads), b = static_cast<int>(row / (static_cast<long>(p.n) * p.heads));
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    static_cast<T*>(p.dq)[((static_cast<long>(b) * p.n + i) * p.heads + h) * D + c] = from_float<T>(dq_acc[row * D + c]);
  }
}

// Σ over the g query heads of each group: dK[b][j][kvh] = Σ_h dK_expanded[b][j][h].
template <typename T, int D>
__global__ void reduce_dkdv_kernel(BackwardParams p) {
  const long row = blockIdx.x;  // (b, j, kvh)
  const int kvh = static_cast<int>(row % p.kv_heads);
  const long bj = row / p.kv_heads;
  const int g = p.heads / p.kv_heads;
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    float k = 0.f, v = 0.f;
    for (int h = kvh * g; h < (kvh + 1) * g; ++h) {
      k += to_float(static_cast<const T*>(p.dk_expanded)[(bj * p.heads + h) * D + c]);
      v += to_float(static_cast<const T*>(p.dv_expanded)[(bj * p.heads + h) * D + c]);
    }
    static_cast<T*>(p.dk)[row * D + c] = from_float<T>(k);
    static_cast<T*>(p.dv)[row * D + c] = from_float<T>(v);
  }
}

template <typename T, int D>
std::string launch(const BackwardParams& p, void* workspace, cudaStream_t s) {
  using TL = Tiles<T, D>;
  const long rows = static_cast<long>(p.batch) * p.heads * p.n;
  float* delta = static_cast<float*>(workspace);
  float* dq_acc = delta + rows;
  preprocess_kernel<T, D><<<rows, 32, 0, s>>>(p, delta, dq_acc);
  std::string err = launch_error("flash2_bwd_preprocess");
  if (!err.empty()) return err;
  auto kernel = bwd_kernel<T, D>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(TL::smem_bytes)) != cudaSuccess) {
    return launch_error("flash2_bwd (shared memory)");
  }
  kernel<<<dim3(ceil_div(p.nk, TL::BC), p.batch, p.heads), kThreads, TL::smem_bytes, s>>>(p, delta, dq_acc);
  if (!(err = launch_error("flash2_bwd")).empty()) return err;
  convert_dq_kernel<T, D><<<rows, 128, 0, s>>>(p, dq_acc);
  if (!(err = launch_error("flash2_bwd_convert_dq")).empty()) return err;
  if (p.heads == p.kv_heads) return {};
  reduce_dkdv_kernel<T, D><<<static_cast<long>(p.batch) * p.nk * p.kv_heads, 128, 0, s>>>(p);
  return launch_error("gqa_reduce_dkdv");
}

}  // namespace

std::size_t backward_workspace_bytes(const BackwardParams& p) {
  return sizeof(float) * static_cast<std::size_t>(p.batch) * p.heads * p.n * (p.head_dim + 1);
}

std::string flash2_backward(const BackwardParams& p, void* workspace, void* stream) {
  if (p.batch < 1 || p.heads < 1 || p.kv_heads < 1 || p.n < 1 || p.nk < 1 || p.heads % p.kv_heads != 0) {
    return "flash2_bwd: bad shape";
  }
  if (workspace == nullptr) return "flash2_bwd: needs a workspace";
  if (p.heads != p.kv_heads && (p.dk_expanded == nullptr || p.dv_expanded == nullptr)) {
    return "flash2_bwd: GQA needs the expanded dK/dV buffers";
  }
  if (!p.sigmoid && p.lse == nullptr) return "flash2_bwd: softmax needs the forward's log-sum-exp";
  const auto s = static_cast<cudaStream_t>(stream);
  const bool bf16 = p.elem == Elem::bf16;
  switch (p.head_dim) {
    case 64: return bf16 ? launch<__nv_bfloat16, 64>(p, workspace, s) : launch<__half, 64>(p, workspace, s);
    case 128: return bf16 ? launch<__nv_bfloat16, 128>(p, workspace, s) : launch<__half, 128>(p, workspace, s);
    default: return "flash2_bwd: head dim " + std::to_string(p.head_dim) + " not built (64, 128)";
  }
}

}  // namespace attnio::kernels
