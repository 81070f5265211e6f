// Google Speech Commands, chosen samples only (GscOptions::rows, what a rank reads under
// MPI): equal to the same samples of a whole read, bit for bit; only the chosen clips are
// read (a damaged clip outside them is not touched); empty and out-of-range selections;
// each selection has its own cache file.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "asrc/data/gsc.hpp"
#include "../support/gsc_corpus.hpp"

using asrc::GscDataset;
using asrc::GscOptions;
using asrc::GscSplit;
using asrc::Index;
using asrc::str_cat;

namespace {
using asrc_test::copy_corpus;
using asrc_test::error_of;
namespace fs = std::filesystem;

const std::string& kRoot = asrc_test::kGscRoot;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Sample i of `part` equals sample rows[i] of `whole`: path, label and every feature.
void check_rows(const GscDataset& whole, const GscDataset& part, const std::vector<Index>& rows) {
  REQUIRE(part.size() == static_cast<Index>(rows.size()));
  CHECK(part.listed() == whole.size());
  const size_t per = static_cast<size_t>(whole.steps() * whole.width());
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(part.path(Index(i)) == whole.path(rows[i]));
    CHECK(part.label(Index(i)) == whole.label(rows[i]));
    CHECK(std::memcmp(part.features(Index(i)), whole.features(rows[i]), per * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("GSC rows: chosen samples equal the same samples of a whole read") {
  asrc_test::TempDir tmp("asrc_test_gsc_rows_");
  const std::string root = tmp.str() + "/corpus";
  copy_corpus(root, {"yes", "no", "up"});
  GscOptions o;
  o.threads = 1;
  const GscDataset whole(root, GscSplit::train, o);
  const Index n = whole.size();
  REQUIRE(n >= 10);
  CHECK(GscDataset::list_size(root, GscSplit::train, o) == n);
  CHECK(GscDataset::list_size(root, GscSplit::test, o) == GscDataset(root, GscSplit::test, o).size());

  std::vector<std::vector<Index>> selections = {{0}, {n - 1}, {1, 2, 3, 7, n - 2}, {}};
  for (Index a : {Index(0), n / 3, 2 * n / 3}) {  // contiguous shards of 3 ranks
    const Index b = a == 2 * n / 3 ? n : a + n / 3;
    std::vector<Index> r;
    for (Index i = a; i < b; ++i) r.push_back(i);
    selections.push_back(r);
  }
  for (const auto& rows : selections) {
    GscOptions s = o;
    s.rows = rows;
    const GscDataset part(root, GscSplit::train, s);
    check_rows(whole, part, rows);
    CHECK(part.computed() == static_cast<Index>(rows.size()));
  }
  GscOptions s = o;
  s.rows = std::vector<Index>{2, 3, 4};
  CHECK(contains(GscDataset(root, GscSplit::train, s).describe(), str_cat("rows 2..4 of ", n)));
}

TEST_CASE("GSC rows: a damaged clip outside the selection is not read") {
  asrc_test::TempDir tmp("asrc_test_gsc_rows_");
  const std::string root = tmp.str() + "/corpus";
  copy_corpus(root, {"yes", "no"});
  GscOptions o;
  o.threads = 1;
  const GscDataset whole(root, GscSplit::train, o);
  const Index n = whole.size();
  const std::string damaged = root + "/" + whole.path(n - 1);
  std::ofstream(damaged, std::ios::binary | std::ios::trunc) << "garbage, not a RIFF file";
  CHECK(contains(error_of([&] { GscDataset(root, GscSplit::train, o); }), damaged));

  GscOptions s = o;
  s.rows = std::vector<Index>{};
  for (Index i = 0; i + 1 < n; ++i) s.rows->push_back(i);
  const GscDataset part(root, GscSplit::train, s);
  check_rows(whole, part, *s.rows);
  s.rows = std::vector<Index>{0, n - 1};
  CHECK(contains(error_of([&] { GscDataset(root, GscSplit::train, s); }), damaged));
}

TEST_CASE("GSC rows: rows past the end and unordered rows are refused") {
  GscOptions o;
  const Index n = GscDataset::list_size(kRoot, GscSplit::test, o);
  o.rows = std::vector<Index>{0, n};
  CHECK(error_of([&] { GscDataset(kRoot, GscSplit::test, o); }) ==
        str_cat("GscDataset::GscDataset(): expected strictly increasing rows below the ", n,
                " samples of the test split of '", kRoot, "', got row ", n, " at position 1"));
  o.rows = std::vector<Index>{3, 3};
  CHECK(contains(error_of([&] { GscDataset(kRoot, GscSplit::test, o); }), "got row 3 at position 1"));
  o.rows = std::vector<Index>{-1};
  CHECK(contains(error_of([&] { GscDataset(kRoot, GscSplit::test, o); }), "got row -1 at position 0"));
}

TEST_CASE("GSC rows: each selection has its own cache file, reused by the same selection") {
  asrc_test::TempDir tmp("asrc_test_gsc_rows_");
  const std::string root = tmp.str() + "/corpus";
  copy_corpus(root, {"up"});
  GscOptions o;
  o.threads = 1;
  o.cache_dir = tmp.str() + "/cache";
  const GscDataset whole(root, GscSplit::train, o);
  GscOptions s = o;
  s.rows = std::vector<Index>{1, 2, 5};
  const GscDataset first(root, GscSplit::train, s);
  CHECK_FALSE(first.loaded_from_cache());
  CHECK(first.cache_file() != whole.cache_file());
  const GscDataset again(root, GscSplit::train, s);
  CHECK(again.loaded_from_cache());
  CHECK(again.computed() == 0);
  check_rows(whole, again, *s.rows);
  CHECK(GscDataset(root, GscSplit::train, o).loaded_from_cache());  // the whole set's file is intact
}
