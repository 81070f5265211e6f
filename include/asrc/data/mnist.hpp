#pragma once
// MNIST as a sequence task: S-MNIST and PS-MNIST.
//
// S-MNIST feeds the 784 pixels of a 28 x 28 image one per time step in
// row-major order, each as pixel / 255 (no other normalisation): 784 steps of
// width 1, 10 classes. PS-MNIST applies one fixed permutation of the 784 steps
// (step t takes pixel perm[t]), the same for the training and the test set.
//
// The files are the four original IDX files, each either plain or with ".gz"
// appended (see scripts/get_mnist.sh). Pixels stay uint8 in memory; fill()
// expands one sample to floats on request.
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/random.hpp"
#include "asrc/core/types.hpp"
#include "asrc/data/dataset.hpp"
#include "asrc/data/idx.hpp"

namespace asrc {

enum class MnistSplit { train, test };

inline const char* to_string(MnistSplit s) { return s == MnistSplit::train ? "train" : "test"; }

/// A Fisher-Yates shuffle of 0 .. n-1 drawn from asrc::Rng(seed); the same
/// seed gives the same permutation on every platform. The default n is the 784
/// pixels of an MNIST image (the PS-MNIST permutation).
inline std::vector<int> make_permutation(std::uint64_t seed, int n = 784) {
  require(n >= 0, "make_permutation", "a non-negative length", n);
  std::vector<int> p(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = i;
  Rng rng(seed);
  for (int i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1));
    std::swap(p[static_cast<std::size_t>(i)], p[j]);
  }
  return p;
}

/// A range of samples [first, last) of an MNIST file pair (a rank's shard).
struct MnistRows {
  Index first = 0, last = 0;
};

/// Chosen samples of an MNIST file pair, strictly increasing (a rank's shard of a subset).
struct MnistRowList {
  std::vector<Index> rows;
};

class MnistDataset : public Dataset {
 public:
  static constexpr int kRows = 28;
  static constexpr int kCols = 28;
  static constexpr int kPixels = kRows * kCols;  ///< 784 time steps
  static constexpr int kClasses = 10;

  /// S-MNIST from `dir`. `limit` > 0 keeps only the first `limit` samples
  /// (a limit above the file's count keeps them all); 0 keeps all.
  MnistDataset(const std::string& dir, MnistSplit split, Index limit = 0) : name_(to_string(split)) {
    const std::string images = find_file(dir, images_name(split));  // images first: the
    const std::string labels = find_file(dir, labels_name(split));  // first missing is named
    load(images, labels, limit);
  }

  /// PS-MNIST from `dir` with an explicit permutation (e.g. a saved one, or
  /// make_permutation(seed)); it must be a permutation of 0 .. 783.
  MnistDataset(const std::string& dir, MnistSplit split, std::vector<int> permutation,
               Index limit = 0)
      : MnistDataset(dir, split, limit) {
    set_permutation(std::move(permutation));
  }

  /// S-MNIST from two explicit IDX files; `name` appears in describe().
  MnistDataset(const std::string& images_path, const std::string& labels_path, std::string name,
               Index limit = 0)
      : name_(std::move(name)) {
    load(images_path, labels_path, limit);
  }

  /// S-MNIST samples [rows.first, rows.last) of two explicit IDX files, reading only those
  /// rows (read_idx_rows: a plain file is read from an offset, a .gz one is decompressed and
  /// the other rows skipped). The files' headers and sizes are checked as for a whole read;
  /// labels are checked only within the range. Sample i of this set is row first + i.
  MnistDataset(const std::string& images_path, const std::string& labels_path, std::string name,
               MnistRows rows)
      : name_(std::move(name)), first_row_(rows.first) {
    load_rows(images_path, labels_path, rows);
  }

  /// S-MNIST samples rows.rows[0], rows.rows[1], ... (strictly increasing) of two explicit
  /// IDX files, reading only those rows (read_idx_row_list), with the checks of the range
  /// constructor. Sample i of this set is row rows.rows[i].
  MnistDataset(const std::string& images_path, const std::string& labels_path, std::string name,
               const MnistRowList& rows)
      : name_(std::move(name)), first_row_(rows.rows.empty() ? 0 : rows.rows.front()), listed_(true) {
    const std::string where = "MnistDataset::load";
    const Index n = file_samples(images_path, labels_path);
    std::vector<std::uint64_t> r(rows.rows.size());
    for (std::size_t i = 0; i < r.size(); ++i) {
      require(rows.rows[i] >= 0 && rows.rows[i] < n, where,
              str_cat("rows within the ", n, " samples of file '", images_path, "'"), rows.rows[i]);
      r[i] = std::uint64_t(rows.rows[i]);
    }
    IdxRows img = read_idx_row_list(images_path, 3, r);
    IdxRows lab = read_idx_row_list(labels_path, 1, r);
    check_headers(img.dims, images_path, lab.dims, labels_path);
    for (std::size_t i = 0; i < lab.data.size(); ++i)
      if (lab.data[i] >= kClasses)
        fail_expected(where,
                      str_cat("labels in 0..", kClasses - 1, " in file '", labels_path,
                              "' (field 'label[", r[i], "]')"),
                      static_cast<int>(lab.data[i]));
    images_ = std::move(img.data);
    labels_ = std::move(lab.data);
  }

