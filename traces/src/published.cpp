#include "attnio/traces/published.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <map>
#include <string_view>
#include <sstream>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/simulate.hpp"
#include "attnio/model/variant.hpp"

namespace attnio::traces {

namespace {

#include "published_csv.inc"

constexpr std::size_t kColumns = std::size(kPublishedColumns);

class Where {
public:
  Where(const std::string& path, std::size_t line) : path_(path), line_(line) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError("published table '" + path_ + "' line " + std::to_string(line_) + ": " + what);
  }

private:
  const std::string& path_;
  std::size_t line_;
};

// One CSV record (RFC 4180: fields in double quotes may hold commas; "" is a quote).
std::vector<std::string> split_csv(const std::string& line, const Where& at) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"' && out.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  if (quoted) at.fail("unterminated quoted field");
  return out;
}

std::uint64_t whole(const std::string& s, const char* field, const Where& at) {
  std::uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) at.fail("field '" + std::string(field) + "': '" + s + "' is not a whole number");
  return v;
}

// The params field: key=value pairs joined by ';', each a parameter the row's variant declares,
// within its declared range (whole numbers for count parameters).
void set_params(Workload& w, const std::string& field, const Where& at) {
  std::size_t begin = 0;
  while (begin <= field.size()) {
    const std::size_t end = std::min(field.find(';', begin), field.size());
    const std::string pair = field.substr(begin, end - begin);
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      at.fail("field 'params': '" + pair + "' is not key=value");
    }
    const std::string key = pair.substr(0, eq), value = pair.substr(eq + 1);
    const ParamSpec* p = variant_param(w.variant, key);
    if (p == nullptr) at.fail("field 'params': '" + key + "' is not a parameter of variant " + std::string(w.variant.name()));
    if (w.params.has(key)) at.fail("field 'params': '" + key + "' is given twice");
    double v = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    const bool whole_number = p->type == ParamType::real || (v >= 0 && v == std::floor(v) && v < 0x1p63);
    if (ec != std::errc() || ptr != value.data() + value.size() || !std::isfinite(v) || !whole_number) {
      at.fail("field 'params': " + key + "='" + value + "' is not a value of --" + flag_name(*p));
    }
    if (p->type == ParamType::real) w.params.set_real(*p, v);
    else w.params.set_count(*p, static_cast<std::uint64_t>(v));
    try {
      check_param(*p, *w.params.find(key));  // its declared range, as the CLI checks it
    } catch (const InputError& e) {
      at.fail("field 'params': " + std::string(e.what()));
    }
    begin = end + 1;
  }
}

double number(const std::string& s, const char* field, const Where& at) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v) || v <= 0) {
    at.fail("field '" + std::string(field) + "': '" + s + "' is not a positive number");
  }
  return v;
}

bool known_metric(const std::string& m) {
  return m == "tflops" || m == "time_us" || m == "time_ms" || m == "time_s" || m == "gbps" || m == "bw_util_pct" ||
         m == "dram_read_mb" || m == "dram_write_mb" || m == "duration_us";
}

bool counter_metric(const std::string& m) { return m == "dram_read_mb" || m == "dram_write_mb" || m == "duration_us"; }

}  // namespace

std::string_view to_string(CounterKind k) {
  switch (k) {
    case CounterKind::dram_read: return "dram_read";
    case CounterKind::dram_write: return "dram_write";
    case CounterKind::duration: return "duration";
  }
  return "?";
}

std::optional<PublishedCounter> published_counter(const PublishedRow& r) {
  if (!counter_metric(r.metric)) return std::nullopt;
  PublishedCounter c;
  c.kind = r.metric == "duration_us" ? CounterKind::duration
           : r.metric == "dram_write_mb" ? CounterKind::dram_write
                                         : CounterKind::dram_read;
  if (r.flop_convention.rfind("ncu:", 0) == 0) c.kernel = r.flop_convention.substr(4);
  if (c.kind == CounterKind::duration) c.seconds = r.value * 1e-6;
  else c.bytes = r.value * 1e6;  // Nsight Compute's Mbyte
  return c;
}

