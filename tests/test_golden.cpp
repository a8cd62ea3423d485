// Golden outputs (tests/golden/, written by scripts/golden): predict/sweep, simulate and explain
// over every variant, device, phase and pass on several shapes must give exactly the recorded
// numbers and text. A change that moves a number on purpose regenerates the files and says why in
// its commit message. JSON outputs are compared as parsed values (every number exactly, key order
// free); text outputs byte for byte. A variant added later adds records to `--variant all`: those of
// variants the golden file does not hold are left out of the comparison.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>
#include <sys/wait.h>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kGolden = fs::path(ATTNIO_SOURCE_DIR) / "tests" / "golden";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Single quotes protect every argument from the shell; none of the recorded ones holds a quote.
std::string shell_quoted(const std::string& arg) { return "'" + arg + "'"; }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kGolden)) {
    if (entry.path().extension() == ".args") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, OutputUnchanged) {
  const std::string name = GetParam();
  std::istringstream args(slurp(kGolden / (name + ".args")));
  std::string cmd = ATTNIO_CLI, arg;
  while (std::getline(args, arg)) {
    ASSERT_EQ(arg.find('\''), std::string::npos) << name << ": an argument holds a quote";
    cmd += " " + shell_quoted(arg);
  }
  const fs::path out = fs::path(::testing::TempDir()) / ("attnio_golden_" + name + ".out");
  const int status = std::system((cmd + " >" + shell_quoted(out.string()) + " 2>/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
  const std::string want = slurp(kGolden / (name + ".out")), got = slurp(out);
  ASSERT_FALSE(want.empty()) << name << ": empty golden output";
  if (want.front() == '{' || want.front() == '[') {
    json::error_code ec;
    const json::value want_json = json::parse(want, ec);
    ASSERT_FALSE(ec) << name << ": golden output is not JSON";
    const json::value got_json = json::parse(got, ec);
    ASSERT_FALSE(ec) << name << ": output is not JSON:\n" << got.substr(0, 400);
    if (want_json.is_array() && got_json.is_array()) {
      const auto& w = want_json.as_array();
      std::set<std::string> recorded;
      for (const auto& r : w) recorded.insert(std::string(r.at("variant").as_string()));
      json::array g;
      for (const auto& r : got_json.as_array()) {
        if (recorded.count(std::string(r.at("variant").as_string()))) g.push_back(r);
      }
      ASSERT_EQ(w.size(), g.size()) << name << ": record count";
      for (std::size_t i = 0; i < w.size(); ++i) {
        ASSERT_EQ(w[i], g[i]) << name << " record " << i << "\nwant " << json::serialize(w[i]) << "\ngot  "
                              << json::serialize(g[i]);
      }
    } else {
      EXPECT_EQ(want_json, got_json) << name << "\nwant " << want << "\ngot  " << got;
    }
  } else {
    EXPECT_EQ(want, got) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, ::testing::ValuesIn(case_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id = info.param;
                           std::replace(id.begin(), id.end(), '-', '_');
                           return id;
                         });

TEST(GoldenFiles, CoverEveryKindOfOutput) {
  const auto names = case_names();
  auto count = [&](const std::string& prefix) {
    return std::count_if(names.begin(), names.end(), [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
  };
  EXPECT_GE(count("sweep-"), 4);
  EXPECT_GE(count("simulate-"), 20);
  EXPECT_GE(count("explain-"), 17);
}

}  // namespace
