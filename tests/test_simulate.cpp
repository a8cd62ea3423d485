// The tile simulator against the closed form and against hand-worked cache behaviour.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <fstream>

#include "attnio/model/l2cache.hpp"
#include "attnio/model/simulate.hpp"

using namespace attnio;

namespace {

const Device& h100() { return find_device("h100-sxm"); }

struct Case {
  const char* label;
  Workload w;
};

Workload base(Variant v, Phase phase = Phase::prefill) {
  Workload w;
  w.variant = v;
  w.phase = phase;
  w.batch = 2;
  w.seq = 520;  // not a multiple of any block size
  w.heads = 4;
  w.kv_heads = 2;
  w.head_dim = 64;
  w.l2 = false;
  // The tiles of attnio's own kernels (tile_traits.hpp) where it has them; the library's otherwise (flex: Triton).
  w.impl = find_impl("attnio").implements(v.name()) ? &find_impl("attnio") : nullptr;
  return w;
}

// Several shapes per variant: causal and not, GQA and MHA, ragged lengths, decode where it applies.
std::vector<Case> cases() {
  std::vector<Case> out;
  for (Variant v : all_variants()) {
    if (!v->schedule) continue;  // fnet, ring: no tile schedule
    const bool decode_only = !v->prefill, prefill_only = !v->decode;
    for (int shape = 0; shape < 3; ++shape) {
      Workload w = base(v, decode_only ? Phase::decode : Phase::prefill);
      if (shape == 1) {
        w.causal = v->masked;  // monarch has no causal form
        w.kv_heads = 4;
        w.seq = 300;
        w.kv_len = v->self_only || v == parse_variant("dilated") ? 300 : 700;
      }
      if (shape == 2) {
        if (!prefill_only) w.phase = Phase::decode;
        w.heads = 8;
        w.kv_heads = 1;
        w.kv_len = 1000;
        w.seq = v == parse_variant("dilated") ? 1024 : 257;
        if (v->self_only || v == parse_variant("dilated") || v == parse_variant("chunked")) w.kv_len = 0;
      }
      if (v == parse_variant("dilated")) {
        w.kv_len = 0;
        w.seq = 1024;
        w.set("segment", 256);
        w.set("dilation", 2);
      }
      if (v == parse_variant("sliding-window")) w.set("window", 100);
      if (v == parse_variant("chunked")) w.set("chunk", 128);
      if (v == parse_variant("linear") || v == parse_variant("performer")) w.set("chunk", 64);
      if (v == parse_variant("mamba") || v == parse_variant("mamba-naive")) w.set("d_inner", 96);
      if (v == parse_variant("performer")) w.set("features", 48);
      if (v == parse_variant("mla")) w.heads = w.kv_heads = 16;
      out.push_back({"", w});
    }
    // FlexAttention's block masks: documents (not a multiple of the tiles) and prefix-LM.
    if (v == parse_variant("flex")) {
      for (int rule = 0; rule < 2; ++rule) {
        Workload w = base(v, Phase::prefill);
        w.seq = 1000;
        w.kv_len = 0;
        w.causal = true;
        if (rule == 0) w.set("doc_len", 150);
        else w.set("prefix", 333);
        out.push_back({rule == 0 ? "documents" : "prefix-lm", w});
        w.phase = Phase::decode;
        w.kv_len = 1000;
        out.push_back({rule == 0 ? "documents decode" : "prefix-lm decode", w});
      }
    }
    // Quantized K/V caches (issue 18): fp8 with one scale, int4 with KIVI's group scales.
    if (variant_param(v, "kv_bits") != nullptr) {
      for (const auto& [bits, group] : {std::pair<int, int>{8, 0}, {4, 32}}) {
        Workload w = base(v, Phase::decode);
        w.kv_len = 700;
        if (v == parse_variant("mla")) w.heads = w.kv_heads = 16;
        w.set("kv_bits", bits);
        if (group != 0) w.set("kv_group", group);
        out.push_back({bits == 8 ? "kv fp8" : "kv int4", w});
      }
    }
    if (v == parse_variant("gated")) {  // the gate fused into flash2's epilogue
      Workload w = base(v);
      w.causal = true;
      w.set("gate_fused", 1);
      out.push_back({"gate fused", w});
    }
    if (v == parse_variant("mamba2")) {
      // Two groups sharing B and C, P and N not multiples of the 64 x 64 blocks, a chunk of neither
      // 64 nor 32 tokens (520 = 5 x 100 + 20); and the decode step at 32 rows of P per CTA.
      Workload w = base(v);
      w.kv_heads = w.heads;
      w.head_dim = 96;
      w.set("state_dim", 80).set("groups", 2).set("chunk", 100);
      out.push_back({"ssd groups", w});
      w.phase = Phase::decode;
      w.set("state_dim", 16);
      out.push_back({"ssd groups decode", w});
    }
    if (v == parse_variant("gau")) {  // a 20 x 20 plane, smaller than a CTA: the broadcast streams wrap
      Workload w = base(v);
      w.heads = w.kv_heads = 1;
      w.seq = 20;
      w.causal = true;
      w.v_head_dim = 128;
      out.push_back({"tiny plane", w});
    }
    if (v == parse_variant("flash1") || v == parse_variant("flash2") || v == parse_variant("standard") || v == parse_variant("sigmoid")) {
      Workload w = base(v);
      w.pass = Pass::fwdbwd;
      w.causal = true;
      out.push_back({"fwdbwd", w});
    }
  }
  return out;
}

}  // namespace

