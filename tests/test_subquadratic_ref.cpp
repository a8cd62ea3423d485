// CPU references of the sub-quadratic mixers against their definitions in float64.
#include <gtest/gtest.h>

#include <cmath>

#include "reference/attention_ref.hpp"
#include "reference/subquadratic_ref.hpp"
#include "reference/validate.hpp"

using namespace attnio::ref;

namespace {
double max_diff(const std::vector<double>& x, const std::vector<double>& y) {
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}
}  // namespace

// Katharopoulos §3.2: the chunked form (state carried between chunks) equals the quadratic form,
// causal and not, with GQA (one state per K/V head) and ragged chunks.
TEST(SubquadraticRef, LinearChunkedEqualsTheQuadraticForm) {
  for (bool causal : {true, false}) {
    Linear a;
    a.batch = 2;
    a.heads = 4;
    a.kv_heads = 2;
    a.n = 37;
    a.d = 8;
    a.dv = 6;
    a.causal = causal;
    const auto q = random_inputs(static_cast<std::size_t>(a.batch) * a.n * a.heads * a.d, 1, "bf16");
    const auto k = random_inputs(static_cast<std::size_t>(a.batch) * a.n * a.kv_heads * a.d, 2, "bf16");
    const auto v = random_inputs(static_cast<std::size_t>(a.batch) * a.n * a.kv_heads * a.dv, 3, "bf16");
    const auto want = linear_direct(a, q, k, v);
    for (int chunk : {1, 8, 16, 64}) EXPECT_LT(max_diff(linear_chunked(a, chunk, q, k, v), want), 1e-12) << causal << " " << chunk;
  }
  EXPECT_DOUBLE_EQ(elu1(0.5), 1.5);
  EXPECT_DOUBLE_EQ(elu1(-1.0), std::exp(-1.0));
}

// FAVOR+ Lemma 1: phi(q)·phi(k) estimates exp(q·k / sqrt(d)) without bias; with many orthogonal
// features the estimate of the kernel, and of softmax attention, is close. Here r = 4096, d = 8:
// kernel values within 5% on average, attention outputs within 10% (they are small averages of V,
// so relative errors are larger there). Seeded, so the figures are fixed.
TEST(SubquadraticRef, FavorFeaturesApproximateSoftmaxAttention) {
  const int n = 12, d = 8, dv = 4, r = 4096;
  const auto q = random_inputs(static_cast<std::size_t>(n) * d, 5, "fp32");
  const auto k = random_inputs(static_cast<std::size_t>(n) * d, 6, "fp32");
  const auto v = random_inputs(static_cast<std::size_t>(n) * dv, 7, "fp32");
  const auto omega = favor_projection(r, d, 42);
  // Rows of a block are orthogonal.
  double dot = 0;
  for (int c = 0; c < d; ++c) dot += omega[c] * omega[d + c];
  EXPECT_NEAR(dot, 0.0, 1e-9);
  Linear a;
  a.n = n;
  a.d = d;
  a.dv = dv;
  a.causal = false;
  const auto approx = linear_features(a, r, favor_features(q, n, d, omega, r), favor_features(k, n, d, omega, r), v);
  Attn exact;
  exact.n = exact.nk = n;
  exact.d = d;
  exact.dv = dv;
  const auto want = direct(exact, q, k, v).o;
  double err = 0, norm = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    err += std::pow(approx[i] - want[i], 2);
    norm += want[i] * want[i];
  }
  EXPECT_LT(std::sqrt(err / norm), 0.10);
  const auto pq = favor_features(q, n, d, omega, r), pk = favor_features(k, n, d, omega, r);
  double rel = 0;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double est = 0, qk = 0;
      for (int f = 0; f < r; ++f) est += pq[static_cast<std::size_t>(i) * r + f] * pk[static_cast<std::size_t>(j) * r + f];
      for (int c = 0; c < d; ++c) qk += static_cast<double>(q[static_cast<std::size_t>(i) * d + c]) * k[static_cast<std::size_t>(j) * d + c];
      const double exact = std::exp(qk / std::sqrt(static_cast<double>(d)));
      rel += std::fabs(est - exact) / exact;
    }
  }
  EXPECT_LT(rel / (n * n), 0.05);  // positive features: relative std about sqrt((e^2 - 1) / r), 4%
  // And the features feed linear attention exactly like any other features.
  EXPECT_EQ(favor_projection(r, d, 42), omega);  // seeded: reproducible
}

