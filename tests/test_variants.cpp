// Hand-derived counts for small shapes, one or more per variant. Each expected number is worked out
// in the comment above it from the formula the model cites, not from the model's code.
#include <gtest/gtest.h>

#include "attnio/model/predict.hpp"

using namespace attnio;

namespace {

const Device& h100() { return find_device("h100-sxm"); }

// B=1, H=2, Hkv=1 (g=2), N=Nk=256, d=dv=64, bf16; M = 32 KiB = 16384 elements so that
// Alg. 1 gives Bc = ceil(16384/256) = 64 and Br = min(64, 64) = 64: Tr = Tc = 4.
Workload small(Variant v) {
  Workload w;
  w.variant = v;
  w.batch = 1;
  w.seq = 256;
  w.heads = 2;
  w.kv_heads = 1;
  w.head_dim = 64;
  w.sram_bytes = 32768;
  w.l2 = false;
  return w;
}

// A decode step of `small`'s kind: 2 sequences, 8 query heads over 2 K/V heads (g = 4), `kv_len` keys.
Workload small_decode(std::string_view variant, std::uint64_t kv_len) {
  Workload w = small(parse_variant(variant));
  w.phase = Phase::decode;
  w.batch = 2;
  w.heads = 8;
  w.kv_heads = 2;
  w.kv_len = kv_len;
  return w;
}

std::uint64_t kernel_count_named(const Prediction& p, std::string_view name) {
  std::uint64_t n = 0;
  for (int i = 0; i < p.kernel_count(); ++i) n += p.kernels[i].name == name;
  return n;
}

}  // namespace

TEST(Flash2, NonCausalSmallShape) {
  const Prediction p = predict(h100(), small(parse_variant("flash2")));
  EXPECT_EQ(p.block_m, 64u);
  EXPECT_EQ(p.block_n, 64u);
  // FLOPs: 2·B·H·N·Nk·(d+dv) = 2·2·65536·128.
  EXPECT_EQ(p.tensor_flops.v, 33554432u);
  EXPECT_EQ(p.sfu_flops.v, 131072u);  // one exp per score
  // fp32: per head 3·N·Nk + rows_sum·dv + N·dv, rows_sum = 16 pairs · 64 = 1024:
  // 2·(196608 + 65536 + 16384) = 557056.
  EXPECT_EQ(p.fp32_flops.v, 557056u);
  // Reads: Q 2·256·64·2 = 65536; K/V once per Q block per head: 2 heads · 16 pairs · 64 cols · 128 · 2
  // = 524288. Writes: O 65536 and the log-sum-exp 2·256·4 = 2048.
  EXPECT_EQ(p.hbm_read_bytes.v, 65536u + 524288u);
  EXPECT_EQ(p.hbm_write_bytes.v, 65536u + 2048u);
  EXPECT_EQ(p.l2_bytes(), p.hbm_bytes());  // --l2 off
}

TEST(Flash2, L2ServesTheKVReReadsOfResidentCtas) {
  Workload w = small(parse_variant("flash2"));
  w.l2 = true;
  const Prediction p = predict(h100(), w);
  // 8 CTAs, all resident: the 4 Q blocks of both heads of the group share one fetch of K/V,
  // 1 kv head · 256 · 128 · 2 = 65536 bytes, plus Q 65536.
  EXPECT_EQ(p.hbm_read_bytes.v, 65536u + 65536u);
  EXPECT_EQ(p.l2_read_bytes.v, 65536u + 524288u);
}

TEST(Flash2, CausalSkipsBlocksAboveTheDiagonal) {
  Workload w = small(parse_variant("flash2"));
  w.causal = true;
  const Prediction p = predict(h100(), w);
  // Allowed pairs per head N(N+1)/2 = 32896; FLOPs 2·2·32896·128.
  EXPECT_EQ(p.tensor_flops.v, 2u * 2 * 32896 * 128);
  // Q block i visits K/V blocks 0..i: 1+2+3+4 = 10 pairs, 640 columns per head:
  // K/V bytes 2·640·128·2 = 327680.
  EXPECT_EQ(p.hbm_read_bytes.v, 65536u + 327680u);
}

TEST(Flash2, BackwardIsTwoAndAHalfTimesTheForwardFlops) {
  Workload w = small(parse_variant("flash2"));
  w.kv_heads = 2;
  w.pass = Pass::bwd;
  const Prediction bwd = predict(h100(), w);
  // FlashAttention-2 §4.1: 5 matmuls of 2·N·Nk·d each per head against the forward's 2.
  EXPECT_EQ(bwd.tensor_flops.v, 33554432u * 5 / 2);
  EXPECT_EQ(kernel_count_named(bwd, "flash2_bwd_preprocess"), 1u);
  EXPECT_EQ(kernel_count_named(bwd, "gqa_reduce_dkdv"), 0u);
  w.pass = Pass::fwdbwd;
  EXPECT_EQ(predict(h100(), w).tensor_flops.v, 33554432u * 7 / 2);
}

// The textbook FA1 loop order (`ideal`: Alg. 1 as the paper states it; the `fa1` profile carries
// the v1 code's fp32 partial O and split grid).
TEST(Flash1, NonCausalSmallShapeFollowsAlgorithm1) {
  Workload textbook = small(parse_variant("flash1"));
  textbook.impl = &ideal_impl();
  const Prediction p = predict(h100(), textbook);
  // K/V once per head: 2·256·128·2 = 131072. Per visited pair (16 per head) Q_i: 64·64·2, and
  // O_i (64·64·2) + l_i, m_i (64·8): rows_sum 1024 per head: Q 2·1024·128 = 262144,
  // O/l/m 2·1024·136 = 278528.
  EXPECT_EQ(p.hbm_read_bytes.v, 131072u + 262144u + 278528u);
  // Writes: line 2 initialization 2·256·136 = 69632 plus per-pair O/l/m 278528.
  EXPECT_EQ(p.hbm_write_bytes.v, 69632u + 278528u);
  EXPECT_EQ(p.tensor_flops.v, 33554432u);
}

// Alg. 0's kernels (`ideal`; the `pytorch` profile adds PyTorch eager's copies and mask kernels).
TEST(Standard, MaterializesSAndPInHbm) {
  Workload textbook = small(parse_variant("standard"));
  textbook.impl = &ideal_impl();
  const Prediction p = predict(h100(), textbook);
  // GQA as one GEMM per kv head with g·N = 512 rows. QK^T (512x256x64): A = 512·64·2 = 65536 read
  // ceil(256/128) = 2 times, B = 64·256·2 = 32768 read ceil(512/128) = 4 times; S = 512·256·2 = 262144.
  // softmax reads S and writes P. PV (512x64x256): P 262144 once, V 32768 four times; O 65536.
  EXPECT_EQ(p.hbm_read_bytes.v, 131072u + 131072u + 262144u + 262144u + 131072u);
  EXPECT_EQ(p.hbm_write_bytes.v, 262144u + 262144u + 65536u);
  EXPECT_EQ(p.tensor_flops.v, 33554432u);
  EXPECT_EQ(p.extra_memory_bytes.v, 2u * 262144);  // S and P
  Workload w = textbook;
  w.l2 = true;  // GEMM tile re-reads come from L2: only the compulsory bytes reach DRAM
  EXPECT_EQ(predict(h100(), w).hbm_read_bytes.v, 65536u + 32768u + 262144u + 262144u + 32768u);
}

TEST(Standard, BackwardFollowsAlgorithm3) {
  Workload w = small(parse_variant("standard"));
  w.pass = Pass::bwd;
  const Prediction p = predict(h100(), w);
  // Four GEMMs of 2·N·Nk·d per head (dV, dP, dQ, dK): twice the forward.
  EXPECT_EQ(p.tensor_flops.v, 2u * 33554432);
  EXPECT_EQ(kernel_count_named(p, "softmax_bwd"), 1u);
  EXPECT_EQ(p.extra_memory_bytes.v, 2u * 262144);  // dP and dS
}

TEST(FlashDecoding, SplitKvReadsTheCacheOncePerGroup) {
  Workload w = small_decode("flash-decoding", 1000);
  w.set("splits", 2);
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.splits, 2u);
  // 16 query heads · 1000 keys · 2 · 128.
  EXPECT_EQ(p.tensor_flops.v, 4096000u);
  // Cache 2·2·1000·(64+64)·2 = 1024000; Q read by both splits 16·64·2·2 = 4096; the combine reads
  // the partials 16·2·(64+1)·4 = 8320 that the split kernel wrote; O 16·64·2 = 2048.
  EXPECT_EQ(p.hbm_read_bytes.v, 1024000u + 4096u + 8320u);
  EXPECT_EQ(p.hbm_write_bytes.v, 8320u + 2048u);
  // Arithmetic intensity ≈ 2·g/e = 4 FLOP/byte (MQA paper §2.4.1 vs §3.1: decode reads the cache once).
  EXPECT_NEAR(p.tensor_flops.d() / p.hbm_bytes().d(), 4.0, 0.1);
}

