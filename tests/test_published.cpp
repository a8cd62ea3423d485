// The published-measurements table behind `attnio validate`: parsing, errors that name the line and
// field, and the FLOP convention that turns a TFLOP/s figure back into the time the source measured.
// The rows here are hand-made test data, not measurements.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attnio/model/device.hpp"
#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/traces/published.hpp"

using namespace attnio;
using namespace attnio::traces;

namespace {

const std::string kHeader =
    "source,locator,read,gpu,impl,variant,dtype,pass,phase,batch,heads,kv_heads,seq,kv_len,head_dim,causal,metric,value,"
    "flop_convention,notes\n";

std::string error_of(const std::string& text) {
  try {
    parse_published(text, "t.csv");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// The summary of signed errors by hand: |errors| 5, 12, 30, 45; nearest rank: median the 2nd (12),
// p90 the ceil(3.6) = 4th (45); within 10 / 25 / 40 %: 1, 2, 3; two below zero (too fast).
// Absolute errors give the same figures and no negatives.
TEST(Published, SummaryOfSignedErrorsByHand) {
  const ErrorSummary s = summarize({-5, 12, -30, 45});
  EXPECT_EQ(s.rows, 4u);
  EXPECT_EQ(s.median, 12);
  EXPECT_EQ(s.p90, 45);
  EXPECT_EQ(s.max, 45);
  EXPECT_EQ(s.within_10, 1u);
  EXPECT_EQ(s.within_25, 2u);
  EXPECT_EQ(s.within_40, 3u);
  EXPECT_EQ(s.negative, 2u);
  const ErrorSummary a = summarize({5, 12, 30, 45});
  EXPECT_EQ(a.median, 12);
  EXPECT_EQ(a.within_40, 3u);
  EXPECT_EQ(a.negative, 0u);
}

// Agreement between publications, by hand. Rows 0 and 1 (sources X and Y, fp16 and bf16: one
// measurement) have q = published / predicted 1.1 and 0.9: spread 1.1 / 0.9 - 1 = 22.2 %, floor
// (1.1 - 0.9) / (1.1 + 0.9) = 10 %, model errors 1 / 1.1 - 1 = -9.09 % and 1 / 0.9 - 1 = +11.1 %.
// Row 2 is X again at another batch (prefill: the per-head shape names the measurement), q = 1.0,
// inside the range. Row 3 measured something else (causal) and row 4 only X published; row 5 is a
// decode at batch 1 and row 6 at batch 4 (decode: the whole shape names it), so neither has a
// second publication; row 7 is skipped and row 8 a counter row, both left out.
TEST(Published, AgreementBetweenPublicationsByHand) {
  const PublishedTable t = parse_published(
      kHeader +
          "X,a,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,8,16,16,2048,2048,128,0,time_ms,1.1,time,\n"
          "Y,b,text,a100-80gb,fa2,flash2,bf16,fwd,prefill,16,32,32,2048,2048,128,0,time_ms,3.6,time,\n"
          "X,c,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,4,16,16,2048,2048,128,0,time_ms,0.5,time,\n"
          "Y,d,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,8,16,16,2048,2048,128,1,time_ms,1,time,\n"
          "X,e,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,8,16,16,4096,4096,128,0,time_ms,1,time,\n"
          "X,f,text,h100-sxm,fa2-splitkv,flash-decoding,fp16,fwd,decode,1,32,8,1,4096,128,0,time_us,20,time,\n"
          "Y,g,text,h100-sxm,fa2-splitkv,flash-decoding,fp16,fwd,decode,4,32,8,1,4096,128,0,time_us,30,time,\n"
          "Y,h,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,8,16,16,2048,2048,128,0,time_ms,1,time,\n"
          "Y,i,table,a100-80gb,fa2,flash2,bf16,fwd,prefill,8,16,16,2048,2048,128,0,dram_read_mb,400,ncu,\n",
      "t.csv");
  std::vector<ValidatedRow> v(t.rows.size());
  const double predicted[] = {1e-3, 4e-3, 0.5e-3, 1e-3, 1e-3, 20e-6, 30e-6, 1e-3, 0};
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i].row = &t.rows[i];
    v[i].published_s = published_time_s(t.rows[i], nullptr).value_or(0);
    v[i].predicted_s = predicted[i];
    if (v[i].published_s > 0) v[i].error_pct = 100 * (v[i].predicted_s / v[i].published_s - 1);
  }
  v[7].skipped_why = "no time conversion";
  // The counter row has row 0's key and a time of its own: only its being a counter row keeps it out.
  v[8].counter = true;
  v[8].published_s = 1e-3;
  v[8].predicted_s = 2e-3;
  const std::vector<AgreementGroup> g = agreement(v);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].impl, "fa2");
  EXPECT_EQ(g[0].dtype, "16-bit");
  EXPECT_FALSE(g[0].causal);
  ASSERT_EQ(g[0].rows.size(), 3u);
  EXPECT_EQ(g[0].rows[0], &v[0]);
  EXPECT_EQ(g[0].rows[1], &v[1]);
  EXPECT_EQ(g[0].rows[2], &v[2]);
  EXPECT_EQ(g[0].publications, 2u);
  EXPECT_NEAR(g[0].spread_pct, 100 * (1.1 / 0.9 - 1), 1e-9);
  EXPECT_NEAR(g[0].floor_pct, 10, 1e-9);
  EXPECT_NEAR(g[0].min_error_pct, 100 * (1 / 1.1 - 1), 1e-9);
  EXPECT_NEAR(g[0].max_error_pct, 100 * (1 / 0.9 - 1), 1e-9);
  // Per variant: flash2's five compared rows (errors -9.09, +11.1, 0, 0, 0 %: one too fast, the
  // largest 11.1 %) and flash-decoding's two; the skipped and the counter row in neither.
  const auto by = summarize_by_variant(v);
  ASSERT_EQ(by.size(), 2u);
  EXPECT_EQ(by.at("flash2").rows, 5u);
  EXPECT_EQ(by.at("flash2").negative, 1u);
  EXPECT_NEAR(by.at("flash2").max, 100 * (1 / 0.9 - 1), 1e-9);
  EXPECT_EQ(by.at("flash-decoding").rows, 2u);
  // The floor is reached: from the group's own extreme errors, q = 1 / (1 + e) gives 1.1 and 0.9,
  // and the prediction scaled by s = 2 qmax qmin / (qmax + qmin) = 0.99 is floor_pct off both.
  const double qmax = 1 / (1 + g[0].min_error_pct / 100), qmin = 1 / (1 + g[0].max_error_pct / 100);
  const double s = 2 * qmax * qmin / (qmax + qmin);
  EXPECT_NEAR(100 * std::fabs(s / qmax - 1), g[0].floor_pct, 1e-9);
  EXPECT_NEAR(100 * std::fabs(s / qmin - 1), g[0].floor_pct, 1e-9);
}

