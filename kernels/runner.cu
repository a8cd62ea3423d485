#include "attnio/kernels/runner.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>

#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/kernels/subquadratic_kernels.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/tile_traits.hpp"
#include "cuda/common.cuh"
#include "reference/attention_ref.hpp"
#include "reference/subquadratic_ref.hpp"
#include "reference/validate.hpp"

namespace attnio::kernels {

namespace {

// A device buffer that frees itself.
struct DeviceBuffer {
  void* ptr = nullptr;
  std::size_t bytes = 0;
  explicit DeviceBuffer(std::size_t n) : bytes(n) {
    if (n != 0 && cudaMalloc(&ptr, n) != cudaSuccess) ptr = nullptr;
  }
  ~DeviceBuffer() {
    if (ptr) cudaFree(ptr);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void poison() const { cudaMemset(ptr, 0xff, bytes); }  // all-ones bytes: NaN in bf16, fp16 and fp32
};

std::vector<std::uint16_t> to_16bit(const std::vector<float>& x, const std::string& dtype) {
  std::vector<std::uint16_t> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (dtype == "bf16") {
      const __nv_bfloat16 v = __float2bfloat16(x[i]);
      out[i] = *reinterpret_cast<const std::uint16_t*>(&v);
    } else {
      const __half v = __float2half(x[i]);
      out[i] = *reinterpret_cast<const std::uint16_t*>(&v);
    }
  }
  return out;
}

std::vector<float> from_16bit(const std::vector<std::uint16_t>& x, const std::string& dtype) {
  std::vector<float> out(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (dtype == "bf16") out[i] = __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(&x[i]));
    else out[i] = __half2float(*reinterpret_cast<const __half*>(&x[i]));
  }
  return out;
}

std::unique_ptr<DeviceBuffer> upload(const std::vector<float>& x, const std::string& dtype) {
  auto buf = std::make_unique<DeviceBuffer>(x.size() * 2);
  const auto h = to_16bit(x, dtype);
  cudaMemcpy(buf->ptr, h.data(), buf->bytes, cudaMemcpyHostToDevice);
  return buf;
}

std::vector<float> download(const DeviceBuffer& b, const std::string& dtype) {
  std::vector<std::uint16_t> h(b.bytes / 2);
  cudaMemcpy(h.data(), b.ptr, b.bytes, cudaMemcpyDeviceToHost);
  return from_16bit(h, dtype);
}

Elem elem_of(const std::string& dtype) { return dtype == "bf16" ? Elem::bf16 : Elem::fp16; }

// Checks use a sharp softmax (4/sqrt(d) instead of 1/sqrt(d)): with inputs in [-1, 1) the scores
// then spread over several units and block maxima differ, so a missing rescale or a dropped key
// changes the output by much more than the tolerance.
float check_scale(int d) { return 4.0f / std::sqrt(static_cast<float>(d)); }

// One kernel run to check or time: launches it, returns "" or an error.
using Launch = std::function<std::string()>;

struct Timing {
  double median_s = 0;
  std::string error;
};

// Median of `repeats` runs, each after evicting the L2 by reading a clean buffer twice its size (as
// attnio profile does, kernels/bind.cu: writes would leave dirty lines to be written back while the
// timed kernel runs).
Timing time_kernel(const Launch& launch, int repeats, const Device& dev) {
  Timing t;
  DeviceBuffer flush(static_cast<std::size_t>(2 * dev.l2_bytes) / 16 * 16), sink(sizeof(float));
  if (flush.ptr) cudaMemset(flush.ptr, 0, flush.bytes);  // dirty once, before the warm-up run
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::vector<double> times;
  for (int r = 0; r < repeats + 1 && t.error.empty(); ++r) {
    if (flush.ptr && sink.ptr) {
      l2_read_kernel<<<1024, 256>>>(static_cast<const float4*>(flush.ptr), flush.bytes / 16, 1, static_cast<float*>(sink.ptr));
    }
    cudaEventRecord(start);
    t.error = launch();
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float ms = 0;
    cudaEventElapsedTime(&ms, start, stop);
    if (r > 0) times.push_back(ms * 1e-3);  // the first run warms up
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!times.empty()) {
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    t.median_s = times[times.size() / 2];
  }
  return t;
}

struct Job {
  std::string family, shape, dtype, launch_config;
  Workload workload;  // the model's view of the same run, for FLOP and byte counts
};

class Runner {
public:
  Runner(const RunnerOptions& o, const Device& d, const std::function<void(const Record&)>& emit)
      : opt_(o), dev_(d), emit_(emit) {}

  void report(const Job& job, const ref::Validation* check, const Timing* timing) {
    Record r;
    r.emplace_back("kernel", job.family);
    r.emplace_back("shape", job.shape);
    r.emplace_back("dtype", job.dtype);
    r.emplace_back("launch", job.launch_config);
    if (check) {
      r.emplace_back("check", std::string(check->ok ? "pass" : "FAIL"));
      r.emplace_back("max_abs_error", check->max_abs_error);
      r.emplace_back("mismatches", static_cast<std::uint64_t>(check->mismatches));
      if (!check->ok) failures_ << job.family << " " << job.shape << " " << job.dtype << ": " << check->report;
    }
    if (timing) {
      r.emplace_back("time_s", timing->median_s);
      if (timing->error.empty() && timing->median_s > 0) {
        const Prediction p = predict(dev_, job.workload);
        r.emplace_back("tflop_per_s", p.flops().d() / timing->median_s / 1e12);
        r.emplace_back("hbm_gb_per_s", p.hbm_bytes().d() / timing->median_s / 1e9);
        r.emplace_back("pct_tensor_peak", 100 * p.tensor_flops.d() / timing->median_s / dev_.tensor_rate(job.workload.dtype));
        r.emplace_back("pct_hbm_peak", 100 * p.hbm_bytes().d() / timing->median_s / dev_.hbm_rate());
        r.emplace_back("predicted_time_s", p.predicted_time_s);
      } else {
        failures_ << job.family << " " << job.shape << ": " << timing->error << "\n";
      }
    }
    emit_(r);
  }

  bool wants(const std::string& family) const {
    return opt_.families.empty() || std::find(opt_.families.begin(), opt_.families.end(), family) != opt_.families.end();
  }

