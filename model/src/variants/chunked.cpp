// Memory-efficient attention in chunks (Rabe & Staats 2021, "Self-attention Does Not Need O(n²)
// Memory", §2-3 and their Fig. 1 code): queries and keys in chunks, one launch per chunk pair, the
// scores of a chunk pair in HBM, a combine pass per query chunk.
#include "flash.hpp"

namespace attnio::detail {

// Rabe & Staats §3 use 1024-query chunks.
const ParamSpec kChunkedChunk{
    .key = "chunk", .default_value = 1024, .default_text = "1024", .unit = "tokens",
    .help = "chunked: chunk size (default 1024); linear: chunk (default 64); mamba2: SSD chunk (default 256)", .source = "Rabe & Staats 2021 §3 (1024)"};

namespace {

// ---- chunked (memory-efficient) attention ---------------------------------------------------

// Rabe & Staats 2021 §2-3 (their Fig. 1 code): for each query chunk and key chunk, one launch computes
// the scores and their exponentials with the chunk max (written as an fp32 chunk), a second multiplies
// by the V chunk and writes a partial output and sum; a combine launch per query chunk rescales and
// adds the partials. The softmax statistics never stay on chip across launches.
void chunked(Evaluator& ev) {
  const Shape s = ev.shape();
  const Mask mask = attention_mask(ev.w(), s.n, s.nk);
  const u64 e = ev.e(), c = ev.w().count("chunk");
  const Plan p = make_plan(s.n, s.nk, c, c, mask);
  const Count bh = Count(s.batch) * s.heads;
  const Count chunk_scores = bh * p.area;  // every visited chunk pair materializes its scores
  // The two launches of a chunk pair run one CTA per band of 64 query rows (traits), and each band
  // reads the whole K (or V) chunk: Σ over visited pairs of bands x columns.
  Count band_cols, bands;
  for (u64 i = 0; i < p.tr; ++i) {
    const u64 r0 = i * c, rows = min_u(s.n, r0 + c) - r0;
    const BlockRange r = visited_blocks(mask, r0, r0 + rows, s.nk, c);
    if (r.empty()) continue;
    const u64 b = ceil_div(rows, traits::kChunkBandRows);
    band_cols += Count(b) * (min_u(s.nk, (r.last + 1) * c) - r.first * c);
    bands += Count(b) * (r.last - r.first + 1);
  }
  const u64 bands_per_chunk = ceil_div(min_u(c, s.n), traits::kChunkBandRows);
  KernelCost& k1 = ev.add("chunk_scores_exp", bh * bands, kSmallCtasPerSm);
  k1.launches = p.pairs.v;
  k1.tensor_flops = bh * p.allowed * 2 * s.d;
  k1.sfu_ops = bh * p.allowed;
  k1.fp32_flops = bh * p.allowed * 2;
  const Count q_total = bh * p.rows_sum * s.d * e;
  Evaluator::read_direct(k1, q_total);
  const Count k_total = bh * band_cols * s.d * e;
  Evaluator::read_stream(k1, k_total, ev.shared(k1, bh * p.cols_sum * s.d * e, k_total, bands_per_chunk, 1, 1, 0), 1);
  Evaluator::write_direct(k1, chunk_scores * kStatBytes + bh * p.rows_sum * kStatBytes);
  KernelCost& k2 = ev.add("chunk_pv", bh * bands, kSmallCtasPerSm);
  k2.launches = p.pairs.v;
  k2.tensor_flops = bh * p.allowed * 2 * s.dv;
  k2.fp32_flops = bh * p.allowed;  // the chunk's row sum
  Evaluator::read_direct(k2, chunk_scores * kStatBytes);
  const Count v_total = bh * band_cols * s.dv * e;
  Evaluator::read_stream(k2, v_total, ev.shared(k2, bh * p.cols_sum * s.dv * e, v_total, bands_per_chunk, 1, 1, 0), 1);
  const Count partial = bh * p.rows_sum * (s.dv + 1) * kStatBytes;
  Evaluator::write_direct(k2, partial);
  KernelCost& k3 = ev.add("chunk_combine", bh * p.tr, kSmallCtasPerSm);  // one CTA per head and query chunk
  k3.launches = p.tr;
  k3.sfu_ops = bh * p.rows_sum;
  k3.fp32_flops = bh * p.rows_sum * (s.dv * 2 + 2);
  Evaluator::read_direct(k3, partial + bh * p.rows_sum * kStatBytes);
  Evaluator::write_direct(k3, bh * s.n * s.dv * e);
  // Live at once: one query chunk's partials over all key chunks, and one chunk of scores.
  ev.out().extra_memory_bytes += bh * (Count(min_u(c, s.n)) * p.tc * (s.dv + 2) + Count(min_u(c, s.n)) * min_u(c, s.nk)) * kStatBytes;
  ev.out().block_m = c;
  ev.out().block_n = c;
}

// ---- chunked attention ----------------------------------------------------------------------

// Rabe & Staats: launches in program order: for each query chunk, for each key chunk it visits,
// the scores launch then the PV launch; then the combine launch of that query chunk.
void chunked_schedule(Scheduler& sc) {
  const Workload& w = sc.w();
  const Shape s = sc.shape();
  const Mask mask = attention_mask(w, s.n, s.nk);
  std::vector<SimKernel>& out = sc.out();
  AddressSpace& as = sc.as();
  const u64 e = sc.e(), c = w.count("chunk");
  const u64 tr = ceil_div(s.n, c), tc = ceil_div(s.nk, c);
  const u64 bh = (Count(s.batch) * s.heads).v;
  const FlashBuffers b = flash_buffers(as, s, e);
  const u64 scores = as.alloc(Count(bh) * c * c * kStat);
  const u64 maxima = as.alloc(Count(bh) * tc * c * kStat);
  const u64 partial = as.alloc(Count(bh) * tc * c * (s.dv + 1) * kStat);
  FlashGeometry g{s, mask, c, c, tr, tc, e, 1.0, false};
  for (u64 i = 0; i < tr; ++i) {
    const u64 rows = g.rows(i);
    const BlockRange r = visited_blocks(mask, i * c, i * c + rows, s.nk, c);
    for (u64 j = r.first; !r.empty() && j <= r.last; ++j) {
      const u64 cols = g.cols(j);
      const u64 band = traits::kChunkBandRows, bands = ceil_div(rows, band);
      SimKernel k1;
      k1.name = "chunk_scores_exp";
      k1.ctas = bh * bands;  // grid (band, head)
      // Tiles are named as in the other schedules: the chunk's exponentiated scores are P (unnormalized).
      k1.program = [=](u64 cta, std::vector<Step>& steps) {
        const u64 hb = cta / bands, r0 = (cta % bands) * band, nr = min_u(rows, r0 + band) - r0;
        const u64 hh = hb % s.heads, bb = hb / s.heads, kvh = hh / s.group();
        Step st;
        g.q_tile(st, "Q", b.q, bb, hh, i * c + r0, nr, s.d, false);
        g.kv_tile(st, "K", b.k, bb, kvh, j * c, cols, s.d, false);
        st.write("P", scores + (hb * c + r0) * c * kStat, nr * cols * kStat);
        st.write("row max", maxima + (hb * tc + j) * c * kStat + r0 * kStat, nr * kStat);
        st.tensor = 2.0f * static_cast<float>(nr * cols * s.d);
        st.sfu = static_cast<float>(nr * cols);
        steps.push_back(st);
      };
      SimKernel k2;
      k2.name = "chunk_pv";
      k2.ctas = bh * bands;
      k2.program = [=](u64 cta, std::vector<Step>& steps) {
        const u64 hb = cta / bands, r0 = (cta % bands) * band, nr = min_u(rows, r0 + band) - r0;
        const u64 hh = hb % s.heads, bb = hb / s.heads, kvh = hh / s.group();
        Step st;
        st.read("P", scores + (hb * c + r0) * c * kStat, nr * cols * kStat);
        g.kv_tile(st, "V", b.v, bb, kvh, j * c, cols, s.dv, false);
        st.write("O partial", partial + ((hb * tc + j) * c + r0) * (s.dv + 1) * kStat, nr * (s.dv + 1) * kStat);
        st.tensor = 2.0f * static_cast<float>(nr * cols * s.dv);
        steps.push_back(st);
      };
      out.push_back(std::move(k1));
      out.push_back(std::move(k2));
    }
    SimKernel k3;
    k3.name = "chunk_combine";
    k3.ctas = bh;
    k3.program = [=](u64 cta, std::vector<Step>& steps) {
      const u64 hb = cta, hh = hb % s.heads, bb = hb / s.heads;
      for (u64 j = r.first; !r.empty() && j <= r.last; ++j) {
        Step st;
        st.read("O partial", partial + (hb * tc + j) * c * (s.dv + 1) * kStat, rows * (s.dv + 1) * kStat);
        st.read("row max", maxima + (hb * tc + j) * c * kStat, rows * kStat);
        st.fp32 = static_cast<double>(rows * (2 * s.dv + 2));
        st.sfu = static_cast<double>(rows);
        steps.push_back(st);
      }
      Step last;
      g.q_tile(last, "O", b.o, bb, hh, i * c, rows, s.dv, true);
      steps.push_back(last);
    };
    out.push_back(std::move(k3));
  }
}

constexpr const ParamSpec* kParams[] = {&kClaShare, &kChunkedChunk};
const VariantDescriptor kDesc{
    .name = "chunked",
    .summary = "memory-efficient attention in query/key chunks, one launch per chunk pair (Rabe & Staats 2021)",
    .sources = "Rabe & Staats 2021, Self-attention Does Not Need O(n^2) Memory, §2-3",
    .params = kParams, .decode = false, .kernel_fwd = "chunked_rabe_staats",
    .evaluate = chunked,
    .io_complexity = [](const Workload&) -> std::string_view { return "Θ(N²) per head (score chunks in HBM)"; },
    .params_text = [](const Prediction& p) {
      std::string s;
      put(s, "chunk", std::to_string(p.workload.count("chunk")));
      return s;
    },
    .schedule = chunked_schedule,
    .derivation = [](const Prediction& p) -> std::string {
      return "Rabe & Staats 2021: query and key chunks of " + num(p.workload.count("chunk")) +
             " tokens; each chunk pair writes its scores "
             "(fp32) to HBM and reads them back, and a combine pass reads every partial output: memory O(chunk²) "
             "instead of O(N²), but the bytes stay Θ(N²) per head because nothing is fused across launches.\n";
    }};

}  // namespace

const VariantDescriptor& chunked_variant() { return kDesc; }

}  // namespace attnio::detail
