#pragma once
// Google Speech Commands (GSC) as an asrc::Dataset of log-mel features.
//
// Folder layout (v0.01 and v0.02 alike):
//   <root>/<word>/<speaker>_nohash_<k>.wav   one-second 16 kHz clips
//   <root>/testing_list.txt                 "word/file.wav" lines: the test split
//   <root>/validation_list.txt              the validation split
//   <root>/_background_noise_/*.wav         long noise recordings (optional)
// Splits (reference semantics, section 6): test = clips named in
// testing_list.txt, validation = clips named in validation_list.txt, train =
// every clip in neither list, plus (12-class labels only) each background-noise
// file as one 'silence' sample whose features are, like any clip's, cut to the
// first `frames` frames. List entries whose file is absent are skipped and
// counted (missing_listed()), so a subset of the corpus can be used with the
// official lists.
//
// Labels: twelve (default): unknown 0, silence 1, yes 2, no 3, up 4, down 5,
// left 6, right 7, on 8, off 9, stop 10, go 11 (every other word is unknown).
// words35: the 35 words of v0.02 in alphabetical order, no silence / unknown;
// a folder outside those 35 words is an error.
//
// Features (asrc/data/logmel.hpp) of all clips are computed once, in parallel
// over files with OpenMP (each file's result is independent of the schedule),
// and, if a cache folder is given, stored there in one binary file whose name
// carries a 64-bit hash of the feature settings, label set, split and sample
// list (relative path, label, file size). A later construction with the same
// key loads that file instead; a file that fails its size, header or checksum
// test is ignored and rewritten. Files are written to a temporary name and
// renamed, so readers never see a partial cache. With GscOptions::rows (a rank's shard)
// only the chosen clips are read, and the sample list of the key is theirs: each shard has
// its own cache file.
//
// Cache layout (host byte order, checked with an endianness marker):
//   char magic[8] "ASRCGSC1"; u32 version; u32 0x01020304; u64 key;
//   u64 N; u64 T; u64 F; i32 labels[N]; f32 features[N*T*F];
//   u64 checksum of all preceding bytes.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <unordered_set>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"
#include "asrc/data/dataset.hpp"
#include "asrc/data/logmel.hpp"
#include "asrc/data/wav.hpp"

namespace asrc {

enum class GscSplit { train, validation, test };
enum class GscLabelSet { twelve, words35 };

inline const char* to_string(GscSplit s) {
  switch (s) {
    case GscSplit::train: return "train";
    case GscSplit::validation: return "validation";
    case GscSplit::test: return "test";
  }
  return "?";
}
inline const char* to_string(GscLabelSet l) {
  return l == GscLabelSet::twelve ? "twelve" : "words35";
}

struct GscOptions {
  GscLabelSet labels = GscLabelSet::twelve;
  LogMelConfig features;           ///< defaults: the reference GSC features
  std::string cache_dir;           ///< empty: no cache file
  bool background_silence = true;  ///< twelve labels, train: add _background_noise_ files
  int threads = 0;                 ///< feature threads; 0: OpenMP's default
  /// Set: only these samples of the split's list (strictly increasing indices into it;
  /// sample i is list entry (*rows)[i]). Only their clips are read and decoded (a rank's
  /// shard under MPI); the list itself is always built whole. An empty list gives an empty
  /// set.
  std::optional<std::vector<Index>> rows;
};

namespace gsc_detail {

/// 64-bit checksum over 8-byte words (each step is a bijection of the state,
/// so any change confined to one word always changes the result).
class Hasher {
 public:
  void add(const void* data, size_t n) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      mix(w);
    }
    std::uint64_t tail = 0;
    for (size_t k = 0; i + k < n; ++k) tail |= static_cast<std::uint64_t>(p[i + k]) << (8 * k);
    mix(tail ^ (static_cast<std::uint64_t>(n) << 56));
  }
  void add(const std::string& s) { add(s.data(), s.size()); }
  std::uint64_t value() const { return h_ ^ (h_ >> 31); }

