// The whole model, one step: every layer type of a config (attention mixer, its projections, the
// dense MLP or the MoE experts, norms, embeddings, LM head) costed by the same machinery as the
// mixers: the mixer by predict(), the linear layers as cuBLAS GEMMs (predict_gemm) whose weights are
// read once per step, the norms and the embedding gather as memory-bound passes. docs/model.md
// "Whole models".
#pragma once

#include <string>
#include <vector>

#include "attnio/model/hf_config.hpp"
#include "attnio/model/predict.hpp"

namespace attnio {

struct StackPart {
  std::string name;            // "attention mixer", "attention projections", "MLP", "routed experts", ...
  std::uint64_t count = 0;     // layers (or experts x layers) it stands for
  double flops = 0;            // all of them, one step
  double weight_bytes = 0;     // weights read
  double hbm_bytes = 0;        // all DRAM traffic, weights included
  double time_s = 0;
  Bound bound = Bound::hbm;
};

struct StackCost {
  std::vector<StackPart> parts;
  double time_s = 0, flops = 0, weight_bytes = 0, hbm_bytes = 0;
  double cache_bytes = 0;  // K/V cache (or SSM state) of every layer at the workload's batch and length
  std::uint64_t tokens = 0;  // tokens the step processes (B·N in prefill, B in decode)
  // Device memory the model needs at once: every weight (all experts) and the cache.
  double footprint_bytes = 0;
  bool fits = true;  // within the device's HBM
};

// One forward step of the model for the workload's batch, phase and length (prefill: B x seq
// tokens; decode: B tokens over a cache of kv-len). The mixer takes `w`'s variant parameters and
// implementation.
StackCost evaluate_stack(const Device& device, const ModelConfig& cfg, const Workload& w);

}  // namespace attnio
