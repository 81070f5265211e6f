#pragma once
// Versioned binary checkpoints: run metadata, named tensors and integer vectors.
//
// File layout, format version 1 (docs/checkpoint-format.md has the long form).
// All integers are little-endian, floats are IEEE-754 little-endian; nothing is
// padded or aligned.
//
//   offset  size  field
//   0       8     magic, the ASCII bytes "ASRCCKPT"
//   8       4     u32 format version, = 1
//   12      ...   records, each:
//                   u32 kind
//                   u64 payload length L in bytes
//                   L   payload
//   end-16  16    the end record (kind 255, L = 4), whose payload is the
//                 u32 CRC-32 of every byte before the payload (offset 0 .. end-5)
//
//   str := u64 byte count n, then n bytes (UTF-8, no terminator)
//
//   kind 1, metadata:    u64 count; count x (str key, str value)
//   kind 2, tensor:      str name; u8 dtype (1 = float32, 2 = float64);
//                        u64 rows; u64 cols; rows * cols values, row-major
//   kind 3, int vector:  str name; u64 count; count x i64
//   kind 255, end:       u32 CRC-32 (IEEE 802.3 polynomial, as zlib's crc32())
//
// A file holds any number of records of kinds 1-3 in any order and exactly one end
// record, last. Metadata keys, tensor names and int vector names are unique within a
// file and non-empty. Tensor dimensions are below 2^31 each. The writer emits one
// metadata record, then the tensors and the int vectors sorted by name.
//
// A reader refuses (std::invalid_argument naming the file, the field and the byte
// offset): a wrong magic, another version, an unknown record kind, any length
// larger than what is left of the file or of its record, a payload whose content
// does not fill it exactly, a missing end record (truncation), bytes after the end
// record, a checksum mismatch, an unknown dtype, duplicate or empty names. Lengths
// are checked before anything is allocated.
//
// save_checkpoint() writes `path.tmp.<pid>`, flushes and fsyncs it, then renames it
// over `path` (and fsyncs the directory), so `path` always holds either the old or
// the new complete checkpoint. On failure the temporary file is removed. Failures of
// the operating system while saving (cannot create, disk full, rename) throw
// std::runtime_error; invalid checkpoint content throws std::invalid_argument.
// POSIX only (fsync, rename over an existing file). Two threads of one process must
// not save to the same path at once: they would share the temporary name.
#include <array>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

inline constexpr char kCheckpointMagic[9] = "ASRCCKPT";
inline constexpr std::uint32_t kCheckpointVersion = 1;

/// Storage type of a tensor in a checkpoint file.
enum class DType : std::uint8_t { float32 = 1, float64 = 2 };

inline const char* to_string(DType d) {
  switch (d) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
  }
  return "?";
}

/// The storage type that holds scalars T exactly.
template <typename T>
constexpr DType dtype_of() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "float or double");
  return std::is_same_v<T, float> ? DType::float32 : DType::float64;
}

/// A tensor as held in memory: values widened to double, plus the type they are
/// stored as on disk (float32 tensors are narrowed when saved, exactly when the
/// values came from floats).
struct CheckpointTensor {
  DType dtype = DType::float64;
  Matrix<double> values;
};

/// The content of one checkpoint file.
struct Checkpoint {
  std::map<std::string, std::string> meta;  ///< configuration and run state as text
  std::map<std::string, CheckpointTensor> tensors;
  std::map<std::string, std::vector<std::int64_t>> ints;
  std::string source;  ///< the file it was loaded from (for messages); empty if built in memory