TEST(Paged, V1ReadsWholePagesAndTheBlockTable) {
  Workload w = small_decode("paged", 500);
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(kernel_count_named(p, "paged_attention_v1"), 1u);  // one 512-token partition
  // 32 pages of 16 = 512 tokens per sequence. Table 32·4 = 128 bytes per CTA, 16 CTAs: 2048.
  // K/V per query head (one CTA per head): 16 · 512 · 128 · 2 = 2097152. Q 16·64·2 = 2048.
  EXPECT_EQ(p.hbm_read_bytes.v, 2048u + 2097152u + 2048u);
  EXPECT_EQ(p.hbm_write_bytes.v, 2048u);
  EXPECT_EQ(p.kv_cache_bytes.v, 2u * 2 * 512 * 128 * 2);
  EXPECT_NE(params_text(p).find("page_waste_bytes=12288"), std::string::npos);  // 2·2·12 tokens·256
  w.l2 = true;  // the 4 heads of a group are adjacent: one fetch of each page; table once
  EXPECT_EQ(predict(h100(), w).hbm_read_bytes.v, 256u + 524288u + 2048u);
}

// FlashAttention's paged KV cache (flash-attn >= 2.5): Flash-Decoding's kernels, each key block
// found through the block table. By hand against Flash-Decoding on the same shape: the same
// kernels and bytes, plus the table. 1000 keys in 4 pages of 256 (the default page under the
// library's profiles); Alg. 1 tiles at this M, 64 keys a block, 16 blocks. 4 CTAs (2 sequences x 2
// K/V heads) on 264 slots: the split heuristic takes the fewest splits within 85 % of the best
// wave efficiency, 16 (1 block each), so every page is read by 4 splits: 16 entries of 4 bytes per
// (sequence, K/V head), 2·2·64 = 256 bytes with the L2 off, and once per sequence, 2·4·4 = 32
// bytes, with it on.
TEST(Paged, FlashAttentionReadsItsBlocksThroughTheTable) {
  Workload w = small_decode("paged", 1000);
  w.impl = &find_impl("fa2-splitkv");
  Workload fd = w;
  fd.variant = parse_variant("flash-decoding");
  for (const bool l2 : {false, true}) {
    w.l2 = fd.l2 = l2;
    const Prediction p = predict(h100(), w), contiguous = predict(h100(), fd);
    EXPECT_EQ(p.workload.count("page_size"), 256u);
    EXPECT_EQ(p.splits, 16u);
    EXPECT_EQ(contiguous.splits, 16u);
    EXPECT_EQ(p.block_n, 64u);
    EXPECT_EQ(kernel_count_named(p, "flash2_fwd_splitkv"), 1u);
    EXPECT_EQ(kernel_count_named(p, "combine_splits"), 1u);
    EXPECT_EQ(p.tensor_flops.v, contiguous.tensor_flops.v);
    EXPECT_EQ(p.hbm_read_bytes.v, contiguous.hbm_read_bytes.v + (l2 ? 32u : 256u)) << "l2 " << l2;
    EXPECT_EQ(p.hbm_write_bytes.v, contiguous.hbm_write_bytes.v);
    EXPECT_EQ(p.kv_cache_bytes.v, 2u * 2 * 1024 * 128 * 2);  // whole pages held, 24 tokens of them empty
    EXPECT_NE(params_text(p).find("page_waste_bytes=24576"), std::string::npos);  // 2·2·24·256
  }
  // One split: the library still runs its split kernel (only it reads a block table), with no
  // combine, where contiguous decode runs the forward kernel.
  w.batch = fd.batch = 128;
  const Prediction one = predict(h100(), w);
  EXPECT_EQ(one.splits, 1u);
  EXPECT_EQ(kernel_count_named(one, "flash2_fwd_splitkv"), 1u);
  EXPECT_EQ(kernel_count_named(one, "combine_splits"), 0u);
}

TEST(Paged, EachImplementationTakesItsOwnPages) {
  Workload w = small(parse_variant("paged"));
  w.phase = Phase::decode;
  w.kv_len = 1000;
  w.impl = &find_impl("fa2");
  auto refused = [&](const std::string& needle) {
    try {
      predict(h100(), w);
    } catch (const InputError& e) {
      return std::string(e.what()).find(needle) != std::string::npos;
    }
    return false;
  };
  EXPECT_EQ(predict(h100(), w).workload.count("page_size"), 256u);
  w.set("page_size", 16);  // vLLM's pages
  EXPECT_TRUE(refused("multiple of 256"));
  w.set("page_size", 512);
  EXPECT_NO_THROW(predict(h100(), w));
  w.set("paged_version", 2);
  EXPECT_TRUE(refused("--paged-version"));
  w.impl = &find_impl("vllm-paged");
  w.params = {};
  EXPECT_EQ(predict(h100(), w).workload.count("page_size"), 16u);
}

TEST(Paged, V2SplitsLongContextsIntoPartitions) {
  Workload w = small_decode("paged", 1000);
  const Prediction p = predict(h100(), w);
  // 1008 tokens = 2 partitions and only 16 (b, h) pairs: vLLM picks v2.
  EXPECT_EQ(kernel_count_named(p, "paged_attention_v2"), 1u);
  EXPECT_EQ(kernel_count_named(p, "paged_attention_v2_reduce"), 1u);
  // Table 63·4 per (b, h): 4032; K/V 16 · 1008 · 256 = 4128768; Q per partition 2·2048;
  // partials 16·2·(64·2 + 8) = 4352 written, then read by the reduce, which writes O (2048).
  EXPECT_EQ(p.hbm_read_bytes.v, 4032u + 4128768u + 4096u + 4352u);
  EXPECT_EQ(p.hbm_write_bytes.v, 4352u + 2048u);
}

TEST(Mla, AbsorbedDecodeReadsTheLatentCacheOnce) {
  Workload w = small(parse_variant("mla"));
  w.phase = Phase::decode;
  w.heads = 16;
  w.kv_heads = 16;
  w.kv_len = 100;
  w.set("splits", 1);
  const Prediction p = predict(h100(), w);
  // FLOPs 2·B·H·Nk·(2·d_c + d_r) = 2·16·100·1088 (DeepSeek-V2 §2.1.2).
  EXPECT_EQ(p.tensor_flops.v, 3481600u);
  // Cache 100·(512+64)·2 = 115200 once; Q 16·576·2 = 18432; O 16·512·2 = 16384.
  EXPECT_EQ(p.hbm_read_bytes.v, 115200u + 18432u);
  EXPECT_EQ(p.hbm_write_bytes.v, 16384u);
  EXPECT_EQ(p.kv_cache_bytes.v, 115200u);
}

TEST(Linear, CausalChunkedForm) {
  Workload w = small(parse_variant("linear"));
  w.heads = w.kv_heads = 1;
  w.seq = 128;
  w.head_dim = 16;
  w.set("chunk", 64);
  w.causal = true;
  const Prediction p = predict(h100(), w);
  // Two chunks of 64: Σ C_t² = 8192. Tensor 2·8192·(16+16) + 4·128·16·16 = 524288 + 131072.
  EXPECT_EQ(p.tensor_flops.v, 655360u);
  // fp32: row sums 8192 + 128·(3·16 + 16) = 8192 + 8192, elu+1 on Q and K: 256 tokens·16·2 = 8192.
  EXPECT_EQ(p.fp32_flops.v, 24576u);
  EXPECT_EQ(p.sfu_flops.v, 4096u);  // exp of elu: 256·16
  // Q, K, V read once (128·16·2 each), O written once.
  EXPECT_EQ(p.hbm_read_bytes.v, 3u * 4096);
  EXPECT_EQ(p.hbm_write_bytes.v, 4096u);
  EXPECT_EQ(p.kv_cache_bytes.v, 16u * 16 * 4 + 16 * 4);  // S and z, fp32
}

