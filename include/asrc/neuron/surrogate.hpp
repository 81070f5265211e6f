#pragma once
// Surrogate gradients of the Heaviside spike function (paper Eq. 2 and 6; spec section 2).
//
// The forward pass fires s = H(x), x = v - theta. The backward pass replaces the
// Dirac derivative of H by a surrogate g(x). For gradient checking, asrc can also
// run the forward pass with the smooth function G(x) = integral of g (a "smooth
// spike"), so that g is the exact derivative of the forward pass and finite
// differences test the hand-derived BPTT exactly.
#include <cmath>
#include <string>

#include "asrc/core/error.hpp"

namespace asrc {

enum class Surrogate {
  triangle,   ///< max(0, 1 - |x|)                       (default of the reference)
  exp,        ///< exp(-|x|)
  rectangle,  ///< 1 if |x| < 0.5 else 0
  gaussian,   ///< multi-Gaussian of Yin et al. 2021 ("gau"); its forward fires on x > 0
};

/// How the forward pass turns x = v - theta into a spike.
enum class SpikeFunction {
  heaviside,  ///< binary spikes (training and inference)
  smooth,     ///< s = G(x), the integral of the surrogate: for gradient checks only
};

inline Surrogate parse_surrogate(const std::string& s) {
  if (s == "triangle" || s == "tri") return Surrogate::triangle;
  if (s == "exp") return Surrogate::exp;
  if (s == "rectangle" || s == "rect") return Surrogate::rectangle;
  if (s == "gaussian" || s == "gau" || s == "mg") return Surrogate::gaussian;
  fail_expected("parse_surrogate", "one of triangle, exp, rectangle, gau", "'" + s + "'");
}
inline const char* to_string(Surrogate s) {
  switch (s) {
    case Surrogate::triangle: return "triangle";
    case Surrogate::exp: return "exp";
    case Surrogate::rectangle: return "rectangle";
    case Surrogate::gaussian: return "gau";
  }
  return "?";
}

namespace detail {
template <typename T>
T gauss_pdf(T x, T mu, T sigma) {
  const T z = (x - mu) / sigma;
  return std::exp(T(-0.5) * z * z) / (sigma * T(2.50662827463100050241576528481104525L));
}
template <typename T>
T gauss_cdf(T x, T mu, T sigma) {
  return T(0.5) * std::erfc(-(x - mu) / (sigma * T(1.41421356237309504880168872420969808L)));
}
}  // namespace detail

/// g(x): the surrogate derivative used in backward.
template <typename T>
inline T surrogate_grad(Surrogate kind, T x) {
  switch (kind) {
    case Surrogate::triangle: {
      const T a = T(1) - std::abs(x);
      return a > T(0) ? a : T(0);
    }
    case Surrogate::exp: return std::exp(-std::abs(x));
    case Surrogate::rectangle: return std::abs(x) < T(0.5) ? T(1) : T(0);
    case Surrogate::gaussian: {
      return T(0.5) * (T(1.15) * detail::gauss_pdf<T>(x, T(0), T(0.5)) -
                       T(0.15) * detail::gauss_pdf<T>(x, T(0.5), T(3)) -
                       T(0.15) * detail::gauss_pdf<T>(x, T(-0.5), T(3)));
    }
  }
  return T(0);
}

/// The forward spike: H(x) (binary) or G(x) (smooth, derivative == surrogate_grad).
template <typename T>
inline T spike_value(Surrogate kind, SpikeFunction fn, T x) {
  if (fn == SpikeFunction::heaviside) {
    // The reference fires on x >= 0, except the multi-Gaussian surrogate (x > 0).
    if (kind == Surrogate::gaussian) return x > T(0) ? T(1) : T(0);
    return x >= T(0) ? T(1) : T(0);
  }
  switch (kind) {
    case Surrogate::triangle:
      if (x <= T(-1)) return T(0);
      if (x < T(0)) return T(0.5) * (x + T(1)) * (x + T(1));
      if (x < T(1)) return T(1) - T(0.5) * (T(1) - x) * (T(1) - x);
      return T(1);
    case Surrogate::exp:  // integral of exp(-|x|): rises from 0 to 2
      return x < T(0) ? std::exp(x) : T(2) - std::exp(-x);
    case Surrogate::rectangle:
      return x <= T(-0.5) ? T(0) : (x >= T(0.5) ? T(1) : x + T(0.5));
    case Surrogate::gaussian: {
      return T(0.5) * (T(1.15) * detail::gauss_cdf<T>(x, T(0), T(0.5)) -
                       T(0.15) * detail::gauss_cdf<T>(x, T(0.5), T(3)) -
                       T(0.15) * detail::gauss_cdf<T>(x, T(-0.5), T(3)));
    }
  }
  return T(0);
}

}  // namespace asrc
