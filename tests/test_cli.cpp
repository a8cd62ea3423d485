// The attnio command as a user runs it: exit codes, one-line errors on stderr, and the machine
// interface (JSON keys, CSV header) that scripts rely on.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <csignal>
#include <string>
#include <vector>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attnio/model/variant.hpp"

namespace {

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Result run(const std::string& args) {
  const std::string base = ::testing::TempDir() + "attnio_cli_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  const std::string cmd = std::string(ATTNIO_CLI) + " " + args + " >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(base + ".out"), slurp(base + ".err")};
}

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// A bad-input run: exit code 2, exactly one line on stderr containing `needle`, nothing on stdout.
void expect_bad_input(const std::string& args, const std::string& needle) {
  const Result r = run(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << args << "\nstderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\nstderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << args << "\nstdout: " << r.out;
}

}  // namespace

TEST(Cli, PredictJsonHasTheContractKeys) {
  const Result r = run("predict --variant flash2 --seq 2048 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out);
  ASSERT_TRUE(v.is_object());
  for (const char* key :
       {"device", "variant", "phase", "batch", "seq", "kv_len", "heads", "kv_heads", "head_dim", "dtype", "flops",
        "tensor_flops", "fp32_flops", "sfu_flops", "hbm_read_bytes", "hbm_write_bytes", "hbm_bytes", "l2_bytes",
        "sram_bytes", "arithmetic_intensity", "bound", "binding_ceiling", "predicted_time_s", "kv_cache_bytes",
        "io_complexity", "latency_bound"}) {
    EXPECT_TRUE(v.as_object().contains(key)) << key;
  }
  EXPECT_EQ(v.at("seq").to_number<std::uint64_t>(), 2048u);
  EXPECT_EQ(v.at("device").as_string(), "h100-sxm");
}

TEST(Cli, PredictAllIsAnArrayWithoutInapplicableVariants) {
  const Result r = run("predict --variant all --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out);
  ASSERT_TRUE(v.is_array());
  // Every variant modeled in prefill; the decode-only ones are skipped with a note.
  std::size_t prefill = 0;
  for (attnio::Variant variant : attnio::all_variants()) prefill += variant->prefill;
  EXPECT_EQ(v.as_array().size(), prefill);
  EXPECT_NE(r.err.find("skipped " + std::to_string(attnio::all_variants().size() - prefill)), std::string::npos);
}

TEST(Cli, SweepRangesMakeTheCrossProductAsCsv) {
  const Result r = run("sweep --variant flash2,standard --seq 1024:8192:x2 --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("device,variant,phase,pass,batch,seq,", 0), 0u);
  int rows = 0;
  for (std::string line; std::getline(lines, line);) ++rows;
  EXPECT_EQ(rows, 2 * 4);
}

// A command that runs no GEMM does not load cuBLAS (kernels/cublas_lazy.cpp): loading it took
// 0.3 s of every attnio process. glibc's loader lists every library it opens under LD_DEBUG=files.
TEST(Cli, ModelCommandsDoNotLoadCublas) {
  const std::string err = ::testing::TempDir() + "attnio_cli_ld_debug.err";
  const std::string cmd = "LD_DEBUG=files " + std::string(ATTNIO_CLI) + " predict --variant flash2 >/dev/null 2>" + err;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string log = slurp(err);
  EXPECT_NE(log.find("file=libboost"), std::string::npos) << "LD_DEBUG=files listed nothing:\n" << log.substr(0, 400);
  EXPECT_EQ(log.find("libcublas"), std::string::npos) << log.substr(0, 400);
}

TEST(Cli, DevicesJsonRoundTripsAsADeviceFile) {
  const Result r = run("devices --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto all = boost::json::parse(r.out);
  ASSERT_EQ(all.as_array().size(), 9u);
  const std::string path = write_temp("a100.json", boost::json::serialize(all.as_array()[4]));
  const Result p = run("predict --device-file " + path + " --format json");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(boost::json::parse(p.out).at("device").as_string(), "a100-80gb");
}

TEST(Cli, ReportShowsBothPhasesAndVerdicts) {
  const Result r = run("report");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("== prefill on NVIDIA H100 SXM5 80GB"), std::string::npos);
  EXPECT_NE(r.out.find("== decode on"), std::string::npos);
  EXPECT_NE(r.out.find("memory-bound on HBM:"), std::string::npos);
  EXPECT_NE(r.out.find("compute-bound (SM pipes):"), std::string::npos);
  // Kernels held up by their own waits are named apart from those a bandwidth limits: the
  // default prefill's PyTorch eager and Mamba's scan.
  EXPECT_NE(r.out.find("latency-bound (waits):           standard, mamba\n"), std::string::npos);
  EXPECT_NE(r.out.find("limited by"), std::string::npos);  // the execution model names what sets each time
  EXPECT_NE(r.out.find("impl"), std::string::npos);
  EXPECT_NE(r.out.find("flash-decoding"), std::string::npos);
  EXPECT_NE(r.out.find("mamba-naive"), std::string::npos);
  // The footer says which variants published measurements cover and which they do not.
  const auto checked = r.out.find("Held against measurements (rows, median |error|): ");
  const auto alone = r.out.find("No published measurement yet, so the model's alone: ");
  ASSERT_NE(checked, std::string::npos) << r.out;
  ASSERT_NE(alone, std::string::npos) << r.out;
  const std::string checked_line = r.out.substr(checked, r.out.find('\n', checked) - checked);
  const std::string alone_line = r.out.substr(alone, r.out.find('\n', alone) - alone);
  EXPECT_NE(checked_line.find("flash2 ("), std::string::npos) << checked_line;
  EXPECT_EQ(checked_line.find("mamba2"), std::string::npos) << checked_line;
  EXPECT_NE(alone_line.find("mamba2"), std::string::npos) << alone_line;
  // Whole entries: ", flash2," or ", flash2." (the last) would name flash2 among the unchecked.
  EXPECT_EQ((alone_line + ",").find(" flash2,"), std::string::npos) << alone_line;
  EXPECT_EQ(alone_line.find(" flash2."), std::string::npos) << alone_line;
  EXPECT_NE(r.out.find("'attnio validate --agreement'"), std::string::npos);
}

TEST(Cli, ModelImportsShippedAndUserConfigs) {
  Result r = run("model --config llama-3-8b --mixer --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  auto v = boost::json::parse(r.out);
  ASSERT_EQ(v.as_array().size(), 2u);  // prefill and decode
  EXPECT_EQ(v.as_array()[0].at("layers").to_number<std::uint64_t>(), 32u);
  EXPECT_EQ(v.as_array()[0].at("kv_cache_bytes").to_number<std::uint64_t>(), 4096u * 131072);
  const std::string path = write_temp("tiny_config.json",
                                      R"({"num_hidden_layers":2,"hidden_size":256,"num_attention_heads":4})");
  r = run("model --config " + path + " --seq 128 --mixer --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(boost::json::parse(r.out).as_array()[0].at("head_dim").to_number<std::uint64_t>(), 64u);
  r = run("models");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("deepseek-v2"), std::string::npos);
}

TEST(Cli, ExplainSubstitutesTheNumbers) {
  const Result r = run("explain --variant flash1 --head-dim 64 --sram-bytes 32768");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Bc = ⌈M/4d⌉ = 64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("verdict:"), std::string::npos);
}

TEST(Cli, BenchPrintsAFigure) {
  const Result r = run("bench --seconds 0.05 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(boost::json::parse(r.out).at("evaluations_per_s").to_number<std::uint64_t>(), 0u);
}

TEST(Cli, SimulateReportsTheFormulaAndTheSimulation) {
  const Result r = run("simulate --seq 1024 --kv-heads 8 --causal --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out);
  for (const char* key : {"hbm_bytes", "l2_bytes", "sim_hbm_read_bytes", "sim_hbm_write_bytes", "sim_hbm_bytes",
                          "sim_l2_hit_rate", "sim_time_s", "block_m", "block_n"}) {
    EXPECT_TRUE(v.as_object().contains(key)) << key;
  }
  // The default implementation's tiles (flash-attention 2 at d = 128: 128 x 64), as predict uses.
  EXPECT_EQ(v.at("block_m").to_number<std::uint64_t>(), 128u);
  EXPECT_EQ(v.at("block_n").to_number<std::uint64_t>(), 64u);
  const Result own = run("simulate --seq 1024 --impl attnio --format json");
  ASSERT_EQ(own.code, 0) << own.err;
  EXPECT_EQ(boost::json::parse(own.out).at("block_m").to_number<std::uint64_t>(), 64u);  // attnio's kernel
  const Result off = run("simulate --seq 1024 --l2 off --format json");
  ASSERT_EQ(off.code, 0) << off.err;
  const auto o = boost::json::parse(off.out);
  EXPECT_EQ(o.at("sim_hbm_bytes").to_number<std::uint64_t>(), o.at("l2_bytes").to_number<std::uint64_t>());
}

// FlashAttention Fig. 2 (middle): in the FA1 loop order, bigger K/V blocks mean fewer passes over
// Q and O, so the simulated DRAM bytes fall as --block-n grows (L2 off: every pass reaches DRAM).
TEST(Cli, SweepSimulatesABlockSizeSweep) {
  const Result r = run("sweep --simulate --variant flash1 --seq 2048 --l2 off --block-n 32,64,128,256 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = boost::json::parse(r.out).as_array();
  ASSERT_EQ(rows.size(), 4u);
  for (std::size_t i = 1; i < rows.size(); ++i) {
    EXPECT_LT(rows[i].at("sim_hbm_bytes").to_number<double>(), 0.6 * rows[i - 1].at("sim_hbm_bytes").to_number<double>());
  }
  // Past the SRAM: the point is skipped with a note naming the tiles.
  const Result big = run("sweep --simulate --variant flash1 --seq 2048 --block-n 256,1024 --format csv");
  ASSERT_EQ(big.code, 0) << big.err;
  EXPECT_NE(big.err.find("bytes of SRAM"), std::string::npos);
}

// Without a GPU (CI), `attnio kernels` says why in one line and exits 2; with one it checks.
TEST(Cli, KernelsNeedAGpu) {
  const Result r = run("kernels --check --kernel flash2 --dtype bf16");
  if (r.code == 0) GTEST_SKIP() << "a GPU is present: the kernel checks ran and passed";
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(r.err.find("no CUDA device") != std::string::npos || r.err.find("built without CUDA") != std::string::npos) << r.err;
}

// `attnio profile`: without a GPU, exit 3 with "no CUDA device" and no trace file; with one, a
// small flash2 point is profiled and its record carries DRAM bytes.
TEST(Cli, ProfileNeedsAGpuAndLosesNothing) {
  const std::string out = ::testing::TempDir() + "profile_cli.jsonl";
  std::remove(out.c_str());
  const Result r = run("profile --out " + out + " --variant flash2 --seq 256 --heads 4 --batch 1");
  if (r.code == 2 && r.err.find("built without") != std::string::npos) GTEST_SKIP() << r.err;
  if (r.code == 3) {
    EXPECT_NE(r.err.find("no CUDA device: "), std::string::npos) << r.err;
    EXPECT_FALSE(std::ifstream(out).good()) << "no trace may be started without a device";
    return;
  }
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(out);
  std::string header, record;
  std::getline(in, header);
  std::getline(in, record);
  const auto rec = boost::json::parse(record).as_object();
  if (rec.at("status").as_string() != "ok") GTEST_SKIP() << "profiling refused here: " << rec.at("error").as_string();
  EXPECT_EQ(rec.at("kernel").as_string(), "flash2_fwd");
  bool dram = false;
  for (const auto& m : rec.at("metrics").as_array()) dram |= m.at("name").as_string() == "dram__bytes_read.sum" && m.at("value").to_number<double>() > 0;
  EXPECT_TRUE(dram) << record;
}

// `attnio ceilings`: exit 3 without a GPU; with one, the device file it writes loads as a device
// whose measured ceilings the model then uses.
TEST(Cli, CeilingsNeedAGpuAndWriteADeviceFile) {
  const std::string out = ::testing::TempDir() + "ceilings_device.json";
  std::remove(out.c_str());
  const Result r = run("ceilings --repeats 1 --out-device " + out);
  if (r.code == 2 && r.err.find("built without") != std::string::npos) GTEST_SKIP() << r.err;
  if (r.code == 3) {
    EXPECT_NE(r.err.find("no CUDA device: "), std::string::npos) << r.err;
    EXPECT_FALSE(std::ifstream(out).good());
    return;
  }
  ASSERT_EQ(r.code, 0) << r.err;
  const Result p = run("predict --device-file " + out + " --format json");
  ASSERT_EQ(p.code, 0) << p.err;
}

// The shipped profiling suite (traces/specs/suite.json): 81 points by hand (flash2 5 lengths x 2
// head layouts x 2 masks x 2 head dims = 40; sliding-window 4; sigmoid 2; flash1 3; standard 6;
// chunked 2; decode 2 variants x 3 batches x 4 cache lengths = 24), every one bound to a kernel;
// shards of 8 partition it. Needs no GPU (--dry-run).
TEST(Cli, ProfileSuiteSpecIsFullyBound) {
  const std::string spec = std::string(ATTNIO_SOURCE_DIR) + "/traces/specs/suite.json";
  const Result sweep = run("sweep --spec " + spec + " --format json");
  ASSERT_EQ(sweep.code, 0) << sweep.err;
  EXPECT_EQ(boost::json::parse(sweep.out).as_array().size(), 176u);
  std::size_t total = 0;
  for (int i = 0; i < 8; ++i) {
    const Result r = run("profile --spec " + spec + " --dry-run --format json --shard " + std::to_string(i) + "/8");
    if (r.code == 2 && r.err.find("built without") != std::string::npos) GTEST_SKIP() << r.err;
    ASSERT_EQ(r.code, 0) << r.err;
    const auto rows = boost::json::parse(r.out).as_array();
    total += rows.size();
    for (const auto& row : rows) EXPECT_EQ(row.at("kernel").as_string().find("(none"), std::string::npos) << boost::json::serialize(row);
  }
  EXPECT_EQ(total, 176u);
}

TEST(Cli, SpecFilesAreCheckedStrictly) {
  const std::string dir = ::testing::TempDir();
  auto spec = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + name) << text;
    return dir + name;
  };
  const Result ok = run("sweep --format json --spec " + spec("ok.json", R"({"sweeps": [{"variant": "flash2", "seq": "1024,2048", "causal": true}, {"seq": 512}]})"));
  ASSERT_EQ(ok.code, 0) << ok.err;
  const auto rows = boost::json::parse(ok.out).as_array();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].at("seq").to_number<double>(), 512);
  expect_bad_input("sweep --spec " + spec("bad1.json", "{"), "not valid JSON");
  expect_bad_input("sweep --spec " + spec("bad2.json", R"({"sweep": []})"), "unknown key 'sweep'");
  expect_bad_input("sweep --spec " + spec("bad3.json", R"({"sweeps": []})"), "non-empty array");
  expect_bad_input("sweep --spec " + spec("bad4.json", R"({"sweeps": [{"sequence": 5}]})"), "sweep 1");
  expect_bad_input("sweep --spec " + spec("bad5.json", R"({"sweeps": [{"seq": 1024}, {"seq": 0}]})"), "sweep 2");
  expect_bad_input("sweep --spec " + spec("bad6.json", R"({"sweeps": [{"seq": [1, 2]}]})"), "string, number or boolean");
  expect_bad_input("sweep --spec /nonexistent/spec.json", "cannot open");
}

TEST(Cli, CompareAndMergeTraces) {
  const std::string fixture = std::string(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl";
  Result r = run("compare " + fixture);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("flash-decoding"), std::string::npos);
  EXPECT_NE(r.out.find("HAND-MADE"), std::string::npos);
  r = run("compare " + fixture + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out);
  EXPECT_EQ(v.at("records").as_array().size(), 2u);
  const std::string out = ::testing::TempDir() + "merged_cli.jsonl";
  std::remove(out.c_str());
  r = run("merge " + out + " " + fixture);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(run("compare " + out + " --format csv").code, 0);
  const std::string chrome = ::testing::TempDir() + "fixture_chrome.json";
  r = run("export --chrome " + chrome + " " + fixture);
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream in(chrome);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_GE(boost::json::parse(text).at("traceEvents").as_array().size(), 5u);
}

// CUPTI's host side works without a GPU: metrics are listed and checked offline.
TEST(Cli, MetricsOffline) {
  const Result r = run("metrics --chip GH100 --check default --format json");
  if (r.code == 2 && r.err.find("built without CUPTI") != std::string::npos) GTEST_SKIP() << r.err;
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(boost::json::parse(r.out).as_array().size(), 12u);
  expect_bad_input("metrics --check dram__bytez.sum", "'dram__bytez.sum' is not available on GH100");
  expect_bad_input("metrics --chip GX999", "not supported");
  expect_bad_input("metrics --type speed", "--type must be counter, ratio or throughput");
}

TEST(Cli, HelpExitsZero) {
  EXPECT_EQ(run("--help").code, 0);
  EXPECT_EQ(run("predict --help").code, 0);
  EXPECT_EQ(run("sweep --help").code, 0);
}

TEST(Cli, BadInputIsOneLineAndExitCodeTwo) {
  expect_bad_input("", "no command given");
  expect_bad_input("frobnicate", "unknown command 'frobnicate'");
  expect_bad_input("predict --seq 0", "--seq must be at least 1");
  expect_bad_input("predict --seq -5", "seq");
  expect_bad_input("predict --seq abc", "'abc' is not a whole number");
  expect_bad_input("predict --heads 32 --kv-heads 6", "not divisible by --kv-heads 6");
  expect_bad_input("predict --variant flash3", "unknown variant 'flash3'");
  expect_bad_input("predict --device b200", "unknown device 'b200'");
  expect_bad_input("predict --dtype int4", "unknown dtype 'int4'");
  expect_bad_input("predict --phase train", "unknown phase 'train'");
  expect_bad_input("predict --format yaml", "unknown format 'yaml'");
  expect_bad_input("predict --wat 3", "wat");
  expect_bad_input("predict --seq 1,2", "use 'attnio sweep' for lists");
  expect_bad_input("predict --variant paged", "use --phase decode");
  expect_bad_input("predict --variant linear --pass bwd", "only the forward pass is modeled");
  expect_bad_input("predict --variant standard --seq 16777216 --batch 1024 --heads 64 --head-dim 512",
                   "overflows 64 bits");
  expect_bad_input("predict --device h100-sxm --device-file x.json", "not both");
  expect_bad_input("predict --device-file /nonexistent.json", "cannot open");
  expect_bad_input("predict --device-file " + write_temp("broken.json", "{\"name\": \"x\", "), "not valid JSON");
  expect_bad_input("predict --device-file " + write_temp("partial.json", R"({"name":"x","sm_count":10})"),
                   "missing key 'clock_hz'");
  expect_bad_input("model --config /nonexistent/config.json", "cannot open");
  expect_bad_input("model --config " + write_temp("badcfg.json", R"({"num_hidden_layers":2,"hidden_size":64})"),
                   "missing key 'num_attention_heads'");
  expect_bad_input("model", "--config NAME|PATH is required");
  expect_bad_input("sweep --seq 1024:512:x2", "runs backwards");
  expect_bad_input("sweep --seq 1024:4096:x1", "at least x2");
  expect_bad_input("sweep --seq 1:100000000:+1", "more than 100000 values");
  expect_bad_input("sweep --variant paged,flash-decoding", "no combination applies");
  expect_bad_input("predict --variant block-sparse --block-density 1.5", "--block-density must be in (0, 1]");
  expect_bad_input("predict --variant ring --seq 1000 --gpus 3", "divisible by --gpus 3");
  expect_bad_input("predict --variant ring --device rtx4090", "no NVLink");
  // A PCIe card's NVLink bridge joins a pair: more GPUs would go over PCIe, which is not modelled.
  expect_bad_input("predict --variant ring --device h100-pcie --gpus 4", "joins 2 GPUs by NVLink");
  expect_bad_input("model --config llama-3-8b --device a100-80gb-pcie --tp 4", "joins 2 GPUs by NVLink");
  expect_bad_input("predict --dtype fp8 --device a100-80gb", "no FP8 tensor cores");
  expect_bad_input("predict --block-m 1024 --block-n 1024", "bytes of SRAM");
  expect_bad_input("predict --variant paged --phase decode --page-size 48", "must divide 512");
  expect_bad_input("bench --seconds -1", "--seconds");
  expect_bad_input("kernels --kernel flash9", "unknown kernel 'flash9'");
  expect_bad_input("compare /nonexistent/trace.jsonl", "cannot open");
  expect_bad_input("compare", "give one or more trace files");
  expect_bad_input("merge out.jsonl", "at least one shard");
  expect_bad_input("profile --variant flash2", "give --out");
  expect_bad_input("ceilings --repeats 0", "--repeats");
  expect_bad_input("ceilings --device h100-sxm --device-file x.json", "not both");
  expect_bad_input("profile --out x.jsonl --shard 4/4", "below n");
  expect_bad_input("profile --out x.jsonl --shard two/4", "expected i/n");
  expect_bad_input("profile --out x.jsonl --seq 0", "seq");
  expect_bad_input("export /nonexistent/trace.jsonl --chrome x.json", "cannot open");
  expect_bad_input("export trace.jsonl", "give --chrome");
  expect_bad_input("export --chrome /nonexistent/dir/x.json " + std::string(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl", "cannot write");
  expect_bad_input("kernels --dtype fp8", "--dtype takes bf16 and fp16");
  expect_bad_input("simulate --l2-ways 0", "--l2-ways must be at least 1");
  expect_bad_input("simulate --l2-sample 100000", "--l2-sample must be between 1 and 65536");
  expect_bad_input("simulate --seq 512 --trace-out /nonexistent/dir/t.csv", "cannot write");
  expect_bad_input("simulate --seq 512 --chrome-trace /nonexistent/dir/t.json", "cannot write");
  expect_bad_input("simulate --block-m 512 --block-n 512", "bytes of SRAM");
  expect_bad_input("simulate --variant fnet", "no tile schedule");
  expect_bad_input("simulate --variant all --trace-out x.csv", "one variant");
  {
    boost::json::value dev = boost::json::parse(run("devices --format json").out).as_array()[0];
    dev.as_object()["l2_bytes"] = 64;
    expect_bad_input("simulate --seq 512 --device-file " + write_temp("tiny_l2.json", boost::json::serialize(dev)),
                     "holds less than one set");
  }
  expect_bad_input("predict --sram-bytes 1", "fewer than 4 x head-dim elements");
  expect_bad_input("predict --variant flash-decoding --phase decode --dtype fp32 --sram-bytes 3", "fewer than 4 x head-dim");
  expect_bad_input("predict --variant linear --kv-len 8192", "--kv-len must equal --seq");
  expect_bad_input("predict --causal --seq 1073741824 --heads 1 --head-dim 4 --sram-bytes 64",
                   "too long to plan");
  // Files that are not files: each would hang or fail late if read.
  expect_bad_input("predict --device-file /dev/zero", "not a regular file");
  expect_bad_input("predict --device-file " + ::testing::TempDir(), "not a regular file");
  expect_bad_input("model --config /dev/zero", "not a regular file");
  expect_bad_input("sweep --spec /dev/zero", "not a regular file");
  expect_bad_input("compare /dev/zero", "not a regular file");
  // Found by fuzz_spec: Boost.ProgramOptions hangs formatting an unknown option named with %...%.
  expect_bad_input("predict --s%original_token%eq 4", "unknown option '--s%original_token%eq'");
  expect_bad_input("sweep --spec " + write_temp("percent_spec.json", R"({"sweeps":[{"s%canonical_option%":"1"}]})"),
                   "unknown option '--s%canonical_option%'");
  expect_bad_input("profile --runner tpu --out x.jsonl", "--runner: 'tpu' is not gpu or cpu");
  expect_bad_input("profile --runner cpu --dry-run", "does not apply to --runner cpu");
  expect_bad_input("profile --runner cpu --metrics dram__bytes_read.sum --out x.jsonl", "wall time only");
  expect_bad_input("profile --runner cpu --variant flash2", "give --out");
  {
    std::string sweeps;
    for (int i = 0; i < 3; ++i) sweeps += std::string(i ? "," : "") + R"({"seq":"1:100000:+1","batch":"1:8:+1"})";
    expect_bad_input("sweep --spec " + write_temp("huge_spec.json", R"({"sweeps":[)" + sweeps + "]}"),
                     "more than 1,000,000 points");
  }
}

// Issue 8: `attnio profile` killed with SIGKILL in the middle of a sweep keeps every finished record
// readable, and --resume measures only what is missing. The CPU runner stands in for the GPU, so
// this runs in CI; each point is a float64 reference attention of 0.1-0.5 s, so the kill lands
// mid-sweep.
TEST(Cli, ProfileKilledMidSweepResumesWithEveryFinishedRecord) {
  const std::string trace = ::testing::TempDir() + "attnio_killed.jsonl";
  std::remove(trace.c_str());
  const std::vector<std::string> argv_s = {ATTNIO_CLI, "profile", "--runner", "cpu", "--variant",
                                           "standard,flash2,sigmoid,sliding-window", "--seq", "512",
                                           "--batch", "1,2,3", "--heads", "4", "--head-dim", "64",
                                           "--out", trace};
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Wait for the header and three whole records, then kill without warning.
  auto whole_lines = [&] {
    const std::string text = slurp(trace);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  };
  for (int i = 0; i < 6000 && whole_lines() < 4; ++i) usleep(5000);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sweep finished before the kill: make its points slower";

  // Every whole line left behind is a record that reads back; at most the last line is unfinished.
  const std::string before = slurp(trace);
  const std::string kept = before.substr(0, before.rfind('\n') + 1);
  std::istringstream lines(kept);
  std::size_t records = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto v = boost::json::parse(line);
    ASSERT_TRUE(v.is_object());
    if (v.as_object().contains("workload")) ++records;
  }
  EXPECT_GE(records, 3u);
  EXPECT_LT(records, 12u);

  const Result resumed = run("profile --runner cpu --variant standard,flash2,sigmoid,sliding-window --seq 512 "
                             "--batch 1,2,3 --heads 4 --head-dim 64 --out " + trace + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find(std::to_string(records) + " already in"), std::string::npos) << resumed.out;
  const std::string after = slurp(trace);
  EXPECT_EQ(after.compare(0, kept.size(), kept), 0) << "records written before the kill changed";
  EXPECT_EQ(std::count(after.begin(), after.end(), '\n'), 13) << "header + 12 records, each once";
  const Result cmp = run("compare " + trace + " --format json");
  EXPECT_EQ(cmp.code, 0) << cmp.err;
}

// Issue 8: every other error path of the CLI (an audit of cli/, and of the library checks a flag
// reaches), each one line on stderr naming the problem, exit code 2.
TEST(Cli, EveryOtherErrorPathIsOneLineAndExitCodeTwo) {
  const std::string fix = std::string(ATTNIO_SOURCE_DIR) + "/traces/fixtures/handmade-h100.jsonl";
  // Boost.ProgramOptions' own messages, passed through.
  expect_bad_input("predict --seq", "the required argument for option '--seq' is missing");
  expect_bad_input("bench --seconds abc", "'abc'");
  expect_bad_input("predict --seq 1 --seq 2", "cannot be specified more than once");
  expect_bad_input("predict foo", "unexpected argument 'foo'");
  expect_bad_input("sweep --seq 1024 2048", "unexpected argument '2048'");
  // Commands.
  expect_bad_input("sweep --simulate --trace-out t.csv", "writes no traces");
  expect_bad_input("explain --variant all", "explain takes one --variant");
  expect_bad_input("model --config llama-3-8b --heads 8", "comes from the config");
  expect_bad_input("report --variant flash2", "report runs every variant");
  expect_bad_input("kernels --repeats 0", "between 1 and 1000");
  expect_bad_input("kernels --device h100-sxm --device-file x.json", "not both");
  expect_bad_input("export --chrome x.json", "give one or more trace files");
  expect_bad_input("profile --out x.jsonl --device h100-sxm,a100-80gb", "give a single --device");
  expect_bad_input("profile --out x.jsonl --shard 0/0", "at least 1");
  // Flags and lists.
  expect_bad_input("predict --l2 maybe", "'maybe' is not on or off");
  expect_bad_input("predict --causal=maybe", "'maybe' is not on or off");
  expect_bad_input("predict --variant block-sparse --block-density abc", "--block-density: 'abc' is not a number");
  expect_bad_input("predict --dtype bf16,fp16", "--dtype takes one value here");
  expect_bad_input("predict --variant flash2,standard", "takes one name or 'all'");
  expect_bad_input("sweep --seq 1:100000:+1 --batch 1:11:+1", "is larger than 1,000,000");
  {
    const std::string dev = write_temp("one_device.json", boost::json::serialize(boost::json::parse(run("devices --format json").out).as_array()[0]));
    std::string many = dev;
    for (int i = 0; i < 16; ++i) many += "," + dev;
    expect_bad_input("sweep --device-file " + many, "--device-file: at most 16 files");
  }
  expect_bad_input("sweep --spec " + write_temp("array_spec.json", "[]"), "expected an object with a \"sweeps\" array");
  expect_bad_input("sweep --spec " + write_temp("number_sweep.json", R"({"sweeps":[1]})"), "sweep 1: expected an object of flags");
  expect_bad_input("sweep --spec " + write_temp("empty_seq.json", R"({"sweeps":[{"seq":""}]})"), "--seq: empty value");
  expect_bad_input("sweep --spec /nonexistent.json --seq 1024", "give --spec or workload flags (--seq), not both");
  expect_bad_input("sweep --seq 1024:4096", "needs start:end:step");
  expect_bad_input("sweep --seq 1024:4096:2", "must be xK (multiply) or +K (add)");
  // Workload checks.
  expect_bad_input("predict --seq 2000000000000", "is larger than 2^40");
  expect_bad_input("predict --cla-share 2000000000000", "--cla-share 2000000000000 is larger than 2^40");
  expect_bad_input("predict --pass sideways", "unknown pass 'sideways'");
  expect_bad_input("predict --head-dim 8192", "at most 4096");
  expect_bad_input("predict --block-m 70000", "--block-m must be at most 65536");
  expect_bad_input("predict --variant mla --latent-dim 5000", "--latent-dim");
  expect_bad_input("predict --variant performer --features 100000", "--features must be at most 65536");
  expect_bad_input("predict --variant dilated --segment 2048 --dilation 3", "divisible by --dilation");
  expect_bad_input("predict --variant dilated --seq 1000", "divisible by --segment");
  expect_bad_input("predict --variant dilated --kv-len 2048", "--kv-len must equal --seq");
  expect_bad_input("predict --variant linear --feature-dim 5000", "--feature-dim must be at most 4096");
  expect_bad_input("predict --variant fnet --kv-len 2048", "--kv-len must equal --seq");
  expect_bad_input("predict --variant flash-decoding --phase decode --splits 2000", "--splits must be at most 1024");
  expect_bad_input("predict --variant flash2 --splits 4", "--splits does not apply to flash2");
  expect_bad_input("sweep --variant flash2,standard --window 64", "--window does not apply to flash2, standard");
  expect_bad_input("predict --variant chunked --phase decode", "not modeled for --phase decode");
  expect_bad_input("predict --variant fnet --causal", "has no causal form");
  expect_bad_input("predict --phase decode --pass bwd", "decode is inference only");
  expect_bad_input("simulate --variant ring", "ring");
  // Device files and configs.
  expect_bad_input("predict --device-file " + write_temp("no_name.json", R"({"sm_count":1})"), "missing key 'name'");
  {
    auto dev_with = [&](const char* key, boost::json::value v) {
      boost::json::value dev = boost::json::parse(run("devices --format json").out).as_array()[0];
      dev.as_object()[key] = std::move(v);
      return write_temp(std::string("dev_") + key + ".json", boost::json::serialize(dev));
    };
    expect_bad_input("predict --device-file " + dev_with("nvlink_bytes_per_s", -1), "must be zero or positive");
    expect_bad_input("predict --device-file " + dev_with("measured", 1), "'measured' must be an object");
    expect_bad_input("predict --device-file " + dev_with("sources", 1), "'sources' must be a string");
  }
  {
    const std::string big = ::testing::TempDir() + "big_device.json";
    std::ofstream(big) << std::string((16u << 20) + 1, ' ');
    expect_bad_input("predict --device-file " + big, "more than the 16777216");
  }
  expect_bad_input("model --config " + write_temp("array_config.json", "[]"), "top level must be a JSON object");
  // Traces: writing, resuming, merging.
  {
    const std::string existing = write_temp("existing.jsonl", "not empty\n");
    expect_bad_input("profile --runner cpu --variant flash2 --seq 128 --heads 2 --head-dim 64 --out " + existing,
                     "exists; pass --resume");
    const std::string gpu_trace = ::testing::TempDir() + "gpu_copy.jsonl";
    std::ofstream(gpu_trace) << slurp(fix);
    expect_bad_input("profile --runner cpu --variant flash2 --seq 128 --heads 2 --head-dim 64 --resume --out " + gpu_trace,
                     "differs");
    expect_bad_input("profile --runner cpu --variant flash2 --seq 128 --out /nonexistent/dir/x.jsonl", "cannot write");
  }
  {
    // The fixture's first record again with another measured value: one point, two results.
    std::string changed = slurp(fix);
    const std::string from = "\"value\": 300000000.0";
    changed.replace(changed.find(from), from.size(), "\"value\": 300000001.0");
    expect_bad_input("merge " + ::testing::TempDir() + "merged.jsonl " + fix + " " + write_temp("changed.jsonl", changed),
                     "appears twice with different results");
  }
  expect_bad_input("merge /nonexistent/dir/out.jsonl " + fix, "cannot write");
  expect_bad_input("compare " + write_temp("array_line.jsonl", "[]\n"), "a line must be a JSON object");
}

// report reads its flags once per phase: a device file works (it was re-read per variant, and the
// 17th read hit the 16-file limit), and the ridge line follows --dtype (1978.9 / 3.35 = 590.7).
TEST(Cli, ReportTakesADeviceFileAndTheDtypeOfItsFlags) {
  const std::string dev = write_temp("report_device.json", boost::json::serialize(boost::json::parse(run("devices --format json").out).as_array()[0]));
  const Result r = run("report --device-file " + dev);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("== decode on"), std::string::npos);
  const Result fp8 = run("report --dtype fp8");
  ASSERT_EQ(fp8.code, 0) << fp8.err;
  EXPECT_NE(fp8.out.find("ridge point: 590 FLOP/byte"), std::string::npos) << fp8.out;
}

// `attnio validate` over the shipped table: every row converts, the overall median |time error|
// holds the table's ratchet (a model change that worsens it fails here), and a tighter limit
// exits 1 saying so.
TEST(Cli, ValidateHoldsTheRatchet) {
  const Result r = run("validate --summary --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out);
  ASSERT_TRUE(v.is_array());
  const auto& all = v.as_array().back().as_object();
  EXPECT_EQ(all.at("impl").as_string(), "all");
  EXPECT_GE(all.at("rows").to_number<double>(), 80);
  const Result tight = run("validate --summary --max-median 1");
  EXPECT_EQ(tight.code, 1);
  EXPECT_NE(tight.err.find("worse than the ratchet 1 %"), std::string::npos) << tight.err;
  expect_bad_input("validate --table /nonexistent.csv", "cannot open");
}

// The summary grouped by publication (--by source): one line per source whose rows add up to the
// overall line, each with its rows within 10, 25 and 40 % (nested counts) and those predicted too
// fast; the overall line's figures are the same whatever the grouping.
TEST(Cli, ValidateSummarizesPerPublication) {
  const Result by_impl = run("validate --summary --format json");
  const Result by_source = run("validate --summary --by source --format json");
  ASSERT_EQ(by_source.code, 0) << by_source.err;
  const auto lines = boost::json::parse(by_source.out).as_array();
  ASSERT_GE(lines.size(), 9u);  // at least 8 sources, and the overall line
  double rows = 0;
  bool fa2_paper = false;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    const auto& o = lines[i].as_object();
    const double n = o.at("rows").to_number<double>(), w10 = o.at("rows_within_10_pct").to_number<double>(),
                 w25 = o.at("rows_within_25_pct").to_number<double>(), w40 = o.at("rows_within_40_pct").to_number<double>();
    EXPECT_LE(w10, w25);
    EXPECT_LE(w25, w40);
    EXPECT_LE(w40, n);
    EXPECT_LE(o.at("rows_too_fast").to_number<double>(), n);
    rows += n;
    fa2_paper |= std::string_view(o.at("source").as_string()).starts_with("Dao 2023; FlashAttention-2");
  }
  EXPECT_TRUE(fa2_paper);
  const auto& all = lines.back().as_object();
  EXPECT_EQ(all.at("source").as_string(), "all");
  EXPECT_EQ(all.at("rows").to_number<double>(), rows);
  const boost::json::value impl_lines = boost::json::parse(by_impl.out);
  const auto& impl_all = impl_lines.as_array().back().as_object();
  for (const char* key : {"rows", "median_abs_error_pct", "rows_within_40_pct", "rows_too_fast"}) {
    EXPECT_EQ(all.at(key).to_number<double>(), impl_all.at(key).to_number<double>()) << key;
  }
  expect_bad_input("validate --summary --by vendor", "--by 'vendor': expected impl, gpu, pass, dtype or source");
}

// --agreement over the shipped table: the measurements two or more publications made, each row
// carrying its group's spread and floor, which agree (floor = (a - b) / (a + b) and spread =
// a / b - 1 give floor = spread / (2 + spread)); the table ends with the summary line, --summary
// gives the figures alone. A table where each measurement has one source exits 1 saying so.
TEST(Cli, ValidateAgreementBetweenPublications) {
  const Result j = run("validate --agreement --format json");
  ASSERT_EQ(j.code, 0) << j.err;
  const auto rows = boost::json::parse(j.out).as_array();
  ASSERT_GE(rows.size(), 2u);
  for (const auto& row : rows) {
    const auto& o = row.as_object();
    const double spread = o.at("spread_pct").to_number<double>(), floor = o.at("floor_pct").to_number<double>();
    EXPECT_NEAR(floor, 100 * (spread / 100) / (2 + spread / 100), 1e-6);
    EXPECT_GE(o.at("publications").to_number<double>(), 2);
  }
  const Result table = run("validate --agreement");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("measurements published by two or more sources"), std::string::npos) << table.out;
  const Result summary = run("validate --agreement --summary --format json");
  ASSERT_EQ(summary.code, 0) << summary.err;
  const auto s = boost::json::parse(summary.out).as_object();
  EXPECT_GE(s.at("groups").to_number<double>(), 1);
  const double spread = s.at("max_spread_pct").to_number<double>() / 100;
  EXPECT_NEAR(s.at("max_floor_pct").to_number<double>(), 100 * spread / (2 + spread), 1e-6);
  // Flags the agreement report has nothing to do with are refused, not ignored.
  expect_bad_input("validate --agreement --max-median 5", "--agreement does not take --max-median");
  expect_bad_input("validate --agreement --counters", "--agreement does not take --counters");
  expect_bad_input("validate --agreement --by gpu", "--agreement does not take --by");
  const std::string lone = write_temp(
      "agreement_lone.csv",
      "source,locator,read,gpu,impl,variant,dtype,pass,phase,batch,heads,kv_heads,seq,kv_len,head_dim,causal,metric,value,"
      "flop_convention,notes\n"
      "X,a,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,8,16,16,2048,2048,128,0,time_ms,1.1,time,\n"
      "X,b,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,4,16,16,2048,2048,128,0,time_ms,0.5,time,\n");
  const Result none = run("validate --agreement --table " + lone);
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("no measurement is published by two or more sources"), std::string::npos) << none.err;
}

