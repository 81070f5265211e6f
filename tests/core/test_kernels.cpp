// The spike-aware kernels (core/kernels.hpp) against Eigen's products, for float and
// double, at every width class the tiling distinguishes (full 8-vector tiles, 2- and
// 1-vector tiles, scalar tails), for 0/1 and valued sparse inputs, and the property
// streaming relies on: a row's result does not depend on the other rows of the call.
#include <doctest/doctest.h>

#include <random>

#include "asrc/core/kernels.hpp"
#include "../support/dense.hpp"

using namespace asrc;

namespace {

template <typename T>
Matrix<T> sparse_matrix(Index rows, Index cols, double density, bool binary, std::mt19937& g) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    const bool on = u(g) < density;
    m.data()[i] = on ? (binary ? T(1) : T(std::floor(1 + 3 * u(g)))) : T(0);
  }
  return m;
}

using asrc_test::dense_matrix;

/// Tolerance relative to the largest absolute entry: sums of up to F terms of size <= 3.
template <typename T>
double tolerance() {
  return asrc_test::kernel_tolerance<T>();
}

template <typename T>
void check_widths() {
  std::mt19937 g(5);
  const Index widths[] = {1, 7, 16, 33, 64, 127, 128, 150, 212, 256, 300};
  const Index inputs[] = {1, 5, 64, 70, 140};
  for (Index H : widths) {
    for (Index F : inputs) {
      for (bool binary : {true, false}) {
        for (double density : {0.0, 0.1, 0.5, 1.0}) {
          INFO("H ", H, " F ", F, binary ? " binary" : " valued", " density ", density);
          const Index n = 23;
          const Matrix<T> x = sparse_matrix<T>(n, F, density, binary, g);
          const Matrix<T> WT = dense_matrix<T>(F, H, g);
          const Matrix<T> bias = dense_matrix<T>(1, H, g);
          // project_rows: bias + x WT.
          Matrix<T> out(n, H);
          project_rows<T>(x, WT, bias.data(), out, false);
          Matrix<T> want = x * WT;
          want.rowwise() += bias.row(0);
          const double scale = 1.0 + double(want.cwiseAbs().maxCoeff());
          CHECK(double((out - want).cwiseAbs().maxCoeff()) <= tolerance<T>() * scale * double(F));
          // accumulate mode adds to what is there.
          Matrix<T> acc = want;
          project_rows<T>(x, WT, nullptr, acc, true);
          const Matrix<T> want2 = want + x * WT;
          CHECK(double((acc - want2).cwiseAbs().maxCoeff()) <= 2 * tolerance<T>() * scale * double(F));
          // One row at a time gives the same bits as all rows at once.
          for (Index i = 0; i < n; i += 5) {
            Matrix<T> one(1, H);
            project_rows<T>(x.middleRows(i, 1), WT, bias.data(), one, false);
            CHECK((one.row(0).array() == out.row(i).array()).all());
          }
          // project_columns: x^T G.
          const Matrix<T> G = dense_matrix<T>(n, H, g);
          Matrix<T> xtg;
          project_columns<T>(x, G, xtg, false);
          const Matrix<T> want3 = x.transpose() * G;
          REQUIRE(xtg.rows() == F);
          REQUIRE(xtg.cols() == H);
          const double scale3 = 1.0 + double(want3.cwiseAbs().maxCoeff());
          CHECK(double((xtg - want3).cwiseAbs().maxCoeff()) <= tolerance<T>() * scale3 * double(n));
          // ... over a row block (non-owning view of a larger matrix), accumulating.
          project_columns<T>(x.topRows(n - 3), G.bottomRows(n - 3), xtg, true);
          const Matrix<T> want4 = want3 + x.topRows(n - 3).transpose() * G.bottomRows(n - 3);
          CHECK(double((xtg - want4).cwiseAbs().maxCoeff()) <= 2 * tolerance<T>() * scale3 * double(n));
        }
      }
    }
  }
}

}  // namespace

TEST_CASE_TEMPLATE("row and column gather kernels equal Eigen's products", T, float, double) {
  check_widths<T>();
}

TEST_CASE("0/1 inputs: the row kernel only adds weight rows (exact for small integers)") {
  // With integer-valued weights every partial sum is exact in float, so the gather
  // and the product must agree bit for bit whatever order either uses.
  std::mt19937 g(9);
  const Matrix<float> x = sparse_matrix<float>(40, 140, 0.2, true, g);
  Matrix<float> WT(140, 256);
  std::uniform_int_distribution<int> d(-50, 50);
  for (Index i = 0; i < WT.size(); ++i) WT.data()[i] = float(d(g));
  Matrix<float> out(40, 256);
  project_rows<float>(x, WT, nullptr, out, false);
  const Matrix<float> want = x * WT;
  CHECK((out.array() == want.array()).all());
}

TEST_CASE_TEMPLATE("project_columns across many row blocks: the r-ordered sum, bit for bit", T, float, double) {
  // n spans several blocks of kColumnBlockBytes of G, with a ragged last block. For 0/1
  // inputs each output element is a chain of additions in increasing r, so a plain loop
  // in that order gives the same bits; valued inputs are checked against Eigen.
  std::mt19937 g(11);
  for (Index H : {Index(64), Index(212)}) {
    const Index rows_per_block = kColumnBlockBytes / (H * Index(sizeof(T)));
    const Index n = 3 * rows_per_block + 7, F = 128;
    INFO("H ", H, " n ", n);
    const Matrix<T> x = sparse_matrix<T>(n, F, 0.1, true, g);
    const Matrix<T> G = dense_matrix<T>(n, H, g);
    Matrix<T> got = dense_matrix<T>(F, H, g);
    Matrix<T> want = got;
    project_columns<T>(x, G, got, true);
    for (Index r = 0; r < n; ++r)
      for (Index k = 0; k < F; ++k)
        if (x(r, k) != T(0))
          for (Index c = 0; c < H; ++c) want(k, c) += G(r, c);
    CHECK((got.array() == want.array()).all());

    const Matrix<T> xv = sparse_matrix<T>(n, F, 0.1, false, g);
    Matrix<T> gv;
    project_columns<T>(xv, G, gv, false);
    const Matrix<T> wv = xv.transpose() * G;
    const double scale = 1.0 + double(wv.cwiseAbs().maxCoeff());
    CHECK(double((gv - wv).cwiseAbs().maxCoeff()) <= tolerance<T>() * scale * double(n) * 0.1);
  }
}