std::optional<double> published_time_s(const PublishedRow& r, std::string* why) {
  if (counter_metric(r.metric)) {
    if (why) *why = r.metric == "duration_us" ? "a counter row (one kernel under a profiler, not a call's time)"
                                              : "a counter row (bytes, not a time)";
    return std::nullopt;
  }
  if (r.metric == "time_s") return r.value;
  if (r.metric == "time_ms") return r.value * 1e-3;
  if (r.metric == "time_us") return r.value * 1e-6;
  const Workload& w = r.workload;
  if (r.metric == "tflops" && r.flop_convention == "fa") {
    // FlashAttention-2 §4.1: 4·seqlen²·head_dim·heads·batch for the forward pass, halved for
    // causal, 2.5x for the backward pass (fwd+bwd: 3.5x).
    const double n = static_cast<double>(w.phase == Phase::decode ? 1 : w.seq);
    const double nk = static_cast<double>(w.kv_len == 0 ? w.seq : w.kv_len);
    double flops = 4.0 * static_cast<double>(w.batch) * static_cast<double>(w.heads) * n * nk * static_cast<double>(w.head_dim);
    if (w.causal) flops /= 2;
    if (w.pass == Pass::bwd) flops *= 2.5;
    if (w.pass == Pass::fwdbwd) flops *= 3.5;
    return flops / (r.value * 1e12);
  }
  if (r.metric == "bw_util_pct" && r.kvq_bytes_per_s > 0) {
    // FlashInfer's blog ('Metrics'): bandwidth utilisation = bytes the kernel reads / its time / the
    // hardware bandwidth, the bytes being the decode's inputs, K and V of every cached token of
    // every K/V head and the query: (2 B Nk Hkv d + B H d) elements.
    const double e = static_cast<double>(dtype_bytes(w.dtype));
    const double bytes = (2.0 * static_cast<double>(w.batch) * static_cast<double>(w.kv_len) * static_cast<double>(w.kv_heads) +
                          static_cast<double>(w.batch) * static_cast<double>(w.heads)) *
                         static_cast<double>(w.head_dim) * e;
    return bytes / (r.value / 100 * r.kvq_bytes_per_s);
  }
  if (why) *why = "metric '" + r.metric + "' with convention '" + r.flop_convention + "' has no time conversion";
  return std::nullopt;
}