TEST(Published, FlashAttentionConventionGivesTheMeasuredTime) {
  const PublishedTable t = parse_published(
      "# ratchet: median <= 12.5\n" + kHeader +
          "test,Fig. 1,bar-label,a100-80gb,fa2,flash2,fp16,fwd,prefill,2,16,16,8192,8192,128,0,tflops,100,fa,\n"
          "test,Fig. 1,bar-label,a100-80gb,fa2,flash2,fp16,bwd,prefill,2,16,16,8192,8192,128,1,tflops,100,fa,\n"
          "test,\"Table 2, row 3\",table,h100-sxm,fa2-splitkv,flash-decoding,fp16,fwd,decode,4,32,8,1,4096,128,0,time_us,55.5,time,\"a, b\"\n",
      "t.csv");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.ratchet_median_pct, 12.5);
  // 4·B·H·N²·d = 4·2·16·8192²·128 = 1.099511627776e12 FLOP at 100 TFLOP/s: 10.99511627776 ms.
  EXPECT_DOUBLE_EQ(*published_time_s(t.rows[0], nullptr), 1.099511627776e12 / 1e14);
  // Backward, causal: x2.5, /2.
  EXPECT_DOUBLE_EQ(*published_time_s(t.rows[1], nullptr), 1.099511627776e12 * 2.5 / 2 / 1e14);
  EXPECT_DOUBLE_EQ(*published_time_s(t.rows[2], nullptr), 55.5e-6);
  EXPECT_EQ(t.rows[2].locator, "Table 2, row 3");
  EXPECT_EQ(t.rows[2].notes, "a, b");
  EXPECT_EQ(t.rows[2].workload.seq, 4096u);  // decode: the cache length is attnio's --seq
  EXPECT_EQ(t.rows[2].workload.query_len(), 1u);
  EXPECT_EQ(t.rows[2].workload.kv_heads, 8u);
}

