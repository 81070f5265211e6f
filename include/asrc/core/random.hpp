#pragma once
// A seeded random generator whose streams are identical on every platform.
//
// std::uniform_real_distribution and std::normal_distribution are
// implementation-defined, so asrc draws its own numbers from the fully specified
// std::mt19937_64 engine: a seed gives the same network on every machine.
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

namespace asrc {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) : engine_(seed) {}

  void seed(std::uint64_t s) { engine_.seed(s); }

  /// Raw 64-bit draw.
  std::uint64_t next() { return engine_(); }

  /// Uniform double in [0, 1) with 53 random bits.
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }

  /// Standard normal (Box-Muller, both values used in turn).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = uniform01();
    const double u2 = uniform01();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 6.283185307179586476925 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

  /// Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) {
    // Rejection sampling keeps the draw unbiased and platform independent.
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = engine_(); while (x >= limit);
    return x % n;
  }

  /// Full generator state as text (engine state and the cached normal), for checkpoints.
  std::string state() const {
    std::ostringstream os;
    os.precision(17);
    os << engine_ << ' ' << has_spare_ << ' ' << spare_;
    return os.str();
  }
  void set_state(const std::string& s) {
    std::istringstream is(s);
    is >> engine_ >> has_spare_ >> spare_;
    if (!is) throw std::invalid_argument("Rng::set_state(): expected a state written by Rng::state(), got unreadable text");
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace asrc
