// The trace format: round trips, resume, merge, a matrix of malformed files, and compare on the
// hand-made fixture (traces/fixtures/handmade-h100.jsonl: invented numbers, labelled as such).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include "attnio/model/predict.hpp"
#include "attnio/model/simulate.hpp"
#include <sstream>

#include <boost/json.hpp>

#include "attnio/traces/campaign.hpp"
#include "attnio/traces/chrome.hpp"
#include "attnio/traces/compare.hpp"
#include "attnio/traces/trace.hpp"

using namespace attnio;
using namespace attnio::traces;

namespace {

std::string temp(const std::string& name) { return ::testing::TempDir() + name; }

Header header() {
  Header h;
  h.tool_version = "test";
  h.command = "attnio profile --test";
  h.device = find_device("h100-sxm");
  h.chip = "GH100";
  h.clocks["sm_clock_hz"] = 1.98e9;
  return h;
}

traces::Record record(std::uint64_t seq) {
  traces::Record r;
  r.workload.seq = seq;
  r.kernel = "flash2_fwd";
  r.id = record_id(r.workload, r.kernel);
  r.launch["grid_x"] = 64;
  r.metrics = {{"dram__bytes_read.sum", "byte", 1e8}, {"dram__bytes_write.sum", "byte", 2e7}, {"gpu__time_duration.sum", "nsecond", 1e5}};
  r.counter_data = base64_encode({1, 2, 3, 250});
  r.config_image = base64_encode({9});
  r.prediction["hbm_bytes"] = 1.2e8;
  return r;
}

std::string error_of(const std::string& text) {
  // One file per test: ctest runs the tests of this file in parallel processes.
  const std::string path = temp(std::string("bad_") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl");
  std::ofstream(path, std::ios::binary) << text;
  try {
    read_trace(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::string good_header_line() {
  const std::string path = temp("header_only.jsonl");
  std::remove(path.c_str());
  { Writer w(path, header(), false); }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string good_record_line() {
  const std::string path = temp("one_record.jsonl");
  std::remove(path.c_str());
  {
    Writer w(path, header(), false);
    w.append(record(4096));
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::getline(in, line);
  return line;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

}  // namespace

TEST(Traces, Base64KnownVectorsAndErrors) {
  EXPECT_EQ(base64_encode({'M', 'a', 'n'}), "TWFu");
  EXPECT_EQ(base64_encode({'M', 'a'}), "TWE=");
  EXPECT_EQ(base64_encode({'M'}), "TQ==");
  EXPECT_EQ(base64_decode("TWFu"), (std::vector<std::uint8_t>{'M', 'a', 'n'}));
  EXPECT_EQ(base64_decode("TQ=="), (std::vector<std::uint8_t>{'M'}));
  std::vector<std::uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
  EXPECT_THROW(base64_decode("TWF"), InputError);
  EXPECT_THROW(base64_decode("TW!u"), InputError);
  EXPECT_THROW(base64_decode("T=Fu"), InputError);
}

TEST(Traces, WriteReadRoundTrip) {
  const std::string path = temp("roundtrip.jsonl");
  std::remove(path.c_str());
  {
    Writer w(path, header(), false);
    w.append(record(1024));
    w.append(record(2048));
  }
  const Trace t = read_trace(path);
  EXPECT_EQ(t.header.command, "attnio profile --test");
  EXPECT_EQ(t.header.device, find_device("h100-sxm"));
  EXPECT_EQ(t.header.chip, "GH100");
  EXPECT_DOUBLE_EQ(t.header.clocks.at("sm_clock_hz"), 1.98e9);
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[1].workload.seq, 2048u);
  EXPECT_EQ(t.records[1].id, record(2048).id);
  EXPECT_EQ(base64_decode(t.records[0].counter_data), (std::vector<std::uint8_t>{1, 2, 3, 250}));
  EXPECT_DOUBLE_EQ(*t.records[0].metric("gpu__time_duration.sum"), 1e5);
  EXPECT_EQ(t.records[0].launch.at("grid_x"), 64);
  EXPECT_FALSE(t.records[0].workload.accumulate_grads);
}

// A workload's --grads accumulate travels in the record (as "grads", written only when set, so
// records without it keep their ids); anything but fresh or accumulate names the field.
TEST(Traces, AccumulatedGradsRoundTrip) {
  const std::string h = good_header_line(), r = good_record_line();
  const std::string with = replace(r, "\"variant\":\"flash2\"", "\"variant\":\"flash2\",\"grads\":\"accumulate\"");
  const Trace t = parse_trace(h + "\n" + with + "\n", "t.jsonl");
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_TRUE(t.records[0].workload.accumulate_grads);
  const std::string path = temp("grads.jsonl");
  std::remove(path.c_str());
  traces::Record rec = t.records[0];
  rec.line.clear();  // written from its fields, not copied as read
  {
    Writer w(path, t.header, false);
    w.append(rec);
  }
  EXPECT_TRUE(read_trace(path).records.at(0).workload.accumulate_grads);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"variant\":\"flash2\"", "\"variant\":\"flash2\",\"grads\":\"some\"") + "\n")
                .find("field 'workload.grads' must be \"fresh\" or \"accumulate\""),
            std::string::npos);
}

// Records are flushed as they are appended: a reader sees them while the writer is still open,
// and a resumed writer knows which points are done.
TEST(Traces, ResumeSkipsFinishedRecords) {
  const std::string path = temp("resume.jsonl");
  std::remove(path.c_str());
  {
    Writer w(path, header(), false);
    w.append(record(1024));
    EXPECT_EQ(read_trace(path).records.size(), 1u);
  }
  EXPECT_THROW(Writer(path, header(), false), InputError);  // exists: needs --resume
  Header other = header();
  other.device = find_device("a100-80gb");
  EXPECT_THROW(Writer(path, other, true), InputError);  // another machine's trace
  Writer again(path, header(), true);
  ASSERT_EQ(again.done().size(), 1u);
  EXPECT_EQ(again.done()[0], record(1024).id);
  again.append(record(2048));
  EXPECT_EQ(read_trace(path).records.size(), 2u);
}

TEST(Traces, MergeJoinsShardsAndRefusesDuplicates) {
  Trace a{header(), {record(1024)}}, b{header(), {record(2048), record(4096)}};
  const Trace m = merge({a, b});
  EXPECT_EQ(m.records.size(), 3u);
  EXPECT_EQ(merge({a, a}).records.size(), 1u);  // the same record twice is kept once
  Trace other_result = a;
  other_result.records[0].metrics[0].value += 1;
  EXPECT_THROW(merge({a, other_result}), InputError);  // the same point with another result
  Trace c{header(), {record(8192)}};
  c.header.chip = "GA100";
  EXPECT_THROW(merge({a, c}), InputError);
  const std::string path = temp("traces_merged.jsonl");
  write_trace(path, m);
  EXPECT_EQ(read_trace(path).records.size(), 3u);
}

TEST(Traces, MalformedFilesNameTheLineAndField) {
  const std::string h = good_header_line(), r = good_record_line();
  EXPECT_NE(error_of("").find("empty file"), std::string::npos);
  EXPECT_NE(error_of(h + "\n" + r).find("line 2: truncated"), std::string::npos);
  EXPECT_NE(error_of(h + "\n{oops\n").find("line 2: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(replace(h, "\"version\":3", "\"version\":4") + "\n").find("newer than this attnio reads"), std::string::npos);
  EXPECT_NE(error_of(replace(h, "\"attnio-trace\"", "\"other\"") + "\n").find("not an attnio trace header"), std::string::npos);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"kernel\":", "\"kernal\":") + "\n").find("line 2: missing field 'kernel'"),
            std::string::npos);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"metrics\":[", "\"metrics\":{\"x\":[") + "\n").find("line 2"), std::string::npos);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"status\":\"ok\"", "\"status\":\"maybe\"") + "\n").find("field 'status'"),
            std::string::npos);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"counter_data\":\"AQID+g==\"", "\"counter_data\":\"AQ!D\"") + "\n").find("counter_data"),
            std::string::npos);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"variant\":\"flash2\"", "\"variant\":\"flash9\"") + "\n").find("unknown variant"),
            std::string::npos);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"seq\":4096", "\"seq\":-1") + "\n").find("'workload.seq' must be a whole number"),
            std::string::npos);
  EXPECT_NE(error_of(h + "\n" + r + "\n" + r + "\n").find("line 3: record id repeats"), std::string::npos);
  // Found by fuzz_trace: a launch figure past 64 bits was cast to int64 (undefined behaviour).
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"grid_x\":64", "\"grid_x\":2.2446e86") + "\n").find("'launch.grid_x' must be a whole number within 64 bits"),
            std::string::npos);
  EXPECT_NE(error_of(h + "\n" + replace(r, "\"grid_x\":64", "\"grid_x\":1.5") + "\n").find("launch.grid_x"), std::string::npos);
  EXPECT_THROW(read_trace("/nonexistent/trace.jsonl"), InputError);
}