TEST(Performer, FeaturesThenLinearAttention) {
  Workload w = small(parse_variant("performer"));
  w.heads = w.kv_heads = 1;
  w.seq = 64;
  w.head_dim = 16;
  w.set("features", 32);
  const Prediction p = predict(h100(), w);
  // Features of Q and K: 128 rows · 2·16·32 = 131072; state 64·2·32·16 = 65536; output the same.
  EXPECT_EQ(p.tensor_flops.v, 131072u + 65536u + 65536u);
  EXPECT_EQ(p.extra_memory_bytes.v, 128u * 32 * 2 + (32u * 16 + 32) * 4);  // phi(Q), phi(K); state
}

TEST(Mamba, FusedScanReadsInputsOnce) {
  Workload w = small(parse_variant("mamba"));
  w.seq = 64;
  w.set("d_inner", 32);
  w.set("state_dim", 4);
  w.l2 = true;
  const Prediction p = predict(h100(), w);
  // B·L·D·N = 8192: 6 FP32 FLOPs and one exp each (Mamba App. D).
  EXPECT_EQ(p.fp32_flops.v, 6u * 8192);
  EXPECT_EQ(p.sfu_flops.v, 8192u);
  // x, Δ 64·32·2 each; B, C 64·4·2 each (from DRAM once, 32 times across L2); A 32·4·4; y 4096.
  EXPECT_EQ(p.hbm_read_bytes.v, 8192u + 1024u + 512u);
  EXPECT_EQ(p.l2_read_bytes.v, 8192u + 32u * 1024 + 512u);
  // y 4096; mamba's kernel (the default profile, mamba-scan) also stores each chunk's running prefix
  // per state for the backward: 32 channels x 4 states x 8 bytes.
  EXPECT_EQ(p.hbm_write_bytes.v, 4096u + 32u * 4 * 8);
  EXPECT_EQ(p.kv_cache_bytes.v, 32u * 4 * 4);
}

TEST(Mamba, NaiveMaterializesTheBLDNTensors) {
  Workload w = small(parse_variant("mamba-naive"));
  w.seq = 64;
  w.set("d_inner", 32);
  w.set("state_dim", 4);
  const Prediction p = predict(h100(), w);
  // BLDN·4 = 32768. One CTA per 1024 outputs = 256 tokens of a channel: one per channel here.
  // discretize: x, Δ (64·32·2 each), B per channel (32 · 64·4·2 = 16384 across L2), A rows
  // (32·4·4 = 512); writes A_bar and B_bar x. scan: reads both, writes h. contract: reads h and C
  // per channel (16384), writes y (4096).
  EXPECT_EQ(p.hbm_read_bytes.v, 8192u + 16384u + 512u + 65536u + 32768u + 16384u);
  EXPECT_EQ(p.hbm_write_bytes.v, 65536u + 32768u + 4096u);
  EXPECT_EQ(p.extra_memory_bytes.v, 3u * 32768);
  w.l2 = true;  // B and C come from DRAM once: 512 bytes each
  EXPECT_EQ(predict(h100(), w).hbm_read_bytes.v, 8192u + 512u + 512u + 65536u + 32768u + 512u);
}

TEST(Fnet, TwoFftsAndTheRealPart) {
  Workload w = small(parse_variant("fnet"));
  w.heads = w.kv_heads = 2;
  w.head_dim = 32;  // hidden 64
  const Prediction p = predict(h100(), w);
  // R2C over 64: 256 rows · 2.5·64·log2(64) = 245760; C2C over 256: 33 columns · 5·256·8 = 337920.
  EXPECT_EQ(p.fp32_flops.v, 245760u + 337920u);
  // cast (read 16384·2, write 16384·4), R2C (read 65536, write 256·33·8 = 67584),
  // C2C (read and write 67584), real part (read 67584, write 16384·2).
  EXPECT_EQ(p.hbm_read_bytes.v, 32768u + 65536u + 67584u + 67584u);
  EXPECT_EQ(p.hbm_write_bytes.v, 65536u + 67584u + 67584u + 32768u);
  EXPECT_EQ(p.kv_cache_bytes.v, 0u);
}

TEST(Chunked, EveryChunkPairGoesThroughHbm) {
  Workload w = small(parse_variant("chunked"));
  w.heads = w.kv_heads = 1;
  w.set("chunk", 128);
  const Prediction p = predict(h100(), w);
  // 2x2 chunk pairs, each launch one CTA per 64-row band (2 bands per chunk). Scores launch: the Q
  // rows once (4 pairs x 128·64·2 = 65536), the K chunk per band (4 x 2 x 128·64·2 = 131072); writes
  // 4·128·128·4 = 262144 of scores and 512·4 of maxima. PV launch: reads the scores and the V chunk
  // per band (131072), writes partials 512·65·4 = 133120. Combine: reads them and the maxima
  // (2048), writes O 256·64·2 = 32768.
  EXPECT_EQ(p.hbm_read_bytes.v, 65536u + 131072u + 262144u + 131072u + 135168u);
  EXPECT_EQ(p.hbm_write_bytes.v, 264192u + 133120u + 32768u);
  EXPECT_EQ(p.launches.v, 4u + 4u + 2u);
  w.l2 = true;  // the two bands of a pair read the K and V chunks together: once from DRAM
  EXPECT_EQ(predict(h100(), w).hbm_read_bytes.v, 65536u + 65536u + 262144u + 65536u + 135168u);
}

TEST(SlidingWindow, WindowBoundsWorkAndCache) {
  Workload w = small(parse_variant("sliding-window"));
  w.causal = true;
  w.set("window", 64);
  const Prediction p = predict(h100(), w);
  // Allowed pairs per head Σ min(r+1, 64) = 2080 + 192·64 = 14368.
  EXPECT_EQ(p.tensor_flops.v, 2u * 14368 * 2 * 128);
  // Q block 0 visits block 0; blocks 1..3 visit i-1 and i: 7 pairs, 448 columns per head.
  EXPECT_EQ(p.hbm_read_bytes.v, 65536u + 2u * 448 * 128 * 2);
  // Rolling buffer: min(256, 64) tokens of 1 kv head (Mistral 7B §2).
  EXPECT_EQ(p.kv_cache_bytes.v, 64u * 128 * 2);
  // Non-causal: a centred window of 64 keys (Longformer §3.1), keys r-31 .. r+32 clipped to
  // [0, 256): 256·64 minus the clipped ends Σ_{k=1}^{31} k = 496 and Σ_{k=1}^{32} k = 528: 15360.
  w.causal = false;
  EXPECT_EQ(predict(h100(), w).tensor_flops.v, 2u * 15360 * 2 * 128);
  // Decode is causal whatever --causal says: the new token sees the last 64 keys.
  w.phase = Phase::decode;
  w.batch = 1;
  w.kv_len = 1000;
  EXPECT_EQ(predict(h100(), w).tensor_flops.v, 2u * 64 * 2 * 128);
}

TEST(BlockSparse, VisitsAFractionOfTheBlocks) {
  Workload w = small(parse_variant("block-sparse"));
  w.set_real("block_density", 0.5);
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.tensor_flops.v, 33554432u / 2);
  EXPECT_EQ(p.hbm_read_bytes.v, 65536u + 524288u / 2);
}

TEST(BlockSparse, DecodeReadsOnlyTheVisitedBlocks) {
  Workload w = small(parse_variant("block-sparse"));
  w.phase = Phase::decode;
  w.kv_len = 1024;  // 16 key blocks of 64; a single query row visits half of them
  w.set_real("block_density", 0.5);
  w.l2 = true;
  const Prediction p = predict(h100(), w);
  // K/V touched: 512 of the 1024 keys of the one kv head, 512·128·2 = 131072 bytes, read by
  // flash-attention's decode over the kept blocks (flash.cpp sparse_decode): the same call as
  // flash2's decode over 512 keys, its split kernel's Q reads and combine included.
  EXPECT_EQ(p.block_n, 64u);
  Workload dense = small(parse_variant("flash2"));
  dense.phase = Phase::decode;
  dense.kv_len = 512;
  dense.l2 = true;
  const Prediction d = predict(h100(), dense);
  EXPECT_EQ(p.hbm_read_bytes.v, d.hbm_read_bytes.v);
  EXPECT_EQ(p.kernels[0].hbm_read.v, d.kernels[0].hbm_read.v);
  EXPECT_GE(p.kernels[0].hbm_read.v, 131072u);
  EXPECT_LT(p.kernels[0].hbm_read.v, 131072u + 8192u);
}

TEST(Sigmoid, WritesNoStatistics) {
  const Prediction p = predict(h100(), small(parse_variant("sigmoid")));
  EXPECT_EQ(p.hbm_write_bytes.v, 65536u);  // O only
  EXPECT_EQ(p.fp32_flops.v, 2u * 65536 * 4);
}

