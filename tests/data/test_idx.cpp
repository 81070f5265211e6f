// Tests of the IDX reader and the S-MNIST / PS-MNIST dataset, on small files
// written here, plus an optional check of the real MNIST files.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "asrc/data/idx.hpp"
#include "asrc/data/mnist.hpp"
#include "asrc/parallel/communicator.hpp"

#ifdef ASRC_HAVE_ZLIB
#include <zlib.h>
#endif

// ---------------------------------------------------------------------------
// Allocation probe: this test program replaces the global operator new so a
// test can see the largest single request made while a reader runs, and so
// prove that an absurd header is refused before its buffer is allocated.
namespace {
std::atomic<bool> g_probe_on{false};
std::atomic<std::size_t> g_probe_max{0};
}  // namespace

// The replacements stay out of line: inlined, GCC would see malloc() paired
// with operator delete and warn about a mismatch that is not one.
#if defined(__GNUC__)
#define ASRC_TEST_NOINLINE __attribute__((noinline))
#else
#define ASRC_TEST_NOINLINE
#endif
ASRC_TEST_NOINLINE void* operator new(std::size_t n) {
  if (g_probe_on.load(std::memory_order_relaxed)) {
    std::size_t cur = g_probe_max.load(std::memory_order_relaxed);
    while (n > cur && !g_probe_max.compare_exchange_weak(cur, n)) {
    }
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
ASRC_TEST_NOINLINE void operator delete(void* p) noexcept { std::free(p); }
ASRC_TEST_NOINLINE void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using asrc::Index;
using asrc::IdxArray;
using asrc::MnistDataset;
using asrc::MnistSplit;
using Bytes = std::vector<std::uint8_t>;
namespace fs = std::filesystem;

/// Largest single allocation made by f.
std::size_t largest_allocation(const std::function<void()>& f) {
  g_probe_max = 0;
  g_probe_on = true;
  try {
    f();
  } catch (...) {
    g_probe_on = false;
    throw;
  }
  g_probe_on = false;
  return g_probe_max.load();
}

/// A fresh directory under the system temp dir, removed with its content.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path() /
           ("asrc_test_idx_" + std::to_string(rd()) + "_" + std::to_string(stamp));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void put_u32(Bytes& b, std::uint32_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 24));
  b.push_back(static_cast<std::uint8_t>(v >> 16));
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

/// The bytes of an IDX file: header with `type` and `dims`, then `data`.
Bytes idx_bytes(const std::vector<std::uint32_t>& dims, const Bytes& data, std::uint8_t type = 0x08) {
  Bytes b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) put_u32(b, d);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_plain(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  REQUIRE(f.good());
}

#ifdef ASRC_HAVE_ZLIB
void write_gzip(const std::string& path, const Bytes& b) {
  gzFile g = gzopen(path.c_str(), "wb");
  REQUIRE(g != nullptr);
  if (!b.empty()) REQUIRE(gzwrite(g, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
  REQUIRE(gzclose(g) == Z_OK);
}
#endif

/// Message of the std::invalid_argument thrown by f ("" when none is thrown).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// f must throw std::invalid_argument naming `path` and mentioning `what`.
void check_refused(const std::function<void()>& f, const std::string& path, const std::string& what) {
  const std::string msg = error_of(f);
  INFO("message: " << msg);
  CHECK_FALSE(msg.empty());
  CHECK(contains(msg, path));
  CHECK(contains(msg, what));
  CHECK(contains(msg, "(): expected "));
}

/// Two 28 x 28 images with distinct, position-dependent pixel values.
Bytes two_images() {
  Bytes px(2 * 784);
  for (int n = 0; n < 2; ++n)
    for (int p = 0; p < 784; ++p)
      px[static_cast<std::size_t>(n * 784 + p)] = static_cast<std::uint8_t>((p * 7 + n * 101) % 256);
  return px;
}

}  // namespace

// ---------------------------------------------------------------------------
TEST_CASE("read_idx reads a plain unsigned-byte file") {
  TempDir dir;
  const Bytes data = {1, 2, 3, 4, 5, 6, 250, 251, 252, 253, 254, 255};
  write_plain(dir.file("a.idx"), idx_bytes({2, 3, 2}, data));
  const IdxArray a = asrc::read_idx(dir.file("a.idx"), 3);
  CHECK(a.dims == std::vector<std::uint32_t>{2, 3, 2});
  CHECK(a.count() == 12);
  CHECK(a.data == data);

  write_plain(dir.file("l.idx"), idx_bytes({4}, {9, 0, 3, 7}));
  const IdxArray l = asrc::read_idx(dir.file("l.idx"), 1);
  CHECK(l.dims == std::vector<std::uint32_t>{4});
  CHECK(l.data == Bytes{9, 0, 3, 7});

  // Sizes needing all four bytes of the big-endian field.
  Bytes big(0x010203);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31);
  write_plain(dir.file("big.idx"), idx_bytes({0x010203}, big));
  const IdxArray b = asrc::read_idx(dir.file("big.idx"), 1);
  CHECK(b.dims[0] == 0x010203u);
  CHECK(b.data == big);

  // A zero size is a valid, empty array.
  write_plain(dir.file("empty.idx"), idx_bytes({0, 28, 28}, {}));
  const IdxArray e = asrc::read_idx(dir.file("empty.idx"), 3);
  CHECK(e.count() == 0);
  CHECK(e.data.empty());
}

// zlib is optional (.gz MNIST files). Its main case sits in the suite "optional-zlib", so
// that a build without zlib shows in ctest as Skipped rather than passing silently;
// without it, gzip data must still be refused with a clear message.
TEST_SUITE("optional-zlib") {
#ifdef ASRC_HAVE_ZLIB
TEST_CASE("read_idx reads a gzip file, recognised by content") {
  TempDir dir;
  const Bytes data = {10, 20, 30, 40, 50, 60};
  write_gzip(dir.file("a.idx.gz"), idx_bytes({3, 2}, data));
  const IdxArray a = asrc::read_idx(dir.file("a.idx.gz"), 2);
  CHECK(a.dims == std::vector<std::uint32_t>{3, 2});
  CHECK(a.data == data);
  CHECK(asrc::idx_is_gzip(dir.file("a.idx.gz")));

  // The name does not matter: a gzip file without ".gz" is still decompressed.
  write_gzip(dir.file("noext"), idx_bytes({3, 2}, data));
  CHECK(asrc::read_idx(dir.file("noext"), 2).data == data);

  // Several MiB, more than one read chunk and buffer growth step.
  Bytes big(3 * 1024 * 1024 + 17);
  std::mt19937 gen(5);
  for (auto& v : big) v = static_cast<std::uint8_t>(gen());
  write_gzip(dir.file("big.gz"), idx_bytes({static_cast<std::uint32_t>(big.size())}, big));
  const IdxArray b = asrc::read_idx(dir.file("big.gz"), 1);
  CHECK(b.data.size() == big.size());
  CHECK(b.data == big);
}
#else
TEST_CASE("read_idx reads a gzip file, recognised by content") {
  std::printf("asrc-skip: reading .gz files needs zlib, and this build has none (install zlib1g-dev)\n");
}
#endif
}  // TEST_SUITE("optional-zlib")

#ifndef ASRC_HAVE_ZLIB
TEST_CASE("read_idx without zlib refuses gzip data clearly") {
  TempDir dir;
  write_plain(dir.file("x.gz"), {0x1f, 0x8b, 8, 0, 0, 0, 0, 0});
  check_refused([&] { asrc::read_idx(dir.file("x.gz"), 1); }, dir.file("x.gz"), "zlib");
}
#endif

TEST_CASE("read_idx refuses bad files with a message naming the file") {
  TempDir dir;
  const Bytes four = {1, 2, 3, 4};

  SUBCASE("missing file") {
    const std::string p = dir.file("does-not-exist-idx1-ubyte");
    check_refused([&] { asrc::read_idx(p, 1); }, p, "No such file");
  }
  SUBCASE("wrong magic") {
    Bytes b = idx_bytes({4}, four);
    b[0] = 0x12;
    write_plain(dir.file("m.idx"), b);
    check_refused([&] { asrc::read_idx(dir.file("m.idx"), 1); }, dir.file("m.idx"), "magic");
    write_plain(dir.file("text.idx"), Bytes{'h', 'e', 'l', 'l', 'o', '\n'});
    check_refused([&] { asrc::read_idx(dir.file("text.idx"), 1); }, dir.file("text.idx"), "magic");
  }
  SUBCASE("wrong type code") {
    write_plain(dir.file("f.idx"), idx_bytes({1}, four, 0x0D));
    check_refused([&] { asrc::read_idx(dir.file("f.idx"), 1); }, dir.file("f.idx"), "float32");
    write_plain(dir.file("s.idx"), idx_bytes({4}, four, 0x09));
    check_refused([&] { asrc::read_idx(dir.file("s.idx"), 1); }, dir.file("s.idx"), "'type'");
  }
  SUBCASE("wrong number of dimensions") {
    write_plain(dir.file("r.idx"), idx_bytes({2, 2}, four));
    const std::string msg = error_of([&] { asrc::read_idx(dir.file("r.idx"), 3); });
    CHECK(contains(msg, dir.file("r.idx")));
    CHECK(contains(msg, "'dimensions' to be 3"));
    CHECK(contains(msg, "got 2"));
  }
  SUBCASE("truncated header") {
    write_plain(dir.file("h2.idx"), Bytes{0, 0});
    check_refused([&] { asrc::read_idx(dir.file("h2.idx"), 1); }, dir.file("h2.idx"), "truncated header");
    write_plain(dir.file("h6.idx"), Bytes{0, 0, 8, 3, 0, 0});
    check_refused([&] { asrc::read_idx(dir.file("h6.idx"), 3); }, dir.file("h6.idx"), "truncated header");
    write_plain(dir.file("h0.idx"), Bytes{});
    check_refused([&] { asrc::read_idx(dir.file("h0.idx"), 1); }, dir.file("h0.idx"), "truncated header");
  }
  SUBCASE("truncated data") {
    write_plain(dir.file("t.idx"), idx_bytes({5}, four));
    check_refused([&] { asrc::read_idx(dir.file("t.idx"), 1); }, dir.file("t.idx"), "truncated data");
  }
  SUBCASE("trailing bytes") {
    write_plain(dir.file("g.idx"), idx_bytes({3}, four));
    check_refused([&] { asrc::read_idx(dir.file("g.idx"), 1); }, dir.file("g.idx"), "trailing");
  }
  SUBCASE("huge claimed size is refused without allocating it") {
    // The probe sees a real buffer: reading 2 MiB allocates at least that much.
    write_plain(dir.file("real.idx"), idx_bytes({2u << 20}, Bytes(2u << 20, 7)));
    CHECK(largest_allocation([&] { asrc::read_idx(dir.file("real.idx"), 1); }) >= (2u << 20));

    // The product of these sizes overflows 64 bits.
    write_plain(dir.file("huge.idx"), idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, four));
    std::size_t peak = 0;
    const std::string msg = error_of([&] {
      peak = largest_allocation([&] { asrc::read_idx(dir.file("huge.idx"), 3); });
    });
    CHECK(contains(msg, dir.file("huge.idx")));
    CHECK(contains(msg, "too large"));
    CHECK(peak < (1u << 20));

    // Under the 2^31 limit but far larger than the file: refused before allocation.
    write_plain(dir.file("short.idx"), idx_bytes({60000, 28, 28}, four));
    const std::string msg2 = error_of([&] {
      peak = largest_allocation([&] { asrc::read_idx(dir.file("short.idx"), 3); });
    });
    CHECK(contains(msg2, dir.file("short.idx")));
    CHECK(contains(msg2, "truncated data"));
    CHECK(peak < (1u << 20));

    // 2^31 + 1 bytes exceeds the default limit; a caller may lower the limit.
    write_plain(dir.file("cap.idx"), idx_bytes({2, 0x40000000u + 1}, four));
    check_refused([&] { asrc::read_idx(dir.file("cap.idx"), 2); }, dir.file("cap.idx"), "too large");
    write_plain(dir.file("ok.idx"), idx_bytes({4}, four));
    asrc::IdxLimits small;
    small.max_plain_bytes = 3;
    check_refused([&] { asrc::read_idx(dir.file("ok.idx"), 1, small); }, dir.file("ok.idx"), "at most 3 bytes");
  }
#ifdef ASRC_HAVE_ZLIB
  SUBCASE("gzip: wrong magic, truncated, trailing, corrupt, huge") {
    Bytes bad = idx_bytes({4}, four);
    bad[1] = 1;
    write_gzip(dir.file("m.gz"), bad);
    check_refused([&] { asrc::read_idx(dir.file("m.gz"), 1); }, dir.file("m.gz"), "magic");

    write_gzip(dir.file("t.gz"), idx_bytes({9}, four));
    check_refused([&] { asrc::read_idx(dir.file("t.gz"), 1); }, dir.file("t.gz"), "truncated data");

    write_gzip(dir.file("g.gz"), idx_bytes({2}, four));
    check_refused([&] { asrc::read_idx(dir.file("g.gz"), 1); }, dir.file("g.gz"), "trailing");

    // Over the 1 GiB cap for gzip: refused from the header alone.
    write_gzip(dir.file("cap.gz"), idx_bytes({1024, 1024, 1025}, four));
    check_refused([&] { asrc::read_idx(dir.file("cap.gz"), 3); }, dir.file("cap.gz"), "too large");

    // Under the cap (900 MB) but only 4 bytes inside: the buffer grows with the
    // data actually decompressed, so nothing near 900 MB is allocated.
    write_gzip(dir.file("lie.gz"), idx_bytes({900, 1000, 1000}, four));
    std::size_t peak = 0;
    const std::string msg = error_of([&] {
      peak = largest_allocation([&] { asrc::read_idx(dir.file("lie.gz"), 3); });
    });
    CHECK(contains(msg, dir.file("lie.gz")));
    CHECK(contains(msg, "truncated data"));
    CHECK(peak < (8u << 20));

    // A compressed stream cut short: a decompression error or truncation.
    Bytes payload(5000);
    std::mt19937 gen(3);
    for (auto& v : payload) v = static_cast<std::uint8_t>(gen());
    write_gzip(dir.file("full.gz"), idx_bytes({5000}, payload));
    std::ifstream in(dir.file("full.gz"), std::ios::binary);
    Bytes z((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    z.resize(z.size() / 2);
    write_plain(dir.file("cut.gz"), z);
    const std::string cut = error_of([&] { asrc::read_idx(dir.file("cut.gz"), 1); });
    INFO(cut);
    CHECK(contains(cut, dir.file("cut.gz")));

    // A damaged CRC is reported by zlib.
    Bytes c = idx_bytes({4}, four);
    write_gzip(dir.file("crc.gz"), c);
    std::ifstream in2(dir.file("crc.gz"), std::ios::binary);
    Bytes z2((std::istreambuf_iterator<char>(in2)), std::istreambuf_iterator<char>());
    z2[z2.size() - 8] ^= 0xFF;
    write_plain(dir.file("crc.gz"), z2);
    check_refused([&] { asrc::read_idx(dir.file("crc.gz"), 1); }, dir.file("crc.gz"), "gzip");
  }
#endif
}

// ---------------------------------------------------------------------------
TEST_CASE("make_permutation is a seeded permutation of 0..783") {
  const std::vector<int> a = asrc::make_permutation(7);
  REQUIRE(a.size() == 784);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 784; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  CHECK_NOTHROW(MnistDataset::check_permutation(a, "test"));

  CHECK(asrc::make_permutation(7) == a);
  CHECK(asrc::make_permutation(8) != a);
  CHECK(asrc::make_permutation(0) != asrc::make_permutation(1));
  std::vector<int> identity(784);
  for (int i = 0; i < 784; ++i) identity[static_cast<std::size_t>(i)] = i;
  CHECK(a != identity);
  int fixed = 0;
  for (int i = 0; i < 784; ++i) fixed += a[static_cast<std::size_t>(i)] == i;
  CHECK(fixed < 20);  // a shuffle leaves about one fixed point on average

  // Other lengths work too; they are just not MNIST permutations.
  CHECK(asrc::make_permutation(3, 5).size() == 5);
  CHECK(asrc::make_permutation(3, 0).empty());
}

TEST_CASE("MnistDataset: S-MNIST gives pixel/255 in row-major order") {
  TempDir dir;
  const Bytes px = two_images();
  write_plain(dir.file("train-images-idx3-ubyte"), idx_bytes({2, 28, 28}, px));
  write_plain(dir.file("train-labels-idx1-ubyte"), idx_bytes({2}, {3, 9}));

  MnistDataset ds(dir.path.string(), MnistSplit::train);
  CHECK(ds.size() == 2);
  CHECK(ds.steps() == 784);
  CHECK(ds.width() == 1);
  CHECK(ds.num_classes() == 10);
  CHECK(ds.label(0) == 3);
  CHECK(ds.label(1) == 9);
  CHECK_FALSE(ds.permuted());
  CHECK(ds.describe() == "S-MNIST train (2 samples)");

  std::vector<float> out(784, -1.0f);
  for (Index n = 0; n < 2; ++n) {
    ds.fill(n, out.data());
    for (int t = 0; t < 784; ++t) {
      const auto v = px[static_cast<std::size_t>(n * 784 + t)];
      REQUIRE(out[static_cast<std::size_t>(t)] == static_cast<float>(v) / 255.0f);
    }
  }
  // Row-major: step 28 is row 1, column 0 of the image.
  ds.fill(0, out.data());
  CHECK(out[28] == static_cast<float>((28 * 7) % 256) / 255.0f);
  CHECK(ds.pixels(1)[5] == px[784 + 5]);

  // Batching through the common helper keeps the time-major layout.
  asrc::Matrix<float> x;
  std::vector<int> labels;
  asrc::make_batch(ds, {1, 0}, x, labels);
  CHECK(x.rows() == 784 * 2);
  CHECK(labels == std::vector<int>{9, 3});
  CHECK(x(10 * 2 + 0, 0) == static_cast<float>(px[784 + 10]) / 255.0f);
  CHECK(x(10 * 2 + 1, 0) == static_cast<float>(px[10]) / 255.0f);

  CHECK_THROWS_AS(ds.label(2), std::invalid_argument);
  CHECK_THROWS_AS(ds.fill(-1, out.data()), std::invalid_argument);
}

TEST_CASE("MnistDataset: PS-MNIST takes pixel perm[t] at step t") {
  TempDir dir;
  const Bytes px = two_images();
  write_plain(dir.file("t10k-images-idx3-ubyte"), idx_bytes({2, 28, 28}, px));
  write_plain(dir.file("t10k-labels-idx1-ubyte"), idx_bytes({2}, {0, 1}));

  const std::vector<int> perm = asrc::make_permutation(42);
  MnistDataset ds(dir.path.string(), MnistSplit::test, perm);
  CHECK(ds.permuted());
  CHECK(ds.permutation() == perm);
  CHECK(ds.describe() == "PS-MNIST test (2 samples)");
  std::vector<float> out(784);
  for (Index n = 0; n < 2; ++n) {
    ds.fill(n, out.data());
    for (int t = 0; t < 784; ++t) {
      const auto v = px[static_cast<std::size_t>(n * 784 + perm[static_cast<std::size_t>(t)])];
      REQUIRE(out[static_cast<std::size_t>(t)] == static_cast<float>(v) / 255.0f);
    }
  }

  // A reversed permutation set afterwards; then back to S-MNIST.
  std::vector<int> rev(784);
  for (int t = 0; t < 784; ++t) rev[static_cast<std::size_t>(t)] = 783 - t;
  ds.set_permutation(rev);
  ds.fill(1, out.data());
  CHECK(out[0] == static_cast<float>(px[784 + 783]) / 255.0f);
  CHECK(out[783] == static_cast<float>(px[784]) / 255.0f);
  ds.clear_permutation();
  CHECK(ds.describe() == "S-MNIST test (2 samples)");
  ds.fill(1, out.data());
  CHECK(out[0] == static_cast<float>(px[784]) / 255.0f);

  // Invalid permutations are refused.
  std::vector<int> dup = perm;
  dup[5] = dup[6];
  CHECK_THROWS_AS(ds.set_permutation(dup), std::invalid_argument);
  std::vector<int> shortp(perm.begin(), perm.end() - 1);
  CHECK_THROWS_AS(ds.set_permutation(shortp), std::invalid_argument);
  std::vector<int> range = perm;
  range[0] = 784;
  CHECK_THROWS_AS(ds.set_permutation(range), std::invalid_argument);
  CHECK_THROWS_AS(ds.set_permutation({}), std::invalid_argument);
  const std::string msg = error_of([&] { ds.set_permutation(dup); });
  CHECK(contains(msg, "MnistDataset::set_permutation(): expected a permutation of 0..783"));
  CHECK_THROWS_AS(MnistDataset(dir.path.string(), MnistSplit::test, dup), std::invalid_argument);
}

TEST_CASE("MnistDataset: .gz names, limit, explicit paths") {
  TempDir dir;
  const Bytes px = two_images();
  Bytes three = px;
  three.insert(three.end(), px.begin(), px.begin() + 784);
#ifdef ASRC_HAVE_ZLIB
  write_gzip(dir.file("train-images-idx3-ubyte.gz"), idx_bytes({3, 28, 28}, three));
#else
  write_plain(dir.file("train-images-idx3-ubyte"), idx_bytes({3, 28, 28}, three));
#endif
  write_plain(dir.file("train-labels-idx1-ubyte"), idx_bytes({3}, {4, 5, 6}));

  MnistDataset all(dir.path.string(), MnistSplit::train);
  CHECK(all.size() == 3);
  CHECK(all.label(2) == 6);
  CHECK(all.pixels(2)[100] == px[100]);

  MnistDataset two(dir.path.string() + "/", MnistSplit::train, 2);
  CHECK(two.size() == 2);
  CHECK(two.describe() == "S-MNIST train (2 samples)");
  CHECK(two.label(1) == 5);

  MnistDataset more(dir.path.string(), MnistSplit::train, 100);  // a limit above N keeps all
  CHECK(more.size() == 3);
  CHECK_THROWS_AS(MnistDataset(dir.path.string(), MnistSplit::train, -1), std::invalid_argument);

  const std::string img = MnistDataset::find_file(dir.path.string(), "train-images-idx3-ubyte");
  MnistDataset named(img, dir.file("train-labels-idx1-ubyte"), "mine", 1);
  CHECK(named.describe() == "S-MNIST mine (1 samples)");
}

TEST_CASE("MnistDataset refuses bad files with a message naming the file") {
  TempDir dir;
  const Bytes px = two_images();
  const std::string d = dir.path.string();
  const std::string images = dir.file("train-images-idx3-ubyte");
  const std::string labels = dir.file("train-labels-idx1-ubyte");

  SUBCASE("missing files") {
    check_refused([&] { MnistDataset ds(d, MnistSplit::train); }, images, "missing file");
    write_plain(images, idx_bytes({2, 28, 28}, px));
    check_refused([&] { MnistDataset ds(d, MnistSplit::train); }, labels, "missing file");
    check_refused([&] { MnistDataset ds(d, MnistSplit::test); }, dir.file("t10k-images-idx3-ubyte"),
                  ".gz");
  }
  SUBCASE("label out of range") {
    write_plain(images, idx_bytes({2, 28, 28}, px));
    write_plain(labels, idx_bytes({2}, {1, 10}));
    const std::string msg = error_of([&] { MnistDataset ds(d, MnistSplit::train); });
    CHECK(contains(msg, labels));
    CHECK(contains(msg, "label[1]"));
    CHECK(contains(msg, "got 10"));
  }
  SUBCASE("count mismatch between images and labels") {
    write_plain(images, idx_bytes({2, 28, 28}, px));
    write_plain(labels, idx_bytes({3}, {1, 2, 3}));
    const std::string msg = error_of([&] { MnistDataset ds(d, MnistSplit::train); });
    CHECK(contains(msg, labels));
    CHECK(contains(msg, images));
    CHECK(contains(msg, "count mismatch"));
  }
  SUBCASE("images that are not 28 x 28") {
    write_plain(images, idx_bytes({2, 27, 29}, Bytes(2 * 27 * 29, 0)));
    write_plain(labels, idx_bytes({2}, {1, 2}));
    check_refused([&] { MnistDataset ds(d, MnistSplit::train); }, images, "28 x 28");
  }
  SUBCASE("wrong rank: labels given as images") {
    write_plain(images, idx_bytes({2}, {1, 2}));
    write_plain(labels, idx_bytes({2}, {1, 2}));
    check_refused([&] { MnistDataset ds(d, MnistSplit::train); }, images, "'dimensions' to be 3");
  }
  SUBCASE("no images") {
    write_plain(images, idx_bytes({0, 28, 28}, {}));
    write_plain(labels, idx_bytes({0}, {}));
    check_refused([&] { MnistDataset ds(d, MnistSplit::train); }, images, "at least one image");
  }
}

// ---------------------------------------------------------------------------
// The MNIST files are not part of the repository (scripts/get_mnist.sh fetches them):
// without them this case reports a skip, which ctest shows as "Skipped".
TEST_SUITE("optional-mnist") {
TEST_CASE("real MNIST files (optional data)") {
  std::string dir = std::string(ASRC_SOURCE_DIR) + "/data/mnist";
  if (const char* env = std::getenv("ASRC_MNIST_DIR"); env && *env) dir = env;
  bool present = true;
  for (MnistSplit s : {MnistSplit::train, MnistSplit::test})
    for (const std::string& base : {MnistDataset::images_name(s), MnistDataset::labels_name(s)})
#ifdef ASRC_HAVE_ZLIB
      present = present && (fs::exists(dir + "/" + base) || fs::exists(dir + "/" + base + ".gz"));
#else
      present = present && fs::exists(dir + "/" + base);  // .gz needs zlib
#endif
  if (!present) {
    std::printf("asrc-skip: MNIST files not found in '%s' (run scripts/get_mnist.sh data/mnist or set "
                "ASRC_MNIST_DIR)\n", dir.c_str());
    return;
  }

  const MnistDataset train(dir, MnistSplit::train);
  const MnistDataset test(dir, MnistSplit::test, asrc::make_permutation(1));
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.describe() == "S-MNIST train (60000 samples)");
  CHECK(test.describe() == "PS-MNIST test (10000 samples)");
  // The first label of each split in the original distribution.
  CHECK(train.label(0) == 5);
  CHECK(test.label(0) == 7);

  auto histogram = [](const MnistDataset& ds) {
    std::vector<Index> h(10, 0);
    for (Index i = 0; i < ds.size(); ++i) ++h[static_cast<std::size_t>(ds.label(i))];
    return h;
  };
  const auto ht = histogram(train);
  const auto hv = histogram(test);
  for (int c = 0; c < 10; ++c) {
    INFO("class " << c);
    CHECK(ht[static_cast<std::size_t>(c)] > 5000);  // 5421 .. 6742 in MNIST
    CHECK(ht[static_cast<std::size_t>(c)] < 7000);
    CHECK(hv[static_cast<std::size_t>(c)] > 850);  // 892 .. 1135
    CHECK(hv[static_cast<std::size_t>(c)] < 1200);
  }
  CHECK(ht[1] == 6742);
  CHECK(hv[1] == 1135);

  // Mean intensity of the training set is about 0.1307 of full scale.
  double sum = 0.0;
  std::vector<float> out(784);
  for (Index i = 0; i < train.size(); i += 10) {
    train.fill(i, out.data());
    for (float v : out) sum += v;
  }
  const double mean = sum / (6000.0 * 784.0);
  CHECK(mean > 0.12);
  CHECK(mean < 0.14);
  // The border pixel of an MNIST digit is blank.
  CHECK(train.pixels(0)[0] == 0);
}
}  // TEST_SUITE("optional-mnist")

// ---------------------------------------------------------------------------
// Every truncation and every single-bit flip. IDX has no checksum, so a flip in the
// element data is a different valid file: it must load with that one byte changed.
// Every flip in the header (magic, type, rank, sizes) must be refused, naming the file.
// A gzip file carries a CRC-32 and the length: every flip must be refused, or read the
// same content: flips in the header fields no decoder checks (FTEXT flag bit, MTIME,
// XFL, OS: RFC 1952) and in the padding bits of the last deflate byte.
TEST_CASE("read_idx: every truncation and every bit flip, plain and gzip") {
  TempDir dir;
  Bytes data(2 * 3 * 4);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 37 + 11);
  const Bytes good = idx_bytes({2, 3, 4}, data);
  const std::size_t header = 4 + 3 * 4;
  const std::string path = dir.file("f.idx");
  int refused = 0, accepted = 0;
  // Every proper prefix of `bytes`, written to `file`, is refused naming the file.
  auto check_every_truncation = [](const std::string& file, const Bytes& bytes) {
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      write_plain(file, Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)));
      const std::string msg = error_of([&] { asrc::read_idx(file, 3); });
      INFO(file << " truncated to " << n << " bytes: " << msg);
      CHECK(contains(msg, file));
    }
  };
  check_every_truncation(path, good);
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes b = good;
      b[i] ^= static_cast<std::uint8_t>(1u << bit);
      write_plain(path, b);
      IdxArray a;
      const std::string msg = error_of([&] { a = asrc::read_idx(path, 3); });
      INFO("byte " << i << " bit " << bit << ": " << msg);
      if (i < header) {
        CHECK(contains(msg, path));
        ++refused;
      } else {
        REQUIRE(msg.empty());
        CHECK(a.dims == std::vector<std::uint32_t>{2, 3, 4});
        Bytes expect = data;
        expect[i - header] ^= static_cast<std::uint8_t>(1u << bit);
        CHECK(a.data == expect);
        ++accepted;
      }
    }
  }
  CHECK(refused == int(header) * 8);
  CHECK(accepted == int(data.size()) * 8);

