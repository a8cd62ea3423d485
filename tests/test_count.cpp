#include <gtest/gtest.h>

#include "attnio/model/count.hpp"
#include "attnio/model/predict.hpp"

using namespace attnio;

TEST(Count, ArithmeticIsExact) {
  const Count a = std::uint64_t{1} << 40;
  EXPECT_EQ((a * 1024).v, std::uint64_t{1} << 50);
  EXPECT_EQ((a + a).v, std::uint64_t{1} << 41);
  EXPECT_EQ((a - Count(1)).v, (std::uint64_t{1} << 40) - 1);
}

TEST(Count, OverflowThrowsInputError) {
  const Count big = std::uint64_t{1} << 40;
  EXPECT_THROW(big * big, InputError);
  EXPECT_THROW(Count(UINT64_MAX) + Count(1), InputError);
  try {
    (void)(big * big);
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("overflows 64 bits"), std::string::npos);
  }
}

// sum_clamped is the closed form of Σ_{r<n} clamp(r + c, 0, k); compare with the loop.
TEST(Count, SumClampedMatchesTheLoop) {
  for (std::uint64_t n : {0u, 1u, 5u, 17u, 64u}) {
    for (std::int64_t c = -70; c <= 70; c += 7) {
      for (std::uint64_t k : {0u, 1u, 3u, 16u, 100u}) {
        std::uint64_t expected = 0;
        for (std::uint64_t r = 0; r < n; ++r) {
          expected += static_cast<std::uint64_t>(std::clamp<std::int64_t>(static_cast<std::int64_t>(r) + c, 0, k));
        }
        EXPECT_EQ(sum_clamped(n, c, k).v, expected) << "n=" << n << " c=" << c << " k=" << k;
      }
    }
  }
}

// FlashAttention Alg. 1 line 1: M = 32 KiB of bf16 = 16384 elements, d = 64:
// Bc = ceil(16384 / 256) = 64, Br = min(64, 64) = 64. With d = 128: Bc = 32, Br = 32.
TEST(Count, FlashBlockSizesFollowAlgorithm1) {
  EXPECT_EQ(flash_block_sizes(32768, 2, 64).bc, 64u);
  EXPECT_EQ(flash_block_sizes(32768, 2, 64).br, 64u);
  EXPECT_EQ(flash_block_sizes(32768, 2, 128).bc, 32u);
  EXPECT_EQ(flash_block_sizes(32768, 2, 128).br, 32u);
  // H100: 228 KiB of bf16 = 116736 elements, d = 128: Bc = ceil(116736 / 512) = 228, Br = 128.
  EXPECT_EQ(flash_block_sizes(228 * 1024, 2, 128).bc, 228u);
  EXPECT_EQ(flash_block_sizes(228 * 1024, 2, 128).br, 128u);
}
