#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"

using namespace attnio;

namespace {
std::string error_of(const std::string& json) {
  try {
    device_from_json(json, "dev.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Device, BuiltinsAreTheNamedOnesWithH100First) {
  std::vector<std::string> keys;
  for (const Device& d : builtin_devices()) keys.push_back(d.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"h100-sxm", "h100-pcie", "h200", "a100-40gb", "a100-80gb", "a100-40gb-pcie", "a100-80gb-pcie", "l40s", "rtx4090"}));
  EXPECT_EQ(default_device().key, "h100-sxm");
  for (const std::string& key : keys) EXPECT_EQ(find_device(key).key, key);
}

TEST(Device, EveryShippedFileIsTheBuiltinOfItsName) {
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ATTNIO_SOURCE_DIR) + "/model/devices")) {
    ++files;
    ASSERT_EQ(entry.path().extension(), ".json") << entry.path();
    const Device d = load_device_file(entry.path().string());  // device_from_json over the file
    EXPECT_EQ(d.key, entry.path().stem().string());
    EXPECT_EQ(d, find_device(d.key)) << entry.path();
  }
  EXPECT_EQ(files, builtin_devices().size());
}

TEST(Device, EveryBuiltinFigureHasASource) {
  for (const Device& d : builtin_devices()) {
    EXPECT_FALSE(d.sources.empty()) << d.key;
    const boost::json::object o = boost::json::parse(device_to_json(d)).as_object();
    std::size_t figures = 0;
    for (const auto& kv : o) {
      if (!kv.value().is_number() && !kv.value().is_array()) continue;
      ++figures;
      const auto source = d.field_sources.find(std::string(kv.key()));
      ASSERT_NE(source, d.field_sources.end()) << d.key << ": no source for " << kv.key();
      EXPECT_FALSE(source->second.empty()) << d.key << "." << kv.key();
    }
    EXPECT_GE(figures, 17u) << d.key;  // sm_count, the 16 datasheet keys, and the execution-model figures given
    EXPECT_EQ(d.field_sources.size(), figures) << d.key;
  }
}

// The DRAM queue curves (docs/model.md "Time", rule 6), interpolated by hand on the A100 80GB
// file: at half the sustained 1.7 TB/s, read-only traffic lies between its (0.451, 101 ns) and
// (0.584, 142 ns) points: 101 + 0.049 / 0.133 x 41 = 116.1 ns; the copy curve between (0.333,
// 96.5 ns) and (0.59, 184 ns): 96.5 + 0.167 / 0.257 x 87.5 = 153.4 ns. A quarter of the traffic
// written is halfway between the two curves. Past the last point the last segment continues.
TEST(Device, DramQueueCurvesByHand) {
  const Device& a = find_device("a100-80gb");
  ASSERT_EQ(a.dram_queue_read.size(), 12u);
  EXPECT_DOUBLE_EQ(a.loaded_dram_latency_s(0, 0), a.dram_latency_s);
  const double read = 101e-9 + 0.049 / 0.133 * 41e-9, copy = 96.5e-9 + 0.167 / 0.257 * 87.5e-9;
  EXPECT_NEAR(a.loaded_dram_latency_s(0.85e12, 0), a.dram_latency_s + read, 1e-15);
  EXPECT_NEAR(a.loaded_dram_latency_s(0.85e12, 0.5), a.dram_latency_s + copy, 1e-15);
  EXPECT_NEAR(a.loaded_dram_latency_s(0.85e12, 0.25), a.dram_latency_s + (read + copy) / 2, 1e-15);
  EXPECT_NEAR(a.loaded_dram_latency_s(0.85e12, 1.0), a.dram_latency_s + copy, 1e-15);
  // 1.1 x the sustained rate, read-only: 342 ns + 0.1 / 0.074 x (342 - 317) ns.
  EXPECT_NEAR(a.loaded_dram_latency_s(1.87e12, 0), a.dram_latency_s + 342e-9 + 0.1 / 0.074 * 25e-9, 1e-15);
  // Little's law at that latency, solved on each segment: with few bytes in flight the rate stays
  // below the first point (no queue: bytes / 330.7 ns); far past the last, along the last
  // segments; in between, r x latency(r) is the bytes in flight whichever segment r lies on.
  EXPECT_DOUBLE_EQ(a.inflight_read_rate(1000, 0), 1000 / a.dram_latency_s);
  for (const double bytes : {2e5, 1e6, 1e9}) {
    for (const double w : {0.0, 0.3, 1.0}) {
      const double r = a.inflight_read_rate(bytes, w);
      EXPECT_NEAR(r * a.loaded_dram_latency_s(r * (1 + w), w / (1 + w)), bytes, 1e-9 * bytes) << bytes << " " << w;
    }
  }
  // A device without the curves keeps the unloaded latency.
  Device bare = a;
  bare.dram_queue_read.clear();
  bare.dram_queue_copy.clear();
  EXPECT_DOUBLE_EQ(bare.loaded_dram_latency_s(1.5e12, 0.5), 330.7e-9);
}