// With the L2 off every request goes to DRAM: the simulated bytes must equal the closed form's
// two-level count exactly, kernel schedule for kernel schedule.
TEST(Simulate, MatchesTheClosedFormExactlyWithL2Off) {
  for (const Case& c : cases()) {
    const SimResult r = simulate(h100(), c.w, {});
    const std::string what = std::string(to_string(c.w.variant)) + " " + std::string(to_string(c.w.phase)) + " " +
                             (c.w.causal ? "causal " : "") + c.label + " N=" + std::to_string(c.w.seq);
    if (c.w.variant == parse_variant("block-sparse")) continue;  // checked below: a concrete layout vs an expectation
    EXPECT_EQ(r.hbm_read_bytes.v, r.formula.hbm_read_bytes.v) << what;
    EXPECT_EQ(r.hbm_write_bytes.v, r.formula.hbm_write_bytes.v) << what;
    EXPECT_EQ(r.l2_read_bytes.v, r.formula.l2_read_bytes.v) << what;
  }
}

// mamba2's and gau's schedules replay their kernels one for one: with the L2 off each kernel's
// simulated read and write bytes equal its closed form's (kernels of one name summed: the closed
// form counts gau's four OffsetScale launches as one kernel, the simulator runs four grids).
using KernelBytes = std::map<std::string, std::pair<std::uint64_t, std::uint64_t>>;  // kernel -> (read, written)

// Each kernel's DRAM bytes as the simulator replays them and as the closed form counts them.
static std::pair<KernelBytes, KernelBytes> kernel_bytes(const Device& dev, const Workload& w) {
  KernelBytes sim, formula;
  SimOptions o;
  o.on_access = [&](const SimAccess& a) {
    auto& [read, written] = sim[std::string(a.kernel)];
    (a.write ? written : read) += a.bytes * a.rows;
  };
  const SimResult r = simulate(dev, w, o);
  for (int i = 0; i < r.formula.kernel_count(); ++i) {
    const KernelCost& k = r.formula.kernels[static_cast<std::size_t>(i)];
    auto& [read, written] = formula[std::string(k.name)];
    read += k.hbm_read.v;
    written += k.hbm_write.v;
  }
  return {sim, formula};
}

// A 16-bit workload of `variant` under `impl` with the L2 off (the kernel-for-kernel checks below).
static Workload l2_off(std::string_view variant, std::string_view impl, Pass pass, std::uint64_t batch, std::uint64_t heads,
                       std::uint64_t kv_heads, std::uint64_t seq, std::uint64_t d, bool causal) {
  Workload w;
  w.variant = parse_variant(variant);
  w.impl = &find_impl(impl);
  w.dtype = Dtype::fp16;
  w.pass = pass;
  w.batch = batch, w.heads = heads, w.kv_heads = kv_heads, w.seq = seq, w.head_dim = d;
  w.causal = causal;
  w.l2 = false;
  return w;
}

