// Decode attention, one new query token per sequence, over a cache read in key chunks with an
// online softmax (FlashAttention-2 §3.1.1), split across CTAs by key range (Flash-Decoding) and
// combined by log-sum-exp. Three key sources share the kernel (attention_kernels.hpp):
//  - contiguous K/V, the g query heads of a K/V head packed as rows: the cache is read once per row
//    tile and split (predict.cpp split_kv_decode);
//  - a paged cache through a block table, one CTA per query head and 512-token partition as vLLM
//    PagedAttention (predict.cpp paged_decode);
//  - MLA's latent cache, all heads packed: K is the latent + rope row, V its latent part
//    (DeepSeek-V2 §2.1.2, absorbed form).
// IO per CTA: its query rows, its key range of the cache once, a partial output and log-sum-exp
// (fp32) or, unsplit, the output. Correct first: dot products on CUDA cores, one key per thread.
// The cache element type C is the activations' (T) or fp8 e4m3 with per-tensor scales (vLLM's fp8
// cache, csrc/attention/attention_kernels.cuh: each cached element converted with
// fp8::scaled_convert(k, k_scale)); here the per-tensor scale is taken out of the sums: a score is
// scale · k_scale · Σ q·k8, an output v_scale · Σ p·v8, so the conversion is the only per-element cost.
#include <cmath>

#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/model/tile_traits.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

constexpr int kThreads = 128;
constexpr int kKeysPerChunk = kThreads;  // one key per thread per chunk
constexpr int kMaxRows = static_cast<int>(traits::kDecodeRowTile);
constexpr int kMaxDim = 576;             // MLA's 512 + 64; keeps the static shared memory under 48 KiB

// Where key j of a set (a K/V head, or MLA's shared latent) lives, and which query heads are rows.
struct Layout {
  KeySource source;
  int batch, heads, kv_heads, nk, d, dv, page_size, pages_per_seq;
  int sets, rows;  // sets per sequence, query rows per set
  __host__ __device__ long k_offset(int b, int set, int j) const {
    switch (source) {
      case KeySource::contiguous: return ((static_cast<long>(b) * nk + j) * kv_heads + set) * d;
      case KeySource::latent: return (static_cast<long>(b) * nk + j) * d;
      case KeySource::paged: break;
    }
    return 0;
  }
};

__device__ __forceinline__ long paged_offset(const DecodeParams& p, const Layout& L, int b, int kvh, int j, int width) {
  const int phys = p.block_table[static_cast<long>(b) * L.pages_per_seq + j / L.page_size];
  return ((static_cast<long>(phys) * L.kv_heads + kvh) * L.page_size + j % L.page_size) * width;
}

