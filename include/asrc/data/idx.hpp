#pragma once
// Reader for the IDX format of the MNIST files, plain or gzip-compressed.
//
// An IDX file is a 4-byte header (0x00 0x00, a type code, the number of
// dimensions), one big-endian uint32 per dimension, then the elements in
// row-major order. Only the unsigned byte type (0x08) is read; every other
// type code is refused by name.
//
// Gzip input (first bytes 1f 8b) is decompressed through zlib when the build
// defines ASRC_HAVE_ZLIB (the CMake target asrc does so when zlib is found).
//
// The header is checked before any element buffer is allocated: the element
// count must fit a byte limit (2^31 by default), and for a plain file the data
// must exactly fill the rest of the file. A gzip stream has no known size in
// advance, so its buffer grows only as decompressed bytes actually arrive and
// the claimed size is capped (1 GiB by default); a short stream is reported as
// truncated and any byte past the declared data as trailing garbage.
//
// read_idx_rows reads only rows [first, last) of the first dimension (a rank's shard of a
// data set) with the same checks; read_idx_dims reads only the header.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sys/types.h>
#include <string>
#include <vector>

#include "asrc/core/error.hpp"

#ifdef ASRC_HAVE_ZLIB
#include <zlib.h>
#endif

namespace asrc {

/// The content of one IDX file of unsigned bytes.
struct IdxArray {
  std::vector<std::uint32_t> dims;  ///< sizes, outermost first
  std::vector<std::uint8_t> data;   ///< elements in row-major order
  /// Number of elements (the product of dims; 1 for zero dimensions).
  std::uint64_t count() const {
    std::uint64_t n = 1;
    for (std::uint32_t d : dims) n *= d;
    return n;
  }
};

/// Byte limits on the element data a header may declare.
struct IdxLimits {
  std::uint64_t max_plain_bytes = std::uint64_t{1} << 31;  ///< plain files
  std::uint64_t max_gzip_bytes = std::uint64_t{1} << 30;   ///< gzip files (size unknown up front)
};

/// Name of an IDX type code, for messages.
inline const char* idx_type_name(int code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
  }
}

namespace detail {

inline std::string idx_hex_byte(unsigned v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  s += digits[(v >> 4) & 0xF];
  s += digits[v & 0xF];
  return s;
}

/// A byte source over a plain file or a gzip stream, closed on destruction.
class IdxSource {
 public:
  IdxSource(const std::string& path, bool gzip) : path_(path), gzip_(gzip) {
    if (!gzip_) {
      file_ = std::fopen(path.c_str(), "rb");
      if (!file_) fail("an existing, readable file", std::strerror(errno));
      return;
    }
#ifdef ASRC_HAVE_ZLIB
    gz_ = gzopen(path.c_str(), "rb");
    if (!gz_) fail("an existing, readable gzip file", std::strerror(errno));
    gzbuffer(gz_, 1u << 17);
#else
    fail("a plain (uncompressed) IDX file, since this build has no zlib (ASRC_HAVE_ZLIB undefined)",
         "gzip-compressed data (magic 1f 8b)");
#endif
  }
  IdxSource(const IdxSource&) = delete;
  IdxSource& operator=(const IdxSource&) = delete;
  ~IdxSource() {
    if (file_) std::fclose(file_);
#ifdef ASRC_HAVE_ZLIB
    if (gz_) gzclose(gz_);
#endif
  }

