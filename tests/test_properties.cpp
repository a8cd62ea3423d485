// Properties the model must keep whatever the shape: the ones FlashAttention and the decode
// literature state, checked over sweeps rather than single points.
#include <gtest/gtest.h>

#include <cmath>

#include "attnio/model/predict.hpp"

using namespace attnio;

namespace {
const Device& h100() { return find_device("h100-sxm"); }
}  // namespace

// Matmul and exp work is fixed by the shape, not by the tiling. The online softmax's per-block
// rescaling of O is not (FlashAttention-2 §3.1.1 calls these the non-matmul FLOPs): it falls as
// bigger blocks mean fewer of them.
TEST(Properties, MatmulFlopsDoNotDependOnSram) {
  for (Variant v : all_variants()) {
    Workload w;
    w.variant = v;
    w.seq = 4096;
    w.causal = v->masked;  // fnet and clustered have no causal form
    if (!v->prefill) w.phase = Phase::decode;
    // selective's default buffer is 256 of these tokens, where a split's combine exp is over 1 %.
    if (v == parse_variant("selective")) w.set_real("keep", 1.0);
    w.sram_bytes = 48 * 1024;
    const Prediction small = predict(h100(), w);
    w.sram_bytes = 192 * 1024;
    const Prediction big = predict(h100(), w);
    EXPECT_EQ(big.tensor_flops, small.tensor_flops) << to_string(v);
    // Split-KV combines add one exp per split, and the split count follows the key blocks.
    EXPECT_NEAR(big.sfu_flops.d(), small.sfu_flops.d(), 0.01 * small.sfu_flops.d()) << to_string(v);
    EXPECT_LE(big.fp32_flops, small.fp32_flops) << to_string(v);
  }
  Workload w;
  w.variant = parse_variant("standard");
  w.sram_bytes = 48 * 1024;
  const Count a = predict(h100(), w).flops();
  w.sram_bytes = 192 * 1024;
  EXPECT_EQ(predict(h100(), w).flops(), a);
}

// FlashAttention Theorem 2: Θ(N²d²/M). In the FA1 loop order the Q/O traffic is Tc = ceil(N/Bc)
// passes with Bc = ceil(M/4d): doubling M halves it (K/V, read once, stay a small constant).
TEST(Properties, Flash1BytesHalveWhenSramDoubles) {
  Workload w;
  w.variant = parse_variant("flash1");
  w.impl = &ideal_impl();  // Alg. 1's tiles follow M; a library's are fixed
  w.seq = 16384;
  w.heads = w.kv_heads = 16;
  w.head_dim = 64;
  w.l2 = false;
  for (std::uint64_t m : {16384u, 32768u, 65536u}) {
    w.sram_bytes = m;
    const double before = predict(h100(), w).hbm_bytes().d();
    w.sram_bytes = 2 * m;
    const double after = predict(h100(), w).hbm_bytes().d();
    EXPECT_NEAR(after / before, 0.5, 0.02) << "M=" << m;
  }
  // With the L2 model on, a workload whose per-head Q/O far exceeds L2 behaves the same.
  w.l2 = true;
  w.batch = 8;
  w.sram_bytes = 16384;
  const double before = predict(h100(), w).hbm_bytes().d();
  w.sram_bytes = 32768;
  EXPECT_NEAR(predict(h100(), w).hbm_bytes().d() / before, 0.5, 0.05);
}

// FlashAttention Alg. 0 moves Θ(N²) bytes: doubling N quadruples them at large N.
TEST(Properties, StandardMovesQuadraticBytes) {
  Workload w;
  w.variant = parse_variant("standard");
  w.seq = 8192;
  const double a = predict(h100(), w).hbm_bytes().d();
  w.seq = 16384;
  EXPECT_NEAR(predict(h100(), w).hbm_bytes().d() / a, 4.0, 0.1);
}