#ifdef ASRC_HAVE_ZLIB
  const std::string gz_path = dir.file("f.idx.gz");
  write_gzip(gz_path, good);
  Bytes gz;
  {
    std::ifstream f(gz_path, std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  REQUIRE(gz.size() > 18);
  check_every_truncation(gz_path, gz);
  int gz_refused = 0, gz_unchecked = 0;
  for (std::size_t i = 0; i < gz.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes b = gz;
      b[i] ^= static_cast<std::uint8_t>(1u << bit);
      write_plain(gz_path, b);
      IdxArray a;
      const std::string msg = error_of([&] { a = asrc::read_idx(gz_path, 3); });
      INFO("gzip byte " << i << " bit " << bit << ": " << msg);
      // Accepted flips must leave the content as it was: header fields no decoder
      // checks, and the padding bits after the last deflate block.
      const bool header_field = (i == 3 && bit == 0) || (i >= 4 && i <= 9);
      if (msg.empty()) {
        CHECK(a.data == data);
        CHECK((header_field || i == gz.size() - 9));  // else: the last deflate byte
        ++gz_unchecked;
      } else {
        CHECK(contains(msg, gz_path));
        ++gz_refused;
      }
    }
  }
  CHECK(gz_refused >= int(gz.size()) * 8 - 7 * 8 - 1 - 7);
  MESSAGE("gzip IDX: " << gz.size() * 8 << " single-bit flips, " << gz_refused << " refused, "
                       << gz_unchecked << " in unchecked header fields read the same content");
#endif
}

