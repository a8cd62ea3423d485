// What fa2_bench and fa3_bench share: device buffers, deterministic inputs, the checked first call,
// CUDA-event timing behind a spin kernel, the float64 reference of one attention row, and the CSV
// line each case prints as it finishes. Each harness is built against its own library's flash.h
// (FlashAttention-2's and -3's Flash_fwd_params differ), so nothing here names the library.
//
// The CSV (one line per case and mode, written and flushed as each finishes):
//   kernel,kind,pass,causal,dtype,batch,heads,kv_heads,seq,kv_len,head_dim,splits,mode,
//   median_us,p10_us,p90_us,max_abs_err
// kernel: fa2 or fa3 (whose kernels ran); kind: prefill or decode; pass: fwd or bwd; mode: warm
// (calls back to back) or cold (a 256 MiB cudaMemsetAsync before each call, outside the events);
// max_abs_err: forward, the largest |output - float64 reference| over the rows checked; backward,
// the largest of |dQ|, |dK|, |dV| errors over each tensor's largest |reference| (relative).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace bench {

inline const char* program = "bench";

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s: %s\n", program, what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Deterministic inputs in [-range, range): a hash of the element index, converted to the element type.
template <typename T>
__global__ void fill(T* p, size_t n, unsigned seed, float range) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    unsigned x = static_cast<unsigned>(i) * 2654435761u ^ seed * 40503u;
    x ^= x >> 13, x *= 0x5bd1e995u, x ^= x >> 15;
    p[i] = T(range * (static_cast<float>(x & 0xffffu) / 32768.0f - 1.0f));
  }
}

// Holds the GPU for `ns` nanoseconds, so the host queues the timed calls behind it.
__global__ void spin(unsigned long long ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}

template <typename T>
struct Device {
  T* p = nullptr;
  size_t n = 0;
  explicit Device(size_t count) : n(count) { check(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)), "cudaMalloc"); }
  ~Device() { cudaFree(p); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  std::vector<T> host() const {
    std::vector<T> h(n);
    check(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
  }
  void fill_with(unsigned seed, float range) { bench::fill<<<1024, 256>>>(p, n, seed, range); }
  void poison() { check(cudaMemset(p, 0xff, std::max<size_t>(n, 1) * sizeof(T)), "cudaMemset"); }  // NaN until written
};

inline int round_up(int x, int m) { return (x + m - 1) / m * m; }

// The inputs: q from [-8, 8) (a peaked softmax: a row read from the wrong head, batch or stride
// differs from the reference by far more than the check allows), K and V from [-1, 1), the output
// NaN until written.
template <typename T>
void inputs(Device<T>& q, Device<T>& k, Device<T>& v, Device<T>& o, unsigned seed) {
  q.fill_with(seed, 8.f);
  k.fill_with(seed + 1, 1.f);
  v.fill_with(seed + 2, 1.f);
  o.poison();
}

// The checked call: a launch error surfaces at once, a fault at the synchronize.
inline void run_once(const std::function<void()>& call, const char* what) {
  call();
  check(cudaGetLastError(), what);
  check(cudaDeviceSynchronize(), what);
}

struct Timing {
  double median_us, p10_us, p90_us;
};

// Median over 100 calls after 10 warm-up calls, queued behind a 20 ms spin kernel so that the
// host's launch work is not in the intervals; cold: the L2 flushed before each call (outside the
// events), as flash-attention-lab's harness does with zero_().
inline Timing time_call(const std::function<void()>& call, bool cold, void* flush, size_t flush_bytes) {
  constexpr int kWarmup = 10, kIters = 100;
  for (int i = 0; i < kWarmup; ++i) call();
  check(cudaDeviceSynchronize(), "warm-up");
  spin<<<1, 1>>>(20000000ull);
  std::vector<cudaEvent_t> start(kIters), stop(kIters);
  for (int i = 0; i < kIters; ++i) {
    check(cudaEventCreate(&start[i]), "cudaEventCreate");
    check(cudaEventCreate(&stop[i]), "cudaEventCreate");
  }
  for (int i = 0; i < kIters; ++i) {
    if (cold) check(cudaMemsetAsync(flush, 0, flush_bytes), "flush");
    check(cudaEventRecord(start[i]), "cudaEventRecord");
    call();
    check(cudaEventRecord(stop[i]), "cudaEventRecord");
  }
  check(cudaDeviceSynchronize(), "timed calls");
  check(cudaGetLastError(), "a kernel");
  std::vector<double> us(kIters);
  for (int i = 0; i < kIters; ++i) {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start[i], stop[i]), "cudaEventElapsedTime");
    us[i] = 1000.0 * ms;
    cudaEventDestroy(start[i]);
    cudaEventDestroy(stop[i]);
  }
  std::sort(us.begin(), us.end());
  return {us[kIters / 2], us[kIters / 10], us[kIters * 9 / 10]};
}

