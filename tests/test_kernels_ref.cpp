// The CPU references of the attention kernels against the mathematical definition in float64, on
// small random shapes: GQA, causal with fewer queries than keys, sliding windows, block-sparse
// layouts, sigmoid, split-KV, paged caches with shuffled pages, chunks, the backward pass, MLA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "reference/attention_ref.hpp"
#include "reference/validate.hpp"

using namespace attnio::ref;

namespace {

struct Inputs {
  std::vector<float> q, k, v;
};

Inputs make_inputs(const Attn& a, std::uint64_t seed) {
  return {random_inputs(static_cast<std::size_t>(a.batch) * a.n * a.heads * a.d, seed, "bf16"),
          random_inputs(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.d, seed + 1, "bf16"),
          random_inputs(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.dv, seed + 2, "bf16")};
}

double max_diff(const std::vector<double>& x, const std::vector<double>& y) {
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
    if (std::isinf(x[i]) && std::isinf(y[i]) && (x[i] < 0) == (y[i] < 0)) continue;
    m = std::max(m, std::fabs(x[i] - y[i]));
  }
  return m;
}

// Shapes: GQA 4 over 2 heads, ragged lengths (37 queries, 53 keys), d != dv, tiles 8 x 16.
std::vector<std::pair<std::string, Attn>> shapes() {
  Attn base;
  base.batch = 2;
  base.heads = 4;
  base.kv_heads = 2;
  base.n = 37;
  base.nk = 53;
  base.d = 16;
  base.dv = 8;
  base.br = 8;
  base.bc = 16;
  std::vector<std::pair<std::string, Attn>> out;
  out.emplace_back("dense", base);
  Attn causal = base;
  causal.causal = true;
  out.emplace_back("causal", causal);
  Attn window = base;
  window.window = 10;
  out.emplace_back("window", window);
  Attn sparse = base;
  sparse.block_keep = [](int i, int j) { return (i + 2 * j) % 3 != 1; };
  out.emplace_back("sparse", sparse);
  Attn sigm = base;
  sigm.sigmoid = true;
  sigm.sigmoid_bias = -std::log(53.0);  // FlashSigmoid's b = -log(n)
  sigm.causal = true;
  out.emplace_back("sigmoid", sigm);
  Attn mqa = base;
  mqa.kv_heads = 1;
  mqa.n = 1;  // decode
  mqa.nk = 101;
  out.emplace_back("mqa-decode", mqa);
  return out;
}

}  // namespace

TEST(KernelRef, TiledForwardsMatchTheDefinition) {
  std::uint64_t seed = 1;
  for (const auto& [name, a] : shapes()) {
    const Inputs in = make_inputs(a, seed += 10);
    const Output want = direct(a, in.q, in.k, in.v);
    for (const auto& [algo, got] : {std::pair{"flash2", flash2(a, in.q, in.k, in.v)},
                                    std::pair{"flash1", flash1(a, in.q, in.k, in.v)},
                                    std::pair{"standard", standard(a, in.q, in.k, in.v)},
                                    std::pair{"chunked-7", a.block_keep || a.sigmoid ? want : chunked(a, 7, in.q, in.k, in.v)}}) {
      EXPECT_LT(max_diff(got.o, want.o), 1e-12) << algo << " " << name;
      EXPECT_LT(max_diff(got.lse, want.lse), 1e-12) << algo << " " << name;
    }
    // The definition itself: every output row is a convex combination of V rows (softmax weights).
    if (!a.sigmoid) {
      for (double o : want.o) EXPECT_LE(std::fabs(o), 1.0 + 1e-12) << name;
    }
  }
}

TEST(KernelRef, MaskedRowsAreZero) {
  Attn a;
  a.n = 8;
  a.nk = 4;  // more queries than keys with a causal mask: the first 4 queries see nothing
  a.causal = true;
  a.d = a.dv = 8;
  a.br = 4;
  a.bc = 4;
  const Inputs in = make_inputs(a, 99);
  const Output o = flash2(a, in.q, in.k, in.v);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(std::isinf(o.lse[a.lse_index(0, 0, i)]));
    for (int c = 0; c < a.dv; ++c) EXPECT_EQ(o.o[a.o_index(0, i, 0, c)], 0.0);
  }
  EXPECT_LT(max_diff(o.o, direct(a, in.q, in.k, in.v).o), 1e-12);
}

