#include "attnio/model/workload.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "attnio/model/errors.hpp"

namespace attnio {

namespace {

struct VariantInfo {
  Variant variant;
  std::string_view name;
  std::string_view summary;
};

constexpr std::array<VariantInfo, 17> kVariants = {{
    {Variant::standard, "standard", "unfused S=QK^T, softmax, O=PV with S and P in HBM (FlashAttention Alg. 0)"},
    {Variant::flash1, "flash1", "fused tiled attention, FA1 loop order: outer loop over K/V blocks (FlashAttention Alg. 1)"},
    {Variant::flash2, "flash2", "fused tiled attention, FA2 loop order: outer loop over Q blocks (FlashAttention-2 Alg. 1)"},
    {Variant::block_sparse, "block-sparse", "flash2 visiting only a fraction s of the blocks (FlashAttention §3.3)"},
    {Variant::sliding_window, "sliding-window", "flash2 over a window of W keys, rolling-buffer KV cache (Mistral 7B §2)"},
    {Variant::sigmoid, "sigmoid", "flash2 with sigmoid instead of softmax: no row max or sum (FlashSigmoid)"},
    {Variant::chunked, "chunked", "memory-efficient attention in query/key chunks, one launch per chunk pair (Rabe & Staats 2021)"},
    {Variant::flash_decoding, "flash-decoding", "decode with split-KV and a combine kernel, GQA heads packed (Flash-Decoding)"},
    {Variant::paged, "paged", "decode reading K/V page by page through a block table (vLLM PagedAttention)"},
    {Variant::mla, "mla", "multi-head latent attention, absorbed decode over a shared latent cache (DeepSeek-V2 §2.1)"},
    {Variant::linear, "linear", "linear attention phi(Q)(phi(K)^T V), chunked causal form (Katharopoulos et al. 2020)"},
    {Variant::performer, "performer", "FAVOR+ positive random features, then linear attention (Choromanski et al. 2021)"},
    {Variant::mamba, "mamba", "fused selective scan, state kept on chip (Mamba App. D)"},
    {Variant::mamba_naive, "mamba-naive", "selective scan with the (B,L,D,N) tensors materialized in HBM (Mamba App. D)"},
    {Variant::fnet, "fnet", "Fourier token mixing: 2D FFT over sequence and hidden, real part (FNet)"},
    {Variant::ring, "ring", "ring attention over P GPUs, K/V blocks passed over NVLink (Liu et al. 2023)"},
    {Variant::dilated, "dilated", "dilated attention within segments (LongNet §2.2)"},
}};

constexpr std::array<Variant, 17> kAll = [] {
  std::array<Variant, 17> a{};
  for (std::size_t i = 0; i < kVariants.size(); ++i) a[i] = kVariants[i].variant;
  return a;
}();

const VariantInfo& info(Variant v) {
  for (const auto& i : kVariants) {
    if (i.variant == v) return i;
  }
  throw InputError("unknown variant id (a bug in attnio)");
}

// The message is built only when the check fails: validation runs on every evaluation.
template <typename Message>
void require(bool ok, Message&& message) {
  if (!ok) throw InputError(message());
}

// Sizes are bounded so that every single dimension and their sums stay far from 2^64; products are
// checked by Count.
constexpr std::uint64_t kMaxDim = std::uint64_t{1} << 40;

void check_size(std::string_view flag, std::uint64_t v) {
  require(v >= 1, [&] { return std::string("--" + std::string(flag) + " must be at least 1"); });
  require(v <= kMaxDim, [&] { return std::string("--" + std::string(flag) + " " + std::to_string(v) + " is larger than 2^40"); });
}

bool is_softmax_family(Variant v) {
  switch (v) {
    case Variant::linear:
    case Variant::performer:
    case Variant::mamba:
    case Variant::mamba_naive:
    case Variant::fnet: return false;
    default: return true;
  }
}

}  // namespace

std::span<const Variant> all_variants() { return kAll; }
std::string_view to_string(Variant v) { return info(v).name; }
std::string_view variant_summary(Variant v) { return info(v).summary; }

std::string_view to_string(Phase p) { return p == Phase::prefill ? "prefill" : "decode"; }
std::string_view to_string(Pass p) {
  switch (p) {
    case Pass::fwd: return "fwd";
    case Pass::bwd: return "bwd";
    case Pass::fwdbwd: return "fwdbwd";
  }
  return "?";
}
std::string_view to_string(Dtype d) {
  switch (d) {
    case Dtype::fp32: return "fp32";
    case Dtype::fp16: return "fp16";
    case Dtype::bf16: return "bf16";
    case Dtype::fp8: return "fp8";
  }
  return "?";
}

Variant parse_variant(std::string_view s) {
  std::string known;
  for (const auto& i : kVariants) {
    if (i.name == s) return i.variant;
    known += (known.empty() ? "" : ", ") + std::string(i.name);
  }
  throw InputError("unknown variant '" + std::string(s) + "' (known: " + known + ", all)");
}
Phase parse_phase(std::string_view s) {
  if (s == "prefill") return Phase::prefill;
  if (s == "decode") return Phase::decode;
  throw InputError("unknown phase '" + std::string(s) + "' (known: prefill, decode)");
}
Pass parse_pass(std::string_view s) {
  if (s == "fwd") return Pass::fwd;
  if (s == "bwd") return Pass::bwd;
  if (s == "fwdbwd") return Pass::fwdbwd;
  throw InputError("unknown pass '" + std::string(s) + "' (known: fwd, bwd, fwdbwd)");
}
Dtype parse_dtype(std::string_view s) {
  if (s == "fp32") return Dtype::fp32;
  if (s == "fp16") return Dtype::fp16;
  if (s == "bf16") return Dtype::bf16;
  if (s == "fp8") return Dtype::fp8;
  throw InputError("unknown dtype '" + std::string(s) + "' (known: fp32, fp16, bf16, fp8)");
}
std::uint64_t dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::fp32: return 4;
    case Dtype::fp16:
    case Dtype::bf16: return 2;
    case Dtype::fp8: return 1;
  }
  return 0;
}

