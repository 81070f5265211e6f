#pragma once
// Reading (and writing) RIFF/WAVE audio files.
//
// Only what speech corpora such as Google Speech Commands use is accepted:
// 16-bit signed PCM, one channel. Both the plain PCM format tag (1) and
// WAVE_FORMAT_EXTENSIBLE (0xFFFE) with the PCM sub-format GUID are read; every
// other encoding (IEEE float, 8/24/32-bit PCM, A-law, ...) and every file with
// more than one channel is refused with an error naming the file and the field.
// The sample rate is returned as found: callers that need a fixed rate (the GSC
// pipeline needs 16 kHz) check it themselves.
//
// Layout handled: "RIFF" <size> "WAVE", then chunks <id:4><size:u32 LE><body>
// with a pad byte after each odd-sized body. Unknown chunks (LIST, fact, cue,
// bext, ...) are skipped. The RIFF size field is not trusted (some writers get
// it wrong); the real file size bounds every chunk. A chunk that claims more
// bytes than the file holds is a truncated file and an error. Sizes are
// checked against the file size before any sample buffer is allocated.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "asrc/core/error.hpp"

namespace asrc {

/// Decoded mono audio.
struct WavAudio {
  int sample_rate = 0;         ///< samples per second, as stored in the fmt chunk
  std::vector<float> samples;  ///< int16 / 32768, so each value lies in [-1, 1)
};

namespace wav_detail {

inline std::uint16_t le16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t le32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

/// A four-character chunk id printed safely (non-printable bytes as '?').
inline std::string fourcc(const unsigned char* p) {
  std::string s(4, '?');
  for (int i = 0; i < 4; ++i)
    if (p[i] >= 32 && p[i] < 127) s[static_cast<size_t>(i)] = static_cast<char>(p[i]);
  return s;
}

inline const char* format_name(unsigned tag) {
  switch (tag) {
    case 0x0001: return "PCM";
    case 0x0003: return "IEEE float";
    case 0x0006: return "A-law";
    case 0x0007: return "mu-law";
    case 0x0011: return "IMA ADPCM";
    case 0x0055: return "MP3";
    case 0xFFFE: return "extensible";
    default: return "unknown";
  }
}

// Bytes 2..15 of every standard KSDATAFORMAT_SUBTYPE_* GUID (the first two
// bytes hold the format tag): 0000-0010-8000-00AA00389B71, stored little-endian.
inline constexpr unsigned char kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

}  // namespace wav_detail

/// Read a 16-bit PCM mono WAV file. Throws std::invalid_argument naming the
/// file and the offending field for anything else.
inline WavAudio read_wav(const std::string& path) {
  using namespace wav_detail;
  const std::string where = "read_wav";
  const std::string file = quoted(path);
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), where, "a readable WAV file", file + " (cannot open)");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  require(end >= 0, where, "a seekable WAV file", file);
  const std::uint64_t file_size = static_cast<std::uint64_t>(end);
  in.seekg(0, std::ios::beg);

  unsigned char head[12];
  require(file_size >= 12 && static_cast<bool>(in.read(reinterpret_cast<char*>(head), 12)),
          where, "a 12-byte RIFF/WAVE header in " + file, str_cat(file_size, " bytes"));
  require(std::memcmp(head, "RIFF", 4) == 0, where, "RIFF id 'RIFF' in " + file,
          quoted(fourcc(head)));
  require(std::memcmp(head + 8, "WAVE", 4) == 0, where, "RIFF form type 'WAVE' in " + file,
          quoted(fourcc(head + 8)));

  bool have_fmt = false, have_data = false;
  unsigned char fmt[40] = {0};
  std::uint32_t fmt_size = 0;
  std::uint64_t data_offset = 0, data_size = 0;
  std::uint64_t pos = 12;
  // Walk the chunk list; fewer than 8 trailing bytes cannot hold a chunk and are ignored.
  while (pos + 8 <= file_size) {
    unsigned char ch[8];
    in.seekg(static_cast<std::streamoff>(pos));
    require(static_cast<bool>(in.read(reinterpret_cast<char*>(ch), 8)), where,
            "a readable chunk header in " + file, str_cat("a read error at byte ", pos));
    const std::uint64_t size = le32(ch + 4);
    const std::uint64_t body = pos + 8;
    const std::string id = fourcc(ch);
    if (std::memcmp(ch, "data", 4) == 0) {
      require(!have_data, where, "a single 'data' chunk in " + file, "a second one");
      require(body + size <= file_size, where,
              "'data' chunk size within the file in " + file + " (truncated file?)",
              str_cat(size, " bytes declared, ", file_size - body, " present"));
      have_data = true;
      data_offset = body;
      data_size = size;
    } else {
      require(body + size <= file_size, where,
              "chunk '" + id + "' size within the file in " + file + " (truncated file?)",
              str_cat(size, " bytes declared, ", file_size - body, " present"));
      if (std::memcmp(ch, "fmt ", 4) == 0) {
        require(!have_fmt, where, "a single 'fmt ' chunk in " + file, "a second one");
        require(size >= 16, where, "'fmt ' chunk of at least 16 bytes in " + file, size);
        fmt_size = static_cast<std::uint32_t>(size);
        const std::uint64_t keep = size < 40 ? size : 40;
        require(static_cast<bool>(in.read(reinterpret_cast<char*>(fmt),
                                          static_cast<std::streamsize>(keep))),
                where, "a readable 'fmt ' chunk in " + file, "a read error");
        have_fmt = true;
      }
    }
    pos = body + size + (size & 1u);  // odd bodies are followed by one pad byte
  }
  require(have_fmt, where, "a 'fmt ' chunk in " + file, "none");
  require(have_data, where, "a 'data' chunk in " + file, "none");

  unsigned tag = le16(fmt);
  const unsigned channels = le16(fmt + 2);
  const std::uint32_t rate = le32(fmt + 4);
  const unsigned block_align = le16(fmt + 12);
  const unsigned bits = le16(fmt + 14);
  if (tag == 0xFFFE) {
    require(fmt_size >= 40, where, "'fmt ' chunk of 40 bytes for WAVE_FORMAT_EXTENSIBLE in " + file,
            fmt_size);
    const unsigned char* guid = fmt + 24;
    require(std::memcmp(guid + 2, kGuidTail, 14) == 0, where,
            "a standard sub-format GUID in fmt.SubFormat of " + file, "an unknown GUID");
    tag = le16(guid);
    require(tag == 1, where, "fmt.SubFormat = PCM (1) in " + file,
            str_cat(tag, " (", format_name(tag), ")"));
    const unsigned valid_bits = le16(fmt + 18);
    require(valid_bits == 0 || valid_bits == 16, where,
            "fmt.wValidBitsPerSample = 16 in " + file, valid_bits);
  }
  require(tag == 1, where, "fmt.audio_format = PCM (1) or extensible PCM in " + file,
          str_cat(tag, " (", format_name(tag), ")"));
  require(channels == 1, where, "fmt.num_channels = 1 (mono) in " + file, channels);
  require(bits == 16, where, "fmt.bits_per_sample = 16 in " + file, bits);
  require(block_align == 2, where, "fmt.block_align = 2 in " + file, block_align);
  require(rate > 0 && rate <= 0x7FFFFFFFu, where, "a positive fmt.sample_rate in " + file, rate);
  require(data_size % 2 == 0, where, "'data' size a multiple of 2 bytes in " + file, data_size);

  // data_size was checked against the file size above, so this allocation is bounded.
  WavAudio out;
  out.sample_rate = static_cast<int>(rate);
  const size_t n = static_cast<size_t>(data_size / 2);
  std::vector<unsigned char> raw(static_cast<size_t>(data_size));
  in.clear();
  in.seekg(static_cast<std::streamoff>(data_offset));
  require(data_size == 0 || static_cast<bool>(in.read(reinterpret_cast<char*>(raw.data()),
                                                      static_cast<std::streamsize>(data_size))),
          where, "a readable 'data' chunk in " + file, "a read error");
  out.samples.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const auto v = static_cast<std::int16_t>(le16(raw.data() + 2 * i));
    out.samples[i] = static_cast<float>(v) * (1.0f / 32768.0f);
  }
  return out;
}

