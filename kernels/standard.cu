// Standard attention (FlashAttention Alg. 0), as eager frameworks run it: S = scale·QK^T with cuBLAS,
// a softmax kernel (mask, row max, exponentials, normalization) writing P, and O = PV with cuBLAS.
// IO: S and P cross HBM (written once, read once each): Θ(N·d + N²) per head
// (predict.cpp standard_fwd). Layouts as flash-attention (Q, O [B][N][H][d]; K, V [B][Nk][Hkv][d]):
// each head is a strided matrix, so the GEMMs are batched over (batch, head) with pointer arrays,
// and a query head reads its K/V head in place (GQA without copies).
#include <cublas_v2.h>

#include "attnio/kernels/cublas_lazy.hpp"

#include <cmath>
#include <vector>

#include "attnio/kernels/attention_kernels.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

// One CTA per row of S: mask (bottom-right causal), max, exp, sum, normalize into P.
template <typename T>
__global__ void softmax_kernel(const T* S, T* P, int n, int nk, int lds, bool causal) {
  const long row = blockIdx.x;
  const int i = static_cast<int>(row % n);
  const int limit = causal ? min(nk, i + (nk - n) + 1) : nk;  // keys allowed: [0, limit)
  __shared__ float red[32];
  const T* s = S + row * lds;
  T* p = P + row * lds;
  float mx = -INFINITY;
  for (int j = threadIdx.x; j < limit; j += blockDim.x) mx = fmaxf(mx, to_float(s[j]));
  mx = warp_max(mx);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = mx;
  __syncthreads();
  mx = -INFINITY;
  for (int w = 0; w < (blockDim.x + 31) / 32; ++w) mx = fmaxf(mx, red[w]);
  __syncthreads();
  float sum = 0.f;
  for (int j = threadIdx.x; j < limit; j += blockDim.x) sum += __expf(to_float(s[j]) - mx);
  sum = warp_sum(sum);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = sum;
  __syncthreads();
  sum = 0.f;
  for (int w = 0; w < (blockDim.x + 31) / 32; ++w) sum += red[w];
  for (int j = threadIdx.x; j < nk; j += blockDim.x) {
    p[j] = from_float<T>(j < limit && sum > 0.f ? __expf(to_float(s[j]) - mx) / sum : 0.f);
  }
}

std::string cublas_error(const char* what, cublasStatus_t st) {
  // cuBLAS is opened on first use (cublas_lazy.cpp): a library that did not load says why.
  const std::string why = cublas_reason();
  return std::string(what) + (why.empty() ? ": cuBLAS status " + std::to_string(static_cast<int>(st)) : why);
}

}  // namespace

// Pointer arrays for the batched GEMMs, 7 slots of B·H pointers: per (b, h) the strided Q, K, V, O
// heads and the contiguous S, P blocks (P twice: written by the softmax, read by PV).
static std::string upload_pointer_arrays(const StandardParams& p, void* dev, cudaStream_t s) {
  const std::size_t e = 2;
  const int d = p.head_dim, g = p.heads / p.kv_heads, bh = p.batch * p.heads;
  const int lds = standard_row_stride(p.nk);
  std::vector<const void*> q(bh), k(bh), v(bh), pp(bh);
  std::vector<void*> o(bh), sc(bh), pw(bh);
  for (int b = 0; b < p.batch; ++b) {
    for (int h = 0; h < p.heads; ++h) {
      const int i = b * p.heads + h, kvh = h / g;
      q[i] = static_cast<const char*>(p.q) + (static_cast<std::size_t>(b) * p.n * p.heads + h) * d * e;
      k[i] = static_cast<const char*>(p.k) + (static_cast<std::size_t>(b) * p.nk * p.kv_heads + kvh) * d * e;
      v[i] = static_cast<const char*>(p.v) + (static_cast<std::size_t>(b) * p.nk * p.kv_heads + kvh) * d * e;
      o[i] = static_cast<char*>(p.o) + (static_cast<std::size_t>(b) * p.n * p.heads + h) * d * e;
      sc[i] = static_cast<char*>(p.s) + static_cast<std::size_t>(i) * p.n * lds * e;
      pw[i] = static_cast<char*>(p.p) + static_cast<std::size_t>(i) * p.n * lds * e;
      pp[i] = pw[i];
    }
  }
  const std::size_t bytes = sizeof(void*) * static_cast<std::size_t>(bh);
  const void* host[7] = {q.data(), k.data(), v.data(), o.data(), sc.data(), pw.data(), pp.data()};
  for (int slot = 0; slot < 7; ++slot) {
    // Synchronous copies: the host vectors die with this function.
    if (cudaMemcpyAsync(static_cast<char*>(dev) + slot * bytes, host[slot], bytes, cudaMemcpyHostToDevice, s) != cudaSuccess ||
        cudaStreamSynchronize(s) != cudaSuccess) {
      return launch_error("standard_attention (pointer arrays)");
    }
  }
  return {};
}

