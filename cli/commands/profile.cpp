// `attnio profile`: every point of a sweep run on the GPU under the CUPTI range profiler, one
// record appended and flushed per point (traces/README.md). Exit 3 without a GPU.
#include "commands/commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>

#include "attnio/model/errors.hpp"
#include "attnio/model/workload.hpp"
#include "attnio/traces/campaign.hpp"
#include "attnio/traces/compare.hpp"
#include "attnio/traces/trace.hpp"
#include "campaign.hpp"
#include "command_util.hpp"
#include "flags.hpp"
#include "output.hpp"
#include "reference/attention_ref.hpp"
#include "reference/validate.hpp"
#ifdef ATTNIO_HAVE_CUPTI
#include "attnio/profiler/activity.hpp"
#include "attnio/profiler/host.hpp"
#include "attnio/profiler/range.hpp"
#endif
#ifdef ATTNIO_HAVE_KERNELS
#include "attnio/kernels/bind.hpp"
#include <cuda_runtime.h>
#endif

namespace attnio::cli {
namespace {

// The float64 reference's multiply-adds for a workload: Q Kᵀ and P V over every query and key.
double reference_macs(const Workload& w) {
  const double n = w.phase == Phase::decode ? 1.0 : static_cast<double>(w.seq), nk = static_cast<double>(w.kv_len);
  return static_cast<double>(w.batch) * static_cast<double>(w.heads) * n * nk * static_cast<double>(w.head_dim + w.v_head_dim);
}

#ifdef ATTNIO_HAVE_KERNELS
// The kernel each point runs (kernels/bind.hpp), for the plan's ids and --dry-run.
traces::Measurer measurer_names() {
  traces::Measurer m;
  m.kernel = [](const Workload& w) { return kernels::bound_kernel_name(w); };
  return m;
}
#endif

// The --runner cpu measurer: the softmax-family variants run the float64 definition
// (kernels/reference, the same code the CUDA kernels are checked against) on seeded inputs, timed
// with the host's steady clock. Other variants, and shapes past 2^31 multiply-adds, are recorded
// as failed with the reason, as a GPU sweep records a kernel it cannot run.
traces::Measurer cpu_reference_measurer(const Device& device) {
  traces::Measurer m;
  auto supported = [](const Workload& w) { return w.variant->cpu_reference && w.pass == Pass::fwd; };
  m.kernel = [supported](const Workload& w) { return supported(w) ? std::string("cpu-reference:direct") : std::string(); };
  m.measure = [device](const Workload& raw, traces::Measurement* out) -> std::string {
    const Workload w = resolve(raw, device);
    ref::Attn a;
    const bool decode = w.phase == Phase::decode;
    const double n = decode ? 1.0 : static_cast<double>(w.seq), nk = static_cast<double>(w.kv_len);
    const double macs = reference_macs(w);
    if (macs > 2147483648.0) return "too large for the cpu runner (" + std::to_string(static_cast<long long>(macs)) + " multiply-adds > 2^31)";
    a.batch = static_cast<int>(w.batch);
    a.heads = static_cast<int>(w.heads);
    a.kv_heads = static_cast<int>(w.kv_heads);
    a.n = static_cast<int>(n);
    a.nk = static_cast<int>(nk);
    a.d = static_cast<int>(w.head_dim);
    a.dv = static_cast<int>(w.v_head_dim);
    a.causal = w.causal;
    if (w.params.has("window")) a.window = static_cast<int>(w.count("window"));
    a.sigmoid = w.variant->sigmoid_scores;
    const std::string dtype(to_string(w.dtype));
    const auto q = ref::random_inputs(static_cast<std::size_t>(a.batch) * a.n * a.heads * a.d, 1, dtype);
    const auto k = ref::random_inputs(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.d, 2, dtype);
    const auto v = ref::random_inputs(static_cast<std::size_t>(a.batch) * a.nk * a.kv_heads * a.dv, 3, dtype);
    const auto t0 = std::chrono::steady_clock::now();
    const ref::Output o = ref::direct(a, q, k, v);
    const auto t1 = std::chrono::steady_clock::now();
    if (o.o.empty()) return "the reference produced no output";
    out->launch["threads"] = 1;
    out->metrics.push_back({"host__reference_time_duration.sum", "nsecond",
                            static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count())});
    return "";
  };
  return m;
}

}  // namespace

traces::Plan profile_campaign_plan(const std::vector<Workload>& points, const Device& device, const std::string& runner) {
  // The profiler flushes the L2 by reading a buffer (kernels/bind.cu l2_read_kernel): its runs
  // start clean, whatever the workload says.
  for (const Workload& w : points) {
    if (w.dirty_l2) throw InputError("--l2-start dirty is not what the profiler runs (its L2 flush reads, leaving it clean)");
    if (w.accumulate_grads) throw InputError("--grads accumulate is not what the profiler runs (it times the attention kernels alone)");
  }
  if (runner == "cpu") {
    traces::Plan plan = traces::profile_plan(points, device, cpu_reference_measurer(device));
    // The cpu runner's time is the float64 reference's: its multiply-adds, not the GPU's time.
    for (traces::PlanPoint& p : plan.points) p.cost = reference_macs(resolve(p.workload, device));
    return plan;
  }
#ifdef ATTNIO_HAVE_KERNELS
  return traces::profile_plan(points, device, measurer_names());
#else
  throw InputError("attnio was built without CUDA kernels (ATTNIO_CUDA=OFF): no GPU profile plan; use --runner cpu");
#endif
}

