#pragma once
// The Spiking Heidelberg Datasets (SHD, SSC) in their HDF5 form, binned into
// a fixed-length sequence task, and a writer for files of the same layout.
//
// File layout (both SHD and SSC):
//   spikes/times  N rows, variable length, spike times in seconds
//                 (the published files store float16; float32/float64 also read)
//   spikes/units  N rows, variable length, the firing unit of each spike, 0..699
//                 (published: uint16; any integer type reads)
//   labels        N integers (published: uint16), 0..34 for SSC, 0..19 for SHD
//   extra/        metadata, ignored here
//
// Binning (reference semantics, section 6). The edges are numpy's
// linspace(0, max_time, steps): edge k = k * (max_time / (steps - 1)) for
// k < steps - 1 and the last edge is max_time itself. A spike at time t goes to
// step "number of edges <= t" (numpy.digitize), compared in double precision
// on the exact value stored in the file (float16 and float32 widen to double
// without rounding; IEEE half rows are decoded by the reader itself, through
// a table from the 65536 bit patterns to steps, as HDF5's conversion of that
// user-defined type is slow). Hence step 0 is never used, t in [0, max_time) lands in
// 1 .. steps-1, and t >= max_time gives index `steps`, one past the end. Those
// spikes are dropped by default (SpikeOutOfRange::drop) or put into the last
// step (SpikeOutOfRange::clamp); either way they are counted, see
// spikes_out_of_range(). A float16 file cannot hold 1.4 exactly: its nearest
// value 1.400390625 is out of range, while float32's 1.4f = 1.39999998 is not.
//
// Values are counts, not binary flags: k spikes of one unit in one step give
// k. The n_channels units are summed in consecutive groups of n_bins (700 / 5
// = 140 inputs): input channel c = unit / n_bins.
//
// Memory: each sample is kept as a stream of 16-bit tokens sorted by step then
// channel: a "step" token (top bit set, low 15 bits the step) opens each
// non-empty step, followed by one token per non-zero (channel, count) cell
// with the channel in the high bits and count - 1 in the low bits (a count too
// large for its bits continues in further tokens of the same channel). That
// is 2 bytes per occupied cell plus 2 bytes per non-empty step: at most 4
// bytes per spike (every spike alone in its step), about 1.9-2.5 at SSC-like
// densities of 1000-6000 spikes per sample. The tokens live in fixed-capacity
// blocks so loading never reallocates (no 2x peak). fill() expands one
// sample densely; for_each_event() walks the non-zero cells.
//
// Only available with HDF5 (link asrc::hdf5, which defines ASRC_HAVE_HDF5).
#ifndef ASRC_HAVE_HDF5
#error "asrc/data/spike_hdf5.hpp needs HDF5: link the asrc::hdf5 CMake target (it defines ASRC_HAVE_HDF5)"
#endif

#include <hdf5.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"
#include "asrc/data/dataset.hpp"

namespace asrc {

/// What happens to a spike whose step index falls past the last step
/// (t >= max_time).
enum class SpikeOutOfRange { drop, clamp };

inline const char* to_string(SpikeOutOfRange p) {
  return p == SpikeOutOfRange::drop ? "drop" : "clamp";
}

/// On-disk element types for write_spike_hdf5().
enum class SpikeTimeType { float16, float32, float64 };
enum class SpikeUnitType { uint16, uint32 };
enum class SpikeLabelType { uint8, uint16, int32, int64 };

struct SpikeHdf5Options {
  int num_classes = 35;           ///< labels must lie in 0 .. num_classes-1 (SSC 35, SHD 20)
  Index n_channels = 700;         ///< units must lie in 0 .. n_channels-1
  Index n_bins = 5;               ///< units summed per input channel (700 / 5 = 140)
  Index steps = 250;              ///< time steps T
  double max_time = 1.4;          ///< seconds covered by the edges linspace(0, max_time, steps)
  SpikeOutOfRange out_of_range = SpikeOutOfRange::drop;
  Index limit = 0;                ///< > 0: keep only the first `limit` rows; 0: all
  /// Set: only these rows of the file (below those `limit` keeps), strictly increasing;
  /// sample i is row (*rows)[i]. They are read through hyperslab selections of their runs of
  /// consecutive rows, so nothing of the other rows is read (a rank's shard under MPI). An
  /// empty list gives an empty set (a shard of a set smaller than the number of ranks).
  std::optional<std::vector<Index>> rows;
  std::string name;               ///< for describe(); empty: the file name
  Index read_rows = 256;          ///< rows per HDF5 read (bounds the temporary buffers)
  /// Read the file once in a child process (fork) first. libhdf5 1.10 itself crashes or
  /// loops forever on some damaged files (fuzz/README.md); this turns that into a
  /// std::invalid_argument naming the file, at the cost of reading it twice. POSIX only;
  /// asrc-train turns it on. 0 seconds: off.
  unsigned check_in_child_s = 0;

  /// The rows [first, last) as a list for `rows`.
  static std::vector<Index> row_range(Index first, Index last) {
    require(first >= 0 && first <= last, "SpikeHdf5Options::row_range", "0 <= first <= last",
            str_cat("[", first, ", ", last, ")"));
    std::vector<Index> r(static_cast<std::size_t>(last - first));
    for (Index i = first; i < last; ++i) r[static_cast<std::size_t>(i - first)] = i;
    return r;
  }

