// `attnio submit`: a campaign as a Slurm job array. From a spec it writes a campaign folder (the
// spec, campaign.json, job.sbatch, merge.sbatch, shards/, logs/) and, unless --dry-run, submits the
// array with sbatch and a merge job that runs after it (--dependency=afterany). Each array task
// runs one shard with --resume, so a requeued or preempted task loses no finished record.
// `attnio submit --status DIR` reads the folder and prints done/missing per shard.
#include "commands/commands.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "attnio/model/errors.hpp"
#include "attnio/model/files.hpp"
#include "campaign.hpp"
#include "command_util.hpp"
#include "flags.hpp"
#include "output.hpp"

extern char** environ;

namespace attnio::cli {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// One shell word: single quotes, each ' written as '\'' (POSIX sh, "Quoting": nothing inside single
// quotes is special), so paths with spaces, quotes, $ or backquotes stay plain names.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Control characters (a newline would start a new script line) are refused in anything written
// into the scripts.
void refuse_control(const std::string& what, const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) throw InputError(what + ": control characters (newline, tab, ...) are not allowed");
  }
}

// A value on an #SBATCH line: sbatch splits those lines at white space and reads quotes itself,
// so a value must be one plain word.
std::string sbatch_word(const std::string& what, const std::string& s) {
  refuse_control(what, s);
  if (s.empty()) throw InputError(what + ": empty");
  for (char c : s) {
    if (c == ' ' || c == '\'' || c == '"' || c == '\\' || c == '#') {
      throw InputError(what + " '" + s + "': one word without spaces, quotes, backslashes or #, as on an #SBATCH line");
    }
  }
  return s;
}