TEST(Sigmoid, BackwardNeedsNoStatistics) {
  Workload w = small(parse_variant("sigmoid"));
  w.kv_heads = 2;
  w.pass = Pass::bwd;
  const Prediction sig = predict(h100(), w);
  w.variant = parse_variant("flash2");
  const Prediction soft = predict(h100(), w);
  // Softmax backward also reads dO and O for D, writes D (2·256·4), and reads LSE_i, D_i per pair.
  EXPECT_EQ(soft.hbm_read_bytes.v - sig.hbm_read_bytes.v, 2u * 2 * 256 * 64 * 2 + 2u * 16 * 64 * 8);
  EXPECT_EQ(soft.hbm_write_bytes.v - sig.hbm_write_bytes.v, 2u * 256 * 4);
}

TEST(Ring, EachGpuComputesPBlocksAndPassesKv) {
  Workload w = small(parse_variant("ring"));
  w.heads = w.kv_heads = 1;
  w.seq = 512;
  w.set("gpus", 4);
  const Prediction p = predict(h100(), w);
  // Blocks of 128x128: 4 per GPU, 2·128·128·128 FLOPs each.
  EXPECT_EQ(p.tensor_flops.v, 4u * 2 * 128 * 128 * 128);
  // 3 hops of one K/V block, 128·128·2 bytes.
  EXPECT_EQ(p.link_bytes.v, 3u * 128 * 128 * 2);
  // This GPU's share of the cache.
  EXPECT_EQ(p.kv_cache_bytes.v, 128u * 128 * 2);
  // The 3 full steps hide the transfer when a block computes longer than its K/V takes over
  // NVLink: 32768 bytes at 450 GB/s is 73 ns, far below a block's compute.
  const double link = p.ceiling_time_s[static_cast<int>(Ceiling::link)];
  EXPECT_NEAR(link, 3 * 32768 / 450e9, 1e-12);
  EXPECT_NE(p.binding_ceiling, Ceiling::link);
  w.causal = true;  // the busiest GPU still computes 3 full blocks and a causal diagonal one
  EXPECT_EQ(predict(h100(), w).tensor_flops.v, 3u * 2 * 128 * 128 * 128 + 2u * (128 * 129 / 2) * 128);
}

TEST(Linear, GqaSharesOneStatePerGroup) {
  Workload w = small(parse_variant("linear"));  // H = 2 over Hkv = 1
  w.seq = 128;
  w.head_dim = 16;
  w.set("chunk", 64);
  w.causal = true;
  const Prediction p = predict(h100(), w);
  // Per query head: 2·8192·32 + 2·128·16·16 = 589824; the state update once: 2·128·16·16 = 65536.
  EXPECT_EQ(p.tensor_flops.v, 2u * 589824 + 65536u);
  // Q of both heads (2·4096), K and V once (8192); O of both heads (8192).
  EXPECT_EQ(p.hbm_read_bytes.v, 8192u + 8192u);
  EXPECT_EQ(p.hbm_write_bytes.v, 8192u);
  EXPECT_EQ(p.kv_cache_bytes.v, 16u * 16 * 4 + 16 * 4);  // one state for the group
}

TEST(Dilated, SegmentsOfDilatedTokens) {
  Workload w = small(parse_variant("dilated"));
  w.heads = w.kv_heads = 1;
  w.seq = 4096;
  w.set("segment", 2048);
  w.set("dilation", 2);
  const Prediction p = predict(h100(), w);
  // 2 segments of 1024 kept tokens each: 2 · 1024² · 2 · 128 (LongNet §2.2).
  EXPECT_EQ(p.tensor_flops.v, 2u * 1024 * 1024 * 2 * 128);
}

TEST(CrossLayer, SharingKvAcrossLayersDividesTheCache) {
  Workload w = small(parse_variant("flash2"));
  w.layers = 32;
  const Count one = predict(h100(), w).kv_cache_bytes;
  w.set("cla_share", 2);
  const Prediction shared = predict(h100(), w);
  EXPECT_EQ(shared.kv_cache_bytes.v, one.v / 2);  // Brandon et al. 2024 §2: ceil(L/k) caches
  w.set("cla_share", 3);
  EXPECT_EQ(predict(h100(), w).kv_cache_bytes.v, one.v / 32 * 11);
  w.variant = parse_variant("mamba");
  EXPECT_THROW(predict(h100(), w), InputError);
}

TEST(Layers, MultiplyEveryCount) {
  Workload w = small(parse_variant("flash2"));
  const Prediction one = predict(h100(), w);
  w.layers = 3;
  const Prediction three = predict(h100(), w);
  EXPECT_EQ(three.flops().v, 3 * one.flops().v);
  EXPECT_EQ(three.hbm_bytes().v, 3 * one.hbm_bytes().v);
  EXPECT_NEAR(three.predicted_time_s, 3 * one.predicted_time_s, 1e-12);
}

// flash-attention's num_splits_heuristic with 2 x 132 = 264 slots. MLA decode at batch 8 with
// attnio's kernel packs the 32 heads into two row tiles of 16: 16 CTAs before splitting, 64 key
// blocks of 64 (its split-KV kBlockN at d = 576). Split counts that change the blocks per split: 1..8, 10, 11, 13, 16, 22, 32, 64; their wave efficiency 16n/264 / ceil(16n/264)
// peaks at 0.970 (n = 16 and 32: 256/264, and 64: 1024/1056), and the first to reach 85 % of it
// (0.824) is 16.
TEST(FlashDecoding, SplitHeuristicFollowsFlashAttention) {
  Workload w;
  w.variant = parse_variant("mla");
  w.phase = Phase::decode;
  w.batch = 8;
  w.impl = &find_impl("attnio");
  EXPECT_EQ(predict(h100(), w).splits, 16u);
  // FlashMLA deals the blocks over about one CTA per SM: 132 SMs over 8 CTAs (one 64-row tile
  // per sequence) = 16 splits.
  w.impl = &find_impl("flashmla");
  EXPECT_EQ(predict(h100(), w).splits, 16u);
  w.impl = nullptr;
  w.variant = parse_variant("flash-decoding");
  w.kv_heads = 32;  // 256 CTAs already fill 80% of the slots: no split
  EXPECT_EQ(predict(h100(), w).splits, 1u);
  w.batch = 1;
  // 8 CTAs and 32 key blocks of 128 (fa2-splitkv's kBlockN at d = 128): the best efficiency is
  // 8·32/264 = 0.970 at n = 32; 28 to 31 reach 85% of it but give 2 blocks per split like 27, so
  // they are not eligible: 32.
  w.kv_heads = 8;
  EXPECT_EQ(predict(h100(), w).splits, 32u);
  // The textbook tiles (Alg. 1, Bc = ceil(116736 / 512) = 228): 18 key blocks; the best efficiency
  // is 8·18/264 = 0.545 at n = 18; 16 and 17 give 2 blocks per split like 15: 18.
  w.impl = &ideal_impl();
  EXPECT_EQ(predict(h100(), w).splits, 18u);
}

// The roofline and wave quantization by hand, on a device with round rates. The small flash2 case
// above: one kernel of B·H·Tr = 8 CTAs; tensor 33554432 FLOP, FP32 557056, SFU 131072; HBM 657408
// bytes (L2 off, so L2 the same); SRAM: Q, K/V and O staged (655360 bytes written) and read back,
// K/V by 4 warps (2228224 bytes read).
TEST(Roofline, TimeIsTheSlowestCeilingPlusLaunch) {
  Device d = h100();
  d.sm_count = 4;
  d.bf16_tensor_flops_per_s = 1e12;
  d.fp32_flops_per_s = 1e11;
  d.sfu_ops_per_s = 1e10;
  d.hbm_bytes_per_s = 1e11;
  d.l2_bytes_per_s = 1e12;
  d.sram_bytes_per_s = 1e13;
  d.launch_overhead_s = 1e-6;
  const auto small_ideal = [] {  // the textbook roofline: `ideal`
    Workload w = small(parse_variant("flash2"));
    w.impl = &ideal_impl();
    return w;
  };
  const Prediction p = predict(d, small_ideal());
  EXPECT_EQ(p.sram_write_bytes.v, 655360u);
  EXPECT_EQ(p.sram_read_bytes.v, 2228224u);
  // 8 CTAs on 4 SMs: two each, no idle SM. Tensor 33.554432 µs beats SFU 13.1072 µs, HBM
  // 6.57408 µs, FP32 5.57056 µs, L2 0.657408 µs and SRAM 0.2883584 µs.
  EXPECT_NEAR(p.ceiling_time_s[static_cast<int>(Ceiling::tensor)], 33.554432e-6, 1e-15);
  EXPECT_NEAR(p.ceiling_time_s[static_cast<int>(Ceiling::hbm)], 6.57408e-6, 1e-15);
  EXPECT_NEAR(p.ceiling_time_s[static_cast<int>(Ceiling::sram)], 0.2883584e-6, 1e-15);
  EXPECT_NEAR(p.predicted_time_s, 34.554432e-6, 1e-15);
  EXPECT_EQ(p.binding_ceiling, Ceiling::tensor);
  EXPECT_FALSE(p.memory_bound());
  EXPECT_NEAR(p.arithmetic_intensity, (33554432.0 + 557056 + 131072) / 657408, 1e-9);
  // 3 SMs: the busiest runs 3 CTAs while the average runs 8/3, so every ceiling gets 8/9 of its rate.
  d.sm_count = 3;
  EXPECT_NEAR(predict(d, small_ideal()).predicted_time_s, 33.554432e-6 * 9 / 8 + 1e-6, 1e-15);
  // Slow the HBM to 1e10: 65.7408 µs of DRAM time binds, and the verdict flips to memory.
  d.sm_count = 4;
  d.hbm_bytes_per_s = 1e10;
  const Prediction slow = predict(d, small_ideal());
  EXPECT_EQ(slow.binding_ceiling, Ceiling::hbm);
  EXPECT_TRUE(slow.memory_bound());
  EXPECT_NEAR(slow.predicted_time_s, 65.7408e-6 + 1e-6, 1e-15);
}

