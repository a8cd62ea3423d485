// `attnio validate`: the model's time against every published measurement in the shipped table
// (validation/published.csv) or a given one: each row's published and predicted time and the error,
// then per implementation (or per GPU, pass, dtype or publication: --by) and overall the median,
// p90 and max |error|, the rows within 10, 25 and 40 % and the rows predicted too fast. Exits 1 when
// the overall median is worse than the table's ratchet (or --max-median).
#include "commands/commands.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <map>

#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"
#include "attnio/traces/published.hpp"
#include "command_util.hpp"
#include "output.hpp"

namespace attnio::cli {

namespace {

// What a published row measured: implementation, GPU, variant and shape.
Record row_shape(const traces::PublishedRow& r) {
  Record rec;
  rec.emplace_back("impl", r.impl);
  rec.emplace_back("gpu", r.gpu);
  rec.emplace_back("variant", std::string(r.workload.variant.name()));
  rec.emplace_back("dtype", std::string(to_string(r.workload.dtype)));
  rec.emplace_back("pass", std::string(to_string(r.workload.pass)));
  rec.emplace_back("phase", std::string(to_string(r.workload.phase)));
  rec.emplace_back("causal", std::string(r.workload.causal ? "yes" : "no"));
  rec.emplace_back("batch", r.workload.batch);
  rec.emplace_back("heads", r.workload.heads);
  rec.emplace_back("kv_heads", r.workload.kv_heads);
  rec.emplace_back("seq", r.workload.query_len());
  rec.emplace_back("kv_len", r.workload.kv_len);
  rec.emplace_back("head_dim", r.workload.head_dim);
  // The variant's own parameters the row sets (its params column): empty for most rows.
  rec.emplace_back("params", traces::params_text(r.workload));
  return rec;
}

// The key a summary line groups a row under (--by); an unknown key is an input error.
std::function<std::string(const traces::PublishedRow&)> summary_group(const std::string& by) {
  if (by == "impl") return [](const traces::PublishedRow& r) { return r.impl; };
  if (by == "gpu") return [](const traces::PublishedRow& r) { return r.gpu; };
  if (by == "pass") return [](const traces::PublishedRow& r) { return std::string(to_string(r.workload.pass)); };
  if (by == "dtype") return [](const traces::PublishedRow& r) { return std::string(to_string(r.workload.dtype)); };
  if (by == "source") return [](const traces::PublishedRow& r) { return r.source; };
  throw InputError("--by '" + by + "': expected impl, gpu, pass, dtype or source");
}

// --agreement: the groups of rows two or more publications measured (traces::agreement), the
// furthest apart first; in the table each group's figures on its first row, then a summary line.
// CSV and JSON: one record per row with its group's figures (--summary: the summary alone).
int print_agreement(const std::vector<traces::ValidatedRow>& validated, Format format, bool summary_only) {
  std::vector<traces::AgreementGroup> groups = traces::agreement(validated);
  if (groups.empty()) {
    std::cerr << "attnio validate: no measurement is published by two or more sources in this table\n";
    return 1;
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const traces::AgreementGroup& a, const traces::AgreementGroup& b) { return a.floor_pct > b.floor_pct; });
  const bool table = format == Format::table;
  if (!summary_only) {
    auto out = make_printer(format, std::cout,
                            {{"#", "group", 3, Kind::count},          {"impl", "impl", 12, Kind::text},
                             {"gpu", "gpu", 9, Kind::text},           {"pass", "pass", 6, Kind::text},
                             {"causal", "causal", 6, Kind::text},     {"dtype", "dtype", 6, Kind::text},
                             {"N", "seq", 6, Kind::count},            {"Nk", "kv_len", 6, Kind::count},
                             {"d", "head_dim", 4, Kind::count},       {"B", "batch", 4, Kind::count},
                             {"H", "heads", 4, Kind::count},          {"Hkv", "kv_heads", 4, Kind::count},
                             {"spread %", "spread_pct", 9, Kind::ratio}, {"floor %", "floor_pct", 8, Kind::ratio},
                             {"published", "published_time_s", 10, Kind::time},
                             {"predicted", "predicted_time_s", 10, Kind::time},
                             {"error %", "time_error_pct", 8, Kind::ratio},
                             {"source", "source", 0, Kind::text}},
                            false);
    std::uint64_t n = 0;
    for (const traces::AgreementGroup& g : groups) {
      ++n;
      bool first = true;
      for (const traces::ValidatedRow* v : g.rows) {
        const traces::PublishedRow& r = *v->row;
        Record rec;
        const bool head = first || !table;  // the table names the group once
        // A group's own figure on its first row; blank after it in the table.
        auto group_cell = [&](const char* key, auto value) {
          if (head) {
            rec.emplace_back(key, value);
          } else {
            rec.emplace_back(key, std::string());
          }
        };
        group_cell("group", n);
        group_cell("impl", g.impl);
        group_cell("gpu", g.gpu);
        group_cell("pass", g.pass);
        group_cell("causal", std::string(g.causal ? "yes" : "no"));
        group_cell("dtype", g.dtype);
        group_cell("seq", g.shape.query_len());
        group_cell("kv_len", g.shape.kv_len);
        group_cell("head_dim", g.shape.head_dim);
        // Batch and heads are each row's own: a prefill group's rows may differ in them.
        rec.emplace_back("batch", r.workload.batch);
        rec.emplace_back("heads", r.workload.heads);
        rec.emplace_back("kv_heads", r.workload.kv_heads);
        group_cell("spread_pct", g.spread_pct);
        group_cell("floor_pct", g.floor_pct);
        if (!table) {
          rec.emplace_back("publications", static_cast<std::uint64_t>(g.publications));
          rec.emplace_back("variant", g.variant);
          rec.emplace_back("phase", g.phase);
        }
        rec.emplace_back("published_time_s", v->published_s);
        rec.emplace_back("predicted_time_s", v->predicted_s);
        rec.emplace_back("time_error_pct", v->error_pct);
        rec.emplace_back("sm_clock_mhz", r.sm_clock_hz / 1e6);
        rec.emplace_back("source", r.source + ", " + r.locator);
        out->row(rec);
        first = false;
      }
    }
    out->end();
    if (table) std::cout << "\n";
  }
  std::vector<double> spreads, floors;
  std::uint64_t rows = 0, over_10 = 0;
  for (const traces::AgreementGroup& g : groups) {
    spreads.push_back(g.spread_pct);
    floors.push_back(g.floor_pct);
    rows += g.rows.size();
    over_10 += g.floor_pct > 10;
  }
  const traces::ErrorSummary sp = traces::summarize(spreads), fl = traces::summarize(floors);
  if (table) {
    std::cout << groups.size() << " measurements published by two or more sources (" << rows
              << " rows; published time over the model's, so batch, heads, a stated clock, a dirty L2 start and accumulated gradients are divided out): spread median "
              << std::lround(sp.median) << " %, max " << std::lround(sp.max) << " %; " << over_10
              << " with a floor over 10 % (no prediction is within 10 % of all their rows)\n";
    return 0;
  }
  if (summary_only) {
    auto s = make_printer(format, std::cout, {}, true);
    Record rec;
    rec.emplace_back("groups", static_cast<std::uint64_t>(groups.size()));
    rec.emplace_back("rows", rows);
    rec.emplace_back("median_spread_pct", sp.median);
    rec.emplace_back("max_spread_pct", sp.max);
    rec.emplace_back("median_floor_pct", fl.median);
    rec.emplace_back("max_floor_pct", fl.max);
    rec.emplace_back("groups_floor_over_10_pct", over_10);
    s->row(rec);
    s->end();
  }
  return 0;
}

}  // namespace

