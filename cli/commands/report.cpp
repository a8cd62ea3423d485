// `attnio report`, the main job: every variant, prefill and decode, on a Llama-3-8B-like attention
// layer (batch 8, 4096 tokens, 32 query heads over 8 K/V heads of 128, bf16, causal prefill). Flags
// override it.
#include "commands/commands.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "attnio/model/explain.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"
#include "attnio/traces/published.hpp"
#include "command_util.hpp"
#include "flags.hpp"
#include "output.hpp"

namespace attnio::cli {
namespace {

std::vector<Column> report_columns() {
  return {{"variant", "variant", 14, Kind::text},       {"time", "predicted_time_s", 9, Kind::time},
          {"FLOPs", "flops", 11, Kind::flops},          {"HBM", "hbm_bytes", 9, Kind::bytes},
          {"L2", "l2_bytes", 9, Kind::bytes},           {"AI", "arithmetic_intensity", 7, Kind::ratio},
          {"bound", "bound", 7, Kind::text},            {"limited by", "limited_by", 10, Kind::text},
          {"impl", "impl", 11, Kind::text},             {"KV cache", "kv_cache_bytes", 9, Kind::bytes},
          {"extra", "extra_memory_bytes", 9, Kind::bytes}};
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? std::string("none") : s;
}

}  // namespace

int cmd_report(const std::vector<std::string>& args) {
  po::options_description desc("report options (defaults: a Llama-3-8B attention layer, batch 8, 4096 tokens)");
  add_workload_options(desc);
  po::variables_map vm;
  if (!parse("report", "[--device D] [shape flags]", desc, args, vm)) return 0;
  if (vm.count("variant") || vm.count("phase")) throw InputError("report runs every variant in both phases; use predict for one");
  const Workload base = llama_like_workload();
  std::deque<Device> storage;
  const Format f = format_of(vm);
  const bool table = f == Format::table;
  std::vector<std::string> shown_variants;  // printed in either phase, in the order the tables first print them
  // CSV and JSON get one stream of records over both phases; the table gets a section per phase.
  std::unique_ptr<Printer> printer;
  for (Phase phase : {Phase::prefill, Phase::decode}) {
    Workload phase_base = base;
    phase_base.phase = phase;
    if (!printer || table) printer = make_printer(f, std::cout, report_columns(), false);
    std::vector<std::string> dram, on_chip, latency, compute, launch, skipped, refused;
    // The flags once per phase (a --device-file is read once); each variant takes that workload.
    storage.clear();
    const Point pt = expand(vm, phase_base, false, storage).front();
    const Device* dev = pt.device;
    const Workload shown = resolve(pt.workload, *dev);
    if (table) {
      std::cout << (phase == Phase::prefill ? "" : "\n") << "== " << to_string(phase) << " on " << dev->name;
      if (dev->locked_clock_hz > 0) std::cout << " (SM clock locked at " << dev->locked_clock_hz / 1e6 << " MHz)";
      std::cout << ": batch " << shown.batch << ", "
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
      // A variant this device or workload cannot run (ring over more GPUs than its NVLink joins, or
      // with no NVLink at all) is named with its reason, not run: the report covers every variant.
      if (auto why = refused_on(resolve(one, *dev), *dev)) {
        refused.push_back(std::string(to_string(v)) + " (" + *why + ")");
        continue;
      }
      const Prediction p = predict(*dev, one);
      printer->row(to_record(*dev, p));
      const std::string name(to_string(v));
      if (std::find(shown_variants.begin(), shown_variants.end(), name) == shown_variants.end()) shown_variants.push_back(name);
      const bool chip = p.bound == Bound::l2 || p.bound == Bound::smem;
      // Latency: the waits in each CTA's own chain (loads waited on where issued, barriers,
      // dependent reads) or the bytes the SMs keep in flight set the time, not a level's bandwidth.
      (p.bound == Bound::launch    ? launch
       : p.bound == Bound::latency ? latency
       : !p.memory_bound()         ? compute
       : chip                      ? on_chip
                                   : dram)
          .push_back(std::string(to_string(v)));
    }
    if (table) {
      printer->end();
      std::cout << "memory-bound on HBM:             " << join(dram) << "\n"
                << "memory-bound on chip (L2/SMEM): " << join(on_chip) << "\n"
                << (latency.empty() ? std::string() : "latency-bound (waits):           " + join(latency) + "\n")
                << "compute-bound (SM pipes):       " << join(compute) << "\n"
                << (launch.empty() ? std::string() : "launch-bound (too little work):  " + join(launch) + "\n")
                << "not applicable in " << to_string(phase) << ": " << join(skipped) << "\n"
                << (refused.empty() ? std::string() : "not run on " + dev->key + ": " + join(refused) + "\n")
                << "ridge point: " << static_cast<int>(dev->tensor_rate(shown.dtype) / dev->hbm_rate())
                << " FLOP/byte (tensor " << human_flops(dev->tensor_rate(shown.dtype)) << "/s over HBM "
                << human_bytes(dev->hbm_rate()) << "/s)\n";
    }
  }
  if (!table) printer->end();
  if (table) {
    const bool measured = storage.empty() ? false : storage.front().measured != MeasuredCeilings{};
    const double locked = storage.empty() ? 0.0 : storage.front().locked_clock_hz;
    std::cout << "\nAI = FLOPs per HBM byte. HBM counts L2 reuse; L2 = bytes crossing the SM-L2 boundary"
                 " (the papers' two-level count).\n"
              << (measured ? "Times use the device file's measured ceilings where it has them, its sourced sustained rates elsewhere."
                           : "Times use the device file's sourced sustained rates (STREAM bandwidth, MMA-path fractions, clock).");
    if (locked > 0) std::cout << " The SM clock is locked at " << locked / 1e6 << " MHz (--sm-clock): every SM pipe runs at it.";
    std::cout << " 'attnio explain --variant V' derives one variant's numbers and pipe times.\n";
    // How far such times are from what kernels measured (README, "How far the numbers are checked").
    const traces::PublishedTable published = traces::shipped_published();
    const std::vector<traces::ValidatedRow> validated = traces::validate_rows(published, "", "", /*counters=*/false);
    std::vector<double> errors;
    for (const traces::ValidatedRow& v : validated) {
      if (v.skipped_why.empty()) errors.push_back(v.error_pct);
    }
    const traces::ErrorSummary e = traces::summarize(errors);
    const std::map<std::string, traces::ErrorSummary> by_variant = traces::summarize_by_variant(validated);
    std::cout << "Each time is the execution model's for the implementation in column impl (attnio impls; --impl to pick one):\n"
              << "against " << e.rows << " published kernel measurements, each predicted with its own implementation, the median |error| is "
              << static_cast<int>(std::lround(e.median)) << " %, p90 " << static_cast<int>(std::lround(e.p90))
              << " % ('attnio validate'; README, 'How far the numbers are checked').\n";
    // Which of the variants above those measurements cover, and which they do not.
    std::vector<std::string> checked, unchecked;
    for (const std::string& name : shown_variants) {
      const auto it = by_variant.find(name);
      if (it == by_variant.end()) {
        unchecked.push_back(name);
        continue;
      }
      checked.push_back(name + " (" + std::to_string(it->second.rows) + " rows, " + std::to_string(std::lround(it->second.median)) + " %)");
    }
    std::cout << "Held against measurements (rows, median |error|): " << join(checked) << ".\n"
              << "No published measurement yet, so the model's alone: " << join(unchecked) << ".\n";
    const std::vector<traces::AgreementGroup> agree = traces::agreement(validated);
    if (!agree.empty()) {
      std::vector<double> spreads;
      for (const traces::AgreementGroup& g : agree) spreads.push_back(g.spread_pct);
      std::cout << "Where two or more publications measured the same kernel and shape (" << agree.size()
                << " cases), they differ from each other by a median " << std::lround(traces::summarize(spreads).median)
                << " % ('attnio validate --agreement').\n";
    }
  }
  return 0;
}

}  // namespace attnio::cli
