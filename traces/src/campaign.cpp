#include "attnio/traces/campaign.hpp"
#include "attnio/traces/compare.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <numeric>
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

}  // namespace

std::map<std::string, double> prediction_numbers(const Device& device, const Prediction& p) {
  std::map<std::string, double> out;
  for (const auto& field : to_record(device, p)) {
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

namespace {

// FNV-1a, 64 bits (Fowler, Noll, Vo; the IETF draft-eastlake-fnv's offset basis and prime).
void fnv1a(std::uint64_t& h, const std::string& text) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= 0xff;  // a separator no text byte sequence can imitate across field boundaries
  h *= 1099511628211ull;
}

}  // namespace

Shard parse_shard(const std::string& spec) {
  const auto slash = spec.find('/');
  Shard s;
  if (slash == std::string::npos || !parse_size(spec.substr(0, slash), &s.index) ||
      !parse_size(spec.substr(slash + 1), &s.count)) {
    throw InputError("--shard '" + spec + "': expected i/n with whole numbers, e.g. 0/4, or auto");
  }
  if (s.count == 0) throw InputError("--shard '" + spec + "': n must be at least 1");
  if (s.index >= s.count) throw InputError("--shard '" + spec + "': i counts from 0 and must be below n");
  return s;
}

Shard shard_from_environment(std::optional<std::size_t> shards, const std::function<const char*(const char*)>& env) {
  auto number = [&](const char* name, std::size_t* out) {
    const char* v = env(name);
    if (v == nullptr) return false;
    if (!parse_size(v, out)) throw InputError("--shard auto: " + std::string(name) + "='" + v + "' is not a whole number");
    return true;
  };
  Shard s;
  std::size_t id = 0, min = 0;
  if (number("SLURM_ARRAY_TASK_ID", &id)) {
    if (!number("SLURM_ARRAY_TASK_COUNT", &s.count)) throw InputError("--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    number("SLURM_ARRAY_TASK_MIN", &min);
    if (shards && *shards != s.count) {
      throw InputError("--shard auto: --shards " + std::to_string(*shards) + " differs from the array's " + std::to_string(s.count) + " tasks");
    }
    if (id < min || id - min >= s.count) {
      throw InputError("--shard auto: array task " + std::to_string(id) + " is outside the array's " + std::to_string(s.count) +
                       " tasks from " + std::to_string(min) + " (use --array=0-" + std::to_string(s.count - 1) + ")");
    }
    s.index = id - min;
    return s;
  }
  if (number("JOB_COMPLETION_INDEX", &s.index)) {
    if (!shards) throw InputError("--shard auto: JOB_COMPLETION_INDEX is set; give the Job's completions as --shards N");
    s.count = *shards;
    if (s.count == 0 || s.index >= s.count) {
      throw InputError("--shard auto: JOB_COMPLETION_INDEX " + std::to_string(s.index) + " is not below --shards " + std::to_string(s.count));
    }
    return s;
  }
  throw InputError("--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes "
                   "Indexed Job) is set; give --shard i/n");
}

void finish_plan(Plan& plan) {
  plan.devices.clear();
  std::set<std::string> ids;
  std::vector<PlanPoint> unique;
  for (PlanPoint& p : plan.points) {
    p.id = record_id(p.workload, p.kernel, plan.multi_device ? p.device->key : std::string());
    if (!ids.insert(p.id).second) continue;  // a point two sweeps both hold is evaluated once
    const bool seen = std::any_of(plan.devices.begin(), plan.devices.end(), [&](const Device& d) { return d.key == p.device->key; });
    if (!seen) plan.devices.push_back(*p.device);
    unique.push_back(std::move(p));
  }
  plan.points = std::move(unique);
}

std::string plan_hash(const Plan& plan) {
  std::uint64_t h = 14695981039346656037ull;
  fnv1a(h, plan.kind);
  fnv1a(h, plan.options);
  for (const Device& d : plan.devices) fnv1a(h, device_to_json(d));
  for (const PlanPoint& p : plan.points) {
    fnv1a(h, p.device->key);
    fnv1a(h, p.id);
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
  return text;
}

std::vector<std::vector<std::size_t>> deal(const Plan& plan, std::size_t count) {
  if (count == 0) throw InputError("deal: no shards");
  std::vector<std::size_t> order(plan.points.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return plan.points[a].cost > plan.points[b].cost; });
  std::vector<double> load(count, 0.0);
  std::vector<std::size_t> points(count, 0);
  std::vector<std::vector<std::size_t>> shards(count);
  for (std::size_t i : order) {
    // Least cost so far; among equal costs the fewest points (so equal-cost plans deal round-robin).
    std::size_t best = 0;
    for (std::size_t s = 1; s < count; ++s) {
      if (load[s] < load[best] || (load[s] == load[best] && points[s] < points[best])) best = s;
    }
    load[best] += plan.points[i].cost;
    ++points[best];
    shards[best].push_back(i);
  }
  for (auto& s : shards) std::sort(s.begin(), s.end());
  return shards;
}

std::vector<std::size_t> dealt_to(const Plan& plan, const Shard& shard) {
  if (shard.count == 0 || shard.index >= shard.count) {
    throw InputError("shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) + ": index must be below count");
  }
  return deal(plan, shard.count)[shard.index];
}

CampaignInfo campaign_info(const Plan& plan, const Shard& shard) {
  CampaignInfo c;
  c.kind = plan.kind;
  c.plan_hash = plan_hash(plan);
  c.plan_points = plan.points.size();
  c.shard_index = shard.index;
  c.shard_count = shard.count;
  for (std::size_t i : dealt_to(plan, shard)) c.shard_points.push_back(i);
  if (plan.multi_device) c.devices = plan.devices;
  return c;
}

CampaignStats run_plan(const Plan& plan, const Shard& shard, const PointEvaluator& evaluate, Writer& writer,
                       const Progress& progress) {
  CampaignStats stats;
  const std::set<std::string> done(writer.done().begin(), writer.done().end());
  std::vector<std::size_t> todo;
  for (std::size_t i : dealt_to(plan, shard)) {
    ++stats.in_shard;
    if (done.count(plan.points[i].id)) {
      ++stats.already_done;
      continue;
    }
    todo.push_back(i);
  }
  std::size_t finished = 0;
  for (std::size_t i : todo) {
    const PlanPoint& p = plan.points[i];
    Record r;
    r.id = p.id;
    r.point = static_cast<std::int64_t>(i);
    r.workload = p.workload;
    r.kernel = p.kernel;
    if (plan.multi_device) r.device = p.device->key;
    std::string error;
    try {
      error = evaluate(p, &r);
    } catch (const CampaignAbort& e) {
      r.status = "failed";
      r.error = e.what();
      writer.append(r);
      throw;
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (error.empty()) {
      ++stats.ok;
    } else {
      r.status = "failed";
      r.error = error;
      ++stats.failed;
    }
    writer.append(r);  // flushed: nothing evaluated is lost if the campaign dies after this line
    if (progress) progress(++finished, todo.size(), r);
  }
  return stats;
}

Plan profile_plan(const std::vector<Workload>& points, const Device& device, const Measurer& measurer) {
  Plan plan;
  plan.kind = "profile";
  for (const Workload& w : points) {
    PlanPoint p;
    p.device = &device;
    p.workload = w;
    p.kernel = measurer.kernel(w);
    try {
      p.cost = predict(device, as_profiled(w, device)).predicted_time_s;
    } catch (const InputError&) {
      p.cost = 0;  // recorded as failed at once
    }
    plan.points.push_back(std::move(p));
  }
  finish_plan(plan);
  return plan;
}

PointEvaluator measuring(const Measurer& measurer) {
  return [measurer](const PlanPoint& p, Record* r) -> std::string {
    r->prediction = prediction_numbers(*p.device, predict(*p.device, as_profiled(p.workload, *p.device)));
    if (p.kernel.empty()) return "no kernel runs variant " + std::string(to_string(p.workload.variant)) + " in this phase and pass";
    Measurement m;
    const std::string error = measurer.measure(p.workload, &m);
    if (!error.empty()) return error;
    r->launch = std::move(m.launch);
    r->metrics = std::move(m.metrics);
    r->counter_data = std::move(m.counter_data);
    r->config_image = std::move(m.config_image);
    return "";
  };
}

CampaignStats run_campaign(const std::vector<Workload>& points, const Shard& shard, const Device& device,
                           const Measurer& measurer, Writer& writer, const Progress& progress) {
  return run_plan(profile_plan(points, device, measurer), shard, measuring(measurer), writer, progress);
}

}  // namespace attnio::traces