TEST(Device, DerivedFiguresFollowFromSmsAndClock) {
  const Device& h = find_device("h100-sxm");
  // By hand: 132 SMs x 128 shared-memory bytes per clock x 1.83 GHz, and 16 MUFU results per clock.
  EXPECT_EQ(h.sram_bytes_per_s, 132 * 128 * 1.83e9);
  EXPECT_EQ(h.sram_bytes_per_s, 30.91968e12);
  EXPECT_EQ(h.sfu_ops_per_s, 132 * 16 * 1.83e9);
  EXPECT_NEAR(h.sfu_ops_per_s, 3.9e12, 0.05e12);  // FlashAttention-3 §3 rounds it to 3.9 TFLOPS
  for (const Device& d : builtin_devices()) {
    EXPECT_EQ(d.sram_bytes_per_s, d.sm_count * 128 * d.clock_hz) << d.key;
    EXPECT_EQ(d.sfu_ops_per_s, d.sm_count * 16 * d.clock_hz) << d.key;
  }
  // H200 is the H100 SXM5 die with more and faster memory: only HBM, its sources and names differ.
  Device h200 = find_device("h200");
  h200.key = h.key;
  h200.name = h.name;
  h200.hbm_bytes_per_s = h.hbm_bytes_per_s;
  h200.hbm_capacity_bytes = h.hbm_capacity_bytes;
  h200.achievable_hbm_bytes_per_s = h.achievable_hbm_bytes_per_s;  // its own STREAM run
  h200.fp8_mma_fraction = h.fp8_mma_fraction;                      // its own cuBLASLt FP8 run
  h200.sources = h.sources;
  h200.field_sources = h.field_sources;
  EXPECT_EQ(h200, h);
}

TEST(Device, H100FiguresMatchTheDatasheet) {
  const Device& h = find_device("h100-sxm");
  EXPECT_EQ(h.sm_count, 132);
  EXPECT_DOUBLE_EQ(h.hbm_bytes_per_s, 3.35e12);
  EXPECT_DOUBLE_EQ(h.l2_bytes, 50.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(h.smem_bytes_per_sm, 228.0 * 1024);
  EXPECT_DOUBLE_EQ(h.bf16_tensor_flops_per_s, 989.4e12);
  // 132 SMs x 16 MUFU results per clock x 1.83 GHz = 3.865e12, the "3.9 TFLOPS" of FlashAttention-3 §3.
  EXPECT_NEAR(h.sfu_ops_per_s, 3.865e12, 0.001e12);
  // 132 SMs x 128 bytes per clock x 1.83 GHz.
  EXPECT_NEAR(h.sram_bytes_per_s, 30.92e12, 0.01e12);
  EXPECT_FALSE(h.sources.empty());
}

TEST(Device, UnknownKeyNamesTheKnownOnes) {
  try {
    find_device("h100");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown device 'h100'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("h100-sxm"), std::string::npos);
  }
}

