// The one table of asrc-train's flags (run_flags() in train/run_config.hpp): every setting
// round-trips through config.txt / checkpoint text, every flag is in the fuzz target's
// dictionary (whose entry names are unique), and the flag names are unique.
#include <doctest/doctest.h>

#include <asrc/asrc.hpp>

#include <fstream>
#include <set>
#include <sstream>

using namespace asrc;

TEST_CASE("flags: names are unique and settings round-trip through their text") {
  std::set<std::string> names;
  for (const auto& f : run_flags()) {
    INFO(f.name);
    CHECK(names.insert(f.name).second);
    CHECK(std::string(f.help).size() > 5);
  }
  for (const auto& preset : preset_names()) {
    INFO(preset);
    const RunConfig c = make_preset(preset);
    c.validate();
    const auto m = c.to_map();
    Index settings = 0;
    for (const auto& f : run_flags()) settings += f.setting();
    CHECK(Index(m.size()) == settings);
    CHECK(RunConfig::from_map(m).to_map() == m);
  }
  RunConfig c;
  CHECK_THROWS_WITH_AS(c.set("resume", "x"), "RunConfig::set(): expected a known option (see --help), got --resume",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(c.set("tau-m", "fast"), "RunConfig::set(): expected a number for --tau-m, got 'fast'",
                       std::invalid_argument);
  CHECK(is_switch_flag("paper-form"));
  CHECK(!is_switch_flag("tau-m"));
}

TEST_CASE("flags: the fuzz dictionary lists every flag") {
  std::ifstream in(std::string(ASRC_SOURCE_DIR) + "/fuzz/fuzz_cli.dict");
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string dict = ss.str();
  for (const auto& f : run_flags()) {
    INFO(f.name);
    CHECK(dict.find(std::string("\"--") + f.name + "\"") != std::string::npos);
  }
  // Entry names (before '=') are unique, so that an entry edited by hand is not
  // mistaken for another.
  std::set<std::string> entries;
  std::istringstream lines(dict);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    INFO(line);
    CHECK(entries.insert(line.substr(0, eq)).second);
  }
  CHECK(entries.size() > run_flags().size());
}

TEST_CASE("flags: the step schedule") {
  CHECK(step_lr(0, 0.1, 10, 0.8) == 0.1);
  CHECK(step_lr(9, 0.1, 10, 0.8) == 0.1);
  CHECK(step_lr(10, 0.1, 10, 0.8) == 0.1 * 0.8);
  CHECK(step_lr(25, 0.1, 10, 0.8) == 0.1 * 0.8 * 0.8);
  CHECK(scheduled_lr(LrSchedule::step, 20, 100, 1.0, StepConfig{5, 0.5}) == 0.0625);
}
