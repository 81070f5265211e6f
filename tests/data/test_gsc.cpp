// Tests of the Google Speech Commands dataset on the 300 real clips vendored in
// tests/data/gsc_mini (30 words x 10 clips, with the full
// official v0.01 list files), plus temporary copies for the background-noise
// (silence) path and the error cases. Also reports the feature throughput.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "asrc/data/gsc.hpp"
#include "../support/gsc_corpus.hpp"

using asrc::GscDataset;
using asrc::GscLabelSet;
using asrc::GscOptions;
using asrc::GscSplit;
using asrc::Index;

namespace {
using asrc_test::copy_corpus;
using asrc_test::error_of;

namespace fs = std::filesystem;

const std::string& kRoot = asrc_test::kGscRoot;

/// Expected 12-class label of a word folder, written out independently.
int expected12(const std::string& word) {
  static const std::map<std::string, int> m = {{"yes", 2},  {"no", 3},   {"up", 4},    {"down", 5},
                                               {"left", 6}, {"right", 7}, {"on", 8},   {"off", 9},
                                               {"stop", 10}, {"go", 11}};
  auto it = m.find(word);
  return it == m.end() ? 0 : it->second;
}

std::vector<float> all_features(const GscDataset& ds) {
  const size_t per = static_cast<size_t>(ds.steps() * ds.width());
  std::vector<float> out(static_cast<size_t>(ds.size()) * per);
  for (Index i = 0; i < ds.size(); ++i) ds.fill(i, out.data() + static_cast<size_t>(i) * per);
  return out;
}

}  // namespace

TEST_CASE("GSC mini: split sizes, label map, feature statistics") {
  REQUIRE_MESSAGE(fs::exists(kRoot + "/testing_list.txt"), "vendored clips missing: " << kRoot);
  GscOptions opt;
  const GscDataset test(kRoot, GscSplit::test, opt);
  const GscDataset val(kRoot, GscSplit::validation, opt);
  const GscDataset train(kRoot, GscSplit::train, opt);
  // 51 / 44 clips of the mini corpus are named in the test / validation lists.
  CHECK(test.size() == 51);
  CHECK(val.size() == 44);
  CHECK(train.size() == 205);  // 300 - 51 - 44, and no _background_noise_ folder
  CHECK(train.num_silence() == 0);
  CHECK(test.missing_listed() == 6835 - 51);
  CHECK(val.missing_listed() == 6798 - 44);
  CHECK(train.missing_listed() == 0);
  CHECK(test.describe() == "GSC test (51 samples, 12 classes)");

  std::set<std::string> seen;
  std::map<int, int> per_label;
  for (const GscDataset* ds : {&test, &val, &train}) {
    CHECK(ds->num_classes() == 12);
    CHECK(ds->steps() == 101);
    CHECK(ds->width() == 40);
    CHECK(ds->computed() == ds->size());
    CHECK_FALSE(ds->loaded_from_cache());
    CHECK(ds->cache_file().empty());
    std::vector<float> x(101 * 40);
    for (Index i = 0; i < ds->size(); ++i) {
      const std::string& p = ds->path(i);
      CHECK(seen.insert(p).second);  // splits are disjoint
      const std::string word = p.substr(0, p.find('/'));
      CHECK(ds->label(i) == expected12(word));
      ++per_label[ds->label(i)];
      ds->fill(i, x.data());
      double sum = 0.0, ss = 0.0;
      bool finite = true;
      for (float v : x) {
        finite = finite && std::isfinite(v);
        sum += v;
      }
      const double mean = sum / 4040.0;
      for (float v : x) ss += (v - mean) * (v - mean);
      const double sd = std::sqrt(ss / 4039.0);
      CAPTURE(p);
      CHECK(finite);
      CHECK(std::abs(mean) < 1e-5);
      CHECK(sd == doctest::Approx(1.0).epsilon(1e-4));
    }
  }
  CHECK(seen.size() == 300);
  CHECK(per_label[0] == 200);  // 20 non-command words x 10
  for (int l = 2; l < 12; ++l) CHECK(per_label[l] == 10);
  CHECK(per_label.count(1) == 0);

  // Features equal a direct LogMel computation of the file.
  const asrc::WavAudio a = asrc::read_wav(kRoot + "/" + test.path(0));
  CHECK(a.sample_rate == 16000);
  asrc::LogMel lm;
  const std::vector<float> direct = lm.compute(a.samples);
  CHECK(std::memcmp(direct.data(), test.features(0), direct.size() * sizeof(float)) == 0);

  // Sample order: sorted by relative path.
  for (Index i = 1; i < train.size(); ++i) CHECK(train.path(i - 1) < train.path(i));

  // Batching into the time-major layout.
  asrc::Matrix<float> xb;
  std::vector<int> labels;
  asrc::make_batch(test, {0, 1, 2}, xb, labels);
  CHECK(xb.rows() == 101 * 3);
  CHECK(xb.cols() == 40);
  CHECK(xb(3 * 7 + 1, 5) == test.features(1)[7 * 40 + 5]);
}

