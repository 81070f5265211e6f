#pragma once
// Row kernels that exploit 0/1 spikes.
//
// project_rows computes out.row(i) (=|+=) bias + sum_k x(i,k) * WT.row(k), walking k in
// increasing order and skipping x(i,k) == 0. For binary spike inputs this is a sum of
// selected weight rows (a gather, no multiplications by 0 or 1). Every output row is
// computed by the same instruction sequence whatever the number of rows, which is
// what makes streaming inference (one row per step) equal to whole-sequence inference
// bit for bit. Eigen's GEMM gives no such guarantee (it switches to GEMV for one row).
//
// How it is fast (bench/asrc_bench.cpp measures it against Eigen's GEMM):
//  - the non-zero columns of a row are first turned into a bit mask and listed with
//    count-trailing-zeros: no data-dependent branch per input column (such a branch
//    mispredicts at spike rates of 5-50% and cost more than the additions);
//  - the output row is built in tiles of up to 16 SIMD vectors (256 floats) with
//    AVX-512, 8 otherwise (64 floats with AVX), held in registers, so each selected
//    weight row is read once per tile and each output written once.
// The additions for one output element happen in the same order (bias, then k
// increasing) whatever the tiling, so the tiling does not change the result.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {
namespace detail {

/// Bytes of one SIMD register of the target: the vector type below must be one register,
/// or GCC builds its arithmetic out of stores and loads through the stack (64-byte vectors
/// on an AVX2 machine: docs/results/amd-epyc-zen3-2026-12-07).
#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif

/// One SIMD register of T (GCC/Clang vector extension).
template <typename T>
struct Simd {
  typedef T type __attribute__((vector_size(kVectorBytes)));
  static constexpr Index width = kVectorBytes / sizeof(T);
  // Vectors travel by reference only: passing or returning one by value changes the
  // calling convention with the target's vector registers (-Wpsabi).
  static void load(type& v, const T* p) { std::memcpy(&v, p, sizeof v); }
  static void store(T* p, const type& v) { std::memcpy(p, &v, sizeof v); }
  /// a += p[0 .. width)
  static void add(type& a, const T* p) {
    type w;
    load(w, p);
    a += w;
  }
  /// a += s * p[0 .. width)
  static void add_scaled(type& a, T s, const T* p) {
    type w;
    load(w, p);
    a += s * w;
  }
};

/// o[0 .. NV*width) = init[same] + sum_m val_m WT(idx_m, :) (val == nullptr: all 1).
/// init may be o itself (accumulate), a bias row or a row of zeros.
template <typename T, int NV>
inline void gather_tile(T* o, const T* init, const T* WT, Index ld, const int* idx, const T* val, Index n) {
  using S = Simd<T>;
  typename S::type a[NV];
  // Unrolled by pragma: as loops, GCC 12 copied init and o through the stack.
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) S::load(a[v], init + v * S::width);
  if (!val) {
    for (Index m = 0; m < n; ++m) {
      const T* w = WT + Index(idx[m]) * ld;
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) S::add(a[v], w + v * S::width);
    }
  } else {
    for (Index m = 0; m < n; ++m) {
      const T* w = WT + Index(idx[m]) * ld;
      const T s = val[m];
#pragma GCC unroll 16
      for (int v = 0; v < NV; ++v) S::add_scaled(a[v], s, w + v * S::width);
    }
  }
#pragma GCC unroll 16
  for (int v = 0; v < NV; ++v) S::store(o + v * S::width, a[v]);
}

/// Most vectors one gather tile keeps in registers: 16 of AVX-512's 32 registers (256
/// floats), 8 of the 16 otherwise (64 floats with AVX).
#if defined(__AVX512F__)
constexpr int kMaxTileVectors = 16;
#else
constexpr int kMaxTileVectors = 8;
#endif

#if defined(__AVX512BW__)
/// Stores the last r (0 < r < width) lanes of a 64-byte vector v to p[width - r .. width),
/// one byte-masked store whatever T is.
template <typename T>
inline void store_last_lanes(T* p, Index r, const typename Simd<T>::type& v) {
  __m512i x;
  std::memcpy(&x, &v, sizeof x);
  const Index bytes = r * Index(sizeof(T));  // 1 .. 63
  _mm512_mask_storeu_epi8(p, ~__mmask64(0) << (64 - bytes), x);
}