 private:
  void mix(std::uint64_t w) {
    h_ ^= w;
    h_ = (h_ << 29) | (h_ >> 35);
    h_ *= 0x100000001b3ULL;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

inline std::string hex64(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = digits[v & 15];
  return s;
}

inline bool ends_with_wav(const std::string& name) {
  if (name.size() < 4) return false;
  std::string ext = name.substr(name.size() - 4);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".wav";
}

struct CacheHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t endian;
  std::uint64_t key, n, t, f;
};
static_assert(sizeof(CacheHeader) == 48, "unexpected padding in the GSC cache header");
inline constexpr char kMagic[8] = {'A', 'S', 'R', 'C', 'G', 'S', 'C', '1'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::uint32_t kEndian = 0x01020304u;

}  // namespace gsc_detail

class GscDataset : public Dataset {
 public:
  /// Class names of a label set, index = label.
  static std::vector<std::string> class_names(GscLabelSet set) {
    if (set == GscLabelSet::twelve)
      return {"unknown", "silence", "yes", "no", "up", "down",
              "left", "right", "on", "off", "stop", "go"};
    return {"backward", "bed",   "bird",  "cat",    "dog",   "down",  "eight",
            "five",     "follow", "forward", "four", "go",    "happy", "house",
            "learn",    "left",  "marvin", "nine",  "no",    "off",   "on",
            "one",      "right", "seven", "sheila", "six",   "stop",  "three",
            "tree",     "two",   "up",    "visual", "wow",   "yes",   "zero"};
  }

  /// Label of a word folder; -1 if the word has no class in `set` (words35 only).
  static int word_label(const std::string& word, GscLabelSet set) {
    const std::vector<std::string> names = class_names(set);
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == word && !(set == GscLabelSet::twelve && i < 2)) return static_cast<int>(i);
    return set == GscLabelSet::twelve ? 0 : -1;
  }

  GscDataset(const std::string& root, GscSplit split, const GscOptions& opt = GscOptions())
      : root_(root), split_(split), opt_(opt) {
    namespace fs = std::filesystem;
    const char* where = "GscDataset::GscDataset";
    opt_.features.validate();
    require(opt_.threads >= 0, where, "threads >= 0 (0: OpenMP default)", opt_.threads);
    std::error_code ec;
    require(fs::is_directory(root_, ec), where, "a Speech Commands folder",
            "'" + root_ + "' (not a directory)");
    const std::unordered_set<std::string> test_list = read_list(root_ + "/testing_list.txt");
    const std::unordered_set<std::string> val_list = read_list(root_ + "/validation_list.txt");

    // Word folders (names not starting with '_' or '.'), sorted, and their clips.
    std::vector<std::string> words;
    for (const auto& e : fs::directory_iterator(root_)) {
      const std::string name = e.path().filename().string();
      if (!e.is_directory() || name.empty() || name[0] == '_' || name[0] == '.') continue;
      words.push_back(name);
    }
    std::sort(words.begin(), words.end());
    std::unordered_set<std::string> present;
    Index clips = 0;
    for (const auto& w : words) {
      const int lab = word_label(w, opt_.labels);
      require(lab >= 0, where,
              str_cat("word folders among the 35 words of the ", to_string(opt_.labels),
                      " label set in '", root_, "'"),
              "'" + w + "'");
      for (const std::string& f : wav_files(root_ + "/" + w)) {
        const std::string rel = w + "/" + f;
        present.insert(rel);
        ++clips;
        const bool in_test = test_list.count(rel) > 0, in_val = val_list.count(rel) > 0;
        const bool take = split_ == GscSplit::test         ? in_test
                          : split_ == GscSplit::validation ? in_val
                                                           : !in_test && !in_val;
        if (take) {
          paths_.push_back(rel);
          labels_.push_back(lab);
        }
      }
    }
    require(clips > 0, where, "word subfolders holding .wav clips in '" + root_ + "'", "none");
    if (split_ != GscSplit::train) {
      for (const auto& rel : split_ == GscSplit::test ? test_list : val_list)
        if (!present.count(rel)) ++missing_listed_;
    }
    const std::string noise_dir = root_ + "/_background_noise_";
    if (split_ == GscSplit::train && opt_.labels == GscLabelSet::twelve && opt_.background_silence &&
        fs::is_directory(noise_dir, ec)) {
      for (const std::string& f : wav_files(noise_dir)) {
        paths_.push_back("_background_noise_/" + f);
        labels_.push_back(1);
        ++num_silence_;
      }
    }

    listed_ = size();
    if (opt_.rows) select_rows(*opt_.rows);

    key_ = make_key();
    const Index n = size();
    if (!opt_.cache_dir.empty()) {
      require(fs::is_directory(opt_.cache_dir, ec) || fs::create_directories(opt_.cache_dir, ec),
              where, "a cache folder that exists or can be created",
              "'" + opt_.cache_dir + "' (" + ec.message() + ")");
      cache_file_ = opt_.cache_dir + "/gsc_" + to_string(split_) + "_" + to_string(opt_.labels) +
                    "_" + gsc_detail::hex64(key_) + ".bin";
      if (fs::exists(cache_file_, ec)) {
        if (load_cache()) {
          from_cache_ = true;
          return;
        }
        cache_rejected_ = true;
      }
    }
    compute_all();
    computed_ = n;
    if (!cache_file_.empty()) write_cache();
  }

