#pragma once
// Row kernels that exploit 0/1 spikes.
//
// project_rows computes out.row(i) (=|+=) bias + sum_k x(i,k) * WT.row(k), walking k in
// increasing order and skipping x(i,k) == 0. For binary spike inputs this is a sum of
// selected weight rows (a gather, no multiplications by 0 or 1). Every output row is
// computed by the same instruction sequence whatever the number of rows, which is
// what makes streaming inference (one row per step) equal to whole-sequence inference
// bit for bit. Eigen's GEMM gives no such guarantee (it switches to GEMV for one row).
#include "asrc/core/types.hpp"

namespace asrc {

/// out(i,:) = [out(i,:) if accumulate else bias or 0] + sum_k x(i,k) WT(k,:).
/// WT is the transposed weight (F x H, row-major) so that row k is contiguous.
template <typename T, typename XDerived, typename ODerived>
void project_rows(const Eigen::MatrixBase<XDerived>& x, const Matrix<T>& WT, const T* bias,
                  Eigen::MatrixBase<ODerived>& out, bool accumulate) {
  const Index n = x.rows(), F = x.cols(), H = WT.cols();
  for (Index i = 0; i < n; ++i) {
    Eigen::Map<RowVector<T>> o(&out.derived().coeffRef(i, 0), H);
    if (!accumulate) {
      if (bias)
        o = Eigen::Map<const RowVector<T>>(bias, H);
      else
        o.setZero();
    }
    for (Index k = 0; k < F; ++k) {
      const T xv = x.derived().coeff(i, k);
      if (xv == T(0)) continue;
      if (xv == T(1))
        o += WT.row(k);
      else
        o += xv * WT.row(k);
    }
  }
}

}  // namespace asrc