TEST_CASE("GSC mini: 35-word label set") {
  GscOptions opt;
  opt.labels = GscLabelSet::words35;
  const GscDataset test(kRoot, GscSplit::test, opt);
  CHECK(test.num_classes() == 35);
  CHECK(test.size() == 51);
  const auto names = GscDataset::class_names(GscLabelSet::words35);
  REQUIRE(names.size() == 35);
  CHECK(std::is_sorted(names.begin(), names.end()));
  for (Index i = 0; i < test.size(); ++i) {
    const std::string word = test.path(i).substr(0, test.path(i).find('/'));
    CHECK(names[static_cast<size_t>(test.label(i))] == word);
  }
  CHECK(GscDataset::word_label("backward", GscLabelSet::words35) == 0);
  CHECK(GscDataset::word_label("yes", GscLabelSet::words35) == 33);
  CHECK(GscDataset::word_label("zero", GscLabelSet::words35) == 34);
  CHECK(GscDataset::word_label("unknownword", GscLabelSet::words35) == -1);
  CHECK(GscDataset::word_label("unknownword", GscLabelSet::twelve) == 0);
  CHECK(GscDataset::word_label("silence", GscLabelSet::twelve) == 0);  // a folder, not the class
  CHECK(GscDataset::word_label("go", GscLabelSet::twelve) == 11);
  const auto n12 = GscDataset::class_names(GscLabelSet::twelve);
  CHECK(n12 == std::vector<std::string>{"unknown", "silence", "yes", "no", "up", "down", "left",
                                        "right", "on", "off", "stop", "go"});
}

TEST_CASE("GSC: background noise files become silence samples in train only") {
  asrc_test::TempDir tmp("asrc_test_gsc_");
  const std::string root = tmp.str() + "/gsc";
  copy_corpus(root, {"yes", "bed", "go"});
  fs::create_directories(root + "/_background_noise_");
  std::mt19937 gen(3);
  std::vector<float> long_noise(48000), short_noise(12000);
  for (auto& v : long_noise) v = static_cast<float>((gen() % 20001) / 10000.0 - 1.0) * 0.2f;
  for (auto& v : short_noise) v = static_cast<float>((gen() % 20001) / 10000.0 - 1.0) * 0.1f;
  asrc::write_wav_pcm16(root + "/_background_noise_/white_noise.wav", long_noise, 16000);
  asrc::write_wav_pcm16(root + "/_background_noise_/short_noise.wav", short_noise, 16000);
  std::ofstream(root + "/_background_noise_/README.md") << "not audio\n";

  const GscDataset train(root, GscSplit::train);
  const GscDataset test(root, GscSplit::test);
  CHECK(train.num_silence() == 2);
  CHECK(test.num_silence() == 0);
  // 30 clips: yes 2 test + 2 val, bed 0 test + 1 val, go 2 test + 2 val.
  CHECK(test.size() == 4);
  CHECK(train.size() == 30 - 4 - 5 + 2);
  CHECK(train.describe() == "GSC train (23 samples, 12 classes, 2 silence)");
  const Index n = train.size();
  CHECK(train.label(n - 2) == 1);
  CHECK(train.label(n - 1) == 1);
  CHECK(train.path(n - 2) == "_background_noise_/short_noise.wav");
  CHECK(train.path(n - 1) == "_background_noise_/white_noise.wav");
  // The 3 s file is cut to 101 frames after its own (whole-file) dB reference.
  asrc::LogMel lm;
  const asrc::WavAudio w = asrc::read_wav(root + "/_background_noise_/white_noise.wav");
  const std::vector<float> direct = lm.compute(w.samples);
  CHECK(std::memcmp(direct.data(), train.features(n - 1), direct.size() * sizeof(float)) == 0);
  // Short noise (0.75 s): 76 frames + 25 padded frames, all finite.
  for (Index k = 0; k < 4040; ++k) CHECK(std::isfinite(train.features(n - 2)[k]));
  CHECK(train.features(n - 2)[4039] == train.features(n - 2)[76 * 40]);

  GscOptions no_sil;
  no_sil.background_silence = false;
  CHECK(GscDataset(root, GscSplit::train, no_sil).num_silence() == 0);
  GscOptions w35;
  w35.labels = GscLabelSet::words35;
  CHECK(GscDataset(root, GscSplit::train, w35).num_silence() == 0);
}

