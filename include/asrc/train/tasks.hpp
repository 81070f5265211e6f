#pragma once
// Datasets of each task of Table 1, built from a RunConfig (spec section 6).
//   smnist / psmnist: the four MNIST IDX files in --dataset-dir (plain or .gz)
//   ssc / shd:        ssc_train.h5, ssc_test.h5 (shd_*.h5) in --dataset-dir (needs HDF5)
//   gsc:              the Speech Commands root in --dataset-dir (word folders + lists)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numeric>

#include "asrc/data/dataset.hpp"
#include "asrc/data/gsc.hpp"
#include "asrc/data/mnist.hpp"
#include "asrc/parallel/sharded_dataset.hpp"
#include "asrc/train/run_config.hpp"
#ifdef ASRC_HAVE_HDF5
#include "asrc/data/ntidigits.hpp"
#include "asrc/data/spike_hdf5.hpp"
#endif

namespace asrc {

struct TaskData {
  std::shared_ptr<const Dataset> train, test, valid;
  std::vector<int> permutation;  ///< PS-MNIST only
  std::string notes;             ///< what the loader counted (dropped spikes, missing clips)
};

inline std::string join_path(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : (dir.back() == '/' ? dir + name : dir + "/" + name);
}

/// True when `dir` exists or can be created, and a file can be created in it.
inline bool writable_dir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec) && !std::filesystem::create_directories(dir, ec)) return false;
  const std::string probe = join_path(dir, ".asrc-write-probe");
  std::FILE* f = std::fopen(probe.c_str(), "wb");
  if (!f) return false;
  std::fclose(f);
  std::remove(probe.c_str());
  return true;
}

/// Where GSC features are cached when --cache-dir is not given: <dataset-dir>/.asrc-cache,
/// or, when the corpus is read-only, $XDG_CACHE_HOME/asrc (default ~/.cache/asrc);
/// "" (no cache) when none of them can be written.
inline std::string default_gsc_cache_dir(const std::string& dataset_dir) {
  const std::string beside = join_path(dataset_dir, ".asrc-cache");
  if (writable_dir(beside)) return beside;
  std::string base;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) base = x;
  else if (const char* h = std::getenv("HOME"); h && *h) base = join_path(h, ".cache");
  if (!base.empty() && writable_dir(join_path(base, "asrc"))) return join_path(base, "asrc");
  return "";
}

/// The rows of a training set of N samples that stay for training and those held out for
/// validation (`n`, a seeded random choice), both sorted.
inline std::pair<std::vector<Index>, std::vector<Index>> validation_rows(Index N, Index n, std::uint64_t seed) {
  require(n < N, "split_validation", str_cat("--valid-split below the ", N, " training samples"), n);
  std::vector<Index> idx(static_cast<size_t>(N));
  std::iota(idx.begin(), idx.end(), Index(0));
  Rng rng(seed ^ 0x76616c6964ULL);
  for (Index i = N - 1; i > 0; --i) std::swap(idx[size_t(i)], idx[size_t(rng.below(std::uint64_t(i + 1)))]);
  std::vector<Index> valid(idx.begin(), idx.begin() + n), train(idx.begin() + n, idx.end());
  std::sort(valid.begin(), valid.end());
  std::sort(train.begin(), train.end());
  return {train, valid};
}

/// Hold out `n` training samples (a seeded random choice) for validation.
inline void split_validation(TaskData& d, Index n, std::uint64_t seed) {
  if (n <= 0) return;
  auto [train, valid] = validation_rows(d.train->size(), n, seed);
  auto base = d.train;
  d.valid = std::make_shared<SubsetDataset>(base, valid, "validation split");
  d.train = std::make_shared<SubsetDataset>(base, train, "training split");
}

/// This rank's shard of the rows `rows` (sorted) of an MNIST file pair: only the rows of its
/// shard are read.
inline std::shared_ptr<const Dataset> mnist_shard_of_rows(const std::string& images, const std::string& labels,
                                                          const std::string& name, const std::vector<Index>& rows,
                                                          const std::vector<int>& permutation, Communicator& comm) {
  const Index n = static_cast<Index>(rows.size());
  const auto [a, b] = ShardedDataset::shard_range(n, comm);
  auto shard = std::make_shared<MnistDataset>(
      images, labels, name, MnistRowList{std::vector<Index>(rows.begin() + a, rows.begin() + b)});
  if (!permutation.empty()) shard->set_permutation(permutation);
  return std::make_shared<ShardedDataset>(shard, n, comm);
}

