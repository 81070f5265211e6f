#pragma once
// Dense kernels for products with one small operand, which Eigen's GEMM handles badly
// because it packs both operands on every call:
//
//   rows_gemm        out += a B with B row-major and read straight from its rows, never
//                    packed, in register tiles of a few rows of a. Used for dL/dY_t W_rec
//                    (16 x H by H x H, once per time step), the banded lag mixture of ASRC
//                    (T_lambda coefficients by 16H values per step) and the input gradient
//                    dL/dI W (T*16 rows by H x H_in); packing took a large part of the time
//                    of those Eigen products (docs/results/epoch-breakdown).
//   lag_correlation  sum_t <G_t, Y_{t-j}> for every lag j (dL/dc_j of the ASRC kernel),
//                    in tiles of 2 steps x 4 lags that share 5 rows of Y between 8 dot
//                    products, over column blocks that stay in the L1 cache; Eigen's
//                    product over a block of steps also computed the dot products outside
//                    the band.
//
// Exact skipping: a term whose coefficient (rows_gemm) is 0 in every row of a tile, or a
// source row flagged all-zero (lag_correlation), adds +-0 and is left out when asked: the
// same values except possibly the sign of a zero result, and except that inf or NaN in a
// skipped operand would have given NaN. Every output element sees its terms in one fixed
// order whatever the tiling and whatever is skipped, so results do not depend on the
// number of rows in a call or on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "asrc/core/kernels.hpp"
#include "asrc/core/types.hpp"

