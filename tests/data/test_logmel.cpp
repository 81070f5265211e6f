// Tests of the log-mel features (reference semantics section 6): window,
// Slaney filterbank, frame counts, padding, dB floor, z-score, and a check of
// whole feature maps against an independent, deliberately naive computation
// written below (direct DFT sums, triangles from their definition).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "asrc/data/logmel.hpp"

using asrc::Index;
using asrc::LogMel;
using asrc::LogMelConfig;

namespace {

const double kPi = 3.14159265358979323846;

std::vector<float> tone(double hz, Index n, double amp = 0.5, double rate = 16000.0) {
  std::vector<float> x(static_cast<size_t>(n));
  for (Index i = 0; i < n; ++i)
    x[static_cast<size_t>(i)] = static_cast<float>(amp * std::sin(2.0 * kPi * hz * i / rate));
  return x;
}

std::vector<float> noise(Index n, unsigned seed, double amp = 0.3) {
  std::mt19937 gen(seed);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = static_cast<float>(amp * (static_cast<double>(gen()) / 4294967296.0 * 2.0 - 1.0));
  return x;
}

// ---- Naive reference, independent of logmel.hpp -----------------------------

double naive_mel(double hz) {  // Slaney: 3 mels per 200 Hz below 1 kHz, log above
  return hz < 1000.0 ? 3.0 * hz / 200.0 : 15.0 + 27.0 * std::log(hz / 1000.0) / std::log(6.4);
}
double naive_hz(double mel) {
  return mel < 15.0 ? 200.0 * mel / 3.0 : 1000.0 * std::pow(6.4, (mel - 15.0) / 27.0);
}

/// Weight of band m (of n_mels between f_min and f_max) at frequency f.
double naive_weight(double f, int m, int n_mels, double f_min, double f_max) {
  const double a = naive_mel(f_min), b = naive_mel(f_max), d = (b - a) / (n_mels + 1);
  const double lo = naive_hz(a + m * d), mid = naive_hz(a + (m + 1) * d), hi = naive_hz(a + (m + 2) * d);
  double tri = 0.0;
  if (f > lo && f <= mid) tri = (f - lo) / (mid - lo);
  else if (f > mid && f < hi) tri = (hi - f) / (hi - mid);
  return tri * 2.0 / (hi - lo);
}

/// Full feature map (frames x n_mels) with direct DFT sums, torch-style reflect
/// padding (needs n > n_fft / 2) and the spec's dB / framing / z-score steps.
std::vector<double> naive_features(const std::vector<float>& x, const LogMelConfig& c,
                                   std::vector<double>* mel_out = nullptr) {
  const Index n = static_cast<Index>(x.size()), N = c.n_fft, pad = N / 2, bins = N / 2 + 1;
  const Index L = 1 + n / c.hop_length;
  std::vector<double> mel(static_cast<size_t>(L * c.n_mels), 0.0);
  for (Index t = 0; t < L; ++t) {
    std::vector<double> frame(static_cast<size_t>(N));
    for (Index k = 0; k < N; ++k) {
      Index j = t * c.hop_length + k - pad;
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      const double w = 0.5 - 0.5 * std::cos(2.0 * kPi * k / N);
      frame[static_cast<size_t>(k)] = w * x[static_cast<size_t>(j)];
    }
    for (Index b = 0; b < bins; ++b) {
      double re = 0.0, im = 0.0;
      for (Index k = 0; k < N; ++k) {
        const double ang = 2.0 * kPi * static_cast<double>((b * k) % N) / N;
        re += frame[static_cast<size_t>(k)] * std::cos(ang);
        im -= frame[static_cast<size_t>(k)] * std::sin(ang);
      }
      const double mag = std::sqrt(re * re + im * im);
      const double f = b * (c.sample_rate / 2) / static_cast<double>(bins - 1);
      for (int m = 0; m < c.n_mels; ++m)
        mel[static_cast<size_t>(t * c.n_mels + m)] += mag * naive_weight(f, m, c.n_mels, c.f_min, c.f_max);
    }
  }
  if (mel_out) *mel_out = mel;
  double top = -1e300;
  for (auto& v : mel) {
    v = 10.0 * std::log10(std::max(c.amin, v));
    top = std::max(top, v);
  }
  const Index T = c.frames;
  std::vector<double> y(static_cast<size_t>(T * c.n_mels), 0.0);
  for (Index t = 0; t < std::min(T, L); ++t)
    for (int m = 0; m < c.n_mels; ++m)
      y[static_cast<size_t>(t * c.n_mels + m)] =
          std::max(mel[static_cast<size_t>(t * c.n_mels + m)], top - c.top_db) - top;
  double mean = 0.0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(y.size());
  double ss = 0.0;
  for (double v : y) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / static_cast<double>(y.size() - 1));
  if (c.zscore && sd > 0)
    for (double& v : y) v = (v - mean) / sd;
  return y;
}

