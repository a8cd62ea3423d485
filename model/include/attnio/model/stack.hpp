// The whole model, one step: every layer of a config (attention or SSM mixer, its projections, the
// dense MLP or the MoE experts, norms, embeddings, LM head) costed by the same machinery as the
// mixers: each kind of mixer by predict() for the layers that have it, the linear layers as cuBLAS
// GEMMs (predict_gemm) whose weights are read once per step, the norms and the embedding gather as
// memory-bound passes, and under tensor parallelism the all-reduces over NVLink. docs/model.md
// "Whole models".
#pragma once

#include <string>
#include <vector>

#include "attnio/model/hf_config.hpp"
#include "attnio/model/predict.hpp"

namespace attnio {

// What a part of the step belongs to, for the shares `attnio model` prints.
enum class StackGroup : std::uint8_t { attention, ssm, mlp, moe, other };
std::string_view to_string(StackGroup g);

struct StackPart {
  std::string name;            // "attention mixer", "attention projections", "MLP gate+up", "routed experts down", ...
  StackGroup group = StackGroup::other;
  std::uint64_t count = 0;     // layers (or experts x layers) it stands for
  double flops = 0;            // all of them, one step
  double weight_bytes = 0;     // weights read
  double cache_bytes = 0;      // K/V cache or SSM state it holds (mixers only)
  double hbm_bytes = 0;        // all DRAM traffic, weights included
  double link_bytes = 0;       // NVLink bytes one GPU sends (tensor parallel all-reduces)
  double time_s = 0;
  Bound bound = Bound::hbm;
};

// LASER (Sharma, Ash & Misra 2023, "The Truth is in There: Improving Reasoning in Language Models
// with Layer-Selective Rank Reduction", §3): chosen weight matrices W (m x n) of chosen layers
// replaced by their rank-k SVD truncation, stored and run as two factors U (m x k) and V (k x n),
// k = max(1, floor(fraction x min(m, n))): k(m + n) weights instead of mn, two GEMMs per matrix.
enum class LaserMatrix : std::uint8_t { mlp_in, mlp_out, attn_in, attn_out };
LaserMatrix parse_laser_matrix(std::string_view word);  // mlp-in, mlp-out, attn-in, attn-out
struct Laser {
  double rank_fraction = 0;              // 0: off; the fraction of the full rank kept
  std::vector<LaserMatrix> matrices;
  std::vector<std::uint64_t> layers;     // layer numbers from 0; empty: every layer
  bool on(LaserMatrix m) const;
  bool covers(std::uint64_t layer) const;
  std::uint64_t rank(std::uint64_t m, std::uint64_t n) const;
};

struct StackOptions {
  // Tensor parallelism (Megatron-LM, Shoeybi et al. 2019 §3): heads, SSM channels, MLP and expert
  // widths and the vocabulary split over `tp` GPUs; one all-reduce of the T x h activations after
  // each block's output projection.
  std::uint64_t tp = 1;
  Laser laser;
  // Decode over a quantized K/V cache (issue 18): bits per cached element (0: the activation
  // dtype) and elements per fp16 scale and zero point (0: one scale per tensor). The attention
  // layers then run the split-KV decode kernel (flash-decoding; MLA its own) over that cache.
  std::uint64_t kv_bits = 0, kv_group = 0;
};

struct StackCost {
  std::vector<StackPart> parts;
  double time_s = 0, flops = 0, weight_bytes = 0, hbm_bytes = 0, link_bytes = 0;
  double kv_cache_bytes = 0;  // attention layers' K/V cache at the workload's batch and length (per GPU)
  double state_bytes = 0;     // SSM layers' recurrent state (per GPU)
  double cache_read_bytes = 0;  // what the mixers read from DRAM in the step (the cache, in decode)
  std::uint64_t tokens = 0;   // tokens the step processes (B·N in prefill, B in decode)
  std::uint64_t tp = 1;
  Dtype weight_dtype = Dtype::bf16;  // what the linear layers' weights are read in
  // Device memory one GPU needs at once: its share of every weight (all experts) and of the cache.
  double footprint_bytes = 0;
  bool fits = true;  // within the device's HBM
  double laser_saved_params = 0;  // weights LASER's factors save (0 without --rank-fraction)
  double time_of(StackGroup g) const;
  double share(StackGroup g) const { return time_s > 0 ? time_of(g) / time_s : 0.0; }
};

// One forward step of the model for the workload's batch, phase and length (prefill: B x seq
// tokens; decode: B tokens over a cache of kv-len). Every mixer takes `w`'s implementation; the
// config's layers give the rest. Throws InputError when --tp does not divide the model.
StackCost evaluate_stack(const Device& device, const ModelConfig& cfg, const Workload& w, const StackOptions& opt = {});

}  // namespace attnio
