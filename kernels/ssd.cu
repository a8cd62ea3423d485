// Mamba-2's state-space dual (SSD) layer, chunked (Dao & Gu 2024, "Transformers are SSMs", §6 and
// Listing 1 ssd_minimal), in the five kernels of mamba_ssm's Triton forward
// (mamba_ssm/ops/triton/ssd_combined.py _mamba_chunk_scan_combined_fwd), with their grids and the
// 64 x 64 blocks the model counts (model/src/variants/mamba2.cpp, tile_traits.hpp kSsdBlock):
//  1. chunk_cumsum  (ssd_chunk_state.py _chunk_cumsum_fwd), grid (chunks, B): dt = softplus(dt +
//     dt_bias) and dA_cs, the running sum of dt·A inside each chunk; fp32 [B][H][chunks][Q]. Past the
//     sequence's end dt is 0 and the sum stays put, so dA_cs[Q-1] is the chunk's total.
//  2. chunk_state   (ssd_chunk_state.py _chunk_state_fwd), grid (P/64 · N/64, B·chunks, H): each
//     chunk's final state from zero, Σ_i exp(dA_cs[Q-1] - dA_cs[i]) dt_i x_i B_iᵀ; fp32 P x N.
//  3. state_passing (ssd_state_passing.py _state_passing_fwd), grid (P·N/2048, B, H): the state
//     entering chunk c, s_c = exp(dA_cs_{c-1}[Q-1]) s_{c-1} + state_{c-1}, carried in fp32 and stored
//     in the activation dtype (ssd_combined.py: out_dtype = C.dtype).
//  4. bmm_chunk     (ssd_bmm.py _bmm_chunk_fwd), grid ((Q/64)², B·chunks, G): C Bᵀ per chunk and
//     group, Q x Q in fp32; every block, as ssd_combined.py leaves causal at False.
//  5. chunk_scan    (ssd_chunk_scan.py _chunk_scan_fwd), grid (Q/64 · P/64, B·chunks, H):
//     y_i = exp(dA_cs_i) C_i·s_c + Σ_{j<=i} (C Bᵀ)_ij exp(dA_cs_i - dA_cs_j) dt_j x_j + D x_i, the
//     intra-chunk sum over the causal blocks only.
// IO: x [B][L][H][P], dt [B][L][H], B and C [B][L][G][N], y [B][L][H][P] in bf16/fp16; A, dt_bias and
// D [H] in fp32 (mamba_ssm's parameters are fp32). Head h reads group h / (H/G).
// The matmul-shaped kernels (2, 4, 5) use plain FP32 tiles, not tensor cores: 64 x 64 outputs per
// CTA of 256 threads (4 x 4 each), K in steps of 32 staged in shared memory. Triton runs them as
// tl.dot on tensor cores; WMMA here is still to do, so measured times sit above the model's.
#include <algorithm>

#include "attnio/kernels/subquadratic_kernels.hpp"
#include "attnio/model/tile_traits.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

constexpr int kBlock = static_cast<int>(traits::kSsdBlock);
constexpr int kTileK = 32;
constexpr int kTileThreads = 256;  // 16 x 16 threads over a kBlock x kBlock tile
constexpr int kPerThread = kBlock / 16;
constexpr int kScanThreads = 128;
constexpr int kPassThreads = 256;
constexpr int kPassElems = static_cast<int>(traits::kSsdPassElemsPerCta);
constexpr int kPassItems = kPassElems / kPassThreads;
static_assert(kBlock % 16 == 0 && kPassElems % kPassThreads == 0, "tiles split evenly among threads");
static_assert(kTileK <= kScanThreads && kTileK <= kTileThreads, "one thread per K row of the per-token factors");

// The workspace: dt and dA_cs [B][H][chunks][Q], chunk states [B][chunks][H][P][N] in fp32, passed
// states the same in the activation dtype, C Bᵀ [B][chunks][G][Q][Q] in fp32.
struct Work {
  float* dt;
  float* da_cs;
  float* states;
  void* passed;
  float* cb;
  int q, chunks;
};

struct Layout {
  std::size_t dt, da_cs, states, passed, cb, total;
};

std::size_t align256(std::size_t n) { return (n + 255) / 256 * 256; }

int chunk_len(const SsdParams& p) { return std::min(p.chunk, p.length); }

