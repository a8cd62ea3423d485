#include "attnio/kernels/bind.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/kernels/cublas_lazy.hpp"
#include "attnio/kernels/subquadratic_kernels.hpp"
#include "cuda/common.cuh"
#include "attnio/model/predict.hpp"
#include "attnio/model/tile_traits.hpp"

namespace attnio::kernels {

namespace {

// Device memory owned by the bound launch; freed when the last copy of BoundKernel goes.
struct Buffers {
  std::vector<void*> ptrs;
  std::vector<std::function<void()>> cleanups;  // run first (e.g. cuBLAS handles)
  ~Buffers() {
    for (auto& c : cleanups) c();
    for (void* p : ptrs) cudaFree(p);
  }
  std::string alloc(std::size_t bytes, void** out) {
    *out = nullptr;
    if (bytes == 0) return {};
    if (cudaMalloc(out, bytes) != cudaSuccess) {
      cudaGetLastError();
      return "cudaMalloc of " + std::to_string(bytes) + " bytes failed (out of device memory)";
    }
    ptrs.push_back(*out);
    return {};
  }
};

// Fills n elements of T with hash_uniform and waits.
template <typename T>
std::string fill_as(void* x, std::size_t elems, std::uint64_t seed) {
  if (elems == 0) return {};
  const int blocks = static_cast<int>(std::min<std::size_t>((elems + 255) / 256, 65535));
  hash_fill_kernel<<<blocks, 256>>>(static_cast<T*>(x), elems, seed);
  const cudaError_t err = cudaDeviceSynchronize();
  return err == cudaSuccess ? std::string() : std::string("filling inputs: ") + cudaGetErrorString(err);
}

std::string fill(void* x, std::size_t elems, Elem e, std::uint64_t seed) {
  return e == Elem::bf16 ? fill_as<__nv_bfloat16>(x, elems, seed) : fill_as<__half>(x, elems, seed);
}

// An fp8 e4m3 K/V cache (decode with --kv-dtype fp8): values from the same hash, stored with one
// scale of 1 per tensor.
std::string fill_fp8(void* x, std::size_t elems, std::uint64_t seed) { return fill_as<__nv_fp8_e4m3>(x, elems, seed); }

// The decode kernels read a 16-bit cache (kv_bits 0: the dtype's) or an fp8 one with per-tensor
// scales (kv_bits 8, no groups); grouped int8/int4 caches have no kernel here.
bool fp8_cache(const Workload& w) { return w.count("kv_bits") == 8 && w.count("kv_group") == 0; }
bool cache_has_kernel(const Workload& w) {
  const std::uint64_t bits = w.count("kv_bits");
  return bits == 0 || bits == 16 || fp8_cache(w);
}

// Shapes are checked against the launchers' int fields before any narrowing (bind_kernel).
int as_int(std::uint64_t v) { return static_cast<int>(v); }

// L2 eviction between replay passes: reads (not writes, which would leave dirty lines to be
// written back inside the next range) of a clean buffer twice the L2.
std::string setup_l2_flush(Buffers& bufs, BoundKernel* out) {
  int l2 = 0, dev = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
  const std::size_t evict_bytes = std::max<std::size_t>(2 * static_cast<std::size_t>(l2), 1 << 20) / 16 * 16;
  void *evict, *sink;
  if (std::string err = bufs.alloc(evict_bytes, &evict); !err.empty()) return err;
  if (std::string err = bufs.alloc(sizeof(float), &sink); !err.empty()) return err;
  cudaMemset(evict, 0, evict_bytes);
  out->flush_l2 = [evict, sink, evict_bytes]() -> std::string {
    l2_read_kernel<<<1024, 256>>>(static_cast<const float4*>(evict), evict_bytes / 16, 1, static_cast<float*>(sink));
    const cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? std::string() : std::string("L2 flush: ") + cudaGetErrorString(e);
  };
  return {};
}

// FlashAttention-2 parameters of a prefill workload (flash2, sliding-window, sigmoid, block-sparse,
// flash1), inputs and outputs given; the causal, window and FlashSigmoid rules in one place.
Flash2Params flash2_params(const Workload& w, Elem e, const void* q, const void* k, const void* v, void* o, float* lse) {
  Flash2Params p;
  p.q = q; p.k = k; p.v = v; p.o = o; p.lse = lse;
  p.batch = as_int(w.batch); p.heads = as_int(w.heads); p.kv_heads = as_int(w.kv_heads);
  p.n = as_int(w.seq); p.nk = as_int(w.kv_len == 0 ? w.seq : w.kv_len); p.head_dim = as_int(w.head_dim);
  p.elem = e;
  p.scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  // Only sliding-window declares a window (model/src/variants/flash.cpp); its mask is causal.
  const bool window = w.params.has("window");
  p.causal = w.causal || window;
  if (window) p.window = as_int(w.count("window"));
  if (w.variant->sigmoid_scores) {
    p.sigmoid = true;
    p.sigmoid_bias = -std::log(static_cast<float>(p.nk));  // FlashSigmoid's b = -log(n) (Ramapuram et al. 2024, Sec. 3)
  }
  return p;
}

// Allocates and fills a bf16/fp16 tensor of `elems` elements.
std::string input(Buffers& bufs, std::size_t elems, Elem e, std::uint64_t seed, void** out) {
  if (std::string err = bufs.alloc(elems * 2, out); !err.empty()) return err;
  return fill(*out, elems, e, seed);
}

// Linear attention (elu + 1 features) and Performer (FAVOR+ features of Q and K, then the same
// linear kernel), [B][N][H][F] layouts as the kernels' checks use.
std::string bind_linear(const Workload& w, const Device&, std::string_view kernel, Elem e, Buffers& bufs, BoundKernel* out) {
  const bool performer = kernel == "performer_favor_linear";
  const int b = as_int(w.batch), h = as_int(w.heads), hkv = as_int(w.kv_heads), n = as_int(w.seq);
  const int d = as_int(w.head_dim), dv = as_int(w.v_head_dim), r = performer ? as_int(w.count("features")) : d;
  void *q, *k, *v, *o;
  const std::size_t rows_q = static_cast<std::size_t>(b) * n * h, rows_k = static_cast<std::size_t>(b) * n * hkv;
  if (std::string err = input(bufs, rows_q * d, e, 11, &q); !err.empty()) return err;
  if (std::string err = input(bufs, rows_k * d, e, 13, &k); !err.empty()) return err;
  if (std::string err = input(bufs, rows_k * dv, e, 17, &v); !err.empty()) return err;
  if (std::string err = bufs.alloc(rows_q * dv * 2, &o); !err.empty()) return err;
  LinearParams p;
  p.q = q; p.k = k; p.v = v; p.o = o;
  p.batch = b; p.heads = h; p.kv_heads = hkv; p.n = n; p.features = r; p.dv = dv; p.causal = w.causal;
  p.elu = !performer; p.chunk = as_int(w.count("chunk")); p.elem = e;
  FavorParams fq, fk;
  if (performer) {
    // A fixed Gaussian projection: the kernels' cost does not depend on its values.
    std::vector<float> omega(static_cast<std::size_t>(r) * d);
    std::mt19937 rng(42);
    std::normal_distribution<float> g;
    for (float& x : omega) x = g(rng);
    void *om, *pq, *pk;
    if (std::string err = bufs.alloc(omega.size() * sizeof(float), &om); !err.empty()) return err;
    if (cudaMemcpy(om, omega.data(), omega.size() * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) {
      return std::string("projection upload: ") + cudaGetErrorString(cudaGetLastError());
    }
    if (std::string err = bufs.alloc(rows_q * r * 2, &pq); !err.empty()) return err;
    if (std::string err = bufs.alloc(rows_k * r * 2, &pk); !err.empty()) return err;
    fq = {q, pq, static_cast<const float*>(om), static_cast<int>(rows_q), d, r, e};
    fk = {k, pk, static_cast<const float*>(om), static_cast<int>(rows_k), d, r, e};
    p.q = pq;
    p.k = pk;
  }
  void* ws;
  if (std::string err = bufs.alloc(linear_workspace_bytes(p), &ws); !err.empty()) return err;
  p.workspace = ws;
  out->launch = {{"grid_x", static_cast<std::int64_t>(b) * hkv}, {"block_x", 128}, {"features", r}, {"chunk", p.chunk}};
  if (performer) {
    out->run = [p, fq, fk] {
      std::string err = favor_features(fq, nullptr);
      if (err.empty()) err = favor_features(fk, nullptr);
      return err.empty() ? linear_attention(p, nullptr) : err;
    };
  } else {
    out->run = [p] { return linear_attention(p, nullptr); };
  }
  return {};
}

// Mamba's selective scan, fused or with its intermediates in HBM (x, delta [B][D][L]; B, C
// [B][N][L]; A [D][N] negative, as the kernels' checks).
std::string bind_scan(const Workload& w, const Device&, std::string_view kernel, Elem e, Buffers& bufs, BoundKernel* out) {
  const int b = as_int(w.batch), ch = as_int(w.count("d_inner")), l = as_int(w.seq), ns = as_int(w.count("state_dim"));
  if (ch > 65535) return "selective_scan launches one CTA row per channel: at most 65535 channels";
  const std::size_t bdl = static_cast<std::size_t>(b) * ch * l, bnl = static_cast<std::size_t>(b) * ns * l;
  void *x, *dt, *bm, *cm, *y, *a;
  if (std::string err = input(bufs, bdl, e, 21, &x); !err.empty()) return err;
  if (std::string err = input(bufs, bdl, e, 23, &dt); !err.empty()) return err;
  if (std::string err = input(bufs, bnl, e, 27, &bm); !err.empty()) return err;
  if (std::string err = input(bufs, bnl, e, 29, &cm); !err.empty()) return err;
  if (std::string err = bufs.alloc(bdl * 2, &y); !err.empty()) return err;
  std::vector<float> av(static_cast<std::size_t>(ch) * ns, -0.5f);
  if (std::string err = bufs.alloc(av.size() * sizeof(float), &a); !err.empty()) return err;
  if (cudaMemcpy(a, av.data(), av.size() * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) {
    return std::string("A upload: ") + cudaGetErrorString(cudaGetLastError());
  }
  ScanParams p;
  p.x = x; p.delta = dt; p.a = static_cast<const float*>(a); p.b = bm; p.c = cm; p.y = y;
  p.batch = b; p.channels = ch; p.length = l; p.states = ns; p.elem = e;
  out->launch = {{"grid_x", b}, {"grid_y", ch}, {"block_x", 128}, {"states", ns}};
  if (kernel == "selective_scan_naive") {
    void* ws;
    if (std::string err = bufs.alloc(scan_naive_workspace_bytes(p), &ws); !err.empty()) return err;
    out->run = [p, ws] { return selective_scan_naive(p, ws, nullptr); };
  } else {
    out->run = [p] { return selective_scan(p, nullptr); };
  }
  return {};
}

// Mamba-2's SSD (mamba_chunk_scan_combined's layouts: x [B][L][H][P], dt [B][L][H], B and C
// [B][L][G][N]). A = -1, dt_bias = -4.6 (softplus of it is 0.01, inside mamba_ssm's dt init range
// [0.001, 0.1]) and D = 1 per head, in fp32.
std::string bind_ssd(const Workload& w, const Device&, std::string_view, Elem e, Buffers& bufs, BoundKernel* out) {
  SsdParams p;
  p.batch = as_int(w.batch); p.length = as_int(w.seq); p.heads = as_int(w.heads); p.head_dim = as_int(w.head_dim);
  p.states = as_int(w.count("state_dim")); p.groups = as_int(w.count("groups")); p.chunk = as_int(w.count("chunk"));
  p.elem = e;
  const int q = std::min(p.chunk, p.length), chunks = (p.length + q - 1) / q;
  if (static_cast<std::int64_t>(p.batch) * chunks > 65535) return "ssd_forward launches batch x chunks CTA rows: at most 65535";
  const std::size_t tokens = static_cast<std::size_t>(p.batch) * p.length;
  void *x, *dt, *bm, *cm, *y, *heads, *ws;
  if (std::string err = input(bufs, tokens * p.heads * p.head_dim, e, 61, &x); !err.empty()) return err;
  if (std::string err = input(bufs, tokens * p.heads, e, 67, &dt); !err.empty()) return err;
  if (std::string err = input(bufs, tokens * p.groups * p.states, e, 71, &bm); !err.empty()) return err;
  if (std::string err = input(bufs, tokens * p.groups * p.states, e, 73, &cm); !err.empty()) return err;
  if (std::string err = bufs.alloc(tokens * p.heads * p.head_dim * 2, &y); !err.empty()) return err;
  std::vector<float> per_head(3 * static_cast<std::size_t>(p.heads));
  std::fill_n(per_head.begin(), p.heads, -1.0f);
  std::fill_n(per_head.begin() + p.heads, p.heads, -4.6f);
  std::fill_n(per_head.begin() + 2 * p.heads, p.heads, 1.0f);
  if (std::string err = bufs.alloc(per_head.size() * sizeof(float), &heads); !err.empty()) return err;
  if (cudaMemcpy(heads, per_head.data(), per_head.size() * sizeof(float), cudaMemcpyHostToDevice) != cudaSuccess) {
    return std::string("A, dt_bias, D upload: ") + cudaGetErrorString(cudaGetLastError());
  }
  p.x = x; p.dt = dt; p.b = bm; p.c = cm; p.y = y;
  p.a = static_cast<const float*>(heads); p.dt_bias = p.a + p.heads; p.d = p.a + 2 * p.heads;
  if (std::string err = bufs.alloc(ssd_workspace_bytes(p), &ws); !err.empty()) return err;
  out->launch = {{"chunk", q}, {"chunks", chunks}, {"block_x", 256}, {"states", p.states}, {"groups", p.groups}};
  out->run = [p, ws] { return ssd_forward(p, ws, nullptr); };
  return {};
}

// FNet token mixing over the hidden size H x d (cuFFT; its plans are made inside each call).
std::string bind_fnet(const Workload& w, const Device&, std::string_view, Elem e, Buffers& bufs, BoundKernel* out) {
  FnetParams p;
  p.batch = as_int(w.batch);
  p.n = as_int(w.seq);
  const std::uint64_t hidden = w.heads * w.head_dim;
  if (hidden > 0x7fffffffu) return "fnet: hidden size past 32 bits";
  p.hidden = as_int(hidden);
  p.elem = e;
  const std::size_t elems = static_cast<std::size_t>(p.batch) * p.n * p.hidden;
  void *x, *y, *ws;
  if (std::string err = input(bufs, elems, e, 31, &x); !err.empty()) return err;
  if (std::string err = bufs.alloc(elems * 2, &y); !err.empty()) return err;
  p.x = x;
  p.y = y;
  if (std::string err = bufs.alloc(fnet_workspace_bytes(p), &ws); !err.empty()) return err;
  out->launch = {{"hidden", p.hidden}, {"seq", p.n}};
  out->run = [p, ws] { return fnet_mixing(p, ws, nullptr); };
  return {};
}

// Absorbed MLA decode: every head's query against one shared latent + rope cache per sequence, the
// values being the cache's latent part (DeepSeek-V2 §2.1.2); the split-KV kernel with one K/V set.
std::string bind_mla(const Workload& w, const Device& device, std::string_view, Elem e, Buffers& bufs, BoundKernel* out) {
  const int latent = as_int(w.count("latent_dim")), rope = as_int(w.count("rope_dim"));
  DecodeParams p;
  p.source = KeySource::latent;
  p.batch = as_int(w.batch); p.heads = as_int(w.heads); p.kv_heads = 1;
  p.nk = as_int(w.kv_len == 0 ? w.seq : w.kv_len);
  p.head_dim = latent + rope; p.v_head_dim = latent;
  p.scale = 1.0f / std::sqrt(static_cast<float>(w.head_dim + w.count("rope_dim")));
  p.splits = static_cast<int>(std::max<std::uint64_t>(1, predict(device, w).splits));
  p.elem = e;
  void *q, *kc, *o, *ws;
  if (std::string err = input(bufs, static_cast<std::size_t>(p.batch) * p.heads * p.head_dim, e, 41, &q); !err.empty()) return err;
  if (std::string err = input(bufs, static_cast<std::size_t>(p.batch) * p.nk * p.head_dim, e, 43, &kc); !err.empty()) return err;
  if (std::string err = bufs.alloc(static_cast<std::size_t>(p.batch) * p.heads * p.v_head_dim * 2, &o); !err.empty()) return err;
  p.q = q; p.k = kc; p.o = o;
  if (std::string err = bufs.alloc(decode_workspace_bytes(p), &ws); !err.empty()) return err;
  p.workspace = ws;
  out->launch = {{"grid_x", p.batch}, {"grid_y", p.splits}, {"block_x", 128}, {"splits", p.splits}};
  out->run = [p] { return decode_attention(p, nullptr); };
  return {};
}

// FlashAttention-2 backward. The forward runs once here for O and the LSE; the profiled range
// holds the backward's preprocess, main kernel and (GQA) dK/dV reduction.
std::string bind_backward(const Workload& w, const Device&, std::string_view, Elem e, Buffers& bufs, BoundKernel* out) {
  const int b = as_int(w.batch), h = as_int(w.heads), hkv = as_int(w.kv_heads), d = as_int(w.head_dim);
  const int n = as_int(w.seq), nk = as_int(w.kv_len == 0 ? w.seq : w.kv_len);
  const std::size_t q_elems = static_cast<std::size_t>(b) * n * h * d, kv_elems = static_cast<std::size_t>(b) * nk * hkv * d;
  const std::size_t exp_elems = static_cast<std::size_t>(b) * nk * h * d;
  void *q, *k, *v, *o, *dout, *lse, *dq, *dk, *dv, *dke = nullptr, *dve = nullptr, *ws;
  if (std::string err = input(bufs, q_elems, e, 51, &q); !err.empty()) return err;
  if (std::string err = input(bufs, kv_elems, e, 53, &k); !err.empty()) return err;
  if (std::string err = input(bufs, kv_elems, e, 57, &v); !err.empty()) return err;
  if (std::string err = input(bufs, q_elems, e, 59, &dout); !err.empty()) return err;
  if (std::string err = bufs.alloc(q_elems * 2, &o); !err.empty()) return err;
  if (std::string err = bufs.alloc(sizeof(float) * b * h * n, &lse); !err.empty()) return err;
  for (auto [ptr, elems] : {std::pair{&dq, q_elems}, {&dk, kv_elems}, {&dv, kv_elems}}) {
    if (std::string err = bufs.alloc(elems * 2, ptr); !err.empty()) return err;
  }
  if (hkv != h) {
    if (std::string err = bufs.alloc(exp_elems * 2, &dke); !err.empty()) return err;
    if (std::string err = bufs.alloc(exp_elems * 2, &dve); !err.empty()) return err;
  }
  const Flash2Params f = flash2_params(w, e, q, k, v, o, static_cast<float*>(lse));
  if (std::string err = flash2_forward(f, nullptr); !err.empty()) return err;
  if (cudaDeviceSynchronize() != cudaSuccess) return std::string("forward before backward: ") + cudaGetErrorString(cudaGetLastError());
  BackwardParams p;
  p.q = q; p.k = k; p.v = v; p.o = o; p.dout = dout; p.lse = f.lse;
  p.dq = dq; p.dk = dk; p.dv = dv; p.dk_expanded = dke; p.dv_expanded = dve;
  p.batch = b; p.heads = h; p.kv_heads = hkv; p.n = n; p.nk = nk; p.head_dim = d;
  p.causal = f.causal; p.window = f.window; p.sigmoid = f.sigmoid; p.sigmoid_bias = f.sigmoid_bias; p.scale = f.scale; p.elem = e;
  if (std::string err = bufs.alloc(backward_workspace_bytes(p), &ws); !err.empty()) return err;
  const std::int64_t bc = static_cast<std::int64_t>(traits::flash_bwd_block_n(w.head_dim));
  out->launch = {{"grid_x", (nk + bc - 1) / bc}, {"grid_y", b}, {"grid_z", h}, {"block_x", 128},
                 {"block_m", static_cast<std::int64_t>(traits::flash_bwd_block_m(w.head_dim))}, {"block_n", bc}};
  out->run = [p, ws] { return flash2_backward(p, ws, nullptr); };
  return {};
}


// The attention kernels over dense Q, K, V, O ([B][N][H][d], [B][Nk][Hkv][d]): the FlashAttention
// family's forward, standard attention, chunked attention and the decode kernels (split-KV, paged).
std::string bind_attention(const Workload& w, const Device& device, std::string_view kernel, Elem e, Buffers& bufs,
                           BoundKernel* out) {
  const int b = as_int(w.batch), h = as_int(w.heads), hkv = as_int(w.kv_heads), d = as_int(w.head_dim);
  const int n = as_int(w.query_len()), nk = as_int(w.kv_len == 0 ? w.seq : w.kv_len);
  const std::size_t q_elems = static_cast<std::size_t>(b) * n * h * d, kv_elems =
      kernel == "paged_attention" ? 0 : static_cast<std::size_t>(b) * nk * hkv * d;  // paged: its own cache below
  void *q, *k, *v, *o;
  for (auto [ptr, elems] : {std::pair{&q, q_elems}, {&k, kv_elems}, {&v, kv_elems}, {&o, q_elems}}) {
    if (std::string err = bufs.alloc(elems * 2, ptr); !err.empty()) return err;
  }
  std::uint64_t seed = 1;
  for (auto [ptr, elems] : {std::pair{q, q_elems}, {k, kv_elems}, {v, kv_elems}}) {
    if (std::string err = fill(ptr, elems, e, seed += 7); !err.empty()) return err;
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  constexpr int kThreads = 128;


  if (kernel.starts_with("flash1_fwd") || kernel.starts_with("flash2_fwd")) {
    void* lse;
    if (std::string err = bufs.alloc(sizeof(float) * b * h * n, &lse); !err.empty()) return err;
    Flash2Params p = flash2_params(w, e, q, k, v, o, static_cast<float*>(lse));
    if (kernel == "flash2_fwd_block_sparse") {
      // The model's layout (tile_traits.hpp) over the kernel's Br x Bc grid, as a byte mask.
      const std::uint64_t br = traits::flash_block_m(w.head_dim), bc = traits::flash_block_n(w.head_dim);
      const std::uint64_t tr = (static_cast<std::uint64_t>(n) + br - 1) / br, tcn = (static_cast<std::uint64_t>(nk) + bc - 1) / bc;
      std::vector<std::uint8_t> layout(tr * tcn);
      for (std::uint64_t i = 0; i < tr; ++i) {
        for (std::uint64_t j = 0; j < tcn; ++j) layout[i * tcn + j] = traits::block_sparse_keep(w.real("block_density"), i, j, tcn) ? 1 : 0;
      }
      void* dl;
      if (std::string err = bufs.alloc(layout.size(), &dl); !err.empty()) return err;
      if (cudaMemcpy(dl, layout.data(), layout.size(), cudaMemcpyHostToDevice) != cudaSuccess) {
        return std::string("block layout upload: ") + cudaGetErrorString(cudaGetLastError());
      }
      p.block_layout = static_cast<const std::uint8_t*>(dl);
    }
    if (kernel == "flash2_fwd_gated") {
      // Gated attention with the gate fused (model/src/variants/gated.cpp, --gate-fused 1): the gate
      // projection G = X W_θ with cuBLAS (row-major [tokens][d_model] x [d_model][H·dv], computed
      // as the column-major Gᵀ = W_θᵀ Xᵀ), then flash2 applying σ(G) in its epilogue.
      const int tokens = b * n, width = h * d, dm = as_int(w.count("model_dim"));
      void *x, *wt, *g;
      for (auto [ptr, elems] : {std::pair{&x, static_cast<std::size_t>(tokens) * dm}, {&wt, static_cast<std::size_t>(dm) * width},
                                {&g, static_cast<std::size_t>(tokens) * width}}) {
        if (std::string err = bufs.alloc(elems * 2, ptr); !err.empty()) return err;
      }
      if (std::string err = fill(x, static_cast<std::size_t>(tokens) * dm, e, 31); !err.empty()) return err;
      if (std::string err = fill(wt, static_cast<std::size_t>(dm) * width, e, 37); !err.empty()) return err;
      cublasHandle_t handle = nullptr;
      if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) return "cublasCreate failed" + cublas_reason();
      bufs.cleanups.push_back([handle] { cublasDestroy(handle); });
      p.gate = g;
      const cudaDataType_t type = e == Elem::bf16 ? CUDA_R_16BF : CUDA_R_16F;
      const int br = static_cast<int>(traits::flash_block_m(w.head_dim));
      out->launch = {{"grid_x", (n + br - 1) / br}, {"grid_y", b}, {"grid_z", h}, {"block_x", kThreads},
                     {"gemm_m", tokens}, {"gemm_n", width}, {"gemm_k", dm}};
      out->run = [p, handle, x, wt, g, tokens, width, dm, type]() -> std::string {
        const float one = 1.0f, zero = 0.0f;
        if (cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, width, tokens, dm, &one, wt, type, width, x, type, dm, &zero, g, type,
                         width, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS) {
          return "gate projection: cublasGemmEx failed";
        }
        return flash2_forward(p, nullptr);
      };
      return {};
    }
    if (kernel == "flash1_fwd") {
      void* ws;
      if (std::string err = bufs.alloc(flash1_workspace_bytes(p), &ws); !err.empty()) return err;
      out->launch = {{"grid_x", b}, {"grid_y", h}, {"block_x", kThreads}};
      out->run = [p, ws] { return flash1_forward(p, static_cast<float*>(ws), nullptr); };
    } else {
      const int br = static_cast<int>(traits::flash_block_m(w.head_dim));
      out->launch = {{"grid_x", (n + br - 1) / br}, {"grid_y", b}, {"grid_z", h}, {"block_x", kThreads},
                     {"block_m", br}, {"block_n", static_cast<std::int64_t>(traits::flash_block_n(w.head_dim))}};
      out->run = [p] { return flash2_forward(p, nullptr); };
    }
    return {};
  }
  if (kernel == "standard_cublas") {
    StandardParams p;
    p.q = q; p.k = k; p.v = v; p.o = o;
    p.batch = b; p.heads = h; p.kv_heads = hkv; p.n = n; p.nk = nk; p.head_dim = d; p.elem = e; p.scale = scale;
    p.causal = w.causal;
    const std::size_t sp = static_cast<std::size_t>(b) * h * n * standard_row_stride(nk) * 2;
    if (std::string err = bufs.alloc(sp, &p.s); !err.empty()) return err;
    if (std::string err = bufs.alloc(sp, &p.p); !err.empty()) return err;
    // The cuBLAS handle and pointer arrays are made here, so the profiled range holds only the
    // two GEMMs and the softmax.
    if (std::string err = standard_prepare(&p); !err.empty()) {
      standard_release(&p);
      return err;
    }
    bufs.cleanups.push_back([p]() mutable { standard_release(&p); });
    out->launch = {{"softmax_rows", static_cast<std::int64_t>(b) * h * n}, {"block_x", 256}};
    out->run = [p] { return standard_attention(p, nullptr); };
    return {};
  }
  if (kernel == "chunked_rabe_staats") {
    ChunkedParams p;
    p.q = q; p.k = k; p.v = v; p.o = o;
    p.batch = b; p.heads = h; p.kv_heads = hkv; p.n = n; p.nk = nk; p.head_dim = d; p.elem = e; p.scale = scale;
    p.causal = w.causal;
    p.chunk = as_int(w.count("chunk"));
    void* ws;
    if (std::string err = bufs.alloc(chunked_workspace_bytes(p), &ws); !err.empty()) return err;
    out->launch = {{"chunk", p.chunk}, {"block_x", kThreads}};
    out->run = [p, ws] { return chunked_attention(p, ws, nullptr); };
    return {};
  }
  // Decode: one query token per sequence over a cache of nk tokens.
  DecodeParams p;
  p.q = q; p.o = o;
  p.batch = b; p.heads = h; p.kv_heads = hkv; p.nk = nk; p.head_dim = d; p.v_head_dim = d; p.elem = e; p.scale = scale;
  p.splits = static_cast<int>(std::max<std::uint64_t>(1, predict(device, w).splits));
  p.fp8_cache = fp8_cache(w);
  auto fill_cache = [&](void* x, std::size_t elems, std::uint64_t seed) {
    return p.fp8_cache ? fill_fp8(x, elems, seed) : fill(x, elems, e, seed);
  };
  if (kernel == "paged_attention") {
    // vLLM: v1 (one partition) or v2 with 512-token partitions; pages in a shuffled physical order.
    p.source = KeySource::paged;
    p.page_size = as_int(w.count("page_size"));
    if (p.splits > 1) p.splits = (nk + 511) / 512;
    const int pages = (nk + p.page_size - 1) / p.page_size;
    std::vector<int> table(static_cast<std::size_t>(b) * pages);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(7));
    const std::size_t cache = static_cast<std::size_t>(b) * pages * p.page_size * hkv * d;
    void *kc, *vc, *bt;
    for (auto ptr : {&kc, &vc}) {
      if (std::string err = bufs.alloc(cache * 2, ptr); !err.empty()) return err;
    }
    if (std::string err = fill_cache(kc, cache, 101); !err.empty()) return err;
    if (std::string err = fill_cache(vc, cache, 103); !err.empty()) return err;
    if (std::string err = bufs.alloc(table.size() * sizeof(int), &bt); !err.empty()) return err;
    if (cudaMemcpy(bt, table.data(), table.size() * sizeof(int), cudaMemcpyHostToDevice) != cudaSuccess) {
      return std::string("block table upload: ") + cudaGetErrorString(cudaGetLastError());
    }
    p.k = kc; p.v = vc; p.block_table = static_cast<const int*>(bt);
    out->launch = {{"grid_x", static_cast<std::int64_t>(b) * h}, {"grid_y", p.splits}, {"block_x", kThreads},
                   {"page_size", p.page_size}};
  } else {
    p.source = KeySource::contiguous;
    p.k = k; p.v = v;
    if (p.fp8_cache) {  // the first half of each 16-bit buffer holds the fp8 cache
      if (std::string err = fill_cache(k, kv_elems, 8); !err.empty()) return err;
      if (std::string err = fill_cache(v, kv_elems, 15); !err.empty()) return err;
    }
    out->launch = {{"grid_x", static_cast<std::int64_t>(b) * hkv}, {"grid_y", p.splits}, {"block_x", kThreads}};
  }
  out->launch["splits"] = p.splits;
  if (p.fp8_cache) out->launch["fp8_cache"] = 1;
  void* ws;
  if (std::string err = bufs.alloc(decode_workspace_bytes(p), &ws); !err.empty()) return err;
  p.workspace = ws;
  out->run = [p] { return decode_attention(p, nullptr); };
  return {};
}

using Binder = std::string (*)(const Workload&, const Device&, std::string_view, Elem, Buffers&, BoundKernel*);

// The kernels attnio can profile, by the names the variants declare (VariantDescriptor::kernel_fwd,
// kernel_bwd, kernel_decode): the shapes each takes and the function that binds it. The
// tensor-core kernels (flash-attention style) take head dims 64 and 128 with dv = d.
struct Binding {
  std::string_view kernel;
  bool (*fits)(const Workload&);
  Binder bind;
};
bool same_v(const Workload& w) { return w.v_head_dim == 0 || w.v_head_dim == w.head_dim; }
bool tensor_core(const Workload& w) { return (w.head_dim == 64 || w.head_dim == 128) && same_v(w); }
bool up_to_256(const Workload& w) { return same_v(w) && w.head_dim <= 256; }
std::uint64_t dv_of(const Workload& w) { return w.v_head_dim == 0 ? w.head_dim : w.v_head_dim; }
constexpr Binding kBindings[] = {
    {"flash2_fwd", tensor_core, bind_attention},
    {"flash2_fwd_window", tensor_core, bind_attention},
    {"flash2_fwd_sigmoid", tensor_core, bind_attention},
    {"flash2_fwd_block_sparse", tensor_core, bind_attention},
    // Gated attention: only with the gate fused into the epilogue (the separate gate pass has no kernel).
    {"flash2_fwd_gated", [](const Workload& w) { return tensor_core(w) && w.count("gate_fused") == 1; }, bind_attention},
    {"flash1_fwd", tensor_core, bind_attention},
    // FlashAttention-2 backward (forward first, outside the profiled range, for O and the LSE).
    {"flash2_bwd", tensor_core, bind_backward},
    {"flash2_bwd_window", tensor_core, bind_backward},
    {"flash2_bwd_sigmoid", tensor_core, bind_backward},
    {"standard_cublas", same_v, bind_attention},
    {"chunked_rabe_staats", up_to_256, bind_attention},
    // Linear attention with phi = elu + 1 keeps F = d (Katharopoulos et al. §3.2).
    {"linear_attention", [](const Workload& w) {
       return (w.count("feature_dim") == 0 || w.count("feature_dim") == w.head_dim) && w.head_dim <= 256 && dv_of(w) % 32 == 0;
     }, bind_linear},
    {"performer_favor_linear", [](const Workload& w) {
       return w.count("features") <= 256 && w.head_dim <= 512 && dv_of(w) % 32 == 0;
     }, bind_linear},
    {"selective_scan", [](const Workload& w) { return w.count("state_dim") <= 64; }, bind_scan},
    {"selective_scan_naive", [](const Workload& w) { return w.count("state_dim") <= 64; }, bind_scan},
    {"ssd_forward", [](const Workload&) { return true; }, bind_ssd},
    {"fnet_cufft", [](const Workload&) { return true; }, bind_fnet},
    {"flash_decoding_splitkv", [](const Workload& w) { return up_to_256(w) && cache_has_kernel(w); }, bind_attention},
    {"paged_attention", [](const Workload& w) { return up_to_256(w) && cache_has_kernel(w); }, bind_attention},
    // Absorbed MLA decode: scores over latent + rope, values over the latent (DeepSeek-V2 §2.1.2).
    {"mla_absorbed_decode", [](const Workload& w) { return w.count("latent_dim") + w.count("rope_dim") <= 576; }, bind_mla},
};

// The kernel the variant declares for this phase and pass, with its binding.
const Binding* binding_for(const Workload& w) {
  if (w.dtype == Dtype::fp32 || w.dtype == Dtype::fp8) return nullptr;
  const VariantDescriptor& v = *w.variant;
  const std::string_view name = w.phase == Phase::decode ? (w.pass == Pass::fwd ? v.kernel_decode : std::string_view())
                                : w.pass == Pass::fwd    ? v.kernel_fwd
                                : w.pass == Pass::bwd    ? v.kernel_bwd
                                                         : std::string_view();
  if (name.empty()) return nullptr;
  for (const Binding& b : kBindings) {
    if (b.kernel == name) return b.fits(w) ? &b : nullptr;
  }
  return nullptr;
}

}  // namespace

bool has_binding(std::string_view kernel) {
  return std::any_of(std::begin(kBindings), std::end(kBindings), [&](const Binding& b) { return b.kernel == kernel; });
}

std::string bound_kernel_name(const Workload& w) {
  const Binding* b = binding_for(w);
  return b ? std::string(b->kernel) : std::string();
}

std::string bind_kernel(const Workload& given, const Device& device, BoundKernel* out) {
  const Workload w = resolve(given, device);
  const Binding* binding = binding_for(w);
  if (!binding) {
    return "attnio profile has no kernel for " + std::string(to_string(w.variant)) + " " + std::string(to_string(w.phase)) +
           " " + std::string(to_string(w.pass)) + " " + std::string(to_string(w.dtype)) + " d=" + std::to_string(w.head_dim);
  }
  out->kernel = std::string(binding->kernel);
  std::vector<std::uint64_t> dims = {w.batch, w.heads, w.kv_heads, w.head_dim, w.v_head_dim, w.seq, w.kv_len};
  for (const ParamSet::Entry& e : w.params.entries()) dims.push_back(e.count);
  for (std::uint64_t v : dims) {
    if (v > 0x7fffffffu) return "a dimension of " + std::to_string(v) + " does not fit the kernels' 32-bit shape fields";
  }
  auto bufs = std::make_shared<Buffers>();
  out->buffers = bufs;
  const Elem e = w.dtype == Dtype::bf16 ? Elem::bf16 : Elem::fp16;
  if (std::string err = setup_l2_flush(*bufs, out); !err.empty()) return err;
  return binding->bind(w, device, binding->kernel, e, *bufs, out);
}

}  // namespace attnio::kernels
