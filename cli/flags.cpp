#include "flags.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"
#include "attnio/model/record.hpp"

namespace attnio::cli {

namespace {

using Setter = std::function<void(Workload&)>;

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    out.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool parse_switch(const std::string& flag, const std::string& s) {
  if (s == "on" || s == "true" || s == "1") return true;
  if (s == "off" || s == "false" || s == "0") return false;
  throw InputError("--" + flag + ": '" + s + "' is not on or off");
}

double parse_real(const std::string& flag, const std::string& s) {
  double v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    throw InputError("--" + flag + ": '" + s + "' is not a number");
  }
  return v;
}

}  // namespace

void add_workload_options(po::options_description& d) {
  auto o = d.add_options();
  o("device", po::value<std::string>(), "built-in device (default h100-sxm; see attnio devices)");
  o("device-file", po::value<std::string>(), "load the device from a JSON file");
  o("sm-clock", po::value<std::string>(),
    "SM clock locked at this many MHz (nvidia-smi --lock-gpu-clocks, Nsight Compute's clock control): every SM "
    "pipe and the tensor rate run at it instead of the sustained clock (default: not locked)");
  o("variant", po::value<std::string>(), "variant name or 'all' (default flash2)");
  o("dtype", po::value<std::string>(), "fp32|fp16|bf16|fp8 (default bf16)");
  o("phase", po::value<std::string>(), "prefill|decode (default prefill)");
  o("pass", po::value<std::string>(), "fwd|bwd|fwdbwd (default fwd)");
  o("causal", po::value<std::string>()->implicit_value("on"), "causal mask: --causal, or --causal on|off (default off)");
  o("l2", po::value<std::string>(), "model L2 reuse: on|off (default on)");
  o("l2-start", po::value<std::string>(),
    "the L2 when the call starts: clean, or dirty (full of written lines, as an L2 flush by a memset leaves it: "
    "nvbench's cold timing, triton do_bench, zero_(); written back as the call's kernels evict them) (default clean)");
  o("grads", po::value<std::string>(),
    "backward: fresh (dQ, dK, dV written as new tensors), or accumulate (the timed call also adds them into .grad "
    "tensors that already hold one, as PyTorch does for leaf inputs when a benchmark such as triton do_bench without "
    "grad_to_none does not reset .grad) (default fresh)");
  o("impl", po::value<std::string>(),
    "kernel implementation whose time is predicted (default: what users of the device run; see attnio impls)");
  o("kv-dtype", po::value<std::string>(),
    "decode: the K/V cache format, fp8 (per-tensor scale), int8 or int4 (an fp16 scale and zero point per 32 elements, "
    "KIVI), bf16 or fp16; sets --kv-bits and --kv-group");
  for (const ShapeField& f : shape_fields()) o(f.flag, po::value<std::string>(), f.help);
  // Every variant parameter, from its declaration (model/src/variants/); `attnio variants` lists
  // which variant takes which.
  for (const ParamSpec* p : all_params()) o(flag_name(*p).c_str(), po::value<std::string>(), std::string(p->help).c_str());
}