// Counter rows (Nsight Compute DRAM bytes and kernel durations): not in the time summary, printed
// after it in the table (bytes, then durations) and by --counters in CSV and JSON, one document,
// each byte row against the closed form's bytes and, where it can replay the kernels, the
// simulator's, each duration row against the execution model's kernel time without the launch.
// FlashAttention-2's split-KV decode reads its K/V cache once: the closed form is within 0.1 % of
// the counter.
TEST(Cli, ValidatePrintsTheCounterRows) {
  const Result table = run("validate --impl fa2");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("counter rows (DRAM bytes, Nsight Compute):"), std::string::npos);
  EXPECT_NE(table.out.find("dram_write"), std::string::npos);
  EXPECT_NE(table.out.find("kernel durations (Nsight Compute gpu__time_duration, caches flushed, no launch):"),
            std::string::npos);
  const Result csv = run("validate --impl fa2 --format csv");
  EXPECT_EQ(csv.out.find("dram_read"), std::string::npos);  // CSV prints one document: the time rows
  EXPECT_NE(csv.err.find("counter row(s) not printed: --counters prints them"), std::string::npos) << csv.err;
  const Result j = run("validate --counters --format json");
  ASSERT_EQ(j.code, 0) << j.err;
  const auto rows = boost::json::parse(j.out).as_array();
  ASSERT_GE(rows.size(), 10u);
  bool decode_read = false, duration = false;
  for (const auto& row : rows) {
    const auto& o = row.as_object();
    if (o.at("counter").as_string() == "duration") {
      duration = true;
      EXPECT_GT(o.at("published_time_s").to_number<double>(), 0);
      EXPECT_GT(o.at("predicted_time_s").to_number<double>(), 0);
      EXPECT_EQ(o.at("published_bytes").to_number<double>(), 0);
      continue;
    }
    EXPECT_GT(o.at("published_bytes").to_number<double>(), 0);
    EXPECT_GT(o.at("predicted_bytes").to_number<double>(), 0);
    EXPECT_EQ(o.at("published_time_s").to_number<double>(), 0);
    if (o.at("kernel").as_string() == "flash2_fwd_splitkv" && o.at("counter").as_string() == "dram_read") {
      decode_read = true;
      EXPECT_LT(std::fabs(o.at("bytes_error_pct").to_number<double>()), 0.1);
      EXPECT_FALSE(o.at("simulated").as_bool());  // one of two kernels: the simulator replays both
      EXPECT_EQ(o.at("simulated_bytes").to_number<double>(), 0);
    }
  }
  EXPECT_TRUE(decode_read);
  EXPECT_TRUE(duration);
  const Result summary = run("validate --counters --summary --format json");
  ASSERT_EQ(summary.code, 0) << summary.err;
  EXPECT_EQ(boost::json::parse(summary.out).as_array().size(), 3u);  // dram_read, dram_write, duration
}

