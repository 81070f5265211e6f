// Writes small valid inputs for every fuzz target, in the input format of
// fuzz/targets.hpp, under OUT_DIR/<target>/ (scripts/fuzz.sh seeds the corpora
// in build-fuzz/ with them). Built with the library's own writers, so the seeds
// follow the formats exactly; a few of them are committed under fuzz/seeds/.
//
//   make_seeds OUT_DIR
//
// The HDF5 seeds are written only when built with ASRC_HAVE_HDF5.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "targets.hpp"

namespace fs = std::filesystem;

namespace {

fs::path g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::cerr << "make_seeds: cannot write " << (dir / name) << "\n";
    std::exit(1);
  }
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

void be32(std::string& s, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}
void le16(std::string& s, std::uint32_t v) {
  s.push_back(static_cast<char>(v & 0xFFu));
  s.push_back(static_cast<char>((v >> 8) & 0xFFu));
}
void le32(std::string& s, std::uint32_t v) {
  le16(s, v & 0xFFFFu);
  le16(s, v >> 16);
}

/// An IDX file of unsigned bytes with these sizes, element i = i * 37 mod 256.
std::string idx_file(const std::vector<std::uint32_t>& dims) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  std::uint64_t n = 1;
  for (std::uint32_t d : dims) {
    be32(s, d);
    n *= d;
  }
  for (std::uint64_t i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 37) & 0xFFu));
  return s;
}

void idx_seeds() {
  // Control byte: bit 0 gzip, bits 1-3 rank (7: from the header), bit 4 small limits.
  const char from_header = static_cast<char>(7 << 1);
  put("fuzz_idx", "labels", std::string(1, from_header) + idx_file({10}));
  put("fuzz_idx", "images", std::string(1, from_header) + idx_file({3, 4, 4}));
  put("fuzz_idx", "scalar", std::string(1, static_cast<char>(0)) + idx_file({}));
  put("fuzz_idx", "empty_dim", std::string(1, static_cast<char>(2 << 1)) + idx_file({0, 28}));
  put("fuzz_idx", "labels_gz", std::string(1, static_cast<char>(from_header | 1)) + idx_file({10}));
  put("fuzz_idx", "images_small_limits",
      std::string(1, static_cast<char>(from_header | 16)) + idx_file({2, 28, 28}));
#ifdef ASRC_HAVE_ZLIB
  // A raw gzip stream, as the MNIST .gz files (control bit 0 clear: written as is).
  put("fuzz_idx", "raw_gzip",
      std::string(1, static_cast<char>(1 << 1)) + asrc_fuzz::gzip_bytes(idx_file({12})));
#endif
}

void wav_seeds(const fs::path& tmp) {
  const std::string p = (tmp / "seed.wav").string();
  asrc::write_wav_pcm16(p, {0.0f, 0.5f, -0.5f, 0.999f, -1.0f}, 16000);
  put("fuzz_wav", "pcm16", slurp(p));
  asrc::write_wav_pcm16(p, {}, 8000);
  put("fuzz_wav", "empty", slurp(p));
  // WAVE_FORMAT_EXTENSIBLE with the PCM sub-format, an odd LIST chunk (padded) first.
  std::string s = "RIFF";
  std::string body = "WAVE";
  body += "LIST";
  le32(body, 3);
  body += "abc";
  body.push_back('\0');
  body += "fmt ";
  le32(body, 40);
  le16(body, 0xFFFE);
  le16(body, 1);
  le32(body, 16000);
  le32(body, 32000);
  le16(body, 2);
  le16(body, 16);
  le16(body, 22);
  le16(body, 16);
  le32(body, 4);
  const unsigned char guid[16] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                  0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
  body.append(reinterpret_cast<const char*>(guid), 16);
  body += "data";
  le32(body, 6);
  le16(body, 1);
  le16(body, 0x8000);
  le16(body, 0x7FFF);
  le32(s, static_cast<std::uint32_t>(body.size()));
  put("fuzz_wav", "extensible", s + body);
}

void checkpoint_seeds() {
  asrc::Checkpoint c;
  c.set_meta("config.task", "smnist");
  c.set_meta_number("lr", 1e-3);
  c.set_meta_int("epoch", 3);
  asrc::Matrix<double> w(2, 3);
  w << 1, -2, 3.5, 0.25, -0.0, 1e-300;
  c.set_tensor("hidden0.weight", w);
  asrc::Matrix<double> b(1, 2);
  b << 0.5, -0.5;
  c.set_tensor("hidden0.bias", b, asrc::DType::float32);
  c.set_ints("permutation", std::vector<int>{2, 0, 1});
  put("fuzz_checkpoint", "small", asrc::serialize_checkpoint(c));
  put("fuzz_checkpoint", "empty", asrc::serialize_checkpoint(asrc::Checkpoint{}));
  // A real network's checkpoint (a tiny one): what the trainer writes, in miniature.
  asrc::NetworkConfig nc;
  nc.hidden = {4, 3};
  nc.recurrence = asrc::Recurrence::asrc;
  nc.skip = 3;
  asrc::Network<float> net(nc);
  asrc::Checkpoint n;
  n.set_meta("config.layers", "4,3");
  n.set_tensor("params", net.params().transpose(), asrc::DType::float32);
  put("fuzz_checkpoint", "network", asrc::serialize_checkpoint(n));
}