// Gated attention (Qiu et al. 2025 §2, G1) on the small shape: flash2 plus a gate projection GEMM
// and a gate pass. d_model = H·d = 128; B·N = 256 tokens; H·dv = 128 gates per token.
TEST(Gated, AddsTheGateProjectionAndTheGatePassToFlash2) {
  const Prediction f = predict(h100(), small(parse_variant("flash2")));
  const Prediction g = predict(h100(), small(parse_variant("gated")));
  EXPECT_EQ(g.kernel_count(), f.kernel_count() + 2);
  // GEMM 2·m·n·k = 2·256·128·128 = 8388608 tensor FLOPs.
  EXPECT_EQ(g.tensor_flops.v - f.tensor_flops.v, 8388608u);
  // Gate pass over 256·128 = 32768 gates: one tanh each, 4 FP32 FLOPs each.
  EXPECT_EQ(g.sfu_flops.v - f.sfu_flops.v, 32768u);
  EXPECT_EQ(g.fp32_flops.v - f.fp32_flops.v, 131072u);
  // Reads: GEMM A = 256·128·2 = 65536 once (one 128-wide column tile), B = 128·128·2 = 32768 twice
  // (two 128-row tiles) = 65536; gate pass Y and G, 2·32768·2 = 131072. Total 262144.
  EXPECT_EQ(g.l2_read_bytes.v - f.l2_read_bytes.v, 262144u);
  // Writes: G = 65536 and Y' = 65536.
  EXPECT_EQ(g.l2_write_bytes.v - f.l2_write_bytes.v, 131072u);
  EXPECT_EQ(g.hbm_bytes().v - f.hbm_bytes().v, 393216u);  // --l2 off: DRAM = L2 traffic
  EXPECT_EQ(g.extra_memory_bytes.v - f.extra_memory_bytes.v, 65536u);
  EXPECT_EQ(g.kv_cache_bytes.v, f.kv_cache_bytes.v);
  EXPECT_EQ(params_text(g), "model_dim=128");
  // A wider model input only grows the GEMM: 2·256·128·256.
  Workload w = small(parse_variant("gated"));
  w.set("model_dim", 256);
  EXPECT_EQ(predict(h100(), w).tensor_flops.v - f.tensor_flops.v, 16777216u);
  EXPECT_THROW(predict(h100(), small(parse_variant("gated")).set("window", 64)), InputError);
}

// The gate fused into flash2's epilogue (--gate-fused 1, kernels/flash2.cu): two kernels, flash2's
// forward reads G (32768 gates · 2 bytes = 65536) and writes Y' in O's place; the same tanh and
// 4 FP32 FLOPs per gate, now inside flash2. Against the separate pass: the Y write and the gate
// pass's reads of Y and G are gone, 65536 + 131072 - 65536 = 131072 bytes less.
TEST(Gated, FusedGateRidesInFlash2sEpilogue) {
  const Prediction f = predict(h100(), small(parse_variant("flash2")));
  const Prediction sep = predict(h100(), small(parse_variant("gated")));
  const Prediction g = predict(h100(), small(parse_variant("gated")).set("gate_fused", 1));
  EXPECT_EQ(g.kernel_count(), f.kernel_count() + 1);
  EXPECT_EQ(g.tensor_flops.v - f.tensor_flops.v, 8388608u);  // the gate projection only
  EXPECT_EQ(g.sfu_flops.v - f.sfu_flops.v, 32768u);
  EXPECT_EQ(g.fp32_flops.v - f.fp32_flops.v, 131072u);
  // Reads: the GEMM's 131072 (as above) and G in the epilogue 65536.
  EXPECT_EQ(g.l2_read_bytes.v - f.l2_read_bytes.v, 196608u);
  EXPECT_EQ(g.l2_write_bytes.v - f.l2_write_bytes.v, 65536u);  // G; Y' is flash2's O
  EXPECT_EQ(sep.hbm_bytes().v - g.hbm_bytes().v, 131072u);
  EXPECT_EQ(g.extra_memory_bytes.v - f.extra_memory_bytes.v, 65536u);
  EXPECT_EQ(params_text(g), "model_dim=128 gate_fused=1");
  Workload dec = small(parse_variant("gated")).set("gate_fused", 1);
  dec.phase = Phase::decode;
  EXPECT_THROW(predict(h100(), dec), InputError);
  EXPECT_THROW(predict(h100(), small(parse_variant("gated")).set("gate_fused", 2)), InputError);
}

// Mamba-2 SSD (Dao & Gu 2024 §6; mamba_ssm ssd_combined.py) by hand: B = 1, L = 512, H = 2 heads of
// P = 64, N = 64, G = 1, Q = 256 (2 chunks), e = 2, L2 off. 64 x 64 blocks: Q/64 = 4 row blocks, one
// P block, one N block; K steps of 32; A, dt_bias, D fp32.
//   tensor: chunk_state 2·2·2·256·64·64 = 8388608; C Bᵀ over whole chunks (ssd_combined.py leaves
//           _bmm_chunk_fwd non-causal) 2·2·256·256·64 = 16777216; chunk_scan over the causal blocks
//           2·2·2·(256·257/2·64 + 256·64·64) = 25231360.
//   DRAM reads, per kernel as its Triton programs load:
//     cumsum (2 programs, one per chunk): dt 512·2·2 = 2048; A and dt_bias 2·2·4·2 = 32.
//     chunk_state (4 programs): x 512·2·64·2 = 131072; B once per head 2·512·64·2 = 131072; dt and
//           dA_cumsum per token 512·2·8 = 8192, and each program's dA_cumsum[Q-1] 4·4 = 16.
//     state passing (2 programs of 2048 elements per head, 4 in all): fp32 states 2·2·64·64·4 =
//           65536; dA_cumsum[Q-1] per chunk and program 2·4·4 = 32.
//     C Bᵀ (16 programs, 4 x 4 blocks per chunk): C and B each 4 times, 2·4·512·64·2 = 524288.
//     chunk_scan (16 programs, row blocks m = 0..3 per chunk and head, K_MAX = 64·(m+1)): C Bᵀ
//           64·(64 + 128 + 192 + 256) = 40960 elements per chunk and head, 2 heads·2 chunks·40960·4
//           = 655360; C 2·512·64·2 = 131072; x in the K loop 2 heads·2 chunks·640 rows·64·2 = 327680;
//           the passed state once per row block 4·2·2·64·64·2 = 131072; dA_cumsum of the rows 2·512·4
//           = 4096; dt and dA_cumsum of the K loop (640 columns) 2 heads·2 chunks·640·8 = 20480; D
//           16·4 = 64; x again for D·x 131072.
//   DRAM writes: dt, dA 8192; fp32 states 65536; passed states 32768 and fp32 final states 2·64·64·4
//           = 32768; C Bᵀ 524288; y 131072.
TEST(Mamba2, SsdChunkedByHand) {
  Workload w = small(parse_variant("mamba2"));
  w.seq = 512;
  w.kv_heads = 2;
  w.set("state_dim", 64);
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.tensor_flops.v, 8388608u + 16777216u + 25231360u);
  EXPECT_EQ(p.hbm_read_bytes.v, (2048u + 32) + (131072u + 131072 + 8192 + 16) + (65536u + 32) + 524288u +
                                    (655360u + 131072 + 327680 + 131072 + 4096 + 20480 + 64 + 131072));
  EXPECT_EQ(p.hbm_write_bytes.v, 8192u + 65536u + 32768u + 32768u + 524288u + 131072u);
  EXPECT_EQ(p.extra_memory_bytes.v, 8192u + 65536u + 32768u + 524288u);
  EXPECT_EQ(p.kv_cache_bytes.v, 2u * 64 * 64 * 2);  // one (H, P, N) state, bf16/fp16
  // With L2 every re-read hits (the working sets are far below the L2): each tensor comes from
  // DRAM once. Gone: A and dt_bias 16; B 65536; dt and dA_cumsum 16, dA_cumsum[Q-1] 16; C and B
  // 524288 - 131072 = 393216; of chunk_scan's reads C Bᵀ's second head 327680, C's 65536, x
  // 327680 + 131072 - 131072 = 327680, the state 131072 - 32768 = 98304, dt and dA_cumsum 24576 -
  // 8192 = 16384, D 64 - 8 = 56.
  w.l2 = true;
  const Prediction l2 = predict(h100(), w);
  EXPECT_EQ(p.hbm_read_bytes.v - l2.hbm_read_bytes.v,
            16u + 65536 + 16 + 16 + 393216 + 327680 + 65536 + 327680 + 98304 + 16384 + 56);
}