// Mamba: the chunked parallel scan and the materialized form equal the sequential recurrence.
TEST(SubquadraticRef, SelectiveScanFormsAgree) {
  Scan s;
  s.batch = 2;
  s.channels = 3;
  s.length = 70;
  s.states = 4;
  const auto x = random_inputs(static_cast<std::size_t>(s.batch) * s.channels * s.length, 11, "fp32");
  auto delta = random_inputs(x.size(), 12, "fp32");
  for (float& v : delta) v = 0.05f + 0.5f * std::fabs(v);  // positive step sizes
  auto a = random_inputs(static_cast<std::size_t>(s.channels) * s.states, 13, "fp32");
  for (float& v : a) v = -0.1f - std::fabs(v);  // A < 0: stable
  const auto bm = random_inputs(static_cast<std::size_t>(s.batch) * s.states * s.length, 14, "fp32");
  const auto cm = random_inputs(bm.size(), 15, "fp32");
  const auto want = scan_sequential(s, x, delta, a, bm, cm);
  EXPECT_LT(max_diff(scan_materialized(s, x, delta, a, bm, cm), want), 1e-12);
  for (int chunk : {8, 32, 64}) {
    for (int threads : {1, 4, 16}) {
      EXPECT_LT(max_diff(scan_chunked(s, chunk, threads, x, delta, a, bm, cm), want), 1e-12) << chunk << " " << threads;
    }
  }
  // Hand check: one channel, one state, A = 0 (no decay), delta = 1, B = C = 1: y_t = Σ_{s<=t} x_s.
  Scan one;
  one.length = 4;
  one.states = 1;
  const std::vector<float> xs = {1, 2, 3, 4}, ones = {1, 1, 1, 1}, zero = {0};
  const auto y = scan_sequential(one, xs, ones, zero, ones, ones);
  EXPECT_EQ(y, (std::vector<double>{1, 3, 6, 10}));
}

namespace {
// Seeded SSD inputs in mamba_ssm's ranges: A < 0, dt = softplus(dt_raw + dt_bias) in about
// [0.02, 0.4], so the state decays over tens of tokens and earlier chunks still count.
SsdInputs ssd_inputs(const Ssd& s, std::uint64_t seed) {
  SsdInputs in;
  const std::size_t tokens = static_cast<std::size_t>(s.batch) * s.length;
  in.x = random_inputs(tokens * s.heads * s.head_dim, seed, "fp32");
  in.dt = random_inputs(tokens * s.heads, seed + 1, "fp32");
  in.a = random_inputs(static_cast<std::size_t>(s.heads), seed + 2, "fp32");
  for (float& v : in.a) v = -0.05f - 0.5f * std::fabs(v);
  in.dt_bias = random_inputs(static_cast<std::size_t>(s.heads), seed + 3, "fp32");
  for (float& v : in.dt_bias) v = -2.0f + 0.5f * v;
  in.d = random_inputs(static_cast<std::size_t>(s.heads), seed + 4, "fp32");
  in.bm = random_inputs(tokens * s.groups * s.states, seed + 5, "fp32");
  in.cm = random_inputs(in.bm.size(), seed + 6, "fp32");
  return in;
}
}  // namespace

// Mamba-2 SSD (Dao & Gu 2024 §6): the chunked algorithm equals the recurrence, with L not a multiple
// of the chunk, a chunk longer than L, one-token chunks, L = 1, and groups of heads sharing B and C.
TEST(SubquadraticRef, SsdChunkedEqualsTheRecurrence) {
  struct Case {
    Ssd s;
    std::vector<int> chunks;
  };
  const Case cases[] = {{{2, 37, 4, 3, 5, 2}, {1, 4, 8, 16, 37, 64}},
                        {{1, 50, 6, 2, 4, 3}, {7, 25}},
                        {{1, 1, 2, 2, 3, 1}, {1, 8}},
                        {{3, 20, 2, 4, 2, 2}, {6}}};
  std::uint64_t seed = 31;
  for (const Case& c : cases) {
    const SsdInputs in = ssd_inputs(c.s, seed += 10);
    const auto want = ssd_recurrent(c.s, in);
    double top = 0;
    for (double v : want) top = std::max(top, std::fabs(v));
    EXPECT_GT(top, 0.1);  // the outputs are not all (nearly) zero
    for (int chunk : c.chunks) {
      EXPECT_LT(max_diff(ssd_chunked(c.s, chunk, in), want), 1e-12) << c.s.length << " " << c.s.heads << " " << chunk;
    }
  }
}