// ---------------------------------------------------------------------------
// read_idx_rows: a part of the file, as a rank of a data-parallel run reads it.

namespace {

/// Eleven 4 x 3 "images" whose every byte depends on its row and position.
Bytes eleven_rows() {
  Bytes px(11 * 12);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 37 + i / 12 * 11) % 251);
  return px;
}

/// Rows [a, b) of `whole`, an IdxArray of rows of `row` bytes.
Bytes rows_of(const IdxArray& whole, std::uint64_t a, std::uint64_t b, std::uint64_t row) {
  return Bytes(whole.data.begin() + static_cast<std::ptrdiff_t>(a * row),
               whole.data.begin() + static_cast<std::ptrdiff_t>(b * row));
}

void check_every_range(const std::string& path, int rank, std::uint64_t rows, std::uint64_t row) {
  const IdxArray whole = asrc::read_idx(path, rank);
  CHECK(asrc::read_idx_dims(path, rank) == whole.dims);
  for (std::uint64_t a = 0; a <= rows; ++a)
    for (std::uint64_t b = a; b <= rows; ++b) {
      INFO(path << " rows [" << a << ", " << b << ")");
      const asrc::IdxRows r = asrc::read_idx_rows(path, rank, a, b);
      CHECK(r.dims == whole.dims);
      CHECK(r.first == a);
      CHECK(r.last == b);
      CHECK(r.row_bytes() == row);
      CHECK(r.data == rows_of(whole, a, b, row));
    }
}

}  // namespace

