// attnio's commands. Every command validates its input, calls the model, prints. Bad input ends with
// one line on stderr and exit code 2.
#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "attnio/model/explain.hpp"
#include "attnio/model/hf_config.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"
#include "attnio/model/simulate.hpp"
#include "attnio/traces/campaign.hpp"
#include "attnio/traces/chrome.hpp"
#include "attnio/traces/compare.hpp"
#ifdef ATTNIO_HAVE_CUPTI
#include "attnio/profiler/activity.hpp"
#include "attnio/profiler/host.hpp"
#include "attnio/profiler/range.hpp"
#endif
#include "attnio/traces/trace.hpp"
#include "reference/attention_ref.hpp"
#include "reference/validate.hpp"
#ifdef ATTNIO_HAVE_KERNELS
#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/kernels/bind.hpp"
#include "attnio/kernels/ceilings.hpp"
#include "attnio/kernels/runner.hpp"
#include <cuda_runtime.h>
#endif
#include <unistd.h>
#include "commands.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace attnio::cli {
namespace {

constexpr int kExitBadInput = 2;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

// Parses `args` against `desc`; returns false (after printing help) when --help was given.
bool parse(const std::string& cmd, const char* usage, po::options_description& desc,
           const std::vector<std::string>& args, po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  desc.add_options()("format", po::value<std::string>()->default_value("table"), "table|csv|json");
  const po::parsed_options parsed = po::command_line_parser(args).options(desc).run();
  refuse_positional(parsed);
  po::store(parsed, vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: attnio " << cmd << " " << usage << "\n\n" << desc << "\n";
    return false;
  }
  return true;
}

Format format_of(const po::variables_map& vm) { return parse_format(vm["format"].as<std::string>()); }

void add_sim_options(po::options_description& desc) {
  desc.add_options()("l2-ways", po::value<std::uint32_t>()->default_value(16), "simulate: L2 associativity");
  desc.add_options()("l2-sample", po::value<std::uint32_t>()->default_value(0),
                     "simulate: simulate every k-th L2 line in a cache k times smaller (1 = exact; 0 = a prime chosen to keep a run near a second)");
  desc.add_options()("trace-out", po::value<std::string>(), "simulate: per-step events as CSV (sampled by CTA when large)");
  desc.add_options()("chrome-trace", po::value<std::string>(), "simulate: CTAs on SMs as Chrome trace JSON (Perfetto)");
}

SimOptions sim_options(const po::variables_map& vm) {
  SimOptions o;
  o.l2_ways = vm["l2-ways"].as<std::uint32_t>();
  o.l2_sample = vm["l2-sample"].as<std::uint32_t>();
  if (vm.count("trace-out")) o.trace_out = vm["trace-out"].as<std::string>();
  if (vm.count("chrome-trace")) o.chrome_trace = vm["chrome-trace"].as<std::string>();
  if (o.l2_ways == 0) throw InputError("--l2-ways must be at least 1");
  if (o.l2_sample > 65536) throw InputError("--l2-sample must be between 1 and 65536 (0 chooses)");
  return o;
}

// The prediction's record plus the simulator's figures beside the formula's.
Record simulation_record(const Device& dev, const SimResult& r) {
  Record rec = to_record(dev, r.formula);
  rec.emplace_back("sim_hbm_read_bytes", r.hbm_read_bytes.v);
  rec.emplace_back("sim_hbm_write_bytes", r.hbm_write_bytes.v);
  rec.emplace_back("sim_hbm_bytes", r.hbm_bytes().v);
  rec.emplace_back("sim_l2_read_bytes", r.l2_read_bytes.v);
  rec.emplace_back("sim_l2_write_bytes", r.l2_write_bytes.v);
  rec.emplace_back("sim_l2_hit_rate", r.l2_hit_rate);
  rec.emplace_back("sim_time_s", r.time_s);
  rec.emplace_back("sim_ctas", r.ctas);
  rec.emplace_back("sim_steps", r.steps);
  rec.emplace_back("sim_l2_sample", static_cast<std::uint64_t>(r.l2_sample));
  return rec;
}

std::vector<Column> simulation_columns() {
  return {{"variant", "variant", 14, Kind::text},      {"phase", "phase", 7, Kind::text},
          {"B", "batch", 3, Kind::count},             {"N", "seq", 6, Kind::count},
          {"Nk", "kv_len", 6, Kind::count},           {"H", "heads", 3, Kind::count},
          {"Hkv", "kv_heads", 3, Kind::count},        {"Br", "block_m", 4, Kind::count},
          {"Bc", "block_n", 4, Kind::count},          {"L2 (formula)", "l2_bytes", 12, Kind::bytes},
          {"HBM (formula)", "hbm_bytes", 13, Kind::bytes}, {"HBM (sim)", "sim_hbm_bytes", 10, Kind::bytes},
          {"L2 hits", "sim_l2_hit_rate", 7, Kind::ratio_percent}, {"time (formula)", "predicted_time_s", 14, Kind::time},
          {"time (sim)", "sim_time_s", 10, Kind::time}};
}

// Evaluates points and prints them as they finish. In a list of several points, combinations that
// do not apply or cannot run (a variant outside its phase, tiles that overflow SRAM, heads not
// divisible by kv-heads) are skipped and counted on stderr, with the first reason; a single
// requested point that cannot run is an error.
int evaluate_and_print(const std::vector<Point>& points, Format format, bool single_object,
                       const SimOptions* sim = nullptr) {
  auto printer = make_printer(format, std::cout, sim ? simulation_columns() : prediction_columns(), single_object);
  std::size_t printed = 0, skipped = 0;
  std::string first_reason;
  for (const Point& pt : points) {
    const Workload w = resolve(pt.workload, *pt.device);
    if (points.size() > 1) {
      if (auto why = not_applicable(w)) {
        if (first_reason.empty()) first_reason = *why;
        ++skipped;
        continue;
      }
    }
    try {
      if (sim) {
        printer->row(simulation_record(*pt.device, simulate(*pt.device, pt.workload, *sim)));
      } else {
        printer->row(to_record(*pt.device, predict(*pt.device, pt.workload)));
      }
    } catch (const InputError& e) {
      if (points.size() == 1) throw;
      if (first_reason.empty()) first_reason = e.what();
      ++skipped;
      continue;
    }
    ++printed;
  }
  if (printed == 0) throw InputError("no combination applies: " + first_reason);
  printer->end();
  if (skipped > 0) {
    std::cerr << "note: skipped " << skipped << " combination(s) that cannot run (e.g. " << first_reason << ")\n";
  }
  return 0;
}

int cmd_predict(const std::vector<std::string>& args) {
  po::options_description desc("predict options");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("predict", "[--variant V|all] [shape flags]", desc, args, vm)) return 0;
  std::vector<Device> storage;
  const auto points = expand(vm, Workload{}, false, storage);
  return evaluate_and_print(points, format_of(vm), points.size() == 1);
}

int cmd_sweep(const std::vector<std::string>& args) {
  po::options_description desc("sweep options (any flag takes a list a,b,c or a range 1024:65536:x2 / 64:512:+64)");
  add_workload_options(desc);
  desc.add_options()("simulate", "run the tile simulator for every point (see attnio simulate)");
  add_sim_options(desc);
  desc.add_options()("spec", po::value<std::string>(), "take the sweeps from a JSON spec file instead of flags (README)");
  po::variables_map vm;
  if (!parse("sweep", "[flags with lists or ranges | --spec FILE.json] [--simulate]", desc, args, vm)) return 0;
  std::vector<Device> storage;
  if (vm.count("spec")) refuse_flags_with_spec(vm);
  const auto points = vm.count("spec") ? expand_spec(vm["spec"].as<std::string>(), storage) : expand(vm, Workload{}, true, storage);
  if (!vm.count("simulate")) return evaluate_and_print(points, format_of(vm), false);
  const SimOptions opt = sim_options(vm);
  if (!opt.trace_out.empty() || !opt.chrome_trace.empty()) throw InputError("sweep --simulate writes no traces; use simulate");
  return evaluate_and_print(points, format_of(vm), false, &opt);
}

