// The small dense kernels of the ASRC mixture (core/small_gemm.hpp) against Eigen and
// against plain loops, for float and double, at shapes that reach every tiling case
// (full row groups and single rows, 2- and 1-vector column tiles, scalar tails; full
// and partial lag tiles); and the exact-skipping options: leaving out zero terms changes
// no value.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <random>

#include "asrc/core/small_gemm.hpp"
#include "../support/dense.hpp"

using namespace asrc;

namespace {

template <typename T>
Matrix<T> random_matrix(Index rows, Index cols, std::mt19937& g) {
  return asrc_test::dense_matrix<T>(rows, cols, g);
}

template <typename T>
double tol() {
  return asrc_test::kernel_tolerance<T>();
}

/// |a - b|_max relative to |b|_max.
template <typename T>
double rel_diff(const Matrix<T>& a, const Matrix<T>& b) {
  return double((a - b).cwiseAbs().maxCoeff()) / std::max(1e-300, double(b.cwiseAbs().maxCoeff()));
}

}  // namespace

TEST_CASE_TEMPLATE("rows_gemm equals Eigen's product at every tiling case", T, float, double) {
  std::mt19937 g(7);
  std::vector<Index> ks;
  for (Index rows : {1, 3, 8, 16, 19})
    for (Index k : {1, 5, 41, 128})
      for (Index n : {1, 7, 16, 33, 64, 212, 2048}) {
        const Matrix<T> a = random_matrix<T>(rows, k, g), B = random_matrix<T>(k, n, g);
        const Matrix<T> out0 = random_matrix<T>(rows, n, g);
        Matrix<T> want = out0;
        want.noalias() += a * B;
        for (bool skip : {false, true}) {
          Matrix<T> got = out0;
          rows_gemm<T>(rows, k, n, a.data(), k, B.data(), n, got.data(), n, skip, ks);
          INFO("rows " << rows << " k " << k << " n " << n << " skip " << skip);
          CHECK(rel_diff(got, want) <= tol<T>() * double(k));
          // accumulate = false: out is overwritten (NaN before), whatever skip_zero leaves out.
          Matrix<T> set = Matrix<T>::Constant(rows, n, std::numeric_limits<T>::quiet_NaN());
          rows_gemm<T>(rows, k, n, a.data(), k, B.data(), n, set.data(), n, skip, ks, false);
          const Matrix<T> prod = a * B;
          CHECK(rel_diff(set, prod) <= tol<T>() * double(k));
        }
      }
}

TEST_CASE_TEMPLATE("rows_gemm reads strided operands and writes only its block", T, float, double) {
  std::mt19937 g(8);
  std::vector<Index> ks;
  const Index rows = 9, k = 20, n = 50;
  // Sub-blocks of larger matrices: a's and B's strides exceed their widths.
  const Matrix<T> abig = random_matrix<T>(rows, k + 3, g), Bbig = random_matrix<T>(k, n + 5, g);
  Matrix<T> obig = random_matrix<T>(rows, n + 4, g);
  const Matrix<T> before = obig;
  rows_gemm<T>(rows, k, n, abig.data() + 1, k + 3, Bbig.data() + 2, n + 5, obig.data() + 3, n + 4, true, ks);
  const Matrix<T> want = before.block(0, 3, rows, n) + abig.block(0, 1, rows, k) * Bbig.block(0, 2, k, n);
  CHECK(rel_diff<T>(obig.block(0, 3, rows, n), want) <= tol<T>() * double(k));
  CHECK(obig.leftCols(3) == before.leftCols(3));
  CHECK(obig.rightCols(1) == before.rightCols(1));
}

