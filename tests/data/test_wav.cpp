// Tests of the WAV reader on files built byte by byte here: accepted layouts
// (plain PCM, extra chunks, odd chunk padding, WAVE_FORMAT_EXTENSIBLE) and
// refused ones (truncated, 8/24-bit, stereo, float, not RIFF), each refusal
// naming the file and the field.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "asrc/data/wav.hpp"

// Allocation probe: records the largest single allocation while switched on,
// to show that a lying size field is refused before a buffer is allocated.
namespace {
std::atomic<bool> g_probe_on{false};
std::atomic<std::size_t> g_probe_max{0};
}  // namespace

// Kept out of line: inlined, GCC pairs malloc() with operator delete and warns
// about a mismatch that is not one.
#if defined(__GNUC__)
#define ASRC_WAV_TEST_NOINLINE __attribute__((noinline))
#else
#define ASRC_WAV_TEST_NOINLINE
#endif
ASRC_WAV_TEST_NOINLINE void* operator new(std::size_t n) {
  if (g_probe_on.load(std::memory_order_relaxed)) {
    std::size_t cur = g_probe_max.load(std::memory_order_relaxed);
    while (n > cur && !g_probe_max.compare_exchange_weak(cur, n)) {
    }
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
ASRC_WAV_TEST_NOINLINE void operator delete(void* p) noexcept { std::free(p); }
ASRC_WAV_TEST_NOINLINE void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

namespace fs = std::filesystem;

/// A scratch folder removed at the end of the test case.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("asrc_test_wav_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

/// Little-endian byte builder for hand-made RIFF files.
struct Bytes {
  std::vector<unsigned char> b;
  Bytes& tag(const char* s) {
    b.insert(b.end(), s, s + 4);
    return *this;
  }
  Bytes& u16(unsigned v) {
    b.push_back(static_cast<unsigned char>(v & 0xFF));
    b.push_back(static_cast<unsigned char>((v >> 8) & 0xFF));
    return *this;
  }
  Bytes& u32(std::uint32_t v) {
    u16(v & 0xFFFF);
    return u16(v >> 16);
  }
  Bytes& raw(const std::vector<unsigned char>& v) {
    b.insert(b.end(), v.begin(), v.end());
    return *this;
  }
  /// A chunk with its pad byte when the body is odd-sized.
  Bytes& chunk(const char* id, const std::vector<unsigned char>& body, bool pad = true) {
    tag(id).u32(static_cast<std::uint32_t>(body.size())).raw(body);
    if (pad && body.size() % 2) b.push_back(0);
    return *this;
  }
  void save(const std::string& path) const {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
};

std::vector<unsigned char> fmt_body(unsigned format, unsigned channels, std::uint32_t rate,
                                    unsigned bits) {
  Bytes f;
  const unsigned align = channels * bits / 8;
  f.u16(format).u16(channels).u32(rate).u32(rate * align).u16(align).u16(bits);
  return f.b;
}

/// 40-byte WAVE_FORMAT_EXTENSIBLE fmt body with sub-format tag `sub`.
std::vector<unsigned char> fmt_extensible(unsigned sub, unsigned channels, std::uint32_t rate,
                                          unsigned bits) {
  Bytes f;
  f.raw(fmt_body(0xFFFE, channels, rate, bits));
  f.u16(22).u16(bits).u32(channels == 1 ? 0x4 : 0x3);  // cbSize, valid bits, channel mask
  f.u16(sub).raw({0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B,
                  0x71});
  return f.b;
}

std::vector<unsigned char> pcm16(const std::vector<int>& v) {
  Bytes d;
  for (int x : v) d.u16(static_cast<unsigned>(static_cast<std::uint16_t>(static_cast<std::int16_t>(x))));
  return d.b;
}

/// RIFF/WAVE wrapper; the RIFF size is filled in from the body.
Bytes riff(const Bytes& body) {
  Bytes r;
  r.tag("RIFF").u32(static_cast<std::uint32_t>(4 + body.b.size())).tag("WAVE").raw(body.b);
  return r;
}

/// Message of the std::invalid_argument thrown by read_wav(path) ("" if none).
std::string error_of(const std::string& path) {
  try {
    asrc::read_wav(path);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

const std::vector<int> kSamples = {0, 1, -1, 32767, -32768, 1234, -20000};

void check_samples(const asrc::WavAudio& a) {
  REQUIRE(a.samples.size() == kSamples.size());
  for (size_t i = 0; i < kSamples.size(); ++i)
    CHECK(a.samples[i] == static_cast<float>(kSamples[i]) / 32768.0f);
}

}  // namespace

TEST_CASE("read_wav: plain 16-bit PCM mono") {
  TempDir dir;
  const std::string path = dir.file("plain.wav");
  Bytes body;
  body.chunk("fmt ", fmt_body(1, 1, 16000, 16)).chunk("data", pcm16(kSamples));
  riff(body).save(path);
  const asrc::WavAudio a = asrc::read_wav(path);
  CHECK(a.sample_rate == 16000);
  check_samples(a);
  for (float x : a.samples) {
    CHECK(x >= -1.0f);
    CHECK(x < 1.0f);
  }
}

TEST_CASE("read_wav: write_wav_pcm16 round trip, other rates are read as stored") {
  TempDir dir;
  const std::string path = dir.file("rt.wav");
  std::vector<float> x = {0.0f, 0.5f, -0.5f, -1.0f, 0.25f, 32767.0f / 32768.0f, 2.0f, -3.0f};
  asrc::write_wav_pcm16(path, x, 8000);
  const asrc::WavAudio a = asrc::read_wav(path);
  CHECK(a.sample_rate == 8000);
  REQUIRE(a.samples.size() == x.size());
  for (size_t i = 0; i < 6; ++i) CHECK(a.samples[i] == x[i]);
  CHECK(a.samples[6] == 32767.0f / 32768.0f);  // clipped
  CHECK(a.samples[7] == -1.0f);
  CHECK(fs::file_size(path) == 44 + 2 * x.size());
}

TEST_CASE("read_wav: extra chunks and odd-sized chunk padding are skipped") {
  TempDir dir;
  // LIST (odd size, padded) before fmt, fact between fmt and data, junk after data.
  Bytes body;
  body.chunk("LIST", {'I', 'N', 'F', 'O', 'I', 'S', 'F', 'T', 3, 0, 0, 0, 'a', 'b', 'c'})
      .chunk("fmt ", fmt_body(1, 1, 16000, 16))
      .chunk("fact", {7, 0, 0, 0})
      .chunk("LIST", {'x'})
      .chunk("data", pcm16(kSamples))
      .chunk("junk", {1, 2, 3});
  const std::string path = dir.file("list.wav");
  riff(body).save(path);
  check_samples(asrc::read_wav(path));

  // An odd-sized last chunk without its pad byte, and a wrong RIFF size field.
  Bytes body2;
  body2.chunk("fmt ", fmt_body(1, 1, 16000, 16)).chunk("data", pcm16(kSamples))
      .chunk("note", {'h', 'i', '!'}, /*pad=*/false);
  Bytes r = riff(body2);
  r.b[4] = 0;  // RIFF size no longer matches; it is not trusted
  r.b[5] = 0;
  const std::string path2 = dir.file("nopad.wav");
  r.save(path2);
  check_samples(asrc::read_wav(path2));

  // A fmt chunk longer than 16 bytes (cbSize = 0 appended).
  Bytes body3;
  std::vector<unsigned char> f18 = fmt_body(1, 1, 16000, 16);
  f18.push_back(0);
  f18.push_back(0);
  body3.chunk("fmt ", f18).chunk("data", pcm16(kSamples));
  const std::string path3 = dir.file("fmt18.wav");
  riff(body3).save(path3);
  check_samples(asrc::read_wav(path3));
}

TEST_CASE("read_wav: WAVE_FORMAT_EXTENSIBLE with the PCM sub-format") {
  TempDir dir;
  Bytes body;
  body.chunk("fmt ", fmt_extensible(1, 1, 16000, 16)).chunk("data", pcm16(kSamples));
  const std::string path = dir.file("ext.wav");
  riff(body).save(path);
  const asrc::WavAudio a = asrc::read_wav(path);
  CHECK(a.sample_rate == 16000);
  check_samples(a);

  // Extensible with the IEEE-float sub-format is refused.
  Bytes body2;
  body2.chunk("fmt ", fmt_extensible(3, 1, 16000, 32)).chunk("data", std::vector<unsigned char>(8, 0));
  const std::string path2 = dir.file("ext_float.wav");
  riff(body2).save(path2);
  const std::string msg = error_of(path2);
  CHECK(msg.find(path2) != std::string::npos);
  CHECK(msg.find("SubFormat") != std::string::npos);
}

TEST_CASE("read_wav: truncated files are refused before allocating") {
  TempDir dir;
  // data declares 1 GB but the file holds 14 bytes of it.
  Bytes body;
  body.chunk("fmt ", fmt_body(1, 1, 16000, 16)).tag("data").u32(1u << 30).raw(pcm16(kSamples));
  const std::string path = dir.file("trunc.wav");
  riff(body).save(path);
  g_probe_max = 0;
  g_probe_on = true;
  const std::string msg = error_of(path);
  g_probe_on = false;
  CHECK(msg.rfind("read_wav(): expected", 0) == 0);
  CHECK(msg.find(path) != std::string::npos);
  CHECK(msg.find("'data' chunk size") != std::string::npos);
  CHECK(msg.find("truncated") != std::string::npos);
  CHECK(g_probe_max.load() < (1u << 20));

  // A data chunk one sample short.
  Bytes body2;
  body2.chunk("fmt ", fmt_body(1, 1, 16000, 16)).tag("data").u32(16).raw(pcm16(kSamples));
  const std::string path2 = dir.file("short.wav");
  riff(body2).save(path2);
  CHECK(error_of(path2).find("truncated") != std::string::npos);

  // A header cut inside the fmt chunk.
  Bytes body3;
  body3.chunk("fmt ", fmt_body(1, 1, 16000, 16));
  Bytes r3 = riff(body3);
  r3.b.resize(r3.b.size() - 6);
  const std::string path3 = dir.file("cutfmt.wav");
  r3.save(path3);
  const std::string m3 = error_of(path3);
  CHECK(m3.find("'fmt '") != std::string::npos);
  CHECK(m3.find(path3) != std::string::npos);

  // Only a RIFF header, no chunks.
  Bytes body4;
  const std::string path4 = dir.file("empty.wav");
  riff(body4).save(path4);
  CHECK(error_of(path4).find("a 'fmt ' chunk") != std::string::npos);

  // Shorter than the 12-byte header.
  const std::string path5 = dir.file("tiny.wav");
  Bytes tiny;
  tiny.tag("RIFF");
  tiny.save(path5);
  CHECK(error_of(path5).find("12-byte") != std::string::npos);
}

TEST_CASE("read_wav: other encodings are refused, naming file and field") {
  TempDir dir;
  struct Case {
    const char* name;
    unsigned format, channels, bits;
    const char* field;
  };
  const Case cases[] = {
      {"u8.wav", 1, 1, 8, "bits_per_sample"},
      {"s24.wav", 1, 1, 24, "bits_per_sample"},
      {"s32.wav", 1, 1, 32, "bits_per_sample"},
      {"stereo.wav", 1, 2, 16, "num_channels"},
      {"float.wav", 3, 1, 32, "audio_format"},
      {"alaw.wav", 6, 1, 8, "audio_format"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Bytes body;
    body.chunk("fmt ", fmt_body(c.format, c.channels, 16000, c.bits))
        .chunk("data", std::vector<unsigned char>(24, 0));
    const std::string path = dir.file(c.name);
    riff(body).save(path);
    const std::string msg = error_of(path);
    CHECK(msg.rfind("read_wav(): expected", 0) == 0);
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find(c.field) != std::string::npos);
  }
  // Exact text of one refusal.
  CHECK(error_of(dir.file("stereo.wav")) ==
        "read_wav(): expected fmt.num_channels = 1 (mono) in '" + dir.file("stereo.wav") +
            "', got 2");
  CHECK(error_of(dir.file("float.wav")).find("IEEE float") != std::string::npos);
}

TEST_CASE("read_wav: malformed containers") {
  TempDir dir;
  // Not RIFF.
  const std::string p1 = dir.file("rifx.wav");
  Bytes b1;
  b1.tag("RIFX").u32(4).tag("WAVE");
  b1.save(p1);
  CHECK(error_of(p1).find("RIFF id") != std::string::npos);
  // RIFF but not WAVE.
  const std::string p2 = dir.file("avi.wav");
  Bytes b2;
  b2.tag("RIFF").u32(4).tag("AVI ");
  b2.save(p2);
  CHECK(error_of(p2).find("'WAVE'") != std::string::npos);
  // No data chunk.
  const std::string p3 = dir.file("nodata.wav");
  Bytes body3;
  body3.chunk("fmt ", fmt_body(1, 1, 16000, 16));
  riff(body3).save(p3);
  CHECK(error_of(p3).find("a 'data' chunk") != std::string::npos);
  // data before fmt is fine (chunks are collected first).
  const std::string p4 = dir.file("datafirst.wav");
  Bytes body4;
  body4.chunk("data", pcm16(kSamples)).chunk("fmt ", fmt_body(1, 1, 16000, 16));
  riff(body4).save(p4);
  check_samples(asrc::read_wav(p4));
  // Odd data size.
  const std::string p5 = dir.file("odd.wav");
  Bytes body5;
  body5.chunk("fmt ", fmt_body(1, 1, 16000, 16)).chunk("data", {1, 2, 3});
  riff(body5).save(p5);
  CHECK(error_of(p5).find("multiple of 2") != std::string::npos);
  // Empty data chunk: zero samples.
  const std::string p6 = dir.file("nosamples.wav");
  Bytes body6;
  body6.chunk("fmt ", fmt_body(1, 1, 16000, 16)).chunk("data", {});
  riff(body6).save(p6);
  CHECK(asrc::read_wav(p6).samples.empty());
  // Missing file.
  const std::string p7 = dir.file("missing.wav");
  const std::string m7 = error_of(p7);
  CHECK(m7.find(p7) != std::string::npos);
  CHECK(m7.find("cannot open") != std::string::npos);
}

TEST_CASE("read_wav: a real Speech Commands clip") {
  const std::string path = ASRC_SOURCE_DIR "/tests/data/gsc_mini/yes/439c84f4_nohash_1.wav";
  REQUIRE_MESSAGE(fs::exists(path), "vendored clip missing: " << path);
  const asrc::WavAudio a = asrc::read_wav(path);
  CHECK(a.sample_rate == 16000);
  CHECK(a.samples.size() * 2 + 44 == fs::file_size(path));
}

// Every truncation and every single-bit flip of a 44-byte-header file. WAV has no
// checksum: a flip in the samples is a different valid file (exactly that sample
// changes), a flip in the sample rate is read as stored, and so are the fields the
// reader derives rather than trusts (RIFF size, byte rate, block align). Every flip in
// the tags, the fmt size, format, channels or bits must be refused, naming the file.
TEST_CASE("read_wav: every truncation and every bit flip") {
  TempDir dir;
  Bytes body;
  body.chunk("fmt ", fmt_body(1, 1, 16000, 16)).chunk("data", pcm16(kSamples));
  const std::vector<unsigned char> good = riff(body).b;
  REQUIRE(good.size() == 44 + 2 * kSamples.size());
  const std::string path = dir.file("f.wav");
  auto save = [&](const std::vector<unsigned char>& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  };
  for (size_t n = 0; n < good.size(); ++n) {
    save(std::vector<unsigned char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    const std::string msg = error_of(path);
    INFO("truncated to " << n << " bytes: " << msg);
    CHECK(msg.find(path) != std::string::npos);
  }
  auto in = [](size_t i, size_t a, size_t b) { return i >= a && i < b; };
  int refused = 0, accepted = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<unsigned char> b = good;
      b[i] ^= static_cast<unsigned char>(1u << bit);
      save(b);
      const std::string msg = error_of(path);
      INFO("byte " << i << " bit " << bit << ": " << msg);
      const bool must_refuse = in(i, 0, 4) || in(i, 8, 24) || in(i, 34, 40);
      if (must_refuse) CHECK(msg.find(path) != std::string::npos);
      if (!msg.empty()) {
        CHECK(msg.find(path) != std::string::npos);
        ++refused;
        continue;
      }
      ++accepted;
      const asrc::WavAudio a = asrc::read_wav(path);
      if (i >= 44) {  // one sample changed, by exactly the flipped bit
        REQUIRE(a.samples.size() == kSamples.size());
        const size_t k = (i - 44) / 2;
        for (size_t s = 0; s < kSamples.size(); ++s) {
          const auto u = static_cast<std::uint16_t>(static_cast<std::int16_t>(kSamples[s]));
          const unsigned shift = static_cast<unsigned>(bit + ((i - 44) % 2) * 8);
          const auto expect = s == k ? static_cast<std::int16_t>(u ^ (1u << shift)) : static_cast<std::int16_t>(u);
          CHECK(a.samples[s] == static_cast<float>(expect) / 32768.0f);
        }
      } else if (in(i, 24, 28)) {  // the sample rate, read as stored
        CHECK(a.sample_rate == int(16000u ^ (1u << (bit + (i - 24) * 8))));
        check_samples(a);
      } else if (in(i, 40, 44)) {  // a smaller data size: a prefix of the samples
        REQUIRE(a.samples.size() <= kSamples.size());
        for (size_t s = 0; s < a.samples.size(); ++s)
          CHECK(a.samples[s] == static_cast<float>(kSamples[s]) / 32768.0f);
      } else {  // RIFF size, byte rate, block align: not needed to read the samples
        CHECK(a.sample_rate == 16000);
        check_samples(a);
      }
    }
  }
  MESSAGE("WAV: " << good.size() * 8 << " single-bit flips, " << refused << " refused, " << accepted
                  << " read as a valid file");
}