// float64 attention for one query row of one head over its first `nk` keys (all of them, or the
// row's causal prefix): out[c] = sum_j softmax(q.k_j / sqrt(d)) v_j[c]; the largest |out - o|.
// lse, when given: the row's log-sum-exp of the scaled scores (what the kernels store).
template <typename T>
double max_row_error(const std::vector<T>& q, const std::vector<T>& k, const std::vector<T>& v, const std::vector<T>& o,
                     size_t q_off, size_t k_off, size_t k_row, size_t o_off, int nk, int d, double* lse = nullptr) {
  std::vector<double> s(nk);
  double m = -INFINITY;
  for (int j = 0; j < nk; ++j) {
    double dot = 0;
    for (int c = 0; c < d; ++c) dot += double(float(q[q_off + c])) * double(float(k[k_off + j * k_row + c]));
    s[j] = dot / std::sqrt(double(d));
    m = std::max(m, s[j]);
  }
  double sum = 0;
  for (double& x : s) sum += x = std::exp(x - m);
  if (lse) *lse = m + std::log(sum);
  double err = 0;
  for (int c = 0; c < d; ++c) {
    double ref = 0;
    for (int j = 0; j < nk; ++j) ref += s[j] * double(float(v[k_off + j * k_row + c]));
    const double got = double(float(o[o_off + c]));
    if (!std::isfinite(got)) return INFINITY;  // not written (the buffer starts as NaN), or overflowed
    err = std::max(err, std::fabs(ref / sum - got));
  }
  return err;
}

// Every element finite (an output the kernel did not write is still NaN).
template <typename T>
bool all_finite(const std::vector<T>& x) {
  return std::all_of(x.begin(), x.end(), [](const T& e) { return std::isfinite(float(e)); });
}

// The largest |a - b|, elementwise (INFINITY where either is not finite).
template <typename T>
double max_abs_diff(const std::vector<T>& a, const std::vector<T>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double d = std::fabs(double(float(a[i])) - double(float(b[i])));
    m = std::max(m, std::isfinite(d) ? d : INFINITY);
  }
  return a.size() == b.size() ? m : INFINITY;
}

inline double worst_error = 0;

inline void header() {
  std::printf("kernel,kind,pass,causal,dtype,batch,heads,kv_heads,seq,kv_len,head_dim,splits,mode,median_us,p10_us,p90_us,max_abs_err\n");
  std::fflush(stdout);
}

inline void line(const char* kernel, const char* kind, const char* pass, bool causal, const char* dtype, int b, int h, int hk,
                 int n, int nk, int d, int splits, const char* mode, const Timing& t, double err) {
  worst_error = std::max(worst_error, std::isnan(err) ? INFINITY : err);
  std::printf("%s,%s,%s,%d,%s,%d,%d,%d,%d,%d,%d,%d,%s,%.3f,%.3f,%.3f,%.3g\n", kernel, kind, pass, causal ? 1 : 0, dtype, b, h,
              hk, n, nk, d, splits, mode, t.median_us, t.p10_us, t.p90_us, err);
  std::fflush(stdout);
}

// Outputs of these inputs are averages of values in [-1, 1): fp16 and bf16 results agree with
// float64 to a few 1e-3. Far beyond that, the parameters are wrong and the times are not of a
// correct run: exit 1.
inline int verdict() {
  if (worst_error > 2e-2) {
    std::fprintf(stderr, "%s: an output differs from the float64 reference by %.3g (limit 0.02)\n", program, worst_error);
    return 1;
  }
  return 0;
}

}  // namespace bench