int cmd_profile(const std::vector<std::string>& args) {
  po::options_description desc("profile options (sweep flags take lists and ranges, as in sweep)");
  add_workload_options(desc);
  add_campaign_options(desc);
  desc.add_options()("metrics", po::value<std::string>(), "extra metrics beyond the defaults (comma list; see attnio metrics)");
  desc.add_options()("spec", po::value<std::string>(), "take the sweeps from a JSON spec file instead of flags (e.g. traces/specs/suite.json)");
  desc.add_options()("dry-run", "list this shard's points and the kernel each runs, without a GPU");
  desc.add_options()("runner", po::value<std::string>()->default_value("gpu"),
                     "gpu: the CUDA kernels under CUPTI; cpu: time the float64 CPU reference on the host instead "
                     "(no GPU, no counters: for trying sweeps, --resume and --shard anywhere)");
  po::variables_map vm;
  if (!parse("profile", "--out FILE.jsonl [sweep flags | --spec FILE.json] [--resume] [--shard i/n|auto] [--metrics a,b]", desc, args, vm)) return 0;
  const traces::Shard shard = shard_of(vm);
  std::deque<Device> storage;
  if (vm.count("spec")) refuse_flags_with_spec(vm);
  const auto points = vm.count("spec") ? expand_spec(vm["spec"].as<std::string>(), storage) : expand(vm, Workload{}, true, storage);
  const Device* device = points.front().device;
  for (const auto& pt : points) {
    if (pt.device->key != device->key) throw InputError("profile measures one GPU: give a single --device");
  }
  std::vector<Workload> workloads;
  for (const auto& pt : points) workloads.push_back(pt.workload);
  const std::string runner = vm["runner"].as<std::string>();
  if (runner != "gpu" && runner != "cpu") throw InputError("--runner: '" + runner + "' is not gpu or cpu");
  if (runner == "cpu") {
    if (vm.count("dry-run")) throw InputError("--dry-run lists GPU kernels; it does not apply to --runner cpu");
    if (vm.count("metrics")) throw InputError("--metrics names GPU counters; the cpu runner measures wall time only");
    if (!vm.count("out")) throw InputError("give --out FILE.jsonl (the trace to write)");
    const traces::Measurer measurer = cpu_reference_measurer(*device);
    const traces::Plan plan = profile_campaign_plan(workloads, *device, runner);
    traces::Header header = campaign_header("profile", args, plan, shard);
    header.chip = "CPU";
    header.driver_version = header.cuda_version = header.cupti_version = "none";
    header.note = "CPU reference runner (--runner cpu): host wall time of the float64 reference, not a GPU "
                  "measurement; predictions are for " + device->key;
    return run_campaign_into("profile", plan, shard, traces::measuring(measurer), header, vm["out"].as<std::string>(),
                             vm.count("resume") > 0);
  }
#ifdef ATTNIO_HAVE_KERNELS
  if (vm.count("dry-run")) {
    auto printer = make_printer(format_of(vm), std::cout,
                                {{"#", "index", 5, Kind::count}, {"variant", "variant", 15, Kind::text},
                                 {"phase", "phase", 8, Kind::text}, {"B", "batch", 4, Kind::count},
                                 {"N", "seq", 7, Kind::count}, {"Hkv", "kv_heads", 4, Kind::count},
                                 {"d", "head_dim", 4, Kind::count}, {"causal", "causal", 6, Kind::text},
                                 {"kernel", "kernel", 24, Kind::text}},
                                false);
    const traces::Plan plan = profile_campaign_plan(workloads, *device, runner);
    for (std::size_t i : traces::dealt_to(plan, shard)) {
      const Workload w = resolve(plan.points[i].workload, *device);
      const std::string k = plan.points[i].kernel;
      attnio::Record r;
      r.emplace_back("index", static_cast<std::uint64_t>(i));
      r.emplace_back("variant", std::string(to_string(w.variant)));
      r.emplace_back("phase", std::string(to_string(w.phase)));
      r.emplace_back("batch", w.batch);
      r.emplace_back("seq", w.seq);
      r.emplace_back("kv_heads", w.kv_heads);
      r.emplace_back("head_dim", w.head_dim);
      r.emplace_back("causal", std::string(w.causal ? "on" : "off"));
      r.emplace_back("kernel", k.empty() ? std::string("(none: recorded as failed)") : k);
      printer->row(r);
    }
    printer->end();
    return 0;
  }
#else
  if (vm.count("dry-run")) throw InputError("attnio was built without CUDA kernels (ATTNIO_CUDA=OFF): no kernels to list");
#endif
  if (!vm.count("out")) throw InputError("give --out FILE.jsonl (the trace to write)");
  const std::string out_path = vm["out"].as<std::string>();
#if !defined(ATTNIO_HAVE_KERNELS) || !defined(ATTNIO_HAVE_CUPTI)
  (void)shard;
  (void)device;
  (void)out_path;
  throw InputError("attnio was built without CUDA kernels or CUPTI (ATTNIO_CUDA / ATTNIO_CUPTI OFF)");
#else
  if (std::string e = profiler::require_device(); !e.empty()) {
    std::cerr << "attnio: " << e << "\n";
    return kExitNoDevice;
  }
  std::vector<std::string> metrics = profiler::default_metrics();
  if (vm.count("metrics")) {
    for (const std::string& m : comma_list(vm["metrics"].as<std::string>())) {
      if (m.empty()) throw InputError("--metrics: empty metric name");
      if (std::find(metrics.begin(), metrics.end(), m) == metrics.end()) metrics.push_back(m);
    }
  }
  std::unique_ptr<profiler::RangeProfiler> prof;
  if (std::string e = profiler::RangeProfiler::create(metrics, &prof); !e.empty()) throw InputError(e);
  std::vector<std::string> units;
  for (const auto& m : metrics) {
    profiler::MetricInfo info;
    prof->host().properties(m, &info);
    units.push_back(info.dim_unit);
  }

  const traces::Plan plan = profile_campaign_plan(workloads, *device, runner);
  traces::Header header = campaign_header("profile", args, plan, shard);
  header.chip = prof->chip();
  const profiler::MachineInfo mi = profiler::machine_info();
  header.driver_version = mi.driver_version;
  header.cuda_version = mi.cuda_version;
  header.cupti_version = mi.cupti_version;
  header.clocks["sm_clock_hz"] = mi.sm_clock_hz;
  header.clocks["memory_clock_hz"] = mi.memory_clock_hz;
  header.note = "measured on " + mi.device_name + "; " + std::to_string(prof->passes()) + " replay passes per kernel";
  const std::string config_b64 = traces::base64_encode(prof->config_image());

  // A sticky CUDA error (e.g. an illegal address) leaves the context unusable: stop the sweep.
  auto device_fault = [](const std::string& after) -> std::string {
    const cudaError_t e = cudaGetLastError();
    throw traces::CampaignAbort("the GPU is in an error state after " + after + " (" + cudaGetErrorString(e) +
                                "); finished records are kept: fix the cause and rerun with --resume");
  };
  bool activity_warned = false;
  traces::Measurer measurer;
  measurer.kernel = measurer_names().kernel;
  measurer.measure = [&](const Workload& w, traces::Measurement* m) -> std::string {
    kernels::BoundKernel bound;
    if (std::string e = kernels::bind_kernel(w, *device, &bound); !e.empty()) return e;
    // One unprofiled run first: lazy module loading and first-touch costs stay out of the range.
    if (std::string e = bound.run(); !e.empty()) return e;
    if (cudaDeviceSynchronize() != cudaSuccess) return device_fault("warm-up run");
    // The kernels' own times, replay-free (Activity API), from a cold L2 as the profiled passes.
    profiler::KernelTimes times;
    std::string timing_error = bound.flush_l2 ? bound.flush_l2() : std::string();
    if (timing_error.empty()) timing_error = profiler::time_kernels(bound.run, &times);
    if (!timing_error.empty()) {
      if (cudaDeviceSynchronize() != cudaSuccess) return device_fault("the Activity API timing run");
      if (!activity_warned) std::cerr << "attnio profile: kernel times from the Activity API unavailable (" << timing_error
                                      << "); records keep the range profiler's gpu__time_duration\n";
      activity_warned = true;
    }
    profiler::RangeResult res;
    if (std::string e = prof->profile(bound.kernel, bound.flush_l2, bound.run, &res); !e.empty()) {
      if (cudaDeviceSynchronize() != cudaSuccess) return device_fault(e);
      return e;
    }
    m->launch = bound.launch;
    m->launch["replay_passes"] = static_cast<std::int64_t>(res.passes);
    for (std::size_t i = 0; i < metrics.size(); ++i) m->metrics.push_back({metrics[i], units[i], res.values[i]});
    if (timing_error.empty()) {
      m->metrics.push_back({traces::kActivitySpan, "nsecond", times.span_ns});
      m->metrics.push_back({traces::kActivitySum, "nsecond", times.sum_ns});
      m->metrics.push_back({"cupti_activity__kernels", "count", static_cast<double>(times.kernels)});
    }
    m->counter_data = traces::base64_encode(res.counter_data);
    m->config_image = config_b64;
    return "";
  };
  return run_campaign_into("profile", plan, shard, traces::measuring(measurer), header, out_path, vm.count("resume") > 0);
#endif
}

}  // namespace attnio::cli
