#include "attnio/traces/compare.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/simulate.hpp"

namespace attnio::traces {

namespace {

double number(const attnio::Record& r, const std::string& key) {
  for (const auto& [k, v] : r) {
    if (k != key) continue;
    if (const double* d = std::get_if<double>(&v)) return *d;
    if (const std::uint64_t* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  }
  return 0;
}

std::string text(const attnio::Record& r, const std::string& key) {
  for (const auto& [k, v] : r) {
    if (k == key) {
      if (const std::string* s = std::get_if<std::string>(&v)) return *s;
    }
  }
  return {};
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

}  // namespace

bool time_from_activity(const Record& r) {
  const auto span = r.metric(kActivitySpan);
  return span && *span > 0;
}

// The kernels' own span from the Activity API when the record has it (no replay, no counters
// armed), else the range profiler's gpu__time_duration.
std::optional<double> measured_time_ns(const Record& r) {
  return time_from_activity(r) ? r.metric(kActivitySpan) : r.metric("gpu__time_duration.sum");
}

std::optional<MeasuredPoint> measurement(const Record& r) {
  if (!r.simulation.empty()) {
    const auto bytes = r.simulation.find("sim_hbm_bytes"), time = r.simulation.find("sim_time_s");
    if (r.status != "ok" || bytes == r.simulation.end() || time == r.simulation.end() || time->second <= 0) return std::nullopt;
    return MeasuredPoint{bytes->second, time->second, false, true};
  }
  const auto rd = r.metric("dram__bytes_read.sum"), wr = r.metric("dram__bytes_write.sum");
  const auto ns = measured_time_ns(r);
  if (r.status != "ok" || !rd || !wr || !ns || *ns <= 0) return std::nullopt;
  return MeasuredPoint{*rd + *wr, *ns * 1e-9, time_from_activity(r), false};
}

Workload as_profiled(Workload w, const Device& device) {
  w.impl = device.compute_capability > 0 ? &find_impl("attnio") : &ideal_impl();
  return w;
}

Workload predicted_workload(const Header& h, const Record& r) {
  if (h.campaign.kind == "simulate") return with_kernel_tiles(r.workload);
  if (h.campaign.kind == "predict") return r.workload;
  return as_profiled(r.workload, record_device(h, r));
}

std::vector<attnio::Record> compare_rows(const Trace& t, bool simulate, const ImplProfile* impl) {
  std::vector<attnio::Record> rows;
  for (const Record& r : t.records) {
    const auto m = measurement(r);
    if (!m) continue;
    const Device& dev = record_device(t.header, r);
    Workload w = predicted_workload(t.header, r);
    if (impl != nullptr) w.impl = impl;
    const Prediction p = predict(dev, w);
    const double bytes = m->hbm_bytes, time = m->time_s;
    const double dram_share = bytes / time / dev.hbm_rate();
    const double tensor_share = p.tensor_flops.d() / time / dev.tensor_rate(r.workload.dtype);
    const std::string measured_bound = dram_share >= tensor_share ? "memory" : "compute";
    const std::string predicted_bound = p.memory_bound() ? "memory" : "compute";
    attnio::Record row;
    row.emplace_back("variant", std::string(to_string(r.workload.variant)));
    row.emplace_back("phase", std::string(to_string(r.workload.phase)));
    row.emplace_back("kernel", r.kernel);
    if (!r.device.empty()) row.emplace_back("device", r.device);
    row.emplace_back("seq", r.workload.query_len());
    row.emplace_back("kv_len", r.workload.kv_len == 0 ? r.workload.seq : r.workload.kv_len);
    row.emplace_back("predicted_hbm_bytes", p.hbm_bytes().v);
    row.emplace_back("measured_hbm_bytes", bytes);
    row.emplace_back("hbm_bytes_error_pct", 100 * (p.hbm_bytes().d() - bytes) / bytes);
    row.emplace_back("predicted_time_s", p.predicted_time_s);
    row.emplace_back("measured_time_s", time);
    row.emplace_back("time_source", std::string(m->time_from_activity ? "activity" : "range profiler"));
    row.emplace_back("time_error_pct", 100 * (p.predicted_time_s - time) / time);
    row.emplace_back("predicted_bound", predicted_bound);
    row.emplace_back("measured_bound", measured_bound);
    row.emplace_back("bound_agrees", predicted_bound == measured_bound);
    row.emplace_back("impl", std::string(p.impl ? p.impl->key : ""));
    if (simulate) {
      try {
        const SimResult sim = attnio::simulate(dev, w, SimOptions{});
        row.emplace_back("simulated_hbm_bytes", sim.hbm_bytes().d());
        row.emplace_back("sim_hbm_bytes_error_pct", 100 * (sim.hbm_bytes().d() - bytes) / bytes);
        row.emplace_back("simulated_time_s", sim.time_s);
        row.emplace_back("sim_time_error_pct", 100 * (sim.time_s - time) / time);
      } catch (const InputError& e) {
        row.emplace_back("sim_note", std::string(e.what()));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<attnio::Record> compare_summary(const Trace& t, const std::vector<attnio::Record>& rows) {
  struct Acc {
    std::vector<double> bytes, time, sim_bytes;
    std::uint64_t agree = 0, skipped = 0;
  };
  std::map<std::string, Acc> by;
  for (const attnio::Record& row : rows) {
    Acc& a = by[text(row, "variant")];
    a.bytes.push_back(std::fabs(number(row, "hbm_bytes_error_pct")));
    a.time.push_back(std::fabs(number(row, "time_error_pct")));
    for (const auto& [k, v] : row) {
      if (k == "sim_hbm_bytes_error_pct") a.sim_bytes.push_back(std::fabs(std::get<double>(v)));
    }
    for (const auto& [k, v] : row) {
      if (k == "bound_agrees" && std::get<bool>(v)) ++a.agree;
    }
  }
  for (const Record& r : t.records) {
    if (!measurement(r)) ++by[std::string(to_string(r.workload.variant))].skipped;
  }
  std::vector<attnio::Record> out;
  for (const auto& [variant, a] : by) {
    attnio::Record s;
    s.emplace_back("variant", variant);
    s.emplace_back("records", static_cast<std::uint64_t>(a.bytes.size()));
    s.emplace_back("median_hbm_bytes_error_pct", median(a.bytes));
    s.emplace_back("max_hbm_bytes_error_pct", a.bytes.empty() ? 0.0 : *std::max_element(a.bytes.begin(), a.bytes.end()));
    s.emplace_back("median_time_error_pct", median(a.time));
    s.emplace_back("max_time_error_pct", a.time.empty() ? 0.0 : *std::max_element(a.time.begin(), a.time.end()));
    s.emplace_back("bound_agreement_pct", a.bytes.empty() ? 0.0 : 100.0 * static_cast<double>(a.agree) / static_cast<double>(a.bytes.size()));
    if (!a.sim_bytes.empty()) s.emplace_back("median_sim_hbm_bytes_error_pct", median(a.sim_bytes));
    s.emplace_back("skipped", a.skipped);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace attnio::traces