std::vector<Point> expand(const po::variables_map& vm, const Workload& base, bool allow_lists,
                          std::deque<Device>& storage) {
  // Each axis is a list of setters; the cross product applies one setter from each.
  std::vector<std::vector<Setter>> axes;
  auto values = [&](const char* flag) -> std::vector<std::string> {
    if (!vm.count(flag)) return {};
    auto words = split_words(vm[flag].as<std::string>());
    if (!allow_lists && words.size() > 1 && std::string(flag) != "variant") {
      throw InputError("--" + std::string(flag) + " takes one value here; use 'attnio sweep' for lists");
    }
    return words;
  };

  // Devices, each with its SM clock locked where --sm-clock is given (a copy kept in `storage`, a
  // deque, so that the points' pointers stay valid across calls).
  std::vector<const Device*> devices;
  if (vm.count("device") && vm.count("device-file")) {
    throw InputError("give --device or --device-file, not both");
  }
  double locked_hz = 0;
  if (vm.count("sm-clock")) {
    const std::string text = vm["sm-clock"].as<std::string>();
    if (split_words(text).size() != 1) throw InputError("--sm-clock takes one clock in MHz");
    locked_hz = parse_real("sm-clock", text) * 1e6;
    if (!(locked_hz > 0)) throw InputError("--sm-clock: '" + text + "' is not a clock in MHz above 0");
  }
  auto keep = [&](Device d) {
    if (locked_hz > 0) d = d.with_locked_clock(locked_hz, "--sm-clock");
    storage.push_back(std::move(d));
    devices.push_back(&storage.back());
  };
  auto builtin = [&](const Device& d) {
    if (locked_hz > 0) keep(d);
    else devices.push_back(&d);
  };
  if (vm.count("device-file")) {
    const auto paths = values("device-file");
    if (paths.size() > 16) throw InputError("--device-file: at most 16 files");
    for (const auto& path : paths) keep(load_device_file(path));
  } else if (vm.count("device")) {
    for (const auto& name : values("device")) builtin(find_device(name));
  } else {
    builtin(default_device());
  }

  // Variants, with 'all' remembered so inapplicable combinations are skipped, not errors.
  std::vector<std::pair<Variant, bool>> variants;
  for (const auto& name : values("variant")) {
    if (name == "all") {
      for (Variant v : all_variants()) variants.emplace_back(v, true);
    } else {
      variants.emplace_back(parse_variant(name), false);
    }
  }
  if (variants.empty()) variants.emplace_back(base.variant, false);
  if (!allow_lists && variants.size() > 1 && !(vm.count("variant") && vm["variant"].as<std::string>() == "all")) {
    throw InputError("--variant takes one name or 'all' here; use 'attnio sweep' for lists");
  }

  auto word_axis = [&](const char* flag, auto apply) {
    std::vector<Setter> axis;
    for (const auto& s : values(flag)) axis.push_back(apply(s));
    if (!axis.empty()) axes.push_back(std::move(axis));
  };
  word_axis("phase", [](const std::string& s) { Phase p = parse_phase(s); return Setter([p](Workload& w) { w.phase = p; }); });
  word_axis("pass", [](const std::string& s) { Pass p = parse_pass(s); return Setter([p](Workload& w) { w.pass = p; }); });
  word_axis("dtype", [](const std::string& s) { Dtype d = parse_dtype(s); return Setter([d](Workload& w) { w.dtype = d; }); });
  word_axis("causal", [](const std::string& s) { bool c = parse_switch("causal", s); return Setter([c](Workload& w) { w.causal = c; }); });
  word_axis("l2", [](const std::string& s) { bool c = parse_switch("l2", s); return Setter([c](Workload& w) { w.l2 = c; }); });
  word_axis("l2-start", [](const std::string& s) {
    if (s != "clean" && s != "dirty") throw InputError("--l2-start '" + s + "': expected clean or dirty");
    const bool dirty = s == "dirty";
    return Setter([dirty](Workload& w) { w.dirty_l2 = dirty; });
  });
  word_axis("grads", [](const std::string& s) {
    if (s != "fresh" && s != "accumulate") throw InputError("--grads '" + s + "': expected fresh or accumulate");
    const bool accumulate = s == "accumulate";
    return Setter([accumulate](Workload& w) { w.accumulate_grads = accumulate; });
  });
  word_axis("impl", [](const std::string& s) { const ImplProfile* p = &find_impl(s); return Setter([p](Workload& w) { w.impl = p; }); });
  for (const ShapeField& f : shape_fields()) {
    if (!vm.count(f.flag)) continue;
    const auto list = parse_uint_list(f.flag, vm[f.flag].as<std::string>());
    if (!allow_lists && list.size() > 1) {
      throw InputError("--" + std::string(f.flag) + " takes one value here; use 'attnio sweep' for lists");
    }
    std::vector<Setter> axis;
    for (std::uint64_t v : list) axis.push_back([m = f.member, v](Workload& w) { w.*m = v; });
    axes.push_back(std::move(axis));
  }

  // Variant parameters: each applies to the variants that declare it; one that no variant of the
  // expansion declares is refused, naming them.
  for (const ParamSpec* p : all_params()) {
    const std::string flag = flag_name(*p);
    if (!vm.count(flag)) continue;
    const bool used = std::any_of(variants.begin(), variants.end(),
                                  [&](const auto& v) { return variant_param(v.first, p->key) != nullptr; });
    if (!used) {
      std::string names;
      for (const auto& v : variants) names += (names.empty() ? "" : ", ") + std::string(v.first.name());
      throw InputError("--" + flag + " does not apply to " + names);
    }
    std::vector<Setter> axis;
    if (p->type == ParamType::real) {
      for (const auto& word : values(flag.c_str())) {
        const double v = parse_real(flag, word);
        axis.push_back([key = p->key, v](Workload& w) { w.set_real(key, v); });
      }
    } else {
      // 0 is a value where the parameter's range starts there or 0 means "the model chooses".
      const auto list = parse_uint_list(flag, vm[flag].as<std::string>(), 100000, p->min <= 0 || p->zero_is_auto);
      if (!allow_lists && list.size() > 1) {
        throw InputError("--" + flag + " takes one value here; use 'attnio sweep' for lists");
      }
      for (std::uint64_t v : list) axis.push_back([key = p->key, v](Workload& w) { w.set(key, v); });
    }
    axes.push_back(std::move(axis));
  }

  // --kv-dtype: a name for --kv-bits and --kv-group (common.hpp kv_row_bytes).
  if (vm.count("kv-dtype")) {
    if (vm.count("kv-bits")) throw InputError("give --kv-dtype or --kv-bits, not both");
    const bool used = std::any_of(variants.begin(), variants.end(),
                                  [&](const auto& v) { return variant_param(v.first, "kv_bits") != nullptr; });
    if (!used) {
      std::string names;
      for (const auto& v : variants) names += (names.empty() ? "" : ", ") + std::string(v.first.name());
      throw InputError("--kv-dtype does not apply to " + names + " (the decode kernels flash-decoding, paged and mla read a quantized cache)");
    }
    const bool group_given = vm.count("kv-group") != 0;
    word_axis("kv-dtype", [group_given](const std::string& s) {
      const KvFormat f = parse_kv_dtype(s);
      return Setter([f, group_given](Workload& w) {
        w.set("kv_bits", f.bits);
        if (!group_given && f.group != 0) w.set("kv_group", f.group);
      });
    });
  }

  double total = static_cast<double>(devices.size() * variants.size());
  for (const auto& a : axes) total *= static_cast<double>(a.size());
  if (total > 1e6) throw InputError("sweep of " + std::to_string(static_cast<long long>(total)) + " points is larger than 1,000,000");

  std::vector<Point> points;
  std::vector<std::size_t> idx(axes.size(), 0);
  for (const Device* dev : devices) {
    for (const auto& [variant, from_all] : variants) {
      std::fill(idx.begin(), idx.end(), 0);
      while (true) {
        Workload w = base;
        for (std::size_t a = 0; a < axes.size(); ++a) axes[a][idx[a]](w);
        w = for_variant(w, variant);
        points.push_back({dev, w, from_all});
        std::size_t a = axes.size();
        while (a > 0) {
          --a;
          if (++idx[a] < axes[a].size()) break;
          idx[a] = 0;
          if (a == 0) { a = SIZE_MAX; break; }
        }
        if (axes.empty() || a == SIZE_MAX) break;
      }
    }
  }
  return points;
}