TEST(Simulate, SsdAndGauMatchTheClosedFormKernelForKernel) {
  int checked = 0;
  for (const Case& c : cases()) {
    if (c.w.variant != parse_variant("mamba2") && c.w.variant != parse_variant("gau")) continue;
    const auto [sim, formula] = kernel_bytes(h100(), c.w);
    EXPECT_EQ(sim, formula) << to_string(c.w.variant) << " " << to_string(c.w.phase) << " " << c.label << " N=" << c.w.seq;
    ++checked;
  }
  EXPECT_EQ(checked, 3 + 2 + 3 + 1);  // mamba2: three shapes and two more; gau: three and one
}

// Sliding-window decode over the rolling buffer with the fa2 profile (flash.cpp rolling_decode):
// the simulator replays flash-attention's decode over min(Nk, W) keys, as predict counts it, kernel
// for kernel with the L2 off, and the same schedule as flash2's decode over that many keys.
TEST(Simulate, SlidingWindowDecodeReplaysTheLibrarysDecodeOverTheBuffer) {
  Workload w = l2_off("sliding-window", "fa2", Pass::fwd, 4, 16, 4, 1, 128, false);
  w.phase = Phase::decode;
  w.kv_len = 3000;
  w.set("window", 2048);
  Workload f = l2_off("flash2", "fa2", Pass::fwd, 4, 16, 4, 1, 128, false);
  f.phase = Phase::decode;
  f.kv_len = 2048;
  const auto [sim, formula] = kernel_bytes(h100(), w);
  EXPECT_EQ(sim, formula);
  const auto [sim_flash2, formula_flash2] = kernel_bytes(h100(), f);
  EXPECT_EQ(sim, sim_flash2);
  EXPECT_EQ(formula, formula_flash2);
}

// FlexAttention's backward (flash.cpp flex_bwd / flex_backward): dK/dV and dQ programs, kernel for
// kernel with the L2 off; GQA, causal and a document mask, both chips' tiles.
TEST(Simulate, FlexBackwardMatchesTheClosedFormKernelForKernel) {
  for (const char* dev : {"h100-sxm", "a100-80gb"}) {
    for (const int mode : {0, 1, 2}) {
      Workload w = l2_off("flex", "flexattn", Pass::bwd, 2, 8, 2, 1000, 128, mode == 1);
      if (mode == 2) {
        w.causal = true;
        w.seq = w.kv_len = 1024;
        w.set("doc_len", 256);
      }
      const auto [sim, formula] = kernel_bytes(find_device(dev), w);
      EXPECT_EQ(sim, formula) << dev << " mode " << mode;
      EXPECT_EQ(sim.count("flex_attention_backward"), 1u);
    }
  }
}

// Decode calls the fa2 profile runs through the library's own path, kernel for kernel with the L2
// off: block-sparse as flash-attention's decode over the kept blocks (flash.cpp sparse_decode),
// sigmoid as FlashSigmoid's forward with the group packed as query rows and one split
// (sigmoid_shape).
TEST(Simulate, DecodeCallsReplayTheLibrarysPath) {
  for (const char* variant : {"block-sparse", "sigmoid"}) {
    Workload w = l2_off(variant, "fa2", Pass::fwd, 4, 16, 4, 1, 128, false);
    w.phase = Phase::decode;
    w.kv_len = 3000;
    const auto [sim, formula] = kernel_bytes(h100(), w);
    EXPECT_EQ(sim, formula) << variant;
    if (std::string_view(variant) == "block-sparse") EXPECT_EQ(sim.count("flash2_fwd_splitkv"), 1u);
  }
}