// A chunk the sequence does not fill (L = 300, Q = 256: 256 + 44 tokens), otherwise as above. The
// kernels mask by the sequence's end where they load x, B, C and dt, but not everywhere:
// _chunk_cumsum_fwd stores dt and dA_cumsum for all 256 positions of both chunks, 2 heads·2
// chunks·256·8 = 8192 bytes (3392 more than the 300 tokens' 4800); _chunk_scan_fwd loads C Bᵀ rows
// and columns below chunk_size, and row blocks past the end (m = 1..3 of the last chunk) still run
// their K loop to K_MAX = 44. Last chunk per head: C Bᵀ 4·(64·64) = 16384 elements (K_MAX = 44
// rounds up to 64 columns), x 4·44 = 176 rows, dt and dA_cumsum 4·64 = 256 columns each.
TEST(Mamba2, SsdLastChunkPartlyFilledByHand) {
  Workload w = small(parse_variant("mamba2"));
  w.seq = 300;
  w.kv_heads = 2;
  w.set("state_dim", 64);
  const Prediction p = predict(h100(), w);
  ASSERT_EQ(p.kernel_count(), 5);
  const KernelCost& cumsum = p.kernels[0];
  EXPECT_EQ(cumsum.hbm_write.v, 2u * 2 * 256 * 8);
  EXPECT_EQ(cumsum.hbm_read.v, 300u * 2 * 2 + 2 * 2 * 4 * 2);
  const KernelCost& scan = p.kernels[4];
  EXPECT_EQ(scan.name, "ssd_chunk_scan");
  // C Bᵀ (40960 + 16384)·2 heads·4; C 300·64·2·2; x (640 + 176)·2·64·2; passed state 4·2·2·64·64·2;
  // dA_cumsum of the rows 2·2·256·4 and of the K loops 2·(640 + 256)·8; D 16·4; x for D·x 300·2·64·2.
  EXPECT_EQ(scan.hbm_read.v, (40960u + 16384) * 2 * 4 + 300u * 64 * 2 * 2 + (640u + 176) * 2 * 64 * 2 + 4u * 2 * 2 * 64 * 64 * 2 +
                                 2u * 2 * 256 * 4 + 2u * (640 + 256) * 8 + 16u * 4 + 300u * 2 * 64 * 2);
  EXPECT_EQ(scan.hbm_write.v, 300u * 2 * 64 * 2);
}

// The decode step (selective_state_update, TIE_HDIM): B = 2, H = 4, P = 64, N = 16, G = 2, 32 rows
// of P per program at N <= 16: 2·4·2 = 16 programs. State 2·4·64·16·2 = 16384 read and written; x
// 2·4·64·2 = 1024; dt (bf16) and dt_bias, A, D (fp32) are stride-0 views over P, one element each
// per program: 16·(2 + 3·4) = 224; B and C 2·2·16·2·2 = 256, read by 2 heads x 2 row blocks (L2
// off: 1024); y 1024. 5 FP32 FLOPs per state element.
TEST(Mamba2, DecodeUpdatesTheStateInPlace) {
  Workload w = small(parse_variant("mamba2"));
  w.batch = 2;
  w.heads = w.kv_heads = 4;
  w.phase = Phase::decode;
  w.set("state_dim", 16);
  w.set("groups", 2);
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.hbm_read_bytes.v, 16384u + 1024u + 224u + 1024u);
  EXPECT_EQ(p.hbm_write_bytes.v, 16384u + 1024u);
  EXPECT_EQ(p.fp32_flops.v, 5u * 2 * 4 * 64 * 16);
  EXPECT_EQ(p.tensor_flops.v, 0u);
  w.set("groups", 3);
  EXPECT_THROW(predict(h100(), w), InputError);
}

// Quantized K/V caches (issue 18 item 2) by hand: flash-decoding, B = 1, 4 query heads over one K/V
// head of d = 64, 1024 cached tokens, L2 off. bf16: 1024 x (64 + 64) x 2 = 262144 bytes of K/V.
// fp8 (one scale per tensor): 1 byte per element, 131072, one conversion per element. int4 with an
// fp16 scale and zero point per 32 elements (KIVI): a 64-element row is 32 + 2 x 4 = 40 bytes,
// 81920 in all, and 3 FP32 instructions per element (unpack, convert, FMA): 1024 x 128 x 3 = 393216.
TEST(KvCache, QuantizedDecodeReadsFewerBytesByHand) {
  Workload w = small(parse_variant("flash-decoding"));
  w.heads = 4;
  w.phase = Phase::decode;
  w.kv_len = 1024;
  const Prediction bf16 = predict(h100(), w);
  Workload fp8 = w;
  fp8.set("kv_bits", 8);
  Workload int4 = w;
  int4.set("kv_bits", 4).set("kv_group", 32);
  const Prediction p8 = predict(h100(), fp8), p4 = predict(h100(), int4);
  EXPECT_EQ(bf16.kv_cache_bytes.v, 262144u);
  EXPECT_EQ(p8.kv_cache_bytes.v, 131072u);
  EXPECT_EQ(p4.kv_cache_bytes.v, 81920u);
  ASSERT_EQ(bf16.splits, p4.splits);
  EXPECT_EQ(bf16.hbm_read_bytes.v - p8.hbm_read_bytes.v, 131072u);
  EXPECT_EQ(bf16.hbm_read_bytes.v - p4.hbm_read_bytes.v, 262144u - 81920u);
  EXPECT_EQ(p4.kernels[0].fp32_instr.v - bf16.kernels[0].fp32_instr.v, 393216u);
  EXPECT_EQ(p8.kernels[0].fp32_instr.v - bf16.kernels[0].fp32_instr.v, 131072u);
  EXPECT_EQ(p4.flops().v, bf16.flops().v);  // conversions are issue time, not FLOPs
  // Paged and MLA take the same format; prefill and odd widths are refused.
  Workload paged = small(parse_variant("paged"));
  paged.phase = Phase::decode;
  paged.kv_len = 1024;
  const Prediction pb = predict(h100(), paged);
  paged.set("kv_bits", 8);
  EXPECT_EQ(pb.kv_cache_bytes.v, 2 * predict(h100(), paged).kv_cache_bytes.v);
  Workload mla = small(parse_variant("mla"));
  mla.phase = Phase::decode;
  mla.kv_len = 1024;
  mla.set("kv_bits", 8);
  EXPECT_EQ(predict(h100(), mla).kv_cache_bytes.v, 1024u * (512 + 64));  // latent + rope, 1 byte each
  mla.phase = Phase::prefill;
  EXPECT_THROW(predict(h100(), mla), InputError);
  fp8.set("kv_bits", 6);
  EXPECT_THROW(predict(h100(), fp8), InputError);
}