std::vector<Point> expand_spec(const std::string& path, std::deque<Device>& storage) {
  return expand_spec_text(read_input_file(path, "spec", 16u << 20), path, storage);
}

std::vector<Point> expand_spec_text(std::string_view text, const std::string& path, std::deque<Device>& storage) {
  namespace json = boost::json;
  json::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec) throw InputError("spec '" + path + "': not valid JSON (" + ec.message() + ")");
  if (!doc.is_object()) throw InputError("spec '" + path + "': expected an object with a \"sweeps\" array");
  for (const auto& kv : doc.as_object()) {
    if (kv.key() != "sweeps" && kv.key() != "description") {
      throw InputError("spec '" + path + "': unknown key '" + std::string(kv.key()) + "' (expected description, sweeps)");
    }
  }
  const json::value* sweeps = doc.as_object().if_contains("sweeps");
  if (!sweeps || !sweeps->is_array() || sweeps->as_array().empty()) {
    throw InputError("spec '" + path + "': \"sweeps\" must be a non-empty array of objects");
  }
  std::vector<Point> points;
  std::size_t index = 0;
  for (const json::value& sweep : sweeps->as_array()) {
    const std::string where = "spec '" + path + "' sweep " + std::to_string(++index);
    if (!sweep.is_object()) throw InputError(where + ": expected an object of flags");
    std::vector<std::string> args;
    for (const auto& kv : sweep.as_object()) {
      const std::string key(kv.key());
      std::string value;
      if (kv.value().is_string()) value = std::string(kv.value().as_string());
      else if (kv.value().is_bool()) value = kv.value().as_bool() ? "on" : "off";
      else if (kv.value().is_int64() || kv.value().is_uint64() || kv.value().is_double()) value = json::serialize(kv.value());
      else throw InputError(where + ": key '" + key + "' must be a string, number or boolean");
      args.push_back("--" + key);
      args.push_back(value);
    }
    po::options_description desc;
    add_workload_options(desc);
    po::variables_map vm;
    try {
      refuse_unparseable_options(args);
      po::store(po::command_line_parser(args).options(desc).run(), vm);
      po::notify(vm);
    } catch (const po::error& e) {
      throw InputError(where + ": " + e.what());
    }
    try {
      for (Point& p : expand(vm, Workload{}, true, storage)) points.push_back(std::move(p));
      if (points.size() > 1000000) throw InputError("the spec's sweeps hold more than 1,000,000 points");
    } catch (const InputError& e) {
      throw InputError(where + ": " + e.what());
    }
  }
  return points;
}

void refuse_unparseable_options(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a.size() < 2 || a[0] != '-') continue;
    const std::string name = a.substr(0, a.find('='));
    if (name.find('%') != std::string::npos) throw InputError("unknown option '" + name + "'");
  }
}

void refuse_positional(const po::parsed_options& parsed) {
  for (const auto& o : parsed.options) {
    if (o.position_key >= 0) {
      throw InputError("unexpected argument '" + (o.value.empty() ? o.string_key : o.value.front()) + "' (options start with --)");
    }
  }
}

void refuse_flags_with_spec(const po::variables_map& vm) {
  po::options_description desc;
  add_workload_options(desc);
  for (const auto& opt : desc.options()) {
    if (vm.count(opt->long_name())) throw InputError("give --spec or workload flags (--" + opt->long_name() + "), not both");
  }
}

}  // namespace attnio::cli