// FlashAttention's paged KV cache (paged.cpp): Flash-Decoding's kernels with each CTA's block-table
// entries and its K/V blocks in scattered pages, kernel for kernel with the L2 off; split
// boundaries inside a page (3000 keys, 256-token pages, 128-key splits) and the last, part-filled
// page included.
TEST(Simulate, FlashPagedMatchesTheClosedFormKernelForKernel) {
  for (const std::uint64_t batch : {1u, 2u, 64u}) {  // 24 splits of one 128-key block, two to a page; then 1
    Workload w = l2_off("paged", "fa2", Pass::fwd, batch, 16, 4, 1, 128, false);
    w.phase = Phase::decode;
    w.kv_len = 3000;
    const auto [sim, formula] = kernel_bytes(h100(), w);
    EXPECT_EQ(sim, formula) << "batch " << batch;
    EXPECT_EQ(sim.count("flash2_fwd_splitkv"), 1u);
  }
}

// FlexDecoding (flex.cpp flex_decode_schedule): every split's Q, its tile of K/V blocks and its
// partials, and the two reduction kernels, kernel for kernel with the L2 off; splits past the
// visible blocks (many splits, few keys) and a document mask included.
TEST(Simulate, FlexDecodingMatchesTheClosedFormKernelForKernel) {
  for (const std::uint64_t nk : {1000u, 4096u}) {
    for (const std::uint64_t doc : {0u, 1024u}) {
      Workload w = l2_off("flex", "flexattn", Pass::fwd, 2, 16, 2, 1, 128, false);
      w.phase = Phase::decode;
      w.kv_len = nk;
      if (doc != 0) w.set("doc_len", doc);
      const auto [sim, formula] = kernel_bytes(find_device("a100-80gb"), w);
      EXPECT_EQ(sim, formula) << "Nk=" << nk << " doc_len=" << doc;
      EXPECT_EQ(sim.count("flex_decoding"), 1u);
    }
  }
}

// FlashAttention v1.0.9's forward (flash.cpp flash1_fwd / flash1_forward): the split grid predict
// chose and O carried in fp32 with the LSE, kernel for kernel with the L2 off; split (one head) and
// unsplit (many heads), causal and not.
TEST(Simulate, Fa1ForwardMatchesTheClosedFormKernelForKernel) {
  for (const std::uint64_t heads : {1u, 64u}) {
    for (const bool causal : {false, true}) {
      const Workload w = l2_off("flash1", "fa1", Pass::fwd, 1, heads, heads, 1000, 64, causal);
      const auto [sim, formula] = kernel_bytes(find_device("a100-80gb"), w);
      EXPECT_EQ(sim, formula) << "H=" << heads << (causal ? " causal" : "");
      const Prediction p = predict(find_device("a100-80gb"), w);
      if (heads == 1) EXPECT_GT(p.kernels[0].ctas.v, 1u);  // split: more CTAs than heads
    }
  }
}

// FlashAttention v1.0.9's backward (fa1_bwd / fa1_v1_backward): the plain grid (many heads) and the
// sequence-parallel one (one head, long and causal), kernel for kernel with the L2 off.
TEST(Simulate, Fa1BackwardMatchesTheClosedFormKernelForKernel) {
  struct Case2 { std::uint64_t heads, seq; bool causal; const char* main; };
  const Case2 shapes[] = {{108, 1000, false, "flash1_bwd"}, {108, 1000, true, "flash1_bwd"},
                          {1, 4000, true, "flash1_bwd_seqparallel"}};
  for (const Case2& c : shapes) {
    const Workload w = l2_off("flash1", "fa1", Pass::bwd, 1, c.heads, c.heads, c.seq, 64, c.causal);
    const auto [sim, formula] = kernel_bytes(find_device("a100-80gb"), w);
    EXPECT_EQ(sim, formula) << "H=" << c.heads << " N=" << c.seq << (c.causal ? " causal" : "");
    EXPECT_EQ(sim.count(c.main), 1u) << c.main;
  }
}

// PyTorch eager prefill (standard.cpp standard_fwd/standard_bwd and standard_schedule): the einops
// copies, the causal mask built and added, the backward's dP * P kernel, its scales of dQ and dK and
// the stack into the packed gradient, kernel for kernel with the L2 off.
TEST(Simulate, PyTorchEagerMatchesTheClosedFormKernelForKernel) {
  for (const bool causal : {false, true}) {
    const Workload w = l2_off("standard", "pytorch", Pass::fwdbwd, 2, 4, 4, 300, 64, causal);
    const auto [sim, formula] = kernel_bytes(find_device("a100-80gb"), w);
    EXPECT_EQ(sim, formula) << (causal ? "causal" : "not causal");
    EXPECT_EQ(sim.count("softmax_bwd_mul"), 1u);
    EXPECT_EQ(sim.count("stack_dk"), 1u);
    EXPECT_EQ(sim.count("add_mask"), causal ? 1u : 0u);
  }
}

