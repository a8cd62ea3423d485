// Shared device helpers for attnio's kernels: element conversions, warp and block reductions,
// error strings instead of exits.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <type_traits>

namespace attnio::kernels {

template <typename T>
__device__ __forceinline__ float to_float(T x);
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }
template <>
__device__ __forceinline__ float to_float<__half>(__half x) { return __half2float(x); }
// fp8 e4m3 (OCP FP8 formats spec; cuda_fp8.h): exact in float.
template <>
__device__ __forceinline__ float to_float<__nv_fp8_e4m3>(__nv_fp8_e4m3 x) { return static_cast<float>(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half(x); }
// Round to nearest even, saturating to ±448 (the constructor's __NV_SATFINITE).
template <>
__device__ __forceinline__ __nv_fp8_e4m3 from_float<__nv_fp8_e4m3>(float x) { return __nv_fp8_e4m3(x); }

__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// A uniform value in [-1, 1) from a hash of (index, seed) (splitmix64's finalizer): inputs filled
// on the device, the same on every run, with no host-side generation for gigabyte tensors.
__device__ __forceinline__ float hash_uniform(std::size_t i, std::uint64_t seed) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

// Fills n values of T (bf16, fp16 or fp32) with hash_uniform.
template <typename T>
__global__ void hash_fill_kernel(T* x, std::size_t n, std::uint64_t seed) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const float u = hash_uniform(i, seed);
    if constexpr (std::is_same_v<T, float>) x[i] = u;
    else x[i] = from_float<T>(u);
  }
}

// Reads a buffer of float4 `iters` times through L2 only (ld.global.cg, L1 bypassed): the L2
// bandwidth microbenchmark, and with a buffer twice the L2 an eviction of everything else. Reads,
// not writes, so no dirty lines are left to be written back later. The store that practically never
// happens keeps the loads alive.
__global__ inline void l2_read_kernel(const float4* __restrict__ x, std::size_t n, int iters, float* sink) {
  float acc = 0;
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (int it = 0; it < iters; ++it) {
    for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
      const float4 v = __ldcg(&x[i]);
      acc += v.x + v.y + v.z + v.w;
    }
  }
  if (acc == 12345.678f) sink[0] = acc;
}

__host__ __device__ constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }

// "" when the last launch (and the call before it) succeeded, else the CUDA error named.
inline std::string launch_error(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return {};
  return std::string(kernel) + ": " + cudaGetErrorString(e);
}

}  // namespace attnio::kernels