int cmd_simulate(const std::vector<std::string>& args) {
  po::options_description desc("simulate options (the predict flags, plus)");
  add_workload_options(desc);
  add_sim_options(desc);
  po::variables_map vm;
  if (!parse("simulate", "[--variant V] [shape flags] [--l2 on|off] [--l2-ways W] [--trace-out F] [--chrome-trace F]",
             desc, args, vm)) {
    return 0;
  }
  const SimOptions opt = sim_options(vm);
  std::vector<Device> storage;
  const auto points = expand(vm, Workload{}, false, storage);
  if (points.size() > 1 && (!opt.trace_out.empty() || !opt.chrome_trace.empty())) {
    throw InputError("--trace-out and --chrome-trace take one variant, not 'all'");
  }
  return evaluate_and_print(points, format_of(vm), points.size() == 1, &opt);
}

int cmd_explain(const std::vector<std::string>& args) {
  po::options_description desc("explain options");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("explain", "--variant V [shape flags]", desc, args, vm)) return 0;
  std::vector<Device> storage;
  if (vm.count("variant") && vm["variant"].as<std::string>() == "all") {
    throw InputError("explain takes one --variant, not 'all'");
  }
  const auto points = expand(vm, Workload{}, false, storage);
  const Prediction p = predict(*points[0].device, points[0].workload);
  if (format_of(vm) != Format::table) {
    auto printer = make_printer(format_of(vm), std::cout, prediction_columns(), true);
    Record r = to_record(*points[0].device, p);
    r.emplace_back("explanation", explain(*points[0].device, p));
    printer->row(r);
    printer->end();
    return 0;
  }
  std::cout << explain(*points[0].device, p);
  return 0;
}

Record device_record(const Device& d) {
  Record r;
  r.emplace_back("key", d.key);
  r.emplace_back("name", d.name);
  r.emplace_back("sm_count", static_cast<std::uint64_t>(d.sm_count));
  r.emplace_back("clock_hz", d.clock_hz);
  r.emplace_back("hbm_bytes_per_s", d.hbm_bytes_per_s);
  r.emplace_back("hbm_capacity_bytes", d.hbm_capacity_bytes);
  r.emplace_back("l2_bytes", d.l2_bytes);
  r.emplace_back("l2_bytes_per_s", d.l2_bytes_per_s);
  r.emplace_back("smem_bytes_per_sm", d.smem_bytes_per_sm);
  r.emplace_back("sram_bytes_per_s", d.sram_bytes_per_s);
  r.emplace_back("register_file_bytes_per_sm", d.register_file_bytes_per_sm);
  r.emplace_back("bf16_tensor_flops_per_s", d.bf16_tensor_flops_per_s);
  r.emplace_back("fp16_tensor_flops_per_s", d.fp16_tensor_flops_per_s);
  r.emplace_back("fp8_tensor_flops_per_s", d.fp8_tensor_flops_per_s);
  r.emplace_back("tf32_tensor_flops_per_s", d.tf32_tensor_flops_per_s);
  r.emplace_back("fp32_flops_per_s", d.fp32_flops_per_s);
  r.emplace_back("sfu_ops_per_s", d.sfu_ops_per_s);
  r.emplace_back("nvlink_bytes_per_s", d.nvlink_bytes_per_s);
  r.emplace_back("launch_overhead_s", d.launch_overhead_s);
  r.emplace_back("measured_hbm_bytes_per_s", d.measured.hbm_bytes_per_s.value_or(0.0));
  r.emplace_back("measured_bf16_tensor_flops_per_s", d.measured.bf16_tensor_flops_per_s.value_or(0.0));
  r.emplace_back("sources", d.sources);
  return r;
}

int cmd_devices(const std::vector<std::string>& args) {
  po::options_description desc("devices options");
  desc.add_options()("device-file", po::value<std::string>(), "also show a device loaded from a JSON file");
  po::variables_map vm;
  if (!parse("devices", "[--format table|csv|json] [--device-file F]", desc, args, vm)) return 0;
  std::vector<Device> devices = builtin_devices();
  if (vm.count("device-file")) devices.push_back(load_device_file(vm["device-file"].as<std::string>()));
  const Format f = format_of(vm);
  if (f == Format::json) {
    // The device-file schema itself, so any entry can be saved and edited as a --device-file.
    std::cout << devices_to_json(devices) << "\n";
    return 0;
  }
  auto printer = make_printer(f, std::cout,
                              {{"key", "key", 10, Kind::text},
                               {"name", "name", 29, Kind::text},
                               {"SMs", "sm_count", 4, Kind::count},
                               {"HBM", "hbm_bytes_per_s", 10, Kind::rate_bytes},
                               {"capacity", "hbm_capacity_bytes", 8, Kind::binary_bytes},
                               {"L2", "l2_bytes", 6, Kind::binary_bytes},
                               {"smem/SM", "smem_bytes_per_sm", 7, Kind::binary_bytes},
                               {"bf16 tensor", "bf16_tensor_flops_per_s", 14, Kind::rate_flops},
                               {"fp32", "fp32_flops_per_s", 13, Kind::rate_flops},
                               {"SFU", "sfu_ops_per_s", 13, Kind::rate_flops},
                               {"NVLink", "nvlink_bytes_per_s", 10, Kind::rate_bytes}},
                              false);
  for (const auto& d : devices) printer->row(device_record(d));
  printer->end();
  return 0;
}

int cmd_models(const std::vector<std::string>& args) {
  po::options_description desc("models options");
  po::variables_map vm;
  if (!parse("models", "[--format table|csv|json]", desc, args, vm)) return 0;
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"name", "name", 12, Kind::text},
                               {"attention", "variant", 14, Kind::text},
                               {"layers", "layers", 6, Kind::count},
                               {"H", "heads", 4, Kind::count},
                               {"Hkv", "kv_heads", 4, Kind::count},
                               {"d", "head_dim", 4, Kind::count},
                               {"description", "description", 0, Kind::text}},
                              false);
  for (const auto& s : shipped_configs()) {
    const ModelConfig c = find_config(std::string(s.name));
    Record r;
    r.emplace_back("name", std::string(s.name));
    r.emplace_back("variant", std::string(to_string(c.native_variant)));
    r.emplace_back("layers", c.layers);
    r.emplace_back("heads", c.heads);
    r.emplace_back("kv_heads", c.kv_heads);
    r.emplace_back("head_dim", c.head_dim);
    r.emplace_back("description", std::string(s.description));
    printer->row(r);
  }
  printer->end();
  return 0;
}