  // --- metadata ------------------------------------------------------------
  void set_meta(const std::string& key, const std::string& value) { meta[key] = value; }
  /// Store a double as text that reads back to the same double.
  void set_meta_number(const std::string& key, double value) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    meta[key] = buf;
  }
  void set_meta_int(const std::string& key, std::int64_t value) { meta[key] = std::to_string(value); }

  bool has_meta(const std::string& key) const { return meta.count(key) != 0; }
  const std::string& meta_at(const std::string& key) const {
    const auto it = meta.find(key);
    if (it == meta.end())
      fail_expected("Checkpoint::meta_at", str_cat("metadata key '", key, "' in ", where()), "none");
    return it->second;
  }
  double meta_number(const std::string& key) const {
    const std::string& s = meta_at(key);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(s.c_str(), &end);
    require(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, "Checkpoint::meta_number",
            str_cat("a number for metadata key '", key, "' in ", where()), "'" + s + "'");
    return v;
  }
  std::int64_t meta_int(const std::string& key) const {
    const std::string& s = meta_at(key);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    require(!s.empty() && end == s.c_str() + s.size() && errno != ERANGE, "Checkpoint::meta_int",
            str_cat("an integer for metadata key '", key, "' in ", where()), "'" + s + "'");
    return static_cast<std::int64_t>(v);
  }

  // --- tensors -------------------------------------------------------------
  /// Store any dense Eigen expression (row-major order on disk).
  template <typename Derived>
  void set_tensor(const std::string& name, const Eigen::DenseBase<Derived>& m,
                  DType dtype = DType::float64) {
    CheckpointTensor t;
    t.dtype = dtype;
    t.values = m.derived().template cast<double>();
    tensors[name] = std::move(t);
  }
  bool has_tensor(const std::string& name) const { return tensors.count(name) != 0; }
  const CheckpointTensor& tensor_at(const std::string& name) const {
    const auto it = tensors.find(name);
    if (it == tensors.end())
      fail_expected("Checkpoint::tensor_at", str_cat("a tensor '", name, "' in ", where()), "none");
    return it->second;
  }
  /// The tensor converted to T, any shape.
  template <typename T>
  Matrix<T> tensor(const std::string& name) const {
    return tensor_at(name).values.template cast<T>();
  }
  /// The tensor converted to T; its shape must be rows x cols.
  template <typename T>
  Matrix<T> tensor(const std::string& name, Index rows, Index cols) const {
    const Matrix<double>& v = tensor_at(name).values;
    require(v.rows() == rows && v.cols() == cols, "Checkpoint::tensor",
            str_cat("tensor '", name, "' of shape ", rows, "x", cols, " in ", where()),
            str_cat(v.rows(), "x", v.cols()));
    return v.template cast<T>();
  }
  /// The tensor's elements in row-major order as a vector of `size` elements.
  template <typename T>
  Vector<T> tensor_vector(const std::string& name, Index size) const {
    const Matrix<double>& v = tensor_at(name).values;
    require(v.size() == size, "Checkpoint::tensor_vector",
            str_cat("tensor '", name, "' of ", size, " elements in ", where()),
            str_cat(v.rows(), "x", v.cols()));
    Vector<T> out(size);
    for (Index i = 0; i < size; ++i) out[i] = static_cast<T>(v.data()[i]);  // row-major storage
    return out;
  }

  // --- int vectors ---------------------------------------------------------
  template <typename Int>
  void set_ints(const std::string& name, const std::vector<Int>& values) {
    static_assert(std::is_integral<Int>::value, "set_ints() takes integers");
    std::vector<std::int64_t> v(values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_unsigned<Int>::value && sizeof(Int) >= sizeof(std::int64_t))
        require(values[i] <= static_cast<Int>(INT64_MAX), "Checkpoint::set_ints",
                str_cat("values below 2^63 in int vector '", name, "'"), values[i]);
      v[i] = static_cast<std::int64_t>(values[i]);
    }
    ints[name] = std::move(v);
  }
  bool has_ints(const std::string& name) const { return ints.count(name) != 0; }
  const std::vector<std::int64_t>& ints_at(const std::string& name) const {
    const auto it = ints.find(name);
    if (it == ints.end())
      fail_expected("Checkpoint::ints_at", str_cat("an int vector '", name, "' in ", where()),
                    "none");
    return it->second;
  }

 private:
  std::string where() const {
    return source.empty() ? std::string("the checkpoint") : "checkpoint '" + source + "'";
  }
};

// ===========================================================================
// CRC-32
// ===========================================================================
namespace detail {

struct Crc32Table {
  std::uint32_t v[256];
  constexpr Crc32Table() : v() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      v[i] = c;
    }
  }
};
inline constexpr Crc32Table kCrc32Table{};

}  // namespace detail