/// Write mono 16-bit PCM (values in [-1, 1], rounded and clipped to int16).
inline void write_wav_pcm16(const std::string& path, const std::vector<float>& samples,
                            int sample_rate) {
  require(sample_rate > 0, "write_wav_pcm16", "a positive sample rate", sample_rate);
  require(samples.size() <= (0xFFFFFFFFu - 36u) / 2u, "write_wav_pcm16",
          "fewer than 2^31 samples", samples.size());
  std::vector<unsigned char> b;
  auto put16 = [&](std::uint32_t v) {
    b.push_back(static_cast<unsigned char>(v & 0xFF));
    b.push_back(static_cast<unsigned char>((v >> 8) & 0xFF));
  };
  auto put32 = [&](std::uint32_t v) {
    put16(v & 0xFFFF);
    put16(v >> 16);
  };
  auto tag = [&](const char* s) { b.insert(b.end(), s, s + 4); };
  const std::uint32_t data_bytes = static_cast<std::uint32_t>(samples.size() * 2);
  tag("RIFF");
  put32(36 + data_bytes);
  tag("WAVE");
  tag("fmt ");
  put32(16);
  put16(1);
  put16(1);
  put32(static_cast<std::uint32_t>(sample_rate));
  put32(static_cast<std::uint32_t>(sample_rate) * 2);
  put16(2);
  put16(16);
  tag("data");
  put32(data_bytes);
  for (float x : samples) {
    double v = std::nearbyint(static_cast<double>(x) * 32768.0);
    if (std::isnan(v)) v = 0.0;
    v = v < -32768.0 ? -32768.0 : (v > 32767.0 ? 32767.0 : v);
    put16(static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  require(static_cast<bool>(out), "write_wav_pcm16", "a writable path", wav_detail::quoted(path));
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  require(static_cast<bool>(out), "write_wav_pcm16", "a successful write", wav_detail::quoted(path));
}

}  // namespace asrc