TEST_CASE("GSC: feature cache reuse, corruption detection, atomic rewrite") {
  asrc_test::TempDir tmp("asrc_test_gsc_");
  GscOptions opt;
  opt.cache_dir = tmp.str() + "/cache";  // created on demand
  const GscDataset first(kRoot, GscSplit::validation, opt);
  CHECK(first.computed() == 44);
  CHECK_FALSE(first.loaded_from_cache());
  const std::string file = first.cache_file();
  CHECK(fs::exists(file));
  CHECK(file.find("gsc_validation_twelve_") != std::string::npos);
  CHECK(file.find(asrc::gsc_detail::hex64(first.cache_key())) != std::string::npos);
  CHECK(fs::file_size(file) == 48 + 44 * 4 + 44 * 4040 * 4 + 8);
  // No temporary files left behind.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(opt.cache_dir)) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
  const std::vector<float> ref = all_features(first);

  const GscDataset second(kRoot, GscSplit::validation, opt);
  CHECK(second.loaded_from_cache());
  CHECK(second.computed() == 0);
  CHECK_FALSE(second.cache_rejected());
  CHECK(second.size() == 44);
  for (Index i = 0; i < second.size(); ++i) CHECK(second.label(i) == first.label(i));
  CHECK(all_features(second) == ref);

  // Flip one byte inside the features: detected by the checksum, recomputed.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(48 + 44 * 4 + 12345);
    char c = 0;
    f.read(&c, 1);
    f.seekp(48 + 44 * 4 + 12345);
    c = static_cast<char>(c ^ 0x10);
    f.write(&c, 1);
  }
  const GscDataset third(kRoot, GscSplit::validation, opt);
  CHECK(third.cache_rejected());
  CHECK_FALSE(third.loaded_from_cache());
  CHECK(third.computed() == 44);
  CHECK(all_features(third) == ref);
  // ... and rewritten: the next construction loads it again.
  const GscDataset fourth(kRoot, GscSplit::validation, opt);
  CHECK(fourth.loaded_from_cache());
  CHECK(all_features(fourth) == ref);

  // A truncated cache file is rejected too.
  fs::resize_file(file, fs::file_size(file) - 100);
  const GscDataset fifth(kRoot, GscSplit::validation, opt);
  CHECK(fifth.cache_rejected());
  CHECK(fifth.computed() == 44);
  CHECK(all_features(fifth) == ref);
  // A corrupted header (wrong magic) as well.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.write("XXXX", 4);
  }
  const GscDataset sixth(kRoot, GscSplit::validation, opt);
  CHECK(sixth.cache_rejected());
  CHECK(all_features(sixth) == ref);

  // Other settings, split or label set: another key, another file.
  GscOptions other = opt;
  other.features.top_db = 60.0;
  const GscDataset seventh(kRoot, GscSplit::validation, other);
  CHECK_FALSE(seventh.loaded_from_cache());
  CHECK(seventh.cache_key() != first.cache_key());
  CHECK(seventh.cache_file() != file);
  const GscDataset test(kRoot, GscSplit::test, opt);
  CHECK(test.cache_key() != first.cache_key());
  GscOptions w35 = opt;
  w35.labels = GscLabelSet::words35;
  CHECK(GscDataset(kRoot, GscSplit::validation, w35).cache_key() != first.cache_key());
}

