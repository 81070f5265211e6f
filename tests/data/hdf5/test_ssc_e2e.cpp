// End-to-end SSC run on a small synthetic file pair in the published layout
// (float16 times, uint16 units, uint16 labels): the files are written with
// write_spike_hdf5, read back through load_task ("ssc", n_bins 5), and small SRC
// and ASRC networks are trained with Trainer until they classify the held-out
// file well above chance. Spikes at or past 1.4 s must be counted as dropped.
#include <doctest/doctest.h>

#include <asrc/data/spike_hdf5.hpp>
#include <asrc/train/tasks.hpp>
#include <asrc/train/run_trainer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace asrc;
namespace fs = std::filesystem;

namespace {

/// A private folder under the system temp dir, deleted with everything in it.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    static std::atomic<int> serial{0};
    path = fs::temp_directory_path() /
           ("asrc_ssc_e2e_" + std::to_string(::getpid()) + "_" + std::to_string(serial++));
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

// Five of the 35 SSC labels are used; the network still has 35 outputs.
const std::vector<std::int64_t> kLabels = {3, 10, 17, 24, 31};

/// One split of the synthetic corpus, plus what the reader should report.
struct SplitRows {
  std::vector<std::vector<double>> times;
  std::vector<std::vector<std::uint32_t>> units;
  std::vector<std::int64_t> labels;
  std::uint64_t spikes = 0;       ///< all spikes written
  std::uint64_t late_spikes = 0;  ///< spikes written at t >= 1.4 s
};

/// `per_class` samples of each class, in an interleaved order. Class k fires a
/// burst in its own band of 100 units (units 130k+20 .. 130k+119, i.e. input
/// channels 26k+4 .. 26k+23 after summing groups of 5) during its own 0.3 s
/// window starting at 0.1 + 0.22k s, shifted per sample by up to +-40 ms; each
/// spike also gets +-10 ms of jitter. Every sample carries 250 background
/// spikes on random units at random times in [0, 1.39) s and a few spikes at or
/// after 1.4 s (one exactly at 1.4 s), which the reader must drop.
SplitRows make_split(Index per_class, std::uint64_t seed) {
  Rng rng(seed);
  SplitRows s;
  const Index n = per_class * static_cast<Index>(kLabels.size());
  for (Index i = 0; i < n; ++i) {
    const Index k = i % static_cast<Index>(kLabels.size());
    std::vector<std::pair<double, std::uint32_t>> spikes;
    const double start = 0.1 + 0.22 * double(k) + rng.uniform(-0.04, 0.04);
    const Index burst = 120 + static_cast<Index>(rng.below(80));
    for (Index j = 0; j < burst; ++j) {
      const double t = std::clamp(start + rng.uniform(0.0, 0.3) + rng.uniform(-0.01, 0.01), 0.0, 1.38);
      const auto u = static_cast<std::uint32_t>(130 * k + 20 + static_cast<Index>(rng.below(100)));
      spikes.emplace_back(t, u);
    }
    for (Index j = 0; j < 250; ++j)
      spikes.emplace_back(rng.uniform(0.0, 1.39), static_cast<std::uint32_t>(rng.below(700)));
    const Index late = 1 + static_cast<Index>(rng.below(4));
    for (Index j = 0; j < late; ++j)
      spikes.emplace_back(j == 0 ? 1.4 : rng.uniform(1.4, 1.6), static_cast<std::uint32_t>(rng.below(700)));
    s.late_spikes += static_cast<std::uint64_t>(late);
    // Rows of the published files are ordered by time.
    std::sort(spikes.begin(), spikes.end());
    std::vector<double> t;
    std::vector<std::uint32_t> u;
    for (const auto& [time, unit] : spikes) {
      t.push_back(time);
      u.push_back(unit);
    }
    s.spikes += t.size();
    s.times.push_back(std::move(t));
    s.units.push_back(std::move(u));
    s.labels.push_back(kLabels[static_cast<size_t>(k)]);
  }
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("SSC end to end: synthetic HDF5 files, load_task, and SRC / ASRC training above chance") {
  ScratchDir dir;
  const SplitRows train_rows = make_split(40, 11);  // 200 samples
  const SplitRows test_rows = make_split(20, 12);   // 100 samples
  write_spike_hdf5(dir.str() + "/ssc_train.h5", train_rows.times, train_rows.units, train_rows.labels,
                   SpikeTimeType::float16, SpikeUnitType::uint16, SpikeLabelType::uint16);
  write_spike_hdf5(dir.str() + "/ssc_test.h5", test_rows.times, test_rows.units, test_rows.labels,
                   SpikeTimeType::float16, SpikeUnitType::uint16, SpikeLabelType::uint16);

  for (const std::string preset : {"ssc-src", "ssc-asrc"}) {
    CAPTURE(preset);
    RunConfig cfg = make_preset(preset);
    cfg.dataset_dir = dir.str();
    cfg.results_dir = dir.str() + "/results-" + preset;
    cfg.n_bins = 5;
    cfg.layers = {32, 32};
    cfg.batch_size = 16;
    cfg.chunk_size = 8;
    cfg.epochs = 8;
    cfg.lr = 5e-3;
    cfg.seed = 5;
    cfg.validate();
    REQUIRE(cfg.task == "ssc");

    const TaskData data = load_task(cfg);
    REQUIRE(data.train);
    REQUIRE(data.test);
    CHECK(data.train->size() == 200);
    CHECK(data.test->size() == 100);
    CHECK(data.train->steps() == 250);
    CHECK(data.train->width() == 140);
    CHECK(data.train->num_classes() == 35);
    CHECK(data.test->label(0) == kLabels[0]);
    CHECK(data.test->label(4) == kLabels[4]);

    // Every spike is read; those at or after 1.4 s (float16 turns 1.4 into
    // 1.400390625, so even the one written as exactly 1.4) are dropped and counted.
    const auto* train_ds = dynamic_cast<const SpikeDataset*>(data.train.get());
    const auto* test_ds = dynamic_cast<const SpikeDataset*>(data.test.get());
    REQUIRE(train_ds != nullptr);
    REQUIRE(test_ds != nullptr);
    CHECK(train_ds->time_type() == "float16");
    CHECK(train_ds->spikes_read() == train_rows.spikes);
    CHECK(test_ds->spikes_read() == test_rows.spikes);
    CHECK(train_ds->spikes_dropped() == train_rows.late_spikes);
    CHECK(test_ds->spikes_dropped() == test_rows.late_spikes);
    CHECK(train_rows.late_spikes >= 200);  // at least the one at 1.4 s in every sample
    CHECK(data.notes == str_cat("spikes at or after 1.4 s dropped: train ", train_rows.late_spikes,
                                ", test ", test_rows.late_spikes));
    {
      // The binned counts hold all in-range spikes of a sample.
      std::vector<float> x(static_cast<size_t>(data.test->steps() * data.test->width()));
      data.test->fill(0, x.data());
      const double total = std::accumulate(x.begin(), x.end(), 0.0);
      std::uint64_t late0 = 0;
      for (double t : test_rows.times[0]) late0 += t >= 1.4 ? 1 : 0;
      CHECK(total == double(test_rows.times[0].size() - late0));
    }

    Trainer trainer(cfg, data.train, data.test);
    std::ostringstream log;
    trainer.out = &log;
    trainer.progress_bar = false;
    const auto t0 = std::chrono::steady_clock::now();
    trainer.fit();
    const double fit_s = seconds_since(t0);
    MESSAGE(preset << ":\n" << log.str() << "fit: " << fit_s << " s");

    const auto& h = trainer.history();
    REQUIRE(h.size() == static_cast<size_t>(cfg.epochs));
    CHECK(h.back().train_loss < h.front().train_loss);
    // Chance over the five classes present is 20%; ask for more than three times that.
    CHECK(h.back().test.samples == 100);
    CHECK(h.back().test.accuracy > 60.0);
  }
}
