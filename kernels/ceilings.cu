#include "attnio/kernels/ceilings.hpp"
#include "attnio/kernels/cublas_lazy.hpp"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
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


// gpu-stream's kernels (RRZE-HPC/gpu-benches gpu-stream/main.cu): one 8-byte element per thread,
// so each resident thread keeps exactly one DRAM load in flight. The dynamic shared memory the
// launch reserves (unused) limits how many blocks an SM holds.
__global__ void stream_read_kernel(const double* __restrict__ a, std::size_t n, double* sink) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) {
    const double v = a[i];
    if (v == 12345.678) sink[0] = v;
  }
}

__global__ void stream_copy_kernel(double* __restrict__ a, const double* __restrict__ b, std::size_t n) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < n) a[i] = b[i] * 1.5;
}

// A single thread walking a cycle of slot indices: each load's address is the previous load's
// value, so exactly one load is in flight. Each launch goes on from where the last one stopped
// (`at`), so no launch walks lines an earlier one left in L2.
__global__ void chase_kernel(const std::uint64_t* __restrict__ next, int hops, std::uint64_t* at) {
  std::uint64_t p = at[0];
  for (int i = 0; i < hops; ++i) p = __ldcg(&next[p]);
  at[0] = p;
}

// The overlap probe (measure_mma_softmax_overlap): warps 0-3 run mma.sync, warps 4-7 the softmax
// mix; `run` bit 0 lets the MMA warps run, bit 1 the softmax warps.
__global__ void overlap_kernel(int mma_iters, int softmax_iters, int run, float* sink) {
  const int warp = threadIdx.x / 32;
  float total = 0;
  if (warp < 4) {
    if (!(run & 1)) return;
#if __CUDA_ARCH__ >= 800
    // A and B fragments (4 and 2 registers of two halves each) from the lane, 8 accumulators.
    const unsigned lane = threadIdx.x % 32;
    const unsigned a0 = 0x3c003c00u ^ lane, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, b0 = 0x3c003c00u ^ (lane << 1), b1 = b0 + 1;
    float c[8][4] = {};
    for (int i = 0; i < mma_iters; ++i) {
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
            : "+f"(c[j][0]), "+f"(c[j][1]), "+f"(c[j][2]), "+f"(c[j][3])
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
      }
    }
    for (int j = 0; j < 8; ++j) total += c[j][0] + c[j][1] + c[j][2] + c[j][3];
#endif
  } else {
    if (!(run & 2)) return;
    float x[kChains], m[kChains], l[kChains];
    for (int c = 0; c < kChains; ++c) x[c] = -1e-3f * (c + 1 + threadIdx.x % 32), m[c] = -1.0f, l[c] = 0.0f;
    for (int i = 0; i < softmax_iters; ++i) {
#pragma unroll
      for (int c = 0; c < kChains; ++c) {
        const float p = exp2f(fmaf(x[c], 0.999f, -m[c] * 1e-3f));  // FMUL, FFMA, MUFU.EX2
        m[c] = fmaxf(m[c], x[c]);                                   // FMNMX
        l[c] += p;                                                  // FADD
        x[c] = p - 1.0f;                                            // FADD
      }
    }
    for (int c = 0; c < kChains; ++c) total += l[c] + m[c];
  }
  if (total == 12345.678f) sink[0] = total;
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

// The facts of the current CUDA device the measurements size themselves by; "" or why they could not
// be read.
struct Gpu {
  int device = 0, sms = 0, l2 = 0, smem_optin = 0, max_threads_sm = 0, compute_capability = 0;
  std::string name;
};
std::string read_gpu(Gpu* g) {
  if (cudaGetDevice(&g->device) != cudaSuccess) return "no CUDA device";
  cudaDeviceGetAttribute(&g->sms, cudaDevAttrMultiProcessorCount, g->device);
  cudaDeviceGetAttribute(&g->l2, cudaDevAttrL2CacheSize, g->device);
  cudaDeviceGetAttribute(&g->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, g->device);
  cudaDeviceGetAttribute(&g->max_threads_sm, cudaDevAttrMaxThreadsPerMultiProcessor, g->device);
  if (g->sms <= 0 || g->l2 <= 0 || g->smem_optin <= 0 || g->max_threads_sm <= 0) {
    return "cannot read the device's SM count, L2 size, shared memory and threads per SM";
  }
  if (cudaDeviceProp prop{}; cudaGetDeviceProperties(&prop, g->device) == cudaSuccess) {
    g->name = prop.name;
    g->compute_capability = prop.major * 10 + prop.minor;
  }
  return {};
}

}  // namespace