/// This rank's shard of an MNIST split (the first `limit` samples, 0: all): only its rows
/// of the two IDX files are read, the set's size comes from their headers.
inline std::shared_ptr<const Dataset> mnist_shard(const std::string& dir, MnistSplit split, Index limit,
                                                  const std::vector<int>& permutation, Communicator& comm) {
  const std::string images = MnistDataset::find_file(dir, MnistDataset::images_name(split));
  const std::string labels = MnistDataset::find_file(dir, MnistDataset::labels_name(split));
  require(limit >= 0, "mnist_shard", "a non-negative limit (0 keeps all samples)", limit);
  Index n = MnistDataset::file_samples(images, labels);
  if (limit > 0 && limit < n) n = limit;
  const auto [a, b] = ShardedDataset::shard_range(n, comm);
  auto shard = std::make_shared<MnistDataset>(images, labels, to_string(split), MnistRows{a, b});
  if (!permutation.empty()) shard->set_permutation(permutation);
  return std::make_shared<ShardedDataset>(shard, n, comm);
}

/// This rank's shard of the rows `rows` (sorted) of a data set: make(shard_rows) builds a
/// data set of exactly those rows, reading only them.
template <typename Make>
std::shared_ptr<const Dataset> shard_of_rows(const std::vector<Index>& rows, Communicator& comm, Make&& make) {
  const Index n = static_cast<Index>(rows.size());
  const auto [a, b] = ShardedDataset::shard_range(n, comm);
  std::shared_ptr<const Dataset> shard = make(std::vector<Index>(rows.begin() + a, rows.begin() + b));
  return std::make_shared<ShardedDataset>(shard, n, comm);
}

/// The rows of a set of `n` samples (its first `limit`, 0: all), split as load_task splits a
/// whole read: {training rows, validation rows (--valid-split, else empty)}.
inline std::pair<std::vector<Index>, std::vector<Index>> task_rows(Index n, Index limit, const char* flag,
                                                                   Index valid_split, std::uint64_t seed) {
  require(limit >= 0, "load_task", str_cat("a non-negative ", flag, " (0 keeps all samples)"), limit);
  if (limit > 0 && limit < n) n = limit;
  if (valid_split > 0) return validation_rows(n, valid_split, seed);
  std::vector<Index> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), Index(0));
  return {all, {}};
}

#ifdef ASRC_HAVE_HDF5
/// SSC / SHD in shards: each rank reads only its rows of the two files (hyperslab
/// selections); with --valid-split, its shards of the training and validation rows. The
/// dropped spikes are summed over the ranks, so the notes are those of a whole read.
inline void load_spike_shards(TaskData& d, const RunConfig& cfg, const SpikeHdf5Options& o, Communicator& comm) {
  const std::string train_path = join_path(cfg.dataset_dir, cfg.task + "_train.h5");
  const std::string test_path = join_path(cfg.dataset_dir, cfg.task + "_test.h5");
  const auto [train_rows, valid_rows] = task_rows(SpikeDataset::file_rows(train_path, o), cfg.limit_train,
                                                  "--limit-train", cfg.valid_split, cfg.seed);
  const std::vector<Index> test_rows =
      task_rows(SpikeDataset::file_rows(test_path, o), cfg.limit_test, "--limit-test", 0, 0).first;
  std::int64_t dropped[2] = {0, 0};  // train (with its validation rows), test
  auto shard = [&](const std::string& path, const std::vector<Index>& rows, const std::string& name,
                   std::int64_t& drop) {
    return shard_of_rows(rows, comm, [&](std::vector<Index> r) {
      SpikeHdf5Options s = o;
      s.rows = std::move(r);
      s.name = name;
      auto ds = std::make_shared<SpikeDataset>(path, s);
      drop += static_cast<std::int64_t>(ds->spikes_dropped());
      return ds;
    });
  };
  const std::string train_name = std::filesystem::path(train_path).filename().string();
  d.train = shard(train_path, train_rows, cfg.valid_split > 0 ? "training split of " + train_name : train_name,
                  dropped[0]);
  if (cfg.valid_split > 0) d.valid = shard(train_path, valid_rows, "validation split of " + train_name, dropped[0]);
  d.test = shard(test_path, test_rows, std::filesystem::path(test_path).filename().string(), dropped[1]);
  comm.allreduce_sum(dropped, 2);
  d.notes = str_cat("spikes at or after 1.4 s dropped: train ", dropped[0], ", test ", dropped[1]);
}
#endif