// xFormers' backward (flash.cpp xformers_bwd / xformers_backward): the schedule replays the closed
// form's loads kernel for kernel with the L2 off: split and unsplit grids, causal, GQA, the d > 96
// reload of K, ragged blocks.
TEST(Simulate, XformersBackwardMatchesTheClosedFormKernelForKernel) {
  struct Shape3 { std::uint64_t batch, heads, kv_heads, seq, d; bool causal; };
  const Shape3 shapes[] = {{2, 4, 4, 520, 64, false}, {2, 8, 2, 300, 128, true}, {32, 8, 8, 100, 64, false}};
  for (const Shape3& sh : shapes) {
    const Workload w = l2_off("flash2", "xformers", Pass::bwd, sh.batch, sh.heads, sh.kv_heads, sh.seq, sh.d, sh.causal);
    const auto [sim, formula] = kernel_bytes(find_device("a100-80gb"), w);
    EXPECT_EQ(sim, formula) << "B=" << sh.batch << " H=" << sh.heads << " Hkv=" << sh.kv_heads << " N=" << sh.seq
                            << " d=" << sh.d << (sh.causal ? " causal" : "");
    EXPECT_EQ(sim.count("xformers_bwd_zero_workspace"), sh.batch * sh.heads < 256 ? 1u : 0u);
  }
}

// Block-sparse: the closed form counts the expectation over layouts of density s; the simulator
// runs one concrete layout of floor(s·Tr·Tc) blocks. They differ by less than one K/V block per
// Q block and head (rounding of the per-row counts).
TEST(Simulate, BlockSparseLayoutIsWithinOneBlockPerRowOfTheExpectation) {
  Workload w = base(parse_variant("block-sparse"));
  w.set_real("block_density", 0.3);
  const SimResult r = simulate(h100(), w, {});
  const double block = 64.0 * 128 * 2;  // Bc x (d + dv) x e
  const double rows = 2.0 * 4 * std::ceil(520.0 / 128);
  EXPECT_LT(std::fabs(r.hbm_read_bytes.d() - r.formula.hbm_read_bytes.d()), rows * block);
}

TEST(Simulate, UsesTheKernelTiles) {
  const SimResult r = simulate(h100(), base(parse_variant("flash2")), {});
  EXPECT_EQ(r.formula.block_m, 64u);
  EXPECT_EQ(r.formula.block_n, 128u);  // d = 64
  Workload w = base(parse_variant("flash2"));
  w.head_dim = 128;
  EXPECT_EQ(simulate(h100(), w, {}).formula.block_n, 64u);
}

// GQA: the 8 query heads of a group read the same K/V. Their CTAs are co-resident (all 8 x 8
// CTAs fit on the SMs at once), so with the L2 on the K/V bytes reach DRAM once per group instead
// of once per query head and Q block.
TEST(Simulate, GqaGroupSharesKvThroughL2) {
  Workload w = base(parse_variant("flash2"));
  w.batch = 1;
  w.seq = 512;
  w.heads = 8;
  w.kv_heads = 1;
  w.l2 = true;
  const SimResult on = simulate(h100(), w, {});
  w.l2 = false;
  const SimResult off = simulate(h100(), w, {});
  // Q (8 heads x 512 x 64 x 2) is read once either way; K/V: 8 heads x 8 Q blocks re-read it without L2.
  const double q = 8.0 * 512 * 64 * 2, kv = 512.0 * 128 * 2;
  EXPECT_DOUBLE_EQ(off.hbm_read_bytes.d(), q + 8 * 8 * kv);
  EXPECT_DOUBLE_EQ(on.hbm_read_bytes.d(), q + kv);
  EXPECT_GT(on.l2_hit_rate, 0.5);
}