TEST_CASE("read_idx_rows reads exactly the rows of a whole read, plain and gzip") {
  TempDir dir;
  const Bytes px = eleven_rows();
  Bytes labels(11);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(i * 3 % 10);
  write_plain(dir.file("img.idx"), idx_bytes({11, 4, 3}, px));
  write_plain(dir.file("lab.idx"), idx_bytes({11}, labels));
  // Every range, including empty ones, the first and last row alone and partial tails.
  check_every_range(dir.file("img.idx"), 3, 11, 12);
  check_every_range(dir.file("lab.idx"), 1, 11, 1);
  // The shards of 2 and 3 ranks put back together are the whole file.
  for (int P : {2, 3}) {
    Bytes joined;
    for (int r = 0; r < P; ++r) {
      const auto [a, b] = asrc::rank_chunks(11, r, P);
      const asrc::IdxRows part = asrc::read_idx_rows(dir.file("img.idx"), 3, std::uint64_t(a), std::uint64_t(b));
      joined.insert(joined.end(), part.data.begin(), part.data.end());
    }
    CHECK(joined == px);
  }
  // An empty file (zero rows) has only the empty range.
  write_plain(dir.file("empty.idx"), idx_bytes({0, 4, 3}, {}));
  CHECK(asrc::read_idx_rows(dir.file("empty.idx"), 3, 0, 0).data.empty());
#ifdef ASRC_HAVE_ZLIB
  write_gzip(dir.file("img.idx.gz"), idx_bytes({11, 4, 3}, px));
  write_gzip(dir.file("lab.idx.gz"), idx_bytes({11}, labels));
  check_every_range(dir.file("img.idx.gz"), 3, 11, 12);
  check_every_range(dir.file("lab.idx.gz"), 1, 11, 1);
  CHECK(asrc::read_idx_rows(dir.file("img.idx.gz"), 3, 4, 9).data == asrc::read_idx_rows(dir.file("img.idx"), 3, 4, 9).data);
#endif
}

