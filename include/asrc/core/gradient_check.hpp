#pragma once
// Central finite-difference gradient check over a flat parameter buffer.
//
// One checker serves every module: it perturbs the elements of a flat buffer (module
// parameters, or an input) and compares (f(p + h) - f(p - h)) / 2h with the analytic
// gradient. Run the forward pass with SpikeFunction::smooth so that the surrogate is
// the exact derivative of what is being differenced.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "asrc/core/parameters.hpp"

namespace asrc {

struct GradientCheckResult {
  double max_rel_error = 0.0;  ///< worst normwise relative error over the checked tensors
  std::string worst;           ///< name of that tensor
  double analytic_norm = 0.0;  ///< L2 norm of the whole analytic gradient (must be > 0)
  Index checked = 0;           ///< elements perturbed
};

/// Normwise relative error of one tensor: ||a - n|| / max(||a||, ||n||, floor).
inline double normwise_relative_error(const std::vector<double>& a, const std::vector<double>& n,
                                      double floor) {
  double diff = 0, na = 0, nn = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - n[i]) * (a[i] - n[i]);
    na += a[i] * a[i];
    nn += n[i] * n[i];
  }
  return std::sqrt(diff) / std::max({std::sqrt(na), std::sqrt(nn), floor});
}

/// Check `analytic` (same layout as `x`) against finite differences of `loss(x)`.
/// `layout` names the tensors; every element is perturbed. `floor` keeps an all-zero
/// tensor from dividing by zero (its error is then absolute).
/// The loss may return any floating type; the difference is taken in that type, so a
/// long double loss keeps finite-difference rounding far below double precision.
template <typename T, typename Loss>
GradientCheckResult check_gradient(Loss&& loss, Vector<T> x, const Vector<T>& analytic,
                                   const ParamLayout& layout, double h, double floor = 1e-12) {
  GradientCheckResult r;
  r.analytic_norm = static_cast<double>(analytic.template cast<double>().norm());
  for (const auto& e : layout.entries()) {
    std::vector<double> a, n;
    for (Index i = e.offset; i < e.offset + e.size(); ++i) {
      const T orig = x[i];
      x[i] = orig + static_cast<T>(h);
      const auto fp = loss(x);
      x[i] = orig - static_cast<T>(h);
      const auto fm = loss(x);
      x[i] = orig;
      // Divide by the step actually taken (it is rounded in float).
      const double step = static_cast<double>(static_cast<T>(orig + static_cast<T>(h))) -
                          static_cast<double>(static_cast<T>(orig - static_cast<T>(h)));
      n.push_back(static_cast<double>(fp - fm) / step);
      a.push_back(static_cast<double>(analytic[i]));
      ++r.checked;
    }
    const double err = normwise_relative_error(a, n, floor);
    if (err >= r.max_rel_error) {
      r.max_rel_error = err;
      r.worst = e.name;
    }
  }
  return r;
}

}  // namespace asrc
