#include "attnio/traces/campaign.hpp"
#include "attnio/traces/compare.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <type_traits>

#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/record.hpp"

namespace attnio::traces {

namespace {

bool parse_size(const std::string& s, std::size_t* out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// The model's numeric outputs, as a trace keeps them (strings such as the bound are re-derived).
std::map<std::string, double> prediction_numbers(const Device& device, const Workload& w) {
  std::map<std::string, double> out;
  for (const auto& field : to_record(device, predict(device, as_profiled(w, device)))) {
    const std::string& key = field.first;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, double> || std::is_same_v<T, std::uint64_t>) out[key] = static_cast<double>(v);
        },
        field.second);
  }
  return out;
}

}  // namespace

Shard parse_shard(const std::string& spec) {
  const auto slash = spec.find('/');
  Shard s;
  if (slash == std::string::npos || !parse_size(spec.substr(0, slash), &s.index) ||
      !parse_size(spec.substr(slash + 1), &s.count)) {
    throw InputError("--shard '" + spec + "': expected i/n with whole numbers, e.g. 0/4");
  }
  if (s.count == 0) throw InputError("--shard '" + spec + "': n must be at least 1");
  if (s.index >= s.count) throw InputError("--shard '" + spec + "': i counts from 0 and must be below n");
  return s;
}

CampaignStats run_campaign(const std::vector<Workload>& points, const Shard& shard, const Device& device,
                           const Measurer& measurer, Writer& writer,
                           const std::function<void(std::size_t, std::size_t, const Record&)>& progress) {
  CampaignStats stats;
  const std::set<std::string> done(writer.done().begin(), writer.done().end());
  std::vector<std::pair<const Workload*, std::string>> todo;  // point, kernel
  std::set<std::string> planned;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i % shard.count != shard.index) continue;
    ++stats.in_shard;
    const std::string kernel = measurer.kernel(points[i]);
    const std::string id = record_id(points[i], kernel);
    if (done.count(id) || !planned.insert(id).second) {
      ++stats.already_done;
      continue;
    }
    todo.emplace_back(&points[i], kernel);
  }
  std::size_t finished = 0;
  for (const auto& [w, kernel] : todo) {
    Record r;
    r.id = record_id(*w, kernel);
    r.workload = *w;
    r.kernel = kernel;
    r.prediction = prediction_numbers(device, *w);
    Measurement m;
    std::string error;
    if (kernel.empty()) {
      error = "no kernel runs variant " + std::string(to_string(w->variant)) + " in this phase and pass";
    } else {
      try {
        error = measurer.measure(*w, &m);
      } catch (const CampaignAbort& e) {
        r.status = "failed";
        r.error = e.what();
        writer.append(r);
        throw;
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    if (error.empty()) {
      r.launch = std::move(m.launch);
      r.metrics = std::move(m.metrics);
      r.counter_data = std::move(m.counter_data);
      r.config_image = std::move(m.config_image);
      ++stats.ok;
    } else {
      r.status = "failed";
      r.error = error;
      ++stats.failed;
    }
    writer.append(r);  // flushed: nothing measured is lost if the sweep dies after this line
    if (progress) progress(++finished, todo.size(), r);
  }
  return stats;
}

}  // namespace attnio::traces
