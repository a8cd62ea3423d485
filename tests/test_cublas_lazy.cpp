// cuBLAS is opened on first use (kernels/cublas_lazy.cpp), not at start-up: a process that links
// the CUDA kernels but runs no GEMM never maps libcublas, and the first cuBLAS call opens it and
// reaches the real function. No GPU needed: without one cublasCreate still loads the library and
// returns the library's own error. Each TEST runs in a process of its own (gtest_discover_tests),
// so the first sees the process as it started.
#include <gtest/gtest.h>

#include <cublas_v2.h>

#include "attnio/kernels/cublas_lazy.hpp"

TEST(CublasLazy, NotLoadedAtStartUp) { EXPECT_FALSE(attnio::kernels::cublas_loaded()); }

TEST(CublasLazy, FirstCallOpensTheLibraryAndForwards) {
  cublasHandle_t h = nullptr;
  const cublasStatus_t st = cublasCreate(&h);
  ASSERT_EQ(attnio::kernels::cublas_load_error(), "") << "the toolkit's libcublas is expected on every build machine";
  EXPECT_TRUE(attnio::kernels::cublas_loaded());
  if (st == CUBLAS_STATUS_SUCCESS) {
    // A GPU: the handle is the library's, and the forwarded calls work on it.
    EXPECT_EQ(cublasSetStream(h, nullptr), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
  }
  // Without a GPU the status is the library's own (the handle needs a device); the loader's part,
  // opening it and finding the symbol, is what the two expectations above check.
}