/// GSC in shards: each rank reads and decodes only the clips of its shard of each split's
/// list (the lists are built whole on every rank); with --valid-split, its shards of the
/// training and validation rows.
inline void load_gsc_shards(TaskData& d, const RunConfig& cfg, const GscOptions& o, Communicator& comm) {
  const auto [train_rows, valid_rows] = task_rows(GscDataset::list_size(cfg.dataset_dir, GscSplit::train, o),
                                                  cfg.limit_train, "--limit-train", cfg.valid_split, cfg.seed);
  const std::vector<Index> test_rows = task_rows(GscDataset::list_size(cfg.dataset_dir, GscSplit::test, o),
                                                 cfg.limit_test, "--limit-test", 0, 0).first;
  Index silence = 0, missing = 0;  // properties of the lists, the same on every rank
  auto shard = [&](GscSplit split, const std::vector<Index>& rows) {
    return shard_of_rows(rows, comm, [&](std::vector<Index> r) {
      GscOptions s = o;
      s.rows = std::move(r);
      auto ds = std::make_shared<GscDataset>(cfg.dataset_dir, split, s);
      if (split == GscSplit::train) silence = ds->num_silence();
      else missing = ds->missing_listed();
      return ds;
    });
  };
  d.train = shard(GscSplit::train, train_rows);
  if (cfg.valid_split > 0) d.valid = shard(GscSplit::train, valid_rows);
  d.test = shard(GscSplit::test, test_rows);
  d.notes = str_cat("GSC clips named in the split lists but absent: ", missing, " (test list); silence samples: ",
                    silence);
}

/// The first n samples of ds (n <= 0 or n >= its size: ds itself).
inline std::shared_ptr<const Dataset> first_samples(std::shared_ptr<const Dataset> ds, Index n, const char* name) {
  if (n <= 0 || n >= ds->size()) return ds;
  std::vector<Index> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), Index(0));
  return std::make_shared<SubsetDataset>(ds, idx, name);
}