  static SpikeHdf5Options ssc() { return SpikeHdf5Options{}; }
  static SpikeHdf5Options shd() {
    SpikeHdf5Options o;
    o.num_classes = 20;
    return o;
  }
};

namespace spike_detail {

/// Owns one HDF5 identifier and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

/// Switches HDF5's automatic error printing off for its lifetime and restores
/// the previous handler afterwards; failures are turned into exceptions.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

/// IEEE 754 binary16, little-endian (sign bit 15, exponent bits 10-14, bias
/// 15, mantissa bits 0-9), built from a copy of the float32 type as HDF5 1.10
/// has no predefined half type. HDF5 converts it to and from native floats.
inline Handle make_float16_type() {
  Handle t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  if (!t.valid() || H5Tset_fields(t.get(), 15, 10, 5, 0, 10) < 0 || H5Tset_size(t.get(), 2) < 0 ||
      H5Tset_ebias(t.get(), 15) < 0)
    throw std::runtime_error("asrc::spike_detail::make_float16_type(): HDF5 refused the half type");
  return t;
}

/// Frees the variable-length rows HDF5 allocated during a read.
class VlenRows {
 public:
  VlenRows(hid_t mem_type, hid_t mem_space, std::size_t n)
      : type_(mem_type), space_(mem_space), rows_(n, hvl_t{0, nullptr}) {}
  VlenRows(const VlenRows&) = delete;
  VlenRows& operator=(const VlenRows&) = delete;
  ~VlenRows() {
    if (!filled_) return;
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(type_, space_, H5P_DEFAULT, rows_.data());
#else
    H5Dvlen_reclaim(type_, space_, H5P_DEFAULT, rows_.data());
#endif
  }
  hvl_t* data() { return rows_.data(); }
  const hvl_t& operator[](std::size_t i) const { return rows_[i]; }
  void mark_filled() { filled_ = true; }

 private:
  hid_t type_;
  hid_t space_;
  std::vector<hvl_t> rows_;
  bool filled_ = false;
};

inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

/// Bits of the IEEE binary16 value nearest to x, ties to even (what numpy's
/// astype(float16) gives; HDF5's own conversion rounds ties away from zero).
/// Overflow gives infinity, NaN a quiet NaN.
inline std::uint16_t float16_bits(double x) {
  std::uint64_t b = 0;
  std::memcpy(&b, &x, sizeof b);
  const auto sign = static_cast<std::uint16_t>((b >> 48) & 0x8000u);
  const std::uint64_t a = b & 0x7FFFFFFFFFFFFFFFull;
  if (a >= 0x7FF0000000000000ull)  // infinity or NaN
    return static_cast<std::uint16_t>(sign | (a == 0x7FF0000000000000ull ? 0x7C00u : 0x7E00u));
  const int e = static_cast<int>(a >> 52) - 1023;
  if (e > 15) return static_cast<std::uint16_t>(sign | 0x7C00u);
  const std::uint64_t frac = a & ((std::uint64_t{1} << 52) - 1);
  std::uint64_t h, rem, half;
  if (e >= -14) {  // normal half: keep the top 10 of 52 fraction bits
    h = (static_cast<std::uint64_t>(e + 15) << 10) | (frac >> 42);
    rem = frac & ((std::uint64_t{1} << 42) - 1);
    half = std::uint64_t{1} << 41;
  } else {  // subnormal half (or zero): multiples of 2^-24
    if (e < -25 || a == 0) return sign;  // below 2^-25: rounds to zero
    const std::uint64_t m = frac | (std::uint64_t{1} << 52);
    const int shift = 28 - e;  // 43 .. 53
    h = m >> shift;
    rem = m & ((std::uint64_t{1} << shift) - 1);
    half = std::uint64_t{1} << (shift - 1);
  }
  if (rem > half || (rem == half && (h & 1u))) ++h;  // a carry may reach the exponent / infinity
  return static_cast<std::uint16_t>(sign | h);
}

/// The exact value of IEEE binary16 bits, as a double.
inline double float16_value(std::uint16_t h) {
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  double v;
  if (e == 0)
    v = std::ldexp(static_cast<double>(m), -24);  // zero or subnormal
  else if (e == 31)
    v = m ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else
    v = std::ldexp(static_cast<double>(m + 1024), e - 25);
  return (h & 0x8000u) ? -v : v;
}

/// True when `t` is exactly little-endian IEEE binary16 (what h5py writes
/// for numpy float16), which the reader then decodes itself: HDF5's generic
/// conversion of such a user-defined float is about 100x slower.
inline bool is_ieee_half_le(hid_t t) {
  if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 2 || H5Tget_precision(t) != 16 ||
      H5Tget_offset(t) != 0 || H5Tget_order(t) != H5T_ORDER_LE || H5Tget_ebias(t) != 15 ||
      H5Tget_norm(t) != H5T_NORM_IMPLIED)
    return false;
  std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10;
}

/// What an HDF5 type class holds, for error messages ("integers", "strings", ...).
inline const char* h5_class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integers";
    case H5T_FLOAT: return "floats";
    case H5T_STRING: return "strings";
    case H5T_COMPOUND: return "a compound type";
    case H5T_VLEN: return "variable-length rows";
    case H5T_ARRAY: return "an array type";
    case H5T_ENUM: return "an enum type";
    case H5T_OPAQUE: return "an opaque type";
    case H5T_BITFIELD: return "a bitfield type";
    case H5T_REFERENCE: return "references";
    default: return "an unsupported type";
  }
}

}  // namespace spike_detail

