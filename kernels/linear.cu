// Linear attention (Katharopoulos et al. 2020 §3.2, phi = elu + 1) and the attention half of
// Performer (features given).
//
// Causal, chunked form (as flash-linear-attention): one CTA per (sequence, K/V head, 32 value
// columns) carries the F x 32 slice of the state S = Σ phi(k) v^T and the normalizer z = Σ phi(k)
// across chunks of C tokens; inside a chunk each query head of the group takes phi(q) S for the past
// and the masked C x C product for the chunk. Q, K, V are read once and O written once
// (predict.cpp linear_core). Non-causal: a state kernel, then an output kernel. Correct first:
// CUDA cores, fp32 throughout on chip.
#include <cmath>

#include "attnio/kernels/subquadratic_kernels.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

constexpr int kThreads = 128;
constexpr int kCols = 32;          // value columns per CTA
constexpr int kMaxFeatures = 256;

__device__ __forceinline__ float phi(float x, bool elu) { return elu ? (x > 0.f ? x + 1.f : __expf(x)) : x; }

// Chunk length: C x F floats for phi(Q) and phi(K) each stay near 32 KiB.
int chunk_for(const LinearParams& p) { return max(1, min(p.chunk, 8192 / p.features)); }

template <typename T>
__global__ void __launch_bounds__(kThreads) linear_causal_kernel(LinearParams p, int C) {
  extern __shared__ float sm[];
  const int F = p.features;
  float* S = sm;                 // F x kCols
  float* z = S + F * kCols;      // F
  float* Kc = z + F;             // C x F
  float* Qc = Kc + C * F;        // C x F
  float* Vc = Qc + C * F;        // C x kCols
  float* A = Vc + C * kCols;     // C x C: phi(q_t)·phi(k_s)
  float* den = A + C * C;        // C
  const int bkv = blockIdx.x, b = bkv / p.kv_heads, kvh = bkv % p.kv_heads;
  const int e0 = blockIdx.y * kCols, cols = min(kCols, p.dv - e0);
  const int g = p.heads / p.kv_heads, tid = threadIdx.x;
  const T* Q = static_cast<const T*>(p.q);
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  T* O = static_cast<T*>(p.o);
  for (int i = tid; i < F * kCols; i += kThreads) S[i] = 0.f;
  for (int i = tid; i < F; i += kThreads) z[i] = 0.f;
  __syncthreads();
  for (int t0 = 0; t0 < p.n; t0 += C) {
    const int len = min(C, p.n - t0);
    for (int i = tid; i < len * F; i += kThreads) {
      const int t = i / F, f = i % F;
      Kc[i] = phi(to_float(K[((static_cast<long>(b) * p.n + t0 + t) * p.kv_heads + kvh) * F + f]), p.elu);
    }
    for (int i = tid; i < len * kCols; i += kThreads) {
      const int t = i / kCols, e = i % kCols;
      Vc[i] = e < cols ? to_float(V[((static_cast<long>(b) * p.n + t0 + t) * p.kv_heads + kvh) * p.dv + e0 + e]) : 0.f;
    }
    __syncthreads();
    for (int h = kvh * g; h < (kvh + 1) * g; ++h) {
      for (int i = tid; i < len * F; i += kThreads) {
        const int t = i / F, f = i % F;
        Qc[i] = phi(to_float(Q[((static_cast<long>(b) * p.n + t0 + t) * p.heads + h) * F + f]), p.elu);
      }
      __syncthreads();
      for (int i = tid; i < len * len; i += kThreads) {
        const int t = i / len, s = i % len;
        float w = 0.f;
        if (s <= t) {
          for (int f = 0; f < F; ++f) w += Qc[t * F + f] * Kc[s * F + f];
        }
        A[t * C + s] = w;
      }
      for (int t = tid; t < len; t += kThreads) {
        float d = 0.f;
        for (int f = 0; f < F; ++f) d += Qc[t * F + f] * z[f];
        den[t] = d;
      }
      __syncthreads();
      for (int i = tid; i < len * kCols; i += kThreads) {
        const int t = i / kCols, e = i % kCols;
        if (e >= cols) continue;
        float num = 0.f, d = den[t];
        for (int f = 0; f < F; ++f) num += Qc[t * F + f] * S[f * kCols + e];
        for (int s = 0; s <= t; ++s) {
          num += A[t * C + s] * Vc[s * kCols + e];
          d += A[t * C + s];
        }
        O[((static_cast<long>(b) * p.n + t0 + t) * p.heads + h) * p.dv + e0 + e] = from_float<T>(num / d);
      }
      __syncthreads();
    }
    // S += phi(K)^T V, z += Σ phi(k) for the chunk.
    for (int i = tid; i < F * kCols; i += kThreads) {
      const int f = i / kCols, e = i % kCols;
      float acc = 0.f;
      for (int t = 0; t < len; ++t) acc += Kc[t * F + f] * Vc[t * kCols + e];
      S[i] += acc;
    }
    for (int f = tid; f < F; f += kThreads) {
      float acc = 0.f;
      for (int t = 0; t < len; ++t) acc += Kc[t * F + f];
      z[f] += acc;
    }
    __syncthreads();
  }
}

