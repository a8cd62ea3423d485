#include "campaign.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"
#include "attnio/model/predict.hpp"

namespace attnio::cli {

void add_campaign_options(po::options_description& desc) {
  desc.add_options()("out,o", po::value<std::string>(), "trace file to write, one record per point as it finishes (JSON Lines)");
  desc.add_options()("resume", "continue an existing trace: points already in it are skipped");
  desc.add_options()("shard", po::value<std::string>()->default_value("0/1"),
                     "run shard i of n (0-based), or auto: from a Slurm array (SLURM_ARRAY_TASK_ID) or a Kubernetes "
                     "Indexed Job (JOB_COMPLETION_INDEX with --shards)");
  desc.add_options()("shards", po::value<std::size_t>(), "with --shard auto: the number of shards (Kubernetes Indexed Jobs)");
}

traces::Shard shard_of(const po::variables_map& vm) {
  const std::string spec = vm["shard"].as<std::string>();
  if (spec == "auto") {
    std::optional<std::size_t> shards;
    if (vm.count("shards")) shards = vm["shards"].as<std::size_t>();
    return traces::shard_from_environment(shards, [](const char* name) { return std::getenv(name); });
  }
  if (vm.count("shards")) throw InputError("--shards goes with --shard auto; --shard i/n already names the count");
  return traces::parse_shard(spec);
}

void refuse_campaign_flags_without_out(const po::variables_map& vm) {
  for (const char* flag : {"resume", "shards"}) {
    if (vm.count(flag)) throw InputError("--" + std::string(flag) + " needs --out FILE.jsonl (a campaign trace)");
  }
  if (!vm["shard"].defaulted()) throw InputError("--shard needs --out FILE.jsonl (a campaign trace)");
}

traces::Plan sweep_plan(const std::vector<Point>& points, const SimOptions* sim, std::size_t* skipped,
                        std::string* first_reason) {
  traces::Plan plan;
  plan.kind = sim ? "simulate" : "predict";
  if (sim) plan.options = "l2_ways=" + std::to_string(sim->l2_ways) + " l2_sample=" + std::to_string(sim->l2_sample);
  for (const Point& pt : points) {
    const Workload w = resolve(pt.workload, *pt.device);
    std::optional<std::string> why = points.size() > 1 ? not_applicable(w) : std::nullopt;
    if (!why && sim && !w.variant->schedule) why = "simulate: " + std::string(w.variant->no_schedule);
    if (why) {
      if (first_reason->empty()) *first_reason = *why;
      ++*skipped;
      continue;
    }
    traces::PlanPoint p;
    p.device = pt.device;
    p.workload = pt.workload;
    p.kernel = sim ? "simulator" : "model";
    // The cost that deals points to shards: the simulator's tile bytes (simulation_work); a
    // prediction costs the same microseconds whatever the workload.
    p.cost = 1;
    if (sim) {
      try {
        p.cost = simulation_work(*pt.device, pt.workload, *sim);
      } catch (const InputError&) {
        p.cost = 1;  // fails at once when evaluated (tiles that do not fit): recorded with the reason
      }
    }
    plan.points.push_back(std::move(p));
  }
  plan.multi_device = false;
  for (const auto& p : plan.points) {
    if (p.device->key != plan.points.front().device->key) plan.multi_device = true;
  }
  traces::finish_plan(plan);
  return plan;
}

traces::PointEvaluator sweep_evaluator(const SimOptions* sim) {
  std::optional<SimOptions> options;
  if (sim) options = *sim;
  return [options](const traces::PlanPoint& p, traces::Record* r) -> std::string {
    if (!options) {
      r->prediction = traces::prediction_numbers(*p.device, predict(*p.device, p.workload));
      return "";
    }
    const SimResult s = simulate(*p.device, p.workload, *options);
    r->prediction = traces::prediction_numbers(*p.device, s.formula);
    r->simulation = {{"sim_hbm_read_bytes", static_cast<double>(s.hbm_read_bytes.v)},
                     {"sim_hbm_write_bytes", static_cast<double>(s.hbm_write_bytes.v)},
                     {"sim_hbm_bytes", static_cast<double>(s.hbm_bytes().v)},
                     {"sim_l2_read_bytes", static_cast<double>(s.l2_read_bytes.v)},
                     {"sim_l2_write_bytes", static_cast<double>(s.l2_write_bytes.v)},
                     {"sim_l2_hit_rate", s.l2_hit_rate},
                     {"sim_time_s", s.time_s},
                     {"sim_ctas", static_cast<double>(s.ctas)},
                     {"sim_steps", static_cast<double>(s.steps)},
                     {"sim_l2_sample", static_cast<double>(s.l2_sample)}};
    return "";
  };
}

traces::Header campaign_header(const std::string& cmd, const std::vector<std::string>& args, const traces::Plan& plan,
                               const traces::Shard& shard) {
  traces::Header header;
  header.tool_version = ATTNIO_VERSION;
  header.command = "attnio " + cmd;
  for (const auto& a : args) header.command += " " + a;
  header.device = plan.points.empty() ? default_device() : *plan.points.front().device;
  header.campaign = traces::campaign_info(plan, shard);
  return header;
}

int run_campaign_into(const std::string& cmd, const traces::Plan& plan, const traces::Shard& shard,
                      const traces::PointEvaluator& evaluate, const traces::Header& header, const std::string& out_path,
                      bool resume) {
  traces::Writer writer(out_path, header, resume);
  if (!writer.repaired().empty()) std::cerr << "attnio " << cmd << ": " << out_path << ": " << writer.repaired() << "\n";
  const bool tty = isatty(2);
  traces::CampaignStats stats;
  try {
    auto progress = [&](std::size_t done, std::size_t total, const traces::Record& r) {
      const std::string what = r.kernel.empty() || r.kernel == "model" || r.kernel == "simulator"
                                   ? std::string(to_string(r.workload.variant)) : r.kernel;
      std::cerr << (tty ? "\r\033[K" : "") << "[" << done << "/" << total << "] #" << r.point << " " << what << " seq "
                << r.workload.seq << (r.status == "ok" ? " ok" : " FAILED: " + r.error) << (tty && r.status == "ok" ? "" : "\n");
    };
    stats = traces::run_plan(plan, shard, evaluate, writer, progress);
  } catch (const traces::CampaignAbort& e) {
    std::cerr << (tty ? "\n" : "") << "attnio " << cmd << ": " << e.what() << "\n";
    return 1;
  }
  if (tty && stats.ok + stats.failed > 0) std::cerr << "\n";
  std::cout << (cmd == "profile" ? "profiled " : "evaluated ") << stats.ok << " ok, " << stats.failed << " failed, "
            << stats.already_done << " already in " << out_path << " (shard " << shard.index << "/" << shard.count << ": "
            << stats.in_shard << " of the plan's " << plan.points.size() << " points; plan " << header.campaign.plan_hash << ")\n";
  return 0;
}

traces::Trace read_shard_in_progress(const std::string& path) {
  std::string text = read_input_file(path, "trace", std::uint64_t{64} << 30);
  if (!text.empty() && text.back() != '\n') text.resize(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
  if (text.empty()) throw InputError("trace '" + path + "': no header yet");
  return traces::parse_trace(text, path);
}

}  // namespace attnio::cli