  /// Read up to n bytes; returns how many were read (fewer only at the end).
  /// A read or decompression error throws, naming the file.
  std::size_t read(void* buf, std::size_t n) {
    if (!gzip_) {
      const std::size_t got = std::fread(buf, 1, n, file_);
      if (got < n && std::ferror(file_)) fail("a readable file", "a read error");
      return got;
    }
#ifdef ASRC_HAVE_ZLIB
    std::size_t total = 0;
    auto* out = static_cast<unsigned char*>(buf);
    while (total < n) {
      // gzread takes an unsigned count: read in bounded pieces.
      const std::size_t want = std::min<std::size_t>(n - total, std::size_t{1} << 24);
      const int got = gzread(gz_, out + total, static_cast<unsigned>(want));
      if (got < 0) {
        int errnum = 0;
        const char* msg = gzerror(gz_, &errnum);
        fail("a valid gzip stream", str_cat("a decompression error (", msg ? msg : "?", ")"));
      }
      total += static_cast<std::size_t>(got);
      if (static_cast<std::size_t>(got) < want) {
        // The end: zlib returns what it has and records Z_BUF_ERROR when the stream
        // stopped early, e.g. inside the CRC-32 / length trailer.
        int errnum = 0;
        const char* msg = gzerror(gz_, &errnum);
        if (errnum != Z_OK && errnum != Z_STREAM_END)
          fail("a complete gzip stream (with its CRC-32 and length trailer)",
               str_cat("a truncated or damaged one (", msg ? msg : "?", ")"));
        break;
      }
    }
    return total;
#else
    return 0;
#endif
  }

  /// Move a plain file's read position to byte `offset` (not available for gzip).
  void seek(std::uint64_t offset) {
    if (fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0)
      fail(str_cat("seekable to byte ", offset), std::strerror(errno));
  }

  /// Size in bytes of a plain file (not available for gzip).
  std::uint64_t plain_size() {
    const long here = std::ftell(file_);
    if (here < 0 || std::fseek(file_, 0, SEEK_END) != 0) fail("a seekable file", "a file that cannot be sized");
    const long end = std::ftell(file_);
    if (end < 0 || std::fseek(file_, here, SEEK_SET) != 0) fail("a seekable file", "a file that cannot be sized");
    return static_cast<std::uint64_t>(end);
  }

  [[noreturn]] void fail(const std::string& expected, const std::string& got) const {
    fail_expected("read_idx", str_cat("file '", path_, "' to be ", expected), got);
  }

 private:
  std::string path_;
  bool gzip_ = false;
  std::FILE* file_ = nullptr;
#ifdef ASRC_HAVE_ZLIB
  gzFile gz_ = nullptr;
#endif
};

}  // namespace detail

