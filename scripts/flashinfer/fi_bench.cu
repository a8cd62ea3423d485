// fi_bench: FlashInfer 0.0.1's own decode kernels (flashinfer-ai/flashinfer @b30dad36e, the code of
// the FlashInfer blog's decode figures), called through the library's host API as the blog's
// benchmarks call them (src/bench_batch_decode.cu, src/bench_single_decode.cu), each call checked
// against float64 attention and timed two ways; built by scripts/flashinfer/build-bench, run by
// scripts/device-check. What it measures is what the `flashinfer-decode` and
// `flashinfer-decode-tc` profiles predict (model/src/variants/flashinfer_decode.cpp).
//
// Cases (fp16, d = 128, pages of 16 tokens in order as the benchmarks allocate them):
//   cuda-core paged batch (BatchDecodeHandler::BeginForward + BatchDecodeWithPagedKVCacheWrapper):
//     the blog's Figure 6 (H = Hkv = 32) and Figure 9 (H = 32, Hkv = 4, B = 64) shapes;
//   cuda-core single request (SingleDecodeWithKVCache with its tmp buffer): Figure 8 (32 / 4);
//   tensor-core single request (SinglePrefillWithKVCache, qo_len 1, tmp): Figure 8;
//   tensor-core paged batch (BatchPrefillHandler + BatchPrefillWithPagedKVCacheWrapper): Figure 9.
// Modes: cold, the L2 flushed before each call and the call queued behind a spin kernel, so the
// events hold the GPU's work only (nvbench's blocking kernel: a plain state.exec and
// exec_tag::timer); sync, the L2 flushed and the stream synchronized before each call, so the
// events also hold the host's work between the start event and the launches (nvbench's
// exec_tag::sync, which bench_batch_decode_with_prefill uses). Their difference is the host time
// the blog's sync-timed rows include.
//
// CSV (bench_common.cuh): kernel is flashinfer-cc or flashinfer-tc, kind paged (a paged batch) or
// decode (one request), pass fwd, seq 1,
// splits 0 (the library's own), mode cold or sync. Exit 1 when an output is off the reference.
// decode.cuh uses std::tie without <tuple>, which CUDA 12.3's headers brought in and CUDA 13's do not.
#include <tuple>

#include <flashinfer/decode.cuh>
#include <flashinfer/handler.cuh>
#include <flashinfer/prefill.cuh>
#include <flashinfer/wrapper.cuh>

#include <chrono>
#include <string>

#include "../flash-attn/bench_common.cuh"

using namespace flashinfer;
using T = half;