// Bandwidth utilisation (FlashInfer's blog convention, kvq:GBPS) by hand: B = 2, H = 4, Hkv = 2,
// Nk = 1024, d = 64, fp16 reads (2 x 2 x 1024 x 2 + 2 x 4) x 64 x 2 = 1049600 bytes; 50 % of
// 1000 GB/s is 5e11 B/s, so 2.0992 µs.
TEST(Published, BandwidthUtilisationGivesTheMeasuredTimeByHand) {
  const PublishedTable t = parse_published(
      kHeader + "test,a,plot-by-eye,h100-sxm,vllm-paged-v2,paged,fp16,fwd,decode,2,4,2,1,1024,64,0,bw_util_pct,50,kvq:1000,\n",
      "t.csv");
  ASSERT_EQ(t.rows.size(), 1u);
  const std::optional<double> s = published_time_s(t.rows[0], nullptr);
  ASSERT_TRUE(s.has_value());
  EXPECT_NEAR(*s, 1049600.0 / 5e11, 1e-18);
}

TEST(Published, MalformedRowsNameTheLineAndField) {
  EXPECT_NE(error_of("a,b\n").find("line 1: header"), std::string::npos);
  EXPECT_NE(error_of("").find("no header line"), std::string::npos);
  const std::string good = "s,l,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,1,1,1,64,64,64,0,tflops,1,fa,\n";
  EXPECT_EQ(error_of(kHeader + good), "");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string row = good;
    row.replace(row.find(from), from.size(), to);
    return error_of(kHeader + row);
  };
  EXPECT_NE(with("flash2", "flash9").find("line 2: unknown variant 'flash9'"), std::string::npos);
  EXPECT_NE(with("text", "guess").find("field 'read'"), std::string::npos);
  EXPECT_NE(with("tflops", "furlongs").find("field 'metric'"), std::string::npos);
  EXPECT_NE(with(",0,tflops", ",2,tflops").find("field 'causal'"), std::string::npos);
  EXPECT_NE(with("tflops,1,", "tflops,-1,").find("field 'value'"), std::string::npos);
  EXPECT_NE(with(",1,1,1,64", ",x,1,1,64").find("field 'batch'"), std::string::npos);
  EXPECT_NE(with("s,l,", "\"s,l,").find("unterminated"), std::string::npos);
  EXPECT_NE(error_of(kHeader + "a,b,c\n").find("3 fields, expected 20"), std::string::npos);
  // A counter row takes the ncu convention, and only a counter row does.
  EXPECT_NE(with("tflops,1,fa", "dram_read_mb,1,fa").find("field 'flop_convention': 'fa' (a counter metric takes ncu"), std::string::npos);
  EXPECT_NE(with("tflops,1,fa", "tflops,1,ncu").find("field 'flop_convention'"), std::string::npos);
  EXPECT_NE(with("tflops,1,fa", "dram_read_mb,1,ncu:").find("field 'flop_convention'"), std::string::npos);
  EXPECT_EQ(with("tflops,1,fa", "dram_write_mb,1,ncu:flash2_fwd"), "");
  // Bandwidth utilisation takes kvq:GBPS (a positive bandwidth), and only it does; at most 100 %;
  // and only a decode's forward pass.
  EXPECT_EQ(error_of(kHeader + "s,l,text,h100-sxm,fa2,flash2,fp16,fwd,decode,1,1,1,1,64,64,0,bw_util_pct,40,kvq:3352,\n"), "");
  EXPECT_NE(with("tflops,1,fa", "bw_util_pct,40,fa").find("bw_util_pct takes kvq:GBPS"), std::string::npos);
  EXPECT_NE(with("tflops,1,fa", "bw_util_pct,40,kvq:").find("flop_convention (kvq:GB/s)"), std::string::npos);
  EXPECT_NE(with("tflops,1,fa", "tflops,1,kvq:3352").find("bw_util_pct takes kvq:GBPS"), std::string::npos);
  EXPECT_NE(with("tflops,1,fa", "bw_util_pct,140,kvq:3352").find("not a bandwidth utilisation"), std::string::npos);
  EXPECT_NE(error_of(kHeader + "s,l,text,a100-80gb,fa2,flash2,fp16,fwd,prefill,1,1,1,64,64,64,0,bw_util_pct,40,kvq:3352,\n")
                .find("bw_util_pct counts a decode's bytes (one query token, forward); this row is prefill fwd"),
            std::string::npos);
  // A TFLOP/s figure without a convention attnio knows cannot become a time.
  const PublishedTable t = parse_published(kHeader + "s,l,text,a100-80gb,x,flash2,fp16,fwd,prefill,1,1,1,64,64,64,0,tflops,1,other,\n", "t.csv");
  std::string why;
  EXPECT_FALSE(published_time_s(t.rows[0], &why));
  EXPECT_NE(why.find("no time conversion"), std::string::npos);
}