// Runs a program (no shell: argv as given) and captures its stdout; returns its exit status, or
// -1 when it could not start (err says why).
int run_program(const std::vector<std::string>& argv, std::string* out, std::string* err) {
  int pipes[2][2];
  if (pipe(pipes[0]) != 0 || pipe(pipes[1]) != 0) {
    *err = "pipe failed";
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipes[0][1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipes[1][1], 2);
  for (auto& p : pipes) {
    posix_spawn_file_actions_addclose(&actions, p[0]);
    posix_spawn_file_actions_addclose(&actions, p[1]);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipes[0][1]);
  close(pipes[1][1]);
  auto drain = [](int fd) {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    close(fd);
    return text;
  };
  *out = drain(pipes[0][0]);
  *err = drain(pipes[1][0]);
  if (rc != 0) {
    *err = argv[0] + ": cannot run (" + std::string(std::strerror(rc)) + ")";
    return -1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// The spec as the tasks read it from the folder: device files named by absolute path, since the
// tasks run in the campaign folder (a spec's relative paths are relative to where attnio runs).
std::string with_absolute_device_files(const std::string& spec_text) {
  json::value doc = json::parse(spec_text);  // expand_spec_text has checked it
  bool changed = false;
  for (json::value& sweep : doc.as_object()["sweeps"].as_array()) {
    json::object& o = sweep.as_object();
    json::value* files = o.if_contains("device-file");
    if (files == nullptr || !files->is_string()) continue;
    std::string joined;
    for (const std::string& path : comma_list(std::string(files->as_string()))) {
      joined += (joined.empty() ? "" : ",") + fs::absolute(path).lexically_normal().string();
    }
    changed = changed || joined != files->as_string();
    *files = joined;
  }
  return changed ? json::serialize(doc) + "\n" : spec_text;
}

std::string self_path() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw InputError("cannot find this attnio's path (/proc/self/exe); give --attnio PATH");
  return p.string();
}

std::string shard_width_format(std::size_t tasks) {
  const std::size_t digits = std::max<std::size_t>(3, std::to_string(tasks - 1).size());
  return "%0" + std::to_string(digits) + "d";
}

std::string shard_file(std::size_t tasks, std::size_t index) {
  char name[64];
  std::snprintf(name, sizeof name, shard_width_format(tasks).c_str(), static_cast<int>(index));
  return "shard-" + std::string(name) + ".jsonl";
}

struct Job {
  std::string kind;  // predict, simulate, profile
  std::string dir, spec_text, attnio, name;
  std::size_t tasks = 1;
  std::string plan_hash;
  std::size_t plan_points = 0;
  std::vector<std::string> task_args;  // the campaign command's own flags (simulator options, runner)
  std::vector<std::string> sbatch_lines;  // "--partition=x", ...
  std::vector<std::string> merge_lines;   // the subset the merge job repeats (partition, account, qos, time)
};

std::string job_script(const Job& j) {
  std::ostringstream s;
  const std::string resubmit = "sbatch --chdir=" + sh_quote(j.dir) + " " + sh_quote(j.dir + "/job.sbatch");
  s << "#!/bin/bash\n"
    << "# attnio campaign: " << j.kind << " of " << j.plan_points << " points in " << j.tasks << " shards, plan " << j.plan_hash
    << ",\n# written by attnio submit " << ATTNIO_VERSION << ". Array task i evaluates shard i into shards/shard-<i>.jsonl"
    << "\n# with --resume: a requeued or preempted task continues after its last finished record.\n"
    << "# Logs go to logs/ under the folder given as --chdir. Resubmit by hand with:\n#   " << resubmit << "\n";
  s << "#SBATCH --job-name=" << j.name << "\n#SBATCH --array=0-" << j.tasks - 1 << "\n#SBATCH --ntasks=1\n"
    << "#SBATCH --output=logs/task-%a.log\n#SBATCH --open-mode=append\n#SBATCH --requeue\n";
  for (const auto& line : j.sbatch_lines) s << "#SBATCH " << line << "\n";
  s << "set -euo pipefail\n"
    << "dir=" << sh_quote(j.dir) << "\n"
    << "attnio=" << sh_quote(j.attnio) << "\n"
    << "shard=$(printf '" << shard_width_format(j.tasks) << "' \"$SLURM_ARRAY_TASK_ID\")\n"
    << "echo \"task $SLURM_ARRAY_TASK_ID of job ${SLURM_ARRAY_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname) at $(date -Is)\"\n"
    << "exec \"$attnio\" " << (j.kind == "profile" ? "profile" : "sweep") << " --spec \"$dir/spec.json\"";
  for (const auto& a : j.task_args) s << " " << sh_quote(a);
  s << " --out \"$dir/shards/shard-$shard.jsonl\" --resume --shard auto\n";
  return s.str();
}

std::string merge_script(const Job& j) {
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# attnio campaign " << j.plan_hash << ": merges the shards into merged.jsonl once the array has ended (afterany),\n"
    << "# checks it against the plan (exit " << kExitIncomplete << " and the missing points when any are), and writes summary.txt.\n"
    << "#SBATCH --job-name=" << j.name << "-merge\n#SBATCH --ntasks=1\n#SBATCH --output=logs/merge.log\n#SBATCH --open-mode=append\n";
  for (const auto& line : j.merge_lines) s << "#SBATCH " << line << "\n";
  s << "set -uo pipefail\n"
    << "dir=" << sh_quote(j.dir) << "\n"
    << "attnio=" << sh_quote(j.attnio) << "\n"
    << "shopt -s nullglob\n"
    << "shards=(\"$dir\"/shards/shard-*.jsonl)\n"
    << "\"$attnio\" merge \"$dir/merged.jsonl\" \"${shards[@]}\"\n"
    << "status=$?\n"
    << "if [ -s \"$dir/merged.jsonl\" ]; then\n"
    << "  \"$attnio\" compare \"$dir/merged.jsonl\" >\"$dir/summary.txt\" 2>&1 || status=$?\n"
    << "fi\n"
    << "exit $status\n";
  return s.str();
}

void write_file(const std::string& path, const std::string& text, bool executable) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text) || !out.flush()) throw InputError("submit: cannot write '" + path + "'");
  out.close();
  if (executable) fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
}

json::object read_campaign_json(const std::string& dir) {
  const std::string path = dir + "/campaign.json";
  json::error_code ec;
  const json::value v = json::parse(read_input_file(path, "campaign", 1u << 20), ec);
  if (ec || !v.is_object()) throw InputError("campaign '" + path + "': not a campaign.json written by attnio submit");
  const json::object& o = v.as_object();
  for (const char* key : {"kind", "plan_hash", "plan_points", "tasks"}) {
    if (!o.contains(key)) throw InputError("campaign '" + path + "': missing field '" + key + "'");
  }
  return o;
}

// sbatch --parsable prints "jobid" or "jobid;cluster".
std::string submit_script(const std::string& dir, const std::string& script, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {"sbatch", "--parsable", "--chdir=" + dir};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(dir + "/" + script);
  std::string out, err;
  const int rc = run_program(argv, &out, &err);
  if (rc != 0) {
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw InputError("sbatch " + script + " failed (exit " + std::to_string(rc) + "): " + (err.empty() ? out : err));
  }
  const std::string id = out.substr(0, out.find_first_of(";\n"));
  if (id.empty() || !std::all_of(id.begin(), id.end(), ::isdigit)) throw InputError("sbatch printed no job id: '" + out + "'");
  return id;
}