TEST(Device, EveryBuiltinRoundTripsThroughJson) {
  for (const Device& d : builtin_devices()) {
    EXPECT_EQ(device_from_json(device_to_json(d), "roundtrip"), d) << d.key;
  }
}

TEST(Device, MeasuredCeilingsOverrideTheDatasheetForTime) {
  Device d = find_device("h100-sxm");
  d.measured.hbm_bytes_per_s = 2.5e12;  // below the STREAM figure the model uses otherwise
  d.measured.bf16_tensor_flops_per_s = 790e12;
  const Device back = device_from_json(device_to_json(d), "measured");
  EXPECT_DOUBLE_EQ(back.hbm_rate(), 2.5e12);
  EXPECT_DOUBLE_EQ(back.sustained_hbm_rate(), 2.5e12);
  EXPECT_DOUBLE_EQ(back.tensor_rate(Dtype::bf16), 790e12);
  EXPECT_DOUBLE_EQ(back.tensor_rate(Dtype::fp16), 989.4e12);  // not measured: datasheet

  Workload w;
  w.variant = parse_variant("standard");  // HBM-bound: the measured bandwidth sets its time
  w.seq = 8192;
  const double datasheet = predict(find_device("h100-sxm"), w).predicted_time_s;
  const double measured = predict(back, w).predicted_time_s;
  EXPECT_GT(measured, datasheet);
}