/// The step edges numpy.linspace(0, max_time, steps) would produce, bit for
/// bit: k * (max_time / (steps - 1)) for k < steps - 1, and max_time last.
inline std::vector<double> spike_bin_edges(Index steps, double max_time) {
  require(steps >= 2, "spike_bin_edges", "at least 2 steps", steps);
  require(std::isfinite(max_time) && max_time > 0.0, "spike_bin_edges",
          "a finite positive max_time", max_time);
  std::vector<double> e(static_cast<std::size_t>(steps));
  const double step = max_time / static_cast<double>(steps - 1);
  for (Index k = 0; k < steps; ++k) e[static_cast<std::size_t>(k)] = static_cast<double>(k) * step;
  e.back() = max_time;
  return e;
}

/// Number of edges <= t (numpy.digitize(t, edges) for increasing edges).
inline Index spike_step_index(const std::vector<double>& edges, double t) {
  return static_cast<Index>(std::upper_bound(edges.begin(), edges.end(), t) - edges.begin());
}

/// SHD / SSC spike trains binned to steps() x width() counts per sample.
class SpikeDataset : public Dataset {
 public:
  explicit SpikeDataset(const std::string& path, SpikeHdf5Options options = SpikeHdf5Options{})
      : opt_(std::move(options)), path_(path) {
    const char* where = "SpikeDataset::SpikeDataset";
    require(opt_.num_classes >= 1, where, "num_classes >= 1", opt_.num_classes);
    require(opt_.n_channels >= 1, where, "n_channels >= 1", opt_.n_channels);
    require(opt_.n_bins >= 1 && opt_.n_channels % opt_.n_bins == 0, where,
            str_cat("n_bins >= 1 dividing n_channels = ", opt_.n_channels), opt_.n_bins);
    require(opt_.steps >= 2 && opt_.steps <= kMaxSteps, where,
            str_cat("steps in [2, ", kMaxSteps, "]"), opt_.steps);
    require(std::isfinite(opt_.max_time) && opt_.max_time > 0.0, where,
            "a finite positive max_time", opt_.max_time);
    require(opt_.limit >= 0, where, "limit >= 0 (0 keeps all rows)", opt_.limit);
    require(opt_.read_rows >= 1, where, "read_rows >= 1", opt_.read_rows);
    width_ = opt_.n_channels / opt_.n_bins;
    channel_bits_ = 1;
    while ((Index{1} << channel_bits_) < width_) ++channel_bits_;
    require(channel_bits_ <= 14, where, "at most 16384 input channels (n_channels / n_bins)",
            width_);
    count_bits_ = 15 - channel_bits_;
    if (opt_.name.empty()) opt_.name = std::filesystem::path(path).filename().string();
    if (opt_.check_in_child_s > 0) check_in_child();
    load();
  }

  /// The number of rows of the file (all three datasets checked as a whole read checks
  /// them), reading none of them: what a rank needs to know to choose its shard. Options
  /// as for the constructor (check_in_child_s applies).
  static Index file_rows(const std::string& path, SpikeHdf5Options options = SpikeHdf5Options{}) {
    options.rows = std::vector<Index>{};
    return SpikeDataset(path, std::move(options)).rows_in_file();
  }

