// A trace as Chrome trace-event JSON for Perfetto / chrome://tracing: the measured kernel runs and
// the model's predicted time for each, side by side.
#pragma once

#include <iosfwd>

#include "attnio/traces/trace.hpp"

namespace attnio::traces {

// Layout: the records are placed one after another in file order (a trace keeps durations, not
// wall-clock start times). Each record gets one slot as wide as the longer of its measured and
// predicted time, so a kernel lines up across the two processes:
//   pid 1 "measured": one complete event per ok record, as long as its measured time (traces::measured_time_ns);
//   pid 2 "predicted": one per record, predicted_time_s long (the prediction stored in the record
//     when there is one, else the current model's, named in args.prediction_source);
//   failed records: an instant event on pid 1 carrying the error.
// Threads are variants (one tid per variant, named), so a variant's runs share a row. Every event
// carries the kernel, workload summary, launch config, metrics and the prediction in args.
// Records without a measured time appear on pid 2 only.
void write_chrome(const Trace& t, std::ostream& out);

}  // namespace attnio::traces