PublishedTable parse_published(const std::string& text, const std::string& path) {
  PublishedTable table;
  std::vector<PublishedRow>& rows = table.rows;
  std::istringstream in(text);
  std::string line;
  std::size_t n = 0;
  bool header = false;
  std::size_t columns = kColumns;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const Where at(path, n);
    if (line.rfind("# ratchet: median <= ", 0) == 0) {
      table.ratchet_median_pct = number(line.substr(21), "ratchet", at);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const std::vector<std::string> f = split_csv(line, at);
    if (!header) {
      // All the columns of traces/published.hpp, or all but the optional last four (sm_clock_mhz,
      // l2_start, grads, params), last three, two or one.
      if (f.size() > kColumns || f.size() + 4 < kColumns) {
        at.fail("header must be the " + std::to_string(kColumns) + " columns of traces/published.hpp (the last four, " +
                kPublishedColumns[kColumns - 4] + ", " + kPublishedColumns[kColumns - 3] + ", " + kPublishedColumns[kColumns - 2] +
                " and " + kPublishedColumns[kColumns - 1] + ", may be left out from the end)");
      }
      for (std::size_t i = 0; i < f.size(); ++i) {
        if (f[i] != kPublishedColumns[i]) at.fail("header column " + std::to_string(i + 1) + " is '" + f[i] + "', expected '" + kPublishedColumns[i] + "'");
      }
      columns = f.size();
      header = true;
      continue;
    }
    if (f.size() != columns) at.fail(std::to_string(f.size()) + " fields, expected " + std::to_string(columns));
    PublishedRow r;
    r.line = n;
    r.source = f[0];
    r.locator = f[1];
    r.read = f[2];
    r.gpu = f[3];
    r.impl = f[4];
    r.variant = f[5];
    r.metric = f[16];
    r.flop_convention = f[18];
    r.notes = f[19];
    if (r.source.empty() || r.locator.empty()) at.fail("every row names its source and where in it");
    if (r.read != "text" && r.read != "table" && r.read != "bar-label" && r.read != "plot-by-eye") {
      at.fail("field 'read': '" + r.read + "' (known: text, table, bar-label, plot-by-eye)");
    }
    if (!known_metric(r.metric)) {
      at.fail("field 'metric': '" + r.metric +
              "' (known: tflops, time_us, time_ms, time_s, gbps, bw_util_pct, dram_read_mb, dram_write_mb, duration_us)");
    }
    const bool ncu = r.flop_convention == "ncu" || (r.flop_convention.rfind("ncu:", 0) == 0 && r.flop_convention.size() > 4);
    if (counter_metric(r.metric) != ncu) {
      at.fail("field 'flop_convention': '" + r.flop_convention + "' (a counter metric takes ncu or ncu:KERNEL, and only it)");
    }
    // Bandwidth utilisation comes with the bandwidth the source divides by: kvq:GBPS.
    const bool kvq = r.flop_convention.rfind("kvq:", 0) == 0;
    if (kvq) r.kvq_bytes_per_s = number(r.flop_convention.substr(4), "flop_convention (kvq:GB/s)", at) * 1e9;
    if ((r.metric == "bw_util_pct") != kvq) {
      at.fail("field 'flop_convention': '" + r.flop_convention + "' (bw_util_pct takes kvq:GBPS, the bandwidth the source divides by, and only it)");
    }

    Workload& w = r.workload;
    try {
      w.variant = parse_variant(f[5]);
      w.dtype = parse_dtype(f[6]);
      w.pass = parse_pass(f[7]);
      w.phase = parse_phase(f[8]);
    } catch (const InputError& e) {
      at.fail(e.what());
    }
    w.batch = whole(f[9], "batch", at);
    w.heads = whole(f[10], "heads", at);
    w.kv_heads = whole(f[11], "kv_heads", at);
    w.seq = whole(f[12], "seq", at);
    w.kv_len = whole(f[13], "kv_len", at);
    w.head_dim = whole(f[14], "head_dim", at);
    if (f[15] != "0" && f[15] != "1") at.fail("field 'causal': '" + f[15] + "' is not 0 or 1");
    w.causal = f[15] == "1";
    // In decode the cache length is the workload's sequence (attnio's --seq in decode).
    if (w.phase == Phase::decode) w.seq = w.kv_len;
    r.value = number(f[17], "value", at);
    if (r.metric == "bw_util_pct" && r.value > 100) at.fail("field 'value': '" + f[17] + "' is not a bandwidth utilisation in percent (0-100]");
    if (r.metric == "bw_util_pct" && (w.phase != Phase::decode || w.pass != Pass::fwd)) {
      at.fail("field 'metric': bw_util_pct counts a decode's bytes (one query token, forward); this row is " +
              std::string(to_string(w.phase)) + " " + std::string(to_string(w.pass)));
    }
    if (columns > 20 && !f[20].empty()) {
      const double mhz = number(f[20], "sm_clock_mhz", at);
      if (!(mhz >= 100 && mhz <= 5000)) at.fail("field 'sm_clock_mhz': '" + f[20] + "' is not an SM clock in MHz (100-5000)");
      r.sm_clock_hz = mhz * 1e6;
    }
    if (columns > 21 && !f[21].empty()) {
      if (f[21] != "clean" && f[21] != "dirty") at.fail("field 'l2_start': '" + f[21] + "' is not clean or dirty");
      r.workload.dirty_l2 = f[21] == "dirty";
    }
    if (columns > 22 && !f[22].empty()) {
      if (f[22] != "fresh" && f[22] != "accumulate") at.fail("field 'grads': '" + f[22] + "' is not fresh or accumulate");
      if (f[22] == "accumulate" && r.workload.pass == Pass::fwd) at.fail("field 'grads': accumulate describes a timed backward; this row is fwd");
      r.workload.accumulate_grads = f[22] == "accumulate";
    }
    if (columns > 23 && !f[23].empty()) set_params(r.workload, f[23], at);
    rows.push_back(std::move(r));
  }
  if (!header) throw InputError("published table '" + path + "': no header line");
  return table;
}