Layout layout(const SsdParams& p) {
  const std::size_t q = static_cast<std::size_t>(chunk_len(p)), chunks = ceil_div(p.length, chunk_len(p));
  const std::size_t stats = static_cast<std::size_t>(p.batch) * p.heads * chunks * q;
  const std::size_t state_elems = static_cast<std::size_t>(p.batch) * chunks * p.heads * p.head_dim * p.states;
  Layout l{};
  l.dt = 0;
  l.da_cs = l.dt + align256(stats * sizeof(float));
  l.states = l.da_cs + align256(stats * sizeof(float));
  l.passed = l.states + align256(state_elems * sizeof(float));
  l.cb = l.passed + align256(state_elems * 2);
  l.total = l.cb + align256(static_cast<std::size_t>(p.batch) * chunks * p.groups * q * q * sizeof(float));
  return l;
}

// mamba_ssm's softplus, with its cut-off: x itself above 20.
__device__ __forceinline__ float softplus(float x) { return x <= 20.f ? log1pf(__expf(x)) : x; }

// A kBlock x kBlock product tile: a holds K rows of the output's rows, b K rows of its columns.
// Rows of kBlock + 1 floats so that the transposing stores (k varying fastest) hit distinct banks.
struct Tile {
  float a[kTileK][kBlock + 1];
  float b[kTileK][kBlock + 1];
};

// acc[i][j] += Σ_k a[k][ty + 16 i] b[k][tx + 16 j]: each thread owns rows ty + 16 i, columns tx + 16 j.
__device__ __forceinline__ void tile_fma(const Tile& s, float (&acc)[kPerThread][kPerThread], int ty, int tx) {
#pragma unroll 8
  for (int k = 0; k < kTileK; ++k) {
    float ra[kPerThread], rb[kPerThread];
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      ra[i] = s.a[k][ty + 16 * i];
      rb[i] = s.b[k][tx + 16 * i];
    }
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) acc[i][j] = fmaf(ra[i], rb[j], acc[i][j]);
    }
  }
}

// Offset of dt / dA_cs of (b, h, chunk c), token 0 of the chunk.
// Writes a thread's kPerThread x kPerThread accumulators of the 64 x 64 tile at (r0, c0) into a
// row-major fp32 matrix of rows x cols (leading dimension ld), clipping at its edges.
__device__ __forceinline__ void store_tile(const float (&acc)[kPerThread][kPerThread], int ty, int tx, int r0, int c0,
                                           int rows, int cols, float* dst, long ld) {
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int r = r0 + ty + 16 * i, col = c0 + tx + 16 * j;
      if (r < rows && col < cols) dst[static_cast<long>(r) * ld + col] = acc[i][j];
    }
  }
}

__device__ __forceinline__ long stat_row(const SsdParams& p, const Work& w, int b, int h, int c) {
  return ((static_cast<long>(b) * p.heads + h) * w.chunks + c) * w.q;
}
// Offset of the P x N state of (b, chunk c, h).
__device__ __forceinline__ long state_row(const SsdParams& p, const Work& w, int b, int c, int h) {
  return ((static_cast<long>(b) * w.chunks + c) * p.heads + h) * p.head_dim * static_cast<long>(p.states);
}
// Token t of batch entry b.
__device__ __forceinline__ long token(const SsdParams& p, int b, int t) { return static_cast<long>(b) * p.length + t; }

template <typename T>
__global__ void __launch_bounds__(kScanThreads) chunk_cumsum_kernel(SsdParams p, Work w) {
  __shared__ float part[2][kScanThreads];
  const int c = blockIdx.x, b = blockIdx.y, tid = threadIdx.x;
  const int t0 = c * w.q, valid = min(w.q, p.length - t0);
  // Each thread a run of consecutive tokens; a block scan of the runs' sums, then each run replays.
  const int items = ceil_div(w.q, kScanThreads), i0 = tid * items, i1 = min(w.q, i0 + items);
  const T* dt_in = static_cast<const T*>(p.dt);
  for (int h = 0; h < p.heads; ++h) {
    const float a = p.a[h], bias = p.dt_bias[h];
    const long row = stat_row(p, w, b, h, c);
    float sum = 0.f;
    for (int i = i0; i < i1; ++i) {
      const float dt = i < valid ? softplus(to_float(dt_in[token(p, b, t0 + i) * p.heads + h]) + bias) : 0.f;
      w.dt[row + i] = dt;
      sum += dt * a;
    }
    int cur = 0;
    part[cur][tid] = sum;
    __syncthreads();
    for (int off = 1; off < kScanThreads; off <<= 1) {
      float v = part[cur][tid];
      if (tid >= off) v += part[cur][tid - off];
      part[cur ^ 1][tid] = v;
      cur ^= 1;
      __syncthreads();
    }
    float run = tid == 0 ? 0.f : part[cur][tid - 1];
    for (int i = i0; i < i1; ++i) {
      run += w.dt[row + i] * a;
      w.da_cs[row + i] = run;
    }
    __syncthreads();  // part is reused by the next head
  }
}