  void flash(const std::string& dtype, bool fa1);
  void chunked(const std::string& dtype);
  void backward(const std::string& dtype);
  void linear(const std::string& dtype, bool performer);
  void mamba(const std::string& dtype);
  void ssd(const std::string& dtype);
  void fnet(const std::string& dtype);
  // Validation with the absolute tolerance scaled by the largest expected value (sums of many terms).
  static ref::Validation scaled_check(const char* what, const std::vector<float>& got, const std::vector<double>& want,
                                      const std::string& dtype) {
    double top = 0;
    for (double x : want) top = std::max(top, std::fabs(x));
    ref::Tolerance tol = ref::tolerance_for(dtype);
    tol.atol *= std::max(1.0, top);
    return ref::validate(what, got, want, tol);
  }
  static ref::Validation failed(const std::string& err) {
    ref::Validation v;
    v.ok = false;
    v.report = err + "\n";
    return v;
  }
  void decode(const std::string& dtype, KeySource source);
  void standard(const std::string& dtype);
  std::string failures() const { return failures_.str(); }

private:
  const RunnerOptions& opt_;
  const Device& dev_;
  const std::function<void(const Record&)>& emit_;
  std::ostringstream failures_;
  std::uint64_t seed_ = 1;
  std::uint64_t next_seed() { return seed_ += 7; }
};

void Runner::flash(const std::string& dtype, bool fa1) {
  const std::string family = fa1 ? "flash1" : "flash2";
  struct Case {
    const char* name;
    int b, h, hkv, n, nk, d;
    bool causal;
    int window;
    bool sigmoid, sparse;
    bool gate = false;  // gated attention fused into the epilogue (flash2 only)
  };
  std::vector<Case> checks = {
      {"gqa", 2, 4, 2, 200, 200, 64, false, 0, false, false},   {"causal-ragged", 2, 4, 2, 77, 300, 128, true, 0, false, false},
      {"window", 1, 4, 4, 333, 333, 128, false, 100, false, false}, {"sigmoid", 1, 2, 1, 150, 150, 64, true, 0, true, false},
      {"sparse", 1, 2, 2, 260, 260, 128, false, 0, false, true},  {"mqa", 2, 8, 1, 129, 129, 64, false, 0, false, false}};
  if (!fa1) checks.push_back({"gated causal", 2, 4, 2, 150, 190, 128, true, 0, false, false, true});
  for (const Case& c : checks) {
    if (!opt_.check) break;
    ref::Attn a;
    a.batch = c.b; a.heads = c.h; a.kv_heads = c.hkv; a.n = c.n; a.nk = c.nk; a.d = a.dv = c.d;
    a.causal = c.causal; a.window = c.window; a.sigmoid = c.sigmoid;
    a.sigmoid_bias = c.sigmoid ? -std::log(static_cast<double>(c.nk)) : 0;
    a.scale = check_scale(c.d);
    a.br = static_cast<int>(traits::flash_block_m(c.d));
    a.bc = static_cast<int>(traits::flash_block_n(c.d));
    const int tr = (c.n + a.br - 1) / a.br, tc = (c.nk + a.bc - 1) / a.bc;
    std::vector<std::uint8_t> layout;
    if (c.sparse) {
      for (int i = 0; i < tr; ++i) {
        for (int j = 0; j < tc; ++j) layout.push_back((i + 2 * j) % 3 != 1);
      }
      a.block_keep = [layout, tc](int i, int j) { return layout[static_cast<std::size_t>(i) * tc + j] != 0; };
    }
    const auto q = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.h * c.d, next_seed(), dtype);
    const auto k = ref::random_inputs(static_cast<std::size_t>(c.b) * c.nk * c.hkv * c.d, next_seed(), dtype);
    const auto v = ref::random_inputs(static_cast<std::size_t>(c.b) * c.nk * c.hkv * c.d, next_seed(), dtype);
    const auto dq = upload(q, dtype), dk = upload(k, dtype), dv = upload(v, dtype);
    // Gate logits in O's layout, spread over [-4, 4) so that σ(G) ranges from 0.02 to 0.98.
    std::vector<float> gate;
    if (c.gate) {
      gate = ref::random_inputs(q.size(), next_seed(), dtype);
      for (float& x : gate) x *= 4.0f;
    }
    const auto dg = upload(gate, dtype);
    DeviceBuffer o(q.size() * 2), lay(layout.size()), lse(sizeof(float) * c.b * c.h * c.n);
    if (!layout.empty()) cudaMemcpy(lay.ptr, layout.data(), layout.size(), cudaMemcpyHostToDevice);
    o.poison();
    lse.poison();
    Flash2Params p;
    p.q = dq->ptr; p.k = dk->ptr; p.v = dv->ptr; p.o = o.ptr;
    p.batch = c.b; p.heads = c.h; p.kv_heads = c.hkv; p.n = c.n; p.nk = c.nk; p.head_dim = c.d;
    p.causal = c.causal; p.window = c.window; p.sigmoid = c.sigmoid; p.sigmoid_bias = static_cast<float>(a.sigmoid_bias);
    p.scale = static_cast<float>(a.scale);
    p.lse = static_cast<float*>(lse.ptr);
    p.block_layout = layout.empty() ? nullptr : static_cast<const std::uint8_t*>(lay.ptr);
    p.elem = elem_of(dtype);
    p.gate = c.gate ? dg->ptr : nullptr;
    const std::string grid = fa1 ? "(" + std::to_string(c.b) + "," + std::to_string(c.h) + ")"
                                 : "(" + std::to_string(tr) + "," + std::to_string(c.b) + "," + std::to_string(c.h) + ")";
    Job job{family, c.name, dtype, "grid " + grid + " x 128", {}};
    DeviceBuffer ws(fa1 ? flash1_workspace_bytes(p) : 0);
    std::string err = fa1 ? flash1_forward(p, static_cast<float*>(ws.ptr), nullptr) : flash2_forward(p, nullptr);
    if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error(family.c_str());
    ref::Validation val;
    if (!err.empty()) {
      val.ok = false;
      val.report = err + "\n";
    } else {
      ref::Output want = fa1 ? ref::flash1(a, q, k, v) : ref::flash2(a, q, k, v);
      if (c.gate) ref::apply_output_gate(gate, &want);
      val = ref::validate("O", download(o, dtype), want.o, ref::tolerance_for(dtype));
      // The log-sum-exp: fp32 throughout, so a tight tolerance; -inf rows compare as equal.
      std::vector<float> got_lse(want.lse.size());
      cudaMemcpy(got_lse.data(), lse.ptr, got_lse.size() * sizeof(float), cudaMemcpyDeviceToHost);
      std::vector<double> want_lse = want.lse;
      for (std::size_t t = 0; t < want_lse.size(); ++t) {
        if (std::isinf(want_lse[t]) && std::isinf(got_lse[t]) && got_lse[t] < 0) got_lse[t] = 0, want_lse[t] = 0;
      }
      const ref::Validation l = ref::validate("LSE", got_lse, want_lse, {1e-3, 1e-3});
      if (!l.ok) {
        val.ok = false;
        val.mismatches += l.mismatches;
        val.report += l.report;
      }
    }
    report(job, &val, nullptr);
  }
  if (!opt_.bench || fa1) return;  // FA1 order is a teaching kernel: checked, not raced
  // FlashAttention-2's benchmark shape: batch x heads = 64, N = 8192, d = 128, no mask.
  const int b = 4, h = 16, n = 8192, d = 128;
  const std::size_t elems = static_cast<std::size_t>(b) * n * h * d;
  const auto q = upload(ref::random_inputs(elems, next_seed(), dtype), dtype);
  const auto k = upload(ref::random_inputs(elems, next_seed(), dtype), dtype);
  const auto v = upload(ref::random_inputs(elems, next_seed(), dtype), dtype);
  DeviceBuffer o(elems * 2);
  Flash2Params p;
  p.q = q->ptr; p.k = k->ptr; p.v = v->ptr; p.o = o.ptr;
  p.batch = b; p.heads = h; p.kv_heads = h; p.n = n; p.nk = n; p.head_dim = d; p.elem = elem_of(dtype);
  Workload w;
  w.variant = parse_variant("flash2"); w.batch = b; w.heads = h; w.seq = n; w.head_dim = d;
  w.dtype = dtype == "bf16" ? Dtype::bf16 : Dtype::fp16;
  w.set("block_m", traits::flash_block_m(d)).set("block_n", traits::flash_block_n(d));
  const Timing t = time_kernel([&] { return flash2_forward(p, nullptr); }, opt_.repeats, dev_);
  report({"flash2", "bench b4 h16 n8192 d128", dtype, "grid (128,4,16) x 128", w}, nullptr, &t);
}