PublishedTable read_published(const std::string& path) {
  return parse_published(read_input_file(path, "published table", 16u << 20), path);
}

PublishedTable shipped_published() { return parse_published(shipped_published_csv(), "validation/published.csv"); }

const ImplProfile* profile_for(const std::string& impl) {
  static const std::pair<std::string_view, std::string_view> kMap[] = {
      {"fa1", "fa1"},         {"fa2", "fa2"},           {"fa2-v2.0", "fa2-v2.0"},     {"fa2-splitkv", "fa2-splitkv-2.3"},
      {"fa3", "fa3"},         {"fa3-fp8", "fa3"},       {"cudnn", "cudnn"},       {"triton", "triton"},
      {"xformers", "xformers"}, {"pytorch", "pytorch"}, {"flashmla", "flashmla"}, {"vllm-paged-v1", "vllm-paged"},
      {"vllm-paged-v2", "vllm-paged"}, {"thunderkittens", "thunderkittens"},
      // PyTorch SDPA's EFFICIENT_ATTENTION backend: xFormers' kernels, vendored (impl.cpp).
      {"pytorch-mem-efficient", "pytorch-mem-efficient"},
      // FlashInfer's CUDA-core decode kernels (its blog's "FlashInfer" and "CUDA Cores" series) and
      // its GQA decode on the prefill kernels ("Tensor Cores").
      {"flashinfer-decode-paged", "flashinfer-decode"}, {"flashinfer-decode-cudacore", "flashinfer-decode"},
      {"flashinfer-decode-tensorcore", "flashinfer-decode-tc"},
      // PyTorch's FlexAttention (torch.nn.attention.flex_attention under torch.compile).
      {"flexattn", "flexattn"},
      // Mamba's fused selective scan (selective_scan_cuda) and Mamba-2's SSD Triton kernels.
      {"mamba-scan", "mamba-scan"}, {"mamba-ssd", "mamba-ssd"},
      // flash_attn_with_kvcache with a block table (flash-attn 2.5.x in vLLM PR #2744, 2024-02): the
      // split-KV kernel and heuristic of those releases.
      {"fa2-paged", "fa2-splitkv-2.3"}};
  for (const auto& [row, key] : kMap) {
    if (row == impl) return find_impl_or_null(key);
  }
  return nullptr;
}

namespace {

// The prediction a row is held against on `dev`, or nullopt with `why` set.
std::optional<Prediction> predict_row(const PublishedRow& r, const Device& dev, const ImplProfile* forced, std::string* why) {
  Workload w = r.workload;
  const ImplProfile* own = profile_for(r.impl);
  if (!own || !impl_mismatch(*own, w.variant.name(), dev).empty()) {
    // Another implementation's profile would predict some other code, not this row's: a number
    // that checks nothing (a naive per-sequence PyTorch loop is not FlashMLA). Skipped under a
    // forced profile too, so that a baseline (--model-impl ideal) covers the same rows.
    *why = "no profile of its own for '" + r.impl + "' running '" + std::string(w.variant.name()) + "'";
    return std::nullopt;
  }
  const ImplProfile* profile = forced ? forced : own;
  if (impl_mismatch(*profile, w.variant.name(), dev).empty()) w.impl = profile;  // else the variant's default
  // A row that names vLLM's kernel version measured that kernel, whatever vLLM would have chosen.
  if (r.impl == "vllm-paged-v1") w.set("paged_version", 1);
  if (r.impl == "vllm-paged-v2") w.set("paged_version", 2);
  try {
    return predict(dev, w);
  } catch (const InputError& e) {
    *why = std::string("the model refuses the shape: ") + e.what();
    return std::nullopt;
  }
}

}  // namespace

std::string params_text(const Workload& w) {
  std::string out;
  for (const ParamSet::Entry& e : w.params.entries()) {
    const ParamSpec* p = variant_param(w.variant, e.key);
    if (!out.empty()) out += ';';
    std::ostringstream v;
    if (p != nullptr && p->type == ParamType::real) v << e.real;
    else v << e.count;
    out += std::string(e.key) + "=" + v.str();
  }
  return out;
}

