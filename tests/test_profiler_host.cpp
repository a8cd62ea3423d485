// The CUPTI profiler's host side, offline (no GPU): chip GH100, metric lookup and validation.
#include <gtest/gtest.h>

#include <algorithm>

#include <cuda_runtime.h>

#include "attnio/profiler/host.hpp"
#include "attnio/profiler/range.hpp"

using namespace attnio::profiler;

TEST(ProfilerHost, Gh100MetricsAreKnownOffline) {
  std::unique_ptr<HostProfiler> host;
  ASSERT_EQ(HostProfiler::create("GH100", &host), "");
  const auto counters = host->base_metrics(0);
  EXPECT_GT(counters.size(), 1000u);
  EXPECT_NE(std::find(counters.begin(), counters.end(), "dram__bytes_read"), counters.end());
  MetricInfo info;
  ASSERT_EQ(host->properties("dram__bytes_read.sum", &info), "");
  EXPECT_EQ(info.dim_unit, "byte");
  EXPECT_EQ(info.hw_unit, "dram");
  // Every default metric exists on GH100 and they configure together.
  EXPECT_EQ(host->check(default_metrics()), "");
}

TEST(ProfilerHost, BadNamesAreErrorsNotCrashes) {
  std::unique_ptr<HostProfiler> host;
  EXPECT_NE(HostProfiler::create("GX999", &host).find("not supported"), std::string::npos);
  ASSERT_EQ(HostProfiler::create("GH100", &host), "");
  EXPECT_NE(host->check({"dram__bytes_read.sum", "dram__bytez.sum"}).find("'dram__bytez.sum' is not available on GH100"),
            std::string::npos);
  std::vector<double> values;
  EXPECT_EQ(host->evaluate({}, 0, {"dram__bytes_read.sum"}, &values), "no counter data to evaluate");
  EXPECT_NE(host->evaluate({1, 2, 3, 4}, 0, {"dram__bytes_read.sum"}, &values), "");  // garbage image: an error
}

// The target side refuses to start without a device, with the promised message, before any CUPTI
// target call (libcupti crashes without one).
TEST(ProfilerRange, NoDeviceIsAnErrorNotACrash) {
  if (require_device().empty()) GTEST_SKIP() << "a CUDA device is present; covered by RangeMeasuresAMemset";
  std::unique_ptr<RangeProfiler> p;
  const std::string e = RangeProfiler::create(default_metrics(), &p);
  EXPECT_EQ(e.rfind("no CUDA device: ", 0), 0u) << e;
  EXPECT_EQ(p, nullptr);
}

// On a GPU: a 256 MiB cudaMemset writes 268,435,456 bytes. DRAM sees them as L2 evicts dirty lines,
// so up to one L2 of them may still sit in L2 when the range ends: the measured writes lie in
// [bytes - L2 size, 1.05 bytes]. Read through the range profiler with user replay; the counter-data
// image re-evaluates offline to the same values.
TEST(ProfilerRange, RangeMeasuresAMemset) {
  if (!require_device().empty()) GTEST_SKIP() << require_device();
  const std::vector<std::string> metrics = {"dram__bytes_write.sum", "gpu__time_duration.sum"};
  std::unique_ptr<RangeProfiler> p;
  const std::string e = RangeProfiler::create(metrics, &p);
  if (e.find("INSUFFICIENT_PRIVILEGES") != std::string::npos) GTEST_SKIP() << e;
  ASSERT_EQ(e, "");
  EXPECT_GE(p->passes(), 1u);
  constexpr std::size_t kBytes = 256u << 20;
  int l2 = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0), cudaSuccess);
  void* buf = nullptr;
  ASSERT_EQ(cudaMalloc(&buf, kBytes), cudaSuccess);
  RangeResult r;
  const std::string pe = p->profile("memset", nullptr, [&] {
    return cudaMemsetAsync(buf, 1, kBytes) == cudaSuccess ? std::string() : std::string("memset failed");
  }, &r);
  cudaFree(buf);
  ASSERT_EQ(pe, "");
  ASSERT_EQ(r.values.size(), 2u);
  EXPECT_GE(r.values[0], static_cast<double>(kBytes) - l2);
  EXPECT_LE(r.values[0], 1.05 * kBytes);
  EXPECT_GT(r.values[1], 0);
  std::unique_ptr<HostProfiler> host;
  ASSERT_EQ(HostProfiler::create(p->chip(), &host), "");
  std::vector<double> again;
  ASSERT_EQ(host->evaluate(r.counter_data, 0, metrics, &again), "");
  EXPECT_DOUBLE_EQ(again[0], r.values[0]);
}
