// Launchers of attnio's CUDA attention kernels: one plain params struct per family, filled by the
// caller (front ends only validate -> fill params -> call). No CUDA types here, so plain C++ code can
// include it; pointers are device pointers. Every launcher returns an empty string on success or a
// one-line error (never exits).
#pragma once

#include <cstdint>
#include <string>

namespace attnio::kernels {

enum class Elem { bf16, fp16 };

// Whether a CUDA device can run the kernels; `why` says why not.
bool cuda_device_available(std::string* why);

// FlashAttention-2 forward (kernels/flash2.cu). Q, O [B][N][H][d], K, V [B][Nk][Hkv][d] (d = dv),
// LSE [B][H][N] fp32 (may be null). Queries are the last N of the Nk positions (causal masks are
// bottom-right aligned). `block_layout`: Tr x Tc bytes on the device, nonzero = visit (null:
// dense). Head dims 64 and 128.
struct Flash2Params {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  float* lse = nullptr;
  int batch = 1, heads = 1, kv_heads = 1, n = 1, nk = 1, head_dim = 128;
  bool causal = false;
  int window = 0;  // > 0: causal window of this many keys
  bool sigmoid = false;
  float sigmoid_bias = 0;
  float scale = 0;  // 0: 1/sqrt(d)
  const std::uint8_t* block_layout = nullptr;
  Elem elem = Elem::bf16;
  // Gated attention (Qiu et al. 2025 §2, G1) fused into the epilogue: gate logits G [B][N][H][dv]
  // in `elem`; O = softmax(...)V ⊙ σ(G). The LSE stays the attention's. null: no gate. flash2 only.
  const void* gate = nullptr;
};
std::string flash2_forward(const Flash2Params& p, void* stream);

// FlashAttention Alg. 1 (FA1 loop order, kernels/flash1.cu): same parameters and result; l and m
// live in `workspace` (flash1_workspace_bytes) between K/V blocks, as Alg. 1 keeps them in HBM.
std::size_t flash1_workspace_bytes(const Flash2Params& p);
std::string flash1_forward(const Flash2Params& p, float* workspace, void* stream);

// Split-KV decode over a key cache, one query token per sequence (kernels/decoding.cu). Three
// sources share one kernel:
//  - contiguous: K, V [B][Nk][Hkv][d] (flash-decoding): the g query heads of a K/V head are packed
//    into a CTA's rows;
//  - paged: K, V caches [pages][Hkv][page][d] with block_table [B][pages per sequence] (vLLM): one
//    CTA per query head, `splits` partitions of whole pages;
//  - latent: MLA's cache [B][Nk][dc + dr] (K = the whole row, V = its first dc elements), all heads
//    of a sequence packed; q is the absorbed query [B][H][dc + dr], o the latent output [B][H][dc].
// Q, O [B][H][d]. The paged source splits into vLLM's 512-token partitions: splits is 1 or
// ceil(nk / 512). The latent source needs an explicit scale (MLA's is 1/sqrt(dn + dr), not the
// cache width). With splits > 1, partial outputs (fp32) and log-sum-exps go to `workspace` (size
// from decode_workspace_bytes) and a combine kernel writes O.
// `fp8_cache`: the K and V caches (contiguous or paged) hold fp8 e4m3 bytes with one scale per
// tensor, K = stored · k_scale, V = stored · v_scale (vLLM's kv_cache_dtype "fp8", FireAttention's
// serving format; the model's --kv-dtype fp8, 8 bits and no groups); Q and O stay in `elem`. The
// scales are applied once per score and once per output element, not per cached element.
enum class KeySource { contiguous, paged, latent };
struct DecodeParams {
  KeySource source = KeySource::contiguous;
  const void* q = nullptr;
  const void* k = nullptr;  // K cache, or the latent cache
  const void* v = nullptr;  // V cache; unused for latent
  void* o = nullptr;
  const int* block_table = nullptr;
  int page_size = 16;
  int batch = 1, heads = 1, kv_heads = 1, nk = 1, head_dim = 128, v_head_dim = 128;
  int splits = 1;
  float scale = 0;
  void* workspace = nullptr;
  Elem elem = Elem::bf16;
  bool fp8_cache = false;
  float k_scale = 1, v_scale = 1;
};
std::size_t decode_workspace_bytes(const DecodeParams& p);
std::string decode_attention(const DecodeParams& p, void* stream);

// Standard attention (kernels/standard.cu): S = scale·QK^T with cuBLAS into `s` [B][H][N][Nk], a
// softmax kernel (causal mask) writing P into `p` (same shape), and O = PV with cuBLAS. Layouts as
// Flash2Params.
struct StandardParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  void* s = nullptr;
  void* p = nullptr;
  int batch = 1, heads = 1, kv_heads = 1, n = 1, nk = 1, head_dim = 128;
  bool causal = false;
  float scale = 0;
  Elem elem = Elem::bf16;
  // Set by standard_prepare: a cuBLAS handle and the device pointer arrays, so that a call only
  // enqueues the two GEMMs and the softmax (what a profiler range or a timing should see).
  void* cublas_handle = nullptr;
  void* pointer_arrays = nullptr;
};
std::string standard_attention(const StandardParams& p, void* stream);
std::string standard_prepare(StandardParams* p);
void standard_release(StandardParams* p);
// Row stride (elements) of S and P: nk rounded up to 8, as cuBLAS wants 16-byte aligned matrices;
// `s` and `p` hold B·H·N rows of it.
inline int standard_row_stride(int nk) { return (nk + 7) / 8 * 8; }

// FlashAttention-2 backward (kernels/flash_bwd.cu): dQ, dK, dV from Q, K, V, O, dO and the
// forward's LSE (softmax; unused for sigmoid). Layouts as Flash2Params; with GQA, dK and dV are
// first written per query head into dk_expanded, dv_expanded [B][Nk][H][d], then summed per group.
// `workspace`: backward_workspace_bytes (D and the fp32 dQ accumulator). No block-sparse layout.
struct BackwardParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  const void* o = nullptr;
  const void* dout = nullptr;
  const float* lse = nullptr;
  void* dq = nullptr;
  void* dk = nullptr;
  void* dv = nullptr;
  void* dk_expanded = nullptr;
  void* dv_expanded = nullptr;
  int batch = 1, heads = 1, kv_heads = 1, n = 1, nk = 1, head_dim = 128;
  bool causal = false;
  int window = 0;
  bool sigmoid = false;
  float sigmoid_bias = 0;
  float scale = 0;
  Elem elem = Elem::bf16;
};
std::size_t backward_workspace_bytes(const BackwardParams& p);
std::string flash2_backward(const BackwardParams& p, void* workspace, void* stream);

// Memory-efficient attention (Rabe & Staats 2021, kernels/chunked.cu): query and key chunks of
// `chunk` tokens, scores and partial outputs in `workspace` (chunked_workspace_bytes). d = dv.
struct ChunkedParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  int batch = 1, heads = 1, kv_heads = 1, n = 1, nk = 1, head_dim = 128;
  int chunk = 1024;
  bool causal = false;
  float scale = 0;
  Elem elem = Elem::bf16;
};
std::size_t chunked_workspace_bytes(const ChunkedParams& p);
std::string chunked_attention(const ChunkedParams& p, void* workspace, void* stream);

}  // namespace attnio::kernels