int status(const std::string& dir) {
  const json::object c = read_campaign_json(dir);
  const std::size_t tasks = static_cast<std::size_t>(c.at("tasks").to_number<std::uint64_t>());
  const std::string hash(c.at("plan_hash").as_string());
  std::cout << "campaign " << dir << ": " << json::value_to<std::string>(c.at("kind")) << ", plan " << hash << ", "
            << c.at("plan_points").to_number<std::uint64_t>() << " points in " << tasks << " shards";
  if (const json::value* j = c.if_contains("array_job")) std::cout << ", array job " << json::value_to<std::string>(*j);
  if (const json::value* j = c.if_contains("merge_job")) std::cout << ", merge job " << json::value_to<std::string>(*j);
  std::cout << "\n";
  auto printer = make_printer(Format::table, std::cout,
                              {{"shard", "shard", 5, Kind::count}, {"file", "file", 16, Kind::text}, {"dealt", "dealt", 6, Kind::count},
                               {"done", "done", 6, Kind::count}, {"failed", "failed", 6, Kind::count},
                               {"missing", "missing", 7, Kind::count}, {"state", "state", 8, Kind::text}},
                              false);
  std::vector<traces::Trace> present;
  for (std::size_t i = 0; i < tasks; ++i) {
    const std::string name = shard_file(tasks, i), path = dir + "/shards/" + name;
    attnio::Record row;
    row.emplace_back("shard", static_cast<std::uint64_t>(i));
    row.emplace_back("file", name);
    if (!fs::exists(path)) {
      row.emplace_back("state", std::string("absent"));
      printer->row(row);
      continue;
    }
    traces::Trace t = read_shard_in_progress(path);
    if (t.header.campaign.plan_hash != hash) throw InputError("shard '" + path + "': plan " + t.header.campaign.plan_hash + " is not the folder's " + hash);
    std::uint64_t failed = 0;
    for (const auto& r : t.records) failed += r.status != "ok";
    const std::uint64_t dealt = t.header.campaign.shard_points.size(), done = t.records.size();
    row.emplace_back("dealt", dealt);
    row.emplace_back("done", done);
    row.emplace_back("failed", failed);
    row.emplace_back("missing", dealt - std::min(dealt, done));
    row.emplace_back("state", std::string(done >= dealt ? "complete" : "partial"));
    printer->row(row);
    present.push_back(std::move(t));
  }
  printer->end();
  if (present.empty()) {
    std::cout << "no shard has started yet\n";
    return kExitIncomplete;
  }
  return report_coverage(traces::coverage(present), std::cout);
}

}  // namespace

