// End-to-end GSC run on the 300 real clips vendored in tests/data/gsc_mini:
// the task is built by load_task from a "gsc-asrc" preset (shrunk so it runs in
// seconds), features go through the on-disk cache, and a few epochs of Trainer::fit
// must lower the training loss.
#include <doctest/doctest.h>

#include <asrc/train/tasks.hpp>
#include <asrc/train/run_trainer.hpp>
#include <unistd.h>
#include <cstdlib>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>

using namespace asrc;

namespace {

namespace fs = std::filesystem;

// Part of the repository (CC BY 4.0, see its ATTRIBUTION.md): a missing file is a failure.
const std::string kCorpus = ASRC_SOURCE_DIR "/tests/data/gsc_mini";

/// A private folder under the system temp dir, deleted with everything in it.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("asrc_gsc_e2e_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string sub(const std::string& name) const { return (path / name).string(); }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("GSC end to end: split sizes, feature cache, and a falling training loss") {
  REQUIRE_MESSAGE(fs::exists(kCorpus + "/testing_list.txt"), "vendored clips missing: " << kCorpus);
  ScratchDir scratch;

  // The paper's GSC ASRC row, made small: two layers of 32, a short skip window,
  // small batches and a raised learning rate so a few epochs show progress.
  RunConfig cfg = make_preset("gsc-asrc");
  cfg.dataset_dir = kCorpus;
  cfg.cache_dir = scratch.sub("cache");
  cfg.results_dir = scratch.sub("results");
  cfg.layers = {32, 32};
  cfg.skip = 8;
  cfg.batch_size = 16;
  cfg.chunk_size = 8;
  cfg.epochs = 6;
  cfg.lr = 1e-2;
  cfg.seed = 3;
  cfg.validate();
  REQUIRE(cfg.task == "gsc");
  REQUIRE(cfg.model == "ASRC");

  // First load computes the log-mel features and writes the cache.
  auto t0 = std::chrono::steady_clock::now();
  const TaskData first = load_task(cfg);
  const double first_load_s = seconds_since(t0);
  REQUIRE(first.train);
  REQUIRE(first.test);
  CHECK_FALSE(first.valid);
  // Training = clips in neither list file, test = clips in testing_list.txt
  // (no _background_noise_ folder in the mini corpus, so no silence samples).
  CHECK(first.train->size() == 205);
  CHECK(first.test->size() == 51);
  CHECK(first.train->steps() == 101);
  CHECK(first.train->width() == 40);
  CHECK(first.train->num_classes() == 12);

  const auto* train_gsc = dynamic_cast<const GscDataset*>(first.train.get());
  const auto* test_gsc = dynamic_cast<const GscDataset*>(first.test.get());
  REQUIRE(train_gsc != nullptr);
  REQUIRE(test_gsc != nullptr);
  CHECK_FALSE(train_gsc->loaded_from_cache());
  CHECK(train_gsc->computed() == 205);
  CHECK(test_gsc->computed() == 51);
  CHECK(train_gsc->num_silence() == 0);
  CHECK(test_gsc->missing_listed() > 0);  // the official list names far more clips
  CHECK(fs::exists(train_gsc->cache_file()));
  CHECK(fs::exists(test_gsc->cache_file()));
  CHECK(train_gsc->cache_file().rfind(cfg.cache_dir, 0) == 0);

  // Second load reads the same features back from the cache.
  t0 = std::chrono::steady_clock::now();
  const TaskData again = load_task(cfg);
  const double second_load_s = seconds_since(t0);
  const auto* train_again = dynamic_cast<const GscDataset*>(again.train.get());
  const auto* test_again = dynamic_cast<const GscDataset*>(again.test.get());
  REQUIRE(train_again != nullptr);
  REQUIRE(test_again != nullptr);
  CHECK(train_again->loaded_from_cache());
  CHECK(test_again->loaded_from_cache());
  CHECK_FALSE(train_again->cache_rejected());
  CHECK(train_again->computed() == 0);
  CHECK(test_again->computed() == 0);
  REQUIRE(train_again->size() == train_gsc->size());
  {
    const Index per = train_gsc->steps() * train_gsc->width();
    bool same = true;
    for (Index i = 0; i < train_gsc->size() && same; ++i) {
      same = train_again->label(i) == train_gsc->label(i) && train_again->path(i) == train_gsc->path(i);
      for (Index k = 0; k < per && same; ++k)
        same = train_again->features(i)[k] == train_gsc->features(i)[k];
    }
    CHECK(same);
  }
  MESSAGE("feature load: computed " << first_load_s << " s, from cache " << second_load_s << " s");

  // Train on the cached copy for a few epochs.
  Trainer trainer(cfg, again.train, again.test);
  std::ostringstream log;
  trainer.out = &log;
  trainer.progress_bar = false;
  t0 = std::chrono::steady_clock::now();
  trainer.fit();
  const double fit_s = seconds_since(t0);
  MESSAGE(log.str() << "fit: " << fit_s << " s");

  const auto& h = trainer.history();
  REQUIRE(h.size() == static_cast<size_t>(cfg.epochs));
  for (const auto& r : h) {
    CHECK(std::isfinite(r.train_loss));
    CHECK(r.test.samples == 51);
  }
  // Clearly lower: at least a fifth below the first epoch's mean loss.
  CHECK(h.back().train_loss < 0.8 * h.front().train_loss);
  CHECK(fs::exists(cfg.results_dir + "/last.ckpt"));
}

TEST_CASE("default GSC cache folder: beside the corpus, else the user cache when the corpus is read-only") {
  namespace fs = std::filesystem;
  const fs::path tmp = fs::temp_directory_path() / ("asrc_cache_test_" + std::to_string(::getpid()));
  fs::create_directories(tmp / "corpus");
  CHECK(asrc::default_gsc_cache_dir((tmp / "corpus").string()) == (tmp / "corpus" / ".asrc-cache").string());
  // /proc/self cannot hold new files, even for root: the XDG cache folder is used.
  ::setenv("XDG_CACHE_HOME", (tmp / "xdg").string().c_str(), 1);
  CHECK(asrc::default_gsc_cache_dir("/proc/self") == (tmp / "xdg" / "asrc").string());
  CHECK(fs::is_directory(tmp / "xdg" / "asrc"));
  // Nowhere writable: no cache (features are computed each run) rather than an error.
  ::setenv("XDG_CACHE_HOME", "/proc/self/nope", 1);
  CHECK(asrc::default_gsc_cache_dir("/proc/self").empty());
  ::unsetenv("XDG_CACHE_HOME");
  fs::remove_all(tmp);
}
