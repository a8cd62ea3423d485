// Launchers of the sub-quadratic mixers' CUDA kernels (kernels/linear.cu, performer.cu, mamba.cu,
// ssd.cu, fnet.cu). Plain params structs of device pointers; every launcher returns "" or a one-line error.
#pragma once

#include <cstddef>
#include <string>

#include "attnio/kernels/attention_kernels.hpp"

namespace attnio::kernels {

// Linear attention (Katharopoulos et al. 2020): q [B][N][H][F], k [B][N][Hkv][F], v [B][N][Hkv][dv],
// o [B][N][H][dv]. With `elu` the kernel applies phi = elu + 1 to q and k (F = head dim); without,
// q and k already hold features (Performer). Causal: the chunked form with the F x dv state carried
// between chunks. Non-causal: the state per K/V head in `workspace` (linear_workspace_bytes).
struct LinearParams {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  int batch = 1, heads = 1, kv_heads = 1, n = 1, features = 64, dv = 64;
  bool causal = true;
  bool elu = true;
  int chunk = 64;
  void* workspace = nullptr;
  Elem elem = Elem::bf16;
};
std::size_t linear_workspace_bytes(const LinearParams& p);
std::string linear_attention(const LinearParams& p, void* stream);

// FAVOR+ features (Choromanski et al. 2021): phi(x) = exp(w_i·x' - |x'|²/2) / sqrt(r) with
// x' = x / d^(1/4), for `rows` rows of x [rows][d] and the r x d projection `omega` (fp32).
struct FavorParams {
  const void* x = nullptr;
  void* phi = nullptr;  // [rows][r]
  const float* omega = nullptr;
  int rows = 1, d = 64, features = 256;
  Elem elem = Elem::bf16;
};
std::string favor_features(const FavorParams& p, void* stream);

// Mamba's selective scan (Gu & Dao 2023 App. D): x, delta [B][D][L], A [D][N] (fp32), Bm, Cm
// [B][N][L], y [B][D][L]; delta already positive. The fused kernel keeps the state on chip and scans
// chunks of the sequence in parallel; the naive one materializes A_bar, B_bar x and h (fp32,
// [B][D][L][N]) in `workspace` (scan_naive_workspace_bytes).
struct ScanParams {
  const void* x = nullptr;
  const void* delta = nullptr;
  const float* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;
  void* y = nullptr;
  int batch = 1, channels = 1, length = 1, states = 16;
  Elem elem = Elem::bf16;
};
std::string selective_scan(const ScanParams& p, void* stream);
std::size_t scan_naive_workspace_bytes(const ScanParams& p);
std::string selective_scan_naive(const ScanParams& p, void* workspace, void* stream);

// Mamba-2's SSD layer, chunked (Dao & Gu 2024 §6; mamba_ssm mamba_chunk_scan_combined without z and
// initial states): x [B][L][H][P], dt [B][L][H] (before dt_bias and softplus), Bm, Cm [B][L][G][N]
// and y [B][L][H][P] in `elem`; A (negative), dt_bias and D [H] in fp32, as mamba_ssm keeps them.
// Heads h share group h / (H/G). Chunks of min(chunk, L) tokens; five kernels write dt, dA_cumsum,
// the chunk states, the passed states and C Bᵀ to `workspace` (ssd_workspace_bytes; 0 for a shape
// ssd_forward refuses: G not dividing H, or grids past CUDA's limits).
struct SsdParams {
  const void* x = nullptr;
  const void* dt = nullptr;
  const float* a = nullptr;
  const float* dt_bias = nullptr;
  const float* d = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;
  void* y = nullptr;
  int batch = 1, length = 1, heads = 1, head_dim = 64, states = 128, groups = 1, chunk = 256;
  Elem elem = Elem::bf16;
};
std::size_t ssd_workspace_bytes(const SsdParams& p);
std::string ssd_forward(const SsdParams& p, void* workspace, void* stream);

// FNet token mixing (Lee-Thorp et al. 2022): y = Re(FFT_seq(FFT_hidden(x))), x and y [B][N][D], with
// cuFFT in fp32 (workspace: fnet_workspace_bytes).
struct FnetParams {
  const void* x = nullptr;
  void* y = nullptr;
  int batch = 1, n = 1, hidden = 64;
  Elem elem = Elem::bf16;
};
std::size_t fnet_workspace_bytes(const FnetParams& p);
std::string fnet_mixing(const FnetParams& p, void* workspace, void* stream);

}  // namespace attnio::kernels
