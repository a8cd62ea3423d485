// The command line: the input is split at newlines into argv. Commands that write files, run for a
// set time or need a GPU are left out; output goes nowhere.
#include "fuzz_common.hpp"

#include <iostream>
#include <streambuf>
#include <vector>

#include "commands.hpp"

namespace {

struct NullBuf : std::streambuf {
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> args;
  std::string cur;
  for (char c : attnio::fuzz::text(data, size)) {
    if (c == '\n') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  args.push_back(cur);
  static const char* const allowed[] = {"predict", "sweep", "explain", "report", "model", "models", "devices", "compare", "--help"};
  bool ok = false;
  for (const char* a : allowed) ok = ok || args[0] == a;
  if (!ok) return 0;
  for (const auto& a : args) {
    // File outputs and simulation (seconds per point) stay out, abbreviated too: Boost accepts
    // any unambiguous prefix (the first 600 s run found "--simulat" as an 11 s slow unit).
    if (a.rfind("--", 0) != 0) continue;
    const std::string name = a.substr(2, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 2);
    for (const char* banned : {"simulate", "trace-out", "chrome-trace", "out", "out-device", "chrome"}) {
      if (name.size() >= 2 && std::string(banned).rfind(name, 0) == 0) return 0;
    }
  }
  static NullBuf null;
  auto* out = std::cout.rdbuf(&null);
  auto* err = std::cerr.rdbuf(&null);
  const int rc = attnio::cli::run(args);
  std::cout.rdbuf(out);
  std::cerr.rdbuf(err);
  if (rc == 1) std::abort();  // an internal error: an exception that is not InputError
  return 0;
}