  /// Reads the file in a forked child with an alarm, and refuses it if the child does not
  /// end normally: a crash or a hang inside libhdf5. Ordinary refusals are left to the
  /// read in this process, which reports them with their own message.
  void check_in_child() const {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) return;  // cannot fork: read in this process only
    if (pid == 0) {
      ::alarm(opt_.check_in_child_s);  // a hang ends with SIGALRM
      int rc = 0;
      try {
        SpikeHdf5Options o = opt_;
        o.check_in_child_s = 0;
        SpikeDataset probe(path_, o);
      } catch (const std::invalid_argument&) {
        rc = 2;
      } catch (...) {
        rc = 3;
      }
      ::_exit(rc);  // no atexit handlers, no destructors of the parent's objects
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const bool normal = WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 2 ||
                                              WEXITSTATUS(status) == 3);
    if (normal) return;
    std::string how;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
      how = str_cat("reading it did not finish within ", opt_.check_in_child_s, " s");
    else if (WIFSIGNALED(status))
      how = str_cat("reading it killed the reading process with signal ", WTERMSIG(status), " (",
                    ::strsignal(WTERMSIG(status)), ")");
    else
      how = str_cat("reading it ended the reading process with status ", WEXITSTATUS(status));
    fail_expected("SpikeDataset::SpikeDataset",
                  str_cat("file '", path_, "' to be readable by the HDF5 library"),
                  str_cat("a damaged file: ", how, " inside libhdf5"));
  }

  // --- Dataset interface ---
  Index size() const override { return static_cast<Index>(labels_.size()); }
  Index steps() const override { return opt_.steps; }
  Index width() const override { return width_; }
  int num_classes() const override { return opt_.num_classes; }
  int label(Index i) const override { return labels_[checked(i, "label")]; }
  void fill(Index i, float* out) const override {
    const std::size_t s = checked(i, "fill");
    std::fill(out, out + opt_.steps * width_, 0.0f);
    for_each_event(static_cast<Index>(s), [&](Index step, Index channel, std::uint32_t count) {
      out[step * width_ + channel] += static_cast<float>(count);
    });
  }
  std::string describe() const override {
    std::string rows;
    if (opt_.rows && !opt_.rows->empty()) {
      const auto& r = *opt_.rows;
      rows = r.back() - r.front() + 1 == size() ? str_cat(", rows ", r.front(), "..", r.back())
                                                 : str_cat(", chosen rows from row ", r.front());
    }
    return str_cat(opt_.name, " (", size(), " samples", rows, ", ", opt_.steps, " steps x ", width_,
                   " channels, ", opt_.num_classes, " classes)");
  }

  /// Calls f(step, channel, count) for every non-zero cell of sample i, in
  /// increasing (step, channel) order.
  template <typename F>
  void for_each_event(Index i, F&& f) const {
    const Span& sp = spans_[checked(i, "for_each_event")];
    const std::uint16_t* tok = blocks_[sp.block].data() + sp.begin;
    const std::uint16_t* end = tok + sp.length;
    const std::uint16_t mask = static_cast<std::uint16_t>((1u << count_bits_) - 1u);
    Index step = 0;
    while (tok != end) {
      const std::uint16_t v = *tok++;
      if (v & kStepFlag) {
        step = static_cast<Index>(v & ~kStepFlag);
        continue;
      }
      const Index channel = static_cast<Index>(v >> count_bits_);
      std::uint32_t count = static_cast<std::uint32_t>(v & mask) + 1u;
      // A large count continues in tokens of the same channel.
      while (tok != end && !(*tok & kStepFlag) && static_cast<Index>(*tok >> count_bits_) == channel)
        count += static_cast<std::uint32_t>(*tok++ & mask) + 1u;
      f(step, channel, count);
    }
  }

  /// Spikes in the rows loaded (all of them, in range or not).
  std::uint64_t spikes_read() const { return spikes_read_; }
  /// Spikes with t >= max_time: dropped (policy drop) or put in the last step (clamp).
  std::uint64_t spikes_out_of_range() const { return spikes_out_of_range_; }
  /// Spikes dropped (0 under the clamp policy).
  std::uint64_t spikes_dropped() const {
    return opt_.out_of_range == SpikeOutOfRange::drop ? spikes_out_of_range_ : 0;
  }
  /// Rows in the file (before `limit`).
  Index rows_in_file() const { return rows_in_file_; }
  /// 16-bit tokens stored over all samples.
  std::uint64_t tokens() const { return tokens_; }
  /// Heap bytes held by this dataset (token blocks, sample index and labels).
  std::size_t bytes() const {
    std::size_t b = spans_.capacity() * sizeof(Span) + labels_.capacity() * sizeof(int) +
                    blocks_.capacity() * sizeof(std::vector<std::uint16_t>);
    for (const auto& blk : blocks_) b += blk.capacity() * sizeof(std::uint16_t);
    return b;
  }
  /// On-disk type of the spike times, e.g. "float16" (read by the direct half path).
  const std::string& time_type() const { return time_type_; }
  const SpikeHdf5Options& options() const { return opt_; }
  const std::string& path() const { return path_; }

 private:
  static constexpr Index kMaxSteps = 32768;
  static constexpr std::uint16_t kStepFlag = 0x8000;
  static constexpr std::size_t kBlockTokens = std::size_t{1} << 22;  // 8 MiB per block

  struct Span {
    std::uint32_t block;
    std::uint32_t begin;
    std::uint32_t length;
  };

  std::size_t checked(Index i, const char* method) const {
    if (i < 0 || i >= size())
      fail_expected(str_cat("SpikeDataset::", method), str_cat("a sample index in [0, ", size(), ")"),
                    i);
    return static_cast<std::size_t>(i);
  }

  // "in dataset 'spikes/units' of file 'x.h5'"
  std::string in(const char* dataset) const {
    return str_cat(" in dataset '", dataset, "' of file '", path_, "'");
  }
  template <typename Got>
  [[noreturn]] void fail(const std::string& expected, const Got& got) const {
    fail_expected("SpikeDataset::SpikeDataset", expected, got);
  }

  spike_detail::Handle open_dataset(hid_t file, const char* name) const {
    using spike_detail::Handle;
    // Check each link of the path so a missing group reads as a missing dataset.
    const std::string full = name;
    std::size_t pos = 0;
    while (true) {
      pos = full.find('/', pos + 1);
      const std::string part = full.substr(0, pos);
      if (H5Lexists(file, part.c_str(), H5P_DEFAULT) <= 0)
        fail(str_cat("a dataset '", name, "' in file '", path_, "'"),
             str_cat("no object '", part, "'"));
      if (pos == std::string::npos) break;
    }
    Handle d(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
    if (!d.valid())
      fail(str_cat("a dataset '", name, "' in file '", path_, "'"), "an object that is not a dataset");
    return d;
  }

  // Number of rows of a 1-D dataset.
  Index rows_of(hid_t dset, const char* name) const {
    using spike_detail::Handle;
    Handle space(H5Dget_space(dset), H5Sclose);
    const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
    if (rank != 1) fail(str_cat("a 1-D dataset", in(name)), str_cat("rank ", rank));
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    return static_cast<Index>(n);
  }

  // Checks that the dataset's elements are of class `cls` (or variable-length
  // rows of class `cls` when vlen is true).
  void check_type(hid_t dset, const char* name, bool vlen, H5T_class_t cls, const char* what) const {
    using spike_detail::Handle;
    Handle t(H5Dget_type(dset), H5Tclose);
    H5T_class_t c = t.valid() ? H5Tget_class(t.get()) : H5T_NO_CLASS;
    if (vlen) {
      if (c != H5T_VLEN) fail(str_cat("variable-length rows of ", what, in(name)), spike_detail::h5_class_name(c));
      Handle base(H5Tget_super(t.get()), H5Tclose);
      c = base.valid() ? H5Tget_class(base.get()) : H5T_NO_CLASS;
      if (c != cls)
        fail(str_cat("variable-length rows of ", what, in(name)),
             str_cat("rows of ", spike_detail::h5_class_name(c)));
    } else if (c != cls) {
      fail(str_cat(what, in(name)), spike_detail::h5_class_name(c));
    }
  }

  // One run of consecutive rows [start, start + count) of the file.
  struct Piece {
    hsize_t start;
    hsize_t count;
  };

  // The rows to read (all `kept` rows, or opt_.rows checked against them), grouped into
  // reads of at most read_rows rows; each read is a list of runs.
  std::vector<std::vector<Piece>> plan_reads(Index kept) const {
    std::vector<Piece> runs;
    if (opt_.rows) {
      const std::vector<Index>& r = *opt_.rows;
      for (std::size_t i = 0; i < r.size(); ++i) {
        if (r[i] < 0 || r[i] >= kept || (i > 0 && r[i] <= r[i - 1]))
          fail(str_cat("strictly increasing rows below the ", kept, " rows",
                       kept < rows_in_file_ ? str_cat(" kept by limit ", opt_.limit) : std::string(),
                       " of datasets 'labels', 'spikes/times' and 'spikes/units' in file '", path_, "'"),
               str_cat("row ", r[i], " at position ", i));
        if (!runs.empty() && static_cast<Index>(runs.back().start + runs.back().count) == r[i])
          ++runs.back().count;
        else
          runs.push_back(Piece{static_cast<hsize_t>(r[i]), 1});
      }
    } else if (kept > 0) {
      runs.push_back(Piece{0, static_cast<hsize_t>(kept)});
    }
    const hsize_t per = static_cast<hsize_t>(opt_.read_rows);
    std::vector<std::vector<Piece>> reads;
    hsize_t in_read = per;  // rows in reads.back(); `per`: start a new read
    for (Piece run : runs) {
      while (run.count > 0) {
        if (in_read == per) {
          reads.emplace_back();
          in_read = 0;
        }
        const hsize_t take = std::min(run.count, per - in_read);
        reads.back().push_back(Piece{run.start, take});
        in_read += take;
        run.start += take;
        run.count -= take;
      }
    }
    return reads;
  }

  static hsize_t rows_in(const std::vector<Piece>& rd) {
    hsize_t n = 0;
    for (const Piece& p : rd) n += p.count;
    return n;
  }

  // Selects the runs of `rd` in a 1-D file dataspace (in increasing row order, which is
  // the order HDF5 reads them in).
  static bool select(hid_t space, const std::vector<Piece>& rd) {
    for (std::size_t k = 0; k < rd.size(); ++k)
      if (H5Sselect_hyperslab(space, k == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, &rd[k].start, nullptr,
                              &rd[k].count, nullptr) < 0)
        return false;
    return true;
  }

  // " (rows 3..9)" for the error messages of a read.
  static std::string rows_text(const std::vector<Piece>& rd) {
    return str_cat(" (rows ", rd.front().start, "..", rd.back().start + rd.back().count - 1, ")");
  }

  void load() {
    using spike_detail::Handle;
    spike_detail::QuietErrors quiet;
    const char* where = "SpikeDataset::SpikeDataset";

    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec))
      fail_expected(where, "an existing HDF5 file (SSC / SHD)", spike_detail::quoted(path_) +
                                                                   " does not exist or is not a file");
