#pragma once
// N-TIDIGITS (Anumula et al. 2018, "Feature representations for neuromorphic
// audio spike streams"): TIDIGITS played to a CochleaAMS1b silicon cochlea, in
// its HDF5 form, restricted to the single-digit utterances and binned into a
// binary fixed-length sequence task (reference semantics, spec section 6).
//
// File layout (n-tidigits.hdf5; <split> is "train" or "test"):
//   <split>_labels        1-D array of strings, one utterance id per row, e.g.
//                         "man-im-a-7557" or "woman-ab-b-o": dash-separated
//                         fields, the last one the spoken digit sequence.
//                         Fixed-length (numpy "|S18") and variable-length
//                         strings both read; NUL or space padding is removed.
//   <split>_addresses/<id>   1-D, N events: the channel of each event, 0..63
//                         (any integer type; a float type is accepted when
//                         every value is a whole number)
//   <split>_timestamps/<id>  1-D, N events: event times in seconds (any float
//                         type), the same N as the addresses (N may be 0)
// The stored dtypes are not documented; the ones above are what is accepted.
//
// Samples: the utterances whose last id field has exactly one character (a
// single digit), in the order of <split>_labels. The others (digit sequences)
// are skipped without reading their events; multi_digit_skipped() counts them.
// A single-character field that is not a digit below is an error.
//
// Classes (11): "z" (zero) -> 0, "1" .. "9" -> 1 .. 9, "o" (oh) -> 10;
// class_names() lists them by index.
//
// Binning. With window w = window_ms (default 3 ms) and T = steps (default
// 300, i.e. 0.9 s), an event at time t (seconds, as stored: no shift to the
// first event) goes to step
//     s = floor((t * 1000) / window_ms),
// each operation in IEEE double precision on the exact stored value (float32
// widens to double exactly). So step s covers [s*w, (s+1)*w) in milliseconds,
// and an event exactly on an edge opens the later step: 0.003 s (float64) is in
// step 1. Note that a float32 file cannot hold most decimal times exactly:
// float32 0.9 is 0.89999998 s, which lands in the last step 299, while float64
// 0.9 gives s = 300 and is dropped. Events with s >= T (t at or past T*w) are
// dropped and counted (events_dropped()); utterances shorter than T*w are
// zero-padded. Entry (s, c) of a sample is 1 if channel c has at least one
// event in step s, else 0 (binary OR, not a count).
//
// Memory: each sample is stored as a dense bitset, ceil(channels / 64) 64-bit
// words per step: 300 x 64 bits = 2400 bytes, about 6 MB for a 2,475-sample
// split. All samples are read and binned at construction.
//
// Errors: std::invalid_argument "NTidigitsDataset::NTidigitsDataset(): expected
// ..., got ..." naming the file and the dataset (and utterance / event) for a
// missing file, a missing or non-string labels dataset, an id with no dataset in
// the addresses or timestamps group, addresses and timestamps of different
// lengths, an address outside 0 .. channels-1, a negative or non-finite time, and
// a split with no single-digit utterances.
//
// Only available with HDF5 (link asrc::hdf5, which defines ASRC_HAVE_HDF5).
// HDF5 handles (spike_detail::Handle) and error silencing (spike_detail::QuietErrors)
// are those of asrc/data/spike_hdf5.hpp.
#include "asrc/data/spike_hdf5.hpp"

#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"
#include "asrc/data/dataset.hpp"

namespace asrc {

enum class NTidigitsSplit { train, test };

inline const char* to_string(NTidigitsSplit s) { return s == NTidigitsSplit::train ? "train" : "test"; }

/// "train" or "test" (as in the file's dataset names); anything else is refused.
inline NTidigitsSplit ntidigits_split(const std::string& name) {
  if (name == "train") return NTidigitsSplit::train;
  if (name == "test") return NTidigitsSplit::test;
  fail_expected("ntidigits_split", "a split 'train' or 'test'", "'" + name + "'");
}

struct NTidigitsOptions {
  double window_ms = 3.0;  ///< bin width in milliseconds
  Index steps = 300;       ///< time steps T (T * window_ms = 900 ms covered by default)
  Index channels = 64;     ///< addresses must lie in 0 .. channels-1; the sample width
  std::string name;        ///< for describe(); empty: "N-TIDIGITS <split>"
};

/// The single-digit utterances of one N-TIDIGITS split, each a steps() x width()
/// binary matrix (see the top of this header for layout, classes and binning).
class NTidigitsDataset : public Dataset {
 public:
  static constexpr int kNumClasses = 11;