TEST(Published, ShippedTableParses) {
  const PublishedTable t = parse_published(shipped_published_csv(), "validation/published.csv");
  for (const PublishedRow& r : t.rows) {
    EXPECT_FALSE(r.source.empty()) << r.line;
    EXPECT_TRUE(published_time_s(r, nullptr).has_value() || published_counter(r).has_value())
        << "line " << r.line << ": no time conversion";
  }
}

// A row whose implementation attnio has no profile of for its variant is not compared: another
// implementation's profile would predict other code (issue 15: a naive PyTorch MLA loop was held
// against FlashMLA's profile and came out 99.9 % off). Under a forced profile (the roofline
// baseline) the same rows are skipped, so both runs cover the same rows.
TEST(Published, RowsWithoutAProfileOfTheirOwnAreSkippedAndSaySo) {
  const PublishedTable t = parse_published(
      kHeader +
          "test,a,text,h100-sxm,pytorch,mla,fp16,fwd,decode,128,128,1,1,1151,576,0,time_ms,100,time,\n"
          "test,b,text,h100-sxm,tilelang-mla,mla,fp16,fwd,decode,128,128,1,1,1151,576,0,time_ms,0.145,time,\n"
          "test,c,text,h100-sxm,fa2,flash2,fp16,fwd,prefill,2,16,16,8192,8192,128,0,tflops,300,fa,\n",
      "t.csv");
  for (const std::string forced : {"", "ideal"}) {
    const std::vector<ValidatedRow> v = validate_rows(t, "", forced);
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v[0].skipped_why, "no profile of its own for 'pytorch' running 'mla'");
    EXPECT_EQ(v[1].skipped_why, "no profile of its own for 'tilelang-mla' running 'mla'");
    EXPECT_EQ(v[2].skipped_why, "");
    EXPECT_EQ(v[2].profile, forced.empty() ? "fa2" : "ideal");
    EXPECT_GT(v[2].predicted_s, 0);
  }
}