std::string standard_attention(const StandardParams& p, void* stream) {
  if (p.batch < 1 || p.heads < 1 || p.kv_heads < 1 || p.n < 1 || p.nk < 1 || p.heads % p.kv_heads != 0) {
    return "standard_attention: bad shape";
  }
  const auto s = static_cast<cudaStream_t>(stream);
  const cudaDataType_t type = p.elem == Elem::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  const int d = p.head_dim, bh = p.batch * p.heads;
  // S and P rows padded to a multiple of 8 elements: cuBLAS wants 16-byte aligned matrices.
  const int lds = standard_row_stride(p.nk);
  const float scale = p.scale != 0 ? p.scale : 1.f / std::sqrt(static_cast<float>(d));
  const float one = 1.f, zero = 0.f;

  const std::size_t bytes = sizeof(void*) * static_cast<std::size_t>(bh);
  // Prepared (standard_prepare): the handle and pointer arrays exist, and only the GEMMs and the
  // softmax are enqueued. Otherwise they are built and released around this call.
  const bool prepared = p.cublas_handle && p.pointer_arrays;
  void* dev = p.pointer_arrays;
  if (!prepared) {
    if (cudaMallocAsync(&dev, 7 * bytes, s) != cudaSuccess) return launch_error("standard_attention (pointer arrays)");
    if (std::string e = upload_pointer_arrays(p, dev, s); !e.empty()) {
      cudaFreeAsync(dev, s);
      return e;
    }
  }
  auto at = [&](int slot) { return static_cast<char*>(dev) + slot * bytes; };
  cublasHandle_t handle = static_cast<cublasHandle_t>(p.cublas_handle);
  cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
  if (!prepared) {
    st = cublasCreate(&handle);
    if (st != CUBLAS_STATUS_SUCCESS) {
      cudaFreeAsync(dev, s);
      return cublas_error("cublasCreate", st);
    }
  }
  cublasSetStream(handle, s);
  std::string err;
  // Column-major view of row-major S (N x Nk) = Q (N x d, ld H·d) K^T: S^T = K Q^T, K seen as the
  // col-major d x Nk matrix (ld Hkv·d) transposed.
  st = cublasGemmBatchedEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, p.nk, p.n, d, &scale,
                           reinterpret_cast<const void* const*>(at(1)), type, p.kv_heads * d,
                           reinterpret_cast<const void* const*>(at(0)), type, p.heads * d, &zero,
                           reinterpret_cast<void* const*>(at(4)), type, lds, bh, CUBLAS_COMPUTE_32F,
                           CUBLAS_GEMM_DEFAULT);
  if (st != CUBLAS_STATUS_SUCCESS) err = cublas_error("gemm_qk", st);
  if (err.empty()) {
    const long rows = static_cast<long>(bh) * p.n;
    if (p.elem == Elem::bf16) {
      softmax_kernel<__nv_bfloat16><<<rows, 256, 0, s>>>(static_cast<const __nv_bfloat16*>(p.s), static_cast<__nv_bfloat16*>(p.p), p.n, p.nk, lds, p.causal);
    } else {
      softmax_kernel<__half><<<rows, 256, 0, s>>>(static_cast<const __half*>(p.s), static_cast<__half*>(p.p), p.n, p.nk, lds, p.causal);
    }
    err = launch_error("softmax");
  }
  // O (N x d, ld H·d) = P (N x Nk) V (Nk x d, ld Hkv·d): O^T = V^T P^T, both plain col-major views.
  if (err.empty()) {
    st = cublasGemmBatchedEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, d, p.n, p.nk, &one,
                             reinterpret_cast<const void* const*>(at(2)), type, p.kv_heads * d,
                             reinterpret_cast<const void* const*>(at(6)), type, lds, &zero,
                             reinterpret_cast<void* const*>(at(3)), type, p.heads * d, bh, CUBLAS_COMPUTE_32F,
                             CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) err = cublas_error("gemm_pv", st);
  }
  if (!prepared) {
    cublasDestroy(handle);
    cudaFreeAsync(dev, s);
  }
  return err;
}

std::string standard_prepare(StandardParams* p) {
  const std::size_t bytes = sizeof(void*) * static_cast<std::size_t>(p->batch) * p->heads * 7;
  if (cudaMalloc(&p->pointer_arrays, bytes) != cudaSuccess) {
    p->pointer_arrays = nullptr;
    return launch_error("standard_prepare (pointer arrays)");
  }
  if (std::string e = upload_pointer_arrays(*p, p->pointer_arrays, nullptr); !e.empty()) return e;
  if (cudaStreamSynchronize(nullptr) != cudaSuccess) return launch_error("standard_prepare");
  cublasHandle_t h;
  if (cublasStatus_t st = cublasCreate(&h); st != CUBLAS_STATUS_SUCCESS) return cublas_error("cublasCreate", st);
  p->cublas_handle = h;
  return {};
}

void standard_release(StandardParams* p) {
  if (p->cublas_handle) cublasDestroy(static_cast<cublasHandle_t>(p->cublas_handle));
  if (p->pointer_arrays) cudaFree(p->pointer_arrays);
  p->cublas_handle = p->pointer_arrays = nullptr;
}

}  // namespace attnio::kernels
