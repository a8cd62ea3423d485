// CPU references of the softmax-attention kernels (plain C++, float64 accumulation), and the direct
// mathematical definition they are tested against. Each reference follows its kernel's algorithm
// (tiles, loop order, online softmax, split-KV, block table, chunks), so a GPU result that matches it
// matches the algorithm, and each reference is checked against the definition on small shapes.
//
// Layouts as flash-attention: Q, O [B][N][H][d], K, V [B][Nk][Hkv][d], LSE [B][H][N]. Inputs are
// float (the kernels' bf16/fp16 values, widened exactly); outputs double.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace attnio::ref {

struct Attn {
  int batch = 1, heads = 1, kv_heads = 1, n = 1, nk = 1, d = 64, dv = 64;
  bool causal = false;
  int window = 0;              // > 0: a causal window of this many keys (Mistral 7B §2)
  bool sigmoid = false;        // FlashSigmoid: sigma(s + bias) instead of softmax
  double sigmoid_bias = 0;
  double scale = 0;            // 0: 1/sqrt(d)
  // Block-sparse layout over (Q block, K/V block) for tile sizes (br, bc); empty: dense.
  std::function<bool(int, int)> block_keep;
  int br = 128, bc = 64;       // tile sizes the tiled references (and kernels) use

  double softmax_scale() const;
  int group() const { return heads / kv_heads; }
  // Query i (0-based among the N) may attend key j: queries are the last N positions.
  bool allowed(int i, int j) const;
  std::size_t q_index(int b, int i, int h, int c) const { return ((static_cast<std::size_t>(b) * n + i) * heads + h) * d + c; }
  std::size_t k_index(int b, int j, int h, int c) const { return ((static_cast<std::size_t>(b) * nk + j) * kv_heads + h) * d + c; }
  std::size_t v_index(int b, int j, int h, int c) const { return ((static_cast<std::size_t>(b) * nk + j) * kv_heads + h) * dv + c; }
  std::size_t o_index(int b, int i, int h, int c) const { return ((static_cast<std::size_t>(b) * n + i) * heads + h) * dv + c; }
  std::size_t lse_index(int b, int h, int i) const { return (static_cast<std::size_t>(b) * heads + h) * n + i; }
};

struct Output {
  std::vector<double> o;    // [B][N][H][dv]
  std::vector<double> lse;  // [B][H][N]; -inf for a row with no allowed key (its O is 0)
};

// The definition: O_i = Σ_j p_ij V_j with p = softmax_j(scale·q_i·k_j) over allowed keys (or
// sigma(scale·q_i·k_j + bias) for sigmoid), computed directly.
Output direct(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v);

// FlashAttention-2 forward (FlashAttention-2 Alg. 1): Q blocks of br rows outer, K/V blocks of bc
// keys inner, online softmax with rescaling, blocks with no allowed pair (or dropped by the sparse
// layout) skipped.
Output flash2(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v);

// Gated attention (Qiu et al. 2025 §2, position G1): Y' = Y ⊙ σ(G) elementwise, G [B][N][H][dv] in
// O's layout; the LSE is untouched. The kernel applies it in flash2's epilogue (Flash2Params::gate).
void apply_output_gate(const std::vector<float>& gate, Output* out);

// FlashAttention Alg. 1 (FA1 loop order): K/V blocks outer; O, l, m of every Q block updated in
// "HBM" (here: arrays) once per K/V block.
Output flash1(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v);

// Standard attention (FlashAttention Alg. 0): S = scale·QK^T and P = softmax(S) materialized.
Output standard(const Attn& a, const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v);

// Split-KV decode (Flash-Decoding): the keys split into `splits` ranges of whole bc-blocks, each
// producing a partial output and log-sum-exp, combined with the max-rescaled sum of exponentials.
Output split_kv(const Attn& a, int splits, const std::vector<float>& q, const std::vector<float>& k,
                const std::vector<float>& v);

// PagedAttention: K/V caches of physical pages [pages][Hkv][page][d]; block_table[b][p] gives the
// physical page of sequence b's page p. Decode (N = 1) or any N.
Output paged(const Attn& a, int page_size, const std::vector<int>& block_table, const std::vector<float>& k_cache,
             const std::vector<float>& v_cache, const std::vector<float>& q);

// Memory-efficient attention (Rabe & Staats 2021): query and key chunks; each chunk pair yields
// unnormalized values, a row sum and a row max; a combine rescales and adds them.
Output chunked(const Attn& a, int chunk, const std::vector<float>& q, const std::vector<float>& k,
               const std::vector<float>& v);

// Backward (FlashAttention-2 §3.1.2): gradients of sum(O ∘ dO) with respect to Q, K, V.
struct Grads {
  std::vector<double> dq, dk, dv;
};
// By the definition: P, dP = dO V^T, dS = P ∘ (dP - rowsum(dO ∘ O)), dQ = dS K·scale, ...
Grads backward_direct(const Attn& a, const std::vector<float>& q, const std::vector<float>& k,
                      const std::vector<float>& v, const std::vector<float>& dout);
// Tiled as the kernel: outer loop over K/V blocks, recomputing P from the LSE, D = rowsum(dO ∘ O).
Grads backward_tiled(const Attn& a, const std::vector<float>& q, const std::vector<float>& k,
                     const std::vector<float>& v, const std::vector<float>& dout);

// MLA (DeepSeek-V2 §2.1) decode. Per token the cache holds the latent c (dc) and the rope key kr
// (dr), shared by all heads. Head h has a query q_nope (dn) and q_rope (dr), and up-projections
// W_UK[h] (dc x dn) and W_UV[h] (dc x dv).
struct Mla {
  int batch = 1, heads = 1, nk = 1, dc = 512, dr = 64, dn = 128, dv = 128;
  double scale = 0;  // 0: 1/sqrt(dn + dr)
};
// Absorbed (the kernel's form): q_lat = W_UK q_nope, scores over [c; kr], o_lat = Σ p c, o = W_UV^T o_lat.
std::vector<double> mla_absorbed(const Mla& m, const std::vector<float>& q_nope, const std::vector<float>& q_rope,
                                 const std::vector<float>& latent, const std::vector<float>& rope,
                                 const std::vector<float>& w_uk, const std::vector<float>& w_uv);
// Direct: K_h = [W_UK^T c; kr], V_h = W_UV^T c per head, then softmax attention.
std::vector<double> mla_direct(const Mla& m, const std::vector<float>& q_nope, const std::vector<float>& q_rope,
                               const std::vector<float>& latent, const std::vector<float>& rope,
                               const std::vector<float>& w_uk, const std::vector<float>& w_uv);

}  // namespace attnio::ref