TEST_CASE("GSC: errors name the offending path") {
  asrc_test::TempDir tmp("asrc_test_gsc_");
  const std::string missing = tmp.str() + "/nope";
  const std::string m1 = error_of([&] { GscDataset d(missing, GscSplit::train); });
  CHECK(m1.rfind("GscDataset::GscDataset(): expected", 0) == 0);
  CHECK(m1.find(missing) != std::string::npos);

  const std::string root = tmp.str() + "/gsc";
  fs::create_directories(root + "/yes");
  std::ofstream(root + "/testing_list.txt") << "yes/a.wav\n";
  const std::string m2 = error_of([&] { GscDataset d(root, GscSplit::test); });
  CHECK(m2.find(root + "/validation_list.txt") != std::string::npos);
  std::ofstream(root + "/validation_list.txt") << "\n";
  const std::string m3 = error_of([&] { GscDataset d(root, GscSplit::test); });
  CHECK(m3.find(".wav clips") != std::string::npos);  // no clips at all

  // A clip at another sample rate.
  asrc::write_wav_pcm16(root + "/yes/a.wav", std::vector<float>(8000, 0.1f), 8000);
  asrc::write_wav_pcm16(root + "/yes/b.wav", std::vector<float>(16000, 0.1f), 16000);
  const std::string m4 = error_of([&] { GscDataset d(root, GscSplit::test); });
  CHECK(m4.find(root + "/yes/a.wav") != std::string::npos);
  CHECK(m4.find("sample_rate = 16000") != std::string::npos);
  CHECK(m4.find("got 8000") != std::string::npos);
  // The train split holds only b.wav: fine.
  CHECK(GscDataset(root, GscSplit::train).size() == 1);
  // A broken clip: the reader's message (file and field) comes through.
  std::ofstream(root + "/yes/c.wav") << "RIFF....WAVEjunk";
  const std::string m5 = error_of([&] { GscDataset d(root, GscSplit::train); });
  CHECK(m5.find(root + "/yes/c.wav") != std::string::npos);
  // words35: a folder outside the 35 words.
  fs::remove(root + "/yes/c.wav");
  fs::create_directories(root + "/foo");
  asrc::write_wav_pcm16(root + "/foo/x.wav", std::vector<float>(100, 0.0f), 16000);
  GscOptions w35;
  w35.labels = GscLabelSet::words35;
  const std::string m6 = error_of([&] { GscDataset d(root, GscSplit::train, w35); });
  CHECK(m6.find("'foo'") != std::string::npos);
  CHECK(GscDataset(root, GscSplit::train).size() == 2);  // 'foo' is unknown (0) in twelve
  // Index out of range.
  const GscDataset ds(root, GscSplit::train);
  CHECK_THROWS_AS(ds.label(2), std::invalid_argument);
}

TEST_CASE("GSC mini: deterministic across thread counts; feature throughput") {
  using clock = std::chrono::steady_clock;
  auto run = [](int threads, double& files_per_s) {
    GscOptions opt;
    opt.threads = threads;
    std::vector<float> all;
    const auto t0 = clock::now();
    Index files = 0;
    for (GscSplit s : {GscSplit::train, GscSplit::validation, GscSplit::test}) {
      const GscDataset ds(kRoot, s, opt);
      files += ds.computed();
      const std::vector<float> f = all_features(ds);
      all.insert(all.end(), f.begin(), f.end());
    }
    const double sec = std::chrono::duration<double>(clock::now() - t0).count();
    files_per_s = static_cast<double>(files) / sec;
    return all;
  };
  // Best of three runs each (the first also warms the file cache). Each run
  // builds the three splits, so list parsing and folder scans are included.
  double fps1 = 0, fps2 = 0, f = 0;
  const std::vector<float> one = run(1, f);
  const std::vector<float> two = run(2, f);
  CHECK(one == two);
  for (int rep = 0; rep < 3; ++rep) {
    run(1, f);
    fps1 = std::max(fps1, f);
    run(2, f);
    fps2 = std::max(fps2, f);
  }
  MESSAGE("GSC features (read WAV + log-mel, 300 clips, best of 3): "
          << fps1 << " files/s with 1 thread, " << fps2 << " files/s with 2 threads");
}