int cmd_model(const std::vector<std::string>& args) {
  po::options_description desc("model options");
  desc.add_options()("config", po::value<std::string>(), "shipped model name (attnio models) or path to a config.json");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("model", "--config NAME|PATH [--seq N] [--batch B] [--device D]", desc, args, vm)) return 0;
  if (!vm.count("config")) throw InputError("model: --config NAME|PATH is required");
  for (const char* f : {"heads", "kv-heads", "head-dim", "v-head-dim", "layers", "phase"}) {
    if (vm.count(f)) throw InputError("model: --" + std::string(f) + " comes from the config; drop it");
  }
  const ModelConfig cfg = find_config(vm["config"].as<std::string>());
  Workload base = cfg.apply(Workload{});
  base.causal = true;
  if (cfg.max_positions != 0 && !vm.count("seq")) base.seq = std::min<std::uint64_t>(4096, cfg.max_positions);
  std::vector<Device> storage;
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"model", "model", 11, Kind::text},
                               {"variant", "variant", 14, Kind::text},
                               {"phase", "phase", 7, Kind::text},
                               {"B", "batch", 3, Kind::count},
                               {"N", "seq", 6, Kind::count},
                               {"Nk", "kv_len", 6, Kind::count},
                               {"layer time", "per_layer_time_s", 10, Kind::time},
                               {"model time", "predicted_time_s", 10, Kind::time},
                               {"model HBM", "hbm_bytes", 9, Kind::bytes},
                               {"AI", "arithmetic_intensity", 7, Kind::ratio},
                               {"bound", "bound", 7, Kind::text},
                               {"ceiling", "binding_ceiling", 7, Kind::text},
                               {"KV cache", "kv_cache_bytes", 9, Kind::bytes}},
                              false);
  for (Phase phase : {Phase::prefill, Phase::decode}) {
    Workload w = base;
    w.phase = phase;
    const auto points = expand(vm, w, false, storage);
    for (const Point& pt : points) {
      const Prediction p = predict(*pt.device, pt.workload);
      Record r = to_record(*pt.device, p);
      r.insert(r.begin(), {"model", cfg.name});
      r.emplace_back("per_layer_time_s", p.predicted_time_s / static_cast<double>(p.workload.layers));
      printer->row(r);
    }
  }
  printer->end();
  return 0;
}

std::vector<Column> report_columns() {
  return {{"variant", "variant", 14, Kind::text},       {"time", "predicted_time_s", 9, Kind::time},
          {"FLOPs", "flops", 11, Kind::flops},          {"HBM", "hbm_bytes", 9, Kind::bytes},
          {"L2", "l2_bytes", 9, Kind::bytes},           {"AI", "arithmetic_intensity", 7, Kind::ratio},
          {"bound", "bound", 7, Kind::text},            {"ceiling", "binding_ceiling", 7, Kind::text},
          {"KV cache", "kv_cache_bytes", 9, Kind::bytes}, {"extra", "extra_memory_bytes", 9, Kind::bytes}};
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? std::string("none") : s;
}

// The main job: every variant, prefill and decode, on a Llama-3-8B-like attention layer (batch 8,
// 4096 tokens, 32 query heads over 8 K/V heads of 128, bf16, causal prefill). Flags override it.
int cmd_report(const std::vector<std::string>& args) {
  po::options_description desc("report options (defaults: a Llama-3-8B attention layer, batch 8, 4096 tokens)");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("report", "[--device D] [shape flags]", desc, args, vm)) return 0;
  if (vm.count("variant") || vm.count("phase")) throw InputError("report runs every variant in both phases; use predict for one");
  const Workload base = llama_like_workload();
  std::vector<Device> storage;
  const Format f = format_of(vm);
  const bool table = f == Format::table;
  // CSV and JSON get one stream of records over both phases; the table gets a section per phase.
  std::unique_ptr<Printer> printer;
  for (Phase phase : {Phase::prefill, Phase::decode}) {
    Workload phase_base = base;
    phase_base.phase = phase;
    if (!printer || table) printer = make_printer(f, std::cout, report_columns(), false);
    std::vector<std::string> dram, on_chip, compute, skipped;
    // The flags once per phase (a --device-file is read once); each variant takes that workload.
    storage.clear();
    const Point pt = expand(vm, phase_base, false, storage).front();
    const Device* dev = pt.device;
    const Workload shown = resolve(pt.workload, *dev);
    if (table) {
      std::cout << (phase == Phase::prefill ? "" : "\n") << "== " << to_string(phase) << " on " << dev->name
                << ": batch " << shown.batch << ", "
                << (phase == Phase::prefill ? std::to_string(shown.seq) + " query tokens over " : "1 new token over ")
                << shown.kv_len << " keys, " << shown.heads << " heads (" << shown.kv_heads << " K/V) of "
                << shown.head_dim << ", " << to_string(shown.dtype)
                << (phase == Phase::prefill && shown.causal ? ", causal" : "") << " ==\n";
    }
    for (Variant v : all_variants()) {
      Workload one = pt.workload;
      one.variant = v;
      if (not_applicable(resolve(one, *dev))) {
        skipped.push_back(std::string(to_string(v)));
        continue;
      }
      const Prediction p = predict(*dev, one);
      printer->row(to_record(*dev, p));
      const bool chip = p.binding_ceiling == Ceiling::l2 || p.binding_ceiling == Ceiling::sram;
      (!p.memory_bound() ? compute : chip ? on_chip : dram).push_back(std::string(to_string(v)));
    }
    if (table) {
      printer->end();
      std::cout << "memory-bound on HBM:             " << join(dram) << "\n"
                << "memory-bound on chip (L2/SRAM): " << join(on_chip) << "\n"
                << "compute-bound:                   " << join(compute) << "\n"
                << "not applicable in " << to_string(phase) << ": " << join(skipped) << "\n"
                << "ridge point: " << static_cast<int>(dev->tensor_rate(shown.dtype) / dev->hbm_rate())
                << " FLOP/byte (tensor " << human_flops(dev->tensor_rate(shown.dtype)) << "/s over HBM "
                << human_bytes(dev->hbm_rate()) << "/s)\n";
    }
  }
  if (!table) printer->end();
  if (table) {
    const bool measured = storage.empty() ? false : storage.front().measured != MeasuredCeilings{};
    std::cout << "\nAI = FLOPs per HBM byte. HBM counts L2 reuse; L2 = bytes crossing the SM-L2 boundary"
                 " (the papers' two-level count).\n"
              << (measured ? "Times use the device file's measured ceilings where it has them."
                           : "Times use datasheet peaks (no measured ceilings).")
              << " 'attnio explain --variant V' derives one variant's numbers.\n";
  }
  return 0;
}

