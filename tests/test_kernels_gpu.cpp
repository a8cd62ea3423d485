// The CUDA kernels against their CPU references, on a GPU. Skipped where there is none (CI).
#include <gtest/gtest.h>

#include "attnio/kernels/attention_kernels.hpp"
#include "attnio/kernels/runner.hpp"

using namespace attnio;

TEST(KernelsGpu, EveryKernelMatchesItsReference) {
  std::string why;
  if (!kernels::cuda_device_available(&why)) GTEST_SKIP() << why;
  kernels::RunnerOptions opt;
  int rows = 0;
  const std::string failures = kernels::run_kernels(opt, default_device(), [&](const Record&) { ++rows; });
  EXPECT_EQ(failures, "");
  EXPECT_GT(rows, 10);
}