namespace {

// Simulations by workload, so that a workload's read and write counter rows share one run.
using SimCache = std::map<std::string, std::optional<SimResult>>;

// The row's own fields and its params fix its workload, so two rows that differ only in their
// counter share a key.
std::string sim_key(const Device& dev, const PublishedRow& r) {
  std::ostringstream k;
  const Workload& w = r.workload;
  k << dev.key << '|' << r.impl << '|' << w.variant.name() << '|' << static_cast<int>(w.dtype) << '|'
    << static_cast<int>(w.pass) << '|' << static_cast<int>(w.phase) << '|' << w.batch << '|' << w.heads << '|'
    << w.kv_heads << '|' << w.seq << '|' << w.kv_len << '|' << w.head_dim << '|' << w.causal << '|' << w.dirty_l2 << '|' << w.accumulate_grads
    << '|' << params_text(w);
  return k.str();
}

// A counter row against the closed form's bytes for the same kernel(s) and, where it can replay
// exactly those kernels, the tile simulator's.
// The prediction's kernels a counter row covers: the one it names, or all of them ("ncu"). Empty
// with `why` set when the named kernel is not in the prediction.
std::vector<const KernelCost*> counted_kernels(const PublishedCounter& c, const Prediction& p, std::string* why) {
  std::vector<const KernelCost*> out;
  for (int i = 0; i < p.kernel_count(); ++i) {
    if (c.kernel.empty() || p.kernels[i].name == c.kernel) out.push_back(&p.kernels[i]);
  }
  if (out.empty()) {
    std::string names;
    for (int i = 0; i < p.kernel_count(); ++i) names += std::string(i ? ", " : "") + std::string(p.kernels[i].name);
    *why = "no kernel '" + c.kernel + "' in the prediction (its kernels: " + names + ")";
  }
  return out;
}

// A duration row against the kernel(s) as the profiler replays them (profiled_kernel). A named
// kernel must be one launch: the profiler timed one.
void validate_duration(ValidatedRow& v, const PublishedCounter& c, const Prediction& p, const Device& dev) {
  const std::vector<const KernelCost*> ks = counted_kernels(c, p, &v.skipped_why);
  if (ks.empty()) return;
  double seconds = 0;
  std::string bound(to_string(p.bound));
  for (const KernelCost* k : ks) {
    if (!c.kernel.empty() && k->launches != 1) {
      v.skipped_why = "kernel '" + c.kernel + "' stands for " + std::to_string(k->launches) +
                      " launches in the prediction; a duration row times one";
      return;
    }
    const KernelCost::Exec x = profiled_kernel(*k, dev, p.workload);
    seconds += x.time_s * static_cast<double>(p.workload.layers);
    if (!c.kernel.empty()) bound = std::string(to_string(x.bound));  // the named kernel's own
  }
  v.counter = true;
  v.published_s = c.seconds;
  v.predicted_s = seconds;
  v.error_pct = (seconds - c.seconds) / c.seconds * 100.0;
  v.bound = bound;
  v.profile = std::string(p.impl->key);
}

void validate_counter(ValidatedRow& v, const PublishedCounter& c, const Prediction& p, const Device& dev, SimCache* cache) {
  if (c.kind == CounterKind::duration) return validate_duration(v, c, p, dev);
  const bool write = c.kind == CounterKind::dram_write;
  const std::vector<const KernelCost*> ks = counted_kernels(c, p, &v.skipped_why);
  if (ks.empty()) return;
  double bytes = 0;
  for (const KernelCost* k : ks) bytes += (write ? k->hbm_write : k->hbm_read).d() * static_cast<double>(p.workload.layers);
  v.counter = true;
  v.published_bytes = c.bytes;
  v.predicted_bytes = bytes;
  v.bytes_error_pct = (bytes - c.bytes) / c.bytes * 100.0;
  v.bound = std::string(to_string(p.bound));
  v.profile = std::string(p.impl->key);
  if (c.kernel.empty() || p.kernel_count() == 1) {
    const auto run = [&]() -> std::optional<SimResult> {
      try {
        return simulate(dev, p.workload, SimOptions{});
      } catch (const InputError&) {
        return std::nullopt;  // no tile schedule for the variant: the closed form alone
      }
    };
    std::optional<SimResult> local;
    const std::optional<SimResult>* s = &local;
    if (cache) {
      const std::string key = sim_key(dev, *v.row);
      auto it = cache->find(key);
      if (it == cache->end()) it = cache->emplace(key, run()).first;
      s = &it->second;
    } else {
      local = run();
    }
    if (*s) {
      const double sim = (write ? (*s)->hbm_write_bytes : (*s)->hbm_read_bytes).d();
      v.simulated_bytes = sim;
      v.sim_bytes_error_pct = (sim - c.bytes) / c.bytes * 100.0;
    }
  }
}

ValidatedRow validate_row_cached(const PublishedRow& r, const Device& dev, const ImplProfile* forced, SimCache* cache);

}  // namespace