namespace asrc {
namespace detail {

#if defined(__AVX512F__)
constexpr int kGemmRows = 8, kGemmVectors = 2;  // 16 accumulators of the 32 registers
constexpr int kLagSteps = 2;
#else
constexpr int kGemmRows = 4, kGemmVectors = 2;  // 8 accumulators of the 16 registers
constexpr int kLagSteps = 2;
#endif
constexpr int kLagLags = 4;

/// out[r, c0 .. c0 + CV*width) += sum_q a[r, ks[q]] B[ks[q], same] for r < R.
template <typename T, int R, int CV>
inline void gemm_tile(const T* a, Index lda, const Index* ks, Index nk, const T* B, Index ldb, T* out,
                      Index ldo, Index c0, bool accumulate) {
  using S = Simd<T>;
  constexpr Index W = S::width;
  typename S::type acc[R][CV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < CV; ++v) {
      if (accumulate) S::load(acc[r][v], out + r * ldo + c0 + v * W);
      else acc[r][v] = typename S::type{};
    }
  for (Index q = 0; q < nk; ++q) {
    const Index k = ks[q];
    typename S::type x[CV];
    for (int v = 0; v < CV; ++v) S::load(x[v], B + k * ldb + c0 + v * W);
    for (int r = 0; r < R; ++r) {
      const T s = a[r * lda + k];
      for (int v = 0; v < CV; ++v) acc[r][v] += s * x[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < CV; ++v) S::store(out + r * ldo + c0 + v * W, acc[r][v]);
}

/// out[r, n - r_last .. n) += sum_q a[r, ks[q]] B[ks[q], same] for r < R (n >= width): a
/// one-vector gemm_tile over the vector that ends at column n, run on a copy of those
/// columns so that only its last r_last lanes (the columns not done yet) are stored.
template <typename T, int R>
inline void gemm_tile_last(const T* a, Index lda, const Index* ks, Index nk, const T* B, Index ldb, T* out,
                           Index ldo, Index n, Index r_last, bool accumulate) {
  constexpr Index W = Simd<T>::width;
  const Index c0 = n - W;
  T tile[R * W];
  if (accumulate)
    for (int r = 0; r < R; ++r) std::copy(out + r * ldo + c0, out + r * ldo + n, tile + r * W);
  gemm_tile<T, R, 1>(a, lda, ks, nk, B + c0, ldb, tile, W, 0, accumulate);
  for (int r = 0; r < R; ++r) std::copy(tile + r * W + (W - r_last), tile + (r + 1) * W, out + r * ldo + n - r_last);
}

/// R rows of rows_gemm over the k listed in ks: full tiles, single vectors, then the last
/// n mod width columns in the vector that ends at column n (one at a time when n is less
/// than a vector: a column walk of B, one dependent chain per output).
template <typename T, int R>
inline void gemm_rows(const T* a, Index lda, const Index* ks, Index nk, const T* B, Index ldb, T* out,
                      Index ldo, Index n, bool accumulate) {
  constexpr Index W = Simd<T>::width;
  Index c0 = 0;
  for (; c0 + kGemmVectors * W <= n; c0 += kGemmVectors * W)
    gemm_tile<T, R, kGemmVectors>(a, lda, ks, nk, B, ldb, out, ldo, c0, accumulate);
  for (; c0 + W <= n; c0 += W) gemm_tile<T, R, 1>(a, lda, ks, nk, B, ldb, out, ldo, c0, accumulate);
  if (c0 == n) return;
  if (n >= W) return gemm_tile_last<T, R>(a, lda, ks, nk, B, ldb, out, ldo, n, n - c0, accumulate);
  // std::fma: left to itself, GCC vectorizes this loop over q in pairs, one product
  // rounded before its add and one fused, so that leaving out a k would change which
  // products are fused.
  for (Index c = c0; c < n; ++c)
    for (int r = 0; r < R; ++r) {
      T s = accumulate ? out[r * ldo + c] : T(0);
      for (Index q = 0; q < nk; ++q) s = std::fma(a[r * lda + ks[q]], B[ks[q] * ldb + c], s);
      out[r * ldo + c] = s;
    }
}

}  // namespace detail

/// out (rows x n, row stride ldo) += a (rows x k, stride lda) B (k x n, stride ldb), all
/// row-major (= without `accumulate`). With skip_zero, the k whose a[r, k] is 0 for every
/// row r of a tile of rows are left out (see the top of this file); `ks` is scratch.
template <typename T>
void rows_gemm(Index rows, Index k, Index n, const T* a, Index lda, const T* B, Index ldb, T* out, Index ldo,
               bool skip_zero, std::vector<Index>& ks, bool accumulate = true) {
  ks.resize(size_t(k));
  constexpr Index R = detail::kGemmRows;
  for (Index r0 = 0; r0 < rows; r0 += R) {
    const Index nr = std::min(R, rows - r0);
    Index nk = 0;
    for (Index j = 0; j < k; ++j) {
      bool any = !skip_zero;
      for (Index r = r0; r < r0 + nr && !any; ++r) any = a[r * lda + j] != T(0);
      if (any) ks[size_t(nk++)] = j;
    }
    if (nk == 0 && accumulate) continue;
    if (nr == R)
      detail::gemm_rows<T, R>(a + r0 * lda, lda, ks.data(), nk, B, ldb, out + r0 * ldo, ldo, n, accumulate);
    else
      for (Index r = r0; r < r0 + nr; ++r)
        detail::gemm_rows<T, 1>(a + r * lda, lda, ks.data(), nk, B, ldb, out + r * ldo, ldo, n, accumulate);
  }
}

/// gc[j - 1] += sum_{t = max(1, j) .. steps-1} <G_t, Y_{t-j}> for j = 1 .. K, where G and Y
/// hold one row of N values per step (row-major, steps x N). silent (optional, one flag
/// per step): Y_u is all zero; the dot products with such rows are left out. coeff
/// (optional, the K lag coefficients): the lags whose coefficient is exactly 0 are not
/// wanted (the softmax backward multiplies their gc by 0); their gc is left as it is. The columns
/// are taken in blocks small enough that the K + 2 rows a block of steps reads stay in
/// the L1 cache; each gc[j-1] receives one partial sum per block and per step, blocks
/// outer, t increasing inside; a partial sum adds its vector lanes in order, then the
/// block's last N mod width values.
template <typename T>
void lag_correlation(const T* G, const T* Y, Index steps, Index N, Index K, const std::uint8_t* silent,
                     const T* coeff, T* gc) {
  using S = detail::Simd<T>;
  constexpr Index W = S::width, CB = 512 / Index(sizeof(T));  // 512 bytes of each row
  constexpr int NT = detail::kLagSteps, NJ = detail::kLagLags;
  for (Index cb = 0; cb < N; cb += CB) {
    const Index ce = std::min(N, cb + CB), ve = cb + (ce - cb) / W * W;
    auto finish = [&](const typename S::type& acc, const T* g, const T* y) {
      T s = 0;
      for (Index w = 0; w < W; ++w) s += acc[w];
      for (Index c = ve; c < ce; ++c) s += g[c] * y[c];
      return s;
    };
    auto dot = [&](Index t, Index j) {
      typename S::type acc{};
      const T* g = G + t * N;
      const T* y = Y + (t - j) * N;
      for (Index c = cb; c < ve; c += W) {
        typename S::type a, b;
        S::load(a, g + c);
        S::load(b, y + c);
        acc += a * b;
      }
      return finish(acc, g, y);
    };
    for (Index t0 = 1; t0 < steps; t0 += NT) {
      const Index nt = std::min<Index>(NT, steps - t0);
      for (Index j0 = 1; j0 <= std::min(K, t0 + nt - 1); j0 += NJ) {
        if (coeff) {
          bool all = true;
          for (Index j = j0; j < j0 + NJ && j <= K && all; ++j) all = coeff[j - 1] == T(0);
          if (all) continue;
        }
        auto wanted = [&](Index t, Index j) {
          return !(silent && silent[t - j]) && !(coeff && coeff[j - 1] == T(0));
        };
        // The pairs (t, j) of the tile that exist: j <= K and j <= t.
        const bool full = nt == NT && j0 + NJ - 1 <= K && j0 + NJ - 1 <= t0;
        if (!full) {
          for (Index dt = 0; dt < nt; ++dt)
            for (Index j = j0; j < j0 + NJ && j <= K && j <= t0 + dt; ++j)
              if (wanted(t0 + dt, j)) gc[j - 1] += dot(t0 + dt, j);
          continue;
        }
        // Rows of Y the tile reads: t0 + NT - 1 - j0 - m for m = 0 .. NT + NJ - 2.
        constexpr int NY = NT + NJ - 1;
        const Index top = t0 + NT - 1 - j0;
        if (silent) {
          bool all = true;
          for (int m = 0; m < NY && all; ++m) all = silent[top - m] != 0;
          if (all) continue;
        }
        typename S::type acc[NT][NJ];
        for (int dt = 0; dt < NT; ++dt)
          for (int q = 0; q < NJ; ++q) acc[dt][q] = typename S::type{};
        // Unrolled by pragma: as loops, GCC 12 kept acc and y on the stack.
        for (Index c = cb; c < ve; c += W) {
          typename S::type g[NT], y[NY];
#pragma GCC unroll 8
          for (int dt = 0; dt < NT; ++dt) S::load(g[dt], G + (t0 + dt) * N + c);
#pragma GCC unroll 8
          for (int m = 0; m < NY; ++m) S::load(y[m], Y + (top - m) * N + c);
          // (t0 + dt, j0 + q) reads row t0 + dt - j0 - q = top - (NT - 1 - dt + q).
#pragma GCC unroll 8
          for (int dt = 0; dt < NT; ++dt)
#pragma GCC unroll 8
            for (int q = 0; q < NJ; ++q) acc[dt][q] += g[dt] * y[NT - 1 - dt + q];
        }
        for (int dt = 0; dt < NT; ++dt)
          for (int q = 0; q < NJ; ++q) {
            const Index t = t0 + dt, j = j0 + q;
            if (!wanted(t, j)) continue;
            gc[j - 1] += finish(acc[dt][q], G + t * N, Y + (t - j) * N);
          }
      }
    }
  }
}

}  // namespace asrc
