// Checkpoint files: round trip, and refusal of every kind of damaged file.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "asrc/io/checkpoint.hpp"

using namespace asrc;
namespace fs = std::filesystem;

namespace {

/// A fresh directory for one test case, removed with everything in it at the end.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() /
           ("asrc_test_checkpoint_" + tag + "_" + std::to_string(static_cast<long>(::getpid())));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  /// Names of the entries in the directory.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// A checkpoint with every record type, special values included.
Checkpoint full_checkpoint() {
  Checkpoint c;
  c.set_meta("config", "task=smnist\nmodel=asrc\nlayers=64,128,128\nlr=0.001\n");
  c.set_meta("empty", "");
  c.set_meta("utf8", "\xce\xbb = 41");
  c.set_meta_int("epoch", 17);
  c.set_meta_number("tau", std::pow(0.96, 17));
  c.set_meta("rng", "12345 67890 0 0");

  Matrix<double> w(2, 3);
  w << 1.0, -2.5, 3.25, 1e-300, -0.0, std::numeric_limits<double>::denorm_min();
  c.set_tensor("hidden0.weight", w);
  Vector<float> b(4);
  b << 0.1f, -0.2f, 1e30f, std::numeric_limits<float>::infinity();
  c.set_tensor("hidden0.bias", b, DType::float32);
  Matrix<double> nanm(1, 2);
  nanm << std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity();
  c.set_tensor("special", nanm);
  c.set_tensor("empty", Matrix<double>(0, 5));

  std::vector<int> perm = {3, 0, 2, 1};
  c.set_ints("permutation", perm);
  c.set_ints("extremes", std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), -1, 0,
                                                   std::numeric_limits<std::int64_t>::max()});
  c.set_ints("none", std::vector<std::int64_t>{});
  return c;
}

/// A small checkpoint for the exhaustive damage tests.
Checkpoint small_checkpoint() {
  Checkpoint c;
  c.set_meta("epoch", "3");
  Matrix<double> m(1, 2);
  m << 0.5, -1.0;
  c.set_tensor("w", m);
  Vector<float> f(1);
  f << 2.0f;
  c.set_tensor("f", f, DType::float32);
  c.set_ints("p", std::vector<int>{1, 0});
  return c;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void check_equal(const Checkpoint& a, const Checkpoint& b) {
  CHECK(a.meta == b.meta);
  CHECK(a.ints == b.ints);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& kv : a.tensors) {
    INFO("tensor " << kv.first);
    REQUIRE(b.has_tensor(kv.first));
    const CheckpointTensor& x = kv.second;
    const CheckpointTensor& y = b.tensors.at(kv.first);
    CHECK(x.dtype == y.dtype);
    REQUIRE(x.values.rows() == y.values.rows());
    REQUIRE(x.values.cols() == y.values.cols());
    for (Index i = 0; i < x.values.size(); ++i) CHECK(same_bits(x.values.data()[i], y.values.data()[i]));
  }
}

/// Expect parse_checkpoint to refuse the bytes with a message naming the file.
void check_refused(const std::string& bytes, const std::string& what) {
  INFO(what);
  try {
    parse_checkpoint(bytes, "damaged.ckpt");
    FAIL_CHECK("accepted a damaged checkpoint");
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.rfind("load_checkpoint(): expected ", 0) == 0);
    CHECK(msg.find("'damaged.ckpt'") != std::string::npos);
  }
}

