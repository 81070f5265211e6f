// SHD / SSC reader, chosen rows only (SpikeHdf5Options::rows, what a rank reads under MPI):
// equal to the same rows of a whole read, bit for bit; empty and out-of-range selections;
// rows outside the selection are not looked at.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <unistd.h>
#include <vector>

#include "asrc/core/random.hpp"
#include "asrc/data/spike_hdf5.hpp"
#include "../../support/refusal.hpp"
#include "../../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace asrc;

namespace {

using asrc_test::TempDir;

using Rows = std::vector<std::vector<double>>;
using URows = std::vector<std::vector<std::uint32_t>>;
using Labels = std::vector<std::int64_t>;

using asrc_test::contains;
using asrc_test::refusal_of;

// n rows of random spikes (some past 1.4 s, some rows empty), SHD labels.
void random_file(const std::string& path, int n, std::uint64_t seed, SpikeTimeType tt) {
  Rng rng(seed);
  Rows times(static_cast<std::size_t>(n));
  URows units(static_cast<std::size_t>(n));
  Labels labels;
  for (int r = 0; r < n; ++r) {
    const int k = r % 7 == 3 ? 0 : static_cast<int>(rng.below(200));
    for (int j = 0; j < k; ++j) {
      times[std::size_t(r)].push_back(rng.uniform01() * 1.5);
      units[std::size_t(r)].push_back(static_cast<std::uint32_t>(rng.below(700)));
    }
    labels.push_back(static_cast<std::int64_t>(rng.below(20)));
  }
  write_spike_hdf5(path, times, units, labels, tt);
}

// Sample i of `part` equals sample rows[i] of `whole`: label and every value.
void check_rows(const SpikeDataset& whole, const SpikeDataset& part, const std::vector<Index>& rows) {
  REQUIRE(part.size() == static_cast<Index>(rows.size()));
  CHECK(part.rows_in_file() == whole.rows_in_file());
  const std::size_t per = static_cast<std::size_t>(whole.steps() * whole.width());
  std::vector<float> a(per), b(per);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CHECK(part.label(Index(i)) == whole.label(rows[i]));
    whole.fill(rows[i], a.data());
    part.fill(Index(i), b.data());
    CHECK_MESSAGE(a == b, "sample ", i, " (row ", rows[i], ")");
  }
}

}  // namespace

TEST_CASE("row selections equal the same rows of a whole read") {
  TempDir tmp("asrc_spike_rows_");
  const int n = 41;
  for (SpikeTimeType tt : {SpikeTimeType::float16, SpikeTimeType::float32}) {
    const std::string p = tmp.file("rows.h5");
    random_file(p, n, 5 + static_cast<int>(tt), tt);
    SpikeHdf5Options o = SpikeHdf5Options::shd();
    o.read_rows = 4;  // reads that span several runs, and runs split over several reads
    const SpikeDataset whole(p, o);
    REQUIRE(whole.size() == n);
    CHECK(SpikeDataset::file_rows(p, o) == n);

    // Contiguous shards (rank_chunks of 3 ranks) add up to the whole read.
    std::uint64_t read = 0, out = 0;
    for (auto [a, b] : {std::pair<Index, Index>{0, 14}, {14, 28}, {28, 41}}) {
      SpikeHdf5Options s = o;
      s.rows = SpikeHdf5Options::row_range(a, b);
      const SpikeDataset part(p, s);
      check_rows(whole, part, *s.rows);
      CHECK(contains(part.describe(), str_cat("rows ", a, "..", b - 1)));
      read += part.spikes_read();
      out += part.spikes_out_of_range();
    }
    CHECK(read == whole.spikes_read());
    CHECK(out == whole.spikes_out_of_range());

    // Scattered rows (a validation choice): single rows, runs, the first and the last.
    for (const std::vector<Index>& rows :
         {std::vector<Index>{0}, std::vector<Index>{40}, std::vector<Index>{0, 2, 3, 4, 5, 6, 9, 17, 18, 40},
          std::vector<Index>{1, 3, 5, 7, 9, 11, 13}, SpikeHdf5Options::row_range(0, n)}) {
      SpikeHdf5Options s = o;
      s.rows = rows;
      check_rows(whole, SpikeDataset(p, s), rows);
      s.read_rows = 256;  // one read
      check_rows(whole, SpikeDataset(p, s), rows);
    }

    // With a limit: rows below it.
    SpikeHdf5Options s = o;
    s.limit = 10;
    s.rows = std::vector<Index>{2, 9};
    check_rows(whole, SpikeDataset(p, s), *s.rows);
  }
}