  /// Number of samples of an image and label file pair, from their headers (read_idx_dims:
  /// no data is read), with the checks of a whole load that need no data.
  static Index file_samples(const std::string& images_path, const std::string& labels_path) {
    return static_cast<Index>(check_headers(read_idx_dims(images_path, 3), images_path,
                                            read_idx_dims(labels_path, 1), labels_path));
  }

  /// File names of the original distribution (without ".gz").
  static std::string images_name(MnistSplit s) {
    return s == MnistSplit::train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte";
  }
  static std::string labels_name(MnistSplit s) {
    return s == MnistSplit::train ? "train-labels-idx1-ubyte" : "t10k-labels-idx1-ubyte";
  }

  /// Path of `base` in `dir`: the plain file if present, else `base`.gz.
  static std::string find_file(const std::string& dir, const std::string& base) {
    const std::string plain =
        (dir.empty() || dir.back() == '/') ? dir + base : dir + "/" + base;
    if (readable(plain)) return plain;
    const std::string gz = plain + ".gz";
    if (readable(gz)) return gz;
    fail_expected("MnistDataset::find_file",
                  str_cat("file '", plain, "' or '", gz,
                          "' (scripts/get_mnist.sh DIR downloads them)"),
                  "neither (missing file)");
  }

  /// Check that `p` is a permutation of 0 .. 783; throws otherwise.
  static void check_permutation(const std::vector<int>& p, const std::string& where) {
    require(p.size() == static_cast<std::size_t>(kPixels), where,
            str_cat("a permutation of 0..", kPixels - 1, " (", kPixels, " entries)"),
            str_cat(p.size(), " entries"));
    std::vector<char> seen(static_cast<std::size_t>(kPixels), 0);
    for (std::size_t t = 0; t < p.size(); ++t) {
      const int v = p[t];
      require(v >= 0 && v < kPixels, where,
              str_cat("a permutation of 0..", kPixels - 1, " (entry ", t, " in range)"), v);
      require(!seen[static_cast<std::size_t>(v)], where,
              str_cat("a permutation of 0..", kPixels - 1, " (each value once)"),
              str_cat("value ", v, " again at entry ", t));
      seen[static_cast<std::size_t>(v)] = 1;
    }
  }

  /// Switch to PS-MNIST: step t takes pixel perm[t].
  void set_permutation(std::vector<int> perm) {
    check_permutation(perm, "MnistDataset::set_permutation");
    perm_ = std::move(perm);
  }
  /// Back to S-MNIST (row-major order).
  void clear_permutation() { perm_.clear(); }
  bool permuted() const { return !perm_.empty(); }
  /// The PS-MNIST permutation (empty for S-MNIST).
  const std::vector<int>& permutation() const { return perm_; }

  Index size() const override { return static_cast<Index>(labels_.size()); }
  Index steps() const override { return kPixels; }
  Index width() const override { return 1; }
  int num_classes() const override { return kClasses; }
  int label(Index i) const override {
    check_index(i, "MnistDataset::label");
    return labels_[static_cast<std::size_t>(i)];
  }
  void fill(Index i, float* out) const override {
    const std::uint8_t* px = pixels(i);
    if (perm_.empty()) {
      for (int t = 0; t < kPixels; ++t) out[t] = static_cast<float>(px[t]) / 255.0f;
    } else {
      for (int t = 0; t < kPixels; ++t)
        out[t] = static_cast<float>(px[perm_[static_cast<std::size_t>(t)]]) / 255.0f;
    }
  }
  std::string describe() const override {
    if (listed_)
      return str_cat(permuted() ? "PS-MNIST " : "S-MNIST ", name_, " (", size(), " chosen rows from row ",
                     first_row_, ")");
    if (first_row_ >= 0)
      return str_cat(permuted() ? "PS-MNIST " : "S-MNIST ", name_, " rows ", first_row_, "..",
                     first_row_ + size() - 1, " (", size(), " samples)");
    return str_cat(permuted() ? "PS-MNIST " : "S-MNIST ", name_, " (", size(), " samples)");
  }

