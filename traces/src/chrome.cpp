#include "attnio/traces/chrome.hpp"
#include "attnio/traces/compare.hpp"

#include <algorithm>
#include <map>
#include <ostream>

#include <boost/json.hpp>

#include "attnio/model/predict.hpp"

namespace attnio::traces {
namespace json = boost::json;

namespace {

json::object thread_name(int pid, int tid, const std::string& name) {
  return {{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}};
}

json::object process_name(int pid, const std::string& name) {
  return {{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 0}, {"args", {{"name", name}}}};
}

}  // namespace

void write_chrome(const Trace& t, std::ostream& out) {
  json::array events;
  const bool simulated = t.header.campaign.kind == "simulate";
  events.push_back(process_name(1, simulated ? "simulated (the tile simulator's sim_time_s) on " + t.header.device.name
                                             : "measured (Activity API kernel span, else gpu__time_duration.sum) on " + t.header.device.name));
  events.push_back(process_name(2, "predicted (attnio model)"));

  std::map<std::string, int> tid_of;  // variant -> row
  auto tid = [&](const std::string& variant) {
    auto [it, fresh] = tid_of.emplace(variant, static_cast<int>(tid_of.size()) + 1);
    if (fresh) {
      events.push_back(thread_name(1, it->second, variant));
      events.push_back(thread_name(2, it->second, variant));
    }
    return it->second;
  };

  constexpr double kGapUs = 1.0;  // between slots, so adjacent kernels stay distinguishable
  double cursor_us = 0;
  for (const Record& r : t.records) {
    const std::string variant(to_string(r.workload.variant));
    const int row = tid(variant);
    const std::string name = r.kernel.empty() ? variant : r.kernel;

    json::object args;
    args["id"] = r.id;
    args["variant"] = variant;
    args["phase"] = std::string(to_string(r.workload.phase));
    args["seq"] = r.workload.query_len();
    args["kv_len"] = r.workload.kv_len == 0 ? r.workload.seq : r.workload.kv_len;
    args["batch"] = r.workload.batch;
    args["heads"] = r.workload.heads;
    args["head_dim"] = r.workload.head_dim;
    json::object launch;
    for (const auto& [k, v] : r.launch) launch[k] = v;
    args["launch"] = std::move(launch);
    json::object metrics;
    for (const Metric& m : r.metrics) metrics[m.name + " (" + m.unit + ")"] = m.value;
    args["metrics"] = std::move(metrics);

    if (r.status != "ok") {
      args["error"] = r.error;
      events.push_back(json::object{{"name", name + " (failed)"}, {"ph", "i"}, {"s", "t"}, {"pid", 1},
                                    {"tid", row}, {"ts", cursor_us}, {"args", args}});
      cursor_us += kGapUs;
      continue;
    }

    // The prediction kept in the record is what the model said at record time; a trace from before
    // predictions were stored is re-predicted with the current model (and says so).
    double predicted_s = 0;
    json::object prediction;
    if (auto it = r.prediction.find("predicted_time_s"); it != r.prediction.end()) {
      predicted_s = it->second;
      for (const auto& [k, v] : r.prediction) prediction[k] = v;
      args["prediction_source"] = "record";
    } else {
      const Prediction p = predict(record_device(t.header, r), predicted_workload(t.header, r));
      predicted_s = p.predicted_time_s;
      prediction["predicted_time_s"] = p.predicted_time_s;
      prediction["hbm_bytes"] = p.hbm_bytes().d();
      prediction["bound"] = p.memory_bound() ? "memory" : "compute";
      args["prediction_source"] = "current model";
    }
    args["prediction"] = std::move(prediction);

    // As compare: the Activity span, else gpu__time_duration; a simulate campaign's simulated time.
    const auto ns = measured_time_ns(r);
    const auto sim = r.simulation.find("sim_time_s");
    const double measured_us = sim != r.simulation.end() ? sim->second * 1e6 : ns && *ns > 0 ? *ns * 1e-3 : 0;
    if (!r.simulation.empty()) {
      json::object simulation;
      for (const auto& [k, v] : r.simulation) simulation[k] = v;
      args["simulation"] = std::move(simulation);
    }
    const double predicted_us = predicted_s * 1e6;
    if (measured_us > 0) {
      events.push_back(json::object{{"name", name}, {"ph", "X"}, {"pid", 1}, {"tid", row}, {"ts", cursor_us},
                                    {"dur", measured_us}, {"args", args}});
    }
    events.push_back(json::object{{"name", name}, {"ph", "X"}, {"pid", 2}, {"tid", row}, {"ts", cursor_us},
                                  {"dur", predicted_us}, {"args", args}});
    cursor_us += std::max(measured_us, predicted_us) + kGapUs;
  }

  json::object doc;
  doc["displayTimeUnit"] = "ns";
  doc["traceEvents"] = std::move(events);
  json::object meta{{"tool_version", t.header.tool_version}, {"command", t.header.command},
                    {"device", t.header.device.name}, {"chip", t.header.chip}};
  if (!t.header.note.empty()) meta["note"] = t.header.note;
  doc["otherData"] = std::move(meta);
  out << json::serialize(doc) << "\n";
}

}  // namespace attnio::traces
