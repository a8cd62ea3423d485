// The CUDA kernels against their CPU references, on a GPU. Skipped where there is none (CI).
#include <gtest/gtest.h>

#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/kernels/bind.hpp"
#include "attnio/kernels/ceilings.hpp"
#include "attnio/kernels/runner.hpp"

using namespace attnio;

TEST(KernelsGpu, EveryKernelMatchesItsReference) {
  std::string why;
  if (!kernels::cuda_device_available(&why)) GTEST_SKIP() << why;
  kernels::RunnerOptions opt;
  int rows = 0;
  const std::string failures = kernels::run_kernels(opt, default_device(), [&](const Record&) { ++rows; });
  EXPECT_EQ(failures, "");
  EXPECT_GT(rows, 10);
}

// The DRAM latency microbenchmarks (`attnio ceilings`): a lone load's latency in the range GPU
// pointer chases report (Luo et al. 2402.13499 Table IV: 466-479 cycles, about 270-340 ns; TLB
// misses of the random walk may add), and queue curves that rise to full utilization.
TEST(KernelsGpu, DramQueueIsMeasured) {
  std::string why;
  if (!kernels::cuda_device_available(&why)) GTEST_SKIP() << why;
  kernels::CeilingsOptions opt;
  opt.repeats = 1;
  kernels::DramQueue q;
  int reported = 0;
  ASSERT_EQ(kernels::measure_dram_queue(opt, &q, [&](const std::string&, double) { ++reported; }), "");
  EXPECT_EQ(reported, 3);
  // Above an L2 hit (about 260 cycles, 140-190 ns on these GPUs): a chase that hit L2 would fail.
  EXPECT_GT(q.latency_s, 220e-9);
  EXPECT_LT(q.latency_s, 3e-6);
  for (const auto* c : {&q.read_curve, &q.copy_curve}) {
    ASSERT_GE(c->size(), 2u);
    EXPECT_DOUBLE_EQ(c->back().first, 1.0);
    for (std::size_t i = 1; i < c->size(); ++i) {
      EXPECT_GT((*c)[i].first, (*c)[i - 1].first);
      EXPECT_GE((*c)[i].second, (*c)[i - 1].second);
    }
  }
}

// The overlap probe: each half alone and together, the halves about as long alone, the overlap a
// fraction (a little noise either side allowed).
TEST(KernelsGpu, MmaSoftmaxOverlapIsMeasured) {
  std::string why;
  if (!kernels::cuda_device_available(&why)) GTEST_SKIP() << why;
  kernels::CeilingsOptions opt;
  opt.repeats = 2;
  kernels::MmaSoftmaxOverlap o;
  ASSERT_EQ(kernels::measure_mma_softmax_overlap(opt, &o, [](const std::string&, double) {}), "");
  // The MMA half does real work: 16384 x 8 mma.sync per warp take well over 50 µs on any GPU here.
  EXPECT_GT(o.mma_s, 50e-6);
  EXPECT_NEAR(o.softmax_s / o.mma_s, 1.0, 0.5);
  EXPECT_GE(o.both_s, 0.9 * std::max(o.mma_s, o.softmax_s));
  EXPECT_GT(o.overlap, -0.2);
  EXPECT_LT(o.overlap, 1.2);
}

// Host side only (runs without a GPU): every kernel a variant declares is bound by kernels/bind.cu,
// and a workload of each such variant in its phase names that kernel.
TEST(KernelBindings, EveryDeclaredKernelIsBound) {
  int declared = 0;
  for (Variant v : all_variants()) {
    for (std::string_view k : {v->kernel_fwd, v->kernel_bwd, v->kernel_decode}) {
      if (k.empty()) continue;
      ++declared;
      EXPECT_TRUE(kernels::has_binding(k)) << v.name() << ": " << k;
    }
    Workload w;
    w.variant = v;
    w.seq = 1024;
    w.heads = 8;
    w.kv_heads = 8;
    w.head_dim = 64;
    w.dtype = Dtype::bf16;
    if (v == parse_variant("gated")) {
      // Only the fused gate has a kernel; the default (a gate pass of its own) is not bound.
      EXPECT_EQ(kernels::bound_kernel_name(w), "");
      w.set("gate_fused", 1);
    }
    if (!v->kernel_fwd.empty()) EXPECT_EQ(kernels::bound_kernel_name(w), v->kernel_fwd) << v.name();
    w.phase = Phase::decode;
    if (!v->kernel_decode.empty()) EXPECT_EQ(kernels::bound_kernel_name(w), v->kernel_decode) << v.name();
    if (v->kernel_decode.empty()) EXPECT_EQ(kernels::bound_kernel_name(w), "") << v.name();
  }
  EXPECT_GE(declared, 17);
  // Decode over an fp8 cache with one scale per tensor is bound; grouped 4-bit caches are not.
  Workload fp8;
  fp8.variant = parse_variant("flash-decoding");
  fp8.phase = Phase::decode;
  fp8.kv_len = 4096;
  fp8.head_dim = 128;
  fp8.set("kv_bits", 8);
  EXPECT_EQ(kernels::bound_kernel_name(fp8), "flash_decoding_splitkv");
  fp8.variant = parse_variant("paged");
  EXPECT_EQ(kernels::bound_kernel_name(fp8), "paged_attention");
  fp8.set("kv_bits", 4).set("kv_group", 32);
  EXPECT_EQ(kernels::bound_kernel_name(fp8), "");
  EXPECT_FALSE(kernels::has_binding("no_such_kernel"));
  Workload fp32;
  fp32.dtype = Dtype::fp32;
  EXPECT_EQ(kernels::bound_kernel_name(fp32), "");  // the kernels take 16-bit inputs
}