#ifdef ASRC_HAVE_HDF5
void hdf5_seeds(const fs::path& tmp) {
  using namespace asrc;
  const std::string p = (tmp / "seed.h5").string();
  const std::vector<std::vector<double>> times = {{0.0, 0.1, 0.1, 1.39, 1.5}, {}, {0.7}};
  const std::vector<std::vector<std::uint32_t>> units = {{0, 5, 5, 699, 3}, {}, {350}};
  const std::vector<std::int64_t> labels = {3, 0, 34};
  write_spike_hdf5(p, times, units, labels, SpikeTimeType::float16, SpikeUnitType::uint16,
                   SpikeLabelType::uint16);
  put("fuzz_hdf5", "half_u16", slurp(p));
  write_spike_hdf5(p, times, units, labels, SpikeTimeType::float32, SpikeUnitType::uint32,
                   SpikeLabelType::uint8);
  put("fuzz_hdf5", "float_u32", slurp(p));
  write_spike_hdf5(p, times, units, labels, SpikeTimeType::float64, SpikeUnitType::uint16,
                   SpikeLabelType::int64);
  put("fuzz_hdf5", "double_i64", slurp(p));
  write_spike_hdf5(p, std::vector<std::vector<double>>{}, {}, {}, SpikeTimeType::float16);
  put("fuzz_hdf5", "no_rows", slurp(p));
}
#endif

std::string args(const std::vector<std::string>& a) {
  std::string s;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i) s.push_back('\0');
    s += a[i];
  }
  return s;
}

void cli_seeds() {
  put("fuzz_cli", "preset_small", args({"--preset", "smnist-src", "--layers", "4,3", "--skip", "3"}));
  put("fuzz_cli", "asrc_switches",
      args({"--model-version=ASRC", "--layers", "5,5", "--skip", "4", "--network-wise", "--hard-reset",
            "--detach-reset", "--sg", "exp", "--drop", "0.25"}));
  put("fuzz_cli", "speech", args({"--preset", "ssc-src", "--n-bins", "70", "--layers", "8", "--threads",
                                  "2", "--chunk-size", "1", "--bias", "false"}));
  put("fuzz_cli", "gsc_ff", args({"--task", "gsc", "--model-version", "FF", "--layers", "6,6",
                                  "--scheduler=cos", "--optim", "adam", "--seed", "7"}));
  put("fuzz_cli", "rsnn_numbers",
      args({"--model-version", "RSNN", "--layers", "3", "--lr", "2.5e-3", "--lr-skip", "0",
            "--wd", "0", "--decay-para", "1", "--threshold", "0.5", "--de-tau", "0.9",
            "--epochs", "1", "--batch-size", "1", "--limit-train", "10", "--limit-test", "5",
            "--valid-split", "2", "--sg", "gau", "--results-dir", "r", "--dataset-dir", "d",
            "--cache-dir", "c", "--resume", "x", "--eval-only", "y", "--count-params"}));
  put("fuzz_cli", "table1", args({"--preset", "smnist-asrc"}));
  put("fuzz_cli", "help", args({"--help"}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds OUT_DIR\n";
    return 2;
  }
  g_out = argv[1];
  const fs::path tmp = g_out / ".tmp";
  fs::create_directories(tmp);
  idx_seeds();
  wav_seeds(tmp);
  checkpoint_seeds();
#ifdef ASRC_HAVE_HDF5
  hdf5_seeds(tmp);
#endif
  cli_seeds();
  fs::remove_all(tmp);
  // Every seed must pass its own target.
  int bad = 0;
  for (const auto& t : fs::directory_iterator(g_out)) {
    const auto entry = asrc_fuzz::entry_by_name(t.path().filename().string());
    if (!entry) continue;
    for (const auto& f : fs::directory_iterator(t.path())) {
      const std::string b = slurp(f.path().string());
      try {
        entry(reinterpret_cast<const std::uint8_t*>(b.data()), b.size());
      } catch (const std::exception& e) {
        std::cerr << "make_seeds: seed " << f.path() << " fails: " << e.what() << "\n";
        ++bad;
      }
    }
  }
  return bad ? 1 : 0;
}