// Decode reads the K/V cache once, so arithmetic intensity ≈ 2·g/e grows with heads / kv-heads
// (MQA paper §2.4.1 vs §3.1).
TEST(Properties, DecodeIntensityGrowsWithGroupSize) {
  for (Variant v : {parse_variant("flash-decoding"), parse_variant("flash2"), parse_variant("paged")}) {
    double previous = 0;
    for (std::uint64_t kv : {32u, 8u, 4u, 1u}) {
      Workload w;
      w.variant = v;
      w.phase = Phase::decode;
      w.batch = 16;
      w.kv_heads = kv;
      w.seq = 8192;
      const double ai = predict(h100(), w).arithmetic_intensity;
      EXPECT_GT(ai, previous) << to_string(v) << " kv_heads=" << kv;
      previous = ai;
    }
  }
}

// Prefill of a long sequence sits far right of the HBM ridge point, decode far left.
TEST(Properties, DecodeIsLeftOfTheRidgeAndLongPrefillRightOfIt) {
  const double ridge = h100().tensor_rate(Dtype::bf16) / h100().hbm_rate();
  Workload w;
  w.phase = Phase::decode;
  w.variant = parse_variant("flash-decoding");
  const Prediction decode = predict(h100(), w);
  EXPECT_TRUE(decode.memory_bound());
  EXPECT_EQ(decode.binding_ceiling, Ceiling::hbm);
  EXPECT_LT(decode.arithmetic_intensity, ridge / 10);
  w.phase = Phase::prefill;
  w.variant = parse_variant("flash2");
  w.seq = 16384;
  EXPECT_GT(predict(h100(), w).arithmetic_intensity, ridge * 3);
  // On an A100 the tensor cores are slow enough next to shared memory (312 TFLOP/s against
  // 19.5 TB/s) that flash2 prefill is compute-bound; on the H100 (989 against 30.9) the four warps
  // that each read every K/V tile make shared memory the limit.
  EXPECT_EQ(predict(find_device("a100-80gb"), w).binding_ceiling, Ceiling::tensor);
  EXPECT_EQ(predict(h100(), w).binding_ceiling, Ceiling::sram);
}

TEST(Properties, CausalRoughlyHalvesFlashFlops) {
  Workload w;
  w.seq = 8192;
  const double full = predict(h100(), w).tensor_flops.d();
  w.causal = true;
  EXPECT_NEAR(predict(h100(), w).tensor_flops.d() / full, 0.5, 0.001);
}

// The L2 trap (docs/model.md, "Bytes per memory level"): the two-level count overstates DRAM traffic for GQA prefill, where the
// K/V re-reads of co-resident CTAs hit L2; DRAM falls toward the compulsory Q + K + V + O.
TEST(Properties, L2ReuseBringsFlash2DramTowardCompulsory) {
  Workload w;
  w.seq = 8192;
  w.kv_heads = 8;
  const Prediction p = predict(h100(), w);
  const double compulsory = (2.0 * 32 * 8192 * 128 + 2.0 * 8 * 8192 * 128) * 2;
  EXPECT_GT(p.l2_bytes().d(), 10 * compulsory);
  EXPECT_LT(p.hbm_bytes().d(), 1.1 * compulsory);
}

TEST(Properties, MambaNaiveMovesAboutStateDimTimesMore) {
  Workload w;
  w.variant = parse_variant("mamba");
  w.seq = 8192;
  w.set("d_inner", 2048);
  const double fused = predict(h100(), w).hbm_bytes().d();
  w.variant = parse_variant("mamba-naive");
  const double naive = predict(h100(), w).hbm_bytes().d();
  EXPECT_GT(naive / fused, 16.0);  // N = 16 states, each fp32, several passes
}