int cmd_bench(const std::vector<std::string>& args) {
  po::options_description desc("bench options");
  desc.add_options()("seconds", po::value<double>()->default_value(1.0), "time to run each variant");
  desc.add_options()("simulate", "time the tile simulator instead (default workload: flash2, N=16384, d=128, batch x heads = 32)");
  add_workload_options(desc);
  add_sim_options(desc);
  po::variables_map vm;
  if (!parse("bench", "[--seconds S] [--variant V|all] [shape flags]", desc, args, vm)) return 0;
  const double seconds = vm["seconds"].as<double>();
  if (!(seconds > 0 && seconds <= 600)) throw InputError("--seconds must be in (0, 600]");
  std::vector<Device> storage;
  const bool sim = vm.count("simulate") != 0;
  Workload base;
  if (sim) {
    base.seq = 16384;
    base.heads = 32;
  }
  const auto points = expand(vm, base, false, storage);
  if (sim) {
    const SimOptions opt = sim_options(vm);
    auto printer = make_printer(format_of(vm), std::cout,
                                {{"variant", "variant", 14, Kind::text}, {"N", "seq", 6, Kind::count},
                                 {"CTAs", "ctas", 8, Kind::count},        {"steps", "steps", 9, Kind::count},
                                 {"L2 sample", "l2_sample", 9, Kind::count}, {"seconds", "seconds_per_simulation", 9, Kind::ratio3}},
                                points.size() == 1);
    for (const Point& pt : points) {
      if (pt.variant_from_all && not_applicable(resolve(pt.workload, *pt.device))) continue;
      if (pt.variant_from_all && (pt.workload.variant == Variant::fnet || pt.workload.variant == Variant::ring)) continue;
      const auto start = std::chrono::steady_clock::now();
      const SimResult r = simulate(*pt.device, pt.workload, opt);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      Record rec;
      rec.emplace_back("variant", std::string(to_string(pt.workload.variant)));
      rec.emplace_back("seq", r.formula.workload.query_len());
      rec.emplace_back("ctas", r.ctas);
      rec.emplace_back("steps", r.steps);
      rec.emplace_back("l2_sample", static_cast<std::uint64_t>(r.l2_sample));
      rec.emplace_back("seconds_per_simulation", elapsed);
      printer->row(rec);
    }
    printer->end();
    return 0;
  }
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"variant", "variant", 14, Kind::text},
                               {"evaluations", "evaluations", 11, Kind::count},
                               {"seconds", "seconds", 7, Kind::ratio},
                               {"per second", "evaluations_per_s", 12, Kind::count}},
                              points.size() == 1);
  for (const Point& pt : points) {
    if (pt.variant_from_all && not_applicable(resolve(pt.workload, *pt.device))) continue;
    using clock = std::chrono::steady_clock;
    std::uint64_t n = 0;
    double sink = 0;
    const auto start = clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
      for (int i = 0; i < 1000; ++i) sink += predict(*pt.device, pt.workload).predicted_time_s;
      n += 1000;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    }
    if (sink < 0) std::cerr << "";  // keeps the evaluations from being optimized away
    Record r;
    r.emplace_back("variant", std::string(to_string(pt.workload.variant)));
    r.emplace_back("evaluations", n);
    r.emplace_back("seconds", elapsed);
    r.emplace_back("evaluations_per_s", static_cast<std::uint64_t>(static_cast<double>(n) / elapsed));
    printer->row(r);
  }
  printer->end();
  return 0;
}

// `attnio kernels`: the CUDA kernels against their CPU references (--check) and timed (--bench).
int cmd_kernels(const std::vector<std::string>& args) {
  po::options_description desc("kernels options (needs a CUDA GPU)");
  desc.add_options()("check", "compare every kernel with its CPU reference (default)");
  desc.add_options()("bench", "time the kernels: median of --repeats runs, L2 flushed between them");
  desc.add_options()("repeats", po::value<int>()->default_value(10), "timed runs per kernel");
  desc.add_options()("kernel", po::value<std::string>(), "flash2,flash1,chunked,flash2-bwd,flash-decoding,paged,mla,standard,linear,performer,mamba,fnet (default: all)");
  desc.add_options()("dtype", po::value<std::string>()->default_value("bf16,fp16"), "bf16,fp16");
  desc.add_options()("device", po::value<std::string>(), "device whose ceilings the percentages use (default h100-sxm)");
  desc.add_options()("device-file", po::value<std::string>(), "device file with measured ceilings");
  po::variables_map vm;
  if (!parse("kernels", "[--check] [--bench] [--kernel K,...] [--dtype bf16,fp16]", desc, args, vm)) return 0;
  const int repeats = vm["repeats"].as<int>();
  if (repeats < 1 || repeats > 1000) throw InputError("--repeats must be between 1 and 1000");
  auto words = [](const std::string& text) {
    std::vector<std::string> out;
    std::stringstream in(text);
    for (std::string w; std::getline(in, w, ',');) out.push_back(w);
    return out;
  };
  std::vector<std::string> families;
  if (vm.count("kernel")) {
    for (const auto& k : words(vm["kernel"].as<std::string>())) {
      static const char* const kKnown[] = {"flash2", "flash1",   "chunked",   "flash2-bwd", "flash-decoding", "paged",
                                           "mla",    "standard", "linear",    "performer",  "mamba",          "fnet"};
      if (std::find(std::begin(kKnown), std::end(kKnown), k) == std::end(kKnown)) {
        throw InputError("unknown kernel '" + k + "' (known: flash2, flash1, chunked, flash2-bwd, flash-decoding, paged, "
                         "mla, standard, linear, performer, mamba, fnet)");
      }
      families.push_back(k);
    }
  }
  const auto dtypes = words(vm["dtype"].as<std::string>());
  for (const auto& d : dtypes) {
    if (d != "bf16" && d != "fp16") throw InputError("kernels: --dtype takes bf16 and fp16, not '" + d + "'");
  }
  if (vm.count("device") && vm.count("device-file")) throw InputError("give --device or --device-file, not both");
  const Device device = vm.count("device-file") ? load_device_file(vm["device-file"].as<std::string>())
                                                : vm.count("device") ? find_device(vm["device"].as<std::string>()) : default_device();
#ifndef ATTNIO_HAVE_KERNELS
  (void)repeats;
  (void)device;
  throw InputError("attnio was built without CUDA (ATTNIO_CUDA=OFF): there are no kernels to run");
#else
  kernels::RunnerOptions opt;
  opt.bench = vm.count("bench") != 0;
  opt.check = vm.count("check") != 0 || !opt.bench;
  opt.repeats = repeats;
  opt.families = families;
  opt.dtypes = dtypes;
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"kernel", "kernel", 14, Kind::text},       {"shape", "shape", 22, Kind::text},
                               {"dtype", "dtype", 5, Kind::text},          {"check", "check", 5, Kind::text},
                               {"max err", "max_abs_error", 8, Kind::ratio3}, {"time", "time_s", 9, Kind::time},
                               {"TFLOP/s", "tflop_per_s", 8, Kind::ratio}, {"GB/s", "hbm_gb_per_s", 8, Kind::ratio},
                               {"% tensor", "pct_tensor_peak", 8, Kind::ratio}, {"% HBM", "pct_hbm_peak", 6, Kind::ratio},
                               {"predicted", "predicted_time_s", 9, Kind::time}},
                              false);
  const std::string result = kernels::run_kernels(opt, device, [&](const Record& r) { printer->row(r); });
  printer->end();
  if (result.rfind("no CUDA device", 0) == 0) throw InputError(result);
  if (!result.empty()) {
    std::cerr << "attnio kernels: " << result << "\n";
    return 1;
  }
  return 0;
#endif
}

