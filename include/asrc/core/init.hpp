#pragma once
// How modules draw their initial parameters: the schemes and the one draw of a dense
// weight matrix that every module uses (hidden layers, extra inputs, readout).
#include <cmath>

#include "asrc/core/random.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

/// How a module draws its initial parameters.
enum class InitScheme {
  uniform,  ///< torch's defaults (Table 1): U(+-1/sqrt(fan_in)) weights and biases, W_rec orthogonal
  normal,   ///< Zeng et al.: N(0, 1/fan_in) weights (W_rec too), readout bias N(0, 1), hidden bias 0
  kaiming,  ///< ScSr-SNN (TSSL-BP's code): N(0, 2/fan_in) weights, biases 0, W_rec N(0, 1/H)
};

/// W (out x fan_in, fan_in = its columns): U(+-1/sqrt(fan_in)), N(0, 1/fan_in) or N(0, 2/fan_in), drawn
/// row by row (the order fixes the stream of draws, and so every initial weight).
template <typename Derived>
void draw_linear(Eigen::MatrixBase<Derived>& W, Rng& rng, InitScheme scheme) {
  using T = typename Derived::Scalar;
  const double bound = (scheme == InitScheme::kaiming ? std::sqrt(2.0) : 1.0) / std::sqrt(static_cast<double>(W.cols()));
  for (Index i = 0; i < W.rows(); ++i)
    for (Index j = 0; j < W.cols(); ++j)
      W(i, j) = static_cast<T>(scheme == InitScheme::uniform ? rng.uniform(-bound, bound) : rng.normal() * bound);
}

}  // namespace asrc
