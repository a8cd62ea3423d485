// Printing records as a table, CSV or JSON. Rows are written (and flushed) as they come, so a long
// sweep piped to a file loses nothing if it is interrupted.
#pragma once

#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "attnio/model/record.hpp"

namespace attnio::cli {

enum class Format { table, csv, json };
Format parse_format(const std::string& s);

// bytes: SI (kB = 1000 B) for traffic; binary_bytes: KiB/MiB/GiB for capacities.
enum class Kind { text, count, bytes, binary_bytes, flops, time, ratio, ratio3, ratio_percent, rate_bytes, rate_flops };
struct Column {
  std::string title;
  std::string key;
  int width;
  Kind kind;
};

class Printer {
public:
  virtual ~Printer() = default;
  virtual void row(const Record& r) = 0;
  virtual void end() = 0;
};

// `columns` shape the table format only; CSV and JSON carry every key of the record.
// `single_object`: JSON prints a bare object when exactly one record is printed.
std::unique_ptr<Printer> make_printer(Format f, std::ostream& out, std::vector<Column> columns,
                                      bool single_object);

// The table columns of a prediction.
std::vector<Column> prediction_columns();

}  // namespace attnio::cli