double mean_of(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += x;
  return s / static_cast<double>(v.size());
}
double sd_of(const std::vector<float>& v) {
  const double m = mean_of(v);
  double s = 0.0;
  for (float x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

}  // namespace

TEST_CASE("LogMelConfig: defaults are the GSC reference settings, validation errors") {
  const LogMelConfig c;
  CHECK(c.sample_rate == 16000);
  CHECK(c.n_fft == 480);
  CHECK(c.hop_length == 160);
  CHECK(c.n_mels == 40);
  CHECK(c.f_min == 40.0);
  CHECK(c.f_max == 4000.0);
  CHECK(c.amin == 1e-10);
  CHECK(c.top_db == 80.0);
  CHECK(c.frames == 101);
  CHECK(c.zscore);
  LogMelConfig bad;
  bad.n_mels = 0;
  CHECK_THROWS_WITH_AS(LogMel{bad}, "LogMelConfig::validate(): expected n_mels >= 1, got 0",
                       std::invalid_argument);
  bad = LogMelConfig();
  bad.f_max = 9000.0;
  CHECK_THROWS_AS(LogMel{bad}, std::invalid_argument);
  bad = LogMelConfig();
  bad.f_min = 5000.0;
  CHECK_THROWS_AS(LogMel{bad}, std::invalid_argument);
  bad = LogMelConfig();
  bad.hop_length = 0;
  CHECK_THROWS_AS(LogMel{bad}, std::invalid_argument);
  // Different settings give different keys.
  bad = LogMelConfig();
  bad.top_db = 60.0;
  CHECK(bad.key() != c.key());
}

TEST_CASE("Slaney mel scale and the periodic Hann window") {
  CHECK(asrc::hz_to_mel_slaney(1000.0) == doctest::Approx(15.0));
  CHECK(asrc::hz_to_mel_slaney(6400.0) == doctest::Approx(42.0));
  CHECK(asrc::hz_to_mel_slaney(200.0) == doctest::Approx(3.0));
  for (double hz : {0.0, 40.0, 500.0, 999.0, 1000.0, 1001.0, 4000.0, 8000.0})
    CHECK(asrc::mel_to_hz_slaney(asrc::hz_to_mel_slaney(hz)) == doctest::Approx(hz).epsilon(1e-12));
  const LogMel lm;
  const auto& w = lm.window();
  REQUIRE(w.size() == 480);
  CHECK(w[0] == 0.0);
  CHECK(w[240] == doctest::Approx(1.0));
  CHECK(w[120] == doctest::Approx(0.5));
  for (size_t k = 1; k < 480; ++k) CHECK(w[k] == doctest::Approx(w[480 - k]).epsilon(1e-12));
}

TEST_CASE("Mel filterbank: 241 x 40 Slaney-normalised triangles") {
  const LogMelConfig c;
  const LogMel lm(c);
  const asrc::Matrix<double>& fb = lm.filterbank();
  REQUIRE(fb.rows() == 241);
  REQUIRE(fb.cols() == 40);
  const std::vector<double> f = asrc::mel_points_slaney(c.f_min, c.f_max, c.n_mels);
  REQUIRE(f.size() == 42);
  CHECK(f.front() == doctest::Approx(40.0));
  CHECK(f.back() == doctest::Approx(4000.0));
  const double df = 8000.0 / 240.0;  // bin spacing
  double max_area_err = 0.0;
  for (int m = 0; m < 40; ++m) {
    CAPTURE(m);
    const double lo = f[m], mid = f[m + 1], hi = f[m + 2];
    const double height = 2.0 / (hi - lo);  // unit area triangle of base hi - lo
    double area = 0.0, peak = 0.0;
    Index arg = -1;
    for (Index k = 0; k < 241; ++k) {
      const double hz = k * df, v = fb(k, m);
      CHECK(v >= 0.0);
      if (hz <= lo || hz >= hi) CHECK(v == 0.0);  // support strictly inside (lo, hi)
      CHECK(v == doctest::Approx(naive_weight(hz, m, 40, 40.0, 4000.0)).epsilon(1e-9));
      area += v * df;
      if (v > peak) {
        peak = v;
        arg = k;
      }
    }
    // The sampled peak is the bin next to the centre frequency, never above the
    // continuous peak height, and the continuous triangle peaks exactly there.
    CHECK(std::abs(arg * df - mid) < df);
    CHECK(peak <= height * (1.0 + 1e-12));
    CHECK(peak >= height * (1.0 - df / std::min(mid - lo, hi - mid)));
    // Area normalisation: the sampled triangle's Riemann sum approximates 1
    // (exactly so as the triangle becomes wide compared with the bin spacing).
    max_area_err = std::max(max_area_err, std::abs(area - 1.0));
    if (hi - lo > 6 * df) CHECK(area == doctest::Approx(1.0).epsilon(0.02));
    else CHECK(area == doctest::Approx(1.0).epsilon(0.25));
    // Each band's height is 2 / width: wider bands are lower.
    if (m > 0) CHECK(height < 2.0 / (f[m + 1] - f[m - 1]) + 1e-15);
  }
  MESSAGE("largest |area - 1| over the 40 sampled triangles: " << max_area_err);
  // Below 1 kHz the bands are equally spaced in Hz (linear part of the scale).
  CHECK(f[2] - f[1] == doctest::Approx(f[3] - f[2]));
}

TEST_CASE("Frame counts: 1 + n / hop STFT frames, fixed to 101 on output") {
  const LogMel lm;
  CHECK(lm.stft_frames(16000) == 101);
  CHECK(lm.stft_frames(15999) == 100);
  CHECK(lm.stft_frames(16160) == 102);
  CHECK(lm.stft_frames(8000) == 51);
  CHECK(lm.stft_frames(1) == 1);
  CHECK(lm.stft_frames(0) == 1);
  LogMel l2;
  const auto x = noise(16000, 1);
  const asrc::Matrix<double> db = l2.log_mel(x.data(), 16000);
  CHECK(db.rows() == 101);
  CHECK(db.cols() == 40);
  CHECK(l2.compute(x).size() == 101 * 40);
}

TEST_CASE("Reflect padding index map") {
  // n = 5: ... x2 x1 | x0 x1 x2 x3 x4 | x3 x2 ...
  CHECK(LogMel::reflect(-1, 5) == 1);
  CHECK(LogMel::reflect(-2, 5) == 2);
  CHECK(LogMel::reflect(5, 5) == 3);
  CHECK(LogMel::reflect(6, 5) == 2);
  CHECK(LogMel::reflect(3, 5) == 3);
  // Beyond one reflection (clips shorter than n_fft / 2): periodic continuation.
  CHECK(LogMel::reflect(-4, 3) == 0);
  CHECK(LogMel::reflect(-3, 3) == 1);
  CHECK(LogMel::reflect(-5, 3) == 1);
  CHECK(LogMel::reflect(7, 3) == 1);
  CHECK(LogMel::reflect(-9, 1) == 0);
}

TEST_CASE("Whole feature maps match a naive direct-DFT computation") {
  SUBCASE("1 s noise + tone, z-scored") {
    LogMelConfig c;
    auto x = noise(16000, 7);
    const auto t = tone(440.0, 16000, 0.2);
    for (size_t i = 0; i < x.size(); ++i) x[i] += t[i];
    LogMel lm(c);
    std::vector<double> naive_mel_spec;
    const std::vector<double> ref = naive_features(x, c, &naive_mel_spec);
    // Magnitude mel spectrogram before any logarithm: relative agreement.
    const asrc::Matrix<double> S = lm.mel_spectrogram(x.data(), 16000);
    REQUIRE(S.size() == static_cast<Index>(naive_mel_spec.size()));
    double worst = 0.0;
    for (Index i = 0; i < S.size(); ++i)
      worst = std::max(worst, std::abs(S.data()[i] - naive_mel_spec[static_cast<size_t>(i)]) /
                                  (std::abs(naive_mel_spec[static_cast<size_t>(i)]) + 1e-12));
    CHECK(worst < 1e-9);
    const std::vector<float> y = lm.compute(x);
    REQUIRE(y.size() == ref.size());
    double worst_y = 0.0;
    for (size_t i = 0; i < y.size(); ++i) worst_y = std::max(worst_y, std::abs(y[i] - ref[i]));
    CHECK(worst_y < 1e-5);
    MESSAGE("max |feature - naive| (1 s): " << worst_y << ", max rel. mel error " << worst);
  }
  SUBCASE("0.37 s clip without z-score: padded frames and dB values") {
    LogMelConfig c;
    c.zscore = false;
    const auto x = noise(5920, 11, 0.05);
    LogMel lm(c);
    const std::vector<double> ref = naive_features(x, c);
    const std::vector<float> y = lm.compute(x);
    REQUIRE(y.size() == ref.size());
    for (size_t i = 0; i < y.size(); ++i) {
      CAPTURE(i);
      REQUIRE(y[i] == doctest::Approx(ref[i]).epsilon(1e-6));
    }
  }
  SUBCASE("1.5 s clip: truncated to 101 frames after the clip-wide dB reference") {
    LogMelConfig c;
    auto x = noise(24000, 3, 0.01);
    for (size_t i = 17000; i < 24000; ++i) x[i] *= 50.0f;  // loudest part is cut off
    LogMel lm(c);
    const std::vector<double> ref = naive_features(x, c);
    const std::vector<float> y = lm.compute(x);
    double worst = 0.0;
    for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::abs(y[i] - ref[i]));
    CHECK(worst < 1e-5);
    c.zscore = false;
    LogMel raw(c);
    const std::vector<float> r = raw.compute(x);
    CHECK(*std::max_element(r.begin(), r.end()) < -10.0f);  // the 0 dB maximum lies beyond frame 101
  }
}

