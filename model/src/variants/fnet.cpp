// FNet (Lee-Thorp et al. 2022, "FNet: Mixing Tokens with Fourier Transforms", §3.1): token mixing by
// a 2D FFT over the hidden size and the sequence, real part kept; cuFFT in fp32.
#include "common.hpp"

namespace attnio::detail {

namespace {


// Lee-Thorp et al. 2022 §3.1: y = Re(FFT_seq(FFT_hidden(x))). cuFFT in fp32: a real-to-complex FFT
// over the hidden size, a complex FFT over the sequence, then the real part; FLOPs and passes by
// common.hpp's FFT conventions.
void fnet(Evaluator& ev) {
  const Workload& w = ev.w();
  const u64 e = ev.e();
  const u64 n = w.seq, hid = w.heads * w.head_dim;
  const u64 half = hid / 2 + 1;
  const Count real = Count(w.batch) * n * hid, cplx = Count(w.batch) * n * half * 8;
  if (e != 4) {
    KernelCost& c = rowwise(ev, "cast_fp32", real);
    Evaluator::read_direct(c, real * e);
    Evaluator::write_direct(c, real * 4);
  }
  const u64 p1 = fft_passes(ev, hid);
  KernelCost& f1 = rowwise(ev, "fft_hidden_r2c", real);
  f1.fp32_flops = scaled(Count(w.batch) * n * hid, fft_flops_per_point(hid, true));
  Evaluator::read_direct(f1, real * 4 + cplx * (p1 - 1));
  Evaluator::write_direct(f1, cplx * p1);
  const u64 p2 = fft_passes(ev, n);
  KernelCost& f2 = rowwise(ev, "fft_seq_c2c", real);
  f2.fp32_flops = scaled(Count(w.batch) * half * n, fft_flops_per_point(n, false));
  Evaluator::read_direct(f2, cplx * p2);
  Evaluator::write_direct(f2, cplx * p2);
  KernelCost& re = rowwise(ev, "real_part", real);
  Evaluator::read_direct(re, cplx);
  Evaluator::write_direct(re, real * e);
  ev.out().extra_memory_bytes += cplx;
  ev.out().extras.fft_passes_hidden = p1;
  ev.out().extras.fft_passes_seq = p2;
}

const VariantDescriptor kDesc{
    .name = "fnet",
    .summary = "Fourier token mixing: 2D FFT over sequence and hidden, real part (FNet)",
    .sources = "Lee-Thorp et al. 2022, FNet, §3.1; FFT FLOP convention of FFTW's benchFFT",
    .decode = false, .masked = false, .kernel_fwd = "fnet_cufft",
    .check = [](const Workload& w, const Device&) {
      if (w.kv_len != w.seq) throw InputError("fnet: --kv-len must equal --seq (token mixing within one sequence)");
    },
    .evaluate = fnet,
    .cache_bytes = [](const Workload&) { return Count(0); },
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N·d_model) per FFT pass"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "fft_passes", std::to_string(p.extras.fft_passes_hidden) + "+" + std::to_string(p.extras.fft_passes_seq));
      return s;
    },
    .no_schedule = "fnet has no tile schedule (cuFFT's plans are its own); use predict",
    .derivation = [](const Prediction& p) -> std::string {
      return "FNet §3.1: FFT over the hidden size, then over the sequence, real part kept: a few passes over the "
             "activations (" + params_text(p) + "), O(N·d·log(N·d)) FLOPs on CUDA cores.\n";
    }};

}  // namespace

const VariantDescriptor& fnet_variant() { return kDesc; }

}  // namespace attnio::detail
