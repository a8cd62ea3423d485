// Variants as declarations. Each variant (or a family sharing one schedule) lives in one file under
// model/src/variants/ that declares, in reading order: what it computes and its sources, its
// parameters (ParamSpec), where it applies, its closed-form accounting, its tile schedule and its
// explanation. model/src/variants/registry.cpp lists the descriptors; every front end (CLI flags,
// the GUI's workload editor, trace fields, kernel bindings, `attnio variants`, README's table)
// derives from them instead of repeating them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "attnio/model/count.hpp"

namespace attnio {

struct Device;
struct Workload;
struct Prediction;
namespace detail {
class Evaluator;   // the closed form's kernel accumulator (model/src/engine/evaluator.hpp)
class Scheduler;   // the simulator's tile-schedule builder (model/src/engine/schedule.hpp)
}  // namespace detail

// ---- parameters ---------------------------------------------------------------------------------

enum class ParamType { count, real };

// One variant parameter, declared once. `key` is the trace/JSON key; the CLI flag is the key with
// '-' for '_' (flag_name()). Count parameters hold whole numbers, real ones doubles.
struct ParamSpec {
  std::string_view key;
  ParamType type = ParamType::count;
  double default_value = 0;        // used when neither the user nor default_rule gives one
  std::string_view default_text;   // how listings state the default ("4096", "--head-dim")
  double min = 1, max = 0x1p40;    // valid range, inclusive; `min_exclusive` makes min open
  bool min_exclusive = false;
  bool zero_is_auto = false;       // 0 (the default) lets the model choose (tiles, splits)
  std::string_view unit;           // "tokens", "elements", "fraction", ...
  std::string_view help;           // one line, for --help and tooltips
  std::string_view source;         // where the default comes from
  // A default that depends on the shape (feature-dim = head-dim); nullptr: default_value.
  double (*default_rule)(const Workload&) = nullptr;
};
std::string flag_name(const ParamSpec& p);  // "block_m" -> "block-m"

// Key equality for the parameter and name lookups every evaluation makes: the same characters (most
// keys view one declaration's string, so the pointers match), or else equal lengths and first
// characters before the full comparison, which spares the library call for almost every key that
// differs.
inline bool same_key(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.data() == b.data() || a.empty()) return true;
  return a.front() == b.front() && a == b;
}

// The values of the parameters a workload sets, by key. Small and copyable (no allocation): a
// workload is copied for every sweep point.
class ParamSet {
public:
  static constexpr int kCapacity = 32;
  struct Entry {
    std::string_view key;  // views the key of a registered ParamSpec
    std::uint64_t count = 0;
    double real = 0;
    bool operator==(const Entry&) const = default;
  };
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const Entry* find(std::string_view key) const;
  // Throws InputError for a key no registered variant declares.
  void set_count(std::string_view key, std::uint64_t v);
  void set_real(std::string_view key, double v);
  // The same for a registered declaration (no lookup by key).
  void set_count(const ParamSpec& p, std::uint64_t v);
  void set_real(const ParamSpec& p, double v);
  void erase(std::string_view key);
  std::span<const Entry> entries() const { return {entries_.data(), static_cast<std::size_t>(size_)}; }
  bool operator==(const ParamSet& o) const;

private:
  Entry& slot(std::string_view key);
  Entry& slot(const ParamSpec& spec);
  std::array<Entry, kCapacity> entries_{};
  int size_ = 0;  // entries_ [0, size_) sorted by key
};

// ---- descriptors --------------------------------------------------------------------------------

struct VariantDescriptor {
  std::string_view name;     // --variant word
  std::string_view summary;  // one line
  std::string_view sources;  // papers and repositories the accounting follows
  std::span<const ParamSpec* const> params;
  bool prefill = true, decode = true;  // phases it is modeled for
  bool backward = false;               // --pass bwd / fwdbwd modeled
  bool masked = true;                  // has a causal form (FNet mixes every token with every other)
  bool self_only = false;              // mixes one sequence with itself: --kv-len must equal --seq in prefill
  bool sigmoid_scores = false;         // sigmoid in place of softmax (kernels and references)
  // Its output is attention over the causal or window mask, so `profile --runner cpu` measures it
  // with the float64 reference (kernels/reference direct()).
  bool cpu_reference = false;
  // The CUDA kernels that run it (kernels/bind.cu binds them by name; "" where none exists): the
  // prefill forward, the prefill backward and the decode step.
  std::string_view kernel_fwd, kernel_bwd, kernel_decode;

  // Cross-parameter rules beyond each ParamSpec's range (InputError naming the flags); may be null.
  void (*check)(const Workload&, const Device&) = nullptr;
  // The closed form: appends the kernels one layer launches (model/src/engine/evaluator.hpp).
  void (*evaluate)(detail::Evaluator&) = nullptr;
  // Bytes held across steps for batch x kv-len tokens over all layers; null: the K/V cache of
  // ceil(layers / cla-share) layers.
  Count (*cache_bytes)(const Workload&) = nullptr;
  std::string_view (*io_complexity)(const Workload&) = nullptr;
  // The variant's own parameters and results as "key=value" words; null: none.
  std::string (*params_text)(const Prediction&) = nullptr;
  // The tile schedule (model/src/engine/schedule.hpp); null with `no_schedule` saying why.
  void (*schedule)(detail::Scheduler&) = nullptr;
  std::string_view no_schedule;
  // The kernels' own tiles (tile_traits.hpp) that the simulator uses unless --block-m/n are given.
  void (*kernel_tiles)(Workload&) = nullptr;
  // explain's derivation paragraph with the numbers substituted.
  std::string (*derivation)(const Prediction&) = nullptr;
};

// A registered variant; compares by identity. Cheap to copy.
class Variant {
public:
  constexpr Variant(const VariantDescriptor& d) : d_(&d) {}
  const VariantDescriptor* operator->() const { return d_; }
  const VariantDescriptor& operator*() const { return *d_; }
  std::string_view name() const { return d_->name; }
  bool is(std::string_view name) const { return d_->name == name; }
  friend bool operator==(Variant a, Variant b) { return a.d_ == b.d_; }
  friend bool operator<(Variant a, Variant b) { return a.d_->name < b.d_->name; }

private:
  const VariantDescriptor* d_;
};

// The registry, in the report's order.
std::span<const Variant> all_variants();
// Throws InputError naming the unknown word and the known ones.
Variant parse_variant(std::string_view name);
std::optional<Variant> find_variant(std::string_view name);
// Its position in all_variants() (the GUI's item data, colours).
std::size_t variant_index(Variant v);
Variant default_variant();  // flash2
std::string_view to_string(Variant v);
std::string_view variant_summary(Variant v);

// Every distinct parameter key over all variants, in registry order, with the first declaration of
// each key (declarations of one key agree on its type; tests/test_registry.cpp checks).
std::span<const ParamSpec* const> all_params();
const ParamSpec* find_param(std::string_view key);
// The variant's own declaration of `key`, or null when it has no such parameter.
const ParamSpec* variant_param(Variant v, std::string_view key);

}  // namespace attnio