void Runner::decode(const std::string& dtype, KeySource source) {
  const std::string family = source == KeySource::contiguous ? "flash-decoding" : source == KeySource::paged ? "paged" : "mla";
  struct Case {
    const char* name;
    int b, h, hkv, nk, splits;
    bool fp8 = false;  // fp8 e4m3 cache with per-tensor scales
  };
  std::vector<Case> cases;
  if (opt_.check) {
    if (source == KeySource::latent) cases = {{"h16 nk300", 2, 16, 1, 300, 1}, {"h16 nk300 split3", 2, 16, 1, 300, 3}};
    else if (source == KeySource::paged) cases = {{"gqa nk1000 v1", 3, 8, 2, 1000, 1}, {"gqa nk1000 v2", 3, 8, 2, 1000, 2},
                                                  {"gqa nk1000 v2 fp8", 3, 8, 2, 1000, 2, true}};
    else cases = {{"gqa nk1000", 3, 8, 2, 1000, 1}, {"gqa nk1000 split4", 3, 8, 2, 1000, 4}, {"mqa nk777 split3", 2, 16, 1, 777, 3},
                  {"gqa nk1000 split4 fp8", 3, 8, 2, 1000, 4, true}, {"mqa nk777 fp8", 2, 16, 1, 777, 1, true}};
  }
  const int page = 16;
  for (const Case& c : cases) {
    const int d = source == KeySource::latent ? 576 : 128, dvw = source == KeySource::latent ? 512 : 128;
    ref::Attn a;
    a.batch = c.b; a.heads = c.h; a.kv_heads = source == KeySource::latent ? 1 : c.hkv; a.n = 1; a.nk = c.nk;
    a.d = d; a.dv = dvw;
    // MLA's softmax scale is 1/sqrt(dn + dr) = 1/sqrt(128 + 64); the others use the sharp check scale.
    a.scale = source == KeySource::latent ? 1.0 / std::sqrt(192.0) : check_scale(d);
    const auto q = ref::random_inputs(static_cast<std::size_t>(c.b) * c.h * d, next_seed(), dtype);
    auto kc = ref::random_inputs(static_cast<std::size_t>(c.b) * c.nk * a.kv_heads * d, next_seed(), dtype);
    auto vc = source == KeySource::latent ? std::vector<float>() : ref::random_inputs(static_cast<std::size_t>(c.b) * c.nk * a.kv_heads * dvw, next_seed(), dtype);
    if (source == KeySource::latent) {  // values are the latent part of each cache row
      vc.resize(static_cast<std::size_t>(c.b) * c.nk * dvw);
      for (std::size_t t = 0; t < static_cast<std::size_t>(c.b) * c.nk; ++t) std::copy_n(&kc[t * d], dvw, &vc[t * dvw]);
    }
    DecodeParams p;
    p.source = source; p.batch = c.b; p.heads = c.h; p.kv_heads = a.kv_heads; p.nk = c.nk; p.head_dim = d; p.v_head_dim = dvw;
    p.splits = c.splits; p.page_size = page; p.elem = elem_of(dtype);
    p.scale = static_cast<float>(a.scale);
    if (c.fp8) {
      // The cache as vLLM stores it: round(x / scale) in e4m3; the reference sees stored · scale.
      p.fp8_cache = true;
      p.k_scale = 1.0f / 224;
      p.v_scale = 1.0f / 300;
      kc = ref::quantize_fp8_e4m3(kc, p.k_scale).dequantized;
      vc = ref::quantize_fp8_e4m3(vc, p.v_scale).dequantized;
    }
    // A cache tensor on the device: 16-bit, or its e4m3 bytes (values are multiples of the scale's
    // e4m3 grid, so quantizing them again gives the same bytes; the paged garbage saturates).
    auto upload_cache = [&](const std::vector<float>& x, float cache_scale) {
      if (!c.fp8) return upload(x, dtype);
      const ref::Fp8Tensor t = ref::quantize_fp8_e4m3(x, cache_scale);
      auto buf = std::make_unique<DeviceBuffer>(t.bytes.size());
      cudaMemcpy(buf->ptr, t.bytes.data(), t.bytes.size(), cudaMemcpyHostToDevice);
      return buf;
    };
    const auto dq = upload(q, dtype);
    std::unique_ptr<DeviceBuffer> dk, dv;
    std::unique_ptr<DeviceBuffer> table;
    std::vector<int> block_table;
    if (source == KeySource::paged) {
      // Whole pages in a shuffled physical order, with spare pages full of garbage.
      const int pages = (c.nk + page - 1) / page, physical = c.b * pages + 5;
      std::vector<int> perm(physical);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), std::mt19937(static_cast<unsigned>(next_seed())));
      block_table.assign(perm.begin(), perm.begin() + c.b * pages);
      std::vector<float> kp(static_cast<std::size_t>(physical) * a.kv_heads * page * d, 1e4f), vp(static_cast<std::size_t>(physical) * a.kv_heads * page * dvw, 1e4f);
      for (int b = 0; b < c.b; ++b) {
        for (int j = 0; j < c.nk; ++j) {
          const int phys = block_table[static_cast<std::size_t>(b) * pages + j / page];
          for (int hh = 0; hh < a.kv_heads; ++hh) {
            const std::size_t base = (static_cast<std::size_t>(phys) * a.kv_heads + hh) * page + j % page;
            std::copy_n(&kc[a.k_index(b, j, hh, 0)], d, &kp[base * d]);
            std::copy_n(&vc[a.v_index(b, j, hh, 0)], dvw, &vp[base * dvw]);
          }
        }
      }
      dk = upload_cache(kp, p.k_scale);
      dv = upload_cache(vp, p.v_scale);
      table = std::make_unique<DeviceBuffer>(block_table.size() * sizeof(int));
      cudaMemcpy(table->ptr, block_table.data(), table->bytes, cudaMemcpyHostToDevice);
      p.block_table = static_cast<const int*>(table->ptr);
    } else {
      dk = upload_cache(kc, p.k_scale);
      if (source == KeySource::contiguous) dv = upload_cache(vc, p.v_scale);
    }
    DeviceBuffer o(static_cast<std::size_t>(c.b) * c.h * dvw * 2), ws(decode_workspace_bytes(p));
    o.poison();
    p.q = dq->ptr; p.k = dk->ptr; p.v = dv ? dv->ptr : nullptr; p.o = o.ptr; p.workspace = ws.ptr;
    std::string err = decode_attention(p, nullptr);
    if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error("decode_attention");
    ref::Validation val;
    if (!err.empty()) {
      val.ok = false;
      val.report = err + "\n";
    } else {
      // Q [B][H][d] is the N = 1 case of the reference's [B][N][H][d].
      val = ref::validate("O", download(o, dtype), ref::direct(a, q, kc, vc).o, ref::tolerance_for(dtype));
    }
    report({family, c.name, dtype, "grid (" + std::to_string(c.b) + " x sets," + std::to_string(c.splits) + ") x 128", {}}, &val, nullptr);
  }
  if (!opt_.bench) return;
  // Decode over an 8192-token cache: Llama-like GQA (32/8) at batch 16, MLA with 128 heads.
  const int b = 16, nk = 8192, h = source == KeySource::latent ? 128 : 32, hkv = source == KeySource::latent ? 1 : 8;
  const int d = source == KeySource::latent ? 576 : 128, dvw = source == KeySource::latent ? 512 : 128;
  Workload w;
  w.variant = parse_variant(source == KeySource::contiguous ? "flash-decoding" : source == KeySource::paged ? "paged" : "mla");
  w.phase = Phase::decode; w.batch = b; w.kv_len = nk; w.heads = h; w.kv_heads = source == KeySource::latent ? h : hkv;
  w.dtype = dtype == "bf16" ? Dtype::bf16 : Dtype::fp16;
  const Prediction plan = predict(dev_, w);
  DecodeParams p;
  p.source = source; p.batch = b; p.heads = h; p.kv_heads = hkv; p.nk = nk; p.head_dim = d; p.v_head_dim = dvw;
  p.splits = static_cast<int>(std::max<std::uint64_t>(1, plan.splits)); p.page_size = page; p.elem = elem_of(dtype);
  if (source == KeySource::paged && p.splits > 1) p.splits = (nk + 511) / 512;
  p.scale = source == KeySource::latent ? 1.f / std::sqrt(192.f) : 1.f / std::sqrt(static_cast<float>(d));
  const std::size_t cache = static_cast<std::size_t>(b) * nk * hkv;
  const auto dq = upload(ref::random_inputs(static_cast<std::size_t>(b) * h * d, next_seed(), dtype), dtype);
  const auto dk = upload(ref::random_inputs(cache * d, next_seed(), dtype), dtype);
  std::unique_ptr<DeviceBuffer> dv;
  if (source != KeySource::latent) dv = upload(ref::random_inputs(cache * dvw, next_seed(), dtype), dtype);
  std::vector<int> block_table(static_cast<std::size_t>(b) * ((nk + page - 1) / page));
  std::iota(block_table.begin(), block_table.end(), 0);
  std::shuffle(block_table.begin(), block_table.end(), std::mt19937(7));
  DeviceBuffer table(block_table.size() * sizeof(int));
  cudaMemcpy(table.ptr, block_table.data(), table.bytes, cudaMemcpyHostToDevice);
  DeviceBuffer o(static_cast<std::size_t>(b) * h * dvw * 2), ws(decode_workspace_bytes(p));
  p.q = dq->ptr; p.k = dk->ptr; p.v = dv ? dv->ptr : nullptr; p.o = o.ptr; p.workspace = ws.ptr;
  p.block_table = static_cast<const int*>(table.ptr);
  const Timing t = time_kernel([&] { return decode_attention(p, nullptr); }, opt_.repeats, dev_);
  report({family, "bench b16 nk8192", dtype, "splits " + std::to_string(p.splits), w}, nullptr, &t);
  if (source == KeySource::latent) return;
  // The same decode over an fp8 e4m3 cache (per-tensor scales): half the cache bytes, plus one
  // conversion per cached element (the model's --kv-dtype fp8).
  DeviceBuffer k8(cache * d), v8(cache * dvw);
  hash_fill_kernel<<<4096, 256>>>(static_cast<__nv_fp8_e4m3*>(k8.ptr), cache * d, next_seed());
  hash_fill_kernel<<<4096, 256>>>(static_cast<__nv_fp8_e4m3*>(v8.ptr), cache * dvw, next_seed());
  if (const std::string err = launch_error("hash_fill_kernel"); !err.empty()) {
    const ref::Validation v = failed(err);
    report({family, "bench b16 nk8192 fp8", dtype, "", w}, &v, nullptr);
    return;
  }
  // The paged layout keeps its block table: the same pages hold the fp8 cache.
  p.k = k8.ptr; p.v = v8.ptr; p.fp8_cache = true; p.k_scale = 1.0f / 224; p.v_scale = 1.0f / 224;
  w.set("kv_bits", 8);
  const Timing t8 = time_kernel([&] { return decode_attention(p, nullptr); }, opt_.repeats, dev_);
  report({family, "bench b16 nk8192 fp8", dtype, "splits " + std::to_string(p.splits), w}, nullptr, &t8);
}

