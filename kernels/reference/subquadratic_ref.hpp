// CPU references of the sub-quadratic mixers (float64), each beside the direct definition it is
// tested against: linear attention (chunked vs the quadratic form), FAVOR+ (features, then linear
// attention; and as an estimator of softmax attention), the selective scan (chunked parallel scan
// vs the sequential recurrence; the naive materialized form), Mamba-2's SSD (the chunked algorithm
// vs the recurrence) and FNet (separable DFTs vs the 2D DFT).
#pragma once

#include <cstdint>
#include <vector>

namespace attnio::ref {

// Linear attention (Katharopoulos et al. 2020 §3.2) with phi = elu + 1. q [B][N][H][d],
// k [B][N][Hkv][d], v [B][N][Hkv][dv], o [B][N][H][dv].
struct Linear {
  int batch = 1, heads = 1, kv_heads = 1, n = 1, d = 16, dv = 16;
  bool causal = true;
};
double elu1(double x);
// o_i = Σ_j (phi(q_i)·phi(k_j)) v_j / Σ_j phi(q_i)·phi(k_j), over j <= i when causal.
std::vector<double> linear_direct(const Linear& a, const std::vector<float>& q, const std::vector<float>& k,
                                  const std::vector<float>& v);
// The chunked form: inside a chunk the masked product, between chunks the d x dv state S and z.
std::vector<double> linear_chunked(const Linear& a, int chunk, const std::vector<float>& q, const std::vector<float>& k,
                                   const std::vector<float>& v);
// The same with precomputed features of width f (Performer): phi_q [B][N][H][f], phi_k [B][N][Hkv][f].
std::vector<double> linear_features(const Linear& a, int f, const std::vector<double>& phi_q,
                                    const std::vector<double>& phi_k, const std::vector<float>& v);

// FAVOR+ (Choromanski et al. 2021): r orthogonal random features w_i (blocks of d orthogonalized
// Gaussian rows, each rescaled to a chi(d) norm, §2.4), seeded. phi(x) = exp(w_i·x - |x|²/2)/sqrt(r)
// on x = input / d^(1/4), so that E[phi(q)·phi(k)] = exp(q·k / sqrt(d)) (Lemma 1).
std::vector<double> favor_projection(int r, int d, std::uint64_t seed);  // r x d
std::vector<double> favor_features(const std::vector<float>& x, int rows, int d, const std::vector<double>& omega, int r);

// Mamba selective scan (Gu & Dao 2023 §3, App. D), without the D skip and gate: per channel d and
// state n, h_t = exp(delta_t A_dn) h_{t-1} + delta_t B_nt x_t, y_t = Σ_n C_nt h_t. x, delta
// [B][D][L] (delta already positive), A [D][N], Bm, Cm [B][N][L], y [B][D][L].
struct Scan {
  int batch = 1, channels = 1, length = 1, states = 16;
};
std::vector<double> scan_sequential(const Scan& s, const std::vector<float>& x, const std::vector<float>& delta,
                                    const std::vector<float>& a, const std::vector<float>& bm, const std::vector<float>& cm);
// Chunks of `chunk` tokens, each split among `threads` runs of consecutive tokens combined with the
// associative operator (a1, b1)∘(a2, b2) = (a1 a2, a2 b1 + b2) (as the fused kernel's block scan).
std::vector<double> scan_chunked(const Scan& s, int chunk, int threads, const std::vector<float>& x,
                                 const std::vector<float>& delta, const std::vector<float>& a,
                                 const std::vector<float>& bm, const std::vector<float>& cm);
// The naive form: A_bar, B_bar x and h materialized as (B, D, L, N) arrays, then contracted with C.
std::vector<double> scan_materialized(const Scan& s, const std::vector<float>& x, const std::vector<float>& delta,
                                      const std::vector<float>& a, const std::vector<float>& bm,
                                      const std::vector<float>& cm);

// Mamba-2's state-space dual layer (Dao & Gu 2024, "Transformers are SSMs", §6 and Listing 1
// ssd_minimal), layouts as mamba_ssm's mamba_chunk_scan_combined: H heads of P channels, N states,
// G groups of H/G consecutive heads sharing B and C (head h reads group h / (H/G)).
struct Ssd {
  int batch = 1, length = 1, heads = 1, head_dim = 1, states = 1, groups = 1;
};
struct SsdInputs {
  std::vector<float> x;        // [B][L][H][P]
  std::vector<float> dt;       // [B][L][H], before the bias and softplus
  std::vector<float> a;        // [H], negative
  std::vector<float> dt_bias;  // [H]
  std::vector<float> d;        // [H], the skip
  std::vector<float> bm, cm;   // [B][L][G][N]
};
// log(1 + e^x), without overflow for large x.
double softplus(double x);
// The definition, token by token: per head h, dt_t = softplus(dt_raw_t + dt_bias_h),
// h_t = exp(dt_t A_h) h_{t-1} + dt_t x_t B_tᵀ (P x N), y_t = h_t C_t + D_h x_t. y [B][L][H][P].
std::vector<double> ssd_recurrent(const Ssd& s, const SsdInputs& in);
// The chunked algorithm in the five steps of kernels/ssd.cu (mamba_ssm ssd_combined.py), on chunks of
// Q = min(chunk, L) tokens: the running sum dA_cs of dt A inside each chunk; each chunk's state from
// zero; the states passed between chunks; C Bᵀ per chunk and group; and per token the state entering
// its chunk read through C, plus the masked intra-chunk product (C Bᵀ ∘ decay ∘ dt) X, plus D x.
std::vector<double> ssd_chunked(const Ssd& s, int chunk, const SsdInputs& in);

// FNet (Lee-Thorp et al. 2022 §3.1): y = Re(DFT_seq(DFT_hidden(x))) for x [B][N][D].
std::vector<double> fnet_separable(int batch, int n, int hidden, const std::vector<float>& x);
std::vector<double> fnet_direct(int batch, int n, int hidden, const std::vector<float>& x);

}  // namespace attnio::ref