TEST(Traces, CompareOnTheHandMadeFixture) {
  const Trace t = read_trace(std::string(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl");
  EXPECT_NE(t.header.note.find("HAND-MADE"), std::string::npos);
  const auto rows = compare_rows(t);
  ASSERT_EQ(rows.size(), 2u);  // the failed paged record is skipped
  // flash-decoding: measured 1.3e8 + 1e6 bytes in 50 µs; the error is the current model's.
  Workload w;
  w.variant = parse_variant("flash-decoding");
  w.phase = Phase::decode;
  w.batch = 8;
  w.kv_heads = 8;
  const Prediction p = predict(t.header.device, w);
  double err = 0, time_err = 0;
  for (const auto& [k, v] : rows[1]) {
    if (k == "hbm_bytes_error_pct") err = std::get<double>(v);
    if (k == "time_error_pct") time_err = std::get<double>(v);
  }
  EXPECT_NEAR(err, 100 * (p.hbm_bytes().d() - 1.31e8) / 1.31e8, 1e-9);
  EXPECT_NEAR(time_err, 100 * (p.predicted_time_s - 5e-5) / 5e-5, 1e-9);
  // With the simulator: its DRAM bytes for the same workload, and its error against the measurement.
  const auto sim_rows = compare_rows(t, true);
  ASSERT_EQ(sim_rows.size(), 2u);
  const double sim_bytes = simulate(t.header.device, w, SimOptions{}).hbm_bytes().d();
  double sim_err = -1e9;
  for (const auto& [k, v] : sim_rows[1]) {
    if (k == "sim_hbm_bytes_error_pct") sim_err = std::get<double>(v);
  }
  EXPECT_NEAR(sim_err, 100 * (sim_bytes - 1.31e8) / 1.31e8, 1e-9);
  const auto summary = compare_summary(t, rows);
  ASSERT_EQ(summary.size(), 3u);
  for (const auto& s : summary) {
    if (std::get<std::string>(s[0].second) != "paged") continue;
    for (const auto& [k, v] : s) {
      if (k == "skipped") EXPECT_EQ(std::get<std::uint64_t>(v), 1u);
      if (k == "records") EXPECT_EQ(std::get<std::uint64_t>(v), 0u);
    }
  }
}

// Chrome export: slots laid end to end in file order, each as wide as the longer of measured and
// predicted time plus a 1 µs gap; hand-computed positions for a three-record trace.
TEST(Traces, ChromeExportLaysOutMeasuredBesidePredicted) {
  Trace t = read_trace(std::string(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl");
  // Record 0 (flash2, 2500 µs measured) gets a stored prediction of 1000 µs; record 1
  // (flash-decoding, 50 µs) has none and is re-predicted; record 2 (paged) failed.
  t.records[0].prediction["predicted_time_s"] = 1e-3;
  t.records[0].prediction["hbm_bytes"] = 3e8;
  std::ostringstream out;
  write_chrome(t, out);
  const auto doc = boost::json::parse(out.str()).as_object();
  EXPECT_NE(doc.at("otherData").at("note").as_string().find("HAND-MADE"), std::string::npos);

  Workload w;
  w.variant = parse_variant("flash-decoding");
  w.phase = Phase::decode;
  w.batch = 8;
  w.kv_heads = 8;
  const double decode_pred_us = predict(t.header.device, w).predicted_time_s * 1e6;

  struct Ev { std::string ph; std::int64_t pid, tid; double ts, dur; std::string source; };
  std::vector<Ev> xs;
  std::vector<Ev> instants;
  std::map<std::int64_t, std::string> names;  // tid -> thread name on pid 1
  for (const auto& v : doc.at("traceEvents").as_array()) {
    const auto& e = v.as_object();
    const std::string ph(e.at("ph").as_string());
    if (ph == "M") {
      if (e.at("name").as_string() == "thread_name" && e.at("pid").as_int64() == 1)
        names[e.at("tid").as_int64()] = std::string(e.at("args").at("name").as_string());
      continue;
    }
    Ev ev{ph, e.at("pid").as_int64(), e.at("tid").as_int64(), boost::json::value_to<double>(e.at("ts")), 0, ""};
    if (ph == "X") {
      ev.dur = boost::json::value_to<double>(e.at("dur"));
      ev.source = std::string(e.at("args").at("prediction_source").as_string());
      xs.push_back(ev);
    } else {
      EXPECT_NE(e.at("args").at("error").as_string().find("cudaErrorLaunchFailure"), std::string::npos);
      instants.push_back(ev);
    }
  }
  ASSERT_EQ(xs.size(), 4u);  // measured + predicted for each ok record
  // flash2: slot at 0, measured 2500 µs on pid 1, stored prediction 1000 µs on pid 2.
  EXPECT_EQ(xs[0].pid, 1);
  EXPECT_DOUBLE_EQ(xs[0].ts, 0);
  EXPECT_DOUBLE_EQ(xs[0].dur, 2500);
  EXPECT_EQ(xs[1].pid, 2);
  EXPECT_DOUBLE_EQ(xs[1].ts, 0);
  EXPECT_DOUBLE_EQ(xs[1].dur, 1000);
  EXPECT_EQ(xs[1].source, "record");
  // flash-decoding: next slot at 2500 + 1; predicted by the current model.
  EXPECT_DOUBLE_EQ(xs[2].ts, 2501);
  EXPECT_DOUBLE_EQ(xs[2].dur, 50);
  EXPECT_NEAR(xs[3].dur, decode_pred_us, 1e-9);
  EXPECT_EQ(xs[3].source, "current model");
  // The failed paged record: an instant after the decode slot.
  ASSERT_EQ(instants.size(), 1u);
  EXPECT_DOUBLE_EQ(instants[0].ts, 2501 + std::max(50.0, decode_pred_us) + 1);
  // One named row per variant.
  EXPECT_EQ(names.size(), 3u);
  EXPECT_EQ(names[xs[0].tid], "flash2");
  EXPECT_EQ(names[instants[0].tid], "paged");
}

// The profile driver with a fake measurer (the real one needs a GPU): DRAM bytes = 1000 x seq,
// seq 300 fails with an error, seq 400 throws, fnet has no kernel.
namespace {

struct Fake {
  std::vector<std::uint64_t> measured;  // seq of every point measured, in order
  std::uint64_t die_at = 0;             // simulate the process dying mid-sweep at this seq

  Measurer measurer() {
    Measurer m;
    m.kernel = [](const Workload& w) { return w.variant == parse_variant("fnet") ? std::string() : "fake_" + std::string(to_string(w.variant)); };
    m.measure = [this](const Workload& w, Measurement* out) -> std::string {
      if (w.seq == die_at) throw 42;  // not a std::exception: escapes like a kill would
      measured.push_back(w.seq);
      if (w.seq == 300) return "kernel failed: an illegal memory access was encountered";
      if (w.seq == 400) throw std::runtime_error("cudaMalloc: out of memory");
      out->launch["grid_x"] = static_cast<std::int64_t>(w.seq / 100);
      out->metrics = {{"dram__bytes_read.sum", "byte", 1000.0 * static_cast<double>(w.seq)},
                      {"gpu__time_duration.sum", "nsecond", 1e4}};
      return "";
    };
    return m;
  }
};

std::vector<Workload> sweep_points() {
  std::vector<Workload> pts;
  for (std::uint64_t s : {100, 200, 300, 400, 500, 600}) {
    Workload w;
    w.seq = s;
    pts.push_back(w);
  }
  Workload f;
  f.variant = parse_variant("fnet");
  pts.push_back(f);
  return pts;
}

}  // namespace

TEST(Campaign, ShardSpecs) {
  EXPECT_EQ(parse_shard("2/4").index, 2u);
  EXPECT_EQ(parse_shard("2/4").count, 4u);
  for (const char* bad : {"4/4", "1/0", "a/2", "1", "1/2/3", "-1/2", ""}) {
    EXPECT_THROW(parse_shard(bad), InputError) << bad;
  }
  try {
    parse_shard("4/4");
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("below n"), std::string::npos) << e.what();
  }
}

TEST(Campaign, FailuresAreRecordedAndTheSweepGoesOn) {
  const std::string path = temp("traces_campaign_all.jsonl");
  std::remove(path.c_str());
  Fake fake;
  Writer w(path, header(), false);
  const auto stats = run_campaign(sweep_points(), {}, header().device, fake.measurer(), w, nullptr);
  EXPECT_EQ(stats.in_shard, 7u);
  EXPECT_EQ(stats.ok, 4u);
  EXPECT_EQ(stats.failed, 3u);  // seq 300 (error), seq 400 (threw), fnet (no kernel)
  const Trace t = read_trace(path);
  ASSERT_EQ(t.records.size(), 7u);
  EXPECT_EQ(t.records[2].status, "failed");
  EXPECT_NE(t.records[2].error.find("illegal memory access"), std::string::npos);
  EXPECT_NE(t.records[3].error.find("out of memory"), std::string::npos);
  EXPECT_NE(t.records[6].error.find("no kernel runs variant fnet"), std::string::npos);
  EXPECT_EQ(*t.records[4].metric("dram__bytes_read.sum"), 500000.0);
  EXPECT_EQ(t.records[4].launch.at("grid_x"), 5);
  // The prediction at record time is the model's for that workload on attnio's own kernels.
  EXPECT_DOUBLE_EQ(t.records[0].prediction.at("predicted_time_s"),
                   predict(header().device, as_profiled(t.records[0].workload, header().device)).predicted_time_s);
}

TEST(Campaign, ShardsPartitionTheSweepAndMerge) {
  const auto pts = sweep_points();
  std::vector<Trace> shards;
  std::size_t total = 0;
  std::set<std::int64_t> seen;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string path = temp("traces_campaign_shard" + std::to_string(i) + ".jsonl");
    std::remove(path.c_str());
    Fake fake;
    Writer w(path, header(), false);
    const auto stats = run_campaign(pts, {i, 3}, header().device, fake.measurer(), w, nullptr);
    total += stats.in_shard;
    shards.push_back(read_trace(path));
    for (const auto& r : shards.back().records) EXPECT_TRUE(seen.insert(r.point).second) << "point " << r.point << " twice";
  }
  EXPECT_EQ(total, pts.size());
  EXPECT_EQ(seen.size(), pts.size());
  EXPECT_EQ(merge(shards).records.size(), pts.size());
}

// Graham's LPT rule by hand: costs 5, 4, 3, 3, 3 into two shards. Longest first: 5 -> A, 4 -> B,
// 3 -> B (7), 3 -> A (8), 3 -> B (7 < 8: 10). A = {0, 3} (8), B = {1, 2, 4} (10); round-robin would
// give {0, 2, 4} (11) and {1, 3} (7).
TEST(Campaign, DealingBalancesTheExpectedCost) {
  Plan plan;
  plan.kind = "predict";
  const Device& dev = default_device();
  for (double c : {5.0, 4.0, 3.0, 3.0, 3.0}) {
    PlanPoint p;
    p.device = &dev;
    p.workload.seq = 1000 + static_cast<std::uint64_t>(plan.points.size());
    p.kernel = "model";
    p.cost = c;
    plan.points.push_back(p);
  }
  finish_plan(plan);
  const auto shards = deal(plan, 2);
  EXPECT_EQ(shards[0], (std::vector<std::size_t>{0, 3}));
  EXPECT_EQ(shards[1], (std::vector<std::size_t>{1, 2, 4}));
  // Equal costs deal round-robin.
  for (auto& p : plan.points) p.cost = 1;
  const auto even = deal(plan, 2);
  EXPECT_EQ(even[0], (std::vector<std::size_t>{0, 2, 4}));
  EXPECT_EQ(even[1], (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(dealt_to(plan, {1, 2}), even[1]);
  EXPECT_THROW(dealt_to(plan, {2, 2}), InputError);
}

TEST(Campaign, PlanHashIsStableAndCoversPointsOptionsAndDevices) {
  auto make = [](std::uint64_t last_seq, const std::string& options, const Device& dev) {
    Plan plan;
    plan.kind = "simulate";
    plan.options = options;
    for (std::uint64_t s : {std::uint64_t{1024}, std::uint64_t{2048}, last_seq}) {
      PlanPoint p;
      p.device = &dev;
      p.workload.seq = s;
      p.kernel = "simulator";
      plan.points.push_back(p);
    }
    finish_plan(plan);
    return plan;
  };
  const Device& h100 = default_device();
  const std::string a = plan_hash(make(4096, "l2_ways=16", h100));
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a, plan_hash(make(4096, "l2_ways=16", h100)));
  EXPECT_NE(a, plan_hash(make(8192, "l2_ways=16", h100)));
  EXPECT_NE(a, plan_hash(make(4096, "l2_ways=8", h100)));
  Device other = h100;
  other.hbm_bytes_per_s *= 2;  // same key, another description (a --device-file)
  EXPECT_NE(a, plan_hash(make(4096, "l2_ways=16", other)));
  // A point two sweeps both hold is in the plan once.
  EXPECT_EQ(make(2048, "", h100).points.size(), 2u);
}

TEST(Campaign, ShardFromTheSchedulersEnvironment) {
  auto env = [](std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  };
  const Shard slurm = shard_from_environment(std::nullopt, env({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}));
  EXPECT_EQ(slurm.index, 5u);
  EXPECT_EQ(slurm.count, 8u);
  // An array 1-8: task ids count from SLURM_ARRAY_TASK_MIN.
  const Shard from_one = shard_from_environment(
      std::nullopt, env({{"SLURM_ARRAY_TASK_ID", "8"}, {"SLURM_ARRAY_TASK_COUNT", "8"}, {"SLURM_ARRAY_TASK_MIN", "1"}}));
  EXPECT_EQ(from_one.index, 7u);
  const Shard k8s = shard_from_environment(4, env({{"JOB_COMPLETION_INDEX", "3"}}));
  EXPECT_EQ(k8s.index, 3u);
  EXPECT_EQ(k8s.count, 4u);
  auto error = [&](std::optional<std::size_t> shards, std::map<std::string, std::string> vars) {
    try {
      shard_from_environment(shards, env(std::move(vars)));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error(std::nullopt, {}).find("neither SLURM_ARRAY_TASK_ID"), std::string::npos);
  EXPECT_NE(error(std::nullopt, {{"JOB_COMPLETION_INDEX", "1"}}).find("--shards"), std::string::npos);
  EXPECT_NE(error(2, {{"JOB_COMPLETION_INDEX", "2"}}).find("not below"), std::string::npos);
  EXPECT_NE(error(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "x"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}).find("not a whole number"), std::string::npos);
  EXPECT_NE(error(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "9"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}).find("outside"), std::string::npos);
  EXPECT_NE(error(3, {{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_COUNT", "8"}}).find("differs"), std::string::npos);
  EXPECT_NE(error(std::nullopt, {{"SLURM_ARRAY_TASK_ID", "1"}}).find("SLURM_ARRAY_TASK_COUNT is not"), std::string::npos);
}

namespace {

// A predict campaign of `seqs` on the default device, shard `shard`, written to `path`.
Trace predict_campaign(const std::string& path, const std::vector<std::uint64_t>& seqs, const Shard& shard, bool resume = false) {
  Plan plan;
  plan.kind = "predict";
  for (std::uint64_t s : seqs) {
    PlanPoint p;
    p.device = &default_device();
    p.workload.seq = s;
    p.kernel = "model";
    plan.points.push_back(p);
  }
  finish_plan(plan);
  Header h = header();
  h.campaign = campaign_info(plan, shard);
  if (!resume) std::remove(path.c_str());
  Writer w(path, h, resume);
  run_plan(plan, shard, [](const PlanPoint& p, traces::Record* r) {
    r->prediction["predicted_time_s"] = predict(*p.device, p.workload).predicted_time_s;
    return std::string();
  }, w, nullptr);
  return read_trace(path);
}

}  // namespace

TEST(Campaign, MergeChecksThePlanIsIdempotentAndReportsWhatIsMissing) {
  const std::vector<std::uint64_t> seqs = {512, 1024, 2048, 4096, 8192};
  const Trace a = predict_campaign(temp("plan_a0.jsonl"), seqs, {0, 3});
  const Trace b = predict_campaign(temp("plan_a1.jsonl"), seqs, {1, 3});
  EXPECT_EQ(a.header.campaign.plan_points, 5u);
  EXPECT_EQ(a.header.campaign.shard_points, (std::vector<std::uint64_t>{0, 3}));
  const Trace ab = merge({a, b});
  EXPECT_EQ(ab.records.size(), 4u);
  EXPECT_EQ(ab.header.campaign.shard_count, 1u);
  // Shard 2 (point 2) is absent: one point unaccounted.
  Coverage c = coverage({a, b});
  EXPECT_FALSE(c.complete());
  EXPECT_EQ(c.absent_shards, (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(c.unaccounted, 1u);
  const Trace last = predict_campaign(temp("plan_a2.jsonl"), seqs, {2, 3});
  const Trace all = merge({a, b, last});
  EXPECT_TRUE(coverage({a, b, last}).complete());
  // Idempotent: a merged trace with its own shards again is the same trace, in plan order.
  const Trace again = merge({all, a, last});
  ASSERT_EQ(again.records.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(again.records[i].point, static_cast<std::int64_t>(i));
    EXPECT_EQ(again.records[i].id, all.records[i].id);
  }
  EXPECT_TRUE(coverage({all}).complete());
  // A record lost from a present shard is missing by its id.
  Trace cut = a;
  cut.records.pop_back();
  c = coverage({cut, b, last});
  EXPECT_EQ(c.missing, (std::vector<std::uint64_t>{3}));
  // Another plan is refused; so is the same point with another result.
  const Trace other = predict_campaign(temp("plan_b0.jsonl"), {512, 1024, 2048, 4096, 16384}, {0, 3});
  try {
    merge({a, other});
    ADD_FAILURE() << "merged two plans";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("different campaigns"), std::string::npos) << e.what();
  }
  Trace changed = a;
  changed.records[0].prediction["predicted_time_s"] *= 2;
  changed.records[0].line.clear();  // changed in memory: written afresh
  EXPECT_THROW(merge({a, changed}), InputError);
}

TEST(Campaign, ResumeRefusesAnotherPlanOrShard) {
  const std::vector<std::uint64_t> seqs = {512, 1024, 2048, 4096};
  const std::string path = temp("plan_resume.jsonl");
  predict_campaign(path, seqs, {0, 2});
  EXPECT_EQ(predict_campaign(path, seqs, {0, 2}, true).records.size(), 2u);  // same plan: nothing to add
  try {
    predict_campaign(path, {512, 1024, 2048, 8192}, {0, 2}, true);
    ADD_FAILURE() << "resumed another plan";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("differs from this run's"), std::string::npos) << e.what();
  }
  EXPECT_THROW(predict_campaign(path, seqs, {1, 2}, true), InputError);
}

TEST(Campaign, ResumeAfterADeathMeasuresOnlyWhatIsMissing) {
  const std::string path = temp("traces_campaign_resume.jsonl");
  std::remove(path.c_str());
  Fake first;
  first.die_at = 500;
  {
    Writer w(path, header(), false);
    EXPECT_THROW(run_campaign(sweep_points(), {}, header().device, first.measurer(), w, nullptr), int);
  }
  EXPECT_EQ(read_trace(path).records.size(), 4u);  // 100..400 were written before the death
  Fake second;
  Writer w(path, header(), true);
  std::size_t last_total = 0;
  const auto stats = run_campaign(sweep_points(), {}, header().device, second.measurer(), w,
                                  [&](std::size_t, std::size_t total, const traces::Record&) { last_total = total; });
  EXPECT_EQ(stats.already_done, 4u);
  EXPECT_EQ(last_total, 3u);
  EXPECT_EQ(second.measured, (std::vector<std::uint64_t>{500, 600}));  // fnet has no kernel to measure
  EXPECT_EQ(read_trace(path).records.size(), 7u);
}

TEST(Campaign, ADeviceFaultStopsTheSweepAfterRecordingThePoint) {
  const std::string path = temp("traces_campaign_abort.jsonl");
  std::remove(path.c_str());
  Fake fake;
  Measurer m = fake.measurer();
  const auto inner = m.measure;
  m.measure = [inner](const Workload& w, Measurement* out) -> std::string {
    if (w.seq == 300) throw CampaignAbort("the GPU is in an error state after flash2 (illegal address)");
    return inner(w, out);
  };
  {
    Writer w(path, header(), false);
    EXPECT_THROW(run_campaign(sweep_points(), {}, header().device, m, w, nullptr), CampaignAbort);
  }
  const Trace t = read_trace(path);
  ASSERT_EQ(t.records.size(), 3u);  // 100, 200 ok; 300 failed with the reason; nothing after it
  EXPECT_EQ(t.records[2].status, "failed");
  EXPECT_NE(t.records[2].error.find("error state"), std::string::npos);
}

// A kill in the middle of a write leaves half a line: read_trace refuses it (truncated), and resume
// cuts exactly that half line, says so, and keeps every whole record.
TEST(Traces, ResumeCutsTheUnfinishedLineOfAKilledRun) {
  const std::string path = temp("half_line.jsonl");
  std::remove(path.c_str());
  {
    Writer w(path, header(), false);
    w.append(record(100));
    w.append(record(200));
  }
  std::string whole;
  {
    std::ifstream in(path, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::ofstream(path, std::ios::app | std::ios::binary) << "{\"id\":\"half a rec";
  EXPECT_NE(error_of(whole + "{\"id\":\"half a rec").find("truncated"), std::string::npos);
  {
    Writer w(path, header(), true);
    EXPECT_NE(w.repaired().find("unfinished last line (17 bytes)"), std::string::npos) << w.repaired();
    EXPECT_EQ(w.done().size(), 2u);
    w.append(record(300));
  }
  const Trace t = read_trace(path);
  ASSERT_EQ(t.records.size(), 3u);
  EXPECT_EQ(t.records[2].workload.seq, 300u);

  // Killed while the header itself was half written: the file starts again from the header.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "{\"format\":";
  {
    Writer w(path, header(), true);
    EXPECT_FALSE(w.repaired().empty());
    EXPECT_TRUE(w.done().empty());
  }
  EXPECT_EQ(read_trace(path).records.size(), 0u);
}

// attnio profile records the kernels' own span from the Activity API beside the range profiler's
// gpu__time_duration; compare holds the model against the span when it is there.
TEST(Traces, CompareTakesTheActivitySpanOverTheReplayedRange) {
  Trace t;
  t.header = header();
  traces::Record with = record(4096), without = record(8192);
  with.metrics.push_back({kActivitySpan, "nsecond", 5e4});
  with.metrics.push_back({kActivitySum, "nsecond", 4.8e4});
  t.records = {with, without};
  EXPECT_EQ(measured_time_ns(with), 5e4);
  EXPECT_EQ(measured_time_ns(without), 1e5);  // record()'s gpu__time_duration.sum
  const auto rows = compare_rows(t);
  ASSERT_EQ(rows.size(), 2u);
  auto field = [](const attnio::Record& row, const std::string& key) {
    for (const auto& [k, v] : row) {
      if (k == key) return v;
    }
    ADD_FAILURE() << "no " << key;
    return attnio::Record::value_type::second_type{};
  };
  EXPECT_EQ(std::get<double>(field(rows[0], "measured_time_s")), 5e-5);
  EXPECT_EQ(std::get<std::string>(field(rows[0], "time_source")), "activity");
  EXPECT_EQ(std::get<double>(field(rows[1], "measured_time_s")), 1e-4);
  EXPECT_EQ(std::get<std::string>(field(rows[1], "time_source")), "range profiler");
}

// Format 2: a record's workload holds the shape and exactly the parameters its variant declares,
// with their values or defaults; an unknown key is refused; a version-1 record (every variant's
// parameters, 0 for "the default") reads to the same workload and the same id.
TEST(Traces, WorkloadHoldsTheParametersItsVariantDeclares) {
  traces::Record r = record(2048);
  r.workload.variant = parse_variant("sliding-window");
  r.workload.set("window", 512);
  r.id = record_id(r.workload, r.kernel);
  const std::string line = boost::json::serialize(boost::json::parse(r.id));
  EXPECT_NE(line.find("\"window\":512"), std::string::npos) << line;
  EXPECT_NE(line.find("\"cla_share\":1"), std::string::npos) << line;  // the default, written out
  EXPECT_EQ(line.find("page_size"), std::string::npos) << line;
  const std::string path = temp("format2.jsonl");
  std::remove(path.c_str());
  {
    Writer w(path, header(), false);
    w.append(r);
  }
  const Trace t = read_trace(path);
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_EQ(t.records[0].workload.count("window"), 512u);
  EXPECT_EQ(t.records[0].id, r.id);

  const std::string h = good_header_line(), good = good_record_line();
  EXPECT_NE(error_of(h + "\n" + replace(good, "\"kv_len\":", "\"windw\":0,\"kv_len\":") + "\n").find("unknown workload field 'windw'"),
            std::string::npos);
  // Version 1: every parameter of every variant, 0 meaning the default.
  const std::string v1_header = replace(h, "\"version\":3", "\"version\":1");
  const std::string v1_record = replace(good, "\"kv_len\":", "\"window\":4096,\"page_size\":16,\"feature_dim\":0,\"block_density\":0.25,\"kv_len\":");
  std::string v1_path = temp("format1.jsonl");
  std::ofstream(v1_path, std::ios::binary) << v1_header << "\n" << v1_record << "\n";
  const Trace old = read_trace(v1_path);
  ASSERT_EQ(old.records.size(), 1u);
  EXPECT_FALSE(old.records[0].workload.params.has("window"));  // flash2 declares no window
  EXPECT_EQ(old.records[0].id, record_id(old.records[0].workload, old.records[0].kernel));
}