TEST_CASE("read_idx_rows refuses what read_idx refuses, naming the file") {
  TempDir dir;
  const Bytes px = eleven_rows();
  const Bytes whole = idx_bytes({11, 4, 3}, px);
  const std::string t = dir.file("trunc.idx");
  // Cut inside row 7: a range past the cut fails, and so does one before it (the file
  // must hold exactly its declared data, checked from its size without reading it).
  write_plain(t, Bytes(whole.begin(), whole.begin() + 16 + 7 * 12 + 5));
  check_refused([&] { asrc::read_idx_rows(t, 3, 8, 11); }, t, "truncated data");
  check_refused([&] { asrc::read_idx_rows(t, 3, 0, 2); }, t, "truncated data");
  check_refused([&] { asrc::read_idx_dims(t, 3); }, t, "truncated data");
  // Trailing bytes, a wrong rank, a wrong type, a range outside the file.
  Bytes longer = whole;
  longer.push_back(0);
  write_plain(dir.file("long.idx"), longer);
  check_refused([&] { asrc::read_idx_rows(dir.file("long.idx"), 3, 0, 1); }, dir.file("long.idx"), "trailing bytes");
  write_plain(dir.file("ok.idx"), whole);
  check_refused([&] { asrc::read_idx_rows(dir.file("ok.idx"), 1, 0, 1); }, dir.file("ok.idx"), "field 'dimensions'");
  check_refused([&] { asrc::read_idx_rows(dir.file("ok.idx"), 3, 5, 12); }, dir.file("ok.idx"), "[5, 12)");
  check_refused([&] { asrc::read_idx_rows(dir.file("ok.idx"), 3, 6, 5); }, dir.file("ok.idx"), "[6, 5)");
  write_plain(dir.file("f32.idx"), idx_bytes({11, 4, 3}, px, 0x0D));
  check_refused([&] { asrc::read_idx_rows(dir.file("f32.idx"), 3, 0, 1); }, dir.file("f32.idx"), "float32");
#ifdef ASRC_HAVE_ZLIB
  // Gzip: the stream is cut inside row 7. The rows past the cut and, since the stream
  // is decompressed to its end to check its length, the rows before it fail too.
  const std::string tg = dir.file("trunc.idx.gz");
  write_gzip(tg, Bytes(whole.begin(), whole.begin() + 16 + 7 * 12 + 5));
  check_refused([&] { asrc::read_idx_rows(tg, 3, 8, 11); }, tg, "truncated data");
  check_refused([&] { asrc::read_idx_rows(tg, 3, 0, 2); }, tg, "truncated data");
  write_gzip(dir.file("long.idx.gz"), longer);
  check_refused([&] { asrc::read_idx_rows(dir.file("long.idx.gz"), 3, 0, 1); }, dir.file("long.idx.gz"), "trailing garbage");
#endif
}