TEST(Device, MalformedFilesGiveOneLineErrorsNamingTheProblem) {
  const std::string ok = device_to_json(find_device("a100-80gb"));
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[1,2]").find("must be a JSON object"), std::string::npos);
  std::string missing = ok;
  missing.replace(missing.find("\"hbm_bytes_per_s\""), std::string("\"hbm_bytes_per_s\"").size(), "\"hbm_bandwith\"");
  EXPECT_NE(error_of(missing).find("unknown key 'hbm_bandwith'"), std::string::npos);
  EXPECT_NE(error_of(R"({"name":"x"})").find("missing key 'sm_count'"), std::string::npos);
  auto with = [&ok](const char* key, boost::json::value v) {
    boost::json::value doc = boost::json::parse(ok);
    doc.as_object()[key] = std::move(v);
    return boost::json::serialize(doc);
  };
  EXPECT_NE(error_of(with("l2_bytes", -1.0)).find("'l2_bytes' must be positive"), std::string::npos);
  EXPECT_NE(error_of(with("hbm_bytes_per_s", 0)).find("'hbm_bytes_per_s' must be positive"), std::string::npos);
  EXPECT_NE(error_of(with("sm_count", "many")).find("'sm_count' must be a number"), std::string::npos);
  EXPECT_NE(error_of(with("sm_count", 10.5)).find("whole number"), std::string::npos);
  EXPECT_NE(error_of(with("measured", boost::json::object{{"hbm_bytes_per_s", -3}})).find("measured.hbm_bytes_per_s"),
            std::string::npos);
  EXPECT_NE(error_of(with("name", "")).find("'name' must be a non-empty string"), std::string::npos);
  // Found by fuzz_device: 7.8e21 bytes of shared memory per SM overflowed a 64-bit cast in resolve().
  EXPECT_NE(error_of(with("smem_bytes_per_sm", 7.77778e21)).find("'smem_bytes_per_sm' is"), std::string::npos);
  EXPECT_NE(error_of(with("smem_bytes_per_sm", 7.77778e21)).find("above the"), std::string::npos);
  EXPECT_NE(error_of(with("l2_bytes", 1000.5)).find("whole number"), std::string::npos);
  EXPECT_NE(error_of(with("launch_overhead_s", 5.0)).find("'launch_overhead_s' is"), std::string::npos);
  EXPECT_NE(error_of(with("measured", boost::json::object{{"hbm_bytes_per_s", 1e30}})).find("above the 1e20"),
            std::string::npos);
  using boost::json::array;
  EXPECT_NE(error_of(with("dram_queue_read", 3.0)).find("'dram_queue_read' must be an array of at least two"), std::string::npos);
  EXPECT_NE(error_of(with("dram_queue_read", array{array{0.5, 0.0}})).find("at least two"), std::string::npos);
  EXPECT_NE(error_of(with("dram_queue_copy", array{array{0.5, 0.0}, array{0.4, 1e-7}})).find("'dram_queue_copy' must list utilizations in rising order"),
            std::string::npos);
  EXPECT_NE(error_of(with("dram_queue_copy", array{array{0.5, 2e-7}, array{0.9, 1e-7}})).find("must not fall"), std::string::npos);
  EXPECT_NE(error_of(with("dram_queue_read", array{array{0.5, 0.0}, array{0.9, 1.0}})).find("a millisecond or more"), std::string::npos);
  EXPECT_NE(error_of(with("dram_queue_read", array{array{0.5, 0.0}, array{0.9}})).find("[utilization, seconds] pairs"), std::string::npos);
  EXPECT_NE(error_of(with("dram_queue_read", array{array{0.5, 0.0}, array{0.9, -1e-7}})).find("'dram_queue_read' must be zero or positive"),
            std::string::npos);
  {  // the two curves come together
    boost::json::value doc = boost::json::parse(ok);
    doc.as_object().erase("dram_queue_copy");
    EXPECT_NE(error_of(boost::json::serialize(doc)).find("'dram_queue_read' and 'dram_queue_copy' come together"), std::string::npos);
  }
  // A locked SM clock: optional, within 0.25-1.5 x clock_hz (1410 MHz here), kept when valid.
  EXPECT_NE(error_of(with("locked_clock_hz", 1410.0)).find("key 'locked_clock_hz': a locked SM clock of 0.00141 MHz is outside 352.5-2115 MHz"),
            std::string::npos);
  EXPECT_EQ(device_from_json(with("locked_clock_hz", 1.2e9), "t").locked_clock_hz, 1.2e9);
  EXPECT_EQ(device_from_json(ok, "t").locked_clock_hz, 0);
  EXPECT_NE(device_to_json(device_from_json(with("locked_clock_hz", 1.2e9), "t")).find("\"locked_clock_hz\":1.2E9"), std::string::npos);
  for (const std::string& msg : {error_of("{"), error_of(missing)}) {
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(Device, BadFieldSourcesGiveOneLineErrorsNamingTheKey) {
  auto with_sources = [](boost::json::value sources) {
    boost::json::value doc = boost::json::parse(device_to_json(find_device("h100-sxm")));
    doc.as_object()["field_sources"] = std::move(sources);
    return error_of(boost::json::serialize(doc));
  };
  const std::string not_object = with_sources("H100 datasheet");
  const std::string unknown = with_sources(boost::json::object{{"hbm_bandwith", "H100 datasheet"}});
  const std::string not_string = with_sources(boost::json::object{{"clock_hz", 1.83e9}});
  const std::string empty = with_sources(boost::json::object{{"l2_bytes", ""}});
  const std::string measured = with_sources(boost::json::object{{"measured", "attnio ceilings"}});
  EXPECT_NE(not_object.find("key 'field_sources' must be an object"), std::string::npos) << not_object;
  EXPECT_NE(unknown.find("unknown key 'field_sources.hbm_bandwith'"), std::string::npos) << unknown;
  EXPECT_NE(not_string.find("key 'field_sources.clock_hz' must be a non-empty string"), std::string::npos) << not_string;
  EXPECT_NE(empty.find("key 'field_sources.l2_bytes' must be a non-empty string"), std::string::npos) << empty;
  EXPECT_NE(measured.find("unknown key 'field_sources.measured'"), std::string::npos) << measured;
  for (const std::string& msg : {not_object, unknown, not_string, empty, measured}) {
    EXPECT_EQ(msg.rfind("dev.json: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // A file without field_sources is still a device file; what it has round-trips.
  Device d = find_device("a100-80gb");
  d.field_sources.clear();
  EXPECT_EQ(device_from_json(device_to_json(d), "no sources"), d);
  d.field_sources = {{"sm_count", "counted"}};
  EXPECT_EQ(device_from_json(device_to_json(d), "one source"), d);
}

TEST(Device, MissingFileIsAnInputError) {
  EXPECT_THROW(load_device_file("/nonexistent/dev.json"), InputError);
}

TEST(Device, Fp8NeedsFp8TensorCores) {
  Workload w;
  w.dtype = Dtype::fp8;
  EXPECT_THROW(predict(find_device("a100-80gb"), w), InputError);
  EXPECT_NO_THROW(predict(find_device("h100-sxm"), w));
}

// The queue curves from streaming runs (`attnio ceilings` measures them on the GPU at hand): fed
// RRZE-HPC/gpu-benches @1038c5d gpu-stream/a100_80.txt, dram_queue_curve gives exactly the curves
// scripts/dram-queue-curves wrote into a100-80gb.json from that file (threads, read GB/s, scale
// GB/s per row; scale's rate counts its load and its store, so its reads are half of it).
TEST(Device, QueueCurveFromStreamRunsMatchesTheShippedA100Curves) {
  const double rows[][3] = {
      {1728, 21, 40}, {3456, 42, 80}, {5184, 63, 115}, {6912, 85, 159}, {8640, 103, 183}, {10368, 123, 223},
      {12096, 142, 250}, {13824, 166, 303}, {17280, 199, 351}, {20736, 242, 424}, {27648, 323, 579}, {34560, 389, 662},
      {41472, 465, 791}, {48384, 531, 885}, {55296, 615, 1025}, {62208, 669, 1088}, {69120, 740, 1195}, {76032, 801, 1276},
      {82944, 872, 1379}, {89856, 924, 1429}, {96768, 986, 1498}, {103680, 1037, 1520}, {110592, 1119, 1577},
      {117504, 1134, 1574}, {124416, 1198, 1609}, {131328, 1246, 1613}, {138240, 1306, 1646}, {145152, 1341, 1639},
      {152064, 1393, 1660}, {158976, 1432, 1660}, {165888, 1491, 1682}, {172800, 1511, 1674}, {179712, 1555, 1689},
      {186624, 1582, 1689}, {193536, 1622, 1706}, {200448, 1645, 1700}, {207360, 1687, 1711}, {214272, 1713, 1712},
      {221184, 1776, 1737}};
  std::vector<StreamSample> read, copy;
  for (const auto& r : rows) {
    read.push_back({.resident_threads = r[0], .bytes_per_thread = 8, .read_bytes_per_s = r[1] * 1e9, .total_bytes_per_s = r[1] * 1e9});
    copy.push_back({.resident_threads = r[0], .bytes_per_thread = 8, .read_bytes_per_s = r[2] * 1e9 / 2, .total_bytes_per_s = r[2] * 1e9});
  }
  const Device& a = find_device("a100-80gb");
  for (const auto& [got, want] : {std::pair{dram_queue_curve(read), a.dram_queue_read}, std::pair{dram_queue_curve(copy), a.dram_queue_copy}}) {
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_DOUBLE_EQ(got[i].first, want[i].first) << i;
      EXPECT_NEAR(got[i].second, want[i].second, 1e-6 * want[i].second + 1e-15) << i;
    }
  }
  // By hand, two runs: 1000 threads x 8 B at 10 GB/s (0.8 µs), 4000 at 20 GB/s (1.6 µs): the
  // second waited 0.8 µs longer at full utilization.
  const auto two = dram_queue_curve({{1000, 8, 10e9, 10e9}, {4000, 8, 20e9, 20e9}});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_DOUBLE_EQ(two[0].first, 0.5);
  EXPECT_DOUBLE_EQ(two[0].second, 0.0);
  EXPECT_DOUBLE_EQ(two[1].first, 1.0);
  EXPECT_NEAR(two[1].second, 0.8e-6, 1e-18);
  EXPECT_THROW(dram_queue_curve({{1000, 8, 10e9, 10e9}}), InputError);
  EXPECT_THROW(dram_queue_curve({{1000, 8, 10e9, 10e9}, {2000, 8, 0, 0}}), InputError);
}