/// gather_tile over NV full vectors plus r (0 < r < width) more columns, for rows at least
/// one vector wide: the last columns are summed in the vector that ends at the tile's
/// last column (it overlaps the full vectors; only its last r lanes are stored, by a
/// masked store after the loop). Inside the loop every access is a plain vector load:
/// a masked-load builtin there makes GCC store all NV accumulators to the stack at
/// every step, since it cannot tell that the builtin does not read them.
template <typename T, int NV>
inline void gather_tile_tail(T* o, const T* init, const T* WT, Index ld, const int* idx, const T* val,
                             Index n, Index r) {
  using S = Simd<T>;
  constexpr Index W = S::width;
  const Index off = NV * W + r - W;  // start of the vector ending at column NV*W + r
  typename S::type a[NV > 0 ? NV : 1], t;
  for (int v = 0; v < NV; ++v) S::load(a[v], init + v * W);
  S::load(t, init + off);
  if (!val) {
    for (Index m = 0; m < n; ++m) {
      const T* w = WT + Index(idx[m]) * ld;
      for (int v = 0; v < NV; ++v) S::add(a[v], w + v * W);
      S::add(t, w + off);
    }
  } else {
    for (Index m = 0; m < n; ++m) {
      const T* w = WT + Index(idx[m]) * ld;
      const T sc = val[m];
      for (int v = 0; v < NV; ++v) S::add_scaled(a[v], sc, w + v * W);
      S::add_scaled(t, sc, w + off);
    }
  }
  for (int v = 0; v < NV; ++v) S::store(o + v * W, a[v]);
  store_last_lanes<T>(o + off, r, t);
}

template <typename T, int NV>
inline void gather_tile_tail_upto(int nv, T* o, const T* init, const T* WT, Index ld, const int* idx,
                                  const T* val, Index n, Index r) {
  if constexpr (NV >= 0) {
    if (nv == NV) return gather_tile_tail<T, NV>(o, init, WT, ld, idx, val, n, r);
    gather_tile_tail_upto<T, NV - 1>(nv, o, init, WT, ld, idx, val, n, r);
  }
}
#endif

template <typename T, int NV>
inline void gather_tile_upto(int nv, T* o, const T* init, const T* WT, Index ld, const int* idx,
                             const T* val, Index n) {
  if constexpr (NV >= 1) {
    if (nv == NV) return gather_tile<T, NV>(o, init, WT, ld, idx, val, n);
    gather_tile_upto<T, NV - 1>(nv, o, init, WT, ld, idx, val, n);
  }
}

/// o[0 .. H) = init[0 .. H) + sum_m val_m WT(idx_m, 0 .. H) (val == nullptr: all 1), in
/// as few passes over the list as the registers allow (one for H <= 256 floats with
/// AVX-512). The last H mod (vector width) columns are one more vector, the one ending at
/// column H (it overlaps columns already done, whose lanes are not stored): with AVX-512
/// in the same pass, stored with a byte mask; otherwise in a pass of its own. So no
/// column is summed one scalar at a time when H is at least one vector wide.
template <typename T>
inline void gather_row(T* o, const T* init, const T* WT, Index ld, Index H, const int* idx,
                       const T* val, Index n) {
  using S = Simd<T>;
  constexpr Index W = S::width;
  Index c = 0;
#if defined(__AVX512BW__)
  if (H >= W) {
    // Full tiles while more than a tile's worth is left, then the rest (full vectors and
    // the last H mod width columns) in one pass.
    while (H - c > kMaxTileVectors * W) {
      gather_tile<T, kMaxTileVectors>(o + c, init + c, WT + c, ld, idx, val, n);
      c += kMaxTileVectors * W;
    }
    const int nv = static_cast<int>((H - c) / W);
    const Index r = (H - c) % W;
    if (r == 0) return gather_tile_upto<T, kMaxTileVectors>(nv, o + c, init + c, WT + c, ld, idx, val, n);
    return gather_tile_tail_upto<T, kMaxTileVectors - 1>(nv, o + c, init + c, WT + c, ld, idx, val, n, r);
  }
#endif
  while (c + W <= H) {
    const int nv = static_cast<int>(std::min<Index>((H - c) / W, kMaxTileVectors));
    gather_tile_upto<T, kMaxTileVectors>(nv, o + c, init + c, WT + c, ld, idx, val, n);
    c += nv * W;
  }
  if (c < H && H >= W) {
    const Index c0 = H - W;  // lanes c - c0 .. W-1 are the columns left
    T lanes[W];
    std::copy(o + c0, o + c, lanes);  // finished columns: placeholders, not stored again
    std::copy(init + c, init + H, lanes + (c - c0));
    gather_tile<T, 1>(lanes, lanes, WT + c0, ld, idx, val, n);
    std::copy(lanes + (c - c0), lanes + W, o + c);
    return;
  }
  for (; c < H; ++c) {
    T a = init[c];
    for (Index m = 0; m < n; ++m) a += (val ? val[m] : T(1)) * WT[Index(idx[m]) * ld + c];
    o[c] = a;
  }
}