TEST_CASE("MnistDataset of rows [first, last): the samples of a whole load, labels checked in the range only") {
  TempDir dir;
  // Five images; label 200 (invalid) in row 4 only.
  Bytes px(5 * 784);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 13 + i / 784) % 256);
  const Bytes labels = {3, 1, 4, 1, 200};
  for (bool gz : {false, true}) {
#ifndef ASRC_HAVE_ZLIB
    if (gz) continue;
#endif
    const std::string img = dir.file(gz ? "i.gz" : "i"), lab = dir.file(gz ? "l.gz" : "l");
#ifdef ASRC_HAVE_ZLIB
    if (gz) {
      write_gzip(img, idx_bytes({5, 28, 28}, px));
      write_gzip(lab, idx_bytes({5}, labels));
    }
#endif
    if (!gz) {
      write_plain(img, idx_bytes({5, 28, 28}, px));
      write_plain(lab, idx_bytes({5}, labels));
    }
    CHECK(MnistDataset::file_samples(img, lab) == 5);
    // A whole load refuses row 4's label; rows 1..3 do not read it.
    check_refused([&] { MnistDataset(img, lab, "all"); }, lab, "field 'label[4]'");
    check_refused([&] { MnistDataset(img, lab, "r", asrc::MnistRows{2, 5}); }, lab, "field 'label[4]'");
    MnistDataset rows(img, lab, "train", asrc::MnistRows{1, 4});
    CHECK(rows.size() == 3);
    CHECK(rows.describe() == "S-MNIST train rows 1..3 (3 samples)");
    std::vector<float> a(784);
    for (asrc::Index i = 0; i < 3; ++i) {
      CHECK(rows.label(i) == labels[std::size_t(i + 1)]);
      rows.fill(i, a.data());
      for (std::size_t p = 0; p < 784; ++p) CHECK(a[p] == float(px[std::size_t(i + 1) * 784 + p]) / 255.0f);
    }
    CHECK(MnistDataset(img, lab, "none", asrc::MnistRows{5, 5}).size() == 0);
    check_refused([&] { MnistDataset(img, lab, "r", asrc::MnistRows{3, 6}); }, img, "[3, 6)");
    // Label and image counts must agree, as for a whole load.
    write_plain(dir.file("l4"), idx_bytes({4}, {3, 1, 4, 1}));
    check_refused([&] { MnistDataset::file_samples(img, dir.file("l4")); }, dir.file("l4"), "count mismatch");
    check_refused([&] { MnistDataset(img, dir.file("l4"), "r", asrc::MnistRows{0, 1}); }, dir.file("l4"), "count mismatch");
  }
}