template <typename T>
__global__ void __launch_bounds__(kTileThreads) chunk_state_kernel(SsdParams p, Work w) {
  __shared__ Tile s;
  __shared__ float scale[kTileK];
  const int p_tiles = ceil_div(p.head_dim, kBlock);
  const int p0 = (blockIdx.x % p_tiles) * kBlock, n0 = (blockIdx.x / p_tiles) * kBlock;
  const int b = blockIdx.y / w.chunks, c = blockIdx.y % w.chunks, h = blockIdx.z;
  const int g = h / (p.heads / p.groups);
  const int t0 = c * w.q, valid = min(w.q, p.length - t0);
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  const long row = stat_row(p, w, b, h, c);
  const float last = w.da_cs[row + w.q - 1];
  const T* X = static_cast<const T*>(p.x);
  const T* Bm = static_cast<const T*>(p.b);
  float acc[kPerThread][kPerThread] = {};
  for (int k0 = 0; k0 < valid; k0 += kTileK) {
    if (tid < kTileK) {
      const int i = k0 + tid;
      scale[tid] = i < valid ? __expf(last - w.da_cs[row + i]) * w.dt[row + i] : 0.f;
    }
    __syncthreads();
    // Rows of x (scaled by the token's decay to the chunk's end and dt) and of B, both contiguous in
    // global memory along the tile's columns.
    for (int e = tid; e < kTileK * kBlock; e += kTileThreads) {
      const int k = e / kBlock, col = e % kBlock, i = k0 + k;
      const long t = token(p, b, t0 + i);
      s.a[k][col] = i < valid && p0 + col < p.head_dim ? to_float(X[(t * p.heads + h) * p.head_dim + p0 + col]) * scale[k] : 0.f;
      s.b[k][col] = i < valid && n0 + col < p.states ? to_float(Bm[(t * p.groups + g) * p.states + n0 + col]) : 0.f;
    }
    __syncthreads();
    tile_fma(s, acc, ty, tx);
    __syncthreads();
  }
  store_tile(acc, ty, tx, p0, n0, p.head_dim, p.states, w.states + state_row(p, w, b, c, h), p.states);
}