  /// Class names by index: "zero", "1" .. "9", "oh".
  static const std::vector<std::string>& class_names() {
    static const std::vector<std::string> names = {"zero", "1", "2", "3", "4", "5",
                                                   "6",    "7", "8", "9", "oh"};
    return names;
  }

  /// Class of a digit field: "z" -> 0, "1" .. "9" -> 1 .. 9, "o" -> 10; -1 for any
  /// other string (a digit sequence, an empty field, another character).
  static int class_of(const std::string& digits) {
    if (digits.size() != 1) return -1;
    const char c = digits[0];
    if (c == 'z') return 0;
    if (c == 'o') return 10;
    if (c >= '1' && c <= '9') return c - '0';
    return -1;
  }

  /// The last dash-separated field of an utterance id (the whole id if it has no dash).
  static std::string digit_field(const std::string& id) {
    const std::size_t dash = id.rfind('-');
    return dash == std::string::npos ? id : id.substr(dash + 1);
  }

  NTidigitsDataset(const std::string& path, NTidigitsSplit split,
                   NTidigitsOptions options = NTidigitsOptions{})
      : path_(path), split_(split), opt_(std::move(options)) {
    const char* where = "NTidigitsDataset::NTidigitsDataset";
    require(std::isfinite(opt_.window_ms) && opt_.window_ms > 0.0, where,
            "a finite window_ms > 0", opt_.window_ms);
    require(opt_.steps >= 1, where, "steps >= 1", opt_.steps);
    require(opt_.channels >= 1, where, "channels >= 1", opt_.channels);
    words_ = static_cast<std::size_t>((opt_.channels + 63) / 64);
    per_sample_ = static_cast<std::size_t>(opt_.steps) * words_;
    require(per_sample_ / words_ == static_cast<std::size_t>(opt_.steps), where,
            "steps x channels that fit in memory", str_cat(opt_.steps, " x ", opt_.channels));
    if (opt_.name.empty()) opt_.name = str_cat("N-TIDIGITS ", to_string(split_));
    load();
  }

  // --- Dataset interface ---
  Index size() const override { return static_cast<Index>(labels_.size()); }
  Index steps() const override { return opt_.steps; }
  Index width() const override { return opt_.channels; }
  int num_classes() const override { return kNumClasses; }
  int label(Index i) const override { return labels_[checked(i, "label")]; }
  void fill(Index i, float* out) const override {
    const std::uint64_t* b = bits_.data() + checked(i, "fill") * per_sample_;
    const Index C = opt_.channels;
    for (Index s = 0; s < opt_.steps; ++s, b += words_) {
      float* row = out + s * C;
      for (Index c = 0; c < C; ++c)
        row[c] = ((b[static_cast<std::size_t>(c >> 6)] >> (c & 63)) & 1u) ? 1.0f : 0.0f;
    }
  }
  std::string describe() const override {
    return str_cat(opt_.name, " (", size(), " samples, ", opt_.steps, " steps x ", opt_.channels,
                   " channels, ", opt_.window_ms, " ms windows, ", kNumClasses, " classes)");
  }

  /// Entry (step, channel) of sample i: true if the channel has an event in that step.
  bool active(Index i, Index step, Index channel) const {
    const std::size_t s = checked(i, "active");
    require(step >= 0 && step < opt_.steps && channel >= 0 && channel < opt_.channels,
            "NTidigitsDataset::active", str_cat("a step in [0, ", opt_.steps, ") and a channel in [0, ",
                                                opt_.channels, ")"),
            str_cat("step ", step, ", channel ", channel));
    const std::uint64_t w = bits_[s * per_sample_ + static_cast<std::size_t>(step) * words_ +
                                  static_cast<std::size_t>(channel >> 6)];
    return ((w >> (channel & 63)) & 1u) != 0;
  }