std::string error_of(const std::string& bytes) {
  try {
    parse_checkpoint(bytes, "x.ckpt");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("CRC-32 is the standard (zlib) one") {
  CHECK(crc32("123456789", 9) == 0xCBF43926u);
  CHECK(crc32("", 0) == 0u);
  // Chained calls give the checksum of the concatenation.
  CHECK(crc32("6789", 4, crc32("12345", 5)) == 0xCBF43926u);
}

TEST_CASE("round trip of every record type through a file") {
  TempDir dir("roundtrip");
  const std::string path = dir.file("run.ckpt");
  const Checkpoint c = full_checkpoint();
  save_checkpoint(path, c);
  CHECK(dir.entries() == std::vector<std::string>{"run.ckpt"});  // no temporary left
  const Checkpoint d = load_checkpoint(path);
  check_equal(c, d);
  CHECK(d.source == path);

  // Typed access.
  CHECK(d.meta_int("epoch") == 17);
  CHECK(d.meta_number("tau") == std::pow(0.96, 17));  // %.17g reads back exactly
  CHECK(d.meta_at("config") == c.meta.at("config"));
  const Matrix<float> b = d.tensor<float>("hidden0.bias");
  CHECK(b.rows() == 4);
  CHECK(b.cols() == 1);
  CHECK(b(0, 0) == 0.1f);  // float32 round trip is exact for float values
  CHECK(std::isinf(b(3, 0)));
  const Vector<double> wv = d.tensor_vector<double>("hidden0.weight", 6);
  CHECK(wv[2] == 3.25);  // row-major order
  CHECK(wv[3] == 1e-300);
  CHECK(d.tensor<double>("hidden0.weight", 2, 3)(1, 0) == 1e-300);
  CHECK(std::isnan(d.tensor<double>("special")(0, 0)));
  CHECK(d.tensor_at("empty").values.rows() == 0);
  CHECK(d.tensor_at("empty").values.cols() == 5);
  CHECK(d.ints_at("permutation") == std::vector<std::int64_t>{3, 0, 2, 1});

  // Saving the loaded checkpoint again gives the same bytes.
  CHECK(serialize_checkpoint(d) == read_bytes(path));

  // An empty checkpoint is valid too.
  save_checkpoint(path, Checkpoint{});
  const Checkpoint e = load_checkpoint(path);
  CHECK(e.meta.empty());
  CHECK(e.tensors.empty());
  CHECK(e.ints.empty());
}

TEST_CASE("the header and the end record are laid out as documented") {
  const std::string bytes = serialize_checkpoint(Checkpoint{});
  // magic, version 1, metadata record (kind 1, length 8, count 0), end record.
  REQUIRE(bytes.size() == 8 + 4 + (4 + 8 + 8) + (4 + 8 + 4));
  CHECK(bytes.substr(0, 8) == "ASRCCKPT");
  CHECK(bytes.substr(8, 4) == std::string("\x01\x00\x00\x00", 4));
  CHECK(bytes.substr(12, 4) == std::string("\x01\x00\x00\x00", 4));
  CHECK(bytes.substr(16, 8) == std::string("\x08\0\0\0\0\0\0\0", 8));
  CHECK(bytes.substr(32, 4) == std::string("\xff\x00\x00\x00", 4));
  CHECK(bytes.substr(36, 8) == std::string("\x04\0\0\0\0\0\0\0", 8));
  const std::uint32_t crc = crc32(bytes.data(), bytes.size() - 4);
  const auto u = [&](size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])); };
  CHECK((u(44) | u(45) << 8 | u(46) << 16 | u(47) << 24) == crc);
}

TEST_CASE("a file truncated at any length is refused") {
  const std::string bytes = serialize_checkpoint(small_checkpoint());
  REQUIRE(bytes.size() > 60);
  for (size_t n = 0; n < bytes.size(); ++n)
    check_refused(bytes.substr(0, n), "truncated to " + std::to_string(n) + " bytes");

  // Through a file as well, for a few lengths.
  TempDir dir("truncated");
  const std::string path = dir.file("t.ckpt");
  for (size_t n : {size_t{0}, size_t{7}, size_t{12}, bytes.size() / 2, bytes.size() - 1}) {
    write_bytes(path, bytes.substr(0, n));
    CHECK_THROWS_AS(load_checkpoint(path), std::invalid_argument);
  }
}

TEST_CASE("every single-bit flip is refused") {
  const std::string bytes = serialize_checkpoint(small_checkpoint());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(static_cast<unsigned char>(damaged[i]) ^ (1u << bit));
      check_refused(damaged, "bit " + std::to_string(bit) + " of byte " + std::to_string(i));
    }
  }
  // A flip in a value (not in a length or a kind) is caught by the checksum.
  const std::string msg = error_of([&] {
    std::string d = bytes;
    d[d.size() - 20] ^= 0x10;  // inside the last int vector's values
    return d;
  }());
  CHECK(msg.find("checksum") != std::string::npos);
  CHECK(msg.find("corrupted") != std::string::npos);
}