std::string measure_ceilings(const CeilingsOptions& opt, MeasuredCeilings* out,
                             const std::function<void(const std::string&, double)>& report) {
  Gpu gpu;
  if (std::string e = read_gpu(&gpu); !e.empty()) return e;
  const int sms = gpu.sms, l2 = gpu.l2;
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
    if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return "cublasCreate failed" + cublas_reason();
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

std::string measure_dram_queue(const CeilingsOptions& opt, DramQueue* out,
                               const std::function<void(const std::string&, double)>& report) {
  Gpu gpu;
  if (std::string e = read_gpu(&gpu); !e.empty()) return "dram queue: " + e;
  const int sms = gpu.sms, l2 = gpu.l2, smem_optin = gpu.smem_optin;
  out->gpu = gpu.name;
  {  // Unloaded: the pointer chase.
    // One slot per 256-byte line, over 4 x the L2 and at least twice the slots all launches walk
    // together, so every hop is a line no launch has touched and the L2 cannot hold the walk.
    constexpr std::size_t line = 256 / sizeof(std::uint64_t);
    constexpr int hops = 1 << 14;
    const std::size_t slots = std::max(4 * static_cast<std::size_t>(l2) / 256, 2 * static_cast<std::size_t>(opt.repeats + 1) * hops);
    std::vector<std::uint64_t> order(slots), next(slots * line, 0);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(20261204);
    for (std::size_t i = slots - 1; i > 0; --i) {  // Sattolo: one cycle through every slot
      std::uniform_int_distribution<std::size_t> pick(0, i - 1);
      std::swap(order[i], order[pick(rng)]);
    }
    for (std::size_t i = 0; i < slots; ++i) next[order[i] * line] = order[(i + 1) % slots] * line;
    DeviceMemory chain(next.size() * sizeof(std::uint64_t)), at(sizeof(std::uint64_t));
    if (!chain.p || !at.p) return "dram queue: out of device memory";
    if (cudaMemcpy(chain.p, next.data(), next.size() * sizeof(std::uint64_t), cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemset(at.p, 0, sizeof(std::uint64_t)) != cudaSuccess) {
      return launch_error("dram queue: copying the chain");
    }
    {  // The copy went through L2: writing twice the L2 elsewhere evicts what it left there.
      DeviceMemory scratch(2 * static_cast<std::size_t>(l2));
      if (!scratch.p || cudaMemset(scratch.p, 1, 2 * static_cast<std::size_t>(l2)) != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) {
        return launch_error("dram queue: clearing the L2");
      }
    }
    double t = 0;
    if (std::string e = best_time(opt.repeats, [&] {
          chase_kernel<<<1, 1>>>(static_cast<const std::uint64_t*>(chain.p), hops, static_cast<std::uint64_t*>(at.p));
          return launch_error("chase_kernel");
        }, &t); !e.empty()) return e;
    out->latency_s = t / hops;
    report("dram_latency_s", out->latency_s);
  }
  // Loaded: gpu-stream's runs (RRZE-HPC/gpu-benches @1038c5d gpu-stream/main.cu main()): blocks of
  // 16..112 threads at one block per SM, then for 4..80 warps per SM two blocks of half of them
  // (and 160 threads at one block), over 2 GiB arrays, each run's time the median of its timed
  // launches after a warm-up (gpu-stream: 31; here max(repeats, 5)). The blocks per SM are set as
  // gpu-stream sets them: the dynamic shared memory (unused) grows from 1 KiB in steps of 256 bytes
  // until the occupancy calculator allows no more.
  constexpr std::size_t bytes = std::size_t{2} << 30, n = bytes / sizeof(double);
  DeviceMemory a(bytes), b(bytes), sink(sizeof(double));
  if (!a.p || !b.p || !sink.p) return "dram queue: out of device memory";
  cudaMemset(a.p, 0, bytes);
  cudaMemset(b.p, 0, bytes);
  for (const void* k : {reinterpret_cast<const void*>(stream_read_kernel), reinterpret_cast<const void*>(stream_copy_kernel)}) {
    if (cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem_optin) != cudaSuccess) {
      return launch_error("dram queue: raising the shared-memory limit");
    }
  }
  struct Plan { int block, per_sm; };
  std::vector<Plan> plans;
  for (int block = 16; block <= 112; block += 16) plans.push_back({block, 1});
  for (int warps = 4; warps <= 80; ++warps) {
    if (warps % 2 == 0) plans.push_back({warps * 16, 2});
    else if (warps < 6) plans.push_back({warps * 32, 1});
  }
  const int timed_runs = std::max(opt.repeats, 5);
  const auto median_time = [&](const std::function<std::string()>& launch, double* t) -> std::string {
    Events ev;
    std::vector<double> times;
    for (int r = 0; r <= timed_runs; ++r) {
      cudaEventRecord(ev.start);
      if (std::string e = launch(); !e.empty()) return e;
      cudaEventRecord(ev.stop);
      if (cudaEventSynchronize(ev.stop) != cudaSuccess) return launch_error("dram queue: a streaming run");
      float ms = 0;
      cudaEventElapsedTime(&ms, ev.start, ev.stop);
      if (r > 0) times.push_back(ms * 1e-3);
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    *t = times[times.size() / 2];
    return *t > 0 ? std::string() : "dram queue: zero elapsed time";
  };
  for (const Plan& plan : plans) {
    if (plan.block * plan.per_sm > gpu.max_threads_sm || plan.block > 1024) continue;
    // The spoiler that leaves `per_sm` blocks on an SM, and the blocks that then fit (the same for
    // both kernels: neither uses shared memory of its own).
    std::size_t smem = 1024;
    int per_sm = 0;
    for (;; smem += 256) {
      if (smem > static_cast<std::size_t>(smem_optin)) break;
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, stream_read_kernel, plan.block, smem);
      if (per_sm <= plan.per_sm) break;
    }
    if (per_sm < 1 || smem > static_cast<std::size_t>(smem_optin)) continue;
    const unsigned grid = static_cast<unsigned>((n + plan.block - 1) / plan.block);
    const double threads = static_cast<double>(per_sm) * plan.block * sms;
    double t = 0;
    if (std::string e = median_time([&] {
          stream_read_kernel<<<grid, plan.block, smem>>>(static_cast<const double*>(a.p), n, static_cast<double*>(sink.p));
          return launch_error("stream_read_kernel");
        }, &t); !e.empty()) return e;
    out->read.push_back({threads, 8, bytes / t, bytes / t});
    if (std::string e = median_time([&] {
          stream_copy_kernel<<<grid, plan.block, smem>>>(static_cast<double*>(a.p), static_cast<const double*>(b.p), n);
          return launch_error("stream_copy_kernel");
        }, &t); !e.empty()) return e;
    out->copy.push_back({threads, 8, bytes / t, 2.0 * bytes / t});
  }
  try {
    out->read_curve = dram_queue_curve(out->read);
    out->copy_curve = dram_queue_curve(out->copy);
  } catch (const std::exception& e) {
    return std::string("dram queue: ") + e.what();
  }
  report("dram_queue_read_full_s", out->read_curve.back().second);
  report("dram_queue_copy_full_s", out->copy_curve.back().second);
  return {};
}

std::string measure_mma_softmax_overlap(const CeilingsOptions& opt, MmaSoftmaxOverlap* out,
                                        const std::function<void(const std::string&, double)>& report) {
  Gpu gpu;
  if (std::string e = read_gpu(&gpu); !e.empty()) return "overlap: " + e;
  const int sms = gpu.sms, smem_optin = gpu.smem_optin;
  out->compute_capability = gpu.compute_capability;
  DeviceMemory sink(sizeof(float));
  if (!sink.p) return "overlap: out of device memory";
  // The largest shared memory a block may take (unused) keeps one CTA on each SM, so every
  // sub-partition holds exactly one MMA warp and one softmax warp.
  if (cudaFuncSetAttribute(reinterpret_cast<const void*>(overlap_kernel), cudaFuncAttributeMaxDynamicSharedMemorySize, smem_optin) != cudaSuccess) {
    return launch_error("overlap: raising the shared-memory limit");
  }
  int per_sm = 0;
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, overlap_kernel, 256, static_cast<std::size_t>(smem_optin));
  if (per_sm != 1) return "overlap: cannot hold the probe to one CTA per SM";
  const auto timed = [&](int mma_iters, int softmax_iters, int run, double* t) {
    return best_time(opt.repeats, [&] {
      overlap_kernel<<<sms, 256, smem_optin>>>(mma_iters, softmax_iters, run, static_cast<float*>(sink.p));
      return launch_error("overlap_kernel");
    }, t);
  };
  // Each half alone, then the softmax's count scaled so both take about as long alone.
  constexpr int mma_iters = 1 << 14;
  int softmax_iters = 1 << 12;
  double probe = 0;
  if (std::string e = timed(mma_iters, 0, 1, &out->mma_s); !e.empty()) return e;
  if (std::string e = timed(0, softmax_iters, 2, &probe); !e.empty()) return e;
  if (out->mma_s <= 0 || probe <= 0) return "overlap: zero time";
  softmax_iters = std::max(1, static_cast<int>(softmax_iters * out->mma_s / probe));
  if (std::string e = timed(0, softmax_iters, 2, &out->softmax_s); !e.empty()) return e;
  if (std::string e = timed(mma_iters, softmax_iters, 3, &out->both_s); !e.empty()) return e;
  out->overlap = (out->mma_s + out->softmax_s - out->both_s) / std::min(out->mma_s, out->softmax_s);
  report("mma_softmax_overlap", out->overlap);
  return {};
}

}  // namespace attnio::kernels