/// CRC-32 (reflected, polynomial 0xEDB88320, as zlib's crc32()); chain calls by
/// passing the previous result as `crc`.
inline std::uint32_t crc32(const void* data, std::size_t n, std::uint32_t crc = 0) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = detail::kCrc32Table.v[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

// ===========================================================================
// Encoding
// ===========================================================================
namespace detail {

enum CheckpointRecordKind : std::uint32_t {
  kRecordMeta = 1,
  kRecordTensor = 2,
  kRecordInts = 3,
  kRecordEnd = 255,
};
inline constexpr std::size_t kCheckpointHeaderBytes = 12;  // magic + version
inline constexpr std::size_t kRecordHeaderBytes = 12;      // kind + payload length
inline constexpr std::size_t kEndRecordBytes = kRecordHeaderBytes + 4;
inline constexpr std::uint64_t kMaxTensorDim = (std::uint64_t{1} << 31) - 1;

inline void put_u8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
inline void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
inline void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out.append(s);
}

/// Append a record: kind, payload length, payload.
inline void put_record(std::string& out, std::uint32_t kind, const std::string& payload) {
  put_u32(out, kind);
  put_u64(out, payload.size());
  out.append(payload);
}

inline std::string checkpoint_label(const std::string& path) {
  return path.empty() ? std::string("the checkpoint") : "checkpoint '" + path + "'";
}

}  // namespace detail

/// The bytes of a checkpoint file. `path` only names the file in messages.
inline std::string serialize_checkpoint(const Checkpoint& c, const std::string& path = "") {
  using namespace detail;
  const char* where = "save_checkpoint";
  const std::string label = checkpoint_label(path);
  std::string out;
  out.append(kCheckpointMagic, 8);
  put_u32(out, kCheckpointVersion);

  std::string payload;
  put_u64(payload, c.meta.size());
  for (const auto& kv : c.meta) {
    require(!kv.first.empty(), where, str_cat("non-empty metadata keys for ", label), "''");
    put_str(payload, kv.first);
    put_str(payload, kv.second);
  }
  put_record(out, kRecordMeta, payload);

  for (const auto& kv : c.tensors) {
    const std::string& name = kv.first;
    const CheckpointTensor& t = kv.second;
    require(!name.empty(), where, str_cat("non-empty tensor names for ", label), "''");
    require(t.dtype == DType::float32 || t.dtype == DType::float64, where,
            str_cat("dtype float32 or float64 for tensor '", name, "' of ", label),
            static_cast<int>(t.dtype));
    const auto rows = static_cast<std::uint64_t>(t.values.rows());
    const auto cols = static_cast<std::uint64_t>(t.values.cols());
    require(rows <= kMaxTensorDim && cols <= kMaxTensorDim, where,
            str_cat("dimensions below 2^31 for tensor '", name, "' of ", label),
            str_cat(rows, "x", cols));
    payload.clear();
    put_str(payload, name);
    put_u8(payload, static_cast<std::uint8_t>(t.dtype));
    put_u64(payload, rows);
    put_u64(payload, cols);
    const double* d = t.values.data();  // row-major
    const Index n = t.values.size();
    payload.reserve(payload.size() + static_cast<std::size_t>(n) * 8);
    for (Index i = 0; i < n; ++i) {
      if (t.dtype == DType::float64) {
        std::uint64_t bits;
        std::memcpy(&bits, &d[i], 8);
        put_u64(payload, bits);
      } else {
        require(!std::isfinite(d[i]) || std::fabs(d[i]) <= static_cast<double>(FLT_MAX), where,
                str_cat("values within the float32 range for tensor '", name, "' of ", label),
                str_cat(d[i], " at element ", i));
        const float f = static_cast<float>(d[i]);
        std::uint32_t bits;
        std::memcpy(&bits, &f, 4);
        put_u32(payload, bits);
      }
    }
    put_record(out, kRecordTensor, payload);
  }

  for (const auto& kv : c.ints) {
    require(!kv.first.empty(), where, str_cat("non-empty int vector names for ", label), "''");
    payload.clear();
    put_str(payload, kv.first);
    put_u64(payload, kv.second.size());
    for (std::int64_t v : kv.second) put_u64(payload, static_cast<std::uint64_t>(v));
    put_record(out, kRecordInts, payload);
  }

  put_u32(out, kRecordEnd);
  put_u64(out, 4);
  put_u32(out, crc32(out.data(), out.size()));
  return out;
}

// ===========================================================================
// Decoding
// ===========================================================================
namespace detail {

/// Bounds-checked little-endian reader over [pos, end) of a byte buffer.
class CheckpointReader {
 public:
  CheckpointReader(const std::string& buf, std::size_t pos, std::size_t end, const std::string& label)
      : b_(buf), pos_(pos), end_(end), label_(label) {}

