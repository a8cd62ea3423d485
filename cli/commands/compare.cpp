// `attnio compare TRACE...`: the current model against what the traces measured.
#include "commands/commands.hpp"

#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/traces/compare.hpp"
#include "attnio/traces/trace.hpp"
#include "command_util.hpp"
#include "output.hpp"

namespace attnio::cli {
namespace {

// A predict campaign (attnio sweep --out): its records' predictions as the sweep prints them, from
// the numbers stored when each point was evaluated.
int print_predict_campaign(const traces::Trace& t, Format f) {
  auto printer = make_printer(f, std::cout,
                              {{"#", "point", 5, Kind::count}, {"variant", "variant", 14, Kind::text}, {"phase", "phase", 7, Kind::text},
                               {"device", "device", 10, Kind::text}, {"B", "batch", 3, Kind::count}, {"N", "seq", 6, Kind::count},
                               {"Nk", "kv_len", 6, Kind::count}, {"H", "heads", 3, Kind::count}, {"d", "head_dim", 4, Kind::count},
                               {"FLOPs", "flops", 11, Kind::flops}, {"HBM", "hbm_bytes", 9, Kind::bytes},
                               {"L2", "l2_bytes", 9, Kind::bytes}, {"time", "predicted_time_s", 9, Kind::time}, {"status", "status", 6, Kind::text}},
                              false);
  for (const traces::Record& r : t.records) {
    attnio::Record row;
    row.emplace_back("point", static_cast<std::uint64_t>(r.point));
    row.emplace_back("variant", std::string(to_string(r.workload.variant)));
    row.emplace_back("phase", std::string(to_string(r.workload.phase)));
    row.emplace_back("device", traces::record_device(t.header, r).key);
    row.emplace_back("batch", r.workload.batch);
    row.emplace_back("seq", r.workload.seq);
    row.emplace_back("kv_len", r.workload.kv_len);
    row.emplace_back("heads", r.workload.heads);
    row.emplace_back("head_dim", r.workload.head_dim);
    for (const char* key : {"flops", "hbm_bytes", "l2_bytes", "predicted_time_s"}) {
      const auto it = r.prediction.find(key);
      if (it != r.prediction.end()) row.emplace_back(key, it->second);
    }
    row.emplace_back("status", r.status == "ok" ? r.status : r.status + ": " + r.error);
    printer->row(row);
  }
  printer->end();
  return 0;
}

}  // namespace

int cmd_compare(const std::vector<std::string>& args) {
  po::options_description desc("compare options");
  desc.add_options()("trace", po::value<std::vector<std::string>>()->multitoken(), "trace files (also positional)");
  desc.add_options()("help,h", "show this help");
  desc.add_options()("format", po::value<std::string>()->default_value("table"), "table|csv|json");
  desc.add_options()("simulate", "also hold the tile simulator's DRAM bytes and time against the measurements");
  desc.add_options()("impl", po::value<std::string>(),
                     "the implementation the predictions describe (default attnio: the kernels `attnio profile` measures)");
  po::variables_map vm;
  if (!parse_with_traces("compare", "TRACE... [--simulate] [--impl NAME] [--format table|csv|json]", desc, args, vm)) return 0;
  if (!vm.count("trace")) throw InputError("compare: give one or more trace files");
  const traces::Trace t = read_merged(vm["trace"].as<std::vector<std::string>>());
  const std::string kind = t.header.campaign.kind;
  if (kind == "predict") return print_predict_campaign(t, format_of(vm));
  if (kind == "simulate" && vm.count("simulate")) throw InputError("--simulate: the campaign's records already hold the simulator's figures");
  const ImplProfile* impl = vm.count("impl") ? &find_impl(vm["impl"].as<std::string>()) : nullptr;
  const auto rows = traces::compare_rows(t, vm.count("simulate") > 0, impl);
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
  if (kind == "simulate") {
    // A simulate campaign: the closed form (today's model) against the simulator's recorded figures.
    for (Column& c : columns) {
      if (c.title == "HBM meas") c.title = "HBM sim";
      if (c.title == "time meas") c.title = "time sim";
      if (c.title == "meas") c.title = "sim";
    }
    std::cout << "simulate campaign (plan " << t.header.campaign.plan_hash << "): the closed form against the tile simulator's "
              << "figures in the records\n";
  }
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

}  // namespace attnio::cli
