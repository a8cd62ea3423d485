// FNet token mixing (Lee-Thorp et al. 2022 §3.1): y = Re(FFT_seq(FFT_hidden(x))) with cuFFT in
// fp32: a cast, a real-to-complex FFT over the hidden size, a complex FFT over the sequence, and the
// real part written back (the columns past D/2 from the Hermitian symmetry of a real input's 2D
// transform). IO: a few passes over the activations (predict.cpp fnet).
#include <cufft.h>

#include "attnio/kernels/subquadratic_kernels.hpp"
#include "cuda/common.cuh"

namespace attnio::kernels {

namespace {

template <typename T>
__global__ void cast_kernel(const T* x, float* out, long n) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = to_float(x[i]);
}

// Re Y[n][k] for k <= D/2 from the half spectrum; for k > D/2, Y[n][k] = conj(Y[(N - n) % N][D - k]).
template <typename T>
__global__ void real_part_kernel(const cufftComplex* spec, T* y, int batch, int n, int hidden) {
  const long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long>(batch) * n * hidden) return;
  const int k = static_cast<int>(i % hidden), row = static_cast<int>((i / hidden) % n), b = static_cast<int>(i / (static_cast<long>(hidden) * n));
  const int half = hidden / 2 + 1;
  const int r = k < half ? row : (n - row) % n, c = k < half ? k : hidden - k;
  y[i] = from_float<T>(spec[(static_cast<long>(b) * n + r) * half + c].x);
}

}  // namespace

std::size_t fnet_workspace_bytes(const FnetParams& p) {
  const std::size_t rows = static_cast<std::size_t>(p.batch) * p.n;
  return sizeof(float) * rows * p.hidden + sizeof(cufftComplex) * rows * (p.hidden / 2 + 1);
}

std::string fnet_mixing(const FnetParams& p, void* workspace, void* stream) {
  if (p.batch < 1 || p.n < 1 || p.hidden < 2) return "fnet: bad shape";
  if (workspace == nullptr) return "fnet: needs a workspace";
  const auto s = static_cast<cudaStream_t>(stream);
  const long elems = static_cast<long>(p.batch) * p.n * p.hidden;
  const int half = p.hidden / 2 + 1;
  float* real = static_cast<float*>(workspace);
  auto* spec = reinterpret_cast<cufftComplex*>(real + elems);
  const int blocks = static_cast<int>((elems + 255) / 256);
  if (p.elem == Elem::bf16) cast_kernel<<<blocks, 256, 0, s>>>(static_cast<const __nv_bfloat16*>(p.x), real, elems);
  else cast_kernel<<<blocks, 256, 0, s>>>(static_cast<const __half*>(p.x), real, elems);
  if (std::string e = launch_error("fnet cast"); !e.empty()) return e;

  cufftHandle rows = 0, cols = 0;
  int hidden = p.hidden, seq = p.n;
  // Over the hidden size: B·N real rows of D to half spectra of D/2 + 1.
  if (cufftPlanMany(&rows, 1, &hidden, nullptr, 1, p.hidden, nullptr, 1, half, CUFFT_R2C, p.batch * p.n) != CUFFT_SUCCESS) {
    return "fnet: cuFFT plan over the hidden size failed";
  }
  // Over the sequence: for each batch entry, D/2 + 1 columns of N, stride D/2 + 1.
  int embed = p.n * half;
  if (cufftPlanMany(&cols, 1, &seq, &embed, half, 1, &embed, half, 1, CUFFT_C2C, half) != CUFFT_SUCCESS) {
    cufftDestroy(rows);
    return "fnet: cuFFT plan over the sequence failed";
  }
  cufftSetStream(rows, s);
  cufftSetStream(cols, s);
  std::string err;
  if (cufftExecR2C(rows, real, spec) != CUFFT_SUCCESS) err = "fnet: cuFFT R2C failed";
  for (int b = 0; b < p.batch && err.empty(); ++b) {
    cufftComplex* at = spec + static_cast<long>(b) * p.n * half;
    if (cufftExecC2C(cols, at, at, CUFFT_FORWARD) != CUFFT_SUCCESS) err = "fnet: cuFFT C2C failed";
  }
  cufftDestroy(rows);
  cufftDestroy(cols);
  if (!err.empty()) return err;
  if (p.elem == Elem::bf16) real_part_kernel<<<blocks, 256, 0, s>>>(spec, static_cast<__nv_bfloat16*>(p.y), p.batch, p.n, p.hidden);
  else real_part_kernel<<<blocks, 256, 0, s>>>(spec, static_cast<__half*>(p.y), p.batch, p.n, p.hidden);
  return launch_error("fnet real part");
}

}  // namespace attnio::kernels