TEST_CASE("A pure tone lands in the mel band that contains its frequency") {
  for (double hz : {1000.0, 440.0, 2500.0}) {
    CAPTURE(hz);
    LogMel lm;
    const std::vector<float> y = lm.compute(tone(hz, 16000));
    std::vector<double> avg(40, 0.0);
    for (Index t = 0; t < 101; ++t)
      for (Index m = 0; m < 40; ++m) avg[static_cast<size_t>(m)] += y[static_cast<size_t>(t * 40 + m)] / 101.0;
    const Index best = std::max_element(avg.begin(), avg.end()) - avg.begin();
    const std::vector<double> f = asrc::mel_points_slaney(40.0, 4000.0, 40);
    CHECK(f[static_cast<size_t>(best)] < hz);  // band `best` spans (f[best], f[best + 2])
    CHECK(hz < f[static_cast<size_t>(best) + 2]);
    // and it is the band whose triangle weighs that frequency most.
    Index heaviest = 0;
    for (Index m = 1; m < 40; ++m)
      if (naive_weight(hz, static_cast<int>(m), 40, 40.0, 4000.0) >
          naive_weight(hz, static_cast<int>(heaviest), 40, 40.0, 4000.0))
        heaviest = m;
    CHECK(best == heaviest);
  }
}