// A counter row (Nsight Compute's DRAM bytes) against the closed form's bytes for the kernel it
// names, by hand. FlashAttention-2's split-KV decode at B = 1, H = H_kv = 32, a 32768-token cache,
// d = 128, bf16 reads K and V once, 2 x 32768 x 32 x 128 x 2 B = 536870912 B, and the query,
// 32 x 128 x 2 = 8192 B: 536879104 B against 536.966656 Mbyte counted, -0.016305 %. Its kernel is one of two (the combine follows), so the simulator,
// which replays the variant's kernels together, is not held against it. A whole-variant row
// (`ncu`) of a one-kernel prefill is held against both: B = 1, H = 2, N = 1024, d = 64 reads Q, K
// and V once, 3 x 1024 x 2 x 64 x 2 = 786432 B, and so does the simulator (the inputs fit in L2).
// A kernel the prediction does not have is skipped, naming the ones it has.
TEST(Published, CounterRowsAgainstTheClosedFormAndTheSimulatorByHand) {
  const PublishedTable t = parse_published(
      kHeader +
          "test,a,table,h100-sxm,fa2,flash2,bf16,fwd,decode,1,32,32,1,32768,128,0,dram_read_mb,536.966656,ncu:flash2_fwd_splitkv,\n"
          "test,b,table,h100-sxm,fa2,flash2,bf16,fwd,prefill,1,2,2,1024,1024,64,0,dram_read_mb,0.786432,ncu,\n"
          "test,c,table,h100-sxm,fa2,flash2,bf16,fwd,prefill,1,2,2,1024,1024,64,0,dram_write_mb,1,ncu:no_such_kernel,\n",
      "t.csv");
  std::string why;
  EXPECT_FALSE(published_time_s(t.rows[0], &why));
  EXPECT_EQ(why, "a counter row (bytes, not a time)");
  const std::vector<ValidatedRow> v = validate_rows(t);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_TRUE(v[0].counter);
  EXPECT_EQ(v[0].skipped_why, "");
  EXPECT_DOUBLE_EQ(v[0].published_bytes, 536966656.0);
  EXPECT_DOUBLE_EQ(v[0].predicted_bytes, 536870912.0 + 8192.0);
  EXPECT_NEAR(v[0].bytes_error_pct, (536879104.0 - 536966656.0) / 536966656.0 * 100, 1e-12);
  EXPECT_NEAR(v[0].bytes_error_pct, -0.016305, 0.000001);
  EXPECT_FALSE(v[0].simulated_bytes.has_value());
  EXPECT_EQ(v[0].predicted_s, 0);  // a counter row is not a time row
  EXPECT_TRUE(v[1].counter);
  EXPECT_DOUBLE_EQ(v[1].predicted_bytes, 786432.0);
  ASSERT_TRUE(v[1].simulated_bytes.has_value());
  EXPECT_DOUBLE_EQ(*v[1].simulated_bytes, 786432.0);
  EXPECT_NEAR(*v[1].sim_bytes_error_pct, 0.0, 1e-12);
  EXPECT_FALSE(v[2].counter);
  EXPECT_EQ(v[2].skipped_why, "no kernel 'no_such_kernel' in the prediction (its kernels: flash2_fwd)");
}

// A duration row (Nsight Compute's gpu__time_duration in µs) names one kernel and is held against
// that kernel as the profiler replays it (profiled_kernel: no launch, caches flushed), not against
// the call's time; it is no time row (published_time_s refuses it) and carries no bytes. 7.52 µs
// printed is 7.52e-6 s; a kernel the prediction lacks is skipped as for byte rows.
TEST(Published, DurationRowsAgainstTheProfiledKernel) {
  const PublishedTable t = parse_published(
      kHeader +
          "test,a,table,h100-sxm,fa2,flash2,bf16,fwd,decode,1,32,32,1,32768,128,0,duration_us,7.52,ncu:combine_splits,\n"
          "test,b,table,h100-sxm,fa2,flash2,bf16,fwd,decode,1,32,32,1,32768,128,0,duration_us,7.52,ncu:nope,\n",
      "t.csv");
  const std::optional<PublishedCounter> c = published_counter(t.rows[0]);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->kind, CounterKind::duration);
  EXPECT_EQ(c->kernel, "combine_splits");
  EXPECT_DOUBLE_EQ(c->seconds, 7.52e-6);
  EXPECT_EQ(c->bytes, 0);
  std::string why;
  EXPECT_FALSE(published_time_s(t.rows[0], &why));
  EXPECT_EQ(why, "a counter row (one kernel under a profiler, not a call's time)");
  const std::vector<ValidatedRow> v = validate_rows(t);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_TRUE(v[0].counter);
  EXPECT_EQ(v[0].skipped_why, "");
  EXPECT_DOUBLE_EQ(v[0].published_s, 7.52e-6);
  const Device& h = find_device("h100-sxm");
  const Prediction p = predict(h, t.rows[0].workload);
  const KernelCost* combine = nullptr;
  for (int i = 0; i < p.kernel_count(); ++i) {
    if (p.kernels[i].name == "combine_splits") combine = &p.kernels[i];
  }
  ASSERT_NE(combine, nullptr);
  const KernelCost::Exec x = profiled_kernel(*combine, h, p.workload);
  EXPECT_DOUBLE_EQ(v[0].predicted_s, x.time_s);
  EXPECT_NEAR(v[0].error_pct, (x.time_s - 7.52e-6) / 7.52e-6 * 100, 1e-9);
  EXPECT_EQ(v[0].bound, std::string(to_string(x.bound)));
  EXPECT_EQ(v[0].published_bytes, 0);
  EXPECT_FALSE(v[0].simulated_bytes.has_value());
  EXPECT_FALSE(v[1].counter);
  EXPECT_EQ(v[1].skipped_why, "no kernel 'nope' in the prediction (its kernels: flash2_fwd_splitkv, combine_splits)");
}