// Whole-model decode over context lengths (issue 17): Llama-3-8B at batch 16 reads 15 GB of
// weights per step; its K/V cache is 128 KiB per token, so the cache read (16 x 128 KiB x N)
// overtakes the weights between 4096 (8.6 GB) and 16384 tokens (34 GB).
TEST(Cli, ModelContextFindsTheCrossing) {
  const Result r = run("model --config llama-3-8b --batch 16 --context 4096,16384");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("overtakes reading the weights at a context of 16384"), std::string::npos) << r.out;
  const Result j = run("model --config llama-3-8b --batch 16 --context 4096,16384 --format json");
  ASSERT_EQ(j.code, 0) << j.err;
  const auto rows = boost::json::parse(j.out).as_array();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_LT(rows[0].at("cache_read_bytes").to_number<double>(), rows[0].at("weight_bytes").to_number<double>());
  EXPECT_GT(rows[1].at("cache_read_bytes").to_number<double>(), rows[1].at("weight_bytes").to_number<double>());
  const Result bad = run("model --config llama-3-8b --context 4096 --seq 100");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("--context gives the lengths"), std::string::npos);
}

// Issue 17's acceptance: Jamba against Mixtral at 4k and 256k, batch 1. The shares are printed,
// and the KV cache per token matches the configs by hand (Jamba 4 attention layers x 8 K/V heads x
// 128 x 2 x 2 bytes = 16 KiB; Mixtral 32 layers: 128 KiB).
TEST(Cli, ModelJambaAgainstMixtralOverContexts) {
  const Result r = run("model --config jamba-v0.1 --config mixtral-8x7b --phase decode --batch 1 --context 4096,262144");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* col : {"attn", "SSM", "MLP", "MoE", "weights/HBM", "KV cache", "SSM state"}) EXPECT_NE(r.out.find(col), std::string::npos) << col;
  EXPECT_NE(r.out.find("jamba-v0.1: the weights outweigh the cache read at every context listed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mixtral-8x7b: reading the cache overtakes reading the weights at a context of 262144"), std::string::npos) << r.out;
  const Result j = run("model --config jamba-v0.1 --config mixtral-8x7b --phase decode --batch 1 --context 4096,262144 --format json");
  ASSERT_EQ(j.code, 0) << j.err;
  const auto rows = boost::json::parse(j.out).as_array();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].at("kv_cache_bytes").to_number<double>(), 16384.0 * 262144);
  EXPECT_EQ(rows[3].at("kv_cache_bytes").to_number<double>(), 131072.0 * 262144);
  EXPECT_GT(rows[1].at("ssm_share").to_number<double>(), 0.0);
  EXPECT_GT(rows[1].at("moe_share").to_number<double>(), 0.0);
  EXPECT_EQ(rows[3].at("ssm_share").to_number<double>(), 0.0);
}