void Runner::chunked(const std::string& dtype) {
  struct Case {
    const char* name;
    int b, h, hkv, n, nk, d, chunk;
    bool causal;
  };
  const std::vector<Case> cases = {{"gqa n200 c64", 2, 4, 2, 200, 200, 64, 64, false},
                                   {"causal n150 nk230 c64", 1, 4, 4, 150, 230, 128, 64, true}};
  for (const Case& c : cases) {
    if (!opt_.check) break;
    ref::Attn a;
    a.batch = c.b; a.heads = c.h; a.kv_heads = c.hkv; a.n = c.n; a.nk = c.nk; a.d = a.dv = c.d; a.causal = c.causal;
    a.scale = check_scale(c.d);
    const auto q = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.h * c.d, next_seed(), dtype);
    const auto k = ref::random_inputs(static_cast<std::size_t>(c.b) * c.nk * c.hkv * c.d, next_seed(), dtype);
    const auto v = ref::random_inputs(static_cast<std::size_t>(c.b) * c.nk * c.hkv * c.d, next_seed(), dtype);
    const auto dq = upload(q, dtype), dk = upload(k, dtype), dv = upload(v, dtype);
    DeviceBuffer o(q.size() * 2);
    o.poison();
    ChunkedParams p;
    p.q = dq->ptr; p.k = dk->ptr; p.v = dv->ptr; p.o = o.ptr;
    p.batch = c.b; p.heads = c.h; p.kv_heads = c.hkv; p.n = c.n; p.nk = c.nk; p.head_dim = c.d; p.chunk = c.chunk;
    p.causal = c.causal; p.elem = elem_of(dtype); p.scale = static_cast<float>(a.scale);
    DeviceBuffer ws(chunked_workspace_bytes(p));
    std::string err = chunked_attention(p, ws.ptr, nullptr);
    if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error("chunked_attention");
    ref::Validation val;
    if (!err.empty()) {
      val.ok = false;
      val.report = err + "\n";
    } else {
      val = ref::validate("O", download(o, dtype), ref::chunked(a, c.chunk, q, k, v).o, ref::tolerance_for(dtype));
    }
    report({"chunked", c.name, dtype, "launches per chunk pair: 2 x (bands, B*H) x 128", {}}, &val, nullptr);
  }
}