TEST_CASE("row selections: empty, past the end, unordered") {
  TempDir tmp("asrc_spike_rows_");
  const std::string p = tmp.file("edge.h5");
  random_file(p, 10, 3, SpikeTimeType::float16);
  SpikeHdf5Options o = SpikeHdf5Options::shd();

  SUBCASE("an empty selection gives an empty set, the file still checked") {
    o.rows = std::vector<Index>{};
    const SpikeDataset ds(p, o);
    CHECK(ds.size() == 0);
    CHECK(ds.rows_in_file() == 10);
    CHECK(ds.spikes_read() == 0);
    const std::string m = refusal_of([&] { SpikeDataset bad(tmp.file("missing.h5"), o); });
    CHECK(contains(m, "missing.h5"));
    CHECK(refusal_of([&] { SpikeHdf5Options::row_range(5, 4); }) ==
          "SpikeHdf5Options::row_range(): expected 0 <= first <= last, got [5, 4)");
    CHECK(SpikeHdf5Options::row_range(4, 4).empty());
  }
  SUBCASE("rows past the end are refused, naming the file and the row") {
    o.rows = SpikeHdf5Options::row_range(8, 11);
    const std::string m = refusal_of([&] { SpikeDataset ds(p, o); });
    CHECK(contains(m, "SpikeDataset::SpikeDataset(): expected strictly increasing rows below the 10 rows"));
    CHECK(contains(m, "'labels', 'spikes/times' and 'spikes/units' in file '" + p + "'"));
    CHECK(contains(m, "got row 10 at position 2"));
  }
  SUBCASE("rows past a limit are refused") {
    o.limit = 4;
    o.rows = std::vector<Index>{1, 4};
    const std::string m = refusal_of([&] { SpikeDataset ds(p, o); });
    CHECK(contains(m, "below the 4 rows kept by limit 4 of datasets"));
    CHECK(contains(m, "got row 4 at position 1"));
  }
  SUBCASE("unordered, repeated and negative rows are refused") {
    for (const std::vector<Index>& rows : {std::vector<Index>{3, 2}, std::vector<Index>{2, 2}, std::vector<Index>{-1}}) {
      o.rows = rows;
      const std::string m = refusal_of([&] { SpikeDataset ds(p, o); });
      CHECK(contains(m, "strictly increasing rows below the 10 rows"));
    }
  }
}

TEST_CASE("rows outside the selection are not looked at; errors inside it name the file row") {
  TempDir tmp("asrc_spike_rows_");
  // Rows 3 and 6 are damaged: a label out of range and a unit out of range.
  const Rows times = {{0.1}, {0.2}, {0.3}, {0.4}, {0.5}, {0.6}, {0.7}, {0.8}};
  const URows units = {{1}, {2}, {3}, {4}, {5}, {6}, {9999}, {8}};
  const Labels labels = {0, 1, 2, 77, 4, 5, 6, 7};
  const std::string p = tmp.file("damaged.h5");
  write_spike_hdf5(p, times, units, labels, SpikeTimeType::float32, SpikeUnitType::uint16);
  SpikeHdf5Options o = SpikeHdf5Options::shd();
  CHECK(contains(refusal_of([&] { SpikeDataset ds(p, o); }), "labels in [0, 20) in dataset 'labels'"));

  o.rows = std::vector<Index>{0, 1, 2, 4, 5, 7};
  const SpikeDataset ds(p, o);
  CHECK(ds.size() == 6);
  CHECK(ds.label(3) == 4);
  CHECK(ds.label(5) == 7);

  o.rows = std::vector<Index>{0, 3};
  std::string m = refusal_of([&] { SpikeDataset bad(p, o); });
  CHECK(contains(m, "labels in [0, 20) in dataset 'labels' of file '" + p + "' (row 3)"));
  CHECK(contains(m, "got 77"));
  o.rows = std::vector<Index>{5, 6};
  m = refusal_of([&] { SpikeDataset bad(p, o); });
  CHECK(contains(m, "unit indices in [0, 700) in dataset 'spikes/units' of file '" + p + "' (row 6, spike 0)"));

  // The same through the reading child process (asrc-train's setting).
  o.rows = std::vector<Index>{4, 5, 7};
  o.check_in_child_s = 60;
  CHECK(SpikeDataset(p, o).size() == 3);
  CHECK(SpikeDataset::file_rows(p, o) == 8);
}