  /// The 784 raw pixels of sample i, row-major.
  const std::uint8_t* pixels(Index i) const {
    check_index(i, "MnistDataset::pixels");
    return images_.data() + static_cast<std::size_t>(i) * kPixels;
  }
  const std::string& name() const { return name_; }

 private:
  static bool readable(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return false;
    std::fclose(f);
    return true;
  }

  void check_index(Index i, const char* where) const {
    require(i >= 0 && i < size(), where, str_cat("a sample index in [0, ", size(), ")"), i);
  }

  /// The checks of load() on the two headers; returns the number of samples.
  static std::uint32_t check_headers(const std::vector<std::uint32_t>& img, const std::string& images_path,
                                     const std::vector<std::uint32_t>& lab, const std::string& labels_path) {
    const std::string where = "MnistDataset::load";
    if (img[1] != kRows || img[2] != kCols)
      fail_expected(where,
                    str_cat("fields 'size[1]' x 'size[2]' to be ", kRows, " x ", kCols,
                            " in file '", images_path, "'"),
                    str_cat(img[1], " x ", img[2]));
    if (img[0] == 0)
      fail_expected(where, str_cat("at least one image in file '", images_path, "'"), 0);
    if (lab[0] != img[0])
      fail_expected(where,
                    str_cat("field 'size[0]' of file '", labels_path, "' to equal the ",
                            img[0], " images of file '", images_path, "'"),
                    str_cat(lab[0], " labels (count mismatch)"));
    return img[0];
  }

  void load_rows(const std::string& images_path, const std::string& labels_path, MnistRows rows) {
    const std::string where = "MnistDataset::load";
    const Index n = file_samples(images_path, labels_path);
    require(rows.first >= 0 && rows.first <= rows.last && rows.last <= n, where,
            str_cat("rows [first, last) within the ", n, " samples of file '", images_path, "'"),
            str_cat("[", rows.first, ", ", rows.last, ")"));
    IdxRows img = read_idx_rows(images_path, 3, std::uint64_t(rows.first), std::uint64_t(rows.last));
    IdxRows lab = read_idx_rows(labels_path, 1, std::uint64_t(rows.first), std::uint64_t(rows.last));
    check_headers(img.dims, images_path, lab.dims, labels_path);  // the files may have changed
    for (std::size_t i = 0; i < lab.data.size(); ++i)
      if (lab.data[i] >= kClasses)
        fail_expected(where,
                      str_cat("labels in 0..", kClasses - 1, " in file '", labels_path,
                              "' (field 'label[", std::uint64_t(rows.first) + i, "]')"),
                      static_cast<int>(lab.data[i]));
    images_ = std::move(img.data);
    labels_ = std::move(lab.data);
  }

  void load(const std::string& images_path, const std::string& labels_path, Index limit) {
    const std::string where = "MnistDataset::load";
    require(limit >= 0, where, "a non-negative limit (0 keeps all samples)", limit);
    IdxArray img = read_idx(images_path, 3);
    if (img.dims[1] != kRows || img.dims[2] != kCols)
      fail_expected(where,
                    str_cat("fields 'size[1]' x 'size[2]' to be ", kRows, " x ", kCols,
                            " in file '", images_path, "'"),
                    str_cat(img.dims[1], " x ", img.dims[2]));
    if (img.dims[0] == 0)
      fail_expected(where, str_cat("at least one image in file '", images_path, "'"), 0);
    IdxArray lab = read_idx(labels_path, 1);
    if (lab.dims[0] != img.dims[0])
      fail_expected(where,
                    str_cat("field 'size[0]' of file '", labels_path, "' to equal the ",
                            img.dims[0], " images of file '", images_path, "'"),
                    str_cat(lab.dims[0], " labels (count mismatch)"));
    for (std::size_t i = 0; i < lab.data.size(); ++i)
      if (lab.data[i] >= kClasses)
        fail_expected(where,
                      str_cat("labels in 0..", kClasses - 1, " in file '", labels_path,
                              "' (field 'label[", i, "]')"),
                      static_cast<int>(lab.data[i]));
    std::size_t n = lab.data.size();
    if (limit > 0 && static_cast<std::uint64_t>(limit) < n) n = static_cast<std::size_t>(limit);
    images_ = std::move(img.data);
    labels_ = std::move(lab.data);
    if (n < labels_.size()) {
      images_.resize(n * kPixels);
      images_.shrink_to_fit();
      labels_.resize(n);
      labels_.shrink_to_fit();
    }
  }

  std::string name_;
  std::vector<std::uint8_t> images_;  ///< N x 784, row-major
  std::vector<std::uint8_t> labels_;  ///< N values in 0..9
  std::vector<int> perm_;             ///< empty: S-MNIST
  Index first_row_ = -1;              ///< the first row of a range read; -1: whole file
  bool listed_ = false;               ///< read from a row list
};

}  // namespace asrc