// The backward pass: the forward kernel for O and the LSE, then the backward kernels, against the
// gradients by the definition. Gradients are sums over many products, so the tolerance scales with
// the largest gradient.
void Runner::backward(const std::string& dtype) {
  struct Case {
    const char* name;
    int b, h, hkv, n, nk, d;
    bool causal, sigmoid;
  };
  const std::vector<Case> cases = {{"gqa causal n130", 1, 4, 2, 130, 130, 64, true, false},
                                   {"mha n100 nk160 d128", 2, 2, 2, 100, 160, 128, false, false},
                                   {"sigmoid causal n90", 1, 2, 1, 90, 90, 64, true, true}};
  for (const Case& c : cases) {
    if (!opt_.check) break;
    ref::Attn a;
    a.batch = c.b; a.heads = c.h; a.kv_heads = c.hkv; a.n = c.n; a.nk = c.nk; a.d = a.dv = c.d;
    a.causal = c.causal; a.sigmoid = c.sigmoid; a.sigmoid_bias = c.sigmoid ? -std::log(static_cast<double>(c.nk)) : 0;
    a.scale = check_scale(c.d);
    const std::size_t nq = static_cast<std::size_t>(c.b) * c.n * c.h * c.d, nkv = static_cast<std::size_t>(c.b) * c.nk * c.hkv * c.d;
    const auto q = ref::random_inputs(nq, next_seed(), dtype), k = ref::random_inputs(nkv, next_seed(), dtype);
    const auto v = ref::random_inputs(nkv, next_seed(), dtype), dout = ref::random_inputs(nq, next_seed(), dtype);
    const auto dq_in = upload(q, dtype), dk_in = upload(k, dtype), dv_in = upload(v, dtype), ddo = upload(dout, dtype);
    DeviceBuffer o(nq * 2), lse(sizeof(float) * c.b * c.h * c.n), gq(nq * 2), gk(nkv * 2), gv(nkv * 2);
    DeviceBuffer gk_exp(static_cast<std::size_t>(c.b) * c.nk * c.h * c.d * 2), gv_exp(gk_exp.bytes);
    gq.poison(); gk.poison(); gv.poison();
    Flash2Params f;
    f.q = dq_in->ptr; f.k = dk_in->ptr; f.v = dv_in->ptr; f.o = o.ptr; f.lse = static_cast<float*>(lse.ptr);
    f.batch = c.b; f.heads = c.h; f.kv_heads = c.hkv; f.n = c.n; f.nk = c.nk; f.head_dim = c.d;
    f.causal = c.causal; f.sigmoid = c.sigmoid; f.sigmoid_bias = static_cast<float>(a.sigmoid_bias);
    f.scale = static_cast<float>(a.scale); f.elem = elem_of(dtype);
    BackwardParams p;
    p.q = f.q; p.k = f.k; p.v = f.v; p.o = o.ptr; p.dout = ddo->ptr; p.lse = f.lse;
    p.dq = gq.ptr; p.dk = gk.ptr; p.dv = gv.ptr; p.dk_expanded = gk_exp.ptr; p.dv_expanded = gv_exp.ptr;
    p.batch = c.b; p.heads = c.h; p.kv_heads = c.hkv; p.n = c.n; p.nk = c.nk; p.head_dim = c.d;
    p.causal = c.causal; p.sigmoid = c.sigmoid; p.sigmoid_bias = f.sigmoid_bias; p.scale = f.scale; p.elem = f.elem;
    DeviceBuffer ws(backward_workspace_bytes(p));
    std::string err = flash2_forward(f, nullptr);
    if (err.empty()) err = flash2_backward(p, ws.ptr, nullptr);
    if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error("flash2_bwd");
    ref::Validation val;
    if (!err.empty()) {
      val.ok = false;
      val.report = err + "\n";
    } else {
      const ref::Grads want = ref::backward_direct(a, q, k, v, dout);
      const std::pair<const char*, std::pair<const DeviceBuffer*, const std::vector<double>*>> grads[] = {
          {"dQ", {&gq, &want.dq}}, {"dK", {&gk, &want.dk}}, {"dV", {&gv, &want.dv}}};
      for (const auto& [name, bufs] : grads) {
        double top = 0;
        for (double x : *bufs.second) top = std::max(top, std::fabs(x));
        ref::Tolerance tol = ref::tolerance_for(dtype);
        tol.atol *= std::max(1.0, top);
        const ref::Validation one = ref::validate(name, download(*bufs.first, dtype), *bufs.second, tol);
        val.ok = val.ok && one.ok;
        val.mismatches += one.mismatches;
        val.max_abs_error = std::max(val.max_abs_error, one.max_abs_error);
        val.report += one.report;
      }
    }
    report({"flash2-bwd", c.name, dtype, "grid (Tc, B, H) x 128 + preprocess, convert, GQA reduce", {}}, &val, nullptr);
  }
}