Workload llama_like_workload() {
  Workload w;
  w.batch = 8;
  w.seq = 4096;
  w.heads = 32;
  w.kv_heads = 8;
  w.head_dim = 128;
  w.causal = true;
  return w;
}

Workload resolve(Workload w, const Device& device) {
  if (w.kv_len == 0) w.kv_len = w.seq;
  if (w.kv_heads == 0) w.kv_heads = w.heads;
  if (w.v_head_dim == 0) w.v_head_dim = w.head_dim;
  if (w.sram_bytes == 0) w.sram_bytes = static_cast<std::uint64_t>(device.smem_bytes_per_sm);
  if (w.feature_dim == 0) w.feature_dim = w.head_dim;
  if (w.d_inner == 0 && w.heads <= kMaxDim && w.head_dim <= kMaxDim) w.d_inner = w.heads * w.head_dim;
  // Chunk defaults: 64 tokens for linear attention and Performer (flash-linear-attention's chunk),
  // 1024 for memory-efficient attention (Rabe & Staats §3 use 1024-query chunks).
  if (w.chunk == 0) w.chunk = (w.variant == Variant::linear || w.variant == Variant::performer) ? 64 : 1024;
  return w;
}

void validate(const Workload& w, const Device& device) {
  check_size("batch", w.batch);
  check_size("seq", w.seq);
  check_size("kv-len", w.kv_len);
  check_size("heads", w.heads);
  check_size("kv-heads", w.kv_heads);
  check_size("head-dim", w.head_dim);
  check_size("v-head-dim", w.v_head_dim);
  check_size("layers", w.layers);
  check_size("sram-bytes", w.sram_bytes);
  require(w.heads % w.kv_heads == 0, [&] { return std::string("--heads " + std::to_string(w.heads) +
                                         " is not divisible by --kv-heads " + std::to_string(w.kv_heads)); });
  require(w.head_dim <= 1024 && w.v_head_dim <= 1024, [&] { return std::string("--head-dim and --v-head-dim must be at most 1024"); });
  require(w.dtype != Dtype::fp8 || device.fp8_tensor_flops_per_s > 0, [&] { return std::string("--dtype fp8: device '" + device.key + "' has no FP8 tensor cores"); });
  require(w.block_m == 0 || w.block_m <= (1u << 16), [&] { return std::string("--block-m must be at most 65536"); });
  require(w.block_n == 0 || w.block_n <= (1u << 16), [&] { return std::string("--block-n must be at most 65536"); });
  check_size("cla-share", w.cla_share);
  require(w.cla_share == 1 || is_softmax_family(w.variant), [&] { return std::string("--cla-share applies to softmax attention variants, not " + std::string(to_string(w.variant))); });

  const std::uint64_t e = dtype_bytes(w.dtype);
  if (w.block_m != 0 || w.block_n != 0) {
    // A block size given alone pairs with the other from FlashAttention Alg. 1. FA2 keeps the Q tile
    // and the K and V tiles in shared memory (O stays in registers).
    const std::uint64_t d = std::max(w.head_dim, w.v_head_dim);
    const std::uint64_t m = w.sram_bytes / e, bc = (m + 4 * d - 1) / (4 * d);
    const std::uint64_t bm = w.block_m != 0 ? w.block_m : std::min(bc, d), bn = w.block_n != 0 ? w.block_n : bc;
    const std::uint64_t need = (bm * w.head_dim + bn * (w.head_dim + w.v_head_dim)) * e;
    require(need <= w.sram_bytes, [&] {
      return "--block-m " + std::to_string(bm) + " x --block-n " + std::to_string(bn) + " tiles need " +
             std::to_string(need) + " bytes of SRAM, more than the " + std::to_string(w.sram_bytes) + " available";
    });
  }

  switch (w.variant) {
    case Variant::block_sparse:
      require(std::isfinite(w.block_density) && w.block_density > 0 && w.block_density <= 1, [&] { return std::string("--block-density must be in (0, 1]"); });
      break;
    case Variant::sliding_window: check_size("window", w.window); break;
    case Variant::chunked:
    case Variant::linear:
    case Variant::performer: check_size("chunk", w.chunk); break;
    case Variant::paged:
      check_size("page-size", w.page_size);
      // vLLM splits long contexts into 512-token partitions of whole pages.
      require(w.page_size <= 512 && 512 % w.page_size == 0, [&] {
        return "--page-size " + std::to_string(w.page_size) + " must divide 512 (vLLM's partition size)";
      });
      break;
    case Variant::mla:
      check_size("latent-dim", w.latent_dim);
      check_size("rope-dim", w.rope_dim);
      require(w.latent_dim <= 4096 && w.rope_dim <= 1024, [&] { return std::string("--latent-dim must be at most 4096 and --rope-dim at most 1024"); });
      break;
    default: break;
  }
  switch (w.variant) {
    case Variant::performer: check_size("features", w.features);
      require(w.features <= 65536, [&] { return std::string("--features must be at most 65536"); });
      break;
    case Variant::mamba:
    case Variant::mamba_naive:
      check_size("state-dim", w.state_dim);
      check_size("d-inner", w.d_inner);
      break;
    case Variant::ring:
      check_size("gpus", w.gpus);
      require(device.nvlink_bytes_per_s > 0, [&] { return std::string("ring: device '" + device.key + "' has no NVLink bandwidth"); });
      require(w.seq % w.gpus == 0 && w.kv_len % w.gpus == 0, [&] { return std::string("ring: --seq and --kv-len must be divisible by --gpus " + std::to_string(w.gpus)); });
      break;
    case Variant::dilated:
      check_size("segment", w.segment);
      check_size("dilation", w.dilation);
      require(w.segment % w.dilation == 0, [&] { return std::string("dilated: --segment must be divisible by --dilation"); });
      require(w.seq % w.segment == 0, [&] { return std::string("dilated: --seq must be divisible by --segment"); });
      require(w.kv_len == w.seq, [&] { return std::string("dilated: --kv-len must equal --seq (self-attention within segments)"); });
      break;
    default: break;
  }
  if (w.variant == Variant::linear) {
    check_size("feature-dim", w.feature_dim);
    require(w.feature_dim <= 4096, [&] { return std::string("--feature-dim must be at most 4096"); });
  }
  if (w.variant == Variant::fnet) {
    require(w.kv_len == w.seq, [&] { return std::string("fnet: --kv-len must equal --seq (token mixing within one sequence)"); });
  }
  // Alg. 1 needs room for Q, K, V and O tiles of at least one row: M >= 4·d elements.
  require(w.sram_bytes / e >= 4 * std::max(w.head_dim, w.v_head_dim), [&] {
    return "--sram-bytes " + std::to_string(w.sram_bytes) + " holds fewer than 4 x head-dim elements (FlashAttention Alg. 1 tiles)";
  });
  if (w.phase == Phase::prefill && w.kv_len != w.seq) {
    switch (w.variant) {
      case Variant::linear:
      case Variant::performer:
      case Variant::mamba:
      case Variant::mamba_naive:
        throw InputError(std::string(to_string(w.variant)) + " mixes one sequence with itself in prefill: --kv-len must equal --seq");
      default: break;
    }
  }
  if (w.splits != 0) require(w.splits <= 1024, [&] { return std::string("--splits must be at most 1024"); });
  if (auto why = not_applicable(w)) throw InputError(*why);
}