/// Load the datasets of cfg.task. `saved_permutation` (PS-MNIST) overrides the seeded one.
/// With `comm` of more than one rank, S-MNIST and PS-MNIST are read in shards: each rank
/// reads only its rows of the IDX files (ShardedDataset exchanges the samples of each
/// batch); with --valid-split, its shards of the training and validation rows. SSC and SHD
/// likewise read only each rank's rows of the HDF5 files, GSC only the clips of each rank's
/// shard of the split lists.
inline TaskData load_task(const RunConfig& cfg, const std::vector<int>* saved_permutation = nullptr,
                          Communicator* comm = nullptr) {
  TaskData d;
  if (cfg.task == "smnist" || cfg.task == "psmnist") {
    if (cfg.task == "psmnist") d.permutation = saved_permutation ? *saved_permutation : make_permutation(cfg.seed);
    if (comm && comm->size() > 1 && cfg.valid_split <= 0) {
      d.train = mnist_shard(cfg.dataset_dir, MnistSplit::train, cfg.limit_train, d.permutation, *comm);
      d.test = mnist_shard(cfg.dataset_dir, MnistSplit::test, cfg.limit_test, d.permutation, *comm);
      return d;
    }
    if (comm && comm->size() > 1) {  // --valid-split: the rows of split_validation, sharded
      const std::string images = MnistDataset::find_file(cfg.dataset_dir, MnistDataset::images_name(MnistSplit::train));
      const std::string labels = MnistDataset::find_file(cfg.dataset_dir, MnistDataset::labels_name(MnistSplit::train));
      require(cfg.limit_train >= 0, "load_task", "a non-negative --limit-train (0 keeps all samples)", cfg.limit_train);
      Index n = MnistDataset::file_samples(images, labels);
      if (cfg.limit_train > 0 && cfg.limit_train < n) n = cfg.limit_train;
      const auto [train_rows, valid_rows] = validation_rows(n, cfg.valid_split, cfg.seed);
      d.train = mnist_shard_of_rows(images, labels, "training split", train_rows, d.permutation, *comm);
      d.valid = mnist_shard_of_rows(images, labels, "validation split", valid_rows, d.permutation, *comm);
      d.test = mnist_shard(cfg.dataset_dir, MnistSplit::test, cfg.limit_test, d.permutation, *comm);
      return d;
    }
    auto train = std::make_shared<MnistDataset>(cfg.dataset_dir, MnistSplit::train, cfg.limit_train);
    auto test = std::make_shared<MnistDataset>(cfg.dataset_dir, MnistSplit::test, cfg.limit_test);
    if (!d.permutation.empty()) {
      train->set_permutation(d.permutation);
      test->set_permutation(d.permutation);
    }
    d.train = train;
    d.test = test;
  } else if (cfg.task == "ssc" || cfg.task == "shd") {
#ifdef ASRC_HAVE_HDF5
    SpikeHdf5Options o = cfg.task == "ssc" ? SpikeHdf5Options::ssc() : SpikeHdf5Options::shd();
    o.n_bins = cfg.n_bins;
    o.check_in_child_s = 1800;  // a damaged file gives an error, not a crash inside libhdf5
    if (comm && comm->size() > 1) {
      load_spike_shards(d, cfg, o, *comm);
      return d;
    }
    o.limit = cfg.limit_train;
    auto train = std::make_shared<SpikeDataset>(join_path(cfg.dataset_dir, cfg.task + "_train.h5"), o);
    o.limit = cfg.limit_test;
    auto test = std::make_shared<SpikeDataset>(join_path(cfg.dataset_dir, cfg.task + "_test.h5"), o);
    d.notes = str_cat("spikes at or after 1.4 s dropped: train ", train->spikes_dropped(), ", test ",
                      test->spikes_dropped());
    d.train = train;
    d.test = test;
#else
    fail_expected("load_task", "a build with HDF5 (libhdf5-dev) for --task " + cfg.task, "none");
#endif
  } else if (cfg.task == "gsc") {
    GscOptions o;
    o.cache_dir = cfg.cache_dir.empty() ? default_gsc_cache_dir(cfg.dataset_dir) : cfg.cache_dir;
    o.threads = cfg.threads;
    if (comm && comm->size() > 1) {
      load_gsc_shards(d, cfg, o, *comm);
      return d;
    }
    auto gtrain = std::make_shared<GscDataset>(cfg.dataset_dir, GscSplit::train, o);
    auto gtest = std::make_shared<GscDataset>(cfg.dataset_dir, GscSplit::test, o);
    d.notes = str_cat("GSC clips named in the split lists but absent: ", gtest->missing_listed(),
                      " (test list); silence samples: ", gtrain->num_silence());
    std::shared_ptr<const Dataset> train = gtrain, test = gtest;
    d.train = first_samples(train, cfg.limit_train, "GSC train");
    d.test = first_samples(test, cfg.limit_test, "GSC test");
  } else if (cfg.task == "ntidigits") {
#ifdef ASRC_HAVE_HDF5
    // The single-digit utterances, 3 ms bins, 300 steps (data/ntidigits.hpp).
    const std::string path = join_path(cfg.dataset_dir, "n-tidigits.hdf5");
    auto train = std::make_shared<NTidigitsDataset>(path, NTidigitsSplit::train);
    auto test = std::make_shared<NTidigitsDataset>(path, NTidigitsSplit::test);
    d.notes = str_cat("events after 300 steps of 3 ms dropped: train ", train->events_dropped(), ", test ",
                      test->events_dropped());
    d.train = first_samples(train, cfg.limit_train, "N-TIDIGITS train");
    d.test = first_samples(test, cfg.limit_test, "N-TIDIGITS test");
#else
    fail_expected("load_task", "a build with HDF5 (libhdf5-dev) for --task " + cfg.task, "none");
#endif
  } else if (cfg.task == "ti46-digits" || cfg.task == "ti46-alpha") {
    fail_expected("load_task", "a task with a reader (smnist|psmnist|ssc|shd|gsc|ntidigits): --task " + cfg.task +
                                   " has its sizes (for --count-params) but no reader (TI46 is a licensed LDC corpus)",
                  cfg.task);
  } else {
    fail_expected("load_task", "--task smnist|psmnist|ssc|shd|gsc", cfg.task);
  }
  split_validation(d, cfg.valid_split, cfg.seed);
  return d;
}

}  // namespace asrc
