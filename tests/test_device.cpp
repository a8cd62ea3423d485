#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>

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

TEST(Device, BuiltinsAreTheSevenNamedOnesWithH100First) {
  const auto& d = builtin_devices();
  ASSERT_EQ(d.size(), 7u);
  EXPECT_EQ(default_device().key, "h100-sxm");
  for (const char* key : {"h100-sxm", "h100-pcie", "h200", "a100-40gb", "a100-80gb", "l40s", "rtx4090"}) {
    EXPECT_EQ(find_device(key).key, key);
  }
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
  d.measured.hbm_bytes_per_s = 3.0e12;
  d.measured.bf16_tensor_flops_per_s = 790e12;
  const Device back = device_from_json(device_to_json(d), "measured");
  EXPECT_DOUBLE_EQ(back.hbm_rate(), 3.0e12);
  EXPECT_DOUBLE_EQ(back.tensor_rate(Dtype::bf16), 790e12);
  EXPECT_DOUBLE_EQ(back.tensor_rate(Dtype::fp16), 989.4e12);  // not measured: datasheet

  Workload w;
  w.variant = Variant::standard;  // HBM-bound: the measured bandwidth sets its time
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
  EXPECT_NE(error_of(with("l2_bytes", 1000.5)).find("whole number of bytes"), std::string::npos);
  EXPECT_NE(error_of(with("launch_overhead_s", 5.0)).find("'launch_overhead_s' is"), std::string::npos);
  EXPECT_NE(error_of(with("measured", boost::json::object{{"hbm_bytes_per_s", 1e30}})).find("above the 1e20"),
            std::string::npos);
  for (const std::string& msg : {error_of("{"), error_of(missing)}) {
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
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