// A row that states the SM clock its kernels ran at (sm_clock_mhz, the optional last column) is
// predicted on the device with its clock locked there; a table without the column, or a row that
// leaves it empty, keeps the model's own clock. A clock that is no clock is an error naming the
// line and field; one the device cannot be locked at skips the row, saying why.
TEST(Published, RowsStatingTheirClockArePredictedAtIt) {
  const std::string header21 = kHeader.substr(0, kHeader.size() - 1) + ",sm_clock_mhz\n";
  const std::string row = "test,a,text,h100-sxm,fa2,flash2,bf16,fwd,prefill,4,32,32,4096,4096,128,0,time_ms,3,time,";
  const PublishedTable t = parse_published(header21 + row + ",1815\n" + row + ",\n", "t.csv");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_DOUBLE_EQ(t.rows[0].sm_clock_hz, 1815e6);
  EXPECT_EQ(t.rows[1].sm_clock_hz, 0);
  const std::vector<ValidatedRow> v = validate_rows(t);
  ASSERT_EQ(v.size(), 2u);
  const Device& h = find_device("h100-sxm");
  EXPECT_DOUBLE_EQ(v[0].predicted_s, predict(h.with_locked_clock(1815e6, "test"), t.rows[0].workload).predicted_time_s);
  EXPECT_DOUBLE_EQ(v[1].predicted_s, predict(h, t.rows[1].workload).predicted_time_s);
  EXPECT_NE(v[0].predicted_s, v[1].predicted_s);
  // The 20-column header of tables written before the column: every row at the model's clock.
  EXPECT_EQ(parse_published(kHeader + row + "\n", "t.csv").rows[0].sm_clock_hz, 0);
  EXPECT_NE(error_of(header21 + row + ",1.8\n").find("line 2: field 'sm_clock_mhz'"), std::string::npos);
  EXPECT_NE(error_of(header21 + row + ",fast\n").find("field 'sm_clock_mhz'"), std::string::npos);
  EXPECT_NE(error_of(header21 + row + "\n").find("20 fields, expected 21"), std::string::npos);
  // A clock the device cannot be locked at (4 GHz on an H100) skips the row and says why.
  const PublishedTable far = parse_published(header21 + row + ",4000\n", "t.csv");
  const std::vector<ValidatedRow> fv = validate_rows(far);
  ASSERT_EQ(fv.size(), 1u);
  EXPECT_EQ(fv[0].skipped_why, "sm_clock_mhz (h100-sxm): a locked SM clock of 4000 MHz is outside 457.5-2745 MHz (0.25-1.5 x the device's 1830 MHz)");
}

// A row whose source's timed backward also added the gradients into .grad tensors holding one
// (grads, the optional last column: "accumulate") is predicted with Workload::accumulate_grads;
// empty or "fresh" writes them fresh; a forward row cannot accumulate; anything else is an error.
TEST(Published, BackwardsIntoHeldGradsAccumulate) {
  const std::string header23 = kHeader.substr(0, kHeader.size() - 1) + ",sm_clock_mhz,l2_start,grads\n";
  const std::string row = "test,a,text,h100-sxm,fa2,flash2,bf16,bwd,prefill,4,16,16,1024,1024,128,0,time_ms,1,time,,,";
  const PublishedTable t = parse_published(header23 + row + ",accumulate\n" + row + ",\n" + row + ",fresh\n", "t.csv");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_TRUE(t.rows[0].workload.accumulate_grads);
  EXPECT_FALSE(t.rows[1].workload.accumulate_grads);
  EXPECT_FALSE(t.rows[2].workload.accumulate_grads);
  const std::vector<ValidatedRow> v = validate_rows(t);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_GT(v[0].predicted_s, v[1].predicted_s);  // three elementwise adds more
  EXPECT_DOUBLE_EQ(v[1].predicted_s, v[2].predicted_s);
  EXPECT_NE(error_of(header23 + row + ",maybe\n").find("line 2: field 'grads': 'maybe' is not fresh or accumulate"), std::string::npos);
  std::string fwd = row;
  fwd.replace(fwd.find(",bwd,"), 5, ",fwd,");
  EXPECT_NE(error_of(header23 + fwd + ",accumulate\n").find("line 2: field 'grads': accumulate describes a timed backward"), std::string::npos);
}