TEST_CASE("trailing garbage is refused") {
  const std::string bytes = serialize_checkpoint(small_checkpoint());
  check_refused(bytes + std::string(1, '\0'), "one zero byte appended");
  check_refused(bytes + "garbage", "text appended");
  check_refused(bytes + bytes, "the file twice");
  const std::string msg = error_of(bytes + "xyz");
  CHECK(msg.find("trailing garbage") != std::string::npos);
  CHECK(msg.find("3 more bytes") != std::string::npos);
}

TEST_CASE("wrong magic, version, kind or dtype give clear messages") {
  const std::string bytes = serialize_checkpoint(small_checkpoint());
  std::string d = bytes;
  d[7] = 'X';
  CHECK(error_of(d) ==
        "load_checkpoint(): expected the magic \"ASRCCKPT\" at byte 0 of checkpoint 'x.ckpt' "
        "(not an asrc checkpoint), got \"ASRCCKPX\"");
  CHECK(error_of("PK\x03\x04") ==
        "load_checkpoint(): expected the magic \"ASRCCKPT\" at byte 0 of checkpoint 'x.ckpt' "
        "(not an asrc checkpoint), got \"PK\\x03\\x04\"");

  d = bytes;
  d[8] = 2;
  CHECK(error_of(d) ==
        "load_checkpoint(): expected format version 1 at byte 8 of checkpoint 'x.ckpt' (the only "
        "version this build reads), got 2");

  d = bytes;
  d[12] = 9;  // kind of the first record
  CHECK(error_of(d) ==
        "load_checkpoint(): expected a record kind 1, 2, 3 or 255 at byte 12 of checkpoint "
        "'x.ckpt', got 9");

  // A record length beyond the end of the file.
  d = bytes;
  d[16 + 7] = 0x40;
  CHECK(error_of(d).find("a record payload length of at most") != std::string::npos);

  // Truncated at a record boundary: the end record is missing.
  const std::string head = serialize_checkpoint(Checkpoint{});
  CHECK(error_of(head.substr(0, 32)).find("truncated file?") != std::string::npos);

  // Empty file.
  CHECK(error_of("") ==
        "load_checkpoint(): expected the magic and the u32 format version (truncated file?) "
        "(12 bytes) at byte 0 of checkpoint 'x.ckpt', got only 0 bytes left in the file");
}

TEST_CASE("content errors behind a valid checksum are refused") {
  // Build files by hand with a correct checksum, so only the content is wrong.
  const auto finish = [](std::string body) {
    detail::put_u32(body, 255);
    detail::put_u64(body, 4);
    detail::put_u32(body, crc32(body.data(), body.size()));
    return body;
  };
  const auto header = [] {
    std::string h("ASRCCKPT", 8);
    detail::put_u32(h, 1);
    return h;
  };
  {  // unknown dtype
    std::string p;
    detail::put_str(p, "t");
    detail::put_u8(p, 3);
    detail::put_u64(p, 1);
    detail::put_u64(p, 1);
    detail::put_u64(p, 0);
    std::string f = header();
    detail::put_record(f, 2, p);
    CHECK(error_of(finish(f)).find("dtype 1 (float32) or 2 (float64) for tensor 't'") !=
          std::string::npos);
  }
  {  // tensor larger than its record: checked before allocating
    std::string p;
    detail::put_str(p, "t");
    detail::put_u8(p, 2);
    detail::put_u64(p, 1u << 30);
    detail::put_u64(p, 1u << 30);
    std::string f = header();
    detail::put_record(f, 2, p);
    CHECK(error_of(finish(f)).find("within its record") != std::string::npos);
  }
  {  // huge metadata count
    std::string p;
    detail::put_u64(p, ~std::uint64_t{0});
    std::string f = header();
    detail::put_record(f, 1, p);
    CHECK(error_of(finish(f)).find("a metadata entry count of at most 0") != std::string::npos);
  }
  {  // duplicate tensor names across records
    Checkpoint c;
    c.set_tensor("a", Matrix<double>::Zero(1, 1));
    const std::string one = serialize_checkpoint(c);
    // Header + meta record (12 + 20), then the tensor record, then the end record (16).
    const std::string tensor_rec = one.substr(32, one.size() - 32 - 16);
    CHECK(error_of(finish(one.substr(0, one.size() - 16) + tensor_rec)).find("unique tensor names") !=
          std::string::npos);
  }
  {  // a record with unused bytes
    std::string p;
    detail::put_u64(p, 0);
    p += "zz";
    std::string f = header();
    detail::put_record(f, 1, p);
    CHECK(error_of(finish(f)).find("2 bytes unused") != std::string::npos);
  }
  {  // an empty key
    std::string p;
    detail::put_u64(p, 1);
    detail::put_str(p, "");
    detail::put_str(p, "v");
    std::string f = header();
    detail::put_record(f, 1, p);
    CHECK(error_of(finish(f)).find("non-empty metadata key") != std::string::npos);
  }
}