/// True when the file starts with the gzip magic bytes 1f 8b.
/// A missing file throws std::invalid_argument naming it.
inline bool idx_is_gzip(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    fail_expected("read_idx", str_cat("file '", path, "' to exist and be readable"),
                  str_cat("an error opening it (", std::strerror(errno), ")"));
  unsigned char magic[2] = {0, 0};
  const std::size_t got = std::fread(magic, 1, 2, f);
  std::fclose(f);
  return got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

namespace detail {

/// The checked header of an open IDX source: sizes, element count, header length. For a
/// plain file the data must exactly fill the rest of the file (checked from its size,
/// without reading the data).
struct IdxHeader {
  std::vector<std::uint32_t> dims;
  std::uint64_t count = 0;         ///< elements the sizes declare
  std::uint64_t header_bytes = 0;  ///< 4 + 4 per dimension
  std::string dims_text() const {
    std::string s;
    for (std::size_t i = 0; i < dims.size(); ++i) s += str_cat(i ? " x " : "", dims[i]);
    return s.empty() ? std::string("a scalar") : s;
  }
};

inline IdxHeader read_idx_header(IdxSource& src, const std::string& path, bool gzip, int expected_rank,
                                 const IdxLimits& limits, const std::string& where) {
  const std::string in_file = str_cat(" in file '", path, "'");
  unsigned char head[4];
  const std::size_t got_head = src.read(head, 4);
  if (got_head < 4)
    fail_expected(where, str_cat("a 4-byte IDX header (field 'magic')", in_file),
                  str_cat(got_head, " bytes (truncated header)"));
  if (head[0] != 0 || head[1] != 0)
    fail_expected(where, str_cat("field 'magic' to start with two zero bytes (0x00 0x00)", in_file),
                  str_cat(idx_hex_byte(head[0]), " ", idx_hex_byte(head[1]), " (not an IDX file)"));
  if (head[2] != 0x08)
    fail_expected(where, str_cat("field 'type' to be 0x08 (unsigned byte)", in_file),
                  str_cat(idx_hex_byte(head[2]), " (", idx_type_name(head[2]), ", not supported)"));
  const int rank = head[3];
  if (rank != expected_rank)
    fail_expected(where, str_cat("field 'dimensions' to be ", expected_rank, in_file), rank);

  IdxHeader h;
  h.dims.resize(static_cast<std::size_t>(rank));
  const std::uint64_t cap = gzip ? limits.max_gzip_bytes : limits.max_plain_bytes;
  std::uint64_t count = 1;
  bool over = false;
  for (int d = 0; d < rank; ++d) {
    unsigned char b[4];
    const std::size_t got = src.read(b, 4);
    if (got < 4)
      fail_expected(where, str_cat("4 bytes for field 'size[", d, "]'", in_file),
                    str_cat(got, " bytes (truncated header)"));
    const std::uint32_t v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                            (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
    h.dims[static_cast<std::size_t>(d)] = v;
    // Multiply with an overflow guard: once past the cap the product stays flagged.
    if (!over && v != 0 && count > cap / v) over = true;
    if (!over) count *= v;
  }
  bool has_zero = false;
  for (std::uint32_t v : h.dims) has_zero = has_zero || v == 0;
  if (has_zero) {
    over = false;
    count = 0;
  }
  if (over || count > cap)
    fail_expected(where,
                  str_cat("fields 'size' to declare at most ", cap, " bytes of ",
                          gzip ? "decompressed " : "", "data", in_file),
                  str_cat(h.dims_text(), " (too large)"));
  h.count = count;
  h.header_bytes = 4 + 4 * static_cast<std::uint64_t>(rank);
  if (!gzip) {
    // The file size is known: compare before allocating anything.
    const std::uint64_t file_bytes = src.plain_size();
    const std::uint64_t have = file_bytes - h.header_bytes;
    if (have < count)
      fail_expected(where, str_cat(count, " data bytes for sizes ", h.dims_text(), in_file),
                    str_cat(have, " bytes (truncated data)"));
    if (have > count)
      fail_expected(where, str_cat(count, " data bytes for sizes ", h.dims_text(), in_file),
                    str_cat(have, " bytes (", have - count, " trailing bytes after the data)"));
  }
  return h;
}

/// Read the rest of a gzip stream whose `count` data bytes were all consumed: any byte
/// left is trailing garbage.
inline void idx_check_gzip_end(IdxSource& src, const IdxHeader& h, const std::string& path,
                               const std::string& where) {
  unsigned char extra[256];
  std::uint64_t trailing = 0;
  for (std::size_t n; (n = src.read(extra, sizeof extra)) > 0;) {
    trailing += n;
    if (trailing > (std::uint64_t{1} << 20)) break;  // enough to report; stop reading
  }
  if (trailing > 0)
    fail_expected(where,
                  str_cat(h.count, " decompressed data bytes for sizes ", h.dims_text(), " in file '", path, "'"),
                  str_cat(trailing > (std::uint64_t{1} << 20) ? "more than " : "", trailing,
                          " extra bytes after the data (trailing garbage)"));
}

}  // namespace detail

/// Read an IDX file of unsigned bytes with exactly `expected_rank` dimensions
/// (the caller states what it expects; e.g. 3 for images, 1 for labels).
/// Gzip files are recognised by content, not by name. Every problem throws
/// std::invalid_argument naming the file, the field and what was expected.
inline IdxArray read_idx(const std::string& path, int expected_rank, const IdxLimits& limits = {}) {
  require(expected_rank >= 0 && expected_rank <= 255, "read_idx",
          str_cat("an expected rank in [0, 255] for file '", path, "'"), expected_rank);
  const bool gzip = idx_is_gzip(path);
  detail::IdxSource src(path, gzip);
  const std::string where = "read_idx";
  const std::string in_file = str_cat(" in file '", path, "'");
  const detail::IdxHeader h = detail::read_idx_header(src, path, gzip, expected_rank, limits, where);
  const std::uint64_t count = h.count;
  auto dims_text = [&h] { return h.dims_text(); };
  IdxArray out;
  out.dims = h.dims;
  if (!gzip) {
    out.data.resize(static_cast<std::size_t>(count));
    const std::size_t got = count ? src.read(out.data.data(), out.data.size()) : 0;
    if (got != count)
      fail_expected(where, str_cat(count, " data bytes", in_file),
                    str_cat(got, " bytes (truncated data)"));
    return out;
  }

  // Gzip: grow the buffer only as decompressed bytes arrive, so a header that
  // lies about its size costs no more memory than the stream really holds.
  const std::size_t chunk = std::size_t{1} << 20;
  std::size_t filled = 0;
  while (filled < count) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk, count - filled));
    if (out.data.size() < filled + want) {
      std::size_t next = std::max(out.data.size() * 2, filled + want);
      next = static_cast<std::size_t>(std::min<std::uint64_t>(next, count));
      out.data.resize(next);
    }
    const std::size_t got = src.read(out.data.data() + filled, want);
    filled += got;
    if (got < want)
      fail_expected(where, str_cat(count, " decompressed data bytes for sizes ", dims_text(), in_file),
                    str_cat(filled, " bytes (truncated data)"));
  }
  detail::idx_check_gzip_end(src, h, path, where);
  return out;
}