// `attnio compare TRACE...`: the current model against what the traces measured.
int cmd_compare(const std::vector<std::string>& args) {
  po::options_description desc("compare options");
  desc.add_options()("trace", po::value<std::vector<std::string>>()->multitoken(), "trace files (also positional)");
  po::positional_options_description pos;
  pos.add("trace", -1);
  desc.add_options()("help,h", "show this help");
  desc.add_options()("format", po::value<std::string>()->default_value("table"), "table|csv|json");
  desc.add_options()("simulate", "also hold the tile simulator's DRAM bytes and time against the measurements");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: attnio compare TRACE... [--simulate] [--format table|csv|json]\n\n" << desc << "\n";
    return 0;
  }
  if (!vm.count("trace")) throw InputError("compare: give one or more trace files");
  std::vector<traces::Trace> all;
  for (const auto& path : vm["trace"].as<std::vector<std::string>>()) all.push_back(traces::read_trace(path));
  const traces::Trace t = traces::merge(all);
  const auto rows = traces::compare_rows(t, vm.count("simulate") > 0);
  const auto summary = traces::compare_summary(t, rows);
  const Format f = format_of(vm);
  if (f == Format::csv) {
    auto printer = make_printer(f, std::cout, {}, false);
    for (const auto& r : rows) printer->row(r);
    printer->end();
    return 0;
  }
  if (f == Format::json) {
    std::cout << "{\"records\": ";
    auto a = make_printer(f, std::cout, {}, false);
    for (const auto& r : rows) a->row(r);
    a->end();
    std::cout << ", \"summary\": ";
    auto b = make_printer(f, std::cout, {}, false);
    for (const auto& r : summary) b->row(r);
    b->end();
    std::cout << "}\n";
    return 0;
  }
  std::vector<Column> columns = {{"variant", "variant", 14, Kind::text},    {"phase", "phase", 7, Kind::text},
                                 {"N", "seq", 6, Kind::count},              {"Nk", "kv_len", 6, Kind::count},
                                 {"HBM pred", "predicted_hbm_bytes", 9, Kind::bytes}, {"HBM meas", "measured_hbm_bytes", 9, Kind::bytes},
                                 {"err %", "hbm_bytes_error_pct", 7, Kind::ratio}, {"time pred", "predicted_time_s", 9, Kind::time},
                                 {"time meas", "measured_time_s", 9, Kind::time}, {"err %", "time_error_pct", 7, Kind::ratio},
                                 {"bound pred", "predicted_bound", 10, Kind::text}, {"meas", "measured_bound", 7, Kind::text}};
  if (vm.count("simulate")) {
    columns.insert(columns.begin() + 7, {{"HBM sim", "simulated_hbm_bytes", 9, Kind::bytes}, {"sim err %", "sim_hbm_bytes_error_pct", 9, Kind::ratio}});
  }
  if (rows.empty()) {
    std::cout << "no record holds DRAM bytes (dram__bytes_read.sum, dram__bytes_write.sum) and a time: nothing to "
                 "compare; the summary below counts them as skipped\n";
  }
  auto records = make_printer(f, std::cout, columns, false);
  for (const auto& r : rows) records->row(r);
  records->end();
  std::cout << "\n";
  auto sums = make_printer(f, std::cout,
                           {{"variant", "variant", 14, Kind::text}, {"records", "records", 7, Kind::count},
                            {"bytes err median %", "median_hbm_bytes_error_pct", 18, Kind::ratio},
                            {"max %", "max_hbm_bytes_error_pct", 7, Kind::ratio},
                            {"time err median %", "median_time_error_pct", 17, Kind::ratio},
                            {"max %", "max_time_error_pct", 7, Kind::ratio},
                            {"bound agrees %", "bound_agreement_pct", 14, Kind::ratio}, {"skipped", "skipped", 7, Kind::count}},
                           false);
  if (vm.count("simulate")) {
    sums = make_printer(f, std::cout,
                        {{"variant", "variant", 14, Kind::text}, {"records", "records", 7, Kind::count},
                         {"bytes err median %", "median_hbm_bytes_error_pct", 18, Kind::ratio},
                         {"sim bytes err median %", "median_sim_hbm_bytes_error_pct", 22, Kind::ratio},
                         {"time err median %", "median_time_error_pct", 17, Kind::ratio},
                         {"bound agrees %", "bound_agreement_pct", 14, Kind::ratio}, {"skipped", "skipped", 7, Kind::count}},
                        false);
  }
  for (const auto& r : summary) sums->row(r);
  sums->end();
  if (!t.header.note.empty()) std::cout << "note: " << t.header.note << "\n";
  return 0;
}

// `attnio metrics --chip GH100`: what CUPTI can measure on a chip, offline (no GPU needed).
int cmd_metrics(const std::vector<std::string>& args) {
  po::options_description desc("metrics options");
  desc.add_options()("chip", po::value<std::string>()->default_value("GH100"), "CUPTI chip name (GH100, GA100, AD102, ...)");
  desc.add_options()("type", po::value<std::string>()->default_value("counter"), "counter|ratio|throughput");
  desc.add_options()("grep", po::value<std::string>(), "only metrics whose name contains this text");
  desc.add_options()("check", po::value<std::string>(), "check metrics (comma list, or 'default') and show their properties");
  po::variables_map vm;
  if (!parse("metrics", "[--chip GH100] [--type counter|ratio|throughput] [--grep TEXT] [--check m1,m2|default]", desc, args, vm)) return 0;
#ifndef ATTNIO_HAVE_CUPTI
  throw InputError("attnio was built without CUPTI (ATTNIO_CUPTI=OFF)");
#else
  std::unique_ptr<profiler::HostProfiler> host;
  if (std::string e = profiler::HostProfiler::create(vm["chip"].as<std::string>(), &host); !e.empty()) throw InputError(e);
  const Format f = format_of(vm);
  if (vm.count("check")) {
    std::vector<std::string> names;
    const std::string list = vm["check"].as<std::string>();
    if (list == "default") {
      names = profiler::default_metrics();
    } else {
      std::stringstream in(list);
      for (std::string w; std::getline(in, w, ',');) names.push_back(w);
    }
    if (std::string e = host->check(names); !e.empty()) throw InputError(e);
    auto printer = make_printer(f, std::cout,
                                {{"metric", "metric", 50, Kind::text}, {"type", "type", 10, Kind::text},
                                 {"unit", "unit", 8, Kind::text}, {"description", "description", 0, Kind::text}},
                                false);
    for (const auto& n : names) {
      profiler::MetricInfo info;
      host->properties(n, &info);
      printer->row({{"metric", n}, {"type", info.type}, {"unit", info.dim_unit}, {"description", info.description}});
    }
    printer->end();
    return 0;
  }
  const std::string type = vm["type"].as<std::string>();
  const int t = type == "counter" ? 0 : type == "ratio" ? 1 : type == "throughput" ? 2 : -1;
  if (t < 0) throw InputError("--type must be counter, ratio or throughput, not '" + type + "'");
  auto printer = make_printer(f, std::cout, {{"metric", "metric", 0, Kind::text}}, false);
  for (const auto& m : host->base_metrics(t)) {
    if (vm.count("grep") && m.find(vm["grep"].as<std::string>()) == std::string::npos) continue;
    printer->row({{"metric", m}});
  }
  printer->end();
  return 0;
#endif
}

// `attnio export --chrome OUT.json TRACE...`: measured and predicted kernel times for Perfetto.
int cmd_export(const std::vector<std::string>& args) {
  po::options_description desc("export options");
  desc.add_options()("help,h", "show this help");
  desc.add_options()("chrome", po::value<std::string>(), "write Chrome trace-event JSON to this file (Perfetto, chrome://tracing)");
  desc.add_options()("trace", po::value<std::vector<std::string>>()->multitoken(), "trace files (also positional)");
  po::positional_options_description pos;
  pos.add("trace", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: attnio export --chrome OUT.json TRACE...\n\n" << desc << "\n";
    return 0;
  }
  if (!vm.count("chrome")) throw InputError("export: give --chrome OUT.json (the only export format)");
  if (!vm.count("trace")) throw InputError("export: give one or more trace files");
  std::vector<traces::Trace> all;
  for (const auto& path : vm["trace"].as<std::vector<std::string>>()) all.push_back(traces::read_trace(path));
  const traces::Trace t = traces::merge(all);
  const std::string out_path = vm["chrome"].as<std::string>();
  std::ofstream out(out_path);
  if (!out) throw InputError("export: cannot write " + out_path);
  traces::write_chrome(t, out);
  out.close();
  if (!out) throw InputError("export: writing " + out_path + " failed");
  std::cout << "wrote " << t.records.size() << " records to " << out_path << " (open in https://ui.perfetto.dev)\n";
  return 0;
}