  std::size_t pos() const { return pos_; }
  std::size_t left() const { return end_ - pos_; }

  /// Fail unless n more bytes are there; `what` names the field.
  void need(std::size_t n, const std::string& what) const {
    if (n > left())
      fail(str_cat(what, " (", n, " bytes) at byte ", pos_, " of ", label_),
           str_cat("only ", left(), " bytes left in ", end_ == b_.size() ? "the file" : "the record"));
  }
  std::uint8_t u8(const std::string& what) {
    need(1, what);
    return static_cast<std::uint8_t>(b_[pos_++]);
  }
  std::uint32_t u32(const std::string& what) {
    need(4, what);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(byte(pos_ + i)) << (8 * i);
    pos_ += 4;
    return v;
  }
  std::uint64_t u64(const std::string& what) {
    need(8, what);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(byte(pos_ + i)) << (8 * i);
    pos_ += 8;
    return v;
  }
  /// A count of items of at least `min_item_bytes` each, checked against what is left.
  std::uint64_t count(const std::string& what, std::size_t min_item_bytes) {
    const std::size_t at = pos_;
    const std::uint64_t n = u64(what);
    if (min_item_bytes > 0 && n > left() / min_item_bytes)
      fail(str_cat(what, " of at most ", left() / min_item_bytes, " (", min_item_bytes,
                   " bytes each in the ", left(), " bytes left) at byte ", at, " of ", label_),
           n);
    return n;
  }
  std::string str(const std::string& what) {
    const std::uint64_t n = count(what + " length", 1);
    std::string s = b_.substr(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  /// Raw access for bulk decoding; the caller has checked the length with need().
  unsigned char byte(std::size_t at) const { return static_cast<unsigned char>(b_[at]); }
  void skip(std::size_t n) { pos_ += n; }

  template <typename Got>
  [[noreturn]] void fail(const std::string& expected, const Got& got) const {
    fail_expected("load_checkpoint", expected, got);
  }

 private:
  const std::string& b_;
  std::size_t pos_, end_;
  const std::string& label_;
};

inline std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v));
  return buf;
}

/// Printable form of up to n raw bytes (for the magic in messages).
inline std::string quoted_bytes(const std::string& s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch >= 32 && ch < 127 && ch != '"' && ch != '\\') {
      out.push_back(static_cast<char>(ch));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    }
  }
  return out + "\"";
}

}  // namespace detail