TEST_CASE("an existing checkpoint survives a failed save, and no temporary is left") {
  TempDir dir("atomic");
  const std::string path = dir.file("run.ckpt");
  const Checkpoint good = full_checkpoint();
  save_checkpoint(path, good);
  const std::string good_bytes = read_bytes(path);

  Checkpoint other = small_checkpoint();
  for (const std::string stage : {"partial", "synced"}) {
    INFO("failing at stage " << stage);
    std::string seen_tmp;
    detail::checkpoint_save_hook() = [&](const std::string& s, const std::string& tmp) {
      if (s == stage) {
        seen_tmp = tmp;
        CHECK(fs::exists(tmp));  // the temporary exists while being written
        throw std::runtime_error("simulated disk failure");
      }
    };
    CHECK_THROWS_WITH_AS(save_checkpoint(path, other), "simulated disk failure", std::runtime_error);
    detail::checkpoint_save_hook() = nullptr;
    CHECK(seen_tmp == path + ".tmp." + std::to_string(static_cast<long>(::getpid())));
    CHECK(read_bytes(path) == good_bytes);
    CHECK(dir.entries() == std::vector<std::string>{"run.ckpt"});
    check_equal(load_checkpoint(path), good);
  }

  // Invalid content: refused before any file is touched.
  Checkpoint bad;
  bad.set_tensor("", Matrix<double>::Zero(1, 1));
  CHECK_THROWS_AS(save_checkpoint(path, bad), std::invalid_argument);
  Checkpoint too_big;
  Vector<double> big(1);
  big << 1e300;
  too_big.set_tensor("x", big, DType::float32);
  CHECK_THROWS_AS(save_checkpoint(path, too_big), std::invalid_argument);
  CHECK(read_bytes(path) == good_bytes);
  CHECK(dir.entries() == std::vector<std::string>{"run.ckpt"});

  // A directory that does not exist: the OS refuses, nothing is created.
  const std::string nowhere = dir.file("missing/sub/run.ckpt");
  try {
    save_checkpoint(nowhere, good);
    FAIL_CHECK("saved into a missing directory");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("missing/sub/run.ckpt.tmp.") != std::string::npos);
  }
  CHECK(dir.entries() == std::vector<std::string>{"run.ckpt"});

  // A successful save replaces the file and leaves no temporary.
  save_checkpoint(path, other);
  check_equal(load_checkpoint(path), other);
  CHECK(dir.entries() == std::vector<std::string>{"run.ckpt"});
}

TEST_CASE("missing files and missing entries are reported by name") {
  TempDir dir("missing");
  const std::string path = dir.file("nothing.ckpt");
  CHECK_THROWS_WITH_AS(load_checkpoint(path),
                       ("load_checkpoint(): expected a readable checkpoint file '" + path +
                        "', got No such file or directory")
                           .c_str(),
                       std::invalid_argument);
  save_checkpoint(path, small_checkpoint());
  const Checkpoint c = load_checkpoint(path);
  CHECK_THROWS_WITH_AS(c.meta_at("tau"),
                       ("Checkpoint::meta_at(): expected metadata key 'tau' in checkpoint '" +
                        path + "', got none")
                           .c_str(),
                       std::invalid_argument);
  CHECK_THROWS_AS(c.tensor_at("nope"), std::invalid_argument);
  CHECK_THROWS_AS(c.ints_at("nope"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(c.tensor<double>("w", 2, 1),
                       ("Checkpoint::tensor(): expected tensor 'w' of shape 2x1 in checkpoint '" +
                        path + "', got 1x2")
                           .c_str(),
                       std::invalid_argument);
  CHECK_THROWS_AS(c.tensor_vector<double>("w", 3), std::invalid_argument);
  Checkpoint m;
  m.set_meta("epoch", "12abc");
  CHECK_THROWS_AS(m.meta_int("epoch"), std::invalid_argument);
  CHECK_THROWS_AS(m.meta_number("epoch"), std::invalid_argument);
}