TEST(KernelRef, SplitKvCombinesToTheDefinition) {
  for (const auto& [name, a] : shapes()) {
    if (a.sigmoid || a.block_keep) continue;  // split-KV decode kernels are softmax, dense
    const Inputs in = make_inputs(a, 7);
    const Output want = direct(a, in.q, in.k, in.v);
    for (int splits : {1, 2, 3, 7}) {
      const Output got = split_kv(a, splits, in.q, in.k, in.v);
      EXPECT_LT(max_diff(got.o, want.o), 1e-12) << name << " splits=" << splits;
      EXPECT_LT(max_diff(got.lse, want.lse), 1e-12) << name << " splits=" << splits;
    }
  }
}

TEST(KernelRef, PagedCacheWithShuffledPagesMatchesContiguous) {
  Attn a;
  a.batch = 3;
  a.heads = 8;
  a.kv_heads = 2;
  a.n = 1;
  a.nk = 45;  // 3 pages of 16, the last partly empty
  a.d = a.dv = 16;
  a.bc = 16;
  const int page = 16, pages = 3, physical = 16;
  const Inputs in = make_inputs(a, 11);
  // Physical pages in shuffled order; unused pages hold garbage that must never be read.
  std::vector<int> table(static_cast<std::size_t>(a.batch) * pages);
  std::vector<int> perm(physical);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(5));
  std::copy_n(perm.begin(), table.size(), table.begin());
  std::vector<float> kc(static_cast<std::size_t>(physical) * a.kv_heads * page * a.d, 1e30f);
  std::vector<float> vc(static_cast<std::size_t>(physical) * a.kv_heads * page * a.dv, 1e30f);
  for (int b = 0; b < a.batch; ++b) {
    for (int j = 0; j < a.nk; ++j) {
      const int phys = table[static_cast<std::size_t>(b) * pages + j / page];
      for (int h = 0; h < a.kv_heads; ++h) {
        const std::size_t base = (static_cast<std::size_t>(phys) * a.kv_heads + h) * page + j % page;
        for (int c = 0; c < a.d; ++c) kc[base * a.d + c] = in.k[a.k_index(b, j, h, c)];
        for (int c = 0; c < a.dv; ++c) vc[base * a.dv + c] = in.v[a.v_index(b, j, h, c)];
      }
    }
  }
  const Output got = paged(a, page, table, kc, vc, in.q);
  EXPECT_LT(max_diff(got.o, direct(a, in.q, in.k, in.v).o), 1e-12);
}

TEST(KernelRef, ChunkedMatchesForSeveralChunkSizes) {
  for (const auto& [name, a] : shapes()) {
    if (a.sigmoid || a.block_keep) continue;
    const Inputs in = make_inputs(a, 21);
    const Output want = direct(a, in.q, in.k, in.v);
    for (int chunk : {1, 5, 16, 200}) EXPECT_LT(max_diff(chunked(a, chunk, in.q, in.k, in.v).o, want.o), 1e-12) << name << " " << chunk;
  }
}

// The direct gradients against central finite differences of L = Σ O ∘ dO, then the tiled backward
// against the direct gradients.
TEST(KernelRef, BackwardMatchesFiniteDifferencesAndTiles) {
  for (const auto& [name, base] : shapes()) {
    Attn a = base;
    a.batch = 1;
    a.n = std::min(a.n, 9);
    a.nk = std::min(a.nk, 13);
    a.br = 4;
    a.bc = 4;
    Inputs in = make_inputs(a, 31);
    const std::vector<float> dout = random_inputs(static_cast<std::size_t>(a.n) * a.heads * a.dv, 77, "fp32");
    const Grads g = backward_direct(a, in.q, in.k, in.v, dout);
    auto loss = [&](const Inputs& x) {
      const Output o = direct(a, x.q, x.k, x.v);
      double l = 0;
      for (std::size_t i = 0; i < o.o.size(); ++i) l += o.o[i] * dout[i];
      return l;
    };
    auto check = [&](std::vector<float> Inputs::*field, const std::vector<double>& grad, const char* what) {
      for (std::size_t idx = 0; idx < (in.*field).size(); idx += 7) {
        Inputs plus = in, minus = in;
        (plus.*field)[idx] += 1e-3f;
        (minus.*field)[idx] -= 1e-3f;
        const double h = static_cast<double>((plus.*field)[idx]) - (minus.*field)[idx];
        const double fd = (loss(plus) - loss(minus)) / h;
        EXPECT_NEAR(grad[idx], fd, 1e-5 + 1e-4 * std::fabs(fd)) << name << " d" << what << "[" << idx << "]";
      }
    };
    check(&Inputs::q, g.dq, "Q");
    check(&Inputs::k, g.dk, "K");
    check(&Inputs::v, g.dv, "V");
    const Grads t = backward_tiled(a, in.q, in.k, in.v, dout);
    EXPECT_LT(max_diff(t.dq, g.dq), 1e-12) << name;
    EXPECT_LT(max_diff(t.dk, g.dk), 1e-12) << name;
    EXPECT_LT(max_diff(t.dv, g.dv), 1e-12) << name;
  }
}