// `attnio profile`: every point of a sweep run on the GPU under the CUPTI range profiler, one
// record appended and flushed per point (traces/README.md). Exit 3 without a GPU.
constexpr int kExitNoDevice = 3;

// The header fields every profile trace has: tool, the exact command line, the device.
traces::Header profile_header(const std::vector<std::string>& args, const Device& device) {
  traces::Header header;
  header.tool_version = ATTNIO_VERSION;
  header.command = "attnio profile";
  for (const auto& a : args) header.command += " " + a;
  header.device = device;
  return header;
}

// Runs a profiling campaign into `out_path` (the writer is opened, and a resumed file checked,
// before the first point runs) with a progress line per record on stderr; returns the exit status.
int run_profile_campaign(const std::vector<Workload>& workloads, const traces::Shard& shard, const Device& device,
                         const traces::Measurer& measurer, const traces::Header& header, const std::string& out_path,
                         bool resume) {
  traces::Writer writer(out_path, header, resume);
  if (!writer.repaired().empty()) std::cerr << "attnio profile: " << out_path << ": " << writer.repaired() << "\n";
  const bool tty = isatty(2);
  traces::CampaignStats stats;
  try {
    auto progress = [&](std::size_t done, std::size_t total, const traces::Record& r) {
      const std::string what = r.kernel.empty() ? std::string(to_string(r.workload.variant)) : r.kernel;
      std::cerr << (tty ? "\r\033[K" : "") << "[" << done << "/" << total << "] " << what << " seq " << r.workload.seq
                << (r.status == "ok" ? " ok" : " FAILED: " + r.error) << (tty && r.status == "ok" ? "" : "\n");
    };
    stats = traces::run_campaign(workloads, shard, device, measurer, writer, progress);
  } catch (const traces::CampaignAbort& e) {
    std::cerr << (tty ? "\n" : "") << "attnio profile: " << e.what() << "\n";
    return 1;
  }
  if (tty) std::cerr << "\n";
  std::cout << "profiled " << stats.ok << " ok, " << stats.failed << " failed, " << stats.already_done
            << " already in " << out_path << " (shard " << shard.index << "/" << shard.count << ", "
            << stats.in_shard << " points)\n";
  return 0;
}

// The --runner cpu measurer: the softmax-family variants run the float64 definition
// (kernels/reference, the same code the CUDA kernels are checked against) on seeded inputs, timed
// with the host's steady clock. Other variants, and shapes past 2^31 multiply-adds, are recorded
// as failed with the reason, as a GPU sweep records a kernel it cannot run.
traces::Measurer cpu_reference_measurer(const Device& device) {
  traces::Measurer m;
  auto supported = [](const Workload& w) {
    switch (w.variant) {
      case Variant::standard: case Variant::flash1: case Variant::flash2: case Variant::sliding_window:
      case Variant::sigmoid: case Variant::flash_decoding: case Variant::paged:
        return w.pass == Pass::fwd;
      default:
        return false;
    }
  };
  m.kernel = [supported](const Workload& w) { return supported(w) ? std::string("cpu-reference:direct") : std::string(); };
  m.measure = [device](const Workload& raw, traces::Measurement* out) -> std::string {
    const Workload w = resolve(raw, device);
    ref::Attn a;
    const bool decode = w.phase == Phase::decode;
    const double n = decode ? 1.0 : static_cast<double>(w.seq), nk = static_cast<double>(w.kv_len);
    const double macs = static_cast<double>(w.batch) * static_cast<double>(w.heads) * n * nk *
                        static_cast<double>(w.head_dim + w.v_head_dim);
    if (macs > 2147483648.0) return "too large for the cpu runner (" + std::to_string(static_cast<long long>(macs)) + " multiply-adds > 2^31)";
    a.batch = static_cast<int>(w.batch);
    a.heads = static_cast<int>(w.heads);
    a.kv_heads = static_cast<int>(w.kv_heads);
    a.n = static_cast<int>(n);
    a.nk = static_cast<int>(nk);
    a.d = static_cast<int>(w.head_dim);
    a.dv = static_cast<int>(w.v_head_dim);
    a.causal = w.causal;
    if (w.variant == Variant::sliding_window) a.window = static_cast<int>(w.window);
    a.sigmoid = w.variant == Variant::sigmoid;
    const std::string dtype(to_string(w.dtype));
    const auto q = ref::random_inputs(static_cast<std::size_t>(a.batch) * a.n * a.heads * a.d, 1, dtype);
    const auto k = ref::random_inputs(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.d, 2, dtype);
    const auto v = ref::random_inputs(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.dv, 3, dtype);
    const auto t0 = std::chrono::steady_clock::now();
    const ref::Output o = ref::direct(a, q, k, v);
    const auto t1 = std::chrono::steady_clock::now();
    if (o.o.empty()) return "the reference produced no output";
    out->launch["threads"] = 1;
    out->metrics.push_back({"host__reference_time_duration.sum", "nsecond",
                            static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count())});
    return "";
  };
  return m;
}

