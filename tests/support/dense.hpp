#pragma once
// Random dense matrices and the per-type tolerance of the kernel tests (core/kernels.hpp,
// core/small_gemm.hpp against Eigen's products).
#include <random>
#include <type_traits>

#include "asrc/core/types.hpp"

namespace asrc_test {

/// Entries uniform in [-1, 1).
template <typename T>
asrc::Matrix<T> dense_matrix(asrc::Index rows, asrc::Index cols, std::mt19937& g) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  asrc::Matrix<T> m(rows, cols);
  for (asrc::Index i = 0; i < m.size(); ++i) m.data()[i] = T(u(g));
  return m;
}

/// Relative tolerance per term of a sum: a result is checked against
/// tolerance * (its scale) * (number of terms).
template <typename T>
double kernel_tolerance() {
  return std::is_same<T, float>::value ? 2e-6 : 1e-14;
}

}  // namespace asrc_test