TEST(KernelRef, MlaAbsorbedEqualsUpProjected) {
  Mla m;
  m.batch = 2;
  m.heads = 3;
  m.nk = 11;
  m.dc = 24;
  m.dr = 8;
  m.dn = 16;
  m.dv = 12;
  const auto qn = random_inputs(static_cast<std::size_t>(m.batch) * m.heads * m.dn, 1, "bf16");
  const auto qr = random_inputs(static_cast<std::size_t>(m.batch) * m.heads * m.dr, 2, "bf16");
  const auto c = random_inputs(static_cast<std::size_t>(m.batch) * m.nk * m.dc, 3, "bf16");
  const auto kr = random_inputs(static_cast<std::size_t>(m.batch) * m.nk * m.dr, 4, "bf16");
  const auto wuk = random_inputs(static_cast<std::size_t>(m.heads) * m.dc * m.dn, 5, "bf16");
  const auto wuv = random_inputs(static_cast<std::size_t>(m.heads) * m.dc * m.dv, 6, "bf16");
  const auto absorbed = mla_absorbed(m, qn, qr, c, kr, wuk, wuv);
  const auto up = mla_direct(m, qn, qr, c, kr, wuk, wuv);
  EXPECT_LT(max_diff(absorbed, up), 1e-11);
}

TEST(KernelRef, ValidateNeverPassesNaNAndReportsMismatches) {
  const Tolerance tol = tolerance_for("bf16");
  EXPECT_TRUE(validate("o", {0.5f, -0.25f}, {0.5, -0.25}, tol).ok);
  const Validation nan = validate("o", {std::nanf("")}, {0.0}, tol);
  EXPECT_FALSE(nan.ok);
  EXPECT_NE(nan.report.find("o[0]"), std::string::npos);
  const Validation off = validate("o", {1.0f, 2.0f, 3.5f}, {1.0, 2.0, 3.0}, tol);
  EXPECT_FALSE(off.ok);
  EXPECT_EQ(off.mismatches, 1u);
  EXPECT_NEAR(off.max_abs_error, 0.5, 1e-12);
  EXPECT_FALSE(validate("o", {1.0f}, {1.0, 2.0}, tol).ok);
  EXPECT_THROW(tolerance_for("int4"), std::invalid_argument);
}

TEST(KernelRef, SixteenBitRounding) {
  EXPECT_EQ(round_to_bf16(0.1f), 0.10009765625f);       // 0x3DCD
  EXPECT_EQ(round_to_bf16(1.00390625f), 1.0f);          // 1 + 2^-8 is a tie: to even
  EXPECT_EQ(round_to_fp16(0.1f), 0.0999755859375f);     // 0x2E66
  EXPECT_EQ(round_to_fp16(1.00048828125f), 1.0f);       // 1 + 2^-11 is a tie: to even
  for (float x : random_inputs(1000, 3, "bf16")) EXPECT_EQ(round_to_bf16(x), x);
  for (float x : random_inputs(1000, 3, "fp16")) EXPECT_EQ(round_to_fp16(x), x);
}

// fp8 e4m3 by hand (OCP FP8 spec §5.1: bias 7, 3 mantissa bits, max 448, subnormal step 2^-9).
TEST(KernelRef, Fp8E4m3Rounding) {
  EXPECT_EQ(round_to_fp8_e4m3(1.0f), 1.0f);
  EXPECT_EQ(fp8_e4m3_bits(1.0f), 0x38);             // exponent 0 + 7 = 7, mantissa 0
  EXPECT_EQ(fp8_e4m3_bits(448.0f), 0x7e);           // 1.75 · 2^8: exponent 15, mantissa 6
  EXPECT_EQ(round_to_fp8_e4m3(500.0f), 448.0f);     // saturated, no infinity
  EXPECT_EQ(round_to_fp8_e4m3(-1e6f), -448.0f);
  EXPECT_EQ(round_to_fp8_e4m3(1.0625f), 1.0f);      // tie between 1 and 1.125: to the even mantissa 0
  EXPECT_EQ(round_to_fp8_e4m3(1.1875f), 1.25f);     // tie between 1.125 and 1.25: to mantissa 2
  EXPECT_EQ(round_to_fp8_e4m3(-0.3f), -0.3125f);    // quantum 2^-5 in [0.25, 0.5): 9.6 -> 10 quanta
  EXPECT_EQ(fp8_e4m3_bits(-0.3125f), 0xaa);         // sign, exponent -2 + 7 = 5, mantissa 2
  EXPECT_EQ(round_to_fp8_e4m3(0.001953125f), 0.001953125f);  // 2^-9, the smallest subnormal
  EXPECT_EQ(fp8_e4m3_bits(0.001953125f), 0x01);
  EXPECT_EQ(round_to_fp8_e4m3(0.0009f), 0.0f);      // under half of 2^-9
  EXPECT_TRUE(std::isnan(fp8_e4m3_value(0x7f)));
  // Every byte but NaN round-trips through its value.
  for (int b = 0; b < 256; ++b) {
    if ((b & 0x7f) == 0x7f) continue;
    const float v = fp8_e4m3_value(static_cast<std::uint8_t>(b));
    EXPECT_EQ(round_to_fp8_e4m3(v), v) << b;
    if (v != 0.0f) EXPECT_EQ(fp8_e4m3_bits(v), b) << b;
  }
}