// The stack by layer type, --tp and LASER from the command line, and their bad input.
TEST(Cli, ModelStackTensorParallelAndLaser) {
  const Result r = run("model --config llama-3-70b --phase decode --batch 8 --seq 8192 --tp 8 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  bool all_reduce = false;
  const boost::json::value parsed = boost::json::parse(r.out);
  for (const auto& row : parsed.as_array()) {
    all_reduce |= row.at("part").as_string() == "all-reduce (tensor parallel)";
    EXPECT_EQ(row.at("tp").to_number<std::uint64_t>(), 8u);
  }
  EXPECT_TRUE(all_reduce);
  const Result l = run("model --config llama-3-8b --phase decode --rank-fraction 0.01 --laser mlp-in --laser-layers 26");
  ASSERT_EQ(l.code, 0) << l.err;
  EXPECT_NE(l.out.find("MLP gate+up (LASER rank 40) U"), std::string::npos) << l.out;
  EXPECT_NE(l.out.find("116.0 M fewer weights"), std::string::npos) << l.out;
  expect_bad_input("model --config llama-3-70b --tp 3", "--tp 3 does not divide the model's attention heads (64)");
  // A pair of PCIe cards on their NVLink bridge is fine; four is refused (BadInputIsOneLineAndExitCodeTwo).
  const Result pair = run("model --config llama-3-8b --phase decode --device a100-80gb-pcie --tp 2");
  EXPECT_EQ(pair.code, 0) << pair.err;
  const Result ring_pair = run("predict --variant ring --device h100-pcie --gpus 2");
  EXPECT_EQ(ring_pair.code, 0) << ring_pair.err;
  // The report covers every variant: one the device cannot run is named with its reason.
  const Result report = run("report --device h100-pcie");
  ASSERT_EQ(report.code, 0) << report.err;
  EXPECT_NE(report.out.find("not run on h100-pcie: ring (ring: device 'h100-pcie' joins 2 GPUs by NVLink"), std::string::npos) << report.out;
  const Result bench = run("bench --device h100-pcie --seconds 0.01");
  EXPECT_EQ(bench.code, 0) << bench.err;
  expect_bad_input("model --config llama-3-8b --rank-fraction 1.5 --laser mlp-in", "--rank-fraction must be a number in (0, 1]");
  expect_bad_input("model --config llama-3-8b --rank-fraction 0.1", "LASER needs both");
  expect_bad_input("model --config llama-3-8b --rank-fraction 0.1 --laser mlp-mid", "unknown matrix 'mlp-mid'");
  expect_bad_input("model --config llama-3-8b --rank-fraction 0.1 --laser mlp-in --laser-layers 32", "past llama-3-8b's last layer 31");
  expect_bad_input("model --config llama-3-8b --variant mamba", "--variant comes from the config");
  expect_bad_input("model --config " + write_temp("bad_pattern.json",
                                                  R"({"model_type":"nemotron_h","hidden_size":64,"num_hidden_layers":2,"hybrid_override_pattern":"MQ"})"),
                   "unknown layer 'Q' at position 1");
}

// Quantized caches from the command line (issue 18 item 2): the decode kernels take --kv-dtype, the
// stack model too; anything else refuses it.
TEST(Cli, KvDtypeOnDecodeKernelsAndTheStack) {
  const Result r = run("predict --variant flash-decoding --phase decode --kv-len 32768 --kv-dtype fp8 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const Result b = run("predict --variant flash-decoding --phase decode --kv-len 32768 --format json");
  ASSERT_EQ(b.code, 0) << b.err;
  const auto q = boost::json::parse(r.out), full = boost::json::parse(b.out);
  EXPECT_EQ(2 * q.at("kv_cache_bytes").to_number<std::uint64_t>(), full.at("kv_cache_bytes").to_number<std::uint64_t>());
  EXPECT_NE(q.at("params").as_string().find("kv_bits=8"), std::string::npos);
  const Result m = run("model --config llama-3-8b --phase decode --batch 16 --seq 32768 --kv-dtype int4");
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("(4-bit, scale and zero per 32)"), std::string::npos) << m.out;
  expect_bad_input("predict --variant flash2 --phase decode --kv-dtype fp8", "--kv-dtype does not apply to flash2");
  expect_bad_input("predict --variant flash-decoding --phase decode --kv-dtype fp4", "'fp4' is not fp8, int8, int4");
  expect_bad_input("model --config llama-3-8b --phase prefill --kv-dtype fp8", "--kv-dtype applies to decode");
}

// Two models side by side: Mistral-7B's 4096-token sliding window caps its cache read, so its
// weights stay the larger read at every context; Llama-3-8B's full cache overtakes them.
TEST(Cli, ModelComparesTwoConfigsOverContexts) {
  const Result r = run("model --config llama-3-8b --config mistral-7b --batch 16 --context 4096,65536");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("llama-3-8b: reading the cache overtakes reading the weights at a context of 65536"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mistral-7b: the weights outweigh the cache read at every context listed"), std::string::npos) << r.out;
  // Without --context the two models' steps are put side by side by layer type.
  const Result both = run("model --config llama-3-8b --config mistral-7b --phase decode --format json");
  ASSERT_EQ(both.code, 0) << both.err;
  const auto rows = boost::json::parse(both.out).as_array();
  EXPECT_EQ(rows.front().at("model").as_string(), "llama-3-8b");
  EXPECT_EQ(rows.back().at("model").as_string(), "mistral-7b");
}

// ---- campaigns: sweep --out, shards, merge, submit (issue 19) -------------------------------------

namespace {

const char* kCampaignSpec = R"({"sweeps": [{"variant": "flash2,standard", "seq": "512:4096:x2", "batch": "1,2"},
                                           {"variant": "flash-decoding", "phase": "decode", "seq": "1024,4096"}]})";

