#include "validate.hpp"

#include <cmath>
#include <cstring>
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