/// Decode the bytes of a checkpoint file; `path` names the file in messages and is
/// stored in Checkpoint::source.
inline Checkpoint parse_checkpoint(const std::string& bytes, const std::string& path = "") {
  using namespace detail;
  const std::string label = checkpoint_label(path);
  const std::size_t size = bytes.size();

  // Header.
  const std::size_t magic_len = size < 8 ? size : 8;
  if (bytes.compare(0, magic_len, kCheckpointMagic, magic_len) != 0)
    fail_expected("load_checkpoint",
                  str_cat("the magic \"ASRCCKPT\" at byte 0 of ", label, " (not an asrc checkpoint)"),
                  quoted_bytes(bytes.substr(0, magic_len)));
  CheckpointReader head(bytes, 0, size, label);
  head.need(kCheckpointHeaderBytes, "the magic and the u32 format version (truncated file?)");
  head.skip(8);
  const std::uint32_t version = head.u32("the format version");
  require(version == kCheckpointVersion, "load_checkpoint",
          str_cat("format version ", kCheckpointVersion, " at byte 8 of ", label,
                  " (the only version this build reads)"),
          version);

  // Pass 1: walk the record headers to the end record; check the checksum and
  // that nothing follows, before any payload is interpreted.
  struct Span {
    std::uint32_t kind;
    std::size_t begin, end;
  };
  std::vector<Span> records;
  CheckpointReader r(bytes, kCheckpointHeaderBytes, size, label);
  for (;;) {
    const std::size_t at = r.pos();
    if (r.left() == 0)
      r.fail(str_cat("another record or the end record at byte ", at, " of ", label,
                     " (truncated file?)"),
             "the end of the file");
    const std::uint32_t kind = r.u32("a record kind (truncated file?)");
    if (kind != kRecordMeta && kind != kRecordTensor && kind != kRecordInts && kind != kRecordEnd)
      r.fail(str_cat("a record kind 1, 2, 3 or 255 at byte ", at, " of ", label), kind);
    const std::uint64_t len = r.u64("a record payload length (truncated file?)");
    if (len > r.left())
      r.fail(str_cat("a record payload length of at most ", r.left(),
                     " (the bytes left in the file) at byte ", at + 4, " of ", label,
                     " (truncated file?)"),
             len);
    if (kind == kRecordEnd) {
      if (len != 4) r.fail(str_cat("an end record payload length of 4 at byte ", at + 4, " of ", label), len);
      const std::size_t crc_at = r.pos();
      const std::uint32_t stored = r.u32("the checksum");
      if (r.left() != 0)
        r.fail(str_cat("the end of ", label, " after the end record at byte ", at),
               str_cat(r.left(), " more bytes (trailing garbage)"));
      const std::uint32_t actual = crc32(bytes.data(), crc_at);
      if (stored != actual)
        r.fail(str_cat("checksum ", hex32(actual), " (CRC-32 of bytes 0..", crc_at - 1, ") at byte ",
                       crc_at, " of ", label, " (corrupted file)"),
               hex32(stored));
      break;
    }
    records.push_back({kind, r.pos(), r.pos() + static_cast<std::size_t>(len)});
    r.skip(static_cast<std::size_t>(len));
  }

  // Pass 2: decode the payloads.
  Checkpoint c;
  c.source = path;
  for (const Span& s : records) {
    CheckpointReader p(bytes, s.begin, s.end, label);
    const std::size_t rec_at = s.begin - kRecordHeaderBytes;
    if (s.kind == kRecordMeta) {
      const std::uint64_t n = p.count("a metadata entry count", 16);
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::size_t at = p.pos();
        std::string key = p.str("a metadata key");
        std::string value = p.str("a metadata value");
        if (key.empty()) p.fail(str_cat("a non-empty metadata key at byte ", at, " of ", label), "''");
        if (c.meta.count(key))
          p.fail(str_cat("unique metadata keys in ", label), str_cat("'", key, "' twice"));
        c.meta.emplace(std::move(key), std::move(value));
      }
    } else if (s.kind == kRecordTensor) {
      const std::size_t name_at = p.pos();
      std::string name = p.str("a tensor name");
      if (name.empty()) p.fail(str_cat("a non-empty tensor name at byte ", name_at, " of ", label), "''");
      if (c.tensors.count(name))
        p.fail(str_cat("unique tensor names in ", label), str_cat("'", name, "' twice"));
      const std::size_t dtype_at = p.pos();
      const std::uint8_t dt = p.u8("the dtype of tensor '" + name + "'");
      if (dt != static_cast<std::uint8_t>(DType::float32) &&
          dt != static_cast<std::uint8_t>(DType::float64))
        p.fail(str_cat("dtype 1 (float32) or 2 (float64) for tensor '", name, "' at byte ",
                       dtype_at, " of ", label),
               static_cast<int>(dt));
      const std::size_t esize = dt == static_cast<std::uint8_t>(DType::float32) ? 4 : 8;
      const std::size_t dims_at = p.pos();
      const std::uint64_t rows = p.u64("the rows of tensor '" + name + "'");
      const std::uint64_t cols = p.u64("the cols of tensor '" + name + "'");
      if (rows > kMaxTensorDim || cols > kMaxTensorDim)
        p.fail(str_cat("dimensions below 2^31 for tensor '", name, "' at byte ", dims_at, " of ",
                       label),
               str_cat(rows, "x", cols));
      const std::uint64_t n = rows * cols;  // < 2^62, no overflow
      if (n > p.left() / esize)
        p.fail(str_cat(rows, "x", cols, " ", esize == 4 ? "float32" : "float64",
                       " values of tensor '", name, "' within its record (", p.left(),
                       " bytes left) at byte ", p.pos(), " of ", label),
               str_cat(n * esize, " bytes"));
      CheckpointTensor t;
      t.dtype = static_cast<DType>(dt);
      t.values.resize(static_cast<Index>(rows), static_cast<Index>(cols));
      double* d = t.values.data();
      std::size_t at = p.pos();
      for (std::uint64_t i = 0; i < n; ++i, at += esize) {
        if (esize == 8) {
          std::uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits |= static_cast<std::uint64_t>(p.byte(at + k)) << (8 * k);
          std::memcpy(&d[i], &bits, 8);
        } else {
          std::uint32_t bits = 0;
          for (int k = 0; k < 4; ++k) bits |= static_cast<std::uint32_t>(p.byte(at + k)) << (8 * k);
          float f;
          std::memcpy(&f, &bits, 4);
          d[i] = static_cast<double>(f);
        }
      }
      p.skip(static_cast<std::size_t>(n) * esize);
      c.tensors.emplace(std::move(name), std::move(t));
    } else {  // kRecordInts
      const std::size_t name_at = p.pos();
      std::string name = p.str("an int vector name");
      if (name.empty())
        p.fail(str_cat("a non-empty int vector name at byte ", name_at, " of ", label), "''");
      if (c.ints.count(name))
        p.fail(str_cat("unique int vector names in ", label), str_cat("'", name, "' twice"));
      const std::uint64_t n = p.count("the length of int vector '" + name + "'", 8);
      std::vector<std::int64_t> v(static_cast<std::size_t>(n));
      for (std::uint64_t i = 0; i < n; ++i) v[i] = static_cast<std::int64_t>(p.u64("an int value"));
      c.ints.emplace(std::move(name), std::move(v));
    }
    if (p.left() != 0)
      p.fail(str_cat("content filling the record at byte ", rec_at, " of ", label, " (",
                     s.end - s.begin, " bytes)"),
             str_cat(p.left(), " bytes unused"));
  }
  return c;
}

