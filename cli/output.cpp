#include "output.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <ostream>

#include "attnio/model/errors.hpp"
#include "attnio/model/explain.hpp"

namespace attnio::cli {

namespace {

namespace json = boost::json;

const Value* find(const Record& r, const std::string& key) {
  for (const auto& [k, v] : r) {
    if (k == key) return &v;
  }
  return nullptr;
}

double as_double(const Value& v) {
  if (const auto* u = std::get_if<std::uint64_t>(&v)) return static_cast<double>(*u);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  return 0;
}

std::string plain(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* u = std::get_if<std::uint64_t>(&v)) return std::to_string(*u);
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", std::get<double>(v));
  return buf;
}

std::string cell(const Value& v, Kind kind) {
  char buf[64];
  // Text in a numeric column is a placeholder ("-": no figure), printed as it is.
  if (std::holds_alternative<std::string>(v)) return plain(v);
  switch (kind) {
    case Kind::text:
    case Kind::count: return plain(v);
    case Kind::bytes: return human_bytes(as_double(v));
    case Kind::binary_bytes: {
      static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
      double x = as_double(v);
      int i = 0;
      while (x >= 1024 && i < 4) {
        x /= 1024;
        ++i;
      }
      std::snprintf(buf, sizeof buf, x == static_cast<long long>(x) ? "%.0f %s" : "%.1f %s", x, units[i]);
      return buf;
    }
    case Kind::flops: return human_flops(as_double(v));
    case Kind::time: return human_time(as_double(v));
    case Kind::ratio: std::snprintf(buf, sizeof buf, "%.1f", as_double(v)); return buf;
    case Kind::ratio3: std::snprintf(buf, sizeof buf, "%.3f", as_double(v)); return buf;
    case Kind::ratio_percent: std::snprintf(buf, sizeof buf, "%.1f%%", 100 * as_double(v)); return buf;
    case Kind::rate_bytes: return human_bytes(as_double(v)) + "/s";
    case Kind::rate_flops: return human_flops(as_double(v)) + "/s";
  }
  return plain(v);
}

// Display width of UTF-8 text: count the bytes that start a code point.
int display_width(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

class TablePrinter : public Printer {
public:
  TablePrinter(std::ostream& out, std::vector<Column> cols) : out_(out), cols_(std::move(cols)) {}
  void row(const Record& r) override {
    if (!header_done_) {
      std::vector<std::string> titles;
      for (const auto& c : cols_) titles.push_back(c.title);
      line(titles);
      header_done_ = true;
    }
    std::vector<std::string> cells;
    for (const auto& c : cols_) {
      const Value* v = find(r, c.key);
      cells.push_back(v ? cell(*v, c.kind) : "-");
    }
    line(cells);
  }
  void end() override { out_.flush(); }

private:
  void line(const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const int pad = cols_[i].width - display_width(cells[i]);
      const bool left = cols_[i].kind == Kind::text;
      if (!left) s.append(std::max(pad, 0), ' ');
      s += cells[i];
      if (left && i + 1 < cells.size()) s.append(std::max(pad, 0), ' ');
      if (i + 1 < cells.size()) s += "  ";
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out_ << s << '\n' << std::flush;
  }
  std::ostream& out_;
  std::vector<Column> cols_;
  bool header_done_ = false;
};

class CsvPrinter : public Printer {
public:
  explicit CsvPrinter(std::ostream& out) : out_(out) {}
  void row(const Record& r) override {
    if (keys_.empty()) {
      for (const auto& [k, v] : r) keys_.push_back(k);
      write_line([&](std::size_t i) { return keys_[i]; }, keys_.size());
    }
    write_line(
        [&](std::size_t i) {
          const Value* v = find(r, keys_[i]);
          return v ? plain(*v) : std::string();
        },
        keys_.size());
  }
  void end() override { out_.flush(); }

private:
  template <typename F>
  void write_line(F field, std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
      if (i) s += ',';
      const std::string f = field(i);
      if (f.find_first_of(",\"\n") == std::string::npos) {
        s += f;
      } else {
        s += '"';
        for (char c : f) s += c == '"' ? std::string("\"\"") : std::string(1, c);
        s += '"';
      }
    }
    out_ << s << '\n' << std::flush;
  }
  std::ostream& out_;
  std::vector<std::string> keys_;
};

json::object to_json(const Record& r) {
  json::object o;
  for (const auto& field : r) {
    const std::string& k = field.first;
    std::visit([&o, &k](const auto& x) { o[k] = x; }, field.second);
  }
  return o;
}

// Objects are written as they come; a lone object is held back until end() decides between a bare
// object and a one-element array.
class JsonPrinter : public Printer {
public:
  JsonPrinter(std::ostream& out, bool single) : out_(out), single_(single) {}
  void row(const Record& r) override {
    if (count_ == 0) {
      first_ = json::serialize(to_json(r));
    } else {
      if (count_ == 1) out_ << "[\n  " << first_;
      out_ << ",\n  " << json::serialize(to_json(r)) << std::flush;
    }
    ++count_;
  }
  void end() override {
    if (count_ == 0) out_ << "[]\n";
    else if (count_ == 1) out_ << (single_ ? first_ + "\n" : "[\n  " + first_ + "\n]\n");
    else out_ << "\n]\n";
    out_.flush();
  }

private:
  std::ostream& out_;
  bool single_;
  std::size_t count_ = 0;
  std::string first_;
};

}  // namespace

Format parse_format(const std::string& s) {
  if (s == "table") return Format::table;
  if (s == "csv") return Format::csv;
  if (s == "json") return Format::json;
  throw InputError("unknown format '" + s + "' (known: table, csv, json)");
}

std::unique_ptr<Printer> make_printer(Format f, std::ostream& out, std::vector<Column> columns,
                                      bool single_object) {
  switch (f) {
    case Format::table: return std::make_unique<TablePrinter>(out, std::move(columns));
    case Format::csv: return std::make_unique<CsvPrinter>(out);
    case Format::json: return std::make_unique<JsonPrinter>(out, single_object);
  }
  return nullptr;
}

std::vector<Column> prediction_columns() {
  return {
      {"variant", "variant", 14, Kind::text},   {"phase", "phase", 7, Kind::text},
      {"B", "batch", 3, Kind::count},          {"N", "seq", 6, Kind::count},
      {"Nk", "kv_len", 6, Kind::count},        {"H", "heads", 3, Kind::count},
      {"Hkv", "kv_heads", 3, Kind::count},     {"d", "head_dim", 4, Kind::count},
      {"FLOPs", "flops", 11, Kind::flops},     {"HBM", "hbm_bytes", 9, Kind::bytes},
      {"L2", "l2_bytes", 9, Kind::bytes},      {"AI", "arithmetic_intensity", 7, Kind::ratio},
      {"bound", "bound", 7, Kind::text},       {"limited by", "limited_by", 10, Kind::text},
      {"impl", "impl", 11, Kind::text},        {"time", "predicted_time_s", 9, Kind::time}, {"KV cache", "kv_cache_bytes", 9, Kind::bytes},
      {"causal", "causal", 6, Kind::text},     {"params", "params", 0, Kind::text},
  };
}

}  // namespace attnio::cli
