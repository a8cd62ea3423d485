// Overflow-checked 64-bit counts for FLOPs and bytes.
//
// Attention counts grow as B*H*N^2*d: N = 2^24 tokens with B*H = 2^16 and d = 512 is 2^73 FLOPs,
// past 64 bits. Every count in the model is a Count, whose arithmetic throws InputError instead of
// wrapping, so a workload too large to count is refused with a message rather than reported wrong.
#pragma once

#include <cstdint>

#include "attnio/model/errors.hpp"

namespace attnio {

struct Count {
  std::uint64_t v = 0;

  constexpr Count() = default;
  constexpr Count(std::uint64_t x) : v(x) {}  // NOLINT: implicit on purpose, counts mix freely

  friend Count operator+(Count a, Count b) {
    std::uint64_t r;
    if (__builtin_add_overflow(a.v, b.v, &r)) overflow();
    return r;
  }
  friend Count operator*(Count a, Count b) {
    std::uint64_t r;
    if (__builtin_mul_overflow(a.v, b.v, &r)) overflow();
    return r;
  }
  friend Count operator-(Count a, Count b) {
    if (b.v > a.v) throw InputError("internal count went negative (a bug in attnio's model)");
    return a.v - b.v;
  }
  Count& operator+=(Count b) { return *this = *this + b; }
  Count& operator*=(Count b) { return *this = *this * b; }
  friend constexpr bool operator==(Count a, Count b) { return a.v == b.v; }
  friend constexpr auto operator<=>(Count a, Count b) { return a.v <=> b.v; }
  constexpr double d() const { return static_cast<double>(v); }

  [[noreturn]] static void overflow() {
    throw InputError("workload too large: a FLOP or byte count overflows 64 bits");
  }
};

constexpr std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }
constexpr std::uint64_t min_u(std::uint64_t a, std::uint64_t b) { return a < b ? a : b; }
constexpr std::uint64_t max_u(std::uint64_t a, std::uint64_t b) { return a > b ? a : b; }

}  // namespace attnio