TEST_CASE("read_idx_row_list reads exactly the listed rows of a whole read, plain and gzip") {
  TempDir dir;
  const Bytes px = eleven_rows();
  write_plain(dir.file("img.idx"), idx_bytes({11, 4, 3}, px));
  std::vector<std::string> files = {dir.file("img.idx")};
#ifdef ASRC_HAVE_ZLIB
  write_gzip(dir.file("img.idx.gz"), idx_bytes({11, 4, 3}, px));
  files.push_back(dir.file("img.idx.gz"));
#endif
  for (const std::string& f : files) {
    // Every subset of the 11 rows (2^11), in increasing order.
    for (unsigned mask = 0; mask < (1u << 11); ++mask) {
      std::vector<std::uint64_t> rows;
      Bytes expect;
      for (std::uint64_t r = 0; r < 11; ++r)
        if (mask >> r & 1u) {
          rows.push_back(r);
          expect.insert(expect.end(), px.begin() + std::ptrdiff_t(r * 12), px.begin() + std::ptrdiff_t(r * 12 + 12));
        }
      const asrc::IdxRows got = asrc::read_idx_row_list(f, 3, rows);
      if (got.data != expect) {
        FAIL_CHECK(f << ": rows of mask " << mask << " differ");
        break;
      }
    }
    check_refused([&] { asrc::read_idx_row_list(f, 3, {2, 2}); }, f, "strictly increasing");
    check_refused([&] { asrc::read_idx_row_list(f, 3, {3, 1}); }, f, "strictly increasing");
    check_refused([&] { asrc::read_idx_row_list(f, 3, {0, 11}); }, f, "row 11");
  }
  const Bytes whole = idx_bytes({11, 4, 3}, px);
  const std::string t = dir.file("trunc.idx");
  write_plain(t, Bytes(whole.begin(), whole.begin() + 16 + 7 * 12 + 5));
  check_refused([&] { asrc::read_idx_row_list(t, 3, {1, 9}); }, t, "truncated data");
#ifdef ASRC_HAVE_ZLIB
  const std::string tg = dir.file("trunc.idx.gz");
  write_gzip(tg, Bytes(whole.begin(), whole.begin() + 16 + 7 * 12 + 5));
  check_refused([&] { asrc::read_idx_row_list(tg, 3, {9}); }, tg, "truncated data");
  check_refused([&] { asrc::read_idx_row_list(tg, 3, {1}); }, tg, "truncated data");
#endif
}