int cmd_validate(const std::vector<std::string>& args) {
  po::options_description desc("validate options");
  desc.add_options()("table", po::value<std::string>(), "a published-measurements CSV (default: the shipped validation/published.csv)")(
      "impl", po::value<std::string>(), "only the rows of this implementation (e.g. fa2, fa3)")(
      "model-impl", po::value<std::string>(), "predict every row with this profile (e.g. ideal: the roofline at datasheet peaks) instead of the row's own")(
      "max-median", po::value<double>(), "exit 1 when the overall median |time error| (%) exceeds this (default: the table's ratchet)")(
      "summary", "print only the summary (CSV and JSON print the rows unless this is given)")(
      "model-clock", "predict every row at the model's own SM clock, not at the clock a row states (sm_clock_mhz)")(
      "by", po::value<std::string>()->default_value("impl"), "group the summary by impl, gpu, pass, dtype or source (the publication)")(
      "counters", "CSV and JSON: the counter rows (Nsight Compute DRAM bytes against the closed form and the simulator, kernel durations against the execution model) instead of the time rows")(
      "agreement", "how far the publications agree with each other: the rows that measured the same thing in two or more, each group's spread and the least worst error any model could have against it");
  po::variables_map vm;
  if (!parse("validate", "[--table F.csv] [--impl NAME] [--model-impl PROFILE] [--max-median PCT] [--summary] [--by KEY] [--counters] [--agreement] [--model-clock]", desc, args, vm)) return 0;
  traces::PublishedTable table = vm.count("table") ? traces::read_published(vm["table"].as<std::string>())
                                                   : traces::shipped_published();
  if (vm.count("model-clock")) {
    for (traces::PublishedRow& r : table.rows) r.sm_clock_hz = 0;
  }
  const std::string only = vm.count("impl") ? vm["impl"].as<std::string>() : std::string();
  const std::string forced = vm.count("model-impl") ? vm["model-impl"].as<std::string>() : std::string();
  if (!forced.empty()) find_impl(forced);  // an unknown profile is an error before any row
  std::optional<double> limit = table.ratchet_median_pct;
  if (vm.count("max-median")) limit = vm["max-median"].as<double>();
  const std::string by = vm["by"].as<std::string>();
  const auto group_of = summary_group(by);

  const Format format = format_of(vm);
  if (vm.count("agreement")) {
    // The agreement report has no ratchet, counter rows or grouping of its own: a flag for those
    // would be silently ignored.
    for (const char* other : {"max-median", "counters"}) {
      if (vm.count(other)) throw InputError(std::string("--agreement does not take --") + other);
    }
    if (!vm["by"].defaulted()) throw InputError("--agreement does not take --by (it groups by measurement)");
    return print_agreement(traces::validate_rows(table, only, forced, false), format, vm.count("summary") > 0);
  }
  const bool counters_only = vm.count("counters") && format != Format::table;
  std::unique_ptr<Printer> rows;
  if (!vm.count("summary") && !counters_only) {
    rows = make_printer(format, std::cout,
                        {{"impl", "impl", 16, Kind::text},        {"gpu", "gpu", 10, Kind::text},
                         {"variant", "variant", 14, Kind::text},  {"pass", "pass", 6, Kind::text},
                         {"causal", "causal", 6, Kind::text},     {"B", "batch", 4, Kind::count},
                         {"H", "heads", 4, Kind::count},          {"N", "seq", 6, Kind::count},
                         {"Nk", "kv_len", 6, Kind::count},        {"d", "head_dim", 4, Kind::count},
                         {"published", "published_time_s", 10, Kind::time},
                         {"predicted", "predicted_time_s", 10, Kind::time},
                         {"error %", "time_error_pct", 8, Kind::ratio},
                         {"profile", "profile", 11, Kind::text},  {"bound", "bound", 7, Kind::text},
                         {"source", "source", 0, Kind::text}},
                        false);
  }
  std::map<std::string, std::vector<double>> errors;  // group (--by) -> signed error %
  std::vector<double> all;
  std::map<std::string, std::size_t> skipped;          // reason -> rows
  std::vector<traces::ValidatedRow> counter_rows;
  for (traces::ValidatedRow& v : traces::validate_rows(table, only, forced)) {
    if (!v.skipped_why.empty()) {
      ++skipped[v.skipped_why];
      continue;
    }
    if (v.counter) {
      counter_rows.push_back(std::move(v));
      continue;
    }
    const traces::PublishedRow& r = *v.row;
    errors[group_of(r)].push_back(v.error_pct);
    all.push_back(v.error_pct);
    if (rows) {
      Record rec = row_shape(r);
      rec.emplace_back("published_value", r.value);
      rec.emplace_back("published_metric", r.metric);
      rec.emplace_back("published_time_s", v.published_s);
      rec.emplace_back("predicted_time_s", v.predicted_s);
      rec.emplace_back("time_error_pct", v.error_pct);
      rec.emplace_back("profile", v.profile);
      rec.emplace_back("bound", v.bound);
      // The clock the row was predicted at: the one its source states; 0: the model's own (none
      // stated, or --model-clock).
      rec.emplace_back("sm_clock_mhz", r.sm_clock_hz / 1e6);
      rec.emplace_back("read", r.read);
      rec.emplace_back("source", r.source + ", " + r.locator);
      rows->row(rec);
    }
  }
  if (rows) rows->end();

  // CSV and JSON print one document: the rows, or with --summary the summary.
  if (!counters_only && (format == Format::table || vm.count("summary"))) {
    if (format == Format::table && rows) std::cout << "\n";
    // The group's name first, but a publication's (long) last, so the figures line up.
    const Column name{by, by, 16, Kind::text};
    std::vector<Column> cols = {{"rows", "rows", 5, Kind::count},
                                {"median |err| %", "median_abs_error_pct", 15, Kind::ratio},
                                {"p90 |err| %", "p90_abs_error_pct", 12, Kind::ratio},
                                {"max |err| %", "max_abs_error_pct", 12, Kind::ratio},
                                {"<=10 %", "rows_within_10_pct", 6, Kind::count},
                                {"<=25 %", "rows_within_25_pct", 6, Kind::count},
                                {"<=40 %", "rows_within_40_pct", 6, Kind::count},
                                {"too fast", "rows_too_fast", 8, Kind::count}};
    if (by == "source") {
      cols.push_back({by, by, 0, Kind::text});
    } else {
      cols.insert(cols.begin(), name);
    }
    auto summary = make_printer(format, std::cout, cols, false);
    auto line = [&](const std::string& group, const std::vector<double>& signed_errors) {
      const traces::ErrorSummary e = traces::summarize(signed_errors);
      Record s;
      s.emplace_back(by, group);
      s.emplace_back("rows", static_cast<std::uint64_t>(e.rows));
      s.emplace_back("median_abs_error_pct", e.median);
      s.emplace_back("p90_abs_error_pct", e.p90);
      s.emplace_back("max_abs_error_pct", e.max);
      s.emplace_back("rows_within_10_pct", static_cast<std::uint64_t>(e.within_10));
      s.emplace_back("rows_within_25_pct", static_cast<std::uint64_t>(e.within_25));
      s.emplace_back("rows_within_40_pct", static_cast<std::uint64_t>(e.within_40));
      s.emplace_back("rows_too_fast", static_cast<std::uint64_t>(e.negative));  // predicted minus published < 0
      summary->row(s);
    };
    for (const auto& [group, v] : errors) line(group, v);
    if (!all.empty()) line("all", all);
    summary->end();
  }
  // Counter rows: DRAM bytes as Nsight Compute counted them, against the closed form's bytes for
  // the same kernel(s) and the tile simulator's; kernel durations (gpu__time_duration, replayed
  // with caches flushed) against the execution model's time for those kernels less the launch
  // (profiled_kernel). In the table after the times, bytes and durations apart; in CSV and JSON
  // with --counters, one document whose rows carry both sets of columns (0 where they do not apply).
  using traces::CounterKind;
  const auto kind_of = [](const traces::ValidatedRow& v) { return traces::published_counter(*v.row)->kind; };
  if (!counter_rows.empty() && (format == Format::table || counters_only)) {
    if (!vm.count("summary")) {
      const bool table = format == Format::table;
      for (const bool durations : {false, true}) {
        if (table && std::none_of(counter_rows.begin(), counter_rows.end(), [&](const traces::ValidatedRow& v) {
              return (kind_of(v) == CounterKind::duration) == durations;
            })) {
          continue;
        }
        if (!table && durations) break;  // CSV and JSON: one document, every kind in it
        if (table) {
          std::cout << (durations ? "\nkernel durations (Nsight Compute gpu__time_duration, caches flushed, no launch):\n"
                                  : "\ncounter rows (DRAM bytes, Nsight Compute):\n");
        }
        std::vector<Column> cols = {{"impl", "impl", 6, Kind::text},       {"gpu", "gpu", 9, Kind::text},
                                    {"variant", "variant", 8, Kind::text}, {"phase", "phase", 8, Kind::text},
                                    {"causal", "causal", 6, Kind::text},   {"B", "batch", 3, Kind::count},
                                    {"H", "heads", 3, Kind::count},        {"Hkv", "kv_heads", 4, Kind::count},
                                    {"Nk", "kv_len", 6, Kind::count},      {"d", "head_dim", 4, Kind::count},
                                    {"kernel", "kernel", 19, Kind::text},  {"counter", "counter", 10, Kind::text}};
        if (!table || !durations) {
          cols.insert(cols.end(), {{"published", "published_bytes", 10, Kind::bytes},
                                   {"closed form", "predicted_bytes", 11, Kind::bytes},
                                   {"error %", "bytes_error_pct", 8, Kind::ratio},
                                   {"simulator", "simulated_bytes", 10, Kind::bytes},
                                   {"sim err %", "sim_bytes_error_pct", 9, Kind::ratio}});
        }
        if (!table || durations) {
          cols.insert(cols.end(), {{"published", "published_time_s", 10, Kind::time},
                                   {"predicted", "predicted_time_s", 10, Kind::time},
                                   {"error %", "time_error_pct", 8, Kind::ratio},
                                   {"bound", "bound", 7, Kind::text}});
        }
        cols.push_back({"source", "source", 0, Kind::text});
        auto crows = make_printer(format, std::cout, cols, false);
        for (const traces::ValidatedRow& v : counter_rows) {
          const traces::PublishedRow& r = *v.row;
          const std::optional<traces::PublishedCounter> c = traces::published_counter(r);
          const bool is_duration = c->kind == CounterKind::duration;
          if (table && is_duration != durations) continue;
          Record rec = row_shape(r);
          rec.emplace_back("kernel", c->kernel.empty() ? std::string("all") : c->kernel);
          rec.emplace_back("counter", std::string(traces::to_string(c->kind)));
          if (!table || !durations) {
            rec.emplace_back("published_bytes", v.published_bytes);
            rec.emplace_back("predicted_bytes", v.predicted_bytes);
            rec.emplace_back("bytes_error_pct", v.bytes_error_pct);
            // No simulator figure: "-" in the table; in CSV and JSON 0 with `simulated` false, so
            // the columns keep one type.
            rec.emplace_back("simulated", v.simulated_bytes.has_value());
            if (v.simulated_bytes) {
              rec.emplace_back("simulated_bytes", *v.simulated_bytes);
              rec.emplace_back("sim_bytes_error_pct", *v.sim_bytes_error_pct);
            } else if (table) {
              rec.emplace_back("simulated_bytes", std::string("-"));
              rec.emplace_back("sim_bytes_error_pct", std::string("-"));
            } else {
              rec.emplace_back("simulated_bytes", 0.0);
              rec.emplace_back("sim_bytes_error_pct", 0.0);
            }
          }
          if (!table || durations) {
            rec.emplace_back("published_time_s", v.published_s);
            rec.emplace_back("predicted_time_s", v.predicted_s);
            rec.emplace_back("time_error_pct", v.error_pct);
            rec.emplace_back("bound", is_duration ? v.bound : std::string());
          }
          rec.emplace_back("profile", v.profile);
          rec.emplace_back("sm_clock_mhz", r.sm_clock_hz / 1e6);
          rec.emplace_back("read", r.read);
          rec.emplace_back("source", r.source + ", " + r.locator);
          crows->row(rec);
        }
        crows->end();
      }
      if (table) std::cout << "\n";
    }
    if (format == Format::table && vm.count("summary")) std::cout << "\ncounter rows (Nsight Compute: DRAM bytes, kernel durations):\n";
    if (format == Format::table || vm.count("summary")) {
      auto csum = make_printer(format, std::cout,
                               {{"counter", "counter", 11, Kind::text},      {"rows", "rows", 5, Kind::count},
                                {"model median |err| %", "median_abs_error_pct", 27, Kind::ratio},
                                {"max %", "max_abs_error_pct", 8, Kind::ratio},
                                {"simulated rows", "simulated_rows", 15, Kind::count},
                                {"simulator median |err| %", "sim_median_abs_error_pct", 25, Kind::ratio},
                                {"max %", "sim_max_abs_error_pct", 8, Kind::ratio}},
                               false);
      for (const CounterKind kind : {CounterKind::dram_read, CounterKind::dram_write, CounterKind::duration}) {
        std::vector<double> closed, sim;
        for (const traces::ValidatedRow& v : counter_rows) {
          if (kind_of(v) != kind) continue;
          closed.push_back(std::fabs(kind == CounterKind::duration ? v.error_pct : v.bytes_error_pct));
          if (v.sim_bytes_error_pct) sim.push_back(std::fabs(*v.sim_bytes_error_pct));
        }
        if (closed.empty()) continue;
        const traces::ErrorSummary a = traces::summarize(closed), b = traces::summarize(sim);
        Record s;
        s.emplace_back("counter", std::string(traces::to_string(kind)));
        s.emplace_back("rows", static_cast<std::uint64_t>(a.rows));
        s.emplace_back("median_abs_error_pct", a.median);
        s.emplace_back("max_abs_error_pct", a.max);
        s.emplace_back("simulated_rows", static_cast<std::uint64_t>(b.rows));
        if (b.rows == 0 && format == Format::table) {  // no simulated row: not a perfect match
          s.emplace_back("sim_median_abs_error_pct", std::string("-"));
          s.emplace_back("sim_max_abs_error_pct", std::string("-"));
        } else {
          s.emplace_back("sim_median_abs_error_pct", b.median);
          s.emplace_back("sim_max_abs_error_pct", b.max);
        }
        csum->row(s);
      }
      csum->end();
    }
  }
  for (const auto& [why, n] : skipped) std::cerr << "note: skipped " << n << " row(s): " << why << "\n";
  if (!counter_rows.empty() && format != Format::table && !counters_only) {
    std::cerr << "note: " << counter_rows.size() << " counter row(s) not printed: --counters prints them\n";
  }
  if (counters_only) {
    if (counter_rows.empty()) {
      std::cerr << "attnio validate: no counter row could be compared\n";
      return 1;
    }
    return 0;
  }
  if (all.empty()) {
    std::cerr << "attnio validate: no row could be compared\n";
    return 1;
  }
  const double median = traces::summarize(all).median;
  if (limit && median > *limit) {
    std::cerr << "attnio validate: overall median |time error| " << median << " % is worse than the ratchet " << *limit << " %\n";
    return 1;
  }
  return 0;
}

}  // namespace attnio::cli
