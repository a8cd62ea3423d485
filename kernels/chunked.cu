// Memory-efficient attention (Rabe & Staats 2021, their Fig. 1) as XLA runs it: for each query
// chunk and each key chunk it needs, one launch computes the scores and their exponentials against
// the chunk's row max and writes them (fp32) with the max, a second multiplies them by the V chunk
// and writes a partial output and row sum; after the query chunk's key chunks, a combine launch
// rescales the partials to a common max and writes O. Nothing is fused across launches, so the
// scores cross HBM: Θ(N²) bytes per head with O(chunk²) memory (predict.cpp chunked).
// Correct first: CUDA-core dot products, one 64-row band of a chunk per CTA (tile_traits.hpp).
#include <cmath>

#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/model/tile_traits.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

constexpr int kThreads = 128;
constexpr int kBand = static_cast<int>(traits::kChunkBandRows);
constexpr int kMaxDim = 256;

struct Geometry {
  int batch, heads, kv_heads, n, nk, d, chunk, tc;
  bool causal;
  float scale;
  __host__ __device__ int limit(int i) const { return causal ? min(nk, i + (nk - n) + 1) : nk; }  // keys [0, limit)
};

__device__ float block_max(float x, float* red) {
  x = warp_max(x);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = x;
  __syncthreads();
  float m = red[0];
  for (int w = 1; w < kThreads / 32; ++w) m = fmaxf(m, red[w]);
  __syncthreads();
  return m;
}

// Grid (band of rows, batch x head): scores of query chunk qc against key chunk kc.
template <typename T>
__global__ void chunk_scores_kernel(Geometry g, int qc, int kc, const T* Q, const T* K, float* scores, float* maxima) {
  __shared__ float q[kMaxDim];
  __shared__ float red[kThreads / 32];
  const int bh = blockIdx.y, b = bh / g.heads, h = bh % g.heads, kvh = h / (g.heads / g.kv_heads);
  const int c0 = kc * g.chunk, cols = min(g.nk, c0 + g.chunk) - c0;
  for (int rr = 0; rr < kBand; ++rr) {
    const int r = blockIdx.x * kBand + rr, i = qc * g.chunk + r;
    if (r >= g.chunk || i >= g.n) break;
    for (int c = threadIdx.x; c < g.d; c += kThreads) q[c] = to_float(Q[((static_cast<long>(b) * g.n + i) * g.heads + h) * g.d + c]);
    __syncthreads();
    float* row = scores + (static_cast<long>(bh) * g.chunk + r) * g.chunk;
    float mx = -INFINITY;
    for (int t = threadIdx.x; t < cols; t += kThreads) {
      const int j = c0 + t;
      float s = -INFINITY;
      if (j < g.limit(i)) {
        s = 0.f;
        const T* k = K + ((static_cast<long>(b) * g.nk + j) * g.kv_heads + kvh) * g.d;
        for (int c = 0; c < g.d; ++c) s += q[c] * to_float(k[c]);
        s *= g.scale;
      }
      row[t] = s;
      mx = fmaxf(mx, s);
    }
    mx = block_max(mx, red);
    for (int t = threadIdx.x; t < cols; t += kThreads) row[t] = mx == -INFINITY ? 0.f : __expf(row[t] - mx);
    if (threadIdx.x == 0) maxima[(static_cast<long>(bh) * g.tc + kc) * g.chunk + r] = mx;
    __syncthreads();
  }
}

// Grid (band, batch x head): partial output Σ_j e_ij V_j and row sum, (dv + 1) floats per row.
template <typename T>
__global__ void chunk_pv_kernel(Geometry g, int qc, int kc, const T* V, const float* scores, float* partial) {
  const int bh = blockIdx.y, b = bh / g.heads, h = bh % g.heads, kvh = h / (g.heads / g.kv_heads);
  const int c0 = kc * g.chunk, cols = min(g.nk, c0 + g.chunk) - c0;
  for (int rr = 0; rr < kBand; ++rr) {
    const int r = blockIdx.x * kBand + rr, i = qc * g.chunk + r;
    if (r >= g.chunk || i >= g.n) break;
    const float* e = scores + (static_cast<long>(bh) * g.chunk + r) * g.chunk;
    float* out = partial + ((static_cast<long>(bh) * g.tc + kc) * g.chunk + r) * (g.d + 1);
    for (int c = threadIdx.x; c <= g.d; c += kThreads) {
      float acc = 0.f;
      for (int t = 0; t < cols; ++t) {
        acc += c == g.d ? e[t] : e[t] * to_float(V[((static_cast<long>(b) * g.nk + c0 + t) * g.kv_heads + kvh) * g.d + c]);
      }
      out[c] = acc;
    }
  }
}