TEST_CASE("MnistDataset of a row list: the listed samples, labels checked on those rows only") {
  TempDir dir;
  Bytes px(5 * 784);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>((i * 13 + i / 784) % 256);
  const Bytes labels = {3, 200, 4, 1, 5};  // row 1 invalid
  write_plain(dir.file("i"), idx_bytes({5, 28, 28}, px));
  write_plain(dir.file("l"), idx_bytes({5}, labels));
  MnistDataset d(dir.file("i"), dir.file("l"), "training split", asrc::MnistRowList{{0, 3, 4}});
  REQUIRE(d.size() == 3);
  const std::vector<std::size_t> rows = {0, 3, 4};
  std::vector<float> a(784);
  for (asrc::Index i = 0; i < 3; ++i) {
    CHECK(d.label(i) == labels[rows[std::size_t(i)]]);
    d.fill(i, a.data());
    for (std::size_t p = 0; p < 784; ++p) CHECK(a[p] == float(px[rows[std::size_t(i)] * 784 + p]) / 255.0f);
  }
  check_refused([&] { MnistDataset(dir.file("i"), dir.file("l"), "s", asrc::MnistRowList{{0, 1}}); }, dir.file("l"),
                "field 'label[1]'");
  check_refused([&] { MnistDataset(dir.file("i"), dir.file("l"), "s", asrc::MnistRowList{{0, 5}}); }, dir.file("i"),
                "within the 5 samples");
  CHECK(MnistDataset(dir.file("i"), dir.file("l"), "s", asrc::MnistRowList{}).size() == 0);
}
