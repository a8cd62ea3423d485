// A stand-in for the PyTorch header flash-attention's kernels include, so that they build without
// PyTorch (scripts/flash-attn/ptx and build-bench).
#pragma once
#include <tuple>
namespace at { namespace cuda { namespace philox {
__host__ __device__ __forceinline__ std::tuple<uint64_t, uint64_t> unpack(at::PhiloxCudaState s) {
  if (s.captured_) return {static_cast<uint64_t>(*s.seed_.ptr), static_cast<uint64_t>(*s.offset_.ptr + s.offset_intragraph_)};
  return {s.seed_.val, s.offset_.val};
}
}}}  // namespace at::cuda::philox
