#pragma once
// Basic matrix types and the time-major sequence layout used throughout asrc.
//
// A batch of B sequences of T steps with F features is stored time-major as one
// row-major (T*B) x F matrix: row t*B + b is sample b at step t, so one time
// step is a contiguous B x F block and a whole-sequence product is a single GEMM.
#include "asrc/core/eigen.hpp"
#include <cstdint>

namespace asrc {

using Index = Eigen::Index;

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <typename T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;
template <typename T>
using MatrixMap = Eigen::Map<Matrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>>;

/// Rows of step t in a time-major (T*B) x F matrix.
template <typename Derived>
auto step_rows(Eigen::MatrixBase<Derived>& m, Index t, Index batch) {
  return m.middleRows(t * batch, batch);
}
template <typename Derived>
auto step_rows(const Eigen::MatrixBase<Derived>& m, Index t, Index batch) {
  return m.middleRows(t * batch, batch);
}

}  // namespace asrc