// A small L2 (2 sets x 2 ways of 128-byte lines) and a hand-written access sequence.
TEST(L2Cache, LruEvictionOnAHandWrittenSequence) {
  L2Cache c(512, 2);
  ASSERT_EQ(c.sets(), 2u);
  // Lines 0, 2, 4 map to set 0. Read 0, 2 (2 misses), 0 again (hit), then 4 evicts 2 (the LRU),
  // so 0 still hits and 2 misses.
  EXPECT_EQ(c.read(0, 128).miss_sectors, 4u);
  EXPECT_EQ(c.read(256, 128).miss_sectors, 4u);
  EXPECT_EQ(c.read(0, 128).hit_sectors, 4u);
  EXPECT_EQ(c.read(512, 128).miss_sectors, 4u);
  EXPECT_EQ(c.read(0, 128).hit_sectors, 4u);
  EXPECT_EQ(c.read(256, 128).miss_sectors, 4u);
  EXPECT_EQ(c.dram_read_bytes(), 4u * 128);
  // Sectors: a 32-byte read of line 1 (set 1) misses one sector; the rest of the line then misses 3.
  EXPECT_EQ(c.read(128, 32).miss_sectors, 1u);
  const auto t = c.read(128, 128);
  EXPECT_EQ(t.hit_sectors, 1u);
  EXPECT_EQ(t.miss_sectors, 3u);
  // Write-back: a write allocates without reading; evicting it writes its dirty sectors once.
  L2Cache w(512, 2);
  w.write(0, 64);
  EXPECT_EQ(w.dram_read_bytes(), 0u);
  w.read(256, 128);
  w.read(512, 128);  // evicts line 0 with 2 dirty sectors
  EXPECT_EQ(w.dram_write_bytes(), 64u);
  w.flush();
  EXPECT_EQ(w.dram_write_bytes(), 64u);
}

TEST(L2Cache, BadShapesAreRefused) {
  EXPECT_THROW(L2Cache(1 << 20, 0), InputError);
  EXPECT_THROW(L2Cache(64, 1), InputError);  // smaller than a line
}

TEST(Simulate, SramOverflowNamesTheTile) {
  Workload w = base(parse_variant("flash2"));
  w.set("block_m", 64);
  w.set("block_n", 64);
  w.sram_bytes = 16384;  // Q 64x64x2 = 8192, K 8192: V does not fit
  try {
    simulate(h100(), w, {});
    FAIL();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bytes of SRAM"), std::string::npos) << msg;  // validate() catches it first
  }
  w = base(parse_variant("paged"), Phase::decode);
  w.kv_len = 8000;
  w.batch = 64;
  w.heads = w.kv_heads = 16;  // v1: 8000 tokens of fp32 logits = 32 KB
  w.sram_bytes = 16384;
  try {
    simulate(h100(), w, {});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tile logits"), std::string::npos) << e.what();
  }
}

TEST(Simulate, UnsupportedVariantsAndBadPathsAreInputErrors) {
  EXPECT_THROW(simulate(h100(), base(parse_variant("fnet")), {}), InputError);
  Workload ring = base(parse_variant("ring"));
  ring.set("gpus", 2);
  EXPECT_THROW(simulate(h100(), ring, {}), InputError);
  SimOptions o;
  o.trace_out = "/nonexistent/dir/trace.csv";
  EXPECT_THROW(simulate(h100(), base(parse_variant("flash2")), o), InputError);
  SimOptions ways;
  ways.l2_ways = 0;
  Workload on = base(parse_variant("flash2"));
  on.l2 = true;
  EXPECT_THROW(simulate(h100(), on, ways), InputError);
}