std::optional<std::string> not_applicable(const Workload& w) {
  const std::string name(to_string(w.variant));
  const bool decode = w.phase == Phase::decode;
  switch (w.variant) {
    case Variant::flash_decoding:
    case Variant::paged:
      if (!decode) return name + " is a decode kernel: use --phase decode";
      break;
    case Variant::chunked:
    case Variant::fnet:
    case Variant::ring:
    case Variant::dilated:
      if (decode) return name + " is not modeled for --phase decode (prefill only)";
      break;
    default: break;
  }
  if (w.variant == Variant::fnet && w.causal) return "fnet mixes every token with every other: it has no causal form";
  if (w.pass != Pass::fwd) {
    if (decode) return "--pass " + std::string(to_string(w.pass)) + ": decode is inference only (use --pass fwd)";
    switch (w.variant) {
      case Variant::standard:
      case Variant::flash1:
      case Variant::flash2:
      case Variant::block_sparse:
      case Variant::sliding_window:
      case Variant::sigmoid:
      case Variant::dilated: break;
      default:
        return name + ": only the forward pass is modeled (--pass fwd); backward is modeled for "
                      "standard, flash1, flash2, block-sparse, sliding-window, sigmoid, dilated";
    }
  }
  return std::nullopt;
}

}  // namespace attnio