  /// The number of samples in the split's list (what `rows` indexes), reading no clip: what a
  /// rank needs to know to choose its shard. Options as for the constructor (rows and the
  /// cache folder are ignored).
  static Index list_size(const std::string& root, GscSplit split, GscOptions opt = GscOptions()) {
    opt.rows = std::vector<Index>{};
    opt.cache_dir.clear();
    return GscDataset(root, split, opt).listed();
  }

  Index size() const override { return static_cast<Index>(paths_.size()); }
  Index steps() const override { return opt_.features.frames; }
  Index width() const override { return opt_.features.n_mels; }
  int num_classes() const override { return opt_.labels == GscLabelSet::twelve ? 12 : 35; }
  int label(Index i) const override { return labels_[check(i)]; }
  void fill(Index i, float* out) const override {
    const size_t per = static_cast<size_t>(steps() * width());
    std::memcpy(out, feats_.data() + check(i) * per, per * sizeof(float));
  }
  std::string describe() const override {
    std::string rows;
    if (opt_.rows && !opt_.rows->empty()) {
      const auto& r = *opt_.rows;
      rows = r.back() - r.front() + 1 == size() ? str_cat(", rows ", r.front(), "..", r.back(), " of ", listed_)
                                                 : str_cat(", chosen rows of ", listed_, " from row ", r.front());
    }
    return str_cat("GSC ", to_string(split_), " (", size(), " samples", rows, ", ", num_classes(),
                   " classes", num_silence_ ? str_cat(", ", num_silence_, " silence") : "", ")");
  }

  /// Features of sample i: steps() x width() floats, time-major.
  const float* features(Index i) const {
    return feats_.data() + check(i) * static_cast<size_t>(steps() * width());
  }
  /// Path of sample i relative to the root ("yes/0a7c2a8d_nohash_0.wav").
  const std::string& path(Index i) const { return paths_[check(i)]; }
  GscSplit split() const { return split_; }
  const GscOptions& options() const { return opt_; }

  /// Silence samples in the split's list (all of them, whatever `rows` selects).
  Index num_silence() const { return num_silence_; }
  /// Samples in the split's list (size() unless `rows` selects some).
  Index listed() const { return listed_; }
  /// Entries of this split's list file with no clip on disk.
  Index missing_listed() const { return missing_listed_; }
  /// Hash of the feature settings, label set, split and sample list.
  std::uint64_t cache_key() const { return key_; }
  /// Cache file path ("" without a cache folder).
  const std::string& cache_file() const { return cache_file_; }
  /// True when the features were read from the cache file.
  bool loaded_from_cache() const { return from_cache_; }
  /// True when a cache file existed but failed validation (and was rewritten).
  bool cache_rejected() const { return cache_rejected_; }
  /// Number of clips whose features this object computed (0 after a cache hit).
  Index computed() const { return computed_; }