ValidatedRow validate_row(const PublishedRow& r, const Device& dev, const ImplProfile* forced) {
  return validate_row_cached(r, dev, forced, nullptr);
}

namespace {

ValidatedRow validate_row_cached(const PublishedRow& r, const Device& unlocked, const ImplProfile* forced, SimCache* cache) {
  ValidatedRow v;
  v.row = &r;
  // A row that states its SM clock is predicted at it.
  std::optional<Device> locked;
  if (r.sm_clock_hz > 0) {
    try {
      locked = unlocked.with_locked_clock(r.sm_clock_hz, "sm_clock_mhz");
    } catch (const InputError& e) {
      v.skipped_why = e.what();  // a clock this device cannot lock (a device file's clock_hz far from the row's)
      return v;
    }
  }
  const Device& dev = locked ? *locked : unlocked;
  if (const std::optional<PublishedCounter> c = published_counter(r)) {
    if (const std::optional<Prediction> p = predict_row(r, dev, forced, &v.skipped_why)) validate_counter(v, *c, *p, dev, cache);
    return v;
  }
  const std::optional<double> published = published_time_s(r, &v.skipped_why);
  if (!published) return v;
  if (const std::optional<Prediction> p = predict_row(r, dev, forced, &v.skipped_why)) {
    v.published_s = *published;
    v.predicted_s = p->predicted_time_s;
    v.error_pct = (p->predicted_time_s - *published) / *published * 100.0;
    v.bound = std::string(to_string(p->bound));
    v.profile = std::string(p->impl->key);
    v.flops = p->flops().d();
    v.hbm_bytes = p->hbm_bytes().d();
  }
  return v;
}

}  // namespace

std::vector<ValidatedRow> validate_rows(const PublishedTable& table, const std::string& only_impl,
                                        const std::string& force_profile, bool counters) {
  const ImplProfile* forced = force_profile.empty() ? nullptr : &find_impl(force_profile);
  std::vector<ValidatedRow> out;
  SimCache cache;
  for (const PublishedRow& r : table.rows) {
    if (!only_impl.empty() && r.impl != only_impl) continue;
    if (!counters && published_counter(r)) continue;
    const Device* dev = nullptr;
    try {
      dev = &find_device(r.gpu);
    } catch (const InputError&) {
      ValidatedRow v;
      v.row = &r;
      v.skipped_why = "no built-in device '" + r.gpu + "'";
      out.push_back(std::move(v));
      continue;
    }
    out.push_back(validate_row_cached(r, *dev, forced, &cache));
  }
  return out;
}