TEST(Simulate, WritesTraces) {
  SimOptions o;
  o.trace_out = ::testing::TempDir() + "sim_trace.csv";
  o.chrome_trace = ::testing::TempDir() + "sim_chrome.json";
  Workload w = base(parse_variant("flash2"));
  w.l2 = true;
  w.causal = true;
  const SimResult r = simulate(h100(), w, o);
  std::ifstream csv(o.trace_out);
  std::string comment, header, line;
  std::getline(csv, comment);
  std::getline(csv, header);
  EXPECT_EQ(comment.rfind("# attnio simulate", 0), 0u);
  EXPECT_EQ(header, "kernel,cta,sm,step,tile,addr,bytes,rows,write,hit_sectors,miss_sectors");
  std::uint64_t accesses = 0;
  while (std::getline(csv, line)) ++accesses;
  // Every CTA reads Q, K and V per visited block and writes O and the LSE: at least 4 per CTA.
  EXPECT_GE(accesses, 4 * r.ctas);
  // The Chrome trace parses, has one event per CTA, and the CTAs of one slot (tid) do not overlap.
  std::ifstream json(o.chrome_trace);
  const std::string text((std::istreambuf_iterator<char>(json)), std::istreambuf_iterator<char>());
  const boost::json::value doc = boost::json::parse(text);
  const auto& events = doc.at("traceEvents").as_array();
  EXPECT_EQ(events.size(), r.ctas);
  std::map<std::int64_t, std::vector<std::pair<double, double>>> by_tid;
  for (const auto& ev : events) {
    by_tid[ev.at("tid").to_number<std::int64_t>()].emplace_back(ev.at("ts").to_number<double>(), ev.at("dur").to_number<double>());
  }
  for (auto& [tid, spans] : by_tid) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      EXPECT_GE(spans[i].first + 1e-3, spans[i - 1].first + spans[i - 1].second) << "tid " << tid;
    }
  }
  EXPECT_GT(r.time_s, 0);
}

// Every tile every schedule touches lies inside one tensor (addresses, strides, tile edges).
TEST(Simulate, TilesStayInsideTheirTensors) {
  SimOptions o;
  o.check_bounds = true;
  for (const Case& c : cases()) {
    Workload w = c.w;
    w.l2 = true;
    EXPECT_NO_THROW(simulate(h100(), w, o)) << to_string(w.variant) << " " << to_string(w.phase);
  }
}

// Set sampling estimates the full simulation: within 2% on a kernel with heavy L2 traffic.
TEST(Simulate, SetSamplingEstimatesTheExactRun) {
  Workload w;
  w.seq = 2048;
  w.heads = 8;
  w.head_dim = 64;
  w.causal = true;
  SimOptions exact, sampled;
  exact.l2_sample = 1;
  sampled.l2_sample = 31;
  const SimResult a = simulate(h100(), w, exact), b = simulate(h100(), w, sampled);
  EXPECT_EQ(b.l2_sample, 31u);
  EXPECT_NEAR(b.hbm_read_bytes.d(), a.hbm_read_bytes.d(), 0.02 * a.hbm_read_bytes.d());
  EXPECT_NEAR(b.l2_hit_rate, a.l2_hit_rate, 0.02);
}

// Time: the L2 off moves every re-read through DRAM, so it cannot be faster; and no kernel beats
// its DRAM bytes over the HBM bandwidth.
TEST(Simulate, TimeChargesDramTraffic) {
  Workload w = base(parse_variant("flash2"));
  w.seq = 2048;
  w.heads = w.kv_heads = 8;
  w.l2 = true;
  const SimResult on = simulate(h100(), w, {});
  w.l2 = false;
  const SimResult off = simulate(h100(), w, {});
  EXPECT_GT(off.hbm_bytes(), on.hbm_bytes());
  EXPECT_GE(off.time_s, on.time_s);
  EXPECT_GE(off.time_s, off.hbm_bytes().d() / h100().hbm_rate());
}

// Hand-computed GQA sharing on a small L2. flash2 with kernel tiles 64 x 128 (d = 64): B = 1,
// H = 4 query heads over one K/V head, N = 512, so 8 Q blocks per head and 32 CTAs; K and V of the
// head are 512 x 128 x 2 = 128 KiB, Q is 4 x 512 x 64 x 2 = 256 KiB.
namespace {
Workload gqa_case() {
  Workload w;
  w.batch = 1;
  w.seq = 512;
  w.heads = 4;
  w.kv_heads = 1;
  w.head_dim = 64;
  w.l2 = true;
  w.impl = &find_impl("attnio");  // 64-row Q blocks: 32 CTAs
  return w;
}
}  // namespace

