#include "validate.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>

namespace attnio::ref {

Tolerance tolerance_for(const std::string& dtype) {
  // The kernels accumulate in fp32 and round only P (and O at the end) to the input type.
  if (dtype == "bf16") return {1e-2, 5e-3};
  if (dtype == "fp16") return {2e-3, 1e-3};
  if (dtype == "fp32") return {1e-4, 1e-5};
  throw std::invalid_argument("no tolerance for dtype '" + dtype + "'");
}

Validation validate(const std::string& what, const std::vector<float>& got, const std::vector<double>& want, Tolerance tol) {
  Validation v;
  std::ostringstream report;
  if (got.size() != want.size()) {
    v.ok = false;
    v.report = what + ": " + std::to_string(got.size()) + " values, expected " + std::to_string(want.size()) + "\n";
    return v;
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const double err = std::fabs(g - w);
    const bool bad = !std::isfinite(g) || !(err <= tol.atol + tol.rtol * std::fabs(w));
    if (std::isfinite(err)) v.max_abs_error = std::max(v.max_abs_error, err);
    if (!bad) continue;
    v.ok = false;
    if (v.mismatches++ < 5) report << what << "[" << i << "]: got " << g << ", want " << w << "\n";
  }
  v.report = report.str();
  return v;
}

float round_to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}

float round_to_fp16(float x) {
  // Values here lie in [-1, 1): round the mantissa to 10 bits; below 2^-14 fp16 is subnormal with a
  // fixed step of 2^-24.
  if (!std::isfinite(x) || x == 0) return x;
  const float ax = std::fabs(x);
  if (ax < 6.103515625e-05f) return std::nearbyint(x * 16777216.0f) / 16777216.0f;
  int e;
  std::frexp(ax, &e);
  const float step = std::ldexp(1.0f, e - 11);
  return std::nearbyint(x / step) * step;
}

float round_to_fp8_e4m3(float x) {
  if (std::isnan(x) || x == 0) return x;
  constexpr double kMax = 448.0;
  const double ax = std::fabs(static_cast<double>(x));
  // Quantum: 2^(e - 3) for a normal value in [2^e, 2^(e+1)), e ≥ -6; 2^-9 below 2^-6 (subnormals).
  int e;
  std::frexp(ax, &e);  // ax in [2^(e-1), 2^e)
  const double quantum = std::ldexp(1.0, std::max(e - 1, -6) - 3);
  const double r = std::min(kMax, std::nearbyint(ax / quantum) * quantum);  // nearbyint: ties to even
  return static_cast<float>(x < 0 ? -r : r);
}

std::uint8_t fp8_e4m3_bits(float v) {
  if (std::isnan(v)) return 0x7f;
  const std::uint8_t sign = std::signbit(v) ? 0x80 : 0x00;
  const double a = std::fabs(static_cast<double>(v));
  if (a < 0.015625) return static_cast<std::uint8_t>(sign | static_cast<int>(std::lround(a * 512.0)));  // subnormal: m·2^-9
  int e;
  const double m = std::frexp(a, &e);  // a = m·2^e, m in [0.5, 1)
  const int exponent = e - 1 + 7, mantissa = static_cast<int>(std::lround((m * 2.0 - 1.0) * 8.0));
  return static_cast<std::uint8_t>(sign | exponent << 3 | mantissa);
}

float fp8_e4m3_value(std::uint8_t bits) {
  const int exponent = bits >> 3 & 0x0f, mantissa = bits & 0x07;
  if (exponent == 0x0f && mantissa == 0x07) return std::numeric_limits<float>::quiet_NaN();
  const double a = exponent == 0 ? std::ldexp(mantissa, -9) : std::ldexp(8 + mantissa, exponent - 7 - 3);
  return static_cast<float>(bits & 0x80 ? -a : a);
}

Fp8Tensor quantize_fp8_e4m3(const std::vector<float>& x, float scale) {
  Fp8Tensor t;
  t.bytes.reserve(x.size());
  t.dequantized.reserve(x.size());
  for (float v : x) {
    const float stored = round_to_fp8_e4m3(v / scale);
    t.bytes.push_back(fp8_e4m3_bits(stored));
    t.dequantized.push_back(stored * scale);
  }
  return t;
}

std::vector<float> random_inputs(std::size_t count, std::uint64_t seed, const std::string& dtype) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> x(count);
  for (float& v : x) {
    v = dist(rng);
    if (dtype == "bf16") v = round_to_bf16(v);
    else if (dtype == "fp16") v = round_to_fp16(v);
  }
  return x;
}

}  // namespace attnio::ref