  /// Utterance id of sample i (its dataset name in the addresses / timestamps groups).
  const std::string& utterance_id(Index i) const { return ids_[checked(i, "utterance_id")]; }
  /// Row of sample i in the file's <split>_labels.
  Index file_row(Index i) const { return rows_[checked(i, "file_row")]; }
  /// Rows of <split>_labels: all utterances, single-digit or not.
  Index utterances_in_file() const { return utterances_in_file_; }
  /// Utterances skipped because their last id field is not a single character.
  Index multi_digit_skipped() const { return utterances_in_file_ - size(); }
  /// Events of the samples read (in range or not).
  std::uint64_t events_read() const { return events_read_; }
  /// Events at or past steps * window_ms, dropped.
  std::uint64_t events_dropped() const { return events_dropped_; }
  /// Heap bytes of the binned samples and labels.
  std::size_t bytes() const {
    std::size_t b = bits_.capacity() * sizeof(std::uint64_t) + labels_.capacity() * sizeof(int) +
                    rows_.capacity() * sizeof(Index) + ids_.capacity() * sizeof(std::string);
    for (const auto& s : ids_) b += s.capacity();
    return b;
  }
  NTidigitsSplit split() const { return split_; }
  const NTidigitsOptions& options() const { return opt_; }
  const std::string& path() const { return path_; }

 private:
  using Handle = spike_detail::Handle;

  std::size_t checked(Index i, const char* method) const {
    if (i < 0 || i >= size())
      fail_expected(str_cat("NTidigitsDataset::", method),
                    str_cat("a sample index in [0, ", size(), ")"), i);
    return static_cast<std::size_t>(i);
  }

  template <typename Got>
  [[noreturn]] void fail(const std::string& expected, const Got& got) const {
    fail_expected("NTidigitsDataset::NTidigitsDataset", expected, got);
  }

  // " in dataset 'train_labels' of file 'x.hdf5'"
  std::string in(const std::string& dataset) const {
    return str_cat(" in dataset '", dataset, "' of file '", path_, "'");
  }

  // Kind of object at `name` below `loc`: H5I_DATASET, H5I_GROUP, ... or
  // H5I_BADID if there is none.
  static H5I_type_t object_type(hid_t loc, const std::string& name) {
    if (name.empty() || H5Lexists(loc, name.c_str(), H5P_DEFAULT) <= 0) return H5I_BADID;
    Handle o(H5Oopen(loc, name.c_str(), H5P_DEFAULT), H5Oclose);
    return o.valid() ? H5Iget_type(o.get()) : H5I_BADID;
  }

  // Opens the dataset or group (`kind`) `name` below `loc`; `full` is its path for
  // messages and `what` says what it holds.
  Handle open_object(hid_t loc, const std::string& name, const std::string& full, const std::string& what,
                     H5I_type_t kind) const {
    const bool dataset = kind == H5I_DATASET;
    const std::string noun = dataset ? "dataset" : "group";
    const H5I_type_t t = object_type(loc, name);
    if (t != kind)
      fail(str_cat("a ", noun, " '", full, "' (", what, ") in file '", path_, "'"),
           t == H5I_BADID ? "no such object" : "an object that is not a " + noun);
    Handle h = dataset ? Handle(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose)
                       : Handle(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose);
    if (!h.valid()) fail(str_cat("a readable ", noun, " '", full, "' in file '", path_, "'"), "an HDF5 error");
    return h;
  }
  Handle open_dataset(hid_t loc, const std::string& name, const std::string& full, const std::string& what) const {
    return open_object(loc, name, full, what, H5I_DATASET);
  }
  Handle open_group(hid_t file, const std::string& name, const std::string& what) const {
    return open_object(file, name, name, what, H5I_GROUP);
  }

  // Number of elements of a 1-D dataset.
  std::size_t length_of(hid_t dset, const std::string& full) const {
    Handle space(H5Dget_space(dset), H5Sclose);
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (rank != 1) fail(str_cat("a 1-D dataset", in(full)), str_cat("rank ", rank));
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    return static_cast<std::size_t>(n);
  }

  H5T_class_t class_of_dataset(hid_t dset) const {
    Handle t(H5Dget_type(dset), H5Tclose);
    return t.valid() ? H5Tget_class(t.get()) : H5T_NO_CLASS;
  }