// Head h reads group h / (H/G): with H = 4, G = 2, head 1 is a one-head problem on group 0's B and C
// (not group 1's, which h % G would pick), head 2 one on group 1's.
TEST(SubquadraticRef, SsdHeadsReadTheirGroupsBAndC) {
  const Ssd s{1, 9, 4, 2, 3, 2};
  const SsdInputs in = ssd_inputs(s, 77);
  const auto y = ssd_chunked(s, 4, in);
  for (int h : {1, 2}) {
    const Ssd one{1, s.length, 1, s.head_dim, s.states, 1};
    SsdInputs sub;
    const int g = h / 2;
    for (int t = 0; t < s.length; ++t) {
      for (int p = 0; p < s.head_dim; ++p) sub.x.push_back(in.x[(static_cast<std::size_t>(t) * s.heads + h) * s.head_dim + p]);
      sub.dt.push_back(in.dt[static_cast<std::size_t>(t) * s.heads + h]);
      for (int n = 0; n < s.states; ++n) {
        sub.bm.push_back(in.bm[(static_cast<std::size_t>(t) * s.groups + g) * s.states + n]);
        sub.cm.push_back(in.cm[(static_cast<std::size_t>(t) * s.groups + g) * s.states + n]);
      }
    }
    sub.a = {in.a[h]};
    sub.dt_bias = {in.dt_bias[h]};
    sub.d = {in.d[h]};
    const auto want = ssd_recurrent(one, sub);
    for (int t = 0; t < s.length; ++t) {
      for (int p = 0; p < s.head_dim; ++p) {
        EXPECT_NEAR(y[(static_cast<std::size_t>(t) * s.heads + h) * s.head_dim + p], want[static_cast<std::size_t>(t) * s.head_dim + p], 1e-12)
            << h << " " << t << " " << p;
      }
    }
  }
}

// By hand, L = 2, one head, P = N = 1: dt_raw = 0.25 and dt_bias = -0.25 give dt = softplus(0) = ln 2;
// A = -1 gives the decay exp(-ln 2) = 1/2. With x = (2, 4), B = (1, 3), C = (1, 2), D = 0.5:
//   h_1 = ln2·1·2 = 2 ln2,               y_1 = 1·2 ln2 + 0.5·2 = 2 ln2 + 1,
//   h_2 = h_1/2 + ln2·3·4 = 13 ln2,       y_2 = 2·13 ln2 + 0.5·4 = 26 ln2 + 2.
// The chunked form gives the same with one chunk of 2 (intra-chunk only) and two chunks of 1
// (the first token's state passed with the decay exp(dA_cs) = 1/2).
TEST(SubquadraticRef, SsdByHand) {
  const Ssd s{1, 2, 1, 1, 1, 1};
  SsdInputs in;
  in.x = {2, 4};
  in.dt = {0.25f, 0.25f};
  in.a = {-1};
  in.dt_bias = {-0.25f};
  in.d = {0.5f};
  in.bm = {1, 3};
  in.cm = {1, 2};
  const double ln2 = std::log(2.0);
  const std::vector<double> want = {2 * ln2 + 1, 26 * ln2 + 2};
  EXPECT_LT(max_diff(ssd_recurrent(s, in), want), 1e-14);
  EXPECT_LT(max_diff(ssd_chunked(s, 2, in), want), 1e-14);
  EXPECT_LT(max_diff(ssd_chunked(s, 1, in), want), 1e-14);
  EXPECT_DOUBLE_EQ(softplus(0.0), ln2);
  EXPECT_DOUBLE_EQ(softplus(800.0), 800.0);  // no overflow
  EXPECT_NEAR(softplus(-40.0), std::exp(-40.0), 1e-30);
}

// FNet: row DFTs then column DFTs equal the 2D DFT; and the DFT of an impulse at (0, 0) is all ones.
TEST(SubquadraticRef, FnetSeparableEqualsTheTwoDimensionalDft) {
  const auto x = random_inputs(2 * 6 * 10, 21, "fp32");
  EXPECT_LT(max_diff(fnet_separable(2, 6, 10, x), fnet_direct(2, 6, 10, x)), 1e-10);
  std::vector<float> impulse(4 * 8, 0.0f);
  impulse[0] = 1;
  for (double y : fnet_direct(1, 4, 8, impulse)) EXPECT_NEAR(y, 1.0, 1e-12);
}