void Runner::linear(const std::string& dtype, bool performer) {
  const std::string family = performer ? "performer" : "linear";
  struct Case {
    const char* name;
    int b, h, hkv, n, d, dv;
    bool causal;
  };
  const std::vector<Case> cases = {{"causal gqa n200", 2, 4, 2, 200, 64, 64, true},
                                   {"noncausal n150", 1, 2, 2, 150, 128, 96, false}};
  for (const Case& c : cases) {
    if (!opt_.check) break;
    const int r = performer ? 256 : c.d;
    ref::Linear a;
    a.batch = c.b; a.heads = c.h; a.kv_heads = c.hkv; a.n = c.n; a.d = c.d; a.dv = c.dv; a.causal = c.causal;
    const auto q = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.h * c.d, next_seed(), dtype);
    const auto k = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.hkv * c.d, next_seed(), dtype);
    const auto v = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.hkv * c.dv, next_seed(), dtype);
    const auto dq = upload(q, dtype), dk = upload(k, dtype), dv = upload(v, dtype);
    DeviceBuffer o(static_cast<std::size_t>(c.b) * c.n * c.h * c.dv * 2);
    o.poison();
    LinearParams p;
    p.v = dv->ptr; p.o = o.ptr; p.batch = c.b; p.heads = c.h; p.kv_heads = c.hkv; p.n = c.n; p.dv = c.dv;
    p.causal = c.causal; p.elem = elem_of(dtype);
    std::vector<double> want;
    std::unique_ptr<DeviceBuffer> omega, phi_q, phi_k;
    std::string err;
    if (performer) {
      // Seeded orthogonal random features, computed on the GPU for Q and K, then linear attention.
      const std::vector<double> w = ref::favor_projection(r, c.d, 42);
      std::vector<float> wf(w.begin(), w.end());
      omega = std::make_unique<DeviceBuffer>(wf.size() * sizeof(float));
      cudaMemcpy(omega->ptr, wf.data(), omega->bytes, cudaMemcpyHostToDevice);
      phi_q = std::make_unique<DeviceBuffer>(static_cast<std::size_t>(c.b) * c.n * c.h * r * 2);
      phi_k = std::make_unique<DeviceBuffer>(static_cast<std::size_t>(c.b) * c.n * c.hkv * r * 2);
      FavorParams fq{dq->ptr, phi_q->ptr, static_cast<const float*>(omega->ptr), c.b * c.n * c.h, c.d, r, elem_of(dtype)};
      FavorParams fk{dk->ptr, phi_k->ptr, static_cast<const float*>(omega->ptr), c.b * c.n * c.hkv, c.d, r, elem_of(dtype)};
      err = favor_features(fq, nullptr);
      if (err.empty()) err = favor_features(fk, nullptr);
      p.q = phi_q->ptr; p.k = phi_k->ptr; p.features = r; p.elu = false;
      // The reference computes the FAVOR+ features in double on the same projection; the kernel's
      // are rounded to the dtype, which the tolerance absorbs.
      const auto pq_ref = ref::favor_features(q, c.b * c.n * c.h, c.d, w, r);
      const auto pk_ref = ref::favor_features(k, c.b * c.n * c.hkv, c.d, w, r);
      want = ref::linear_features(a, r, pq_ref, pk_ref, v);
    } else {
      p.q = dq->ptr; p.k = dk->ptr; p.features = c.d; p.elu = true;
      want = ref::linear_direct(a, q, k, v);
    }
    DeviceBuffer ws(linear_workspace_bytes(p));
    p.workspace = ws.ptr;
    if (err.empty()) err = linear_attention(p, nullptr);
    if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error(family.c_str());
    const ref::Validation val = err.empty() ? scaled_check("O", download(o, dtype), want, dtype) : failed(err);
    report({family, c.name, dtype, performer ? "favor_features (rows) + linear" : "grid (B*Hkv, dv/32) x 128", {}}, &val, nullptr);
  }
  if (!opt_.bench || performer) return;
  // Causal linear attention at L = 16384 (issue target: within 2x of its roofline time).
  const int b = 1, h = 32, n = 16384, d = 128;
  const std::size_t elems = static_cast<std::size_t>(b) * n * h * d;
  const auto q = upload(ref::random_inputs(elems, next_seed(), dtype), dtype);
  const auto k = upload(ref::random_inputs(elems, next_seed(), dtype), dtype);
  const auto v = upload(ref::random_inputs(elems, next_seed(), dtype), dtype);
  DeviceBuffer o(elems * 2);
  LinearParams p;
  p.q = q->ptr; p.k = k->ptr; p.v = v->ptr; p.o = o.ptr; p.batch = b; p.heads = h; p.kv_heads = h; p.n = n;
  p.features = d; p.dv = d; p.causal = true; p.elem = elem_of(dtype);
  Workload w;
  w.variant = parse_variant("linear"); w.batch = b; w.heads = h; w.seq = n; w.head_dim = d; w.causal = true;
  w.dtype = dtype == "bf16" ? Dtype::bf16 : Dtype::fp16;
  const Timing t = time_kernel([&] { return linear_attention(p, nullptr); }, opt_.repeats, dev_);
  report({"linear", "bench causal b1 h32 n16384 d128", dtype, "grid (32, 4) x 128", w}, nullptr, &t);
}