#if H5_VERSION_GE(1, 12, 0)
    const htri_t is_h5 = H5Fis_accessible(path_.c_str(), H5P_DEFAULT);
#else
    const htri_t is_h5 = H5Fis_hdf5(path_.c_str());
#endif
    if (is_h5 <= 0)
      fail_expected(where, "an HDF5 file (SSC / SHD)", spike_detail::quoted(path_) + ", which is not HDF5");
    Handle file(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.valid())
      fail_expected(where, "a readable HDF5 file (SSC / SHD)", spike_detail::quoted(path_) + " (open failed)");

    Handle times = open_dataset(file.get(), "spikes/times");
    Handle units = open_dataset(file.get(), "spikes/units");
    Handle labels = open_dataset(file.get(), "labels");
    check_type(times.get(), "spikes/times", true, H5T_FLOAT, "floating-point spike times");
    check_type(units.get(), "spikes/units", true, H5T_INTEGER, "integer unit indices");
    check_type(labels.get(), "labels", false, H5T_INTEGER, "integer labels");
    const Index nt = rows_of(times.get(), "spikes/times");
    const Index nu = rows_of(units.get(), "spikes/units");
    const Index nl = rows_of(labels.get(), "labels");
    if (nt != nu || nt != nl)
      fail(str_cat("'spikes/times', 'spikes/units' and 'labels' with the same number of rows in file '",
                   path_, "'"),
           str_cat(nt, ", ", nu, " and ", nl, " rows"));
    rows_in_file_ = nt;
    const Index kept = opt_.limit > 0 ? std::min(opt_.limit, nt) : nt;
    const std::vector<std::vector<Piece>> reads = plan_reads(kept);
    Index n = 0;
    for (const auto& rd : reads)
      for (const Piece& p : rd) n += static_cast<Index>(p.count);

    // Labels: converted by HDF5 to int64 (any integer type on disk). All of them are
    // checked before any spikes are read.
    Handle lspace(H5Dget_space(labels.get()), H5Sclose);
    labels_.reserve(static_cast<std::size_t>(n));
    std::vector<std::int64_t> lab;
    for (const auto& rd : reads) {
      const hsize_t count = rows_in(rd);
      lab.resize(static_cast<std::size_t>(count));
      Handle mspace(H5Screate_simple(1, &count, nullptr), H5Sclose);
      if (!select(lspace.get(), rd) ||
          H5Dread(labels.get(), H5T_NATIVE_INT64, mspace.get(), lspace.get(), H5P_DEFAULT, lab.data()) < 0)
        fail(str_cat("readable labels", in("labels"), rows_text(rd)), "a read error");
      std::size_t j = 0;
      for (const Piece& p : rd)
        for (hsize_t k = 0; k < p.count; ++k, ++j) {
          const std::int64_t v = lab[j];
          if (v < 0 || v >= opt_.num_classes)
            fail(str_cat("labels in [0, ", opt_.num_classes, ")", in("labels"), " (row ", p.start + k, ")"), v);
          labels_.push_back(static_cast<int>(v));
        }
    }

    // Spike rows, a slab of rows at a time. Units are converted by HDF5 to
    // int64 (exact for any integer type; negative values stay visible to the
    // check). Times: IEEE half rows are read as raw bits and mapped to steps
    // through a 65536-entry table built from their exact values; any other
    // float type is converted by HDF5 to double (exact for float32/float64).
    Handle time_base(H5Tget_super(Handle(H5Dget_type(times.get()), H5Tclose).get()), H5Tclose);
    const bool half = spike_detail::is_ieee_half_le(time_base.get());
    {
      const std::size_t tb = H5Tget_size(time_base.get());
      time_type_ = half ? "float16" : tb == 4 ? "float32 (or another 4-byte float)"
                                   : tb == 8 ? "float64 (or another 8-byte float)"
                                             : str_cat(tb, "-byte float");
    }
    Handle time_mem(H5Tvlen_create(half ? time_base.get() : H5T_NATIVE_DOUBLE), H5Tclose);
    Handle unit_mem(H5Tvlen_create(H5T_NATIVE_INT64), H5Tclose);
    Handle tspace(H5Dget_space(times.get()), H5Sclose);
    Handle uspace(H5Dget_space(units.get()), H5Sclose);
    const std::vector<double> edges = spike_bin_edges(opt_.steps, opt_.max_time);
    std::vector<std::int32_t> half_step;  // bits -> steps edges <= t, or -1 for an invalid time
    if (half) {
      half_step.resize(65536);
      for (std::uint32_t h = 0; h < 65536; ++h) {
        const double t = spike_detail::float16_value(static_cast<std::uint16_t>(h));
        half_step[h] = (std::isfinite(t) && t >= 0.0)
                           ? static_cast<std::int32_t>(spike_step_index(edges, t))
                           : -1;
      }
    }
    const Index cells = opt_.steps * width_;
    std::vector<std::uint32_t> cell(static_cast<std::size_t>(cells), 0);
    channel_of_.resize(static_cast<std::size_t>(opt_.n_channels));  // unit -> unit / n_bins
    for (Index c = 0; c < opt_.n_channels; ++c)
      channel_of_[static_cast<std::size_t>(c)] = static_cast<std::uint32_t>(c / opt_.n_bins);
    std::vector<std::uint32_t> per_step(static_cast<std::size_t>(opt_.steps), 0);
    std::vector<std::uint16_t> sample_tokens;
    spans_.reserve(static_cast<std::size_t>(n));

    for (const auto& rd : reads) {
      const hsize_t count = rows_in(rd);
      Handle mspace(H5Screate_simple(1, &count, nullptr), H5Sclose);
      spike_detail::VlenRows trow(time_mem.get(), mspace.get(), count);
      spike_detail::VlenRows urow(unit_mem.get(), mspace.get(), count);
      if (!select(tspace.get(), rd) ||
          H5Dread(times.get(), time_mem.get(), mspace.get(), tspace.get(), H5P_DEFAULT, trow.data()) < 0)
        fail(str_cat("readable spike times", in("spikes/times"), rows_text(rd)), "a read error");
      trow.mark_filled();
      if (!select(uspace.get(), rd) ||
          H5Dread(units.get(), unit_mem.get(), mspace.get(), uspace.get(), H5P_DEFAULT, urow.data()) < 0)
        fail(str_cat("readable unit indices", in("spikes/units"), rows_text(rd)), "a read error");
      urow.mark_filled();

      std::vector<Index> file_row;  // row of the file of each row read
      file_row.reserve(static_cast<std::size_t>(count));
      for (const Piece& p : rd)
        for (hsize_t k = 0; k < p.count; ++k) file_row.push_back(static_cast<Index>(p.start + k));
      for (std::size_t j = 0; j < count; ++j) {
        const Index row = file_row[j];
        const hvl_t& tv = trow[j];
        const hvl_t& uv = urow[j];
        if (tv.len != uv.len)
          fail(str_cat("rows of equal length in 'spikes/times' and 'spikes/units' of file '", path_,
                       "' (row ", row, ")"),
               str_cat(tv.len, " times and ", uv.len, " units"));
        const auto* u = static_cast<const std::int64_t*>(uv.p);
        if (half) {
          // Little-endian bytes, decoded explicitly (independent of the host's order).
          const auto* b = static_cast<const unsigned char*>(tv.p);
          auto bits = [b](std::size_t k) {
            return static_cast<std::uint16_t>(b[2 * k] | (b[2 * k + 1] << 8));
          };
          bin_row(row, u, tv.len, cell, per_step, sample_tokens,
                  [&](std::size_t k) { return static_cast<Index>(half_step[bits(k)]); },
                  [&](std::size_t k) { return spike_detail::float16_value(bits(k)); });
        } else {
          const auto* t = static_cast<const double*>(tv.p);
          bin_row(row, u, tv.len, cell, per_step, sample_tokens,
                  [&](std::size_t k) {
                    return (std::isfinite(t[k]) && t[k] >= 0.0) ? spike_step_index(edges, t[k])
                                                                : Index{-1};
                  },
                  [&](std::size_t k) { return t[k]; });
        }
        append(sample_tokens);
      }
    }
    if (!blocks_.empty()) blocks_.back().shrink_to_fit();
    channel_of_ = {};
  }

  // Bins one row into `tokens`, validating every spike on the way.
  // step_of(k): number of edges <= time k, or -1 if that time is not finite
  // and >= 0; time_of(k): the time itself (for the error message).
  template <typename StepOf, typename TimeOf>
  void bin_row(Index row, const std::int64_t* u, std::size_t len, std::vector<std::uint32_t>& cell,
               std::vector<std::uint32_t>& per_step, std::vector<std::uint16_t>& tokens,
               StepOf step_of, TimeOf time_of) {
    tokens.clear();
    const Index last = opt_.steps - 1;
    for (std::size_t k = 0; k < len; ++k) {
      Index s = step_of(k);  // 1 .. steps for a valid time
      const std::int64_t uk = u[k];
      if (s < 0)
        fail(str_cat("finite spike times >= 0", in("spikes/times"), " (row ", row, ", spike ", k, ")"),
             time_of(k));
      if (uk < 0 || uk >= opt_.n_channels)
        fail(str_cat("unit indices in [0, ", opt_.n_channels, ")", in("spikes/units"), " (row ", row,
                     ", spike ", k, ")"),
             uk);
      if (s > last) {
        ++spikes_out_of_range_;
        if (opt_.out_of_range == SpikeOutOfRange::drop) continue;
        s = last;
      }
      ++cell[static_cast<std::size_t>(s * width_ + channel_of_[static_cast<std::size_t>(uk)])];
      ++per_step[static_cast<std::size_t>(s)];
    }
    spikes_read_ += len;

    const std::uint32_t max_per_token = 1u << count_bits_;
    for (Index s = 0; s < opt_.steps; ++s) {
      if (per_step[static_cast<std::size_t>(s)] == 0) continue;
      per_step[static_cast<std::size_t>(s)] = 0;
      tokens.push_back(static_cast<std::uint16_t>(kStepFlag | static_cast<std::uint16_t>(s)));
      std::uint32_t* c = cell.data() + s * width_;
      for (Index ch = 0; ch < width_; ++ch) {
        std::uint32_t n = c[ch];
        if (n == 0) continue;
        c[ch] = 0;
        while (n > 0) {
          const std::uint32_t part = std::min(n, max_per_token);
          tokens.push_back(static_cast<std::uint16_t>((static_cast<std::uint32_t>(ch) << count_bits_) |
                                                      (part - 1u)));
          n -= part;
        }
      }
    }
  }

  // Stores one sample's tokens contiguously in the current block (a new block
  // when they do not fit; blocks never grow, so nothing is reallocated).
  void append(const std::vector<std::uint16_t>& tokens) {
    const std::size_t len = tokens.size();
    if (blocks_.empty() || blocks_.back().capacity() - blocks_.back().size() < len) {
      if (!blocks_.empty()) blocks_.back().shrink_to_fit();
      blocks_.emplace_back();
      blocks_.back().reserve(std::max(kBlockTokens, len));
    }
    auto& blk = blocks_.back();
    spans_.push_back(Span{static_cast<std::uint32_t>(blocks_.size() - 1),
                          static_cast<std::uint32_t>(blk.size()), static_cast<std::uint32_t>(len)});
    blk.insert(blk.end(), tokens.begin(), tokens.end());
    tokens_ += len;
  }

  SpikeHdf5Options opt_;
  std::string path_;
  std::string time_type_;
  Index width_ = 0;
  int channel_bits_ = 0;
  int count_bits_ = 0;
  std::vector<std::vector<std::uint16_t>> blocks_;
  std::vector<Span> spans_;
  std::vector<int> labels_;
  std::vector<std::uint32_t> channel_of_;  // only while loading
  std::uint64_t spikes_read_ = 0;
  std::uint64_t spikes_out_of_range_ = 0;
  std::uint64_t tokens_ = 0;
  Index rows_in_file_ = 0;
};