int cmd_submit(const std::vector<std::string>& args) {
  po::options_description desc("submit options");
  desc.add_options()("spec", po::value<std::string>(), "the sweep spec (JSON, as sweep --spec); copied into the folder");
  desc.add_options()("dir", po::value<std::string>(), "the campaign folder (created; an existing one must hold the same plan)");
  desc.add_options()("kind", po::value<std::string>()->default_value("simulate"),
                     "simulate: sweep --simulate; predict: sweep; profile: profile (one GPU per task unless --runner cpu)");
  desc.add_options()("tasks", po::value<std::size_t>(), "array tasks = shards (required)");
  desc.add_options()("runner", po::value<std::string>(), "profile: gpu (default) or cpu, as profile --runner");
  desc.add_options()("l2-ways", po::value<std::uint32_t>(), "simulate: L2 associativity (as sweep)");
  desc.add_options()("l2-sample", po::value<std::uint32_t>(), "simulate: L2 set sample (as sweep)");
  desc.add_options()("partition", po::value<std::string>(), "Slurm partition");
  desc.add_options()("gres", po::value<std::string>(), "generic resources per task (default gpu:1 for GPU profiling, none otherwise; 'none' for none)");
  desc.add_options()("time", po::value<std::string>(), "time limit per task, as sbatch --time");
  desc.add_options()("cpus-per-task", po::value<std::uint32_t>()->default_value(1), "CPUs per task");
  desc.add_options()("account", po::value<std::string>(), "Slurm account");
  desc.add_options()("qos", po::value<std::string>(), "Slurm quality of service");
  desc.add_options()("job-name", po::value<std::string>(), "job name (letters, digits, . _ -; default attnio-KIND)");
  desc.add_options()("sbatch-arg", po::value<std::vector<std::string>>(), "another #SBATCH option for the array, e.g. --constraint=h100 (repeatable)");
  desc.add_options()("attnio", po::value<std::string>(), "the attnio the tasks run (default: this one)");
  desc.add_options()("dry-run", "write the folder and print the array's script; submit nothing");
  desc.add_options()("status", po::value<std::string>(), "print done/missing per shard of the campaign folder DIR");
  po::variables_map vm;
  if (!parse("submit", "--spec F.json --dir DIR --tasks N [--kind simulate|predict|profile] [Slurm options] [--dry-run] | --status DIR",
             desc, args, vm)) {
    return 0;
  }
  if (vm.count("status")) {
    if (vm.count("spec") || vm.count("dir") || vm.count("tasks")) throw InputError("--status DIR reads a campaign folder; give it alone");
    return status(vm["status"].as<std::string>());
  }
  for (const char* need : {"spec", "dir", "tasks"}) {
    if (!vm.count(need)) throw InputError("give --" + std::string(need) + " (see attnio submit --help)");
  }
  Job j;
  j.kind = vm["kind"].as<std::string>();
  if (j.kind != "simulate" && j.kind != "predict" && j.kind != "profile") throw InputError("--kind '" + j.kind + "': expected simulate, predict or profile");
  j.tasks = vm["tasks"].as<std::size_t>();
  if (j.tasks == 0 || j.tasks > 10000) throw InputError("--tasks must be between 1 and 10000");
  const std::string runner = vm.count("runner") ? vm["runner"].as<std::string>() : "gpu";
  if (vm.count("runner") && j.kind != "profile") throw InputError("--runner goes with --kind profile");
  if (runner != "gpu" && runner != "cpu") throw InputError("--runner '" + runner + "': expected gpu or cpu");
  if ((vm.count("l2-ways") || vm.count("l2-sample")) && j.kind != "simulate") throw InputError("--l2-ways and --l2-sample go with --kind simulate");

  // The plan, exactly as every task will expand it.
  const std::string spec_path = vm["spec"].as<std::string>();
  j.spec_text = read_input_file(spec_path, "spec", 16u << 20);
  std::deque<Device> storage;
  const std::vector<Point> points = expand_spec_text(j.spec_text, spec_path, storage);
  j.spec_text = with_absolute_device_files(j.spec_text);
  traces::Plan plan;
  if (j.kind == "profile") {
    for (const auto& pt : points) {
      if (pt.device->key != points.front().device->key) throw InputError("profile measures one GPU: the spec names several devices");
    }
    std::vector<Workload> workloads;
    for (const auto& pt : points) workloads.push_back(pt.workload);
    plan = profile_campaign_plan(workloads, *points.front().device, runner);
  } else {
    SimOptions sim;
    if (vm.count("l2-ways")) sim.l2_ways = vm["l2-ways"].as<std::uint32_t>();
    if (vm.count("l2-sample")) sim.l2_sample = vm["l2-sample"].as<std::uint32_t>();
    std::size_t skipped = 0;
    std::string reason;
    plan = sweep_plan(points, j.kind == "simulate" ? &sim : nullptr, &skipped, &reason);
    if (plan.points.empty()) throw InputError("no combination of the spec applies: " + reason);
  }
  j.plan_hash = traces::plan_hash(plan);
  j.plan_points = plan.points.size();
  if (j.tasks > j.plan_points) {
    throw InputError("--tasks " + std::to_string(j.tasks) + " is more than the plan's " + std::to_string(j.plan_points) + " points");
  }
  if (j.kind == "simulate") {
    j.task_args.push_back("--simulate");
    if (vm.count("l2-ways")) j.task_args.insert(j.task_args.end(), {"--l2-ways", std::to_string(vm["l2-ways"].as<std::uint32_t>())});
    if (vm.count("l2-sample")) j.task_args.insert(j.task_args.end(), {"--l2-sample", std::to_string(vm["l2-sample"].as<std::uint32_t>())});
  }
  if (j.kind == "profile") j.task_args.insert(j.task_args.end(), {"--runner", runner});

  // The folder and the scripts' words.
  const std::string dir_given = vm["dir"].as<std::string>();
  refuse_control("--dir", dir_given);
  if (dir_given.empty()) throw InputError("--dir: empty");
  j.dir = fs::absolute(dir_given).lexically_normal().string();
  while (j.dir.size() > 1 && j.dir.back() == '/') j.dir.pop_back();
  j.attnio = vm.count("attnio") ? fs::absolute(vm["attnio"].as<std::string>()).string() : self_path();
  refuse_control("--attnio", j.attnio);
  if (!fs::is_regular_file(j.attnio)) throw InputError("--attnio '" + j.attnio + "': not a file");
  j.name = vm.count("job-name") ? vm["job-name"].as<std::string>() : "attnio-" + j.kind;
  if (j.name.empty() || j.name.size() > 64 ||
      !std::all_of(j.name.begin(), j.name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; })) {
    throw InputError("--job-name '" + j.name + "': letters, digits, '.', '_' and '-' only (at most 64)");
  }
  auto option = [&](const char* flag, bool for_merge) {
    if (!vm.count(flag)) return;
    const std::string line = "--" + std::string(flag) + "=" + sbatch_word("--" + std::string(flag), vm[flag].as<std::string>());
    j.sbatch_lines.push_back(line);
    if (for_merge) j.merge_lines.push_back(line);
  };
  option("partition", true);
  option("account", true);
  option("qos", true);
  option("time", true);
  j.sbatch_lines.push_back("--cpus-per-task=" + std::to_string(vm["cpus-per-task"].as<std::uint32_t>()));
  const std::string gres = vm.count("gres") ? sbatch_word("--gres", vm["gres"].as<std::string>())
                                            : (j.kind == "profile" && runner == "gpu" ? "gpu:1" : "none");
  if (gres != "none") j.sbatch_lines.push_back("--gres=" + gres);
  if (vm.count("sbatch-arg")) {
    for (const std::string& a : vm["sbatch-arg"].as<std::vector<std::string>>()) {
      sbatch_word("--sbatch-arg", a);
      if (a.size() < 2 || a[0] != '-') throw InputError("--sbatch-arg '" + a + "': an sbatch option, starting with -");
      for (const char* owned : {"--array", "--output", "--chdir", "--dependency", "--job-name", "-a", "-o", "-D", "-d", "-J"}) {
        if (a == owned || a.rfind(std::string(owned) + "=", 0) == 0) {
          throw InputError("--sbatch-arg '" + a + "': attnio submit sets " + owned + " itself");
        }
      }
      j.sbatch_lines.push_back(a);
    }
  }

  // An existing folder must be this campaign (resubmitting resumes it).
  if (fs::exists(j.dir + "/campaign.json")) {
    const json::object old = read_campaign_json(j.dir);
    const std::string old_hash(old.at("plan_hash").as_string());
    if (json::value_to<std::string>(old.at("kind")) != j.kind || old_hash != j.plan_hash) {
      throw InputError("--dir '" + j.dir + "' holds campaign " + json::value_to<std::string>(old.at("kind")) + " " + old_hash +
                       ", not this spec's " + j.kind + " " + j.plan_hash + ": choose another folder");
    }
    if (old.at("tasks").to_number<std::uint64_t>() != j.tasks) {
      throw InputError("--dir '" + j.dir + "' was dealt into " + std::to_string(old.at("tasks").to_number<std::uint64_t>()) +
                       " shards; resubmit with the same --tasks");
    }
  } else if (fs::exists(j.dir) && !fs::is_empty(j.dir)) {
    throw InputError("--dir '" + j.dir + "' exists and is not a campaign folder (no campaign.json)");
  }
  std::error_code ec;
  fs::create_directories(j.dir + "/shards", ec);
  if (!ec) fs::create_directories(j.dir + "/logs", ec);
  if (ec) throw InputError("--dir '" + j.dir + "': cannot create (" + ec.message() + ")");
  write_file(j.dir + "/spec.json", j.spec_text, false);
  write_file(j.dir + "/job.sbatch", job_script(j), true);
  write_file(j.dir + "/merge.sbatch", merge_script(j), true);
  json::object c;
  c["kind"] = j.kind;
  c["plan_hash"] = j.plan_hash;
  c["plan_points"] = j.plan_points;
  c["tasks"] = j.tasks;
  c["attnio"] = j.attnio;
  c["tool_version"] = ATTNIO_VERSION;
  if (vm.count("dry-run")) {
    write_file(j.dir + "/campaign.json", json::serialize(c) + "\n", false);
    std::cout << job_script(j);
    std::cerr << "attnio submit: wrote " << j.dir << "/{spec.json,campaign.json,job.sbatch,merge.sbatch}; nothing submitted (--dry-run)\n";
    return 0;
  }
  const std::string array_job = submit_script(j.dir, "job.sbatch", {});
  c["array_job"] = array_job;
  const std::string merge_job = submit_script(j.dir, "merge.sbatch", {"--dependency=afterany:" + array_job});
  c["merge_job"] = merge_job;
  write_file(j.dir + "/campaign.json", json::serialize(c) + "\n", false);
  std::cout << "submitted array job " << array_job << " (" << j.tasks << " tasks, " << j.plan_points << " points) and merge job "
            << merge_job << " (after the array); folder " << j.dir << "\n"
            << "progress: attnio submit --status " << sh_quote(j.dir) << "\n";
  return 0;
}

}  // namespace attnio::cli
