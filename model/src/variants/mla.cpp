// Multi-head latent attention (DeepSeek-AI 2024, "DeepSeek-V2", §2.1, Table 1): the cache holds a
// d_c latent and a d_h^R rope key per token, shared by all heads. Decode in the absorbed form runs
// the split-KV kernel over the latent; prefill up-projects the latent and runs flash2.
#include "flash.hpp"
#include "split_kv.hpp"

namespace attnio::detail {

const ParamSpec kLatentDim{
    .key = "latent_dim", .default_value = 512, .default_text = "512", .max = 4096, .unit = "elements",
    .help = "mla: latent dimension d_c (default 512)", .source = "DeepSeek-V2 config kv_lora_rank = 512"};
const ParamSpec kRopeDim{
    .key = "rope_dim", .default_value = 64, .default_text = "64", .max = 1024, .unit = "elements",
    .help = "mla: rope dimension d_h^R (default 64)", .source = "DeepSeek-V2 config qk_rope_head_dim = 64"};

namespace {


// DeepSeek-V2 §2.1: the cache holds d_c latent + d_h^R rope elements per token, shared by all heads.
// Decode in the absorbed form (§2.1.2, W^UK into the query, W^UV after attention): scores over
// d_c + d_h^R and values over d_c, for every head, from one read of the cache: the split-KV kernel
// with all heads packed as rows over one shared set whose "V" is the latent part of "K".
// Prefill up-projects the latent to per-head K (d + d_h^R) and V (dv), then runs flash2.
void mla(Evaluator& ev) {
  const Shape s = ev.shape();
  const Workload& w = ev.w();
  const u64 e = ev.e(), dc = w.count("latent_dim"), dr = w.count("rope_dim");
  if (w.phase == Phase::decode) {
    split_kv_decode(ev, "mla_decode_splitkv", s.batch, 1, s.heads, s.nk, kv_row_bytes(w, dc + dr), dc + dr, dc, dc + dr);
    return;
  }
  const u64 tokens = (Count(s.batch) * s.nk).v;
  gemm(ev, "mla_up_project", 1, tokens, s.heads * (s.d + s.dv), dc, e);
  KernelCost& rope = rowwise(ev, "mla_broadcast_rope", Count(tokens) * s.heads * dr);
  Evaluator::read_direct(rope, Count(tokens) * dr * e);
  Evaluator::write_direct(rope, Count(tokens) * s.heads * dr * e);
  ev.out().extra_memory_bytes += Count(tokens) * s.heads * (s.d + dr + s.dv) * e;
  Shape full = s;
  full.kv_heads = s.heads;
  full.d = s.d + dr;
  flash_passes(ev, full, attention_mask(w, s.n, s.nk), {}, false);
}

// ---- tile schedule ------------------------------------------------------------------------------

void mla_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const u64 e = sc.e(), dc = w.count("latent_dim"), dr = w.count("rope_dim");
  if (w.phase == Phase::decode) {
    split_kv(sc, "mla_decode_splitkv", s.batch, 1, s.heads, s.nk, dc + dr, dc, false, kv_row_bytes(w, dc + dr), 0, dc + dr);
    return;
  }
  AddressSpace& as = sc.as();
  const u64 tokens = (Count(s.batch) * s.nk).v, width = s.heads * (s.d + s.dv);
  const u64 latent = as.alloc(Count(tokens) * dc * e), wup = as.alloc(Count(dc) * width * e);
  const u64 kv = as.alloc(Count(tokens) * width * e), rope = as.alloc(Count(tokens) * dr * e);
  const u64 rope_heads = as.alloc(Count(tokens) * s.heads * dr * e);
  sc.out().push_back(gemm("mla_up_project", 1, tokens, width, dc, e, e, {latent, tokens, dc, 0, false, "latent"},
                          {wup, dc, width, 0, false, "W_up"}, {kv, tokens, width, 0, false, "K/V per head"}));
  SimKernel r;
  r.name = "mla_broadcast_rope";
  r.ctas = tokens;
  r.program = [=](u64 cta, std::vector<Step>& steps) {
    Step st;
    st.read("k rope", rope + cta * dr * e, dr * e);
    st.write("k rope per head", rope_heads + cta * s.heads * dr * e, s.heads * dr * e);
    steps.push_back(st);
  };
  sc.out().push_back(std::move(r));
  Shape full = s;
  full.kv_heads = s.heads;
  full.d = s.d + dr;
  flash_family(sc, full, attention_mask(w, s.n, s.nk), {}, false);
}

void tiles(Workload& w) {
  const u64 d = std::max(w.head_dim, w.v_head_dim == 0 ? w.head_dim : w.v_head_dim);
  if (w.phase == Phase::prefill) {
    flash_kernel_tiles(w, d + w.count("rope_dim"));
    return;
  }
  fill_tiles(w, KernelRole::splitkv, w.count("latent_dim") + w.count("rope_dim"));
}

constexpr const ParamSpec* kParams[] = {&kBlockM, &kBlockN, &kClaShare, &kSplits, &kLatentDim, &kRopeDim, &kKvBits, &kKvGroup};
const VariantDescriptor kDesc{
    .name = "mla",
    .summary = "multi-head latent attention, absorbed decode over a shared latent cache (DeepSeek-V2 §2.1)",
    .sources = "DeepSeek-AI 2024, DeepSeek-V2, §2.1 (absorbed form §2.1.2), Table 1",
    .params = kParams, .kernel_decode = "mla_absorbed_decode",
    .check = [](const Workload& w, const Device&) {
      check_block_tiles(w);
      check_kv_format(w);
    },
    .evaluate = mla,
    // DeepSeek-V2 §2.1: d_c + d_h^R elements per token per cached layer, shared by all heads.
    .cache_bytes = [](const Workload& w) {
      return Count(w.batch) * w.kv_len * kv_row_bytes(w, w.count("latent_dim") + w.count("rope_dim")) *
             ceil_div(w.layers, w.count("cla_share"));
    },
    .io_complexity = [](const Workload& w) -> std::string_view {
      return w.phase == Phase::decode ? "Θ(N_kv·(d_c+d_r)) per sequence" : "Θ(N²·d²/M) per head";
    },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "latent_dim", std::to_string(p.workload.count("latent_dim")));
      put(s, "rope_dim", std::to_string(p.workload.count("rope_dim")));
      if (p.splits != 0) put(s, "splits", std::to_string(p.splits));
      return s;
    },
    .schedule = mla_schedule,
    .kernel_tiles = tiles,
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      return w.phase == Phase::decode
                 ? "DeepSeek-V2 §2.1 absorbed decode: the cache holds d_c + d_r = " + num(w.count("latent_dim")) + " + " +
                       num(w.count("rope_dim")) + " elements per token, read once for all " + num(w.heads) +
                       " heads; FLOPs 2·B·H·Nk·(2·d_c + d_r). With many heads this sits near the ridge point.\n"
                 : "DeepSeek-V2 prefill: the latent cache is up-projected to per-head K and V, then flash2 runs over "
                   "head dim d + d_r.\n";
    }};

}  // namespace

const VariantDescriptor& mla_variant() { return kDesc; }

}  // namespace attnio::detail