ErrorSummary summarize(const std::vector<double>& errors) {
  ErrorSummary s;
  s.rows = errors.size();
  if (errors.empty()) return s;
  std::vector<double> v;
  v.reserve(errors.size());
  for (const double e : errors) {
    v.push_back(std::fabs(e));
    if (e < 0) ++s.negative;
  }
  std::sort(v.begin(), v.end());
  for (const double a : v) {
    s.within_10 += a <= 10;
    s.within_25 += a <= 25;
    s.within_40 += a <= 40;
  }
  auto rank = [&](double q) {
    const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  s.median = rank(0.5);
  s.p90 = rank(0.9);
  s.max = v.back();
  return s;
}

std::map<std::string, ErrorSummary> summarize_by_variant(const std::vector<ValidatedRow>& rows) {
  std::map<std::string, std::vector<double>> errors;
  for (const ValidatedRow& v : rows) {
    if (v.counter || !v.skipped_why.empty() || v.row == nullptr) continue;
    errors[std::string(v.row->workload.variant.name())].push_back(v.error_pct);
  }
  std::map<std::string, ErrorSummary> out;
  for (const auto& [name, e] : errors) out[name] = summarize(e);
  return out;
}

std::vector<AgreementGroup> agreement(const std::vector<ValidatedRow>& rows) {
  // The key: what was measured, with the per-head shape for prefill and the whole one for decode.
  // How each source timed it (a stated clock, an L2 left dirty by its flush, gradients added into
  // held .grad tensors) is not in the key:
  // each row's own prediction accounts for it, and the ratio divides it out.
  auto key_of = [](const ValidatedRow& v) {
    const PublishedRow& r = *v.row;
    const Workload& w = r.workload;
    const bool half = w.dtype == Dtype::fp16 || w.dtype == Dtype::bf16;
    std::ostringstream k;
    k << r.impl << '|' << r.gpu << '|' << w.variant.name() << '|' << to_string(w.pass) << '|' << to_string(w.phase)
      << '|' << (half ? std::string_view("16-bit") : to_string(w.dtype)) << '|' << w.causal << '|' << w.query_len()
      << '|' << w.kv_len << '|' << w.head_dim << '|' << w.v_head_dim << '|' << w.heads / std::max<std::uint64_t>(w.kv_heads, 1);
    if (w.phase == Phase::decode) k << '|' << w.batch << '|' << w.heads << '|' << w.kv_heads;
    k << '|' << params_text(w);
    return k.str();
  };
  std::vector<std::string> order;
  std::map<std::string, std::vector<const ValidatedRow*>> by_key;
  for (const ValidatedRow& v : rows) {
    if (v.counter || !v.skipped_why.empty() || v.row == nullptr || v.predicted_s <= 0 || v.published_s <= 0) continue;
    const std::string k = key_of(v);
    auto [it, fresh] = by_key.try_emplace(k);
    if (fresh) order.push_back(k);
    it->second.push_back(&v);
  }
  std::vector<AgreementGroup> out;
  for (const std::string& k : order) {
    const std::vector<const ValidatedRow*>& members = by_key[k];
    std::vector<std::string> sources;
    for (const ValidatedRow* v : members) sources.push_back(v->row->source);
    std::sort(sources.begin(), sources.end());
    const auto distinct = static_cast<std::size_t>(std::distance(sources.begin(), std::unique(sources.begin(), sources.end())));
    if (distinct < 2) continue;
    const PublishedRow& first = *members.front()->row;
    AgreementGroup g;
    g.impl = first.impl;
    g.gpu = first.gpu;
    g.variant = std::string(first.workload.variant.name());
    g.pass = std::string(to_string(first.workload.pass));
    g.phase = std::string(to_string(first.workload.phase));
    const Dtype dt = first.workload.dtype;
    g.dtype = dt == Dtype::fp16 || dt == Dtype::bf16 ? "16-bit" : std::string(to_string(dt));
    g.causal = first.workload.causal;
    g.shape = first.workload;
    g.rows = members;
    g.publications = distinct;
    double qmin = 0, qmax = 0;
    g.min_error_pct = g.max_error_pct = members.front()->error_pct;
    for (const ValidatedRow* v : members) {
      const double q = v->published_s / v->predicted_s;
      qmin = qmin == 0 ? q : std::min(qmin, q);
      qmax = std::max(qmax, q);
      g.min_error_pct = std::min(g.min_error_pct, v->error_pct);
      g.max_error_pct = std::max(g.max_error_pct, v->error_pct);
    }
    g.spread_pct = 100 * (qmax / qmin - 1);
    g.floor_pct = 100 * (qmax - qmin) / (qmax + qmin);
    out.push_back(std::move(g));
  }
  return out;
}

const std::string& shipped_published_csv() {
  static const std::string text(kPublishedCsv, sizeof kPublishedCsv - 1);
  return text;
}

}  // namespace attnio::traces