/// Bit b of the result: x[b] != 0, for b < e <= 64.
template <typename T>
inline std::uint64_t nonzero_mask(const T* x, Index e) {
  std::uint64_t m = 0;
  Index b = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same<T, float>::value) {
    for (; b + 16 <= e; b += 16)
      m |= std::uint64_t(_mm512_cmp_ps_mask(_mm512_loadu_ps(x + b), _mm512_setzero_ps(), _CMP_NEQ_UQ)) << b;
  } else if constexpr (std::is_same<T, double>::value) {
    for (; b + 8 <= e; b += 8)
      m |= std::uint64_t(_mm512_cmp_pd_mask(_mm512_loadu_pd(x + b), _mm512_setzero_pd(), _CMP_NEQ_UQ)) << b;
  }
#elif defined(__AVX__)
  if constexpr (std::is_same<T, float>::value) {
    for (; b + 8 <= e; b += 8)
      m |= std::uint64_t(unsigned(_mm256_movemask_ps(
               _mm256_cmp_ps(_mm256_loadu_ps(x + b), _mm256_setzero_ps(), _CMP_NEQ_UQ)))) << b;
  } else if constexpr (std::is_same<T, double>::value) {
    for (; b + 4 <= e; b += 4)
      m |= std::uint64_t(unsigned(_mm256_movemask_pd(
               _mm256_cmp_pd(_mm256_loadu_pd(x + b), _mm256_setzero_pd(), _CMP_NEQ_UQ)))) << b;
  }
#endif
  for (; b < e; ++b) m |= std::uint64_t(x[b] != T(0)) << b;
  return m;
}

/// Lists the non-zero entries of x[0..F) in increasing order; returns their number.
/// Sets `binary` to whether all of them are exactly 1.
template <typename T>
inline Index list_nonzeros(const T* x, Index F, int* idx, T* val, bool& binary) {
  Index n = 0;
  bool ones = true;
  for (Index k0 = 0; k0 < F; k0 += 64) {
    std::uint64_t m = nonzero_mask(x + k0, std::min<Index>(64, F - k0));
    while (m) {
      const Index k = k0 + __builtin_ctzll(m);
      m &= m - 1;
      idx[n] = static_cast<int>(k);
      val[n] = x[k];
      ones &= x[k] == T(1);
      ++n;
    }
  }
  binary = ones;
  return n;
}

}  // namespace detail

/// out(i,:) = [out(i,:) if accumulate else bias or 0] + sum_k x(i,k) WT(k,:).
/// WT is the transposed weight (F x H, row-major) so that row k is contiguous.
/// x and out must have contiguous rows (row-major matrices, their row blocks, maps).
template <typename T, typename XDerived, typename ODerived>
void project_rows(const Eigen::MatrixBase<XDerived>& x, const Matrix<T>& WT, const T* bias,
                  Eigen::MatrixBase<ODerived>& out, bool accumulate) {
  const Index n = x.rows(), F = x.cols(), H = WT.cols();
  const auto& xd = x.derived();
  auto& od = out.derived();
  const Index xs = xd.outerStride(), os = od.outerStride();
  thread_local std::vector<int> idx;
  thread_local std::vector<T> val;
  thread_local std::vector<T> zeros;
  if (idx.size() < static_cast<size_t>(F)) {
    idx.resize(static_cast<size_t>(F));
    val.resize(static_cast<size_t>(F));
  }
  if (zeros.size() < static_cast<size_t>(H)) zeros.assign(static_cast<size_t>(H), T(0));
  const T* W = WT.data();
  for (Index i = 0; i < n; ++i) {
    const T* xr = xd.data() + i * xs;
    T* o = od.data() + i * os;
    const T* init = accumulate ? o : (bias ? bias : zeros.data());
    bool binary = true;
    const Index nz = detail::list_nonzeros(xr, F, idx.data(), val.data(), binary);
    if (nz == 0) {
      if (!accumulate) std::copy(init, init + H, o);
      continue;
    }
    const T* v = binary ? nullptr : val.data();
    detail::gather_row<T>(o, init, W, H, H, idx.data(), v, nz);
  }
}