 private:
  size_t check(Index i) const {
    require(i >= 0 && i < size(), "GscDataset::sample", str_cat("an index in [0, ", size(), ")"), i);
    return static_cast<size_t>(i);
  }

  void select_rows(const std::vector<Index>& rows) {
    std::vector<std::string> paths;
    std::vector<std::int32_t> labels;
    for (size_t i = 0; i < rows.size(); ++i) {
      require(rows[i] >= 0 && rows[i] < listed_ && (i == 0 || rows[i] > rows[i - 1]), "GscDataset::GscDataset",
              str_cat("strictly increasing rows below the ", listed_, " samples of the ", to_string(split_),
                      " split of '", root_, "'"),
              str_cat("row ", rows[i], " at position ", i));
      paths.push_back(paths_[static_cast<size_t>(rows[i])]);
      labels.push_back(labels_[static_cast<size_t>(rows[i])]);
    }
    paths_ = std::move(paths);
    labels_ = std::move(labels);
  }

  static std::unordered_set<std::string> read_list(const std::string& file) {
    std::ifstream in(file);
    require(static_cast<bool>(in), "GscDataset::GscDataset", "a readable split list",
            "'" + file + "' (cannot open)");
    std::unordered_set<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
      size_t b = 0, e = line.size();
      while (b < e && std::isspace(static_cast<unsigned char>(line[b]))) ++b;
      while (e > b && std::isspace(static_cast<unsigned char>(line[e - 1]))) --e;
      if (e > b) out.insert(line.substr(b, e - b));
    }
    return out;
  }

  static std::vector<std::string> wav_files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && gsc_detail::ends_with_wav(name)) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::uint64_t make_key() const {
    gsc_detail::Hasher h;
    h.add(str_cat("asrc-gsc-cache v", gsc_detail::kVersion, "\n", opt_.features.key(),
                  "\nlabels=", to_string(opt_.labels), "\nsplit=", to_string(split_), "\n"));
    std::error_code ec;
    for (size_t i = 0; i < paths_.size(); ++i) {
      const auto bytes = std::filesystem::file_size(root_ + "/" + paths_[i], ec);
      h.add(str_cat(paths_[i], "\t", labels_[i], "\t", ec ? 0 : bytes, "\n"));
    }
    return h.value();
  }

  void compute_all() {
    const Index n = size(), per = steps() * width();
    feats_.assign(static_cast<size_t>(n * per), 0.0f);
    std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
    const LogMel proto(opt_.features);
    const int rate = opt_.features.sample_rate;
    int threads = 1;
#ifdef _OPENMP
    threads = opt_.threads > 0 ? opt_.threads : omp_get_max_threads();
#endif
    (void)threads;
#pragma omp parallel num_threads(threads)
    {
      LogMel ext(proto);  // per-thread FFT plans and scratch buffers
#pragma omp for schedule(dynamic, 4)
      for (Index i = 0; i < n; ++i) {
        try {
          const std::string file = root_ + "/" + paths_[static_cast<size_t>(i)];
          const WavAudio a = read_wav(file);
          require(a.sample_rate == rate, "GscDataset::GscDataset",
                  str_cat("fmt.sample_rate = ", rate, " Hz in '", file, "'"), a.sample_rate);
          ext.compute(a.samples.data(), static_cast<Index>(a.samples.size()),
                      feats_.data() + i * per);
        } catch (...) {
          errors[static_cast<size_t>(i)] = std::current_exception();
        }
      }
    }
    for (const auto& e : errors)
      if (e) std::rethrow_exception(e);  // the lowest failing index, whatever the schedule
  }

  std::uint64_t payload_checksum(const gsc_detail::CacheHeader& hd) const {
    gsc_detail::Hasher h;
    h.add(&hd, sizeof hd);
    h.add(labels_.data(), labels_.size() * sizeof(std::int32_t));
    h.add(feats_.data(), feats_.size() * sizeof(float));
    return h.value();
  }

  gsc_detail::CacheHeader header() const {
    gsc_detail::CacheHeader hd{};
    std::memcpy(hd.magic, gsc_detail::kMagic, 8);
    hd.version = gsc_detail::kVersion;
    hd.endian = gsc_detail::kEndian;
    hd.key = key_;
    hd.n = static_cast<std::uint64_t>(size());
    hd.t = static_cast<std::uint64_t>(steps());
    hd.f = static_cast<std::uint64_t>(width());
    return hd;
  }

  /// Read the cache file; false (and no partial state) if it is not a valid
  /// cache for exactly this key and sample list.
  bool load_cache() {
    namespace fs = std::filesystem;
    const gsc_detail::CacheHeader want = header();
    const std::uint64_t nfeat = want.n * want.t * want.f;
    const std::uint64_t expect = sizeof want + want.n * sizeof(std::int32_t) +
                                 nfeat * sizeof(float) + sizeof(std::uint64_t);
    std::error_code ec;
    const auto bytes = fs::file_size(cache_file_, ec);
    if (ec || bytes != expect) return false;
    std::ifstream in(cache_file_, std::ios::binary);
    gsc_detail::CacheHeader got{};
    if (!in.read(reinterpret_cast<char*>(&got), sizeof got)) return false;
    if (std::memcmp(&got, &want, sizeof got) != 0) return false;
    std::vector<std::int32_t> labels(static_cast<size_t>(want.n));
    std::vector<float> feats(static_cast<size_t>(nfeat));
    std::uint64_t sum = 0;
    if (!in.read(reinterpret_cast<char*>(labels.data()),
                 static_cast<std::streamsize>(labels.size() * sizeof(std::int32_t))) ||
        !in.read(reinterpret_cast<char*>(feats.data()),
                 static_cast<std::streamsize>(feats.size() * sizeof(float))) ||
        !in.read(reinterpret_cast<char*>(&sum), sizeof sum))
      return false;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] != labels_[i]) return false;
    std::swap(feats_, feats);
    if (payload_checksum(want) != sum) {
      feats_.clear();
      return false;
    }
    return true;
  }

  void write_cache() const {
    namespace fs = std::filesystem;
    const char* where = "GscDataset::GscDataset";
    std::random_device rd;
    const std::string tmp = cache_file_ + ".tmp" +
                            gsc_detail::hex64((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    const gsc_detail::CacheHeader hd = header();
    const std::uint64_t sum = payload_checksum(hd);
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      require(static_cast<bool>(out), where, "a writable cache folder", "'" + tmp + "'");
      out.write(reinterpret_cast<const char*>(&hd), sizeof hd);
      out.write(reinterpret_cast<const char*>(labels_.data()),
                static_cast<std::streamsize>(labels_.size() * sizeof(std::int32_t)));
      out.write(reinterpret_cast<const char*>(feats_.data()),
                static_cast<std::streamsize>(feats_.size() * sizeof(float)));
      out.write(reinterpret_cast<const char*>(&sum), sizeof sum);
      out.flush();
      if (!out) {
        out.close();
        std::error_code ec;
        fs::remove(tmp, ec);
        fail_expected(where, "a complete write of the cache file", "'" + tmp + "' (write error)");
      }
    }
    std::error_code ec;
    fs::rename(tmp, cache_file_, ec);
    if (ec) {
      std::error_code ec2;
      fs::remove(tmp, ec2);
      fail_expected(where, "a cache file that can be renamed into place",
                    "'" + cache_file_ + "' (" + ec.message() + ")");
    }
  }

  std::string root_;
  GscSplit split_;
  GscOptions opt_;
  std::vector<std::string> paths_;
  std::vector<std::int32_t> labels_;
  std::vector<float> feats_;
  Index num_silence_ = 0, missing_listed_ = 0, computed_ = 0, listed_ = 0;
  std::uint64_t key_ = 0;
  std::string cache_file_;
  bool from_cache_ = false, cache_rejected_ = false;
};

}  // namespace asrc