// Non-causal: the state of each K/V head (S: F x dv, then z: F) into the workspace.
template <typename T>
__global__ void linear_state_kernel(LinearParams p, float* state) {
  const int bkv = blockIdx.x, b = bkv / p.kv_heads, kvh = bkv % p.kv_heads, F = p.features;
  const T* K = static_cast<const T*>(p.k);
  const T* V = static_cast<const T*>(p.v);
  float* S = state + static_cast<long>(bkv) * (F * p.dv + F);
  for (int i = threadIdx.x; i < F * p.dv + F; i += blockDim.x) {
    const int f = i < F * p.dv ? i / p.dv : i - F * p.dv, e = i < F * p.dv ? i % p.dv : -1;
    float acc = 0.f;
    for (int t = 0; t < p.n; ++t) {
      const float kf = phi(to_float(K[((static_cast<long>(b) * p.n + t) * p.kv_heads + kvh) * F + f]), p.elu);
      acc += e < 0 ? kf : kf * to_float(V[((static_cast<long>(b) * p.n + t) * p.kv_heads + kvh) * p.dv + e]);
    }
    S[i] = acc;
  }
}

template <typename T>
__global__ void linear_output_kernel(LinearParams p, const float* state) {
  const long row = blockIdx.x;  // (b, t, h)
  const int h = static_cast<int>(row % p.heads), b = static_cast<int>(row / (static_cast<long>(p.heads) * p.n));
  const int kvh = h / (p.heads / p.kv_heads), F = p.features;
  const float* S = state + (static_cast<long>(b) * p.kv_heads + kvh) * (F * p.dv + F);
  const T* q = static_cast<const T*>(p.q) + row * F;
  __shared__ float qs[kMaxFeatures];
  __shared__ float den;
  for (int f = threadIdx.x; f < F; f += blockDim.x) qs[f] = phi(to_float(q[f]), p.elu);
  __syncthreads();
  if (threadIdx.x == 0) {
    float d = 0.f;
    for (int f = 0; f < F; ++f) d += qs[f] * S[F * p.dv + f];
    den = d;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < p.dv; e += blockDim.x) {
    float num = 0.f;
    for (int f = 0; f < F; ++f) num += qs[f] * S[f * p.dv + e];
    static_cast<T*>(p.o)[row * p.dv + e] = from_float<T>(num / den);
  }
}

template <typename T>
std::string launch(const LinearParams& p, cudaStream_t s) {
  if (!p.causal) {
    linear_state_kernel<T><<<p.batch * p.kv_heads, kThreads, 0, s>>>(p, static_cast<float*>(p.workspace));
    std::string err = launch_error("linear_state");
    if (!err.empty()) return err;
    linear_output_kernel<T><<<static_cast<long>(p.batch) * p.n * p.heads, kThreads, 0, s>>>(p, static_cast<const float*>(p.workspace));
    return launch_error("linear_output");
  }
  const int C = chunk_for(p), F = p.features;
  const std::size_t smem = sizeof(float) * (F * kCols + F + 2 * C * F + C * kCols + C * C + C);
  if (cudaFuncSetAttribute(linear_causal_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)) != cudaSuccess) {
    return launch_error("linear_causal_chunked (shared memory)");
  }
  linear_causal_kernel<T><<<dim3(p.batch * p.kv_heads, ceil_div(p.dv, kCols)), kThreads, smem, s>>>(p, C);
  return launch_error("linear_causal_chunked");
}

}  // namespace

std::size_t linear_workspace_bytes(const LinearParams& p) {
  return p.causal ? 0 : sizeof(float) * static_cast<std::size_t>(p.batch) * p.kv_heads * (p.features * p.dv + p.features);
}

std::string linear_attention(const LinearParams& p, void* stream) {
  if (p.batch < 1 || p.heads < 1 || p.kv_heads < 1 || p.n < 1 || p.dv < 1 || p.heads % p.kv_heads != 0) {
    return "linear_attention: bad shape";
  }
  if (p.features < 1 || p.features > kMaxFeatures) return "linear_attention: features must be 1 to " + std::to_string(kMaxFeatures);
  if (!p.causal && p.workspace == nullptr) return "linear_attention: the non-causal form needs a workspace";
  const auto s = static_cast<cudaStream_t>(stream);
  return p.elem == Elem::bf16 ? launch<__nv_bfloat16>(p, s) : launch<__half>(p, s);
}

// FAVOR+ features: one CTA per row, threads over the r features.
namespace {
template <typename T>
__global__ void favor_kernel(FavorParams p) {
  const long row = blockIdx.x;
  __shared__ float x[kMaxFeatures * 2];
  __shared__ float half_norm;
  const float s = rsqrtf(sqrtf(static_cast<float>(p.d)));  // d^(-1/4)
  for (int c = threadIdx.x; c < p.d; c += blockDim.x) x[c] = s * to_float(static_cast<const T*>(p.x)[row * p.d + c]);
  __syncthreads();
  if (threadIdx.x == 0) {
    float n = 0.f;
    for (int c = 0; c < p.d; ++c) n += x[c] * x[c];
    half_norm = 0.5f * n;
  }
  __syncthreads();
  const float inv_sqrt_r = rsqrtf(static_cast<float>(p.features));
  for (int f = threadIdx.x; f < p.features; f += blockDim.x) {
    float dot = 0.f;
    for (int c = 0; c < p.d; ++c) dot += p.omega[static_cast<long>(f) * p.d + c] * x[c];
    static_cast<T*>(p.phi)[row * p.features + f] = from_float<T>(__expf(dot - half_norm) * inv_sqrt_r);
  }
}
}  // namespace

std::string favor_features(const FavorParams& p, void* stream) {
  if (p.rows < 1 || p.d < 1 || p.d > 2 * kMaxFeatures || p.features < 1) return "favor_features: bad shape";
  const auto s = static_cast<cudaStream_t>(stream);
  if (p.elem == Elem::bf16) favor_kernel<__nv_bfloat16><<<p.rows, kThreads, 0, s>>>(p);
  else favor_kernel<__half><<<p.rows, kThreads, 0, s>>>(p);
  return launch_error("favor_features");
}

}  // namespace attnio::kernels