/// Rows of G one pass of project_columns works on: a block of about this many bytes
/// stays in the core's L2 cache while every column gathers from it.
constexpr Index kColumnBlockBytes = 256 * 1024;

/// out(k,:) = [out(k,:) if accumulate else 0] + sum_r x(r,k) G(r,:), r increasing: the
/// product x^T G for a sparse x (n x F), as used by weight gradients (dW^T = x^T dL/dI).
/// The rows are taken in blocks of about kColumnBlockBytes of G. In each block the
/// non-zeros of x are listed per column (CSC), then each output row k is a
/// register-tiled gather of the block's rows of G that column k selects. Without the
/// blocks every column would stream its rows of G from memory once more (G is 10 MB
/// for an S-MNIST chunk); with them G is read from memory once. The additions into an
/// output element still run in increasing r, so the blocking does not change the result.
template <typename T, typename XDerived, typename GDerived>
void project_columns(const Eigen::MatrixBase<XDerived>& x, const Eigen::MatrixBase<GDerived>& G,
                     Matrix<T>& out, bool accumulate) {
  const Index n = x.rows(), F = x.cols(), H = G.cols();
  const auto& xd = x.derived();
  const auto& gd = G.derived();
  const Index xs = xd.outerStride(), gs = gd.outerStride();
  require(n <= Index(std::numeric_limits<int>::max()), "project_columns", "at most 2^31 - 1 rows", n);
  if (!accumulate) out.setZero(F, H);
  // Rows per block; the listing of one block (at most R * F entries) is kept bounded too.
  const Index R = std::max<Index>(
      16, std::min(kColumnBlockBytes / std::max<Index>(1, H * Index(sizeof(T))),
                   Index(1 << 22) / std::max<Index>(1, F)));
  thread_local std::vector<int> row_start, idx, col_start, fill, row_idx;
  thread_local std::vector<T> val, col_val;
  const size_t cap = static_cast<size_t>(std::min(R, n) * F);
  if (idx.size() < cap) {
    idx.resize(cap);
    val.resize(cap);
    row_idx.resize(cap);
    col_val.resize(cap);
  }
  row_start.resize(static_cast<size_t>(std::min(R, n)) + 1);
  const T* Gp = gd.data();
  for (Index r0 = 0; r0 < n; r0 += R) {
    const Index rn = std::min(R, n - r0);
    // Each row's non-zeros, listed once, and their count per column.
    col_start.assign(static_cast<size_t>(F) + 1, 0);
    bool binary = true;
    int total = 0;
    for (Index r = 0; r < rn; ++r) {
      row_start[size_t(r)] = total;
      bool b = true;
      const Index nz = detail::list_nonzeros(xd.data() + (r0 + r) * xs, F, idx.data() + total,
                                             val.data() + total, b);
      binary &= b;
      for (Index m = total; m < total + nz; ++m) ++col_start[size_t(idx[size_t(m)]) + 1];
      total += static_cast<int>(nz);
    }
    row_start[size_t(rn)] = total;
    if (total == 0) continue;
    for (Index k = 0; k < F; ++k) col_start[size_t(k) + 1] += col_start[size_t(k)];
    fill.assign(col_start.begin(), col_start.end() - 1);
    // Regrouped per column, rows increasing.
    for (Index r = 0; r < rn; ++r)
      for (int m = row_start[size_t(r)]; m < row_start[size_t(r) + 1]; ++m) {
        const size_t at = static_cast<size_t>(fill[size_t(idx[size_t(m)])]++);
        row_idx[at] = static_cast<int>(r);
        col_val[at] = val[size_t(m)];
      }
    const T* Gb = Gp + r0 * gs;
    for (Index k = 0; k < F; ++k) {
      const Index b0 = col_start[size_t(k)], nk = col_start[size_t(k) + 1] - b0;
      if (nk == 0) continue;
      const T* v = binary ? nullptr : col_val.data() + b0;
      T* o = out.data() + k * H;
      detail::gather_row<T>(o, o, Gb, gs, H, row_idx.data() + b0, v, nk);
    }
  }
}

}  // namespace asrc
