#pragma once
// Log-mel features of the GSC pipeline (reference semantics, section 6).
//
// For one clip x[0..n) sampled at 16 kHz:
//  1. STFT as torch.stft(center=True, pad_mode='reflect', onesided=True): the
//     signal is extended by n_fft/2 samples on both sides by reflection about
//     the first / last sample (the edge sample itself is not repeated), frame t
//     covers padded samples [t*hop, t*hop + n_fft), multiplied by the periodic
//     Hann window w[k] = 0.5 - 0.5 cos(2 pi k / n_fft). Frames: 1 + n / hop
//     (16000 samples -> 101). Magnitude |X| of the n_fft/2 + 1 bins (power 1).
//  2. Mel: S = |X| * fb, where fb[bin, band] are the triangles of
//     torchaudio.functional.melscale_fbanks(mel_scale='slaney', norm='slaney'):
//     n_mels + 2 points equally spaced on the Slaney mel scale between f_min
//     and f_max, triangle m rising from point m to m+1 and falling to m+2,
//     scaled by 2 / (f[m+2] - f[m]) so each has unit area in Hz, evaluated at
//     the bin frequencies linspace(0, sample_rate / 2, n_fft/2 + 1).
//  3. dB relative to the clip: 10 log10(max(amin, S)) - 10 log10(max(amin, max S)),
//     floored at -top_db, so every value lies in [-top_db, 0].
//  4. Frames fixed to `frames`: extra frames dropped, missing frames appended
//     with value 0 (after step 3, so 0 is the clip's loudest level).
//  5. z-score over all frames x n_mels values with the unbiased standard
//     deviation (divisor count - 1); skipped when that std is 0 (all equal).
// Output: frames x n_mels floats, row-major and time-major (row t = frame t).
//
// Precision: every step runs in double (window, Eigen's kissfft FFT, filterbank,
// logarithms, statistics); only the final features are rounded to float.
// torchaudio runs in float32, so values agree with it to about 1e-5 relative.
//
// Very short clips: torch's reflect padding requires n > n_fft/2 and raises
// otherwise. Here the reflection is continued periodically (as numpy.pad's
// 'reflect' mode does: period 2(n-1)), a single sample is repeated, and an
// empty clip is padded with zeros, so every input length gives features.
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <unsupported/Eigen/FFT>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

/// Settings of the log-mel pipeline; the defaults are the GSC reference values.
struct LogMelConfig {
  int sample_rate = 16000;  ///< Hz; inputs must already be at this rate
  int n_fft = 480;          ///< FFT size = window length (30 ms)
  int hop_length = 160;     ///< frame step (10 ms)
  int n_mels = 40;          ///< mel bands
  double f_min = 40.0;      ///< Hz, lower edge of the first triangle
  double f_max = 4000.0;    ///< Hz, upper edge of the last triangle
  double amin = 1e-10;      ///< floor inside the logarithm
  double top_db = 80.0;     ///< dynamic range kept below the clip maximum
  int frames = 101;         ///< output frames (pad with 0 / truncate)
  bool zscore = true;       ///< per-clip standardisation (step 5)

  void validate() const {
    const char* w = "LogMelConfig::validate";
    require(sample_rate > 0, w, "sample_rate > 0", sample_rate);
    require(n_fft >= 2, w, "n_fft >= 2", n_fft);
    require(hop_length >= 1, w, "hop_length >= 1", hop_length);
    require(n_mels >= 1, w, "n_mels >= 1", n_mels);
    require(f_min >= 0.0 && f_min < f_max, w, "0 <= f_min < f_max",
            str_cat("f_min ", f_min, ", f_max ", f_max));
    require(f_max <= sample_rate / 2, w, str_cat("f_max <= sample_rate / 2 = ", sample_rate / 2),
            f_max);
    require(amin > 0.0, w, "amin > 0", amin);
    require(top_db > 0.0, w, "top_db > 0", top_db);
    require(frames >= 1, w, "frames >= 1", frames);
  }

  /// Every field, printed exactly (for cache keys and logs).
  std::string key() const {
    return str_cat("logmel sr=", sample_rate, " n_fft=", n_fft, " hop=", hop_length,
                   " mels=", n_mels, " fmin=", hex_double(f_min), " fmax=", hex_double(f_max),
                   " amin=", hex_double(amin), " top_db=", hex_double(top_db),
                   " frames=", frames, " zscore=", zscore ? 1 : 0,
                   " window=hann-periodic center=reflect power=1 mel=slaney norm=slaney");
  }

 private:
  static std::string hex_double(double v) {
    std::ostringstream os;
    os << std::hexfloat << v;
    return os.str();
  }
};

/// Hz -> mel on the Slaney (Auditory Toolbox) scale: linear below 1 kHz
/// (3 mels per 200 Hz), logarithmic above (27 mels per factor 6.4).
inline double hz_to_mel_slaney(double hz) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  if (hz >= min_log_hz) return min_log_mel + std::log(hz / min_log_hz) / logstep;
  return hz / f_sp;
}