int cmd_profile(const std::vector<std::string>& args) {
  po::options_description desc("profile options (sweep flags take lists and ranges, as in sweep)");
  add_workload_options(desc);
  desc.add_options()("out,o", po::value<std::string>(), "trace file to write (JSON Lines; required)");
  desc.add_options()("resume", "continue an existing trace: points already in it are skipped");
  desc.add_options()("shard", po::value<std::string>()->default_value("0/1"), "run shard i of n (0-based), e.g. $SLURM_ARRAY_TASK_ID/4");
  desc.add_options()("metrics", po::value<std::string>(), "extra metrics beyond the defaults (comma list; see attnio metrics)");
  desc.add_options()("spec", po::value<std::string>(), "take the sweeps from a JSON spec file instead of flags (e.g. traces/specs/suite.json)");
  desc.add_options()("dry-run", "list this shard's points and the kernel each runs, without a GPU");
  desc.add_options()("runner", po::value<std::string>()->default_value("gpu"),
                     "gpu: the CUDA kernels under CUPTI; cpu: time the float64 CPU reference on the host instead "
                     "(no GPU, no counters: for trying sweeps, --resume and --shard anywhere)");
  po::variables_map vm;
  if (!parse("profile", "--out FILE.jsonl [sweep flags | --spec FILE.json] [--resume] [--shard i/n] [--metrics a,b]", desc, args, vm)) return 0;
  const traces::Shard shard = traces::parse_shard(vm["shard"].as<std::string>());
  std::vector<Device> storage;
  if (vm.count("spec")) refuse_flags_with_spec(vm);
  const auto points = vm.count("spec") ? expand_spec(vm["spec"].as<std::string>(), storage) : expand(vm, Workload{}, true, storage);
  const Device* device = points.front().device;
  for (const auto& pt : points) {
    if (pt.device->key != device->key) throw InputError("profile measures one GPU: give a single --device");
  }
  std::vector<Workload> workloads;
  for (const auto& pt : points) workloads.push_back(pt.workload);
  const std::string runner = vm["runner"].as<std::string>();
  if (runner != "gpu" && runner != "cpu") throw InputError("--runner: '" + runner + "' is not gpu or cpu");
  if (runner == "cpu") {
    if (vm.count("dry-run")) throw InputError("--dry-run lists GPU kernels; it does not apply to --runner cpu");
    if (vm.count("metrics")) throw InputError("--metrics names GPU counters; the cpu runner measures wall time only");
    if (!vm.count("out")) throw InputError("give --out FILE.jsonl (the trace to write)");
    traces::Header header = profile_header(args, *device);
    header.chip = "CPU";
    header.driver_version = header.cuda_version = header.cupti_version = "none";
    header.note = "CPU reference runner (--runner cpu): host wall time of the float64 reference, not a GPU "
                  "measurement; predictions are for " + device->key;
    return run_profile_campaign(workloads, shard, *device, cpu_reference_measurer(*device), header,
                                vm["out"].as<std::string>(), vm.count("resume") > 0);
  }
#ifdef ATTNIO_HAVE_KERNELS
  if (vm.count("dry-run")) {
    auto printer = make_printer(format_of(vm), std::cout,
                                {{"#", "index", 5, Kind::count}, {"variant", "variant", 15, Kind::text},
                                 {"phase", "phase", 8, Kind::text}, {"B", "batch", 4, Kind::count},
                                 {"N", "seq", 7, Kind::count}, {"Hkv", "kv_heads", 4, Kind::count},
                                 {"d", "head_dim", 4, Kind::count}, {"causal", "causal", 6, Kind::text},
                                 {"kernel", "kernel", 24, Kind::text}},
                                false);
    for (std::size_t i = shard.index; i < workloads.size(); i += shard.count) {
      const Workload w = resolve(workloads[i], *device);
      const std::string k = kernels::bound_kernel_name(w);
      attnio::Record r;
      r.emplace_back("index", static_cast<std::uint64_t>(i));
      r.emplace_back("variant", std::string(to_string(w.variant)));
      r.emplace_back("phase", std::string(to_string(w.phase)));
      r.emplace_back("batch", w.batch);
      r.emplace_back("seq", w.seq);
      r.emplace_back("kv_heads", w.kv_heads);
      r.emplace_back("head_dim", w.head_dim);
      r.emplace_back("causal", std::string(w.causal ? "on" : "off"));
      r.emplace_back("kernel", k.empty() ? std::string("(none: recorded as failed)") : k);
      printer->row(r);
    }
    printer->end();
    return 0;
  }
#else
  if (vm.count("dry-run")) throw InputError("attnio was built without CUDA kernels (ATTNIO_CUDA=OFF): no kernels to list");
#endif
  if (!vm.count("out")) throw InputError("give --out FILE.jsonl (the trace to write)");
  const std::string out_path = vm["out"].as<std::string>();
#if !defined(ATTNIO_HAVE_KERNELS) || !defined(ATTNIO_HAVE_CUPTI)
  (void)shard;
  (void)device;
  (void)out_path;
  throw InputError("attnio was built without CUDA kernels or CUPTI (ATTNIO_CUDA / ATTNIO_CUPTI OFF)");
#else
  if (std::string e = profiler::require_device(); !e.empty()) {
    std::cerr << "attnio: " << e << "\n";
    return kExitNoDevice;
  }
  std::vector<std::string> metrics = profiler::default_metrics();
  if (vm.count("metrics")) {
    std::stringstream in(vm["metrics"].as<std::string>());
    for (std::string m; std::getline(in, m, ',');) {
      if (m.empty()) throw InputError("--metrics: empty metric name");
      if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
    }
  }
  std::unique_ptr<profiler::RangeProfiler> prof;
  if (std::string e = profiler::RangeProfiler::create(metrics, &prof); !e.empty()) throw InputError(e);
  std::vector<std::string> units;
  for (const auto& m : metrics) {
    profiler::MetricInfo info;
    prof->host().properties(m, &info);
    units.push_back(info.dim_unit);
  }

  traces::Header header = profile_header(args, *device);
  header.chip = prof->chip();
  const profiler::MachineInfo mi = profiler::machine_info();
  header.driver_version = mi.driver_version;
  header.cuda_version = mi.cuda_version;
  header.cupti_version = mi.cupti_version;
  header.clocks["sm_clock_hz"] = mi.sm_clock_hz;
  header.clocks["memory_clock_hz"] = mi.memory_clock_hz;
  header.note = "measured on " + mi.device_name + "; " + std::to_string(prof->passes()) + " replay passes per kernel";
  const std::string config_b64 = traces::base64_encode(prof->config_image());

  // A sticky CUDA error (e.g. an illegal address) leaves the context unusable: stop the sweep.
  auto device_fault = [](const std::string& after) -> std::string {
    const cudaError_t e = cudaGetLastError();
    throw traces::CampaignAbort("the GPU is in an error state after " + after + " (" + cudaGetErrorString(e) +
                                "); finished records are kept: fix the cause and rerun with --resume");
  };
  bool activity_warned = false;
  traces::Measurer measurer;
  measurer.kernel = [](const Workload& w) { return kernels::bound_kernel_name(w); };
  measurer.measure = [&](const Workload& w, traces::Measurement* m) -> std::string {
    kernels::BoundKernel bound;
    if (std::string e = kernels::bind_kernel(w, *device, &bound); !e.empty()) return e;
    // One unprofiled run first: lazy module loading and first-touch costs stay out of the range.
    if (std::string e = bound.run(); !e.empty()) return e;
    if (cudaDeviceSynchronize() != cudaSuccess) return device_fault("warm-up run");
    // The kernels' own times, replay-free (Activity API), from a cold L2 as the profiled passes.
    profiler::KernelTimes times;
    std::string timing_error = bound.flush_l2 ? bound.flush_l2() : std::string();
    if (timing_error.empty()) timing_error = profiler::time_kernels(bound.run, &times);
    if (!timing_error.empty()) {
      if (cudaDeviceSynchronize() != cudaSuccess) return device_fault("the Activity API timing run");
      if (!activity_warned) std::cerr << "attnio profile: kernel times from the Activity API unavailable (" << timing_error
                                      << "); records keep the range profiler's gpu__time_duration\n";
      activity_warned = true;
    }
    profiler::RangeResult res;
    if (std::string e = prof->profile(bound.kernel, bound.flush_l2, bound.run, &res); !e.empty()) {
      if (cudaDeviceSynchronize() != cudaSuccess) return device_fault(e);
      return e;
    }
    m->launch = bound.launch;
    m->launch["replay_passes"] = static_cast<std::int64_t>(res.passes);
    for (std::size_t i = 0; i < metrics.size(); ++i) m->metrics.push_back({metrics[i], units[i], res.values[i]});
    if (timing_error.empty()) {
      m->metrics.push_back({traces::kActivitySpan, "nsecond", times.span_ns});
      m->metrics.push_back({traces::kActivitySum, "nsecond", times.sum_ns});
      m->metrics.push_back({"cupti_activity__kernels", "count", static_cast<double>(times.kernels)});
    }
    m->counter_data = traces::base64_encode(res.counter_data);
    m->config_image = config_b64;
    return "";
  };
  return run_profile_campaign(workloads, shard, *device, measurer, header, out_path, vm.count("resume") > 0);
#endif
}

