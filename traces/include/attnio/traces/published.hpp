// Published measurements (validation/published.csv): one row per number a paper, blog or repository
// printed for a kernel on a GPU, with where it was read. `attnio validate` holds the model's time
// against each. Rows state the source's own metric; time_s converts it with the source's own FLOP or
// byte convention, so a TFLOP/s figure becomes the time the source measured.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "attnio/model/device.hpp"
#include "attnio/model/impl.hpp"
#include "attnio/model/workload.hpp"

namespace attnio::traces {

// The columns, in file order (the header line must be exactly these, comma-separated). The last
// four, sm_clock_mhz, l2_start, grads and params, may be left out of a table's header (from the end:
// the last, the last two, three or all four); params sets the variant's own parameters the row's
// shape needs beyond the columns above, as key=value pairs joined by ';' (`d_inner=8192;state_dim=16`,
// the keys of `attnio variants`, each one the row's variant declares); a row that gives sm_clock_mhz (a clock the source states
// its kernels ran at: locked by the profiler, or sampled while the timed loop ran) is predicted with
// the device's SM clock locked there (Device::locked_clock_hz); empty: the model's own clock.
inline constexpr const char* kPublishedColumns[] = {
    "source", "locator", "read",    "gpu",    "impl",     "variant", "dtype", "pass",  "phase",           "batch",
    "heads",  "kv_heads", "seq",    "kv_len", "head_dim", "causal",  "metric", "value", "flop_convention", "notes",
    "sm_clock_mhz", "l2_start", "grads", "params"};

struct PublishedRow {
  std::size_t line = 0;  // in the file, for messages
  std::string source, locator, read, gpu, impl, variant, metric, flop_convention, notes;
  Workload workload;     // variant, dtype, pass, phase, shape, causal
  double value = 0;      // as printed, in `metric`
  double sm_clock_hz = 0;  // the SM clock the source states (sm_clock_mhz); 0: not stated
  // l2_start: "dirty" where the source flushed the L2 by writing a buffer before each call
  // (Workload::dirty_l2, set in `workload`), "clean" or empty where it did not or says nothing.
  // grads: "accumulate" where the source's timed backward also added dQ, dK, dV into .grad tensors
  // that already held one (Workload::accumulate_grads: leaf inputs whose .grad its harness did not
  // reset), "fresh" or empty where it reset them, called the kernels directly, or says nothing.
  double kvq_bytes_per_s = 0;  // convention kvq:GBPS, parsed: the bandwidth a bw_util_pct row divides by
};

// How a source counts, named in the flop_convention column:
//   fa        FlashAttention papers and benchmarks (FlashAttention-2 §4.1): 4·B·H·N·N_kv·d for the
//             forward pass, halved when causal, x2.5 for the backward pass, x3.5 for fwd+bwd.
//   time      the metric is a time already (time_us, time_ms, time_s).
//   kvq:GBPS  metric bw_util_pct: the percent of GBPS GB/s (the hardware bandwidth the source
//             divides by) the kernel drew reading a decode's inputs, (2·B·Nk·Hkv·d + B·H·d)
//             elements (FlashInfer's blog, 'Metrics': bytes read / latency / hardware bandwidth).
//   ncu       a hardware counter: metric dram_read_mb or dram_write_mb (Nsight Compute's
//             dram__bytes_read.sum / dram__bytes_write.sum in its Mbyte, 10^6 bytes), or
//             duration_us (gpu__time_duration.sum in µs: the kernel on the GPU, replayed with every
//             cache flushed, without its launch; held against profiled_kernel) over all the
//             variant's kernels; `ncu:KERNEL` over the attnio kernel of that name only (the
//             source's one launch, e.g. ncu:flash2_fwd_splitkv).
// Returns the time in seconds the row states, or nullopt with `why` filled when it cannot (a
// counter row states bytes, not a time).
std::optional<double> published_time_s(const PublishedRow& r, std::string* why);

// A counter row's number: which counter, over which kernel ("" for all the variant's kernels),
// and the bytes it counted or the time it took.
enum class CounterKind { dram_read, dram_write, duration };
std::string_view to_string(CounterKind k);  // "dram_read", "dram_write", "duration"
struct PublishedCounter {
  CounterKind kind = CounterKind::dram_read;
  std::string kernel;
  double bytes = 0;        // dram_read, dram_write
  double seconds = 0;      // duration
};
// nullopt when the row is not a counter row.
std::optional<PublishedCounter> published_counter(const PublishedRow& r);

// A row's variant parameters as the params column states them (key=value joined by ';', in key
// order); empty where it sets none.
std::string params_text(const Workload& w);

struct PublishedTable {
  std::vector<PublishedRow> rows;
  // "# ratchet: median <= P" in the file: the overall median |time error| (%) `attnio validate`
  // may not exceed (it exits 1 past it). A model change that improves the median lowers it.
  std::optional<double> ratchet_median_pct;
};

// Parses the CSV (RFC 4180 quoting; '#' lines are comments, one may be the ratchet). Throws
// InputError naming the file, the line and the field for anything malformed: a wrong header, a bad
// number, an unknown variant, dtype, pass, phase, read kind or metric.
PublishedTable parse_published(const std::string& text, const std::string& path);
PublishedTable read_published(const std::string& path);
// The table shipped with attnio (validation/published.csv, compiled in).
const std::string& shipped_published_csv();
PublishedTable shipped_published();

// One row held against the model: the published and predicted time, or why it was skipped (a
// metric without a conversion, a GPU attnio has no device for, an implementation it has no profile
// of for the row's variant, a shape the model refuses).
struct ValidatedRow {
  const PublishedRow* row = nullptr;
  // A counter row (published_counter): the bytes the closed form counts for the same kernel(s),
  // and the tile simulator's where it can replay them (the row covers every kernel of the
  // variant, or the one there is); the time fields stay 0.
  // A duration row (CounterKind::duration) fills published_s, predicted_s (profiled_kernel's time
  // summed over the kernels counted) and error_pct instead, and has no simulator figure.
  bool counter = false;
  double published_bytes = 0, predicted_bytes = 0, bytes_error_pct = 0;
  std::optional<double> simulated_bytes, sim_bytes_error_pct;
  double published_s = 0, predicted_s = 0, error_pct = 0;
  std::string bound;        // what the execution model says sets the time
  std::string profile;      // the implementation profile the prediction used
  double flops = 0, hbm_bytes = 0;  // the model's for the row's workload (where it sits on a roofline)
  std::string skipped_why;  // non-empty: not compared
};
// The profile that models a published row's implementation ("fa3-fp8" -> fa3, "vllm-paged-v2" ->
// vllm-paged); nullptr when attnio has none (validate_rows then skips the row and says why).
const ImplProfile* profile_for(const std::string& impl);
// One row held against its prediction on `dev`: its implementation's profile, or `forced` (nullptr:
// none) where that profile runs the row's variant. skipped_why is set when the row cannot be
// compared: no time conversion, no profile of the row's implementation for its variant, or a
// shape the model refuses.
ValidatedRow validate_row(const PublishedRow& r, const Device& dev, const ImplProfile* forced = nullptr);
// Predicts each row with its implementation's profile, or with `force_profile` for every row when
// given (e.g. "ideal", the roofline at datasheet peaks: the baseline the execution model replaced).
// `counters` false leaves the counter rows out (a time summary; they would run the simulator). The
// read and write rows of one workload share one simulation.
std::vector<ValidatedRow> validate_rows(const PublishedTable& table, const std::string& only_impl = "",
                                        const std::string& force_profile = "", bool counters = true);

// Over compared rows' errors (%, signed or already absolute): median, p90 and max |error| (nearest
// rank), the rows within 10, 25 and 40 %, and the rows below zero (predicted too fast, for signed
// time errors: predicted minus published).
struct ErrorSummary {
  std::size_t rows = 0;
  double median = 0, p90 = 0, max = 0;
  std::size_t within_10 = 0, within_25 = 0, within_40 = 0, negative = 0;
};
ErrorSummary summarize(const std::vector<double>& errors);
// The compared time rows' errors summarized per variant (its name; counter and skipped rows left
// out): which variants published measurements check, and how closely.
std::map<std::string, ErrorSummary> summarize_by_variant(const std::vector<ValidatedRow>& rows);

// How far the publications agree with each other: rows that measured the same thing (the same
// implementation on the same GPU, variant, pass, phase, causal flag, query and key lengths, head
// dim and query heads per K/V head; fp16 and bf16 together, the same kernels at the same tensor
// rate; for decode the whole shape, batch and heads included, since its time is not proportional to
// them) in two or more publications. Each row's published time is taken over the model's for that
// row, q = published / predicted, which divides out what the model accounts for between them
// (batch x heads, the clock a row states) and leaves the measurements' own disagreement:
//   spread = max q / min q - 1;
//   floor  = (max q - min q) / (max q + min q): the least worst |error| against the group that any
//            prediction scaling its rows alike can have (the error s / q - 1 is smallest at its
//            largest for s = 2 max q min q / (max q + min q), where it is that ratio either way).
// A group whose floor is 10 % cannot be held within 10 % by any model, this one or another.
struct AgreementGroup {
  std::string impl, gpu, variant, pass, phase, dtype;  // dtype "16-bit" for fp16 and bf16
  bool causal = false;
  Workload shape;                         // a member's; batch and heads name it only for decode
  std::vector<const ValidatedRow*> rows;  // in table order
  std::size_t publications = 0;           // distinct sources among them (2 or more)
  double spread_pct = 0, floor_pct = 0;
  double min_error_pct = 0, max_error_pct = 0;  // the model's signed errors against the rows
};
// Over compared time rows (counter and skipped rows are left out); groups in table order of their
// first row.
std::vector<AgreementGroup> agreement(const std::vector<ValidatedRow>& rows);

}  // namespace attnio::traces
