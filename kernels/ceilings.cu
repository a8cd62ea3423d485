#include "attnio/kernels/ceilings.hpp"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

constexpr int kChains = 8;

// GEMM inputs are random (hash_uniform): tensor-core power, and so the clock they sustain, depends
// on the data, and zeros would overstate the rate.
template <typename T>
void random_fill(void* x, std::size_t n, std::uint64_t seed) {
  hash_fill_kernel<<<1024, 256>>>(static_cast<T*>(x), n, seed);
}

__global__ void fma_kernel(int iters, float seed, float* sink) {
  float a[kChains];
  for (int c = 0; c < kChains; ++c) a[c] = seed + c + threadIdx.x;
  const float m = 0.999999f, b = 1e-7f;
#pragma unroll 16
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int c = 0; c < kChains; ++c) a[c] = fmaf(a[c], m, b);
  }
  float s = 0;
  for (int c = 0; c < kChains; ++c) s += a[c];
  if (s == 12345.678f) sink[0] = s;
}

__global__ void exp_kernel(int iters, float seed, float* sink) {
  float a[kChains];
  for (int c = 0; c < kChains; ++c) a[c] = -seed * (c + 1) * 1e-3f;
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int c = 0; c < kChains; ++c) a[c] = exp2f(a[c]) - 1.0f;  // stays in (-1, 0]
  }
  float s = 0;
  for (int c = 0; c < kChains; ++c) s += a[c];
  if (s == 12345.678f) sink[0] = s;
}

struct Events {
  cudaEvent_t start{}, stop{};
  Events() {
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
  }
  ~Events() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
};

// Best time of `repeats` runs after one warm-up; "" or the error.
std::string best_time(int repeats, const std::function<std::string()>& run, double* seconds) {
  Events ev;
  *seconds = 0;
  for (int r = 0; r <= repeats; ++r) {
    cudaEventRecord(ev.start);
    if (std::string e = run(); !e.empty()) return e;
    cudaEventRecord(ev.stop);
    if (cudaEventSynchronize(ev.stop) != cudaSuccess) return std::string("timing: ") + cudaGetErrorString(cudaGetLastError());
    float ms = 0;
    cudaEventElapsedTime(&ms, ev.start, ev.stop);
    if (r > 0 && (*seconds == 0 || ms * 1e-3 < *seconds)) *seconds = ms * 1e-3;
  }
  return *seconds > 0 ? std::string() : "timing: zero elapsed time";
}

struct DeviceMemory {
  void* p = nullptr;
  explicit DeviceMemory(std::size_t bytes) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      p = nullptr;
      cudaGetLastError();
    }
  }
  ~DeviceMemory() {
    if (p) cudaFree(p);
  }
};

std::string gemm_rate(cublasHandle_t h, cudaDataType_t in, cublasComputeType_t compute, int repeats, double* rate) {
  constexpr int n = 8192;
  const std::size_t elem = in == CUDA_R_32F ? 4 : 2;
  DeviceMemory a(elem * n * n), b(elem * n * n), c(elem * n * n);
  if (!a.p || !b.p || !c.p) return "gemm: out of device memory";
  const std::size_t count = static_cast<std::size_t>(n) * n;
  if (in == CUDA_R_16BF) random_fill<__nv_bfloat16>(a.p, count, 1), random_fill<__nv_bfloat16>(b.p, count, 2);
  else if (in == CUDA_R_16F) random_fill<__half>(a.p, count, 1), random_fill<__half>(b.p, count, 2);
  else random_fill<float>(a.p, count, 1), random_fill<float>(b.p, count, 2);
  if (cudaDeviceSynchronize() != cudaSuccess) return launch_error("random_fill");
  const float one = 1, zero = 0;
  double t = 0;
  const std::string e = best_time(repeats, [&]() -> std::string {
    const cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.p, in, n, b.p, in, n, &zero,
                                           c.p, in, n, compute, CUBLAS_GEMM_DEFAULT);
    return st == CUBLAS_STATUS_SUCCESS ? std::string() : "cublasGemmEx failed (status " + std::to_string(static_cast<int>(st)) + ")";
  }, &t);
  if (!e.empty()) return e;
  *rate = 2.0 * n * static_cast<double>(n) * n / t;
  return {};
}

}  // namespace