template <typename T>
__global__ void __launch_bounds__(kPassThreads) state_passing_kernel(SsdParams p, Work w) {
  const int b = blockIdx.y, h = blockIdx.z;
  const long pn = static_cast<long>(p.head_dim) * p.states;
  T* passed = static_cast<T*>(w.passed);
  float s[kPassItems];
#pragma unroll
  for (int k = 0; k < kPassItems; ++k) s[k] = 0.f;
  for (int c = 0; c < w.chunks; ++c) {
    const long base = state_row(p, w, b, c, h);
    const float decay = __expf(w.da_cs[stat_row(p, w, b, h, c) + w.q - 1]);
#pragma unroll
    for (int k = 0; k < kPassItems; ++k) {
      const long e = static_cast<long>(blockIdx.x) * kPassElems + k * kPassThreads + threadIdx.x;
      if (e < pn) {
        passed[base + e] = from_float<T>(s[k]);
        s[k] = decay * s[k] + w.states[base + e];
      }
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kTileThreads) bmm_chunk_kernel(SsdParams p, Work w) {
  __shared__ Tile s;
  const int q_tiles = ceil_div(w.q, kBlock);
  const int i0 = (blockIdx.x % q_tiles) * kBlock, j0 = (blockIdx.x / q_tiles) * kBlock;
  const int b = blockIdx.y / w.chunks, c = blockIdx.y % w.chunks, g = blockIdx.z;
  const int t0 = c * w.q, valid = min(w.q, p.length - t0);
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  const T* Bm = static_cast<const T*>(p.b);
  const T* Cm = static_cast<const T*>(p.c);
  float acc[kPerThread][kPerThread] = {};
  for (int n0 = 0; n0 < p.states; n0 += kTileK) {
    // Rows i of C and j of B, read along N (k fastest: coalesced) and stored transposed.
    for (int e = tid; e < kTileK * kBlock; e += kTileThreads) {
      const int k = e % kTileK, r = e / kTileK, n = n0 + k;
      const int i = i0 + r, j = j0 + r;
      s.a[k][r] = n < p.states && i < valid ? to_float(Cm[(token(p, b, t0 + i) * p.groups + g) * p.states + n]) : 0.f;
      s.b[k][r] = n < p.states && j < valid ? to_float(Bm[(token(p, b, t0 + j) * p.groups + g) * p.states + n]) : 0.f;
    }
    __syncthreads();
    tile_fma(s, acc, ty, tx);
    __syncthreads();
  }
  const long out = ((static_cast<long>(b) * w.chunks + c) * p.groups + g) * w.q * static_cast<long>(w.q);
  store_tile(acc, ty, tx, i0, j0, w.q, w.q, w.cb + out, w.q);
}

template <typename T>
__global__ void __launch_bounds__(kTileThreads) chunk_scan_kernel(SsdParams p, Work w) {
  __shared__ Tile s;
  __shared__ float da_row[kBlock], da_col[kTileK], dt_col[kTileK];
  const int q_tiles = ceil_div(w.q, kBlock);
  const int i0 = (blockIdx.x % q_tiles) * kBlock, p0 = (blockIdx.x / q_tiles) * kBlock;
  const int b = blockIdx.y / w.chunks, c = blockIdx.y % w.chunks, h = blockIdx.z;
  const int g = h / (p.heads / p.groups);
  const int t0 = c * w.q, valid = min(w.q, p.length - t0);
  if (i0 >= valid) return;  // rows past the sequence's end in its last chunk (the whole CTA leaves)
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  const long row = stat_row(p, w, b, h, c);
  const T* X = static_cast<const T*>(p.x);
  const T* Cm = static_cast<const T*>(p.c);
  const T* passed = static_cast<const T*>(w.passed);
  const long state = state_row(p, w, b, c, h);
  const long cb = (((static_cast<long>(b) * w.chunks + c) * p.groups + g) * w.q + i0) * w.q;
  if (tid < kBlock) da_row[tid] = i0 + tid < valid ? w.da_cs[row + i0 + tid] : 0.f;
  float acc[kPerThread][kPerThread] = {};
  // C_i · s_c over N: rows of C and of the passed state (P x N, contiguous along N), both transposed.
  for (int n0 = 0; n0 < p.states; n0 += kTileK) {
    for (int e = tid; e < kTileK * kBlock; e += kTileThreads) {
      const int k = e % kTileK, r = e / kTileK, n = n0 + k;
      s.a[k][r] = n < p.states && i0 + r < valid ? to_float(Cm[(token(p, b, t0 + i0 + r) * p.groups + g) * p.states + n]) : 0.f;
      s.b[k][r] = n < p.states && p0 + r < p.head_dim ? to_float(passed[state + static_cast<long>(p0 + r) * p.states + n]) : 0.f;
    }
    __syncthreads();
    tile_fma(s, acc, ty, tx);
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const float decay = __expf(da_row[ty + 16 * i]);
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) acc[i][j] *= decay;
  }
  // The intra-chunk part over keys j <= i: only up to the tile's last row (the causal blocks).
  const int j_end = min(i0 + kBlock, valid);
  for (int j0 = 0; j0 < j_end; j0 += kTileK) {
    if (tid < kTileK) {
      const int j = j0 + tid;
      da_col[tid] = j < valid ? w.da_cs[row + j] : 0.f;
      dt_col[tid] = j < valid ? w.dt[row + j] : 0.f;
    }
    __syncthreads();
    for (int e = tid; e < kTileK * kBlock; e += kTileThreads) {
      // (C Bᵀ)_ij exp(dA_cs_i - dA_cs_j) dt_j, read along j (k fastest) and stored transposed; the
      // mask goes before the exponential, whose argument is positive above the diagonal.
      const int k = e % kTileK, r = e / kTileK, i = i0 + r, j = j0 + k;
      s.a[k][r] = j <= i && i < valid && j < valid
                      ? w.cb[cb + static_cast<long>(r) * w.q + j] * __expf(da_row[r] - da_col[k]) * dt_col[k]
                      : 0.f;
    }
    for (int e = tid; e < kTileK * kBlock; e += kTileThreads) {
      const int k = e / kBlock, col = e % kBlock, j = j0 + k;
      s.b[k][col] = j < valid && p0 + col < p.head_dim ? to_float(X[(token(p, b, t0 + j) * p.heads + h) * p.head_dim + p0 + col]) : 0.f;
    }
    __syncthreads();
    tile_fma(s, acc, ty, tx);
    __syncthreads();
  }
  const float skip = p.d[h];
  T* Y = static_cast<T*>(p.y);
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int ii = i0 + ty + 16 * i, pp = p0 + tx + 16 * j;
      if (ii < valid && pp < p.head_dim) {
        const long o = (token(p, b, t0 + ii) * p.heads + h) * p.head_dim + pp;
        Y[o] = from_float<T>(acc[i][j] + skip * to_float(X[o]));
      }
    }
  }
}