// A row whose source flushed the L2 by writing a buffer before each call (l2_start, the optional
// column after sm_clock_mhz: "dirty") is predicted with Workload::dirty_l2; empty or "clean" keeps a clean
// start; anything else is an error naming the line and field.
TEST(Published, RowsFlushedByAMemsetStartWithADirtyL2) {
  const std::string header22 = kHeader.substr(0, kHeader.size() - 1) + ",sm_clock_mhz,l2_start\n";
  const std::string row = "test,a,text,h100-sxm,fa2-splitkv,flash-decoding,bf16,fwd,decode,1,32,32,1,1024,128,0,time_us,20,time,,";
  const PublishedTable t = parse_published(header22 + row + ",dirty\n" + row + ",\n" + row + ",clean\n", "t.csv");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_TRUE(t.rows[0].workload.dirty_l2);
  EXPECT_FALSE(t.rows[1].workload.dirty_l2);
  EXPECT_FALSE(t.rows[2].workload.dirty_l2);
  const std::vector<ValidatedRow> v = validate_rows(t);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_GT(v[0].predicted_s, v[1].predicted_s);  // the flush's lines written back in the call
  EXPECT_DOUBLE_EQ(v[1].predicted_s, v[2].predicted_s);
  EXPECT_NE(error_of(header22 + row + ",warm\n").find("line 2: field 'l2_start': 'warm' is not clean or dirty"), std::string::npos);
}

// The optional params column sets the row's variant parameters (key=value joined by ';'): a Mamba
// scan's channels, state and gate. Each key must be one the row's variant declares, given once,
// with a value in its range; the row is predicted with them, and validate's records carry them.
TEST(Published, RowsSetTheirVariantsParameters) {
  const std::string header24 = kHeader.substr(0, kHeader.size() - 1) + ",sm_clock_mhz,l2_start,grads,params\n";
  const std::string row = "test,a,table,h100-sxm,mamba-scan,mamba,bf16,fwd,prefill,8,1,1,8192,8192,64,0,time_ms,11,time,,,dirty,,";
  const PublishedTable t = parse_published(header24 + row + "d_inner=8192;state_dim=16;gate=1\n" + row + "\n", "t.csv");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].workload.count("d_inner"), 8192u);
  EXPECT_EQ(t.rows[0].workload.count("gate"), 1u);
  EXPECT_EQ(params_text(t.rows[0].workload), "d_inner=8192;gate=1;state_dim=16");
  EXPECT_EQ(params_text(t.rows[1].workload), "");
  const std::vector<ValidatedRow> v = validate_rows(t);
  ASSERT_EQ(v.size(), 2u);
  Workload w = t.rows[0].workload;
  w.impl = &find_impl("mamba-scan");
  EXPECT_DOUBLE_EQ(v[0].predicted_s, predict(find_device("h100-sxm"), w).predicted_time_s);
  EXPECT_NE(v[0].predicted_s, v[1].predicted_s);  // 8192 channels, not heads x head_dim = 64
  EXPECT_NE(error_of(header24 + row + "window=64\n").find("line 2: field 'params': 'window' is not a parameter of variant mamba"),
            std::string::npos);
  EXPECT_NE(error_of(header24 + row + "gate=2\n").find("line 2: field 'params': --gate must be at most 1"), std::string::npos);
  EXPECT_NE(error_of(header24 + row + "d_inner=1.5\n").find("d_inner='1.5' is not a value of --d-inner"), std::string::npos);
  EXPECT_NE(error_of(header24 + row + "gate=1;gate=0\n").find("'gate' is given twice"), std::string::npos);
  EXPECT_NE(error_of(header24 + row + "gate\n").find("field 'params': 'gate' is not key=value"), std::string::npos);
  // 0 where a parameter's 0 is the model's choice (flash-decoding's splits), as the CLI takes it.
  const std::string decode = "test,a,table,h100-sxm,fa2-splitkv,flash-decoding,bf16,fwd,decode,1,32,8,1,4096,128,0,time_us,20,time,,,,,";
  EXPECT_EQ(parse_published(header24 + decode + "splits=0\n", "t.csv").rows[0].workload.count("splits"), 0u);
}