// ===========================================================================
// Files
// ===========================================================================
namespace detail {

/// Test hook: when set, save_checkpoint() calls it with a stage name and the
/// temporary path: "partial" (half the bytes written) and "synced" (all written and
/// fsynced, before the rename). A throw from it aborts the save like an I/O error.
inline std::function<void(const std::string& stage, const std::string& tmp_path)>&
checkpoint_save_hook() {
  static std::function<void(const std::string&, const std::string&)> hook;
  return hook;
}

[[noreturn]] inline void save_io_error(const std::string& what, const std::string& file, int err) {
  throw std::runtime_error(
      str_cat("save_checkpoint(): could not ", what, " '", file, "': ", std::strerror(err)));
}

inline void fsync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself has happened
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace detail

/// Write `c` to `path` atomically (see the top of this file).
inline void save_checkpoint(const std::string& path, const Checkpoint& c) {
  require(!path.empty(), "save_checkpoint", "a file path", "''");
  const std::string bytes = serialize_checkpoint(c, path);
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) detail::save_io_error("create the temporary file", tmp, errno);
  try {
    const std::size_t half = bytes.size() / 2;
    if (std::fwrite(bytes.data(), 1, half, f) != half) detail::save_io_error("write", tmp, errno);
    if (auto& hook = detail::checkpoint_save_hook()) hook("partial", tmp);
    const std::size_t rest = bytes.size() - half;
    if (std::fwrite(bytes.data() + half, 1, rest, f) != rest) detail::save_io_error("write", tmp, errno);
    if (std::fflush(f) != 0) detail::save_io_error("flush", tmp, errno);
    if (::fsync(::fileno(f)) != 0) detail::save_io_error("fsync", tmp, errno);
    std::FILE* g = f;
    f = nullptr;
    if (std::fclose(g) != 0) detail::save_io_error("close", tmp, errno);
    if (auto& hook = detail::checkpoint_save_hook()) hook("synced", tmp);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      detail::save_io_error(str_cat("rename '", tmp, "' to"), path, errno);
  } catch (...) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  detail::fsync_directory_of(path);
}

/// Read and validate a checkpoint file.
inline Checkpoint load_checkpoint(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    fail_expected("load_checkpoint", str_cat("a readable checkpoint file '", path, "'"),
                  std::strerror(errno));
  std::string bytes;
  char buf[1 << 16];
  for (;;) {
    const std::size_t n = std::fread(buf, 1, sizeof buf, f);
    bytes.append(buf, n);
    if (n < sizeof buf) break;
  }
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed)
    fail_expected("load_checkpoint", str_cat("a readable checkpoint file '", path, "'"),
                  "a read error");
  return parse_checkpoint(bytes, path);
}

}  // namespace asrc