TEST_CASE("Silence: std = 0, z-score skipped, all values equal and finite") {
  LogMel lm;
  const std::vector<float> y = lm.compute(std::vector<float>(16000, 0.0f));
  REQUIRE(y.size() == 4040);
  for (float v : y) CHECK(v == 0.0f);
  // A clip shorter than the padding, and an empty clip, still give finite features.
  const std::vector<float> s = lm.compute(noise(100, 5));
  for (float v : s) CHECK(std::isfinite(v));
  CHECK(mean_of(s) == doctest::Approx(0.0).epsilon(1e-5));
  const std::vector<float> e = lm.compute(std::vector<float>());
  for (float v : e) CHECK(v == 0.0f);
}

TEST_CASE("0.5 s clip: 51 frames of signal, 50 appended frames of 0 dB") {
  const auto x = noise(8000, 9);
  LogMelConfig c;
  c.zscore = false;
  LogMel raw(c);
  const std::vector<float> r = raw.compute(x);
  REQUIRE(r.size() == 4040);
  for (size_t i = 51 * 40; i < r.size(); ++i) CHECK(r[i] == 0.0f);
  float top = -1000.0f, low = 1000.0f;
  for (size_t i = 0; i < 51 * 40; ++i) {
    top = std::max(top, r[i]);
    low = std::min(low, r[i]);
  }
  CHECK(top == 0.0f);  // the clip maximum is the 0 dB reference
  CHECK(low >= -80.0f);
  LogMel lm;
  const std::vector<float> y = lm.compute(x);
  const float pad = y[51 * 40];
  for (size_t i = 51 * 40; i < y.size(); ++i) CHECK(y[i] == pad);
  for (size_t i = 0; i < 51 * 40; ++i) CHECK(y[i] <= pad);
  CHECK(mean_of(y) == doctest::Approx(0.0).scale(1.0).epsilon(1e-5));
  CHECK(sd_of(y) == doctest::Approx(1.0).epsilon(1e-5));
  // z-scoring is the affine map of the raw values.
  const double m = mean_of(r), s = sd_of(r);
  for (size_t i = 0; i < y.size(); i += 97) CHECK(y[i] == doctest::Approx((r[i] - m) / s).epsilon(1e-4));
}

TEST_CASE("dB floor: values never go below max - 80 dB") {
  // Half digital silence, half loud tone: silent frames sit exactly at -80.
  std::vector<float> x(16000, 0.0f);
  const auto t = tone(700.0, 8000, 0.9);
  std::copy(t.begin(), t.end(), x.begin() + 8000);
  LogMelConfig c;
  c.zscore = false;
  LogMel lm(c);
  const std::vector<float> r = lm.compute(x);
  CHECK(*std::min_element(r.begin(), r.end()) == -80.0f);
  CHECK(*std::max_element(r.begin(), r.end()) == 0.0f);
  for (Index m = 0; m < 40; ++m) CHECK(r[static_cast<size_t>(10 * 40 + m)] == -80.0f);  // frame 10: silence
}