// The launches' grids, in 64-bit so that a shape too large for them is refused, not wrapped.
struct Grids {
  long chunks, q_tiles, p_tiles, n_tiles, pass_blocks;
};

std::string check(const SsdParams& p, Grids* g) {
  if (p.batch < 1 || p.length < 1 || p.heads < 1 || p.head_dim < 1 || p.states < 1 || p.groups < 1 || p.chunk < 1) {
    return "ssd_forward: bad shape";
  }
  if (p.heads % p.groups != 0) {
    return "ssd_forward: " + std::to_string(p.heads) + " heads are not divisible into " + std::to_string(p.groups) + " groups";
  }
  const long q = chunk_len(p);
  g->chunks = (p.length + q - 1) / q;
  g->q_tiles = (q + kBlock - 1) / kBlock;
  g->p_tiles = (p.head_dim + kBlock - 1) / kBlock;
  g->n_tiles = (static_cast<long>(p.states) + kBlock - 1) / kBlock;
  g->pass_blocks = (static_cast<long>(p.head_dim) * p.states + kPassElems - 1) / kPassElems;
  constexpr long kMaxYZ = 65535, kMaxX = 0x7fffffffL;
  if (p.batch * g->chunks > kMaxYZ || p.heads > kMaxYZ) {
    return "ssd_forward: batch x chunks (" + std::to_string(p.batch * g->chunks) + ") and heads must each be at most 65535";
  }
  if (g->q_tiles * g->q_tiles > kMaxX || g->q_tiles * g->p_tiles > kMaxX || g->p_tiles * g->n_tiles > kMaxX || g->pass_blocks > kMaxX) {
    return "ssd_forward: chunk, head dim or state dim too large for the grid";
  }
  return {};
}

template <typename T>
void launch_all(const SsdParams& p, const Work& w, const Grids& g, cudaStream_t s) {
  const unsigned bc = static_cast<unsigned>(p.batch * g.chunks);
  chunk_cumsum_kernel<T><<<dim3(w.chunks, p.batch), kScanThreads, 0, s>>>(p, w);
  chunk_state_kernel<T><<<dim3(g.p_tiles * g.n_tiles, bc, p.heads), kTileThreads, 0, s>>>(p, w);
  state_passing_kernel<T><<<dim3(g.pass_blocks, p.batch, p.heads), kPassThreads, 0, s>>>(p, w);
  bmm_chunk_kernel<T><<<dim3(g.q_tiles * g.q_tiles, bc, p.groups), kTileThreads, 0, s>>>(p, w);
  chunk_scan_kernel<T><<<dim3(g.q_tiles * g.p_tiles, bc, p.heads), kTileThreads, 0, s>>>(p, w);
}

}  // namespace

std::size_t ssd_workspace_bytes(const SsdParams& p) {
  Grids g;
  if (!check(p, &g).empty()) return 0;
  return layout(p).total;
}

std::string ssd_forward(const SsdParams& p, void* workspace, void* stream) {
  Grids g;
  if (std::string e = check(p, &g); !e.empty()) return e;
  if (workspace == nullptr) return "ssd_forward: needs a workspace (ssd_workspace_bytes)";
  const Layout l = layout(p);
  char* base = static_cast<char*>(workspace);
  const Work w{reinterpret_cast<float*>(base + l.dt), reinterpret_cast<float*>(base + l.da_cs),
               reinterpret_cast<float*>(base + l.states), base + l.passed, reinterpret_cast<float*>(base + l.cb),
               chunk_len(p), static_cast<int>(g.chunks)};
  const auto s = static_cast<cudaStream_t>(stream);
  if (p.elem == Elem::bf16) launch_all<__nv_bfloat16>(p, w, g, s);
  else launch_all<__half>(p, w, g, s);
  return launch_error("ssd_forward");
}

}  // namespace attnio::kernels