// Records of a trace file by id: the prediction and the simulation, as a comparable string.
std::map<std::string, std::string> results_by_id(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto o = boost::json::parse(line).as_object();
    out[std::string(o.at("id").as_string())] = boost::json::serialize(o.at("prediction")) +
                                               (o.contains("simulation") ? boost::json::serialize(o.at("simulation")) : "");
  }
  return out;
}

}  // namespace

// A simulate campaign in 4 shards, merged, equals the one-process run point for point; merge of a
// missing shard exits 4 naming what is missing.
TEST(Cli, SweepCampaignShardsMergeToTheSingleRun) {
  const std::string dir = ::testing::TempDir();
  const std::string spec = write_temp("SweepCampaignShardsMergeToTheSingleRun_spec.json", kCampaignSpec);
  const std::string single = dir + "campaign_single.jsonl";
  std::remove(single.c_str());
  const Result one = run("sweep --spec " + spec + " --simulate --out " + single);
  ASSERT_EQ(one.code, 0) << one.err;
  EXPECT_NE(one.out.find("evaluated 18 ok, 0 failed"), std::string::npos) << one.out;
  std::string shards;
  for (int i = 0; i < 4; ++i) {
    const std::string path = dir + "campaign_shard" + std::to_string(i) + ".jsonl";
    std::remove(path.c_str());
    const Result r = run("sweep --spec " + spec + " --simulate --out " + path + " --shard " + std::to_string(i) + "/4");
    ASSERT_EQ(r.code, 0) << r.err;
    if (i < 3) shards += " " + path;
  }
  const std::string merged = dir + "campaign_merged.jsonl";
  const Result partial = run("merge " + merged + shards);
  EXPECT_EQ(partial.code, 4) << partial.out << partial.err;
  EXPECT_NE(partial.out.find("absent shard file(s): 3"), std::string::npos) << partial.out;
  const Result whole = run("merge " + merged + shards + " " + dir + "campaign_shard3.jsonl");
  ASSERT_EQ(whole.code, 0) << whole.out << whole.err;
  EXPECT_NE(whole.out.find("campaign complete: 18 of 18"), std::string::npos) << whole.out;
  EXPECT_EQ(results_by_id(merged), results_by_id(single));
  // compare reads a simulate campaign: the closed form against the simulator's records.
  const Result cmp = run("compare " + merged);
  ASSERT_EQ(cmp.code, 0) << cmp.err;
  EXPECT_NE(cmp.out.find("HBM sim"), std::string::npos) << cmp.out;
  // export --chrome lays the simulated times beside the predicted ones.
  const Result chrome = run("export --chrome " + dir + "campaign_chrome.json " + merged);
  ASSERT_EQ(chrome.code, 0) << chrome.err;
  EXPECT_NE(slurp(dir + "campaign_chrome.json").find("simulated (the tile simulator"), std::string::npos);
  // A merged trace merged again with a shard is the same trace.
  const Result again = run("merge " + dir + "campaign_again.jsonl " + merged + " " + dir + "campaign_shard0.jsonl");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(results_by_id(dir + "campaign_again.jsonl"), results_by_id(merged));
}