TEST_CASE_TEMPLATE("rows_gemm: leaving out the all-zero columns of a changes no value (bitwise)", T, float, double) {
  std::mt19937 g(9);
  std::vector<Index> ks;
  for (Index rows : {4, 8, 16, 17})
    for (Index n : {40, 256}) {
      const Index k = 45;
      Matrix<T> a = random_matrix<T>(rows, k, g);
      // A band (zeros below and above it, as the mixture's coefficients) and some zero
      // columns (coefficients that underflowed, silent source steps).
      for (Index i = 0; i < rows; ++i)
        for (Index j = 0; j < k; ++j)
          if (j < i || j > i + 30 || j % 7 == 3) a(i, j) = T(0);
      const Matrix<T> B = random_matrix<T>(k, n, g), out0 = random_matrix<T>(rows, n, g);
      Matrix<T> full = out0, skipped = out0;
      rows_gemm<T>(rows, k, n, a.data(), k, B.data(), n, full.data(), n, false, ks);
      rows_gemm<T>(rows, k, n, a.data(), k, B.data(), n, skipped.data(), n, true, ks);
      INFO("rows " << rows << " n " << n);
      CHECK(std::memcmp(full.data(), skipped.data(), sizeof(T) * size_t(full.size())) == 0);
    }
}

TEST_CASE_TEMPLATE("lag_correlation equals the plain sum of dot products", T, float, double) {
  std::mt19937 g(10);
  for (Index steps : {1, 2, 7, 50, 51})
    for (Index N : {3, 16, 37, 256})
      for (Index K : {1, 4, 6, 21, 41}) {
        const Matrix<T> G = random_matrix<T>(steps, N, g), Y = random_matrix<T>(steps, N, g);
        std::vector<T> got(size_t(K), T(0.5));
        std::vector<double> want(size_t(K), 0.5);
        lag_correlation<T>(G.data(), Y.data(), steps, N, K, nullptr, nullptr, got.data());
        for (Index j = 1; j <= K; ++j)
          for (Index t = j; t < steps; ++t) want[size_t(j - 1)] += double(G.row(t).dot(Y.row(t - j)));
        INFO("steps " << steps << " N " << N << " K " << K);
        for (Index j = 0; j < K; ++j)
          CHECK(std::abs(double(got[size_t(j)]) - want[size_t(j)]) <= tol<T>() * double(N * steps));
      }
}

TEST_CASE_TEMPLATE("lag_correlation: leaving out silent rows changes no value (bitwise)", T, float, double) {
  std::mt19937 g(11);
  const Index steps = 90, N = 130, K = 21;
  const Matrix<T> G = random_matrix<T>(steps, N, g);
  Matrix<T> Y = random_matrix<T>(steps, N, g);
  std::vector<std::uint8_t> silent(size_t(steps), 0);
  // Silent stretches long enough to cover whole tiles, and isolated silent rows.
  for (Index u = 0; u < steps; ++u)
    if ((u >= 10 && u < 40) || u % 9 == 5) {
      Y.row(u).setZero();
      silent[size_t(u)] = 1;
    }
  std::vector<T> full(size_t(K), T(0)), skipped(size_t(K), T(0));
  lag_correlation<T>(G.data(), Y.data(), steps, N, K, nullptr, nullptr, full.data());
  lag_correlation<T>(G.data(), Y.data(), steps, N, K, silent.data(), nullptr, skipped.data());
  CHECK(std::memcmp(full.data(), skipped.data(), sizeof(T) * size_t(K)) == 0);
  CHECK(full[0] != T(0));
  // Lags not wanted (a whole tile of 4 lags, and single ones) keep their value; the others
  // are the same bitwise.
  std::vector<T> coeff(size_t(K), T(0.5));
  for (Index j : {1, 2, 3, 4, 7, 21}) coeff[size_t(j - 1)] = T(0);
  std::vector<T> some(size_t(K), T(-3));
  lag_correlation<T>(G.data(), Y.data(), steps, N, K, silent.data(), coeff.data(), some.data());
  for (Index j = 1; j <= K; ++j) {
    INFO("lag " << j);
    if (coeff[size_t(j - 1)] == T(0)) CHECK(some[size_t(j - 1)] == T(-3));
    else CHECK(some[size_t(j - 1)] - T(-3) == doctest::Approx(double(full[size_t(j - 1)])).epsilon(1e-5));
  }
}
