// One shared check of a kernel's output against its CPU reference: |got - want| <= atol + rtol·|want|
// elementwise, NaN or infinity never passes, and the first mismatches are reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnio::ref {

struct Tolerance {
  double rtol, atol;
};
// Per input dtype: bf16 keeps 8 significant bits, fp16 11; outputs are accumulated in fp32.
Tolerance tolerance_for(const std::string& dtype);

struct Validation {
  bool ok = true;
  std::size_t mismatches = 0;
  double max_abs_error = 0;
  std::string report;  // the first few mismatches, one per line
};
Validation validate(const std::string& what, const std::vector<float>& got, const std::vector<double>& want, Tolerance tol);

// Host-side rounding to the 16-bit formats, so inputs fed to a kernel and to its reference are the
// same numbers. Round to nearest even.
float round_to_bf16(float x);
float round_to_fp16(float x);

// Deterministic inputs: uniform in [-1, 1), rounded to `dtype` (fp32 kept as is).
std::vector<float> random_inputs(std::size_t count, std::uint64_t seed, const std::string& dtype);

}  // namespace attnio::ref