void Runner::mamba(const std::string& dtype) {
  struct Case {
    const char* name;
    int b, d, l, n;
  };
  const std::vector<Case> cases = {{"d48 l700 n16", 2, 48, 700, 16}, {"d8 l3000 n4", 1, 8, 3000, 4}};
  for (const Case& c : cases) {
    if (!opt_.check) break;
    ref::Scan s;
    s.batch = c.b; s.channels = c.d; s.length = c.l; s.states = c.n;
    const std::size_t bdl = static_cast<std::size_t>(c.b) * c.d * c.l, bnl = static_cast<std::size_t>(c.b) * c.n * c.l;
    const auto x = ref::random_inputs(bdl, next_seed(), dtype);
    auto delta = ref::random_inputs(bdl, next_seed(), "fp32");
    for (float& v : delta) v = dtype == "bf16" ? ref::round_to_bf16(0.05f + 0.3f * std::fabs(v)) : ref::round_to_fp16(0.05f + 0.3f * std::fabs(v));
    auto a = ref::random_inputs(static_cast<std::size_t>(c.d) * c.n, next_seed(), "fp32");
    for (float& v : a) v = -0.2f - std::fabs(v);
    const auto bm = ref::random_inputs(bnl, next_seed(), dtype), cm = ref::random_inputs(bnl, next_seed(), dtype);
    const std::vector<double> want = ref::scan_sequential(s, x, delta, a, bm, cm);
    const auto dx = upload(x, dtype), ddt = upload(delta, dtype), dbm = upload(bm, dtype), dcm = upload(cm, dtype);
    DeviceBuffer da(a.size() * sizeof(float)), y(bdl * 2);
    cudaMemcpy(da.ptr, a.data(), da.bytes, cudaMemcpyHostToDevice);
    ScanParams p;
    p.x = dx->ptr; p.delta = ddt->ptr; p.a = static_cast<const float*>(da.ptr); p.b = dbm->ptr; p.c = dcm->ptr; p.y = y.ptr;
    p.batch = c.b; p.channels = c.d; p.length = c.l; p.states = c.n; p.elem = elem_of(dtype);
    for (bool naive : {false, true}) {
      y.poison();
      DeviceBuffer ws(naive ? scan_naive_workspace_bytes(p) : 0);
      std::string err = naive ? selective_scan_naive(p, ws.ptr, nullptr) : selective_scan(p, nullptr);
      if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error("selective_scan");
      const ref::Validation val = err.empty() ? scaled_check("y", download(y, dtype), want, dtype) : failed(err);
      report({naive ? "mamba-naive" : "mamba", c.name, dtype, naive ? "3 elementwise/scan kernels" : "grid (B, D) x 128", {}}, &val, nullptr);
    }
  }
  if (!opt_.bench) return;
  // Issue target: fused >= 10x faster than naive at L = 8192, D = 2048, N = 16.
  const int b = 1, d = 2048, l = 8192, n = 16;
  const std::size_t bdl = static_cast<std::size_t>(b) * d * l, bnl = static_cast<std::size_t>(b) * n * l;
  const auto x = upload(ref::random_inputs(bdl, next_seed(), dtype), dtype);
  const auto dt = upload(ref::random_inputs(bdl, next_seed(), dtype), dtype);
  const auto bm = upload(ref::random_inputs(bnl, next_seed(), dtype), dtype), cm = upload(ref::random_inputs(bnl, next_seed(), dtype), dtype);
  std::vector<float> a(static_cast<std::size_t>(d) * n, -0.5f);
  DeviceBuffer da(a.size() * sizeof(float)), y(bdl * 2);
  cudaMemcpy(da.ptr, a.data(), da.bytes, cudaMemcpyHostToDevice);
  ScanParams p;
  p.x = x->ptr; p.delta = dt->ptr; p.a = static_cast<const float*>(da.ptr); p.b = bm->ptr; p.c = cm->ptr; p.y = y.ptr;
  p.batch = b; p.channels = d; p.length = l; p.states = n; p.elem = elem_of(dtype);
  DeviceBuffer ws(scan_naive_workspace_bytes(p));
  for (bool naive : {false, true}) {
    Workload w;
    w.variant = parse_variant(naive ? "mamba-naive" : "mamba"); w.batch = b; w.seq = l;
    w.set("d_inner", d).set("state_dim", n);
    w.dtype = dtype == "bf16" ? Dtype::bf16 : Dtype::fp16;
    const Timing t = time_kernel([&] { return naive ? selective_scan_naive(p, ws.ptr, nullptr) : selective_scan(p, nullptr); }, opt_.repeats, dev_);
    report({naive ? "mamba-naive" : "mamba", "bench l8192 d2048 n16", dtype, naive ? "3 kernels" : "grid (1, 2048) x 128", w}, nullptr, &t);
  }
}

// Mamba-2's SSD against the float64 chunked reference (equal to the recurrence to 1e-12,
// tests/test_subquadratic_ref.cpp). The workspace is poisoned too: every value read there must have
// been written by an earlier kernel.
void Runner::ssd(const std::string& dtype) {
  struct Case {
    const char* name;
    int b, l, h, p, n, g, q;
  };
  // L not a multiple of the chunk, groups of heads, head and state dims off the 64 x 64 blocks, a
  // chunk longer than L, and 32 chunks with slow decays (the passed states carry far).
  const std::vector<Case> cases = {{"h4 g2 p64 n64 l300 q64", 2, 300, 4, 64, 64, 2, 64},
                                   {"h3 p40 n24 l200 q128", 1, 200, 3, 40, 24, 1, 128},
                                   {"h8 g4 p32 n128 l77 q256", 1, 77, 8, 32, 128, 4, 256},
                                   {"h2 g2 p16 n16 l1000 q32", 1, 1000, 2, 16, 16, 2, 32}};
  // A < 0 with slow decays, dt = softplus(dt + dt_bias) in about [0.03, 0.2] (mamba_ssm's dt init
  // range is [0.001, 0.1]), D of either sign; A, dt_bias, D as one fp32 upload of 3 x H.
  auto per_head = [&](int h, std::vector<float>* a, std::vector<float>* bias, std::vector<float>* d) {
    *a = ref::random_inputs(static_cast<std::size_t>(h), next_seed(), "fp32");
    for (float& v : *a) v = -0.05f - 0.5f * std::fabs(v);
    *bias = ref::random_inputs(static_cast<std::size_t>(h), next_seed(), "fp32");
    for (float& v : *bias) v = -2.0f + 0.5f * v;
    *d = ref::random_inputs(static_cast<std::size_t>(h), next_seed(), "fp32");
    std::vector<float> all(*a);
    all.insert(all.end(), bias->begin(), bias->end());
    all.insert(all.end(), d->begin(), d->end());
    auto buf = std::make_unique<DeviceBuffer>(all.size() * sizeof(float));
    cudaMemcpy(buf->ptr, all.data(), buf->bytes, cudaMemcpyHostToDevice);
    return buf;
  };
  for (const Case& c : cases) {
    if (!opt_.check) break;
    ref::Ssd s;
    s.batch = c.b; s.length = c.l; s.heads = c.h; s.head_dim = c.p; s.states = c.n; s.groups = c.g;
    const std::size_t tokens = static_cast<std::size_t>(c.b) * c.l;
    ref::SsdInputs in;
    in.x = ref::random_inputs(tokens * c.h * c.p, next_seed(), dtype);
    in.dt = ref::random_inputs(tokens * c.h, next_seed(), dtype);
    in.bm = ref::random_inputs(tokens * c.g * c.n, next_seed(), dtype);
    in.cm = ref::random_inputs(in.bm.size(), next_seed(), dtype);
    const auto heads = per_head(c.h, &in.a, &in.dt_bias, &in.d);
    const std::vector<double> want = ref::ssd_chunked(s, c.q, in);
    const auto dx = upload(in.x, dtype), ddt = upload(in.dt, dtype), dbm = upload(in.bm, dtype), dcm = upload(in.cm, dtype);
    DeviceBuffer y(in.x.size() * 2);
    y.poison();
    SsdParams p;
    p.x = dx->ptr; p.dt = ddt->ptr; p.b = dbm->ptr; p.c = dcm->ptr; p.y = y.ptr;
    p.a = static_cast<const float*>(heads->ptr); p.dt_bias = p.a + c.h; p.d = p.a + 2 * c.h;
    p.batch = c.b; p.length = c.l; p.heads = c.h; p.head_dim = c.p; p.states = c.n; p.groups = c.g; p.chunk = c.q;
    p.elem = elem_of(dtype);
    DeviceBuffer ws(ssd_workspace_bytes(p));
    ws.poison();
    std::string err = ssd_forward(p, ws.ptr, nullptr);
    if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error("ssd_forward");
    const ref::Validation val = err.empty() ? scaled_check("y", download(y, dtype), want, dtype) : failed(err);
    report({"mamba2", c.name, dtype, "5 kernels: cumsum, chunk state, state passing, C B^T, chunk scan", {}}, &val, nullptr);
  }
  if (!opt_.bench) return;
  // Mamba-2-2.7B's layer at L = 8192: 80 heads of 64, N = 128, one group, chunks of 256.
  const int b = 1, l = 8192, h = 80, hp = 64, n = 128, g = 1, q = 256;
  const std::size_t tokens = static_cast<std::size_t>(b) * l;
  const auto x = upload(ref::random_inputs(tokens * h * hp, next_seed(), dtype), dtype);
  const auto dt = upload(ref::random_inputs(tokens * h, next_seed(), dtype), dtype);
  const auto bm = upload(ref::random_inputs(tokens * g * n, next_seed(), dtype), dtype);
  const auto cm = upload(ref::random_inputs(tokens * g * n, next_seed(), dtype), dtype);
  std::vector<float> a, bias, d;
  const auto heads = per_head(h, &a, &bias, &d);
  DeviceBuffer y(tokens * h * hp * 2);
  SsdParams p;
  p.x = x->ptr; p.dt = dt->ptr; p.b = bm->ptr; p.c = cm->ptr; p.y = y.ptr;
  p.a = static_cast<const float*>(heads->ptr); p.dt_bias = p.a + h; p.d = p.a + 2 * h;
  p.batch = b; p.length = l; p.heads = h; p.head_dim = hp; p.states = n; p.groups = g; p.chunk = q; p.elem = elem_of(dtype);
  DeviceBuffer ws(ssd_workspace_bytes(p));
  Workload w;
  w.variant = parse_variant("mamba2"); w.batch = b; w.seq = l; w.heads = w.kv_heads = h; w.head_dim = hp;
  w.set("state_dim", n).set("groups", g).set("chunk", q);
  w.dtype = dtype == "bf16" ? Dtype::bf16 : Dtype::fp16;
  const Timing t = time_kernel([&] { return ssd_forward(p, ws.ptr, nullptr); }, opt_.repeats, dev_);
  report({"mamba2", "bench l8192 h80 p64 n128 q256", dtype, "5 kernels", w}, nullptr, &t);
}

