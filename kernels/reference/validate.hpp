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
// fp8 e4m3 (OCP 8-bit floating point specification v1.0, §5.1: 4 exponent bits with bias 7, 3
// mantissa bits, no infinities, largest finite ±448, smallest subnormal 2^-9): round to nearest even,
// saturating to ±448 as cuda_fp8.h's __NV_SATFINITE conversion does; NaN stays NaN.
float round_to_fp8_e4m3(float x);
// The byte of a value already representable in e4m3 (round_to_fp8_e4m3's output), and back.
std::uint8_t fp8_e4m3_bits(float representable);
float fp8_e4m3_value(std::uint8_t bits);
// A per-tensor-scaled fp8 cache (vLLM's kv_cache_dtype "fp8": stored = round(x / scale), read back
// as stored · scale): the bytes to upload and the values they stand for.
struct Fp8Tensor {
  std::vector<std::uint8_t> bytes;
  std::vector<float> dequantized;
};
Fp8Tensor quantize_fp8_e4m3(const std::vector<float>& x, float scale);

// Deterministic inputs: uniform in [-1, 1), rounded to `dtype` (fp32 kept as is).
std::vector<float> random_inputs(std::size_t count, std::uint64_t seed, const std::string& dtype);

}  // namespace attnio::ref
