// Predictions held against measurements: every ok record of a trace re-predicted with the current
// model on the trace's device, beside the measured DRAM bytes and time.
#pragma once

#include <optional>
#include <vector>

#include "attnio/model/record.hpp"
#include "attnio/traces/trace.hpp"

namespace attnio::traces {

// The Activity API's kernel figures in a record (attnio profile, profiler/activity.hpp), in ns.
inline constexpr const char* kActivitySpan = "cupti_activity__kernel_span";
inline constexpr const char* kActivitySum = "cupti_activity__kernel_duration.sum";

// A record's measured time in ns: the Activity API's span, else gpu__time_duration.sum; nullopt
// (or <= 0) when it has neither.
std::optional<double> measured_time_ns(const Record& r);
// True when that time comes from the Activity API.
bool time_from_activity(const Record& r);

// What compare, export and the GUI hold a prediction against: an ok record's DRAM bytes
// (dram__bytes_read.sum + dram__bytes_write.sum) and its measured time. nullopt when the record
// failed or lacks either.
// In a simulate campaign (attnio sweep --simulate --out) the figures held against the prediction
// are the tile simulator's (sim_hbm_bytes, sim_time_s): `simulated` says so.
struct MeasuredPoint {
  double hbm_bytes = 0, time_s = 0;
  bool time_from_activity = false;
  bool simulated = false;
};
std::optional<MeasuredPoint> measurement(const Record& r);

// A trace's records measure attnio's own kernels, so their predictions use the `attnio`
// implementation profile (`ideal` where the trace's device gives no compute capability).
Workload as_profiled(Workload w, const Device& device);
// The workload a record's prediction describes: a profile trace's on attnio's kernels (as_profiled),
// a simulate campaign's with the simulator's tiles (with_kernel_tiles, as the simulator's own
// formula), a predict campaign's as recorded. Its device is record_device(h, r).
Workload predicted_workload(const Header& h, const Record& r);

// Measured DRAM bytes: dram__bytes_read.sum + dram__bytes_write.sum; time: the Activity API's
// kernel span (kActivitySpan) when present, else gpu__time_duration.sum (ns). The measured verdict is "memory" when the achieved DRAM bandwidth is a larger fraction of
// its ceiling than the achieved tensor rate (the model's FLOPs over the measured time) of its own.
// Rows: one per ok record with both metrics; failed records and records lacking them are counted in
// the summary's "skipped".
// With `simulate`, each row also holds the tile simulator's DRAM bytes and time and their errors
// (sim_hbm_bytes_error_pct, sim_time_error_pct); a variant the simulator cannot schedule gets a
// sim_note instead. The summary then adds the simulator's median byte error per variant.
// `impl`: the implementation the predictions describe (nullptr: attnio's own kernels, as_profiled).
std::vector<attnio::Record> compare_rows(const Trace& t, bool simulate = false, const ImplProfile* impl = nullptr);
// Per variant: records, median and max |error| of bytes and time (%), bound agreement (%), skipped.
std::vector<attnio::Record> compare_summary(const Trace& t, const std::vector<attnio::Record>& rows);

}  // namespace attnio::traces