/// Inverse of hz_to_mel_slaney.
inline double mel_to_hz_slaney(double mel) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  if (mel >= min_log_mel) return min_log_hz * std::exp(logstep * (mel - min_log_mel));
  return f_sp * mel;
}

/// The n_mels + 2 triangle corner frequencies (Hz): equally spaced in Slaney mel.
inline std::vector<double> mel_points_slaney(double f_min, double f_max, int n_mels) {
  require(n_mels >= 1, "mel_points_slaney", "n_mels >= 1", n_mels);
  const double m0 = hz_to_mel_slaney(f_min), m1 = hz_to_mel_slaney(f_max);
  std::vector<double> f(static_cast<size_t>(n_mels) + 2);
  const double step = (m1 - m0) / static_cast<double>(n_mels + 1);
  for (size_t i = 0; i < f.size(); ++i) f[i] = mel_to_hz_slaney(m0 + step * static_cast<double>(i));
  return f;
}

/// Slaney-normalised triangular mel filterbank, n_freqs x n_mels (column m is
/// band m), with bin k at frequency k * (sample_rate / 2) / (n_freqs - 1).
inline Matrix<double> mel_filterbank_slaney(int n_freqs, double f_min, double f_max, int n_mels,
                                            int sample_rate) {
  require(n_freqs >= 2, "mel_filterbank_slaney", "n_freqs >= 2", n_freqs);
  const std::vector<double> f = mel_points_slaney(f_min, f_max, n_mels);
  // torchaudio uses sample_rate // 2 (integer division) as the top bin frequency.
  const double nyquist = static_cast<double>(sample_rate / 2);
  Matrix<double> fb(n_freqs, n_mels);
  for (int k = 0; k < n_freqs; ++k) {
    const double hz = nyquist * static_cast<double>(k) / static_cast<double>(n_freqs - 1);
    for (int m = 0; m < n_mels; ++m) {
      const double lo = f[static_cast<size_t>(m)], mid = f[static_cast<size_t>(m) + 1],
                   hi = f[static_cast<size_t>(m) + 2];
      const double rise = (hz - lo) / (mid - lo), fall = (hi - hz) / (hi - mid);
      const double tri = std::max(0.0, std::min(rise, fall));
      fb(k, m) = tri * 2.0 / (hi - lo);
    }
  }
  return fb;
}

/// Periodic Hann window of length n: 0.5 - 0.5 cos(2 pi k / n).
inline std::vector<double> hann_periodic(int n) {
  require(n >= 1, "hann_periodic", "n >= 1", n);
  std::vector<double> w(static_cast<size_t>(n));
  const double two_pi = 6.283185307179586476925286766559;
  for (int k = 0; k < n; ++k)
    w[static_cast<size_t>(k)] = 0.5 - 0.5 * std::cos(two_pi * k / static_cast<double>(n));
  return w;
}

/// Computes log-mel features with a precomputed window and filterbank.
/// Not thread-safe (it owns FFT plans and scratch buffers): give each thread its
/// own copy.
class LogMel {
 public:
  explicit LogMel(const LogMelConfig& cfg = LogMelConfig()) : cfg_(cfg) {
    cfg_.validate();
    window_ = hann_periodic(cfg_.n_fft);
    const int bins = cfg_.n_fft / 2 + 1;
    fb_ = mel_filterbank_slaney(bins, cfg_.f_min, cfg_.f_max, cfg_.n_mels, cfg_.sample_rate);
    // Nonzero bin range of every band, so the mel product skips the zeros.
    first_.assign(static_cast<size_t>(cfg_.n_mels), 0);
    last_.assign(static_cast<size_t>(cfg_.n_mels), -1);
    for (int m = 0; m < cfg_.n_mels; ++m) {
      Index lo = -1, hi = -2;
      for (Index k = 0; k < bins; ++k)
        if (fb_(k, m) != 0.0) {
          if (lo < 0) lo = k;
          hi = k;
        }
      first_[static_cast<size_t>(m)] = lo < 0 ? 0 : lo;
      last_[static_cast<size_t>(m)] = lo < 0 ? -1 : hi;
    }
    fft_.SetFlag(Eigen::FFT<double>::HalfSpectrum);
    frame_.resize(static_cast<size_t>(cfg_.n_fft));
    spec_.resize(static_cast<size_t>(bins));
    mag_.resize(static_cast<size_t>(bins));
  }

  const LogMelConfig& config() const { return cfg_; }
  Index bins() const { return cfg_.n_fft / 2 + 1; }
  Index bands() const { return cfg_.n_mels; }
  Index frames() const { return cfg_.frames; }
  const Matrix<double>& filterbank() const { return fb_; }  ///< bins x n_mels
  const std::vector<double>& window() const { return window_; }