TEST(Cli, SweepCampaignResumesAfterAHalfWrittenRecord) {
  const std::string spec = write_temp("SweepCampaignResumesAfterAHalfWrittenRecord_spec.json", kCampaignSpec);
  const std::string path = ::testing::TempDir() + "campaign_cut.jsonl";
  std::remove(path.c_str());
  ASSERT_EQ(run("sweep --spec " + spec + " --out " + path).code, 0);
  const auto full = results_by_id(path);
  // Keep the header and 5 records, then half of the 6th: what a kill in mid-write leaves.
  std::string text = slurp(path), kept;
  std::size_t pos = 0;
  for (int line = 0; line < 6; ++line) pos = text.find('\n', pos) + 1;
  kept = text.substr(0, pos) + text.substr(pos, (text.find('\n', pos) - pos) / 2);
  std::ofstream(path, std::ios::trunc) << kept;
  const Result r = run("sweep --spec " + spec + " --out " + path + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("dropped an unfinished last line"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("evaluated 13 ok, 0 failed, 5 already"), std::string::npos) << r.out;
  EXPECT_EQ(results_by_id(path), full);
}

TEST(Cli, CampaignFlagsAreChecked) {
  const std::string spec = write_temp("CampaignFlagsAreChecked_spec.json", kCampaignSpec);
  const std::string out = ::testing::TempDir() + "campaign_flags.jsonl";
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("JOB_COMPLETION_INDEX");
  expect_bad_input("sweep --spec " + spec + " --out " + out + " --shard auto", "neither SLURM_ARRAY_TASK_ID");
  expect_bad_input("sweep --spec " + spec + " --out " + out + " --shard 4/4", "below n");
  expect_bad_input("sweep --spec " + spec + " --shard 1/4", "needs --out");
  expect_bad_input("sweep --spec " + spec + " --resume", "needs --out");
  expect_bad_input("sweep --spec " + spec + " --out " + out + " --shard 0/2 --shards 2", "--shards goes with --shard auto");
  // --shard auto from a Slurm array task's environment.
  setenv("SLURM_ARRAY_TASK_ID", "1", 1);
  setenv("SLURM_ARRAY_TASK_COUNT", "3", 1);
  std::remove(out.c_str());
  const Result r = run("sweep --spec " + spec + " --out " + out + " --shard auto");
  unsetenv("SLURM_ARRAY_TASK_ID");
  unsetenv("SLURM_ARRAY_TASK_COUNT");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(shard 1/3: 6 of the plan's 18 points"), std::string::npos) << r.out;
  // Resuming the file with another spec is refused: its plan differs.
  const std::string other = write_temp("CampaignFlagsAreChecked_other.json", R"({"sweeps": [{"variant": "flash2", "seq": 1024}]})");
  expect_bad_input("sweep --spec " + other + " --out " + out + " --resume", "differs from this run's");
}

// attnio submit --dry-run: the folder and a script whose every user-given word is quoted. A folder
// named with a space, a quote and $(...) runs as a plain name: the script, run as array task 0 would
// run it (bash, SLURM_ARRAY_TASK_ID=0), writes its shard into that folder and runs nothing else.
TEST(Cli, SubmitDryRunWritesAQuotedScriptThatRuns) {
  const std::string spec = write_temp("SubmitDryRunWritesAQuotedScriptThatRuns_spec.json", kCampaignSpec);
  const std::string base = ::testing::TempDir() + "submit_case";
  std::system(("rm -rf '" + base + "'").c_str());
  ASSERT_EQ(mkdir(base.c_str(), 0755), 0);
  const std::string odd = "camp aign 'q' $(touch PWNED) `touch PWNED2`";
  const std::string dir = base + "/" + odd;
  // The shell command line for run(): the folder in single quotes, its ' as '\''.
  std::string quoted = "'";
  for (char c : dir) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  const Result r = run("submit --spec " + spec + " --dir " + quoted + " --tasks 3 --partition debug --time 00:10:00 --dry-run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("#!/bin/bash\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("#SBATCH --array=0-2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("#SBATCH --partition=debug"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("#SBATCH --requeue"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("--gres"), std::string::npos) << "a simulate campaign asks for no GPU\n" << r.out;
  EXPECT_EQ(slurp(dir + "/job.sbatch"), r.out);
  for (const char* f : {"/spec.json", "/campaign.json", "/merge.sbatch"}) EXPECT_FALSE(slurp(dir + f).empty()) << f;
  // Array task 0, as Slurm would start it.
  const std::string task = "cd '" + base + "' && SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=0 bash " + quoted +
                           "/job.sbatch >" + base + "/task.out 2>&1";
  EXPECT_EQ(std::system(task.c_str()), 0) << slurp(base + "/task.out");
  EXPECT_NE(slurp(dir + "/shards/shard-000.jsonl").find("\"shard\":[0,3]"), std::string::npos) << slurp(base + "/task.out");
  EXPECT_FALSE(std::ifstream(base + "/PWNED").good());
  EXPECT_FALSE(std::ifstream(base + "/PWNED2").good());
  EXPECT_FALSE(std::ifstream(dir + "/PWNED").good());
  // --status reads the folder: shard 0 complete, 1 and 2 absent.
  const Result st = run("submit --status " + quoted);
  EXPECT_EQ(st.code, 4) << st.out << st.err;
  EXPECT_NE(st.out.find("complete"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("absent"), std::string::npos) << st.out;
  // The same folder with another spec is refused; so are tasks past the points and bad words.
  const std::string other = write_temp("SubmitDryRunWritesAQuotedScriptThatRuns_other.json", R"({"sweeps": [{"variant": "flash2", "seq": "1024,2048,4096"}]})");
  expect_bad_input("submit --spec " + other + " --dir " + quoted + " --tasks 3 --dry-run", "choose another folder");
  expect_bad_input("submit --spec " + other + " --dir " + base + "/x --tasks 4 --dry-run", "more than the plan's 3 points");
  expect_bad_input("submit --spec " + spec + " --dir " + base + "/y --tasks 2 --job-name 'a b' --dry-run", "--job-name");
  expect_bad_input("submit --spec " + spec + " --dir " + base + "/y --tasks 2 --sbatch-arg '--comment=a b' --dry-run", "one word");
  expect_bad_input("submit --spec " + spec + " --dir " + base + "/y --tasks 2 --sbatch-arg --array=0-3 --dry-run", "sets --array itself");
  expect_bad_input("submit --spec " + spec + " --dir " + base + "/y --tasks 2 --partition 'a\nb' --dry-run", "control characters");
  expect_bad_input("submit --spec " + spec + " --dir " + base + "/y --tasks 2 --runner cpu --dry-run", "--runner goes with --kind profile");
  expect_bad_input("submit --spec " + spec + " --tasks 2", "give --dir");
}

TEST(Cli, SubmitProfileAsksForAGpuUnlessTheCpuRunner) {
  const std::string spec = write_temp("SubmitProfileAsksForAGpuUnlessTheCpuRunner_spec.json", kCampaignSpec);
  const std::string base = ::testing::TempDir() + "submit_profile";
  std::system(("rm -rf '" + base + "'").c_str());
  const Result cpu = run("submit --spec " + spec + " --dir " + base + "/cpu --tasks 2 --kind profile --runner cpu --dry-run");
  ASSERT_EQ(cpu.code, 0) << cpu.err;
  EXPECT_EQ(cpu.out.find("--gres"), std::string::npos) << cpu.out;
  EXPECT_NE(cpu.out.find("profile --spec"), std::string::npos) << cpu.out;
  EXPECT_NE(cpu.out.find("'--runner' 'cpu'"), std::string::npos) << cpu.out;
  const Result gpu = run("submit --spec " + spec + " --dir " + base + "/gpu --tasks 2 --kind profile --dry-run");
  if (gpu.code == 2 && gpu.err.find("built without") != std::string::npos) GTEST_SKIP() << gpu.err;
  ASSERT_EQ(gpu.code, 0) << gpu.err;
  EXPECT_NE(gpu.out.find("#SBATCH --gres=gpu:1"), std::string::npos) << gpu.out;
}

// The tasks run in the campaign folder, so the folder's spec names device files by absolute path.
TEST(Cli, SubmitMakesTheSpecsDeviceFilesAbsolute) {
  namespace fs = std::filesystem;
  const fs::path device = fs::path(ATTNIO_SOURCE_DIR) / "model/devices/h100-sxm.json";
  const std::string relative = fs::relative(device, fs::current_path()).string();
  ASSERT_FALSE(fs::path(relative).is_absolute());
  const std::string spec = write_temp("SubmitMakesTheSpecsDeviceFilesAbsolute_devfile.json", R"({"sweeps": [{"device-file": ")" + relative + R"(", "seq": "1024,2048"}]})");
  const std::string dir = ::testing::TempDir() + "submit_devfile";
  fs::remove_all(dir);
  const Result r = run("submit --spec " + spec + " --dir " + dir + " --tasks 2 --dry-run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(dir + "/spec.json").find(fs::absolute(device).lexically_normal().string()), std::string::npos) << slurp(dir + "/spec.json");
}

// A variant parameter whose range starts at 0 takes 0 on the command line, also in a list; a
// geometric range from 0 is refused (it would never grow).
TEST(Cli, ZeroIsAValueWhereTheParameterStartsAtZero) {
  const Result r = run("sweep --variant gated --seq 2048 --gate-fused 0,1 --format csv");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;  // header + two points
  EXPECT_NE(r.out.find("gate_fused=1"), std::string::npos) << r.out;
  expect_bad_input("sweep --variant gated --gate-fused 0:1:x2", "a multiplying range cannot start at 0");
  expect_bad_input("predict --variant gated --gate-fused 2", "--gate-fused");
  expect_bad_input("predict --variant gated --phase decode --kv-len 4096 --gate-fused 1", "applies to prefill");
  expect_bad_input("predict --variant flash2 --cla-share 0", "--cla-share must be at least 1");
}

// FLASH's GAU at the paper's width: s = 128 and e = 2·d_model = 1536 for d_model = 768 (Hua et al.
// 2022 §2); the value width is accepted up to 4096.
TEST(Cli, GauTakesThePapersValueWidth) {
  const Result r = run("predict --variant gau --heads 1 --head-dim 128 --v-head-dim 1536 --seq 1024 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = boost::json::parse(r.out);
  // A V alone is 2·1024·1024·1536 tensor FLOPs; Q Kᵀ adds 2·1024·1024·128.
  EXPECT_EQ(v.at("tensor_flops").to_number<std::uint64_t>(), 2ull * 1024 * 1024 * (1536 + 128));
  expect_bad_input("predict --variant gau --heads 1 --v-head-dim 5000", "at most 4096");
}

// --sm-clock locks the device's SM clock: the device is then keyed KEY@<MHz>MHz, so a sweep or a
// spec that holds two clocks of one device keeps both; a clock that is none, a list, or one a
// device cannot be locked at is a one-line error naming the device. `validate --model-clock`
// holds the rows that state a clock at the model's own, and the CSV says which rows state one.
TEST(Cli, SmClockLocksTheDeviceAndNamesIt) {
  const Result unlocked = run("predict --variant flash2 --seq 2048 --format json");
  const Result locked = run("predict --variant flash2 --seq 2048 --sm-clock 1200 --format json");
  ASSERT_EQ(locked.code, 0) << locked.err;
  const auto u = boost::json::parse(unlocked.out).as_object();
  const auto l = boost::json::parse(locked.out).as_object();
  EXPECT_EQ(l.at("device").as_string(), "h100-sxm@1200MHz");
  EXPECT_GT(l.at("predicted_time_s").to_number<double>(), u.at("predicted_time_s").to_number<double>());  // 1.2 GHz < 1.67
  expect_bad_input("predict --sm-clock 0", "--sm-clock: '0' is not a clock in MHz above 0");
  expect_bad_input("predict --sm-clock 1815,1900", "--sm-clock takes one clock in MHz");
  expect_bad_input("predict --sm-clock fast", "--sm-clock: 'fast' is not a number");
  expect_bad_input("sweep --device h100-sxm,l40s --sm-clock 600",
                   "--sm-clock (l40s): a locked SM clock of 600 MHz is outside 630-3780 MHz");
  const std::string spec = write_temp("clock_spec.json", R"({"sweeps":[{"seq":1024},{"seq":1024,"sm-clock":1500},{"seq":1024,"sm-clock":1501}]})");
  const Result s = run("sweep --spec " + spec + " --format csv");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("h100-sxm,"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("h100-sxm@1500MHz,"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("h100-sxm@1501MHz,"), std::string::npos) << s.out;
  const Result rep = run("report --sm-clock 1500");
  ASSERT_EQ(rep.code, 0) << rep.err;
  EXPECT_NE(rep.out.find("== prefill on NVIDIA H100 SXM5 80GB (SM clock locked at 1500 MHz): batch 8"), std::string::npos) << rep.out;
  EXPECT_NE(rep.out.find("The SM clock is locked at 1500 MHz (--sm-clock)"), std::string::npos);
  const Result mc = run("validate --summary --model-clock --max-median 100 --format json");
  ASSERT_EQ(mc.code, 0) << mc.err;
  const Result own = run("validate --summary --format json");
  EXPECT_NE(boost::json::parse(mc.out).as_array().back().as_object().at("median_abs_error_pct").to_number<double>(),
            boost::json::parse(own.out).as_array().back().as_object().at("median_abs_error_pct").to_number<double>());
  const Result rows = run("validate --impl fa2 --format csv");
  EXPECT_NE(rows.out.find(",sm_clock_mhz,"), std::string::npos);
  EXPECT_NE(rows.out.find(",1980,"), std::string::npos);  // flash-attention-lab's decode rows
}

// --l2-start dirty (the L2 flushed by a memset before the call) adds the flush's write-backs to a
// small decode's HBM writes and time, says so in the record, and refuses anything else by name;
// the simulator's L2 starts clean, so simulate refuses it.
TEST(Cli, L2StartDirtyWritesBackTheFlush) {
  const std::string shape = "predict --variant flash-decoding --phase decode --batch 1 --heads 32 --kv-heads 32 --kv-len 1024 --format json";
  const Result clean = run(shape);
  const Result dirty = run(shape + " --l2-start dirty");
  ASSERT_EQ(dirty.code, 0) << dirty.err;
  const auto c = boost::json::parse(clean.out).as_object();
  const auto d = boost::json::parse(dirty.out).as_object();
  EXPECT_EQ(c.at("l2_start").as_string(), "clean");
  EXPECT_EQ(d.at("l2_start").as_string(), "dirty");
  EXPECT_GT(d.at("hbm_write_bytes").to_number<double>(), c.at("hbm_write_bytes").to_number<double>());
  EXPECT_GT(d.at("predicted_time_s").to_number<double>(), c.at("predicted_time_s").to_number<double>());
  expect_bad_input("predict --l2-start warm", "--l2-start 'warm': expected clean or dirty");
  expect_bad_input("simulate --variant flash-decoding --phase decode --l2-start dirty",
                   "simulate: --l2-start dirty is counted by predict only; the simulated L2 starts clean");
  // Nor is it what the profiler runs (its flush reads), a model step, or anything with --l2 off.
  expect_bad_input("profile --runner cpu --variant flash2 --seq 256 --l2-start dirty --out " + write_temp("dirty.jsonl", ""),
                   "--l2-start dirty is not what the profiler runs");
  expect_bad_input("model --config llama-3-8b --l2-start dirty", "--l2-start dirty describes a single kernel call");
  expect_bad_input("predict --l2 off --l2-start dirty", "--l2-start dirty needs the L2 model");
}

// --grads accumulate (the timed backward also adds dQ, dK, dV into .grad tensors holding one) adds
// three elementwise adds to a backward, says so in the record and the trace's workload, and is
// refused by name where it means nothing: a forward, the simulator, the profiler, a model step.
TEST(Cli, GradsAccumulateAddsIntoHeldGrads) {
  const std::string shape = "predict --variant flash2 --pass bwd --batch 2 --heads 8 --seq 512 --head-dim 64 --format json";
  const Result fresh = run(shape);
  const Result acc = run(shape + " --grads accumulate");
  ASSERT_EQ(acc.code, 0) << acc.err;
  const auto f = boost::json::parse(fresh.out).as_object();
  const auto a = boost::json::parse(acc.out).as_object();
  EXPECT_EQ(f.at("grads").as_string(), "fresh");
  EXPECT_EQ(a.at("grads").as_string(), "accumulate");
  // 3 inputs x 2·512·8·64 elements x (2 reads + 1 write) x 2 bytes
  EXPECT_DOUBLE_EQ(a.at("hbm_read_bytes").to_number<double>() - f.at("hbm_read_bytes").to_number<double>(), 3.0 * 524288 * 4);
  EXPECT_DOUBLE_EQ(a.at("hbm_write_bytes").to_number<double>() - f.at("hbm_write_bytes").to_number<double>(), 3.0 * 524288 * 2);
  EXPECT_GT(a.at("predicted_time_s").to_number<double>(), f.at("predicted_time_s").to_number<double>());
  expect_bad_input("predict --pass bwd --grads some", "--grads 'some': expected fresh or accumulate");
  expect_bad_input("predict --grads accumulate", "--grads accumulate describes a timed backward; --pass fwd computes no gradients");
  expect_bad_input("simulate --variant flash2 --pass bwd --seq 256 --grads accumulate", "simulate: --grads accumulate is counted by predict only");
  expect_bad_input("profile --runner cpu --variant flash2 --pass bwd --seq 256 --grads accumulate --out " + write_temp("acc.jsonl", ""),
                   "--grads accumulate is not what the profiler runs");
  expect_bad_input("model --config llama-3-8b --grads accumulate", "--grads accumulate describes a benchmark's leaf Q, K and V");
}
