// Long convolutions by FFT (S4/H3/Hyena's frequency-domain kernel: Fu et al. 2023, "Hungry Hungry
// Hippos", §4 and the safari repository's fftconv_ref; Poli et al. 2023, "Hyena Hierarchy", §3.3):
// each of the D channels is convolved with a filter as long as the sequence, y = irfft(rfft(u, 2L) ·
// rfft(k, 2L))[:L] + D·u, in fp32, O(L log L) per channel instead of attention's O(L²).
#include "common.hpp"

namespace attnio::detail {

namespace {

// FLOPs and passes of the transforms by common.hpp's FFT conventions, shared with fnet.
void longconv(Evaluator& ev) {
  const Workload& w = ev.w();
  const u64 e = ev.e(), L = w.seq, D = w.heads * w.head_dim, n = 2 * L;  // zero-padded to 2L: a linear convolution
  const Count chan = Count(w.batch) * D;
  const Count real = chan * L, spec = chan * (L + 1) * 8;  // the rfft of 2L real values: L + 1 complex (fp32)
  const Count filt_spec = Count(D) * (L + 1) * 8;
  const u64 p = fft_passes(ev, n);
  const double fft = fft_flops_per_point(n, true);  // per real element of a length-2L real transform
  if (e != 4) {
    KernelCost& c = rowwise(ev, "cast_fp32", real);
    Evaluator::read_direct(c, real * e);
    Evaluator::write_direct(c, real * 4);
  }
  // rfft(u, n = 2L): reads L values per channel (the padding is implicit), writes L + 1 complex.
  KernelCost& fu = rowwise(ev, "rfft_input", chan * n);
  fu.fp32_flops = scaled(chan * n, fft);
  Evaluator::read_direct(fu, real * 4 + spec * (p - 1));
  Evaluator::write_direct(fu, spec * p);
  // rfft(k, n = 2L) of the D filters (Hyena generates them every forward pass).
  KernelCost& fk = rowwise(ev, "rfft_filter", Count(D) * n);
  fk.fp32_flops = scaled(Count(D) * n, fft);
  Evaluator::read_direct(fk, Count(D) * L * 4 + filt_spec * (p - 1));
  Evaluator::write_direct(fk, filt_spec * p);
  // The pointwise product (6 FLOPs per complex multiply); each filter's spectrum serves the batch.
  KernelCost& mul = rowwise(ev, "pointwise_multiply", chan * (L + 1));
  mul.fp32_flops = chan * (L + 1) * 6;
  Evaluator::read_direct(mul, spec);
  const Count filt_total = filt_spec * w.batch;
  mul.l2_read += filt_total;
  mul.hbm_read += ev.filtered(filt_spec, filt_total, filt_spec.d());
  Evaluator::write_direct(mul, spec);
  // irfft(n = 2L): all 2L outputs written (torch.fft.irfft), then the first L kept and u·D added.
  KernelCost& iu = rowwise(ev, "irfft", chan * n);
  iu.fp32_flops = scaled(chan * n, fft);
  Evaluator::read_direct(iu, spec * p);
  Evaluator::write_direct(iu, chan * n * 4 + spec * (p - 1));
  KernelCost& out = rowwise(ev, "slice_skip_add", real);
  out.fp32_flops = real * 2;
  Evaluator::read_direct(out, real * 4 + real * e + Count(D) * 4);  // y[:L], u, the skip weights D
  Evaluator::write_direct(out, real * e);
  ev.out().extra_memory_bytes += spec * 2 + chan * n * 4 + filt_spec;
}

const VariantDescriptor kDesc{
    .name = "longconv",
    .summary = "long convolution by FFT, filter as long as the sequence (H3/Hyena's fftconv)",
    .sources = "Fu et al. 2023, Hungry Hungry Hippos, §4 (FFT convolution; safari fftconv_ref); Poli et al. 2023, Hyena, §3.3",
    .decode = false, .self_only = true,
    .evaluate = longconv,
    .cache_bytes = [](const Workload&) { return Count(0); },
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(B·D·L) per pass, Θ(B·D·L·log L) FLOPs"; },
    .no_schedule = "longconv has no tile schedule (cuFFT's plans are its own, as fnet); use predict",
    .derivation = [](const Prediction& p) -> std::string {
      const Workload& w = p.workload;
      return "FFT convolution (H3 §4; Hyena §3.3): each of the D = " + num(w.heads * w.head_dim) + " channels is padded to 2L = " +
             num(2 * w.seq) + ", transformed, multiplied by its filter's spectrum and transformed back: three real FFTs of "
             "2.5·2L·log2(2L) FLOPs per channel and a handful of passes over the fp32 spectra, O(L log L) work where "
             "attention's is O(L²). Decode is not modeled (a long convolution over the whole past per token, or a "
             "distilled recurrence).\n";
    }};

}  // namespace

const VariantDescriptor& longconv_variant() { return kDesc; }

}  // namespace attnio::detail
