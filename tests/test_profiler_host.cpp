// The CUPTI profiler's host side, offline (no GPU): chip GH100, metric lookup and validation.
#include <gtest/gtest.h>

#include <algorithm>

#include "attnio/profiler/host.hpp"

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