// `attnio ceilings`: measured rates of the GPU at hand beside the datasheet, written as a device
// file whose `measured` ceilings the model then uses (--device-file). Exit 3 without a GPU.
int cmd_ceilings(const std::vector<std::string>& args) {
  po::options_description desc("ceilings options (needs a CUDA GPU)");
  desc.add_options()("device", po::value<std::string>(), "the built-in device the GPU is: datasheet column and device-file base (default h100-sxm)");
  desc.add_options()("device-file", po::value<std::string>(), "or a device file to compare against and extend");
  desc.add_options()("out-device", po::value<std::string>(), "write the device with its measured ceilings to this JSON file");
  desc.add_options()("repeats", po::value<int>()->default_value(5), "timed runs per ceiling (the best is kept)");
  po::variables_map vm;
  if (!parse("ceilings", "[--device h100-sxm | --device-file F] [--out-device FILE.json] [--repeats N]", desc, args, vm)) return 0;
  if (vm.count("device") && vm.count("device-file")) throw InputError("give --device or --device-file, not both");
  Device dev = vm.count("device-file") ? load_device_file(vm["device-file"].as<std::string>())
                                       : find_device(vm.count("device") ? vm["device"].as<std::string>() : "h100-sxm");
  const int repeats = vm["repeats"].as<int>();
  if (repeats < 1 || repeats > 100) throw InputError("--repeats must be between 1 and 100");
  std::ofstream file;
  const std::string out_path = vm.count("out-device") ? vm["out-device"].as<std::string>() : "";
#ifndef ATTNIO_HAVE_KERNELS
  throw InputError("attnio was built without CUDA (ATTNIO_CUDA=OFF)");
#else
  std::string why;
  if (!kernels::cuda_device_available(&why)) {
    std::cerr << "attnio: no CUDA device: " << why << "\n";
    return 3;
  }
  if (!out_path.empty()) {
    // Checked now without truncating an existing file; written after the measurements.
    if (!std::ofstream(out_path, std::ios::app)) throw InputError("ceilings: cannot write " + out_path);
  }
  const std::map<std::string, double> datasheet = {
      {"hbm_bytes_per_s", dev.hbm_bytes_per_s}, {"l2_bytes_per_s", dev.l2_bytes_per_s},
      {"fp32_flops_per_s", dev.fp32_flops_per_s}, {"sfu_ops_per_s", dev.sfu_ops_per_s},
      {"bf16_tensor_flops_per_s", dev.bf16_tensor_flops_per_s}, {"fp16_tensor_flops_per_s", dev.fp16_tensor_flops_per_s},
      {"tf32_tensor_flops_per_s", dev.tf32_tensor_flops_per_s}};
  // Table: figures with their units; CSV/JSON: the plain numbers (per second) as well.
  auto printer = make_printer(format_of(vm), std::cout,
                              {{"ceiling", "ceiling", 24, Kind::text}, {"measured", "measured_text", 16, Kind::text},
                               {"datasheet", "datasheet_text", 16, Kind::text}, {"% of datasheet", "pct_of_datasheet", 14, Kind::ratio}},
                              false);
  auto with_unit = [](const std::string& key, double v) {
    char buf[64];
    const bool bytes = key.find("bytes") != std::string::npos, ops = key.find("sfu") != std::string::npos;
    std::snprintf(buf, sizeof buf, "%.3g %s", v / 1e12, bytes ? "TB/s" : ops ? "Tops/s" : "TFLOP/s");
    return std::string(buf);
  };
  kernels::CeilingsOptions opt;
  opt.repeats = repeats;
  const std::string err = kernels::measure_ceilings(opt, &dev.measured, [&](const std::string& key, double v) {
    attnio::Record r;
    r.emplace_back("ceiling", key);
    r.emplace_back("measured", v);
    const double ds = datasheet.count(key) ? datasheet.at(key) : 0;
    r.emplace_back("datasheet", ds);
    r.emplace_back("measured_text", with_unit(key, v));
    r.emplace_back("datasheet_text", with_unit(key, ds));
    r.emplace_back("pct_of_datasheet", ds > 0 ? 100 * v / ds : 0.0);
    printer->row(r);
  });
  printer->end();
  // What was measured is kept even when a later ceiling failed.
  if (!out_path.empty()) {
    dev.sources += "; measured ceilings: attnio ceilings --repeats " + std::to_string(repeats);
    file.open(out_path, std::ios::trunc);
    file << device_to_json(dev) << "\n";
    file.close();
    std::cerr << "wrote " << out_path << " (use it with --device-file)\n";
  }
  if (!err.empty()) throw InputError("ceilings: " + err);
  return 0;
#endif
}

// `attnio merge OUT IN...`: shards of one sweep into one trace.
int cmd_merge(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::cout << "usage: attnio merge OUT.jsonl SHARD.jsonl...\n";
    return 0;
  }
  if (args.size() < 2) throw InputError("merge: give the output file and at least one shard");
  std::vector<traces::Trace> shards;
  for (std::size_t i = 1; i < args.size(); ++i) shards.push_back(traces::read_trace(args[i]));
  const traces::Trace t = traces::merge(shards);
  traces::write_trace(args[0], t);
  std::cout << "merged " << t.records.size() << " records from " << shards.size() << " shards into " << args[0] << "\n";
  return 0;
}

const Command kCommands[] = {
    {"predict", "predict one workload (or --variant all)", cmd_predict},
    {"sweep", "predict the cross product of lists and ranges", cmd_sweep},
    {"report", "every variant on the default device and a Llama-like workload (the main job)", cmd_report},
    {"simulate", "replay the kernels' tile schedules through SRAM, L2 and HBM", cmd_simulate},
    {"explain", "the IO derivation of one variant with the numbers substituted", cmd_explain},
    {"devices", "list the built-in devices (--format json prints the device-file schema)", cmd_devices},
    {"models", "list the shipped model configs", cmd_models},
    {"model", "attention cost and KV cache of a Hugging Face config.json", cmd_model},
    {"bench", "evaluations per second of the model", cmd_bench},
    {"compare", "predictions against the measurements in trace files", cmd_compare},
    {"profile", "run a sweep on the GPU under CUPTI, one trace record per kernel (GPU)", cmd_profile},
    {"ceilings", "measure the GPU's HBM, L2, tensor, FP32 and exp rates into a device file (GPU)", cmd_ceilings},
    {"merge", "join trace shards of one sweep", cmd_merge},
    {"export", "a trace as Chrome trace JSON (measured vs predicted, for Perfetto)", cmd_export},
    {"metrics", "CUPTI metrics of a chip, listed or checked offline", cmd_metrics},
    {"kernels", "run the CUDA kernels against their CPU references, or time them (GPU)", cmd_kernels},
};

void usage(std::ostream& out) {
  out << "attnio: why an attention variant is fast or slow (IO, FLOPs, roofline)\n\nusage: attnio COMMAND [options]\n\ncommands:\n";
  for (const auto& c : kCommands) {
    char line[160];
    std::snprintf(line, sizeof line, "  %-9s %s\n", c.name, c.summary);
    out << line;
  }
  out << "\n'attnio COMMAND --help' lists a command's options.\n";
}

}  // namespace
}  // namespace attnio::cli

namespace attnio::cli {

int run(std::vector<std::string> args) {
  if (args.empty()) {
    std::cerr << "attnio: no command given (see attnio --help)\n";
    return kExitBadInput;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(std::cout);
    return 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  for (const auto& c : kCommands) {
    if (cmd != c.name) continue;
    try {
      refuse_unparseable_options(args);
      return c.run(args);
    } catch (const attnio::InputError& e) {
      std::cerr << "attnio " << cmd << ": " << e.what() << "\n";
    } catch (const boost::program_options::error& e) {
      std::cerr << "attnio " << cmd << ": " << e.what() << "\n";
    } catch (const std::exception& e) {
      std::cerr << "attnio " << cmd << ": internal error: " << e.what() << "\n";
      return 1;
    }
    return kExitBadInput;
  }
  std::cerr << "attnio: unknown command '" << cmd << "' (see attnio --help)\n";
  return kExitBadInput;
}

}  // namespace attnio::cli