  // All strings of the 1-D string dataset `full`, padding removed.
  std::vector<std::string> read_strings(hid_t dset, const std::string& full) const {
    Handle ftype(H5Dget_type(dset), H5Tclose);
    const H5T_class_t cls = ftype.valid() ? H5Tget_class(ftype.get()) : H5T_NO_CLASS;
    if (cls != H5T_STRING)
      fail(str_cat("strings (utterance ids)", in(full)), spike_detail::h5_class_name(cls));
    const std::size_t n = length_of(dset, full);
    std::vector<std::string> out(n);
    if (n == 0) return out;
    const hsize_t dims = static_cast<hsize_t>(n);
    Handle mspace(H5Screate_simple(1, &dims, nullptr), H5Sclose);
    const htri_t vlen = H5Tis_variable_str(ftype.get());
    if (vlen < 0) fail(str_cat("a readable string type", in(full)), "an HDF5 error");
    if (vlen > 0) {
      // Variable-length strings: HDF5 allocates each one; reclaimed below.
      Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
      if (!mtype.valid() || H5Tset_size(mtype.get(), H5T_VARIABLE) < 0 ||
          H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get())) < 0)
        fail(str_cat("a readable string type", in(full)), "an HDF5 error");
      std::vector<char*> p(n, nullptr);
      if (H5Dread(dset, mtype.get(), mspace.get(), H5S_ALL, H5P_DEFAULT, p.data()) < 0)
        fail(str_cat("readable strings", in(full)), "a read error");
      for (std::size_t i = 0; i < n; ++i)
        if (p[i]) out[i] = p[i];
#if H5_VERSION_GE(1, 12, 0)
      H5Treclaim(mtype.get(), mspace.get(), H5P_DEFAULT, p.data());
#else
      H5Dvlen_reclaim(mtype.get(), mspace.get(), H5P_DEFAULT, p.data());
#endif
    } else {
      // Fixed-length strings, read without conversion (the file's own type) and
      // cut at the first NUL; space padding is stripped as well.
      const std::size_t len = H5Tget_size(ftype.get());
      if (len == 0) fail(str_cat("a readable string type", in(full)), "strings of size 0");
      const H5T_str_t pad = H5Tget_strpad(ftype.get());
      std::vector<char> buf(n * len, '\0');
      if (H5Dread(dset, ftype.get(), mspace.get(), H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
        fail(str_cat("readable strings", in(full)), "a read error");
      for (std::size_t i = 0; i < n; ++i) {
        const char* s = buf.data() + i * len;
        std::size_t k = 0;
        while (k < len && s[k] != '\0') ++k;
        if (pad == H5T_STR_SPACEPAD)
          while (k > 0 && s[k - 1] == ' ') --k;
        out[i].assign(s, k);
      }
    }
    return out;
  }

  // Reads a 1-D numeric dataset converted by HDF5 to double.
  void read_doubles(hid_t dset, std::size_t n, std::vector<double>& v, const std::string& full,
                    const char* what) const {
    v.resize(n);
    if (n == 0) return;
    if (H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) < 0)
      fail(str_cat("readable ", what, in(full)), "a read error");
  }

  void load() {
    spike_detail::QuietErrors quiet;
    const char* what_file = "an existing HDF5 file (N-TIDIGITS)";
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec))
      fail(what_file, spike_detail::quoted(path_) + " does not exist or is not a file");
#if H5_VERSION_GE(1, 12, 0)
    const htri_t is_h5 = H5Fis_accessible(path_.c_str(), H5P_DEFAULT);
#else
    const htri_t is_h5 = H5Fis_hdf5(path_.c_str());