template <typename T, typename C, int ROWS>
__global__ void __launch_bounds__(kThreads) decode_kernel(DecodeParams p, Layout L, float* partial, float* part_lse) {
  __shared__ float q[ROWS][kMaxDim];
  __shared__ float s[ROWS][kKeysPerChunk];
  __shared__ float m[ROWS], l[ROWS], alpha[ROWS];
  __shared__ float red[kThreads / 32];

  // Grid (batch x set, split, row tile).
  const int split = blockIdx.y, bs = blockIdx.x, b = bs / L.sets, set = bs % L.sets;
  const int row0 = blockIdx.z * ROWS, nrows = min(ROWS, L.rows - row0);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int g = L.heads / L.kv_heads;
  const int kvh = p.source == KeySource::paged ? set / g : set;
  const T* Q = static_cast<const T*>(p.q);
  const C* K = static_cast<const C*>(p.k);
  const C* V = p.source == KeySource::latent ? K : static_cast<const C*>(p.v);
  const float scale = (p.scale != 0 ? p.scale : rsqrtf(static_cast<float>(L.d))) * p.k_scale;

  auto head_of = [&](int r) { return set * L.rows + row0 + r; };
  for (int idx = tid; idx < ROWS * L.d; idx += kThreads) {
    const int r = idx / L.d, c = idx % L.d;
    q[r][c] = r < nrows ? to_float(Q[(static_cast<long>(b) * L.heads + head_of(r)) * L.d + c]) : 0.f;
  }
  for (int r = tid; r < ROWS; r += kThreads) {
    m[r] = -INFINITY;
    l[r] = 0.f;
  }
  // Output columns of this thread: c = tid, tid + 128, ... < dv.
  constexpr int kCols = (kMaxDim + kThreads - 1) / kThreads;
  float acc[kCols][ROWS];
  for (int a = 0; a < kCols; ++a) {
    for (int r = 0; r < ROWS; ++r) acc[a][r] = 0.f;
  }
  __syncthreads();

  // vLLM's partitions are 512 tokens; flash-decoding splits the keys evenly.
  const int per = p.source == KeySource::paged && p.splits > 1 ? static_cast<int>(traits::kPagedPartition) : ceil_div(L.nk, p.splits);
  const int j_begin = min(L.nk, split * per), j_end = min(L.nk, (split + 1) * per);
  auto key_at = [&](int j, int c) {
    return p.source == KeySource::paged ? K[paged_offset(p, L, b, kvh, j, L.d) + c] : K[L.k_offset(b, set, j) + c];
  };
  auto value_at = [&](int j, int c) {
    if (p.source == KeySource::paged) return V[paged_offset(p, L, b, kvh, j, L.dv) + c];
    if (p.source == KeySource::latent) return V[L.k_offset(b, set, j) + c];
    return V[((static_cast<long>(b) * L.nk + j) * L.kv_heads + set) * L.dv + c];
  };

  for (int j0 = j_begin; j0 < j_end; j0 += kKeysPerChunk) {
    const int j = j0 + tid;
    // Scores of this thread's key against every row.
    for (int r = 0; r < ROWS; ++r) s[r][tid] = -INFINITY;
    if (j < j_end) {
      float dot[ROWS];
      for (int r = 0; r < ROWS; ++r) dot[r] = 0.f;
      for (int c = 0; c < L.d; ++c) {
        const float kv = to_float(key_at(j, c));
        for (int r = 0; r < ROWS; ++r) dot[r] += q[r][c] * kv;
      }
      for (int r = 0; r < nrows; ++r) s[r][tid] = dot[r] * scale;
    }
    __syncthreads();
    // Row by row: chunk max, new running max, exponentials, chunk sum.
    for (int r = 0; r < nrows; ++r) {
      float mx = warp_max(s[r][tid]);
      if (lane == 0) red[warp] = mx;
      __syncthreads();
      mx = red[0];
      for (int w = 1; w < kThreads / 32; ++w) mx = fmaxf(mx, red[w]);
      const float m_new = fmaxf(m[r], mx);
      const float e = s[r][tid] == -INFINITY ? 0.f : __expf(s[r][tid] - m_new);
      __syncthreads();
      s[r][tid] = e;
      float sum = warp_sum(e);
      if (lane == 0) red[warp] = sum;
      __syncthreads();
      if (tid == 0) {
        sum = 0.f;
        for (int w = 0; w < kThreads / 32; ++w) sum += red[w];
        alpha[r] = m[r] == -INFINITY ? 0.f : __expf(m[r] - m_new);
        l[r] = l[r] * alpha[r] + sum;
        m[r] = m_new;
      }
      __syncthreads();
    }
    // Rescale and accumulate P V: each value row read once for all rows.
    for (int a = 0; a < kCols; ++a) {
      const int c = tid + a * kThreads;
      if (c >= L.dv) break;
      for (int r = 0; r < nrows; ++r) acc[a][r] *= alpha[r];
      for (int jj = 0; jj < kKeysPerChunk && j0 + jj < j_end; ++jj) {
        const float v = to_float(value_at(j0 + jj, c));
        for (int r = 0; r < nrows; ++r) acc[a][r] += s[r][jj] * v;
      }
    }
    __syncthreads();
  }

  // Unsplit: the output. Split: a normalized partial output and its log-sum-exp.
  for (int a = 0; a < kCols; ++a) {
    const int c = tid + a * kThreads;
    if (c >= L.dv) break;
    for (int r = 0; r < nrows; ++r) {
      const float out = l[r] > 0.f ? acc[a][r] * p.v_scale / l[r] : 0.f;
      const long row = static_cast<long>(b) * L.heads + head_of(r);
      if (p.splits == 1) {
        static_cast<T*>(p.o)[row * L.dv + c] = from_float<T>(out);
      } else {
        partial[(row * p.splits + split) * L.dv + c] = out;
      }
    }
  }
  if (p.splits > 1 && tid < nrows) {
    const long row = static_cast<long>(b) * L.heads + head_of(tid);
    part_lse[row * p.splits + split] = l[tid] > 0.f ? m[tid] + logf(l[tid]) : -INFINITY;
  }
}