/// Rows [first, last) of an IDX file (a row: one index of the first dimension).
struct IdxRows {
  std::vector<std::uint32_t> dims;  ///< the whole file's sizes, outermost first
  std::uint64_t first = 0, last = 0;
  std::vector<std::uint8_t> data;   ///< (last - first) rows, row-major
  /// Bytes per row (the product of dims[1..]).
  std::uint64_t row_bytes() const {
    std::uint64_t n = 1;
    for (std::size_t d = 1; d < dims.size(); ++d) n *= dims[d];
    return n;
  }
};

/// The sizes declared by an IDX file's header, with the checks of read_idx that need no
/// data (magic, type, rank, size limit, and for a plain file that the data exactly fills
/// the rest of the file). Reads only the header.
inline std::vector<std::uint32_t> read_idx_dims(const std::string& path, int expected_rank,
                                                const IdxLimits& limits = {}) {
  require(expected_rank >= 0 && expected_rank <= 255, "read_idx_dims",
          str_cat("an expected rank in [0, 255] for file '", path, "'"), expected_rank);
  const bool gzip = idx_is_gzip(path);
  detail::IdxSource src(path, gzip);
  return detail::read_idx_header(src, path, gzip, expected_rank, limits, "read_idx_dims").dims;
}

namespace detail {
/// Read the runs [first, last) of consecutive rows (increasing, within the file) of an IDX
/// file whose header `h` was just read from `src`, one after another into `out.data`. A plain
/// file seeks to each run; a gzip stream is decompressed from the start, the rows between
/// runs skipped through a small buffer (never held), and after the last run the rest is
/// decompressed (not kept) to check that the stream holds exactly the declared data.
inline void read_idx_runs(IdxSource& src, const IdxHeader& h, const std::string& path, bool gzip,
                          const std::string& where,
                          const std::vector<std::pair<std::uint64_t, std::uint64_t>>& runs, IdxRows& out) {
  const std::string in_file = str_cat(" in file '", path, "'");
  const std::uint64_t row = out.row_bytes();
  std::uint64_t total = 0;
  for (const auto& r : runs) total += (r.second - r.first) * row;
  out.data.resize(static_cast<std::size_t>(total));
  std::vector<unsigned char> scratch(gzip ? std::size_t{1} << 16 : 0);
  std::uint64_t done = 0;  // gzip: data bytes consumed so far
  auto truncated = [&](std::uint64_t at) {
    fail_expected(where, str_cat(h.count, " decompressed data bytes for sizes ", h.dims_text(), in_file),
                  str_cat(at, " bytes (truncated data)"));
  };
  auto skip_to = [&](std::uint64_t target) {
    while (done < target) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(scratch.size(), target - done));
      const std::size_t got = src.read(scratch.data(), want);
      done += got;
      if (got < want) truncated(done);
    }
  };
  unsigned char* dst = out.data.data();
  for (const auto& [first, last] : runs) {
    const std::uint64_t n = (last - first) * row;
    if (n == 0) continue;
    if (!gzip) {
      src.seek(h.header_bytes + first * row);
      const std::size_t got = src.read(dst, static_cast<std::size_t>(n));
      if (got != n)  // the file shrank after its size was checked
        fail_expected(where, str_cat(n, " data bytes of rows [", first, ", ", last, ")", in_file),
                      str_cat(got, " bytes (truncated data)"));
    } else {
      skip_to(first * row);
      const std::size_t got = src.read(dst, static_cast<std::size_t>(n));
      done += got;
      if (got < n) truncated(done);
    }
    dst += n;
  }
  if (gzip) {
    skip_to(h.count);
    idx_check_gzip_end(src, h, path, where);
  }
}
}  // namespace detail

