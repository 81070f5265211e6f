#pragma once
// Entry functions of the fuzz targets, shared by the libFuzzer programs
// (fuzz/fuzz_*.cpp, built by scripts/fuzz.sh) and the regression test
// (tests/fuzz/test_fuzz_regressions.cpp, built by ctest with g++ or clang++).
//
// Each entry takes the raw input bytes, runs one parser on them and returns 0.
// Refusals are the normal outcome of hostile input: std::invalid_argument
// everywhere (checked to follow the "where(): expected ..., got ..." form),
// and std::runtime_error where the parser documents it (the HDF5 reader).
// Everything else escapes to the caller and is a finding:
//   - any other exception type (libFuzzer: uncaught exception -> crash);
//   - asrc_fuzz::Finding, thrown when a result violates a property that must
//     hold for every accepted input (sizes match the header, a parsed
//     checkpoint re-serializes to the same content, ...);
//   - crashes, sanitizer reports, hangs (reported by libFuzzer / the sanitizers).
//
// Input formats:
//   idx         1 control byte, then the file. Control bit 0: gzip the rest before
//               writing it (explores the IDX format behind zlib); bits 1-3: the
//               expected rank 0..6, 7 = the rank the header declares (byte 3);
//               bit 4: small byte limits (1 MiB) instead of the defaults.
//               Raw gzip streams reach the reader with bit 0 clear.
//   wav         the file.
//   checkpoint  the file. Parsed as is, and once more with the last 4 bytes
//               replaced by the correct CRC-32, so mutations get past the
//               checksum and reach the payload decoder.
//   hdf5        the file, opened as an SSC file (needs ASRC_HAVE_HDF5).
//   cli         NUL-separated command-line arguments of asrc-train (without argv[0]).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "asrc/data/idx.hpp"
#include "asrc/data/wav.hpp"
#include "asrc/io/checkpoint.hpp"
#include "asrc/network/network.hpp"
#include "asrc/train/run_config.hpp"
#ifdef ASRC_HAVE_HDF5
#include "asrc/data/spike_hdf5.hpp"
#endif
#ifdef ASRC_HAVE_ZLIB
#include <zlib.h>
#endif

