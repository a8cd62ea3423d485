// Workload specification: the attention shape, dtype, phase and pass, and the variant to evaluate
// with its own parameters (declared by the variant, model/src/variants/). Plain data; resolve() fills the documented defaults and validate()
// rejects anything the model cannot evaluate, with a one-line InputError naming the problem.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "attnio/model/device.hpp"
#include "attnio/model/impl.hpp"
#include "attnio/model/variant.hpp"

namespace attnio {

enum class Phase { prefill, decode };
enum class Pass { fwd, bwd, fwdbwd };

std::string_view to_string(Phase p);
std::string_view to_string(Pass p);
std::string_view to_string(Dtype d);
// Parsers throw InputError naming the bad word and the accepted ones.
Phase parse_phase(std::string_view s);
Pass parse_pass(std::string_view s);
Dtype parse_dtype(std::string_view s);
std::uint64_t dtype_bytes(Dtype d);
// A K/V cache format by name (--kv-dtype): bits per element and elements per fp16 scale and zero
// point (0: one scale per tensor). fp8 8/0 (vLLM's fp8 cache), int8 8/32 and int4 4/32 (KIVI's
// example group size), bf16/fp16 16/0. InputError naming the word otherwise.
struct KvFormat {
  std::uint64_t bits = 0, group = 0;
};
KvFormat parse_kv_dtype(std::string_view s);

struct Workload {
  Variant variant = default_variant();
  std::uint64_t batch = 1;
  std::uint64_t seq = 4096;     // query length (prefill); in decode the query is one token
  std::uint64_t kv_len = 0;     // 0: same as seq
  std::uint64_t heads = 32;
  std::uint64_t kv_heads = 0;   // 0: same as heads
  std::uint64_t head_dim = 128;
  std::uint64_t v_head_dim = 0; // 0: same as head_dim
  Dtype dtype = Dtype::bf16;
  bool causal = false;
  Phase phase = Phase::prefill;
  Pass pass = Pass::fwd;
  std::uint64_t layers = 1;
  std::uint64_t sram_bytes = 0;  // on-chip capacity M per SM; 0: the device's shared memory per SM
  bool l2 = true;                // model L2 reuse between SM<->L2 traffic and DRAM traffic
  // The call starts with the L2 full of dirty lines: what an L2 flush by writing a buffer at least
  // the L2's size leaves (nvbench's cold measurement, triton.testing.do_bench, a torch zero_()
  // before each call). The write-back L2 evicts them, oldest first, as the call's first kernels
  // allocate lines: up to the L2's capacity of extra DRAM writes (predict.cpp). false: it starts
  // clean (empty, or flushed and invalidated, as Nsight Compute's cache control leaves it).
  bool dirty_l2 = false;
  // The timed backward also adds dQ, dK and dV into .grad tensors that already hold a gradient:
  // PyTorch's AccumulateGrad runs `variable_grad += new_grad` for each leaf input whose .grad is
  // set (torch/csrc/autograd/functions/accumulate_grad.h), which a benchmark that repeats
  // o.backward(do, retain_graph=True) without resetting .grad times (triton.testing.do_bench
  // without grad_to_none). One elementwise add per input after the backward's kernels
  // (predict.cpp). false: the gradients are written fresh (.grad reset between calls, as
  // flash-attention's benchmark_backward does, or a kernel called directly).
  bool accumulate_grads = false;
  // The kernel implementation whose time is predicted (impl.hpp); nullptr: the variant's default on
  // the device (default_impl), filled by resolve().
  const ImplProfile* impl = nullptr;
  int compute_capability = 0;    // resolve(): the device's, for the profile's per-chip traits
  // The variant's parameters that are set; resolve() fills the rest from their declarations.
  ParamSet params;

  // A parameter of the variant: its value when set, else its declared default. Throws InputError
  // when it is not set and the variant declares no such parameter (a bug in the caller).
  std::uint64_t count(std::string_view key) const;
  double real(std::string_view key) const;
  // Sets a parameter; throws InputError for a key that no variant declares.
  Workload& set(std::string_view key, std::uint64_t v) { params.set_count(key, v); return *this; }
  Workload& set_real(std::string_view key, double v) { params.set_real(key, v); return *this; }

  // Query length actually evaluated: seq in prefill, 1 in decode.
  std::uint64_t query_len() const { return phase == Phase::decode ? 1 : seq; }
  std::uint64_t group() const { return heads / kv_heads; }
};

// The whole-number shape fields, declared once for the CLI's flags, the GUI's inputs and their help.
struct ShapeField {
  const char* flag;  // --flag
  std::uint64_t Workload::*member;
  const char* help;  // one line, with the default and the unit
};
std::span<const ShapeField> shape_fields();

// The workload with another variant: parameters that `v` does not declare are dropped (a sweep over
// several variants gives each the parameters it has).
Workload for_variant(Workload w, Variant v);

// Fills the 0 = default shape fields from the shape and the device, and every parameter of the
// variant that is not set from its declaration. Idempotent.
Workload resolve(Workload w, const Device& device);

// The built-in default of `attnio report`, `scripts/run` and attnio-gui: one Llama-3-8B attention
// layer (32 query heads, 8 K/V heads of 128, causal) over a batch of 8 sequences of 4096 tokens.
Workload llama_like_workload();
// Throws InputError for shapes and parameters the model cannot evaluate: the shape, each parameter
// against its declared range, parameters the variant does not declare, and the variant's own
// cross-parameter rules. Expects resolve()d input.
// One parameter's value against its declaration (range; 0 where it means the model's choice):
// throws InputError naming its flag. validate() checks every parameter a workload sets with it.
void check_param(const ParamSpec& p, const ParamSet::Entry& e);
void validate(const Workload& w, const Device& device);
// Why this variant does not apply to this phase/pass, or nullopt when it does.
std::optional<std::string> not_applicable(const Workload& w);
// Why validate() refuses this resolve()d workload on this device (ring over more GPUs than the
// device's NVLink joins, say), or nullopt: for commands that run every variant and name the ones a
// device cannot run instead of stopping at them.
std::optional<std::string> refused_on(const Workload& w, const Device& device);

}  // namespace attnio