namespace {

constexpr int kD = 128, kPage = 16;

// nvbench's exec_tag::sync timing: flush, synchronize, start event, the call, stop event,
// synchronize; the median over 50 calls after 5 warm-up calls.
bench::Timing time_sync(const std::function<void()>& call, void* flush, size_t flush_bytes) {
  constexpr int kWarmup = 5, kIters = 50;
  for (int i = 0; i < kWarmup; ++i) call();
  bench::check(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t start, stop;
  bench::check(cudaEventCreate(&start), "cudaEventCreate");
  bench::check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> us(kIters);
  for (int i = 0; i < kIters; ++i) {
    bench::check(cudaMemsetAsync(flush, 0, flush_bytes), "flush");
    bench::check(cudaDeviceSynchronize(), "flush");
    bench::check(cudaEventRecord(start), "cudaEventRecord");
    call();
    bench::check(cudaEventRecord(stop), "cudaEventRecord");
    bench::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    bench::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    us[i] = 1000.0 * ms;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(us.begin(), us.end());
  return {us[kIters / 2], us[kIters / 10], us[kIters * 9 / 10]};
}

// The largest error over a few (request, head) rows: the first and last request, heads 0, the
// middle and the last. `kv_at(b, kh, t, which)` gives the element offset of token t's K (0) or V (1)
// row of K/V head kh in request b, in `kv`'s host copy.
template <typename KvAt>
double check_rows(const std::vector<T>& q, const std::vector<T>& kv_k, const std::vector<T>& kv_v, const std::vector<T>& o, int batch,
                  int heads, int kv_heads, int nk, KvAt kv_at) {
  double err = 0;
  const int g = heads / kv_heads;
  for (int b : {0, batch - 1}) {
    for (int h : {0, heads / 2, heads - 1}) {
      const int kh = h / g;
      std::vector<T> k(static_cast<size_t>(nk) * kD), v(static_cast<size_t>(nk) * kD);
      for (int t = 0; t < nk; ++t) {
        std::copy_n(kv_k.begin() + static_cast<long>(kv_at(b, kh, t, 0)), kD, k.begin() + static_cast<long>(t) * kD);
        std::copy_n(kv_v.begin() + static_cast<long>(kv_at(b, kh, t, 1)), kD, v.begin() + static_cast<long>(t) * kD);
      }
      const size_t row = (static_cast<size_t>(b) * heads + h) * kD;
      err = std::max(err, bench::max_row_error(q, k, v, o, row, 0, kD, row, nk, kD));
    }
  }
  return err;
}

struct Flush {
  size_t bytes = 256u << 20;
  bench::Device<char> buf{bytes};
};

// A paged cache of `batch` requests of `nk` tokens: pages of (K|V, token, head, d) in order.
struct Paged {
  int batch, kv_heads, nk, pages_per_seq;
  bench::Device<T> data;
  bench::Device<int32_t> indices, indptr, last_len;
  std::vector<int32_t> indptr_h, last_h;
  Paged(int b, int hk, int n)
      : batch(b), kv_heads(hk), nk(n), pages_per_seq((n + kPage - 1) / kPage),
        data(static_cast<size_t>(b) * pages_per_seq * 2 * kPage * hk * kD), indices(static_cast<size_t>(b) * pages_per_seq),
        indptr(b + 1), last_len(b) {
    std::vector<int32_t> idx(static_cast<size_t>(b) * pages_per_seq);
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int32_t>(i);
    indptr_h.resize(b + 1);
    last_h.resize(b);
    for (int i = 0; i <= b; ++i) indptr_h[i] = i * pages_per_seq;
    for (int i = 0; i < b; ++i) last_h[i] = (n - 1) % kPage + 1;
    bench::check(cudaMemcpy(indices.p, idx.data(), idx.size() * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
    bench::check(cudaMemcpy(indptr.p, indptr_h.data(), indptr_h.size() * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
    bench::check(cudaMemcpy(last_len.p, last_h.data(), last_h.size() * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
    data.fill_with(11, 1.f);
  }
  paged_kv_t<PageStorage::kIndices, QKVLayout::kNHD, T, int32_t> view() {
    return {static_cast<uint32_t>(kv_heads), kPage, kD, static_cast<uint32_t>(batch), data.p, indices.p, indptr.p, last_len.p};
  }
  size_t at(int b, int kh, int t, int which) const {
    const size_t page = static_cast<size_t>(b) * pages_per_seq + t / kPage;
    return (((page * 2 + which) * kPage + t % kPage) * kv_heads + kh) * kD;
  }
};

// kind: paged (a paged batch) or decode (one request's contiguous cache).
void report(const char* kernel, const char* kind, int b, int h, int hk, int nk, const std::function<void()>& call, double err, Flush& f) {
  bench::line(kernel, kind, "fwd", false, "fp16", b, h, hk, 1, nk, kD, 0, "cold", bench::time_call(call, true, f.buf.p, f.bytes), err);
  bench::line(kernel, kind, "fwd", false, "fp16", b, h, hk, 1, nk, kD, 0, "sync", time_sync(call, f.buf.p, f.bytes), err);
}

// A paged batch through BatchDecodeHandler and BatchDecodeWithPagedKVCacheWrapper (the CUDA-core
// kernel, its partition and merge) or BatchPrefillHandler and the prefill kernel (tensor cores).
void paged(bool tensor_cores, int b, int h, int hk, int nk, Flush& f) {
  if (tensor_cores && h / hk != 8) {
    std::fprintf(stderr, "fi_bench: the tensor-core paged case is built for groups of 8\n");
    std::exit(1);
  }
  Paged kv(b, hk, nk);
  bench::Device<T> q(static_cast<size_t>(b) * h * kD), o(static_cast<size_t>(b) * h * kD);
  q.fill_with(7, 8.f);
  o.poison();
  std::vector<int32_t> qo_h(b + 1);
  for (int i = 0; i <= b; ++i) qo_h[i] = i;
  bench::Device<int32_t> qo(b + 1);
  bench::check(cudaMemcpy(qo.p, qo_h.data(), qo_h.size() * 4, cudaMemcpyHostToDevice), "cudaMemcpy");
  bench::Device<char> ws(32u << 20);
  BatchDecodeHandler decode;
  BatchPrefillHandler prefill;
  if (tensor_cores) {
    bench::check(prefill.BeginForward(ws.p, ws.n, qo_h.data(), b, h, hk), "BatchPrefillHandler::BeginForward");
  } else {
    bench::check(decode.BeginForward<PageStorage::kIndices, QKVLayout::kNHD, T, T, int32_t>(
                     ws.p, ws.n, kv.indptr_h.data(), kv.last_h.data(), b, h, hk, kD, kPage, RotaryMode::kNone),
                 "BatchDecodeHandler::BeginForward");
  }
  auto call = [&] {
    if (tensor_cores) {
      // At b30dad36e the public BatchPrefillWithPagedKVCacheWrapper does not pass the q_rope_position
      // its Dispatched function gained in a389ed48 (#69), so it does not compile; its Dispatched
      // function, called here for GQA 8, d = 128, no RoPE, not causal, is what it would call.
      bench::check(BatchPrefillWithPagedKVCacheWrapperDispatched<PageStorage::kIndices, QKVLayout::kNHD, 8, kD, RotaryMode::kNone,
                                                                 false, false, T, T, int32_t>(
                       &prefill, q.p, qo.p, nullptr, kv.view(), o.p, nullptr, 1.f, 1e4f, nullptr),
                   "BatchPrefillWithPagedKVCacheWrapperDispatched");
    } else {
      bench::check(BatchDecodeWithPagedKVCacheWrapper<PageStorage::kIndices, QKVLayout::kNHD, T, T, int32_t>(
                       &decode, q.p, nullptr, kv.view(), o.p, nullptr, h, RotaryMode::kNone),
                   "BatchDecodeWithPagedKVCacheWrapper");
    }
  };
  const char* kernel = tensor_cores ? "flashinfer-tc" : "flashinfer-cc";
  bench::run_once(call, kernel);
  const auto d = kv.data.host();
  const double err = check_rows(q.host(), d, d, o.host(), b, h, hk, nk, [&](int r, int kh, int t, int w) { return kv.at(r, kh, t, w); });
  report(kernel, "paged", b, h, hk, nk, call, err, f);
}

void single(bool tensor_cores, int h, int hk, int nk, Flush& f) {
  bench::Device<T> q(static_cast<size_t>(h) * kD), k(static_cast<size_t>(nk) * hk * kD), v(static_cast<size_t>(nk) * hk * kD),
      o(static_cast<size_t>(h) * kD);
  bench::inputs(q, k, v, o, 5);
  bench::Device<float> tmp(16u << 20);
  auto call = [&] {
    if (tensor_cores) {
      bench::check(SinglePrefillWithKVCache<T, T>(q.p, k.p, v.p, o.p, tmp.p, nullptr, h, hk, 1, nk, kD, false, QKVLayout::kNHD,
                                                  RotaryMode::kNone, false),
                   "SinglePrefillWithKVCache");
    } else {
      bench::check(SingleDecodeWithKVCache<T, T>(q.p, k.p, v.p, o.p, reinterpret_cast<T*>(tmp.p), h, hk, nk, kD, QKVLayout::kNHD,
                                                 RotaryMode::kNone),
                   "SingleDecodeWithKVCache");
    }
  };
  bench::run_once(call, tensor_cores ? "flashinfer-tc single" : "flashinfer-cc single");
  const double err = check_rows(q.host(), k.host(), v.host(), o.host(), 1, h, hk, nk,
                                [&](int, int kh, int t, int) { return (static_cast<size_t>(t) * hk + kh) * kD; });
  report(tensor_cores ? "flashinfer-tc" : "flashinfer-cc", "decode", 1, h, hk, nk, call, err, f);
}

}  // namespace

int main() {
  bench::program = "fi_bench";
  int n = 0;
  bench::check(cudaGetDeviceCount(&n), "cudaGetDeviceCount");
  if (n == 0) {
    std::fprintf(stderr, "fi_bench: no CUDA device\n");
    return 1;
  }
  Flush f;
  bench::header();
  // Figure 6 (MHA, 32 heads) and Figure 9 (GQA 32 / 4, B = 64), the shapes of the table's rows.
  for (auto [b, nk] : {std::pair{1, 1024}, {1, 32768}, {16, 1024}, {16, 4096}, {64, 32}, {64, 512}}) paged(false, b, 32, 32, nk, f);
  for (int nk : {1024, 2048, 4096, 8192}) paged(false, 64, 32, 4, nk, f);
  for (int nk : {1024, 2048, 4096, 8192}) paged(true, 64, 32, 4, nk, f);
  // Figure 8: one request, GQA 32 / 4.
  for (int nk : {16384, 32768, 65536}) single(false, 32, 4, nk, f);
  for (int nk : {16384, 32768, 65536}) single(true, 32, 4, nk, f);
  return bench::verdict();
}