namespace asrc_fuzz {

/// A violated property: never caught by the entries.
struct Finding : std::logic_error {
  using std::logic_error::logic_error;
};

[[noreturn]] inline void finding(const std::string& what) {
  throw Finding("asrc fuzz finding: " + what);
}

/// A refusal must read "where(): expected ..., got ...", with no control bytes: names
/// quoted from the input have theirs escaped (asrc::printable), so a NUL byte cannot
/// end what() early.
inline void check_message(const std::exception& e) {
  const std::string m = e.what();
  const std::size_t exp = m.find("(): expected ");
  if (exp == std::string::npos || exp == 0 || m.find(' ') < exp)
    finding("refusal without the 'where(): expected ..., got ...' form: " + m);
  for (unsigned char c : m)
    if (c < 0x20 || c == 0x7f) finding("control byte in a refusal message: " + asrc::printable(m));
}

/// The input bytes written to a fresh file under $TMPDIR (or /tmp), removed again
/// on destruction. The name holds the pid and a counter: parallel fuzzing jobs do
/// not collide, and a library that caches open files by name (HDF5) never sees a
/// name twice.
class TempFile {
 public:
  TempFile(const char* tag, const void* data, std::size_t size) {
    static unsigned long counter = 0;
    const char* dir = std::getenv("TMPDIR");
    path_ = asrc::str_cat(dir && *dir ? dir : "/tmp", "/asrc-fuzz-", static_cast<long>(::getpid()),
                          "-", tag, "-", counter++);
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) {
      std::perror(path_.c_str());
      std::abort();  // the harness cannot work: not a finding of the parser
    }
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    if (std::fclose(f) != 0) std::abort();
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------
// IDX
// ---------------------------------------------------------------------------
#ifdef ASRC_HAVE_ZLIB
/// Gzip (RFC 1952) of the bytes, as gzip(1) would write it.
inline std::string gzip_bytes(const std::string& in) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(&out[0]);
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
#endif

inline int run_idx(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > (std::size_t{1} << 24)) return 0;
  const unsigned ctl = data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  int rank = static_cast<int>((ctl >> 1) & 7u);
  if (rank == 7) rank = bytes.size() >= 4 ? static_cast<unsigned char>(bytes[3]) : 1;
#ifdef ASRC_HAVE_ZLIB
  if (ctl & 1u) bytes = gzip_bytes(bytes);
#endif
  asrc::IdxLimits limits;
  if (ctl & 16u) limits.max_plain_bytes = limits.max_gzip_bytes = std::uint64_t{1} << 20;
  TempFile file("idx", bytes.data(), bytes.size());
  try {
    const asrc::IdxArray a = asrc::read_idx(file.path(), rank, limits);
    if (static_cast<int>(a.dims.size()) != rank)
      finding(asrc::str_cat("read_idx: ", a.dims.size(), " dimensions, expected rank ", rank));
    if (a.data.size() != a.count())
      finding(asrc::str_cat("read_idx: ", a.data.size(), " elements for sizes of ", a.count()));
    const bool gz = bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
                    static_cast<unsigned char>(bytes[1]) == 0x8b;
    if (!gz && bytes.size() != 4 + 4 * a.dims.size() + a.data.size())
      finding(asrc::str_cat("read_idx: accepted a plain file of ", bytes.size(), " bytes holding ",
                            a.data.size(), " elements of rank ", rank));
    if (a.data.size() > (gz ? limits.max_gzip_bytes : limits.max_plain_bytes))
      finding("read_idx: more data than the limit");
  } catch (const std::invalid_argument& e) {
    check_message(e);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// WAV
// ---------------------------------------------------------------------------
inline int run_wav(const std::uint8_t* data, std::size_t size) {
  TempFile file("wav", data, size);
  try {
    const asrc::WavAudio w = asrc::read_wav(file.path());
    if (w.sample_rate <= 0) finding(asrc::str_cat("read_wav: sample rate ", w.sample_rate));
    if (2 * w.samples.size() + 44 > size)  // 12 (RIFF) + 24 (fmt ) + 8 (data header) at least
      finding(asrc::str_cat("read_wav: ", w.samples.size(), " samples from a ", size, "-byte file"));
    for (float s : w.samples)
      if (!(s >= -1.0f && s < 1.0f)) finding(asrc::str_cat("read_wav: sample ", s, " outside [-1, 1)"));
  } catch (const std::invalid_argument& e) {
    check_message(e);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Checkpoint
// ---------------------------------------------------------------------------
inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// Content equality (bitwise for tensor values).
inline bool same_content(const asrc::Checkpoint& a, const asrc::Checkpoint& b, std::string& why) {
  if (a.meta != b.meta) return why = "metadata", false;
  if (a.ints != b.ints) return why = "int vectors", false;
  if (a.tensors.size() != b.tensors.size()) return why = "tensor count", false;
  for (auto i = a.tensors.begin(), j = b.tensors.begin(); i != a.tensors.end(); ++i, ++j) {
    const auto& x = i->second;
    const auto& y = j->second;
    if (i->first != j->first || x.dtype != y.dtype || x.values.rows() != y.values.rows() ||
        x.values.cols() != y.values.cols())
      return why = "tensor '" + i->first + "' name, dtype or shape", false;
    for (asrc::Index k = 0; k < x.values.size(); ++k)
      if (!same_bits(x.values.data()[k], y.values.data()[k]))
        return why = asrc::str_cat("tensor '", i->first, "' element ", k), false;
  }
  return true;
}

inline void check_checkpoint(const std::string& bytes) {
  asrc::Checkpoint c;
  try {
    c = asrc::parse_checkpoint(bytes, "fuzz.ckpt");
  } catch (const std::invalid_argument& e) {
    check_message(e);
    return;
  }
  if (c.source != "fuzz.ckpt") finding("parse_checkpoint: source not kept");
  // The accessors on whatever was accepted.
  for (const auto& kv : c.meta) {
    if (kv.first.empty()) finding("parse_checkpoint: accepted an empty metadata key");
    try {
      (void)c.meta_number(kv.first);
    } catch (const std::invalid_argument& e) {
      check_message(e);
    }
    try {
      (void)c.meta_int(kv.first);
    } catch (const std::invalid_argument& e) {
      check_message(e);
    }
  }
  for (const auto& kv : c.tensors) {
    if (kv.first.empty()) finding("parse_checkpoint: accepted an empty tensor name");
    const auto& v = kv.second.values;
    const asrc::Matrix<float> f = c.tensor<float>(kv.first, v.rows(), v.cols());
    const asrc::Vector<double> d = c.tensor_vector<double>(kv.first, v.size());
    for (asrc::Index k = 0; k < v.size(); ++k)
      if (!same_bits(d[k], v.data()[k])) finding("Checkpoint::tensor_vector: values differ");
    if (f.size() != v.size()) finding("Checkpoint::tensor: size differs");
  }
  for (const auto& kv : c.ints)
    if (kv.first.empty()) finding("parse_checkpoint: accepted an empty int vector name");
  // Whatever is read back must write and read back to the same content.
  const std::string again = asrc::serialize_checkpoint(c, "fuzz.ckpt");
  asrc::Checkpoint d;
  try {
    d = asrc::parse_checkpoint(again, "fuzz.ckpt");
  } catch (const std::invalid_argument& e) {
    finding(std::string("parse_checkpoint refuses what serialize_checkpoint wrote: ") + e.what());
  }
  std::string why;
  if (!same_content(c, d, why)) finding("checkpoint round trip changes the " + why);
}

inline int run_checkpoint(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  check_checkpoint(bytes);
  if (size >= asrc::detail::kCheckpointHeaderBytes + asrc::detail::kEndRecordBytes) {
    const std::uint32_t crc = asrc::crc32(bytes.data(), size - 4);
    for (int i = 0; i < 4; ++i) bytes[size - 4 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xFFu);
    if (bytes.compare(0, std::string::npos, reinterpret_cast<const char*>(data), size) != 0)
      check_checkpoint(bytes);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// SSC / SHD HDF5
// ---------------------------------------------------------------------------
#ifdef ASRC_HAVE_HDF5
inline int run_hdf5(const std::uint8_t* data, std::size_t size) {
  TempFile file("h5", data, size);
  try {
    const asrc::SpikeDataset ds(file.path(), asrc::SpikeHdf5Options::ssc());
    const asrc::Index T = ds.steps(), F = ds.width();
    if (T != 250 || F != 140) finding("SpikeDataset: shape changed");
    std::vector<float> x(static_cast<std::size_t>(T * F));
    std::uint64_t total = 0;
    const asrc::Index n = std::min<asrc::Index>(ds.size(), 64);
    for (asrc::Index i = 0; i < n; ++i) {
      const int y = ds.label(i);
      if (y < 0 || y >= ds.num_classes()) finding(asrc::str_cat("SpikeDataset: label ", y));
      ds.fill(i, x.data());
      for (float v : x) {
        if (!(v >= 0.0f)) finding(asrc::str_cat("SpikeDataset: count ", v));
        total += static_cast<std::uint64_t>(v);
      }
      ds.for_each_event(i, [&](asrc::Index s, asrc::Index c, std::uint32_t k) {
        if (s < 0 || s >= T || c < 0 || c >= F || k == 0)
          finding(asrc::str_cat("SpikeDataset: event (", s, ", ", c, ", ", k, ")"));
      });
    }
    if (n == ds.size() && total + ds.spikes_dropped() != ds.spikes_read())
      finding(asrc::str_cat("SpikeDataset: ", total, " binned + ", ds.spikes_dropped(),
                            " dropped != ", ds.spikes_read(), " read"));
  } catch (const std::invalid_argument& e) {
    check_message(e);
  } catch (const std::runtime_error&) {
    // documented: HDF5 refusing to build the half type
  }
  // Every identifier the reader opened (file, datasets, types, spaces) is closed again.
  const ssize_t open_ids = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
  if (open_ids != 0) finding(asrc::str_cat("SpikeDataset left ", open_ids, " HDF5 objects open"));
  return 0;
}
#endif

// ---------------------------------------------------------------------------
// asrc-train command line
// ---------------------------------------------------------------------------

/// Parameters Network<T> allocates for this configuration (long double: no
/// overflow for any width; mirrors SpikingLayer / Readout / Network).
inline long double planned_params(const asrc::NetworkConfig& c) {
  long double n = 0, in = static_cast<long double>(c.input_size);
  const bool asrc_kernel = c.recurrence == asrc::Recurrence::asrc;
  if (asrc_kernel && c.network_wise) n += static_cast<long double>(c.skip);
  for (asrc::Index h : c.hidden) {
    const long double H = static_cast<long double>(h);
    n += H * in + (c.bias ? H : 0) + (c.recurrence != asrc::Recurrence::none ? H * H : 0);
    if (asrc_kernel && !c.network_wise) n += static_cast<long double>(c.skip);
    in = H;
  }
  const long double C = static_cast<long double>(c.num_classes);
  return n + C * in + (c.bias ? C : 0);
}

inline void cli_parse(const std::vector<std::string>& args) {
  using asrc::require;
  // Exactly asrc-train's parsing: --key value, --key=value, switches.
  const auto opts = asrc::split_command_line(args);
  asrc::RunConfig cfg = asrc::make_preset("smnist-asrc");
  cfg.preset.clear();
  for (const auto& kv : opts) {
    if (kv.first == "help") return;
    if (kv.first == "preset") cfg = asrc::make_preset(kv.second);
  }
  for (const auto& kv : opts) {
    const std::string& k = kv.first;
    // --resume / --eval-only name checkpoint files (fuzz_checkpoint covers their parsing).
    if (k == "preset" || k == "resume" || k == "eval-only" || k == "count-params") continue;
    cfg.set(k, kv.second);
  }
  cfg.validate();

  // What a checkpoint / config.txt keeps must give back the same configuration on --resume.
  const auto m = cfg.to_map();
  auto again = asrc::RunConfig::from_map(m).to_map();
  if (again != m) {
    for (const auto& kv : m)
      if (again[kv.first] != kv.second)
        finding("RunConfig to_map/from_map round trip changes --" + kv.first + " from '" +
                kv.second + "' to '" + again[kv.first] + "'");
    finding("RunConfig to_map/from_map round trip changes the key set");
  }

  asrc::NetworkConfig nc = cfg.network_config();
  const long double planned = planned_params(nc);
  if (planned >= 1e5L) return;  // a legitimately large network: not built here
  // One thread, whatever --threads says: the parser accepts any count, and a
  // forward pass allocates one workspace per thread.
  nc.threads = 1;
  asrc::Network<float> small(nc);
  if (static_cast<long double>(small.num_params()) != planned)
    finding(asrc::str_cat("Network: ", small.num_params(), " parameters, planned ",
                          static_cast<double>(planned)));
  // One tiny training step when the sequence it needs is short: the configuration
  // must give a working network.
  if (nc.lag() >= 64) return;
  const asrc::Index steps = nc.lag() + 1;
  const asrc::Index batch = 2;
  if (planned * static_cast<long double>(steps) > 2e6L) return;
  asrc::Matrix<float> x(steps * batch, nc.input_size);
  for (asrc::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>((i * 7) % 3) * 0.5f;
  std::vector<int> y(static_cast<std::size_t>(batch));
  for (asrc::Index b = 0; b < batch; ++b) y[static_cast<std::size_t>(b)] = static_cast<int>(b % nc.num_classes);
  asrc::Vector<float> grad;
  (void)small.forward_backward(x, batch, y, grad);
  if (grad.size() != small.num_params()) finding("Network::forward_backward: gradient size");
}

inline int run_cli(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  std::vector<std::string> args;
  std::string cur;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty()) args.push_back(cur);
  try {
    cli_parse(args);
  } catch (const std::invalid_argument& e) {
    check_message(e);
  }
  return 0;
}

/// The entry of a target by its name ("fuzz_idx", ...), or nullptr (e.g. fuzz_hdf5
/// in a build without HDF5).
using Entry = int (*)(const std::uint8_t*, std::size_t);
inline Entry entry_by_name(const std::string& name) {
  if (name == "fuzz_idx") return &run_idx;
  if (name == "fuzz_wav") return &run_wav;
  if (name == "fuzz_checkpoint") return &run_checkpoint;
  if (name == "fuzz_cli") return &run_cli;
#ifdef ASRC_HAVE_HDF5
  if (name == "fuzz_hdf5") return &run_hdf5;
#endif
  return nullptr;
}

}  // namespace asrc_fuzz
