// CPU references of the sub-quadratic mixers (float64), each beside the direct definition it is
// tested against: linear attention (chunked vs the quadratic form), FAVOR+ (features, then linear
// attention; and as an estimator of softmax attention), the selective scan (chunked parallel scan
// vs the sequential recurrence; the naive materialized form) and FNet (separable DFTs vs the 2D DFT).
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

// FNet (Lee-Thorp et al. 2022 §3.1): y = Re(DFT_seq(DFT_hidden(x))) for x [B][N][D].
std::vector<double> fnet_separable(int batch, int n, int hidden, const std::vector<float>& x);
std::vector<double> fnet_direct(int batch, int n, int hidden, const std::vector<float>& x);

}  // namespace attnio::ref
