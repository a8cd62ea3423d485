#include "command_util.hpp"

#include <cstdint>
#include <iostream>
#include <sstream>

#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"

namespace attnio::cli {
namespace {

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

// Stores `parsed` in `vm`; returns false (after printing help) when --help was given.
bool store_unless_help(const std::string& cmd, const char* usage, const po::options_description& desc,
                       const po::parsed_options& parsed, po::variables_map& vm) {
  po::store(parsed, vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << "usage: attnio " << cmd << " " << usage << "\n\n" << desc << "\n";
    return false;
  }
  return true;
}

}  // namespace

bool parse(const std::string& cmd, const char* usage, po::options_description& desc,
           const std::vector<std::string>& args, po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  desc.add_options()("format", po::value<std::string>()->default_value("table"), "table|csv|json");
  const po::parsed_options parsed = po::command_line_parser(args).options(desc).run();
  refuse_positional(parsed);
  return store_unless_help(cmd, usage, desc, parsed, vm);
}

bool parse_with_traces(const std::string& cmd, const char* usage, const po::options_description& desc,
                       const std::vector<std::string>& args, po::variables_map& vm) {
  po::positional_options_description pos;
  pos.add("trace", -1);
  return store_unless_help(cmd, usage, desc, po::command_line_parser(args).options(desc).positional(pos).run(), vm);
}

traces::Trace read_merged(const std::vector<std::string>& paths) {
  std::vector<traces::Trace> all;
  for (const auto& path : paths) all.push_back(traces::read_trace(path));
  return traces::merge(all);
}

int report_coverage(const traces::Coverage& c, std::ostream& out) {
  if (c.complete()) {
    out << "campaign complete: " << c.recorded << " of " << c.plan_points << " points recorded (" << c.failed << " failed)\n";
    return 0;
  }
  const std::uint64_t missing = c.plan_points > c.recorded ? c.plan_points - c.recorded : 0;
  out << "campaign incomplete: " << missing << " of " << c.plan_points << " points missing (" << c.recorded << " recorded, "
      << c.failed << " failed)\n";
  if (!c.missing.empty()) {
    out << "  missing from present shards: " << c.missing.size() << " point(s):";
    for (std::size_t i = 0; i < c.missing.size() && i < 40; ++i) out << " #" << c.missing[i];
    if (c.missing.size() > 40) out << " ... (" << c.missing.size() - 40 << " more)";
    out << "\n";
  }
  if (!c.absent_shards.empty()) {
    out << "  absent shard file(s):";
    for (std::uint64_t s : c.absent_shards) out << " " << s;
    out << " (" << c.unaccounted << " point(s) dealt to them)\n";
  }
  out << "  rerun the shards with --resume (attnio submit --status DIR shows them per shard)\n";
  return kExitIncomplete;
}

Format format_of(const po::variables_map& vm) { return parse_format(vm["format"].as<std::string>()); }

std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> words;
  std::stringstream in(text);
  for (std::string w; std::getline(in, w, ',');) words.push_back(w);
  return words;
}

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

int evaluate_and_print(const std::vector<Point>& points, Format format, bool single_object,
                       const SimOptions* sim) {
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

}  // namespace attnio::cli
