// Replays every input under fuzz/regressions/<target>/ (inputs that once broke a
// parser, kept after the fix) and fuzz/seeds/<target>/ through the same entry
// function as the libFuzzer target (fuzz/targets.hpp). An entry returns normally
// for accepted and refused inputs alike; anything else -- another exception type,
// a violated property (asrc_fuzz::Finding), or a sanitizer report in the
// ASRC_SANITIZE build -- fails the test. fuzz_hdf5 inputs are replayed only in a
// build with HDF5 (ASRC_HAVE_HDF5); without it, ctest lists that part as skipped.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../../fuzz/targets.hpp"

namespace fs = std::filesystem;

namespace {

// fuzz_hdf5 is replayed by its own test case below (it needs the optional HDF5).
const char* const kTargets[] = {"fuzz_idx", "fuzz_wav", "fuzz_checkpoint", "fuzz_cli"};

std::vector<fs::path> inputs(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() != ".md") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/// Replay the seeds and regressions of one target; every target has committed seeds.
void replay(const char* target, asrc_fuzz::Entry entry) {
  const fs::path root = fs::path(ASRC_SOURCE_DIR) / "fuzz";
  REQUIRE(fs::is_directory(root));
  std::size_t seeds = 0;
  for (const char* kind : {"seeds", "regressions"}) {
    for (const fs::path& p : inputs(root / kind / target)) {
      CAPTURE(p.string());
      const std::string bytes = slurp(p);
      CHECK_NOTHROW(entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      if (std::string(kind) == "seeds") ++seeds;
    }
  }
  CAPTURE(target);
  CHECK(seeds > 0);  // fuzz/seeds/<target>/ holds the committed seeds
}

}  // namespace

TEST_CASE("fuzz targets: every seed and regression input is handled") {
  for (const char* target : kTargets) {
    const asrc_fuzz::Entry entry = asrc_fuzz::entry_by_name(target);
    REQUIRE_MESSAGE(static_cast<bool>(entry), target);
    replay(target, entry);
  }
}

// HDF5 is optional: without it this case reports a skip, which ctest shows as "Skipped"
// (tests/CMakeLists.txt runs each "optional-*" suite as its own test).
TEST_SUITE("optional-hdf5") {
  TEST_CASE("fuzz targets: fuzz_hdf5 seeds and regressions") {
    const asrc_fuzz::Entry entry = asrc_fuzz::entry_by_name("fuzz_hdf5");
    if (!entry) {
      std::printf("asrc-skip: fuzz_hdf5 needs HDF5, and this build has none (install libhdf5-dev)\n");
      return;
    }
    replay("fuzz_hdf5", entry);
  }
}

TEST_CASE("fuzz targets: hostile inputs built here") {
  using asrc_fuzz::run_cli;
  auto cli = [](const std::vector<std::string>& args) {
    std::string s;
    for (std::size_t i = 0; i < args.size(); ++i) s += (i ? std::string(1, '\0') : "") + args[i];
    return run_cli(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  // Widths whose parameter count overflows 64 bits: refused or not built, never wrapped.
  CHECK_NOTHROW(cli({"--layers", "4294967296,4294967296"}));
  CHECK_NOTHROW(cli({"--layers", "9223372036854775807", "--model-version", "FF"}));
  CHECK_NOTHROW(cli({"--skip", "9223372036854775807", "--layers", "2"}));
  CHECK_NOTHROW(cli({"--threads", "2147483647", "--layers", "2", "--skip", "1"}));
  CHECK_NOTHROW(cli({"--layers", "1,,2"}));
  CHECK_NOTHROW(cli({"--lr", "nan"}));
  CHECK_NOTHROW(cli({"--preset"}));
  CHECK_NOTHROW(cli({"-x"}));
  // Truncations of a valid IDX file, plain and behind gzip.
  const std::string idx = std::string("\x0e") + std::string("\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03", 11);
  for (std::size_t n = 0; n <= idx.size(); ++n) {
    CHECK_NOTHROW(asrc_fuzz::run_idx(reinterpret_cast<const std::uint8_t*>(idx.data()), n));
    std::string gz = idx.substr(0, n);
    if (!gz.empty()) gz[0] = static_cast<char>(gz[0] | 1);
    CHECK_NOTHROW(asrc_fuzz::run_idx(reinterpret_cast<const std::uint8_t*>(gz.data()), gz.size()));
  }
}
