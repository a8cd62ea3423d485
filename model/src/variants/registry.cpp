// The registry: every variant attnio models, in the report's order. Adding a variant is one file
// under model/src/variants/ and one line in ATTNIO_VARIANTS below.
#include <algorithm>
#include <vector>

#include "attnio/model/errors.hpp"
#include "attnio/model/variant.hpp"

namespace attnio {

// The variants in the report's order, one line each: NAME is the file's NAME_variant() accessor.
#define ATTNIO_VARIANTS(X) \
  X(standard)              \
  X(flash1)                \
  X(flash2)                \
  X(block_sparse)          \
  X(sliding_window)        \
  X(flex)                  \
  X(sigmoid)               \
  X(gated)                 \
  X(gau)                   \
  X(chunked)               \
  X(clustered)             \
  X(flash_decoding)        \
  X(paged)                 \
  X(selective)             \
  X(shared_prefix)         \
  X(mla)                   \
  X(linear)                \
  X(performer)             \
  X(mamba)                 \
  X(mamba_naive)           \
  X(mamba2)                \
  X(fnet)                  \
  X(longconv)              \
  X(monarch)               \
  X(ring)                  \
  X(dilated)

namespace detail {
#define ATTNIO_DECLARE(name) const VariantDescriptor& name##_variant();
ATTNIO_VARIANTS(ATTNIO_DECLARE)
#undef ATTNIO_DECLARE
}  // namespace detail

namespace {

const std::vector<Variant>& registry() {
#define ATTNIO_LIST(name) detail::name##_variant(),
  static const std::vector<Variant> variants = {ATTNIO_VARIANTS(ATTNIO_LIST)};
#undef ATTNIO_LIST
  return variants;
}

const std::vector<const ParamSpec*>& params() {
  static const std::vector<const ParamSpec*> list = [] {
    std::vector<const ParamSpec*> out;
    for (Variant v : registry()) {
      for (const ParamSpec* p : v->params) {
        if (std::none_of(out.begin(), out.end(), [&](const ParamSpec* q) { return q->key == p->key; })) out.push_back(p);
      }
    }
    return out;
  }();
  return list;
}

}  // namespace

std::span<const Variant> all_variants() { return registry(); }

std::optional<Variant> find_variant(std::string_view name) {
  for (Variant v : registry()) {
    if (v.name() == name) return v;
  }
  return std::nullopt;
}

Variant parse_variant(std::string_view name) {
  if (auto v = find_variant(name)) return *v;
  std::string known;
  for (Variant v : registry()) known += (known.empty() ? "" : ", ") + std::string(v.name());
  throw InputError("unknown variant '" + std::string(name) + "' (known: " + known + ", all)");
}

std::size_t variant_index(Variant v) {
  const auto& all = registry();
  return static_cast<std::size_t>(std::find(all.begin(), all.end(), v) - all.begin());
}

Variant default_variant() { return detail::flash2_variant(); }
std::string_view to_string(Variant v) { return v.name(); }
std::string_view variant_summary(Variant v) { return v->summary; }

std::span<const ParamSpec* const> all_params() { return params(); }

const ParamSpec* find_param(std::string_view key) {
  for (const ParamSpec* p : params()) {
    if (same_key(p->key, key)) return p;
  }
  return nullptr;
}

const ParamSpec* variant_param(Variant v, std::string_view key) {
  for (const ParamSpec* p : v->params) {
    if (same_key(p->key, key)) return p;
  }
  return nullptr;
}

std::string flag_name(const ParamSpec& p) {
  std::string s(p.key);
  std::replace(s.begin(), s.end(), '_', '-');
  return s;
}

// ---- ParamSet -----------------------------------------------------------------------------------

const ParamSet::Entry* ParamSet::find(std::string_view key) const {
  for (int i = 0; i < size_; ++i) {
    if (same_key(entries_[i].key, key)) return &entries_[i];
  }
  return nullptr;
}

ParamSet::Entry& ParamSet::slot(std::string_view key) {
  const ParamSpec* spec = find_param(key);
  if (!spec) throw InputError("unknown variant parameter '" + std::string(key) + "'");
  return slot(*spec);
}

ParamSet::Entry& ParamSet::slot(const ParamSpec& p) {
  const ParamSpec* spec = &p;
  for (int i = 0; i < size_; ++i) {
    if (same_key(entries_[i].key, spec->key)) return entries_[i];
  }
  if (size_ == kCapacity) throw InputError("internal: too many variant parameters (a bug in attnio)");
  // Keep the entries sorted by key so that equal sets compare equal.
  int at = size_;
  while (at > 0 && entries_[at - 1].key > spec->key) {
    entries_[at] = entries_[at - 1];
    --at;
  }
  ++size_;
  entries_[at] = Entry{spec->key, 0, 0};
  return entries_[at];
}

void ParamSet::set_count(std::string_view key, std::uint64_t v) {
  Entry& e = slot(key);
  e.count = v;
  e.real = 0;
}
void ParamSet::set_real(std::string_view key, double v) {
  Entry& e = slot(key);
  e.real = v;
  e.count = 0;
}
void ParamSet::set_count(const ParamSpec& p, std::uint64_t v) {
  Entry& e = slot(p);
  e.count = v;
  e.real = 0;
}
void ParamSet::set_real(const ParamSpec& p, double v) {
  Entry& e = slot(p);
  e.real = v;
  e.count = 0;
}
void ParamSet::erase(std::string_view key) {
  for (int i = 0; i < size_; ++i) {
    if (!same_key(entries_[i].key, key)) continue;
    for (int j = i + 1; j < size_; ++j) entries_[j - 1] = entries_[j];
    entries_[--size_] = Entry{};
    return;
  }
}
bool ParamSet::operator==(const ParamSet& o) const {
  return size_ == o.size_ && std::equal(entries_.begin(), entries_.begin() + size_, o.entries_.begin());
}

}  // namespace attnio