namespace spike_detail {

template <typename T>
hid_t native_float_type();
template <>
inline hid_t native_float_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
inline hid_t native_float_type<double>() {
  return H5T_NATIVE_DOUBLE;
}

template <typename T>
void write_spike_hdf5_impl(const std::string& path, const std::vector<std::vector<T>>& times,
                           const std::vector<std::vector<std::uint32_t>>& units,
                           const std::vector<std::int64_t>& labels, SpikeTimeType time_type,
                           SpikeUnitType unit_type, SpikeLabelType label_type) {
  const char* where = "write_spike_hdf5";
  QuietErrors quiet;
  const std::uint64_t unit_max = unit_type == SpikeUnitType::uint16 ? 0xFFFFu : 0xFFFFFFFFu;
  for (std::size_t r = 0; r < units.size(); ++r)
    for (std::uint32_t v : units[r])
      require(v <= unit_max, where,
              str_cat("units that fit the file's unit type (<= ", unit_max, ", row ", r, ")"), v);
  std::int64_t lo = 0, hi = 0;
  switch (label_type) {
    case SpikeLabelType::uint8: lo = 0; hi = 0xFF; break;
    case SpikeLabelType::uint16: lo = 0; hi = 0xFFFF; break;
    case SpikeLabelType::int32: lo = INT32_MIN; hi = INT32_MAX; break;
    case SpikeLabelType::int64: lo = INT64_MIN; hi = INT64_MAX; break;
  }
  for (std::size_t r = 0; r < labels.size(); ++r)
    require(labels[r] >= lo && labels[r] <= hi, where,
            str_cat("labels that fit the file's label type ([", lo, ", ", hi, "], row ", r, ")"),
            labels[r]);

  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) fail_expected(where, "a writable file path", quoted(path));
  Handle group(H5Gcreate2(file.get(), "spikes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!group.valid()) fail_expected(where, "to create group 'spikes' in " + quoted(path), "an HDF5 error");

  auto write_rows = [&](const char* name, hid_t file_base, hid_t mem_base, std::size_t n,
                        auto row_ptr, auto row_len) {
    Handle ftype(H5Tvlen_create(file_base), H5Tclose);
    Handle mtype(H5Tvlen_create(mem_base), H5Tclose);
    const hsize_t dims = static_cast<hsize_t>(n);
    Handle space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
    Handle dset(H5Dcreate2(file.get(), name, ftype.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT),
                H5Dclose);
    if (!dset.valid()) fail_expected(where, str_cat("to create dataset '", name, "' in ", quoted(path)), "an HDF5 error");
    std::vector<hvl_t> rows(n);
    for (std::size_t r = 0; r < n; ++r) {
      rows[r].len = row_len(r);
      rows[r].p = rows[r].len ? row_ptr(r) : nullptr;
    }
    if (n > 0 &&
        H5Dwrite(dset.get(), mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) < 0)
      fail_expected(where, str_cat("to write dataset '", name, "' in ", quoted(path)), "an HDF5 error");
  };

  if (time_type == SpikeTimeType::float16) {
    // Rounded here (ties to even, like numpy) and written without conversion.
    Handle half = make_float16_type();
    std::vector<std::vector<std::uint16_t>> bits(times.size());
    for (std::size_t r = 0; r < times.size(); ++r) {
      bits[r].reserve(times[r].size());
      for (T v : times[r]) bits[r].push_back(float16_bits(static_cast<double>(v)));
    }
    write_rows("spikes/times", half.get(), half.get(), bits.size(),
               [&](std::size_t r) { return bits[r].data(); },
               [&](std::size_t r) { return bits[r].size(); });
  } else {
    write_rows("spikes/times", time_type == SpikeTimeType::float64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE,
               native_float_type<T>(), times.size(),
               [&](std::size_t r) { return const_cast<T*>(times[r].data()); },
               [&](std::size_t r) { return times[r].size(); });
  }
  write_rows("spikes/units", unit_type == SpikeUnitType::uint16 ? H5T_STD_U16LE : H5T_STD_U32LE,
             H5T_NATIVE_UINT32, units.size(),
             [&](std::size_t r) { return const_cast<std::uint32_t*>(units[r].data()); },
             [&](std::size_t r) { return units[r].size(); });

  hid_t lfile = H5T_STD_U16LE;
  switch (label_type) {
    case SpikeLabelType::uint8: lfile = H5T_STD_U8LE; break;
    case SpikeLabelType::uint16: lfile = H5T_STD_U16LE; break;
    case SpikeLabelType::int32: lfile = H5T_STD_I32LE; break;
    case SpikeLabelType::int64: lfile = H5T_STD_I64LE; break;
  }
  const hsize_t ldims = static_cast<hsize_t>(labels.size());
  Handle lspace(H5Screate_simple(1, &ldims, nullptr), H5Sclose);
  Handle ldset(H5Dcreate2(file.get(), "labels", lfile, lspace.get(), H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT),
               H5Dclose);
  if (!ldset.valid()) fail_expected(where, "to create dataset 'labels' in " + quoted(path), "an HDF5 error");
  if (!labels.empty() && H5Dwrite(ldset.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                  labels.data()) < 0)
    fail_expected(where, "to write dataset 'labels' in " + quoted(path), "an HDF5 error");
}

}  // namespace spike_detail

/// Writes an SHD/SSC-layout file: `spikes/times` and `spikes/units` as
/// variable-length rows of the chosen on-disk types, and `labels`. It writes
/// exactly what it is given (row counts and row lengths need not agree), so
/// tests can build malformed files too; it only refuses values that the
/// chosen integer types cannot hold. Times are rounded to nearest, ties to
/// even, to the on-disk float type (float16 keeps 11 significant bits), as
/// numpy / h5py would. The optional `extra` group of the published files is
/// not written.
inline void write_spike_hdf5(const std::string& path, const std::vector<std::vector<double>>& times,
                             const std::vector<std::vector<std::uint32_t>>& units,
                             const std::vector<std::int64_t>& labels,
                             SpikeTimeType time_type = SpikeTimeType::float16,
                             SpikeUnitType unit_type = SpikeUnitType::uint16,
                             SpikeLabelType label_type = SpikeLabelType::uint16) {
  spike_detail::write_spike_hdf5_impl(path, times, units, labels, time_type, unit_type, label_type);
}
inline void write_spike_hdf5(const std::string& path, const std::vector<std::vector<float>>& times,
                             const std::vector<std::vector<std::uint32_t>>& units,
                             const std::vector<std::int64_t>& labels,
                             SpikeTimeType time_type = SpikeTimeType::float16,
                             SpikeUnitType unit_type = SpikeUnitType::uint16,
                             SpikeLabelType label_type = SpikeLabelType::uint16) {
  spike_detail::write_spike_hdf5_impl(path, times, units, labels, time_type, unit_type, label_type);
}

}  // namespace asrc