// The fp8-cache decode kernel computes softmax attention over stored · scale (vLLM's per-tensor
// k_scale/v_scale): its reference is split-KV over the dequantized cache, and the quantization moves
// the output by no more than e4m3's half quantum allows.
TEST(KernelRef, Fp8CacheDecodeIsAttentionOverTheDequantizedCache) {
  Attn a;
  a.batch = 2; a.heads = 8; a.kv_heads = 2; a.n = 1; a.nk = 333; a.d = a.dv = 32; a.bc = 64;
  const Inputs in = make_inputs(a, 11);
  const float k_scale = 1.0f / 224, v_scale = 1.0f / 300;  // amax / scale within ±448
  const Fp8Tensor k8 = quantize_fp8_e4m3(in.k, k_scale), v8 = quantize_fp8_e4m3(in.v, v_scale);
  for (std::size_t i = 0; i < in.k.size(); ++i) {
    EXPECT_EQ(k8.dequantized[i], fp8_e4m3_value(k8.bytes[i]) * k_scale);
    // Relative error of e4m3 rounding: at most half of 2^-3 for normals (|x|/scale ≥ 2^-6).
    if (std::fabs(in.k[i]) / k_scale >= 0.015625f) EXPECT_LE(std::fabs(k8.dequantized[i] - in.k[i]), std::fabs(in.k[i]) / 16 * 1.0001);
  }
  const Output want = direct(a, in.q, k8.dequantized, v8.dequantized);
  for (int splits : {1, 4}) EXPECT_LT(max_diff(split_kv(a, splits, in.q, k8.dequantized, v8.dequantized).o, want.o), 1e-12);
  // Against the 16-bit cache: the outputs move, but by less than the values' quantization error.
  const Output full = direct(a, in.q, in.k, in.v);
  const double moved = max_diff(full.o, want.o);
  EXPECT_GT(moved, 1e-6);
  EXPECT_LT(moved, 0.1);
}

// Gated attention (Qiu et al. 2025 §2, G1) as the flash2 epilogue applies it: σ(0) = 1/2 and
// σ(ln 3) = 3/4 by hand, and the gated tiled forward equals the gated definition.
TEST(KernelRef, OutputGateScalesEachElementBySigmoid) {
  Attn a;
  a.batch = 1; a.heads = 2; a.kv_heads = 1; a.n = 37; a.nk = 53; a.d = 16; a.dv = 8; a.br = 8; a.bc = 16; a.causal = true;
  const Inputs in = make_inputs(a, 21);
  const Output plain = direct(a, in.q, in.k, in.v);
  std::vector<float> gate(plain.o.size(), 0.0f);
  gate[5] = static_cast<float>(std::log(3.0));
  Output halved = plain;
  apply_output_gate(gate, &halved);
  EXPECT_NEAR(halved.o[0], plain.o[0] / 2, 1e-15);
  EXPECT_NEAR(halved.o[5], plain.o[5] * 0.75, 1e-7);  // ln 3 rounded to float
  EXPECT_EQ(halved.lse, plain.lse);
  const std::vector<float> g = random_inputs(plain.o.size(), 22, "bf16");
  Output want = plain, got = flash2(a, in.q, in.k, in.v);
  apply_output_gate(g, &want);
  apply_output_gate(g, &got);
  EXPECT_LT(max_diff(got.o, want.o), 1e-12);
  std::vector<float> wrong(3);
  EXPECT_THROW(apply_output_gate(wrong, &got), std::invalid_argument);
}