// Selective attention (Leviathan et al. 2024 §5) by hand: B = 1, 4 query heads over one K/V head of
// 64, 1024 cached tokens, keep 1/16: a buffer of 64 tokens. Decode is flash-decoding over those 64
// (the same split kernel, byte for byte) plus the selection pass: the selection head's query
// (64 x 2), the buffer's keys (64 x 64 x 2 = 8192) and F (64 x 4 = 256) read, F written.
TEST(Selective, DecodeReadsThePrunedBufferByHand) {
  Workload w = small(parse_variant("selective"));
  w.heads = 4;
  w.phase = Phase::decode;
  w.kv_len = 1024;
  const Prediction p = predict(h100(), w);
  Workload fd = small(parse_variant("flash-decoding"));
  fd.heads = 4;
  fd.phase = Phase::decode;
  fd.kv_len = 64;
  const Prediction q = predict(h100(), fd);
  EXPECT_EQ(p.splits, q.splits);
  EXPECT_EQ(p.hbm_read_bytes.v, q.hbm_read_bytes.v + 128u + 8192u + 256u);
  EXPECT_EQ(p.hbm_write_bytes.v, q.hbm_write_bytes.v + 256u);
  EXPECT_EQ(p.kv_cache_bytes.v, 64u * 128 * 2 + 64u * 4);
  EXPECT_EQ(p.fp32_flops.v, q.fp32_flops.v + 64u * (2 * 64 + 3));
  w.set_real("keep", 47.0 / 2048);  // the paper's 47x at 2048: 24 of 1024 tokens
  EXPECT_EQ(predict(h100(), w).kv_cache_bytes.v, 24u * 128 * 2 + 24u * 4);
  w.phase = Phase::prefill;
  EXPECT_THROW(predict(h100(), w), InputError);
}

// FlexAttention block masks (issue 18 item 3) by hand, one head of 64, N = 4096. Documents of mean
// L = 512 (256, 512, 768 repeating every 1536 tokens), causal within each: two whole cycles of
// T(256) + T(512) + T(768) = 459520 allowed pairs (T(a) = a(a+1)/2) and a remainder of 256 + 512 +
// 256 tokens: 1116160 scores, one exp each, 2·(64 + 64) tensor FLOPs each. Prefix-LM over the first
// 1000 tokens: 1000² + Σ_{p=1000}^{4095} (p + 1) = 8890156.
TEST(Flex, BlockMasksCountTheAllowedScoresByHand) {
  Workload w = small(parse_variant("flex"));
  w.seq = 4096;
  w.heads = w.kv_heads = 1;
  w.causal = true;
  w.set("doc_len", 512);
  Prediction p = predict(h100(), w);
  EXPECT_EQ(p.sfu_flops.v, 1116160u);
  EXPECT_EQ(p.tensor_flops.v, 1116160u * 256);
  Workload pre = small(parse_variant("flex"));
  pre.seq = 4096;
  pre.heads = pre.kv_heads = 1;
  pre.causal = true;
  pre.set("prefix", 1000);
  EXPECT_EQ(predict(h100(), pre).sfu_flops.v, 8890156u);
  // Documents read far less K/V than plain causal: each Q block visits only its documents' blocks.
  Workload causal = w;
  causal.params = {};
  causal = for_variant(causal, parse_variant("flex"));
  EXPECT_LT(p.hbm_read_bytes.v + p.l2_read_bytes.v, predict(h100(), causal).l2_read_bytes.v);
  // One rule at a time; odd lengths and cross-attention are refused.
  w.set("prefix", 8);
  EXPECT_THROW(predict(h100(), w), InputError);
  Workload odd = small(parse_variant("flex"));
  odd.set("doc_len", 7);
  EXPECT_THROW(predict(h100(), odd), InputError);
}

// Long convolution by FFT (issue 18 item 9; H3 §4, safari fftconv_ref) by hand: B = 1, L = 1024,
// D = 64 channels, bf16 in and out, L2 off. Padded to 2L = 2048; a spectrum is 1025 complex fp32
// (8200 bytes) per channel. Reads: u (131072) cast to fp32 (262144 written), the fp32 u (262144),
// the filters (262144), both spectra (2 x 524800) and the product's spectrum (524800), then y[:L]
// in fp32 (262144), u (131072) and the skip weights (256). FLOPs: three real FFTs of 2048,
// 2.5·2048·11 per channel each, 6 per complex product, 2 per output for the skip add.
TEST(LongConv, FftConvolutionByHand) {
  Workload w = small(parse_variant("longconv"));
  w.seq = 1024;
  w.heads = w.kv_heads = 1;
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.hbm_read_bytes.v, 2623232u);
  EXPECT_EQ(p.hbm_write_bytes.v, 2491904u);
  EXPECT_EQ(p.fp32_flops.v, 11338112u);
  EXPECT_EQ(p.tensor_flops.v, 0u);
  EXPECT_EQ(p.kv_cache_bytes.v, 0u);
  w.phase = Phase::decode;
  EXPECT_THROW(predict(h100(), w), InputError);
}

// Shared-prefix decode (ChunkAttention §3.3, issue 18 item 7) by hand: B = 4 requests, 8 query heads
// over 2 K/V heads of 64 (g = 4), 1024 cached tokens of which P = 768 are shared, bf16, tiles 16 x 64.
// Phase 1 is flash-decoding of one sequence whose 2 K/V heads each carry the B·g = 16 query rows of
// every request over the 768 prefix tokens; phase 2 flash-decoding of the 4 requests over their own
// 256; merge_state reads two (64·2 + 4)-byte partials per query head (32 heads) and writes 64·2.
// The cache holds the prefix once: 2·768·(128 + 128) + 4·2·256·(128 + 128) = 917504 bytes, against
// 2097152 for four private copies; the tensor FLOPs are those of attending all 1024 tokens.
TEST(SharedPrefix, PrefixIsReadOnceForTheBatchByHand) {
  auto shaped = [](const char* variant, std::uint64_t batch, std::uint64_t heads, std::uint64_t nk) {
    Workload w = small(parse_variant(variant));
    w.phase = Phase::decode;
    w.batch = batch;
    w.heads = heads;
    w.kv_heads = 2;
    w.kv_len = nk;
    w.set("block_m", 16);
    w.set("block_n", 64);
    return w;
  };
  Workload w = shaped("shared-prefix", 4, 8, 1024);
  w.set("shared_prefix", 768);
  const Prediction p = predict(h100(), w);
  const Prediction prefix = predict(h100(), shaped("flash-decoding", 1, 2 * 16, 768));
  const Prediction own = predict(h100(), shaped("flash-decoding", 4, 8, 256));
  const Prediction whole = predict(h100(), shaped("flash-decoding", 4, 8, 1024));
  EXPECT_EQ(p.extras.prefix_splits, prefix.splits);
  EXPECT_EQ(p.splits, own.splits);
  EXPECT_EQ(p.hbm_read_bytes.v, prefix.hbm_read_bytes.v + own.hbm_read_bytes.v + 32u * (64 * 2 + 4) * 2);
  EXPECT_EQ(p.hbm_write_bytes.v, prefix.hbm_write_bytes.v + own.hbm_write_bytes.v + 32u * 64 * 2);
  EXPECT_EQ(p.kv_cache_bytes.v, 917504u);
  EXPECT_EQ(whole.kv_cache_bytes.v, 2097152u);
  EXPECT_EQ(p.tensor_flops.v, whole.tensor_flops.v);
  EXPECT_EQ(p.tensor_flops.v, 4u * 4 * 8 * 1024 * 64);
  EXPECT_LT(p.hbm_bytes().v, whole.hbm_bytes().v);
  // The prefix must leave each request at least one token of its own.
  w.set("shared_prefix", 1024);
  EXPECT_THROW(predict(h100(), w), InputError);
  w.params = {};
  EXPECT_EQ(predict(h100(), w).workload.count("shared_prefix"), 512u);  // default: half the cache
}