/// Only the rows [first, last) of an IDX file with `expected_rank` >= 1 dimensions, with the
/// checks of read_idx: the header, and that the file holds exactly the declared data.
/// A plain file is checked from its size and read from byte header + first * row_bytes:
/// nothing outside the range is read. A gzip stream cannot seek: it is decompressed from
/// the start and only the range is held, so a .gz file costs the whole decompression time.
inline IdxRows read_idx_rows(const std::string& path, int expected_rank, std::uint64_t first,
                             std::uint64_t last, const IdxLimits& limits = {}) {
  const std::string where = "read_idx_rows";
  require(expected_rank >= 1 && expected_rank <= 255, where,
          str_cat("an expected rank in [1, 255] for file '", path, "'"), expected_rank);
  const bool gzip = idx_is_gzip(path);
  detail::IdxSource src(path, gzip);
  const detail::IdxHeader h = detail::read_idx_header(src, path, gzip, expected_rank, limits, where);
  IdxRows out;
  out.dims = h.dims;
  require(first <= last && last <= h.dims[0], where,
          str_cat("rows [first, last) within the ", h.dims[0], " rows (field 'size[0]') in file '", path, "'"),
          str_cat("[", first, ", ", last, ")"));
  out.first = first;
  out.last = last;
  detail::read_idx_runs(src, h, path, gzip, where, {{first, last}}, out);
  return out;
}

/// The rows `rows` (strictly increasing) of an IDX file, in that order, with the checks of
/// read_idx_rows; nothing else of a plain file is read (one seek per run of consecutive
/// rows), a .gz file is decompressed from the start, its other rows skipped and not kept.
/// first and last of the result are the first row and one past the last (0, 0 when empty).
inline IdxRows read_idx_row_list(const std::string& path, int expected_rank, const std::vector<std::uint64_t>& rows,
                                 const IdxLimits& limits = {}) {
  const std::string where = "read_idx_row_list";
  require(expected_rank >= 1 && expected_rank <= 255, where,
          str_cat("an expected rank in [1, 255] for file '", path, "'"), expected_rank);
  const bool gzip = idx_is_gzip(path);
  detail::IdxSource src(path, gzip);
  const detail::IdxHeader h = detail::read_idx_header(src, path, gzip, expected_rank, limits, where);
  IdxRows out;
  out.dims = h.dims;
  for (std::size_t i = 0; i < rows.size(); ++i)
    require(rows[i] < h.dims[0] && (i == 0 || rows[i] > rows[i - 1]), where,
            str_cat("strictly increasing rows below the ", h.dims[0], " rows (field 'size[0]') in file '", path,
                    "'"),
            str_cat("row ", rows[i], " at position ", i));
  if (!rows.empty()) out.first = rows.front(), out.last = rows.back() + 1;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> runs;
  for (std::uint64_t r : rows) {
    if (!runs.empty() && runs.back().second == r) ++runs.back().second;
    else runs.emplace_back(r, r + 1);
  }
  detail::read_idx_runs(src, h, path, gzip, where, runs, out);
  return out;
}

}  // namespace asrc