void Runner::fnet(const std::string& dtype) {
  if (!opt_.check) return;
  const int b = 2, n = 24, hidden = 40;
  const auto x = ref::random_inputs(static_cast<std::size_t>(b) * n * hidden, next_seed(), dtype);
  const auto dx = upload(x, dtype);
  DeviceBuffer y(x.size() * 2);
  y.poison();
  FnetParams p;
  p.x = dx->ptr; p.y = y.ptr; p.batch = b; p.n = n; p.hidden = hidden; p.elem = elem_of(dtype);
  DeviceBuffer ws(fnet_workspace_bytes(p));
  std::string err = fnet_mixing(p, ws.ptr, nullptr);
  if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error("fnet");
  const ref::Validation val = err.empty() ? scaled_check("y", download(y, dtype), ref::fnet_direct(b, n, hidden, x), dtype) : failed(err);
  report({"fnet", "b2 n24 d40", dtype, "cuFFT R2C + C2C + real part", {}}, &val, nullptr);
}

void Runner::standard(const std::string& dtype) {
  struct Case {
    const char* name;
    int b, h, hkv, n, d;
    bool causal;
  };
  const std::vector<Case> cases = {{"gqa n130", 2, 4, 2, 130, 64, false}, {"causal n257", 1, 4, 4, 257, 128, true}};
  for (const Case& c : cases) {
    if (!opt_.check) break;
    ref::Attn a;
    a.batch = c.b; a.heads = c.h; a.kv_heads = c.hkv; a.n = a.nk = c.n; a.d = a.dv = c.d; a.causal = c.causal;
    a.scale = check_scale(c.d);
    const auto q = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.h * c.d, next_seed(), dtype);
    const auto k = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.hkv * c.d, next_seed(), dtype);
    const auto v = ref::random_inputs(static_cast<std::size_t>(c.b) * c.n * c.hkv * c.d, next_seed(), dtype);
    const auto dq = upload(q, dtype), dk = upload(k, dtype), dv = upload(v, dtype);
    const std::size_t scores = static_cast<std::size_t>(c.b) * c.h * c.n * standard_row_stride(c.n);
    DeviceBuffer o(q.size() * 2), s(scores * 2), pb(scores * 2);
    o.poison();
    StandardParams p;
    p.q = dq->ptr; p.k = dk->ptr; p.v = dv->ptr; p.o = o.ptr; p.s = s.ptr; p.p = pb.ptr;
    p.batch = c.b; p.heads = c.h; p.kv_heads = c.hkv; p.n = p.nk = c.n; p.head_dim = c.d; p.causal = c.causal; p.elem = elem_of(dtype);
    p.scale = static_cast<float>(a.scale);
    std::string err = standard_attention(p, nullptr);
    if (err.empty()) err = cudaDeviceSynchronize() == cudaSuccess ? "" : launch_error("standard_attention");
    ref::Validation val;
    if (!err.empty()) {
      val.ok = false;
      val.report = err + "\n";
    } else {
      val = ref::validate("O", download(o, dtype), ref::standard(a, q, k, v).o, ref::tolerance_for(dtype));
    }
    report({"standard", c.name, dtype, "cuBLAS + softmax", {}}, &val, nullptr);
  }
}

}  // namespace

std::string run_kernels(const RunnerOptions& options, const Device& device, const std::function<void(const Record&)>& emit) {
  std::string why;
  if (!cuda_device_available(&why)) return "no CUDA device (" + why + ")";
  Runner r(options, device, emit);
  for (const std::string& dtype : options.dtypes) {
    if (r.wants("flash2")) r.flash(dtype, false);
    if (r.wants("flash1")) r.flash(dtype, true);
    if (r.wants("chunked")) r.chunked(dtype);
    if (r.wants("flash2-bwd")) r.backward(dtype);
    if (r.wants("linear")) r.linear(dtype, false);
    if (r.wants("performer")) r.linear(dtype, true);
    if (r.wants("mamba")) r.mamba(dtype);
    if (r.wants("mamba2")) r.ssd(dtype);
    if (r.wants("fnet")) r.fnet(dtype);
    if (r.wants("flash-decoding")) r.decode(dtype, KeySource::contiguous);
    if (r.wants("paged")) r.decode(dtype, KeySource::paged);
    if (r.wants("mla")) r.decode(dtype, KeySource::latent);
    if (r.wants("standard")) r.standard(dtype);
  }
  const std::string f = r.failures();
  if (f.empty()) return {};
  return "kernel checks failed: " + f.substr(0, f.find('\n'));
}

}  // namespace attnio::kernels