// O = Σ_s exp(lse_s - LSE) O_s with LSE = log Σ_s exp(lse_s) (Flash-Decoding's reduction).
template <typename T>
__global__ void combine_kernel(int splits, int dv, const float* partial, const float* part_lse, T* out) {
  const long row = blockIdx.x;
  float mx = -INFINITY;
  for (int s = 0; s < splits; ++s) mx = fmaxf(mx, part_lse[row * splits + s]);
  float total = 0.f;
  for (int s = 0; s < splits; ++s) total += mx == -INFINITY ? 0.f : __expf(part_lse[row * splits + s] - mx);
  for (int c = threadIdx.x; c < dv; c += blockDim.x) {
    float o = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float w = total > 0.f ? __expf(part_lse[row * splits + s] - mx) / total : 0.f;
      o += w * partial[(row * splits + s) * dv + c];
    }
    out[row * dv + c] = from_float<T>(o);
  }
}

Layout layout_of(const DecodeParams& p) {
  Layout L{p.source, p.batch, p.heads, p.kv_heads, p.nk, p.head_dim, p.v_head_dim, p.page_size,
           ceil_div(p.nk, p.page_size), 0, 0};
  switch (p.source) {
    case KeySource::contiguous: L.sets = p.kv_heads; L.rows = p.heads / p.kv_heads; break;
    case KeySource::paged: L.sets = p.heads; L.rows = 1; break;
    case KeySource::latent: L.sets = 1; L.rows = p.heads; break;
  }
  return L;
}

template <typename T, typename C>
std::string launch(const DecodeParams& p, cudaStream_t stream) {
  const Layout L = layout_of(p);
  float* partial = static_cast<float*>(p.workspace);
  float* part_lse = partial == nullptr ? nullptr : partial + static_cast<long>(p.batch) * p.heads * p.splits * p.v_head_dim;
  if (L.rows == 1) {
    decode_kernel<T, C, 1><<<dim3(p.batch * L.sets, p.splits, 1), kThreads, 0, stream>>>(p, L, partial, part_lse);
  } else if (L.rows <= 8) {
    decode_kernel<T, C, 8><<<dim3(p.batch * L.sets, p.splits, 1), kThreads, 0, stream>>>(p, L, partial, part_lse);
  } else {
    decode_kernel<T, C, 16><<<dim3(p.batch * L.sets, p.splits, ceil_div(L.rows, 16)), kThreads, 0, stream>>>(p, L, partial, part_lse);
  }
  std::string err = launch_error("decode_attention");
  if (!err.empty() || p.splits == 1) return err;
  combine_kernel<T><<<p.batch * p.heads, kThreads, 0, stream>>>(p.splits, p.v_head_dim, partial, part_lse, static_cast<T*>(p.o));
  return launch_error("combine_splits");
}

}  // namespace

std::size_t decode_workspace_bytes(const DecodeParams& p) {
  if (p.splits <= 1) return 0;
  return sizeof(float) * static_cast<std::size_t>(p.batch) * p.heads * p.splits * (p.v_head_dim + 1);
}

std::string decode_attention(const DecodeParams& p, void* stream) {
  if (p.batch < 1 || p.heads < 1 || p.kv_heads < 1 || p.nk < 1 || p.splits < 1 || p.heads % p.kv_heads != 0) {
    return "decode_attention: bad shape";
  }
  if (p.head_dim > kMaxDim || p.v_head_dim > kMaxDim) return "decode_attention: head dim above " + std::to_string(kMaxDim);
  if (p.source == KeySource::paged && (p.block_table == nullptr || p.page_size < 1)) return "decode_attention: paged needs a block table";
  if (p.splits > 1 && p.workspace == nullptr) return "decode_attention: splits need a workspace";
  if (p.source == KeySource::paged && p.splits > 1 && p.splits != ceil_div(p.nk, static_cast<int>(traits::kPagedPartition))) {
    return "decode_attention: paged splits must be 1 or one per 512-token partition";
  }
  if (p.source == KeySource::latent && p.scale == 0) return "decode_attention: the latent (MLA) source needs an explicit scale";
  if (p.fp8_cache && p.source == KeySource::latent) return "decode_attention: no fp8 latent (MLA) cache";
  if (p.fp8_cache && !(p.k_scale > 0.f && p.v_scale > 0.f && std::isfinite(p.k_scale) && std::isfinite(p.v_scale))) {
    return "decode_attention: fp8 cache scales must be positive and finite";
  }
  static_assert(kMaxRows >= 16, "row tiles of up to 16 rows");
  const auto s = static_cast<cudaStream_t>(stream);
  if (p.fp8_cache) {
    return p.elem == Elem::bf16 ? launch<__nv_bfloat16, __nv_fp8_e4m3>(p, s) : launch<__half, __nv_fp8_e4m3>(p, s);
  }
  return p.elem == Elem::bf16 ? launch<__nv_bfloat16, __nv_bfloat16>(p, s) : launch<__half, __half>(p, s);
}

}  // namespace attnio::kernels