std::string measure_ceilings(const CeilingsOptions& opt, MeasuredCeilings* out,
                             const std::function<void(const std::string&, double)>& report) {
  int device = 0, sms = 0, l2 = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return "no CUDA device";
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device);
  if (sms <= 0 || l2 <= 0) return "cannot read the device's SM count and L2 size";
  DeviceMemory sink(sizeof(float));

  {  // HBM: a device-to-device copy far larger than L2 reads and writes every byte once.
    constexpr std::size_t bytes = std::size_t{1} << 30;
    DeviceMemory src(bytes), dst(bytes);
    if (!src.p || !dst.p) return "hbm: out of device memory";
    double t = 0;
    if (std::string e = best_time(opt.repeats, [&] {
          return cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice) == cudaSuccess ? std::string() : launch_error("memcpy");
        }, &t); !e.empty()) return e;
    out->hbm_bytes_per_s = 2.0 * bytes / t;
    report("hbm_bytes_per_s", *out->hbm_bytes_per_s);
  }
  {  // L2: a quarter of the L2, read 64 times per launch.
    const std::size_t bytes = static_cast<std::size_t>(l2) / 4 / 16 * 16;
    DeviceMemory buf(bytes);
    if (!buf.p) return "l2: out of device memory";
    cudaMemset(buf.p, 0, bytes);
    constexpr int iters = 64;
    double t = 0;
    if (std::string e = best_time(opt.repeats, [&] {
          l2_read_kernel<<<sms * 8, 256>>>(static_cast<const float4*>(buf.p), bytes / 16, iters, static_cast<float*>(sink.p));
          return launch_error("l2_read_kernel");
        }, &t); !e.empty()) return e;
    out->l2_bytes_per_s = static_cast<double>(bytes) * iters / t;
    report("l2_bytes_per_s", *out->l2_bytes_per_s);
  }
  {  // FP32 FMA and MUFU exp2: 8 independent chains per thread, 32 warps per SM.
    constexpr int iters = 1 << 14, threads = 256;
    const int blocks = sms * 8;
    const double per_launch = static_cast<double>(blocks) * threads * kChains * iters;
    double t = 0;
    if (std::string e = best_time(opt.repeats, [&] {
          fma_kernel<<<blocks, threads>>>(iters, 1.0f, static_cast<float*>(sink.p));
          return launch_error("fma_kernel");
        }, &t); !e.empty()) return e;
    out->fp32_flops_per_s = 2.0 * per_launch / t;
    report("fp32_flops_per_s", *out->fp32_flops_per_s);
    if (std::string e = best_time(opt.repeats, [&] {
          exp_kernel<<<blocks, threads>>>(iters / 4, 1.0f, static_cast<float*>(sink.p));
          return launch_error("exp_kernel");
        }, &t); !e.empty()) return e;
    out->sfu_ops_per_s = per_launch / 4 / t;
    report("sfu_ops_per_s", *out->sfu_ops_per_s);
  }
  {  // Tensor cores through cuBLAS.
    cublasHandle_t h;
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return "cublasCreate failed";
    double rate = 0;
    std::string e = gemm_rate(h, CUDA_R_16BF, CUBLAS_COMPUTE_32F, opt.repeats, &rate);
    if (e.empty()) {
      out->bf16_tensor_flops_per_s = rate;
      report("bf16_tensor_flops_per_s", rate);
      e = gemm_rate(h, CUDA_R_16F, CUBLAS_COMPUTE_32F, opt.repeats, &rate);
    }
    if (e.empty()) {
      out->fp16_tensor_flops_per_s = rate;
      report("fp16_tensor_flops_per_s", rate);
      e = gemm_rate(h, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, opt.repeats, &rate);
    }
    if (e.empty()) {
      out->tf32_tensor_flops_per_s = rate;
      report("tf32_tensor_flops_per_s", rate);
    }
    cublasDestroy(h);
    if (!e.empty()) return e;
  }
  return {};
}

}  // namespace attnio::kernels