// Clustered attention (Vyas et al. 2020 §3.2, fast-transformers; issue 18 item 5) by hand, --l2 off:
// B = 1, one head, N = Nk = 256, d = 64, bf16, C = 16 clusters, 2 Lloyd iterations, 8 hash bits.
// Reads and writes per kernel (bytes):
//   permute copies of Q, K, V and O: 2·(256·64 + 256·128 + 256·64) = 131072 each way;
//   hashes: planes 8·65·2 = 1040 written and read, Q 32768 read, 256 int64 hashes 2048 written;
//   init: 16 centroids 128 each way; assign x3: (2048 + 128)·3 = 6528 read, 256·8·3 = 6144 written;
//   zero x6: counts 16·9·4 = 576, 1728 written; bit counts x3: labels and hashes 256·12·3 = 9216 read,
//   256·9 atomics of 4 bytes x3 = 27648 each way; means x2: 1152 read, 256 written;
//   sorts (256 <= 4096: one pass): 256·(4 + 8) = 3072 read, 256·(12 + 16) = 7168 written;
//   index_select x2: 256·16 + 256·128·2 = 69632 read, 65536 written;
//   aggregate: 32768 + 1024 + 64 = 33856 read, 16·64·2 = 2048 written;
//   Q_c Kᵀ (one 128 x 128 tile row, two columns): A 2048·2 + B 32768 read, 16·256·2 = 8192 written;
//   mask + scale: 4096 scores·2·2 = 16384 + the mask 512 read, 16384 written; softmax 8192 each way;
//   A V: 8192 + 32768 read, 2048 written; broadcast: 256·(128 + 4) = 33792 read, 32768 written.
// Sums: 452816 read, 312400 written. FLOPs: tensor 2·(2·16·256·64) = 1048576; FP32 hashing
// 256·8·2·65 = 266240 + aggregate 32768 + mask and scale 8192 + softmax 16384 = 323584; 4096 exps.
TEST(Clustered, CountsTheLibrarysKernelsByHand) {
  Workload w = small(parse_variant("clustered"));
  w.heads = w.kv_heads = 1;
  w.set("clusters", 16);
  w.set("iterations", 2);
  w.set("hash_bits", 8);
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.hbm_read_bytes.v, 452816u);
  EXPECT_EQ(p.hbm_write_bytes.v, 312400u);
  EXPECT_EQ(p.tensor_flops.v, 1048576u);
  EXPECT_EQ(p.fp32_flops.v, 323584u);
  EXPECT_EQ(p.sfu_flops.v, 4096u);
  EXPECT_EQ(p.l2_bytes().v, p.hbm_bytes().v);  // --l2 off: no reuse anywhere
  // Scores shrink by N/C against standard attention's N x Nk.
  w.l2 = true;
  Workload std_w = w;
  std_w.variant = parse_variant("standard");
  std_w.params = {};
  EXPECT_LT(predict(h100(), w).tensor_flops.v * 8, predict(h100(), std_w).tensor_flops.v);
  // No causal form, no decode, no GQA, at most one cluster per query.
  Workload bad = w;
  bad.causal = true;
  EXPECT_THROW(predict(h100(), bad), InputError);
  bad = w;
  bad.phase = Phase::decode;
  EXPECT_THROW(predict(h100(), bad), InputError);
  bad = w;
  bad.heads = 4;
  EXPECT_THROW(predict(h100(), bad), InputError);
  bad = w;
  bad.set("clusters", 257);
  EXPECT_THROW(predict(h100(), bad), InputError);
}

// Monarch Mixer sequence mixing (Fu et al. 2023 §3; M2's BlockdiagButterflyMultiply; issue 18
// item 8) by hand, --l2 off: B = 1, one head of 64 channels, N = 256, bf16, default nb = 16 blocks
// of 16. Activations 64·256 = 16384 values: five copies (two rearranges, the shuffle, the
// contiguous operand, the output permute) read and write 32768 bytes each: 163840 each way. Each
// bmm over 16 blocks of (64 x 16)·(16 x 16): A 16·64·16·2 = 32768 and B 16·16·16·2 = 8192 read,
// 32768 written. Totals 245760 read, 229376 written; tensor FLOPs 2·(2·16·64·16·16) = 1048576 =
// 4·D·N·(N/nb), against 4·D·N² = 16777216 for a dense mixing matrix.
TEST(Monarch, TwoBlockDiagonalGemmsAndTheirCopiesByHand) {
  Workload w = small(parse_variant("monarch"));
  w.heads = w.kv_heads = 1;
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.workload.count("monarch_blocks"), 16u);
  EXPECT_EQ(p.hbm_read_bytes.v, 245760u);
  EXPECT_EQ(p.hbm_write_bytes.v, 229376u);
  EXPECT_EQ(p.tensor_flops.v, 1048576u);
  w.set("monarch_blocks", 12);  // does not divide 256
  EXPECT_THROW(predict(h100(), w), InputError);
  w.set("monarch_blocks", 4);   // blocks of 64: four times the FLOPs of blocks of 16
  EXPECT_EQ(predict(h100(), w).tensor_flops.v, 4u * 1048576);
  w.causal = true;
  EXPECT_THROW(predict(h100(), w), InputError);
}

// FLASH's gated attention unit (Hua et al. 2022 §2; lucidrains/FLASH-pytorch GAU.forward; issue 18
// item 4) by hand, --l2 off: B = 1, one head, N = 256, s = 64, e = 128, bf16, not causal.
// Z = 256·64 = 16384 values: OffsetScale's four kernels read and write 4·16384·2 = 131072 bytes, and
// each of their 16 CTAs reads its gamma or beta (64 values) once: 4·16·64·2 = 8192.
// Q Kᵀ (2 x 2 tiles of 128): Q 32768·2 and K 32768·2 read, 256·256·2 = 131072 written. The scale,
// the bias add (plus the 131072-byte bias plane), relu and the square each read and write the
// 131072 bytes of scores. A V (2 x 1 tiles): A 131072 and V 65536·2 read, 256·128·2 = 65536
// written. The gate reads A V and U (2·65536) and writes 65536. Totals 1318912 read, 917504
// written; tensor 2·256·256·64 + 2·256·128·256 = 25165824; FP32 16384·4 + 65536·4 + 32768 =
// 360448; no exponentials.
TEST(Gau, ReluSquaredScoresAndTheGateByHand) {
  Workload w = small(parse_variant("gau"));
  w.heads = w.kv_heads = 1;
  w.v_head_dim = 128;
  const Prediction p = predict(h100(), w);
  EXPECT_EQ(p.hbm_read_bytes.v, 1310720u + 8192u);
  EXPECT_EQ(p.hbm_write_bytes.v, 917504u);
  EXPECT_EQ(p.tensor_flops.v, 25165824u);
  EXPECT_EQ(p.fp32_flops.v, 360448u);
  EXPECT_EQ(p.sfu_flops.v, 0u);
  // Causal: sim / (torch.arange(N) + 1)[:, None]: the int64 arange written (256·8 = 2048), read and
  // written plus one (2048 + 2048), and read by the scale, 4 rows per CTA of 1024 scores: 64·4·8 =
  // 2048. The mask is built (256² bools written, read, written) and A masked_fill'ed with it; the
  // elementwise FLOPs count the 32896 allowed pairs only.
  w.causal = true;
  const Prediction c = predict(h100(), w);
  EXPECT_EQ(c.hbm_read_bytes.v, 1318912u + 2048 + 2048 + 65536 + 131072 + 65536);
  EXPECT_EQ(c.hbm_write_bytes.v, 917504u + 2048 * 2 + 2 * 65536 + 131072);
  EXPECT_EQ(c.fp32_flops.v, 16384u * 4 + 32896u * 4 + 32768);
  // Q and K are both offset-scales of one Z: the unit mixes a sequence with itself.
  w.kv_len = 512;
  EXPECT_THROW(predict(h100(), w), InputError);
}

// Broadcast operands are read once per CTA of 1024 elements, whatever the threads repeat (FLASH
// GAU, causal, B = 4, N = 20, s = 64): 4 planes of 20 x 20 = 1600 scores in CTAs of 1024 and 576.
// The bias plane (400 values) is read whole by each: 2·400·2 = 1600 bytes, not 1600·2 = 3200. The
// divisor: the first CTA spans rows 0-51, the second 51-79, each all 20 divisors: 2·20·8 = 320.
// gamma and beta: Z = 4·20·64 = 5120 values in 5 CTAs, each reading 64 of them: 4 kernels·5·64·2 =
// 2560 bytes.
TEST(Gau, BroadcastOperandsAreReadOncePerCta) {
  Workload w = small(parse_variant("gau"));
  w.batch = 4;
  w.heads = w.kv_heads = 1;
  w.seq = 20;
  w.causal = true;
  const Prediction p = predict(h100(), w);
  auto read = [&](std::string_view name) {
    for (int i = 0; i < p.kernel_count(); ++i) {
      if (p.kernels[i].name == name) return p.kernels[i].l2_read.v;
    }
    ADD_FAILURE() << "no kernel " << name;
    return std::uint64_t{0};
  };
  EXPECT_EQ(read("add_bias"), 1600u * 2 + 1600);
  EXPECT_EQ(read("scale"), 1600u * 2 + 320);
  EXPECT_EQ(read("masked_fill"), 1600u * 2 + 2 * 400);  // the bool mask, 1 byte per pair
  EXPECT_EQ(read("offset_scale_qk"), 4u * 5120 * 2 + 2560);
}