TEST(Properties, TimeGrowsWithSequence) {
  for (Variant v : all_variants()) {
    if (!v->prefill) continue;
    Workload w;
    w.variant = v;
    double previous = 0;
    for (std::uint64_t n : {4096u, 8192u, 16384u}) {
      w.seq = n;
      const double t = predict(h100(), w).predicted_time_s;
      EXPECT_GT(t, previous) << to_string(v) << " N=" << n;
      previous = t;
    }
  }
}

TEST(Properties, BindingCeilingTakesTheLongestTime) {
  Workload w;
  for (Variant v : all_variants()) {
    w.variant = v;
    w.phase = !v->prefill ? Phase::decode : Phase::prefill;
    const Prediction p = predict(h100(), w);
    for (double t : p.ceiling_time_s) EXPECT_LE(t, p.ceiling_time_s[static_cast<int>(p.binding_ceiling)]);
    EXPECT_GE(p.predicted_time_s, p.ceiling_time_s[static_cast<int>(p.binding_ceiling)]);
  }
}

// Issue acceptance: N = 2^24 tokens with batch x heads = 2^16 and d = 512 overflows 64-bit FLOP
// counts: refused with an InputError, never wrapped.
TEST(Properties, OverflowingWorkloadsAreRefused) {
  Workload w;
  w.variant = parse_variant("standard");
  w.seq = std::uint64_t{1} << 24;
  w.batch = 1024;
  w.heads = w.kv_heads = 64;
  w.head_dim = 512;
  try {
    predict(h100(), w);
    FAIL() << "expected an overflow error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("overflows 64 bits"), std::string::npos);
  }
  // A long but countable workload evaluates: 2^20 tokens, 256 heads, d = 128.
  w.variant = parse_variant("flash2");
  w.seq = std::uint64_t{1} << 20;
  w.batch = 4;
  w.head_dim = 128;
  EXPECT_NO_THROW(predict(h100(), w));
}

// Every variant, phase and pass at the edges (N = 2^24, batch x heads = 2^16, d = 512): either
// counted with finite, non-negative results or refused with an InputError; nothing else escapes.
TEST(Properties, EdgeSizesAreCountedOrRefusedNeverWrapped) {
  int counted = 0, refused = 0;
  for (Variant v : all_variants()) {
    for (Phase ph : {Phase::prefill, Phase::decode}) {
      for (Pass pass : {Pass::fwd, Pass::bwd, Pass::fwdbwd}) {
        Workload w;
        w.variant = v;
        w.phase = ph;
        w.pass = pass;
        w.seq = std::uint64_t{1} << 24;
        w.batch = 256;
        w.heads = w.kv_heads = 256;
        w.head_dim = 512;
        try {
          const Prediction p = predict(h100(), w);
          EXPECT_TRUE(std::isfinite(p.predicted_time_s) && p.predicted_time_s > 0) << to_string(v);
          EXPECT_GT(p.hbm_bytes().d(), 0) << to_string(v);
          EXPECT_GE(p.flops().d(), p.tensor_flops.d()) << to_string(v);
          ++counted;
        } catch (const InputError&) {
          ++refused;
        }
      }
    }
  }
  EXPECT_GT(counted, 0);  // decode and the linear-time variants fit in 64 bits even here
  EXPECT_GT(refused, 0);  // the quadratic prefills do not
}

TEST(Properties, BadShapesAreRefused) {
  Workload w;
  w.heads = 32;
  w.kv_heads = 6;
  EXPECT_THROW(predict(h100(), w), InputError);
  w.kv_heads = 8;
  w.batch = 0;
  w.seq = 0;
  EXPECT_THROW(predict(h100(), w), InputError);
  w = Workload{};
  w.set("block_m", 1024);
  w.set("block_n", 1024);
  EXPECT_THROW(predict(h100(), w), InputError);  // tiles larger than M
  w = Workload{};
  w.variant = parse_variant("paged");  // decode only
  EXPECT_THROW(predict(h100(), w), InputError);
  w.phase = Phase::decode;
  w.pass = Pass::bwd;
  EXPECT_THROW(predict(h100(), w), InputError);
}