  /// STFT frames for n samples (before fixing to config().frames): 1 + n / hop.
  Index stft_frames(Index n) const {
    const Index pad = cfg_.n_fft / 2;
    const Index padded = n + 2 * pad;
    return padded < cfg_.n_fft ? 0 : 1 + (padded - cfg_.n_fft) / cfg_.hop_length;
  }

  /// Magnitude mel spectrogram, stft_frames(n) x n_mels (steps 1-2).
  Matrix<double> mel_spectrogram(const float* x, Index n) {
    require(n >= 0 && (n == 0 || x != nullptr), "LogMel::mel_spectrogram",
            "a sample pointer and n >= 0", n);
    const Index L = stft_frames(n), nfft = cfg_.n_fft, pad = nfft / 2;
    Matrix<double> S(L, cfg_.n_mels);
    padded_.resize(static_cast<size_t>(n + 2 * pad));
    for (Index j = 0; j < n + 2 * pad; ++j)
      padded_[static_cast<size_t>(j)] = n == 0 ? 0.0 : static_cast<double>(x[reflect(j - pad, n)]);
    for (Index t = 0; t < L; ++t) {
      const double* src = padded_.data() + t * cfg_.hop_length;
      for (Index k = 0; k < nfft; ++k)
        frame_[static_cast<size_t>(k)] = src[k] * window_[static_cast<size_t>(k)];
      fft_.fwd(spec_.data(), frame_.data(), nfft);
      for (Index k = 0; k < bins(); ++k) mag_[static_cast<size_t>(k)] = std::abs(spec_[static_cast<size_t>(k)]);
      for (Index m = 0; m < cfg_.n_mels; ++m) {
        double acc = 0.0;
        for (Index k = first_[static_cast<size_t>(m)]; k <= last_[static_cast<size_t>(m)]; ++k)
          acc += fb_(k, m) * mag_[static_cast<size_t>(k)];
        S(t, m) = acc;
      }
    }
    return S;
  }

  /// dB below the clip maximum, floored at -top_db, stft_frames(n) x n_mels (steps 1-3).
  Matrix<double> log_mel(const float* x, Index n) {
    Matrix<double> S = mel_spectrogram(x, n);
    // Plain loops (not Eigen reductions) keep GCC's -Wmaybe-uninitialized
    // false positives on AVX-512 reductions out of user builds.
    double* v = S.data();
    const Index count = S.size();
    if (count == 0) return S;
    double ref = -std::numeric_limits<double>::infinity();
    for (Index i = 0; i < count; ++i) {
      v[i] = 10.0 * std::log10(std::max(cfg_.amin, v[i]));
      ref = std::max(ref, v[i]);
    }
    const double floor = ref - cfg_.top_db;
    for (Index i = 0; i < count; ++i) v[i] = std::max(v[i], floor) - ref;
    return S;
  }

  /// The full pipeline: writes frames() x n_mels floats (time-major) to `out`.
  void compute(const float* x, Index n, float* out) {
    const Matrix<double> db = log_mel(x, n);
    const Index T = cfg_.frames, M = cfg_.n_mels, keep = std::min<Index>(T, db.rows());
    const Index count = T * M;
    y_.assign(static_cast<size_t>(count), 0.0);  // frames past the clip stay 0 dB
    std::copy(db.data(), db.data() + keep * M, y_.begin());
    if (cfg_.zscore && count > 1) {
      double sum = 0.0, lo = y_[0], hi = y_[0];
      for (double v : y_) {
        sum += v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      const double mean = sum / static_cast<double>(count);
      double ss = 0.0;
      for (double v : y_) ss += (v - mean) * (v - mean);
      const double sd = std::sqrt(ss / static_cast<double>(count - 1));
      // All-equal inputs give sd == 0 (or, through rounding of the mean, a few
      // ulps); both mean "no spread": leave the values unscaled as specified.
      if (sd > 0.0 && hi != lo)
        for (double& v : y_) v = (v - mean) / sd;
    }
    for (Index i = 0; i < count; ++i) out[i] = static_cast<float>(y_[static_cast<size_t>(i)]);
  }

  std::vector<float> compute(const std::vector<float>& x) {
    std::vector<float> out(static_cast<size_t>(cfg_.frames * cfg_.n_mels));
    compute(x.data(), static_cast<Index>(x.size()), out.data());
    return out;
  }

  /// Index into x[0..n) of padded position j (j < 0 or j >= n are reflected).
  static Index reflect(Index j, Index n) {
    if (j >= 0 && j < n) return j;
    if (n == 1) return 0;
    const Index period = 2 * (n - 1);
    Index r = j % period;
    if (r < 0) r += period;
    return r < n ? r : period - r;
  }

 private:
  LogMelConfig cfg_;
  std::vector<double> window_;
  Matrix<double> fb_;
  std::vector<Index> first_, last_;
  Eigen::FFT<double> fft_;
  std::vector<double> padded_, frame_, mag_, y_;
  std::vector<std::complex<double>> spec_;
};

}  // namespace asrc