// Grid (row of the query chunk, batch x head): O = Σ_k w_k v_k / Σ_k w_k l_k, w_k = exp(m_k - max m).
template <typename T>
__global__ void chunk_combine_kernel(Geometry g, int qc, int kc_first, int kc_last, const float* maxima, const float* partial, T* O) {
  const int r = blockIdx.x, bh = blockIdx.y, b = bh / g.heads, h = bh % g.heads, i = qc * g.chunk + r;
  if (i >= g.n) return;
  float top = -INFINITY;
  for (int kc = kc_first; kc <= kc_last; ++kc) top = fmaxf(top, maxima[(static_cast<long>(bh) * g.tc + kc) * g.chunk + r]);
  float total = 0.f;
  for (int kc = kc_first; kc <= kc_last && top != -INFINITY; ++kc) {
    const float m = maxima[(static_cast<long>(bh) * g.tc + kc) * g.chunk + r];
    if (m != -INFINITY) total += __expf(m - top) * partial[((static_cast<long>(bh) * g.tc + kc) * g.chunk + r) * (g.d + 1) + g.d];
  }
  for (int c = threadIdx.x; c < g.d; c += blockDim.x) {
    float o = 0.f;
    for (int kc = kc_first; kc <= kc_last && total > 0.f; ++kc) {
      const float m = maxima[(static_cast<long>(bh) * g.tc + kc) * g.chunk + r];
      if (m != -INFINITY) o += __expf(m - top) * partial[((static_cast<long>(bh) * g.tc + kc) * g.chunk + r) * (g.d + 1) + c];
    }
    O[((static_cast<long>(b) * g.n + i) * g.heads + h) * g.d + c] = from_float<T>(total > 0.f ? o / total : 0.f);
  }
}

template <typename T>
std::string launch(const ChunkedParams& p, void* workspace, cudaStream_t s) {
  const int tr = ceil_div(p.n, p.chunk), tc = ceil_div(p.nk, p.chunk), bh = p.batch * p.heads;
  Geometry g{p.batch, p.heads, p.kv_heads, p.n, p.nk, p.head_dim, p.chunk, tc, p.causal,
             p.scale != 0 ? p.scale : 1.f / std::sqrt(static_cast<float>(p.head_dim))};
  float* scores = static_cast<float*>(workspace);
  float* maxima = scores + static_cast<long>(bh) * p.chunk * p.chunk;
  float* partial = maxima + static_cast<long>(bh) * tc * p.chunk;
  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  for (int qc = 0; qc < tr; ++qc) {
    const int rows = min(p.chunk, p.n - qc * p.chunk);
    const int last_row = qc * p.chunk + rows - 1;
    const int limit = p.causal ? min(p.nk, last_row + (p.nk - p.n) + 1) : p.nk;
    const int kc_last = limit > 0 ? (limit - 1) / p.chunk : -1;
    const dim3 grid(ceil_div(rows, kBand), bh);
    for (int kc = 0; kc <= kc_last; ++kc) {
      chunk_scores_kernel<T><<<grid, kThreads, 0, s>>>(g, qc, kc, Q, K, scores, maxima);
      chunk_pv_kernel<T><<<grid, kThreads, 0, s>>>(g, qc, kc, V, scores, partial);
    }
    if (kc_last < 0) {  // no key for any row: O = 0
      for (int r = 0; r < rows; ++r) {
        for (int b = 0; b < p.batch; ++b) {
          cudaMemsetAsync(static_cast<char*>(p.o) + ((static_cast<long>(b) * p.n + qc * p.chunk + r) * p.heads) * p.head_dim * 2,
                          0, static_cast<std::size_t>(p.heads) * p.head_dim * 2, s);
        }
      }
      continue;
    }
    chunk_combine_kernel<T><<<dim3(rows, bh), kThreads, 0, s>>>(g, qc, 0, kc_last, maxima, partial, static_cast<T*>(p.o));
    const std::string err = launch_error("chunked_attention");
    if (!err.empty()) return err;
  }
  return launch_error("chunked_attention");
}

}  // namespace

std::size_t chunked_workspace_bytes(const ChunkedParams& p) {
  const std::size_t bh = static_cast<std::size_t>(p.batch) * p.heads, c = p.chunk, tc = (p.nk + p.chunk - 1) / p.chunk;
  return sizeof(float) * (bh * c * c + bh * tc * c + bh * tc * c * (p.head_dim + 1));
}

std::string chunked_attention(const ChunkedParams& p, void* workspace, void* stream) {
  if (p.batch < 1 || p.heads < 1 || p.kv_heads < 1 || p.n < 1 || p.nk < 1 || p.heads % p.kv_heads != 0 || p.chunk < 1) {
    return "chunked_attention: bad shape";
  }
  if (p.head_dim > kMaxDim) return "chunked_attention: head dim above " + std::to_string(kMaxDim);
  if (workspace == nullptr) return "chunked_attention: needs a workspace";
  const auto s = static_cast<cudaStream_t>(stream);
  return p.elem == Elem::bf16 ? launch<__nv_bfloat16>(p, workspace, s) : launch<__half>(p, workspace, s);
}

}  // namespace attnio::kernels