TEST(Simulate, SmallL2GroupCoResidentReadsKvOnce) {
  // All 32 CTAs are resident at once (132 SMs) and read K_j, V_j in step: one fetch of each tile.
  Device dev = h100();
  dev.l2_bytes = 256 * 1024;
  const SimResult r = simulate(dev, gqa_case(), {});
  EXPECT_EQ(r.hbm_read_bytes.v, 256u * 1024 + 128u * 1024);
  Workload off = gqa_case();
  off.l2 = false;  // every CTA reads the whole K/V: 32 x 128 KiB
  EXPECT_EQ(simulate(dev, off, {}).hbm_read_bytes.v, 256u * 1024 + 32u * 128 * 1024);
}

TEST(Simulate, SmallL2GroupNotCoResidentRefetches) {
  // Two SMs with room for one 40 KiB CTA each (Q 8 KiB, K and V 16 KiB): CTAs run in pairs. A 64 KiB
  // fully associative L2 (512 ways: capacity misses only) cannot keep the 128 KiB K/V between
  // pairs, so each of the 16 pairs fetches it once (the two CTAs of a pair share that fetch).
  Device dev = h100();
  dev.sm_count = 2;
  dev.smem_bytes_per_sm = 64 * 1024;
  dev.l2_bytes = 64 * 1024;
  SimOptions full;
  full.l2_ways = 512;
  const SimResult r = simulate(dev, gqa_case(), full);
  EXPECT_EQ(r.hbm_read_bytes.v, 256u * 1024 + 16u * 128 * 1024);
  // With a 1 MiB L2 the K/V stays between pairs: fetched once.
  dev.l2_bytes = 1024 * 1024;
  EXPECT_EQ(simulate(dev, gqa_case(), full).hbm_read_bytes.v, 256u * 1024 + 128u * 1024);
}

// A campaign deals simulations by their tile bytes: the closed form's SRAM bytes per layer for the
// simulator's own tiles, the formula the simulation reports beside its figures.
TEST(Simulate, WorkEstimateIsTheFormulasTileBytes) {
  const Device& dev = find_device("h100-sxm");
  Workload w;
  w.variant = parse_variant("flash2");
  w.seq = 2048;
  w.heads = 8;
  w.layers = 2;
  const SimResult r = simulate(dev, w, SimOptions{});
  EXPECT_DOUBLE_EQ(simulation_work(dev, w, SimOptions{}), r.formula.sram_bytes().d() / 2);
  Workload f = w;
  f.variant = parse_variant("fnet");
  EXPECT_THROW(simulation_work(dev, f, SimOptions{}), InputError);
}

// FlashInfer 0.0.1's decode kernels (flashinfer_decode.cpp): the library's launch plan replayed block
// by block, kernel for kernel with the L2 off: the paged batch kernel split into chunks with its
// merge (MHA, one request) and unsplit (GQA 8, a full grid), the single-request kernel split, the
// padded batch kernel, and the tensor-core path's single-request (split) and paged prefill kernels.
TEST(Simulate, FlashInferDecodeMatchesTheClosedFormKernelForKernel) {
  struct Case3 { const char* variant; const char* impl; std::uint64_t batch, kv_heads, kv_len; int kernels; };
  const Case3 shapes[] = {{"paged", "flashinfer-decode", 1, 32, 1000, 2}, {"paged", "flashinfer-decode", 256, 4, 512, 1},
                          {"flash-decoding", "flashinfer-decode", 1, 4, 5000, 2}, {"flash-decoding", "flashinfer-decode", 3, 4, 700, 1},
                          {"flash-decoding", "flashinfer-decode-tc", 1, 4, 5000, 2}, {"paged", "flashinfer-decode-tc", 5, 4, 700, 1}};
  for (const Case3& c : shapes) {
    Workload w = l2_off(c.variant, c.impl, Pass::fwd, c.batch, 32, c.kv_heads, 1, 128, false);
    w.phase = Phase::decode;
    w.kv_len = c.kv_len;
    const auto [sim, formula] = kernel_bytes(h100(), w);
    EXPECT_EQ(sim, formula) << c.impl << " " << c.variant << " B=" << c.batch << " Nk=" << c.kv_len;
    EXPECT_EQ(static_cast<int>(formula.size()), c.kernels) << c.impl << " " << c.variant << " B=" << c.batch;
  }
}
