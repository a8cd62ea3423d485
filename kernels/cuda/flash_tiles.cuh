// Tile steps shared by the FlashAttention kernels (flash2.cu, flash1.cu, flash_bwd.cu): loading a
// K/V block into shared memory, and the per-warp WMMA products on 16-row slices of row-major tiles.
#pragma once

#include <mma.h>

#include "attnio/model/tile_traits.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

// Every flash kernel runs kFlashWarps warps per CTA, each owning 16 query (or key) rows of a tile.
constexpr int kFlashWarps = static_cast<int>(traits::kFlashWarps);
constexpr int kFlashThreads = 32 * kFlashWarps;

// Rows [r0, r0 + ROWS) of a [B][len][heads][D] tensor's head into a ROWS x D tile, zero past `len`.
template <typename T, int D, int ROWS>
__device__ __forceinline__ void load_rows(T* tile, const T* src, int b, int r0, int len, int heads, int head, int tid,
                                          int threads) {
  const T zero = from_float<T>(0.f);
  for (int idx = tid; idx < ROWS * D; idx += threads) {
    const int r = idx / D, c = idx % D, i = r0 + r;
    tile[idx] = i < len ? src[((static_cast<long>(b) * len + i) * heads + head) * D + c] : zero;
  }
}

// S[16 x BC] (fp32, ld BC) = A[16 x D] (ld D) · B^T where B is BC x D row-major (ld D).
template <typename T, int D, int BC>
__device__ __forceinline__ void warp_abt(const T* a, const T* b, float* s) {
  using namespace nvcuda;
  for (int n = 0; n < BC / 16; ++n) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.f);
    for (int k = 0; k < D / 16; ++k) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
      wmma::load_matrix_sync(fa, a + k * 16, D);
      wmma::load_matrix_sync(fb, b + n * 16 * D + k * 16, D);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(s + n * 16, acc, BC, wmma::mem_row_major);
  }
}

// C[16 x D] (fp32, ld D) += A[16 x K] (ld K) · B[K x D] (ld D), both row-major.
template <typename T, int K, int D>
__device__ __forceinline__ void warp_ab_accumulate(const T* a, const T* b, float* c) {
  using namespace nvcuda;
  for (int n = 0; n < D / 16; ++n) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::load_matrix_sync(acc, c + n * 16, D, wmma::mem_row_major);
    for (int k = 0; k < K / 16; ++k) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
      wmma::load_matrix_sync(fa, a + k * 16, K);
      wmma::load_matrix_sync(fb, b + k * 16 * D + n * 16, D);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(c + n * 16, acc, D, wmma::mem_row_major);
  }
}

}  // namespace attnio::kernels