#endif
    if (is_h5 <= 0) fail("an HDF5 file (N-TIDIGITS)", spike_detail::quoted(path_) + ", which is not HDF5");
    Handle file(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.valid())
      fail("a readable HDF5 file (N-TIDIGITS)", spike_detail::quoted(path_) + " (open failed)");

    const std::string sp = to_string(split_);
    const std::string labels_name = sp + "_labels";
    const std::string addr_name = sp + "_addresses";
    const std::string time_name = sp + "_timestamps";

    // Utterance ids; keep the single-digit ones.
    std::vector<std::string> all;
    {
      Handle labels = open_dataset(file.get(), labels_name, labels_name, "the utterance ids");
      all = read_strings(labels.get(), labels_name);
    }
    utterances_in_file_ = static_cast<Index>(all.size());
    for (std::size_t r = 0; r < all.size(); ++r) {
      const std::string field = digit_field(all[r]);
      if (field.size() != 1) continue;
      const int c = class_of(field);
      if (c < 0)
        fail(str_cat("utterance ids whose last field is a digit sequence or one digit z, o, 1 .. 9",
                     in(labels_name), " (row ", r, ")"),
             "'" + all[r] + "'");
      ids_.push_back(all[r]);
      labels_.push_back(c);
      rows_.push_back(static_cast<Index>(r));
    }
    if (ids_.empty())
      fail(str_cat("at least one single-digit utterance id (last field z, o or 1 .. 9)", in(labels_name)),
           str_cat("none among ", all.size(), " ids"));
    all = {};

    Handle addr_group = open_group(file.get(), addr_name, "event addresses per utterance");
    Handle time_group = open_group(file.get(), time_name, "event timestamps per utterance");

    const std::size_t n = ids_.size();
    bits_.assign(n * per_sample_, 0);
    std::vector<double> addr, time;
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& id = ids_[i];
      const std::string a_full = addr_name + "/" + id;
      const std::string t_full = time_name + "/" + id;
      const std::string whose = str_cat("of utterance '", id, "', row ", rows_[i], " of '", labels_name, "'");
      Handle ad = open_dataset(addr_group.get(), id, a_full, "the event addresses " + whose);
      Handle td = open_dataset(time_group.get(), id, t_full, "the event timestamps " + whose);
      const H5T_class_t ac = class_of_dataset(ad.get());
      if (ac != H5T_INTEGER && ac != H5T_FLOAT)
        fail(str_cat("integer channel addresses", in(a_full)), spike_detail::h5_class_name(ac));
      const H5T_class_t tc = class_of_dataset(td.get());
      if (tc != H5T_FLOAT) fail(str_cat("floating-point timestamps in seconds", in(t_full)), spike_detail::h5_class_name(tc));
      const std::size_t na = length_of(ad.get(), a_full);
      const std::size_t nt = length_of(td.get(), t_full);
      if (na != nt)
        fail(str_cat("datasets '", a_full, "' and '", t_full, "' of the same length in file '", path_, "'"),
             str_cat(na, " addresses and ", nt, " timestamps"));
      // Addresses as double: exact for any integer up to 2^53, and for the whole
      // numbers of a float type (others are refused below).
      read_doubles(ad.get(), na, addr, a_full, "channel addresses");
      read_doubles(td.get(), nt, time, t_full, "timestamps");
      std::uint64_t* sample = bits_.data() + i * per_sample_;
      const double channels = static_cast<double>(opt_.channels);
      const double horizon = static_cast<double>(opt_.steps);
      for (std::size_t k = 0; k < na; ++k) {
        const double a = addr[k];
        if (!(a >= 0.0 && a < channels && a == std::floor(a)))
          fail(str_cat("channel addresses in 0 .. ", opt_.channels - 1, in(a_full), " (event ", k, ")"), a);
        const double t = time[k];
        if (!(std::isfinite(t) && t >= 0.0))
          fail(str_cat("finite timestamps >= 0 (seconds)", in(t_full), " (event ", k, ")"), t);
        const double q = (t * 1000.0) / opt_.window_ms;
        if (!(q < horizon)) {
          ++events_dropped_;
          continue;
        }
        const auto s = static_cast<std::size_t>(q);  // floor, q >= 0
        const auto c = static_cast<std::size_t>(a);
        sample[s * words_ + (c >> 6)] |= std::uint64_t{1} << (c & 63);
      }
      events_read_ += na;
    }
  }

  std::string path_;
  NTidigitsSplit split_;
  NTidigitsOptions opt_;
  std::size_t words_ = 1;       // 64-bit words per step
  std::size_t per_sample_ = 0;  // words per sample
  std::vector<std::uint64_t> bits_;
  std::vector<int> labels_;
  std::vector<std::string> ids_;
  std::vector<Index> rows_;
  Index utterances_in_file_ = 0;
  std::uint64_t events_read_ = 0;
  std::uint64_t events_dropped_ = 0;
};

}  // namespace asrc
