// The variant registry: every declaration complete and consistent, parameters range-checked in
// one place, the workload's parameter set, and README's variants table equal to what
// `attnio variants --markdown` prints from the declarations.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "attnio/model/errors.hpp"
#include "attnio/model/predict.hpp"
#include "attnio/model/variant.hpp"
#include "attnio/model/workload.hpp"

namespace attnio {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Registry, EveryDeclarationIsComplete) {
  std::set<std::string_view> names;
  for (Variant v : all_variants()) {
    SCOPED_TRACE(std::string(v.name()));
    EXPECT_TRUE(names.insert(v.name()).second) << "name declared twice";
    EXPECT_EQ(parse_variant(v.name()), v);
    EXPECT_EQ(all_variants()[variant_index(v)], v);
    EXPECT_FALSE(v->summary.empty());
    EXPECT_FALSE(v->sources.empty());
    EXPECT_TRUE(v->prefill || v->decode);
    EXPECT_NE(v->evaluate, nullptr);
    EXPECT_NE(v->io_complexity, nullptr);
    EXPECT_NE(v->derivation, nullptr);
    EXPECT_TRUE(v->schedule != nullptr || !v->no_schedule.empty()) << "no schedule and no reason";
    for (const ParamSpec* p : v->params) {
      SCOPED_TRACE(std::string(p->key));
      EXPECT_FALSE(p->help.empty());
      EXPECT_FALSE(p->source.empty());
      EXPECT_FALSE(p->default_text.empty());
      EXPECT_LE(p->min, p->max);
      EXPECT_EQ(find_param(p->key)->type, p->type) << "declarations of one key disagree on its type";
      EXPECT_EQ(find_param(p->key)->help, p->help) << "one flag, one help line";
    }
  }
  EXPECT_EQ(default_variant(), parse_variant("flash2"));
  EXPECT_THROW(parse_variant("flash3000"), InputError);
}

TEST(Registry, ParamSetIsSortedAndComparesByValue) {
  ParamSet a, b;
  a.set_count("window", 64);
  a.set_count("chunk", 8);
  b.set_count("chunk", 8);
  b.set_count("window", 64);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.entries().size(), 2u);
  EXPECT_EQ(a.entries()[0].key, "chunk");
  b.set_count("window", 65);
  EXPECT_FALSE(a == b);
  b.erase("window");
  EXPECT_FALSE(b.has("window"));
  EXPECT_EQ(b.entries().size(), 1u);
  EXPECT_THROW(a.set_count("windw", 1), InputError);
}

TEST(Registry, DefaultsComeFromTheDeclarationOfTheVariant) {
  Workload w;
  w.variant = parse_variant("chunked");
  EXPECT_EQ(w.count("chunk"), 1024u);  // Rabe & Staats
  w.variant = parse_variant("linear");
  EXPECT_EQ(w.count("chunk"), 64u);    // flash-linear-attention
  w.head_dim = 96;
  EXPECT_EQ(w.count("feature_dim"), 96u);  // the rule: F = d
  EXPECT_THROW(w.count("window"), InputError);
  const Workload r = resolve(w, default_device());
  EXPECT_EQ(r.params.find("chunk")->count, 64u);
  EXPECT_EQ(r.params.find("feature_dim")->count, 96u);
  EXPECT_EQ(resolve(r, default_device()).params, r.params);  // idempotent
}

TEST(Registry, ForVariantKeepsOnlyWhatTheVariantDeclares) {
  Workload w;
  w.set("window", 256).set("page_size", 32).set("cla_share", 2);
  const Workload sw = for_variant(w, parse_variant("sliding-window"));
  EXPECT_TRUE(sw.params.has("window") && sw.params.has("cla_share") && !sw.params.has("page_size"));
  const Workload lin = for_variant(w, parse_variant("linear"));
  EXPECT_TRUE(lin.params.entries().empty());
}

TEST(Registry, ParametersAreCheckedAgainstTheirDeclaration) {
  auto error = [](Workload w) {
    try {
      predict(default_device(), w);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  Workload w;
  w.set("window", 64);
  EXPECT_EQ(error(w), "--window does not apply to flash2");
  w = Workload{};
  w.variant = parse_variant("paged");
  w.phase = Phase::decode;
  w.set("page_size", 1024);
  EXPECT_EQ(error(w), "--page-size must be at most 512");
  w.set("page_size", 48);
  EXPECT_EQ(error(w), "--page-size 48 must divide 512 (vLLM's partition size)");
  w = Workload{};
  w.variant = parse_variant("block-sparse");
  w.set_real("block_density", 0);
  EXPECT_EQ(error(w), "--block-density must be in (0, 1]");
  w.set_real("block_density", 1);
  EXPECT_EQ(error(w), "");
  w = Workload{};
  w.set("cla_share", std::uint64_t{1} << 41);
  EXPECT_EQ(error(w), "--cla-share 2199023255552 is larger than 2^40");
  w.set("cla_share", 0);
  EXPECT_EQ(error(w), "--cla-share must be at least 1");
  w = Workload{};
  w.set("splits", 0);  // 0 = chosen by the model, for the variants that take it
  w.variant = parse_variant("flash-decoding");
  w.phase = Phase::decode;
  EXPECT_EQ(error(w), "");
}

TEST(Registry, ReadmeVariantsTableIsTheRegistry) {
  const std::string readme = slurp(std::string(ATTNIO_SOURCE_DIR) + "/README.md");
  const std::string begin = "<!-- variants:begin (attnio variants --markdown) -->\n", end = "<!-- variants:end -->";
  const auto b = readme.find(begin), e = readme.find(end);
  ASSERT_NE(b, std::string::npos) << "README.md lacks the variants table markers";
  ASSERT_NE(e, std::string::npos);
  const std::string table = readme.substr(b + begin.size(), e - b - begin.size());
  const std::string out = ::testing::TempDir() + "attnio_variants.md";
  const int status = std::system((std::string(ATTNIO_CLI) + " variants --markdown >" + out).c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(table, slurp(out)) << "README's variants table is stale: paste `attnio variants --markdown` between the markers";
}

}  // namespace
}  // namespace attnio
