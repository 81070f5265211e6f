#pragma once
// Eigen, included once for all of asrc, with a third-party warning silenced here.
//
// GCC 12's AVX / AVX-512 intrinsic headers build "undefined" vectors as `__m512 __Y = __Y;`
// (GCC bug 105593, fixed in GCC 13). Once Eigen's packet code is inlined, -O2 and above
// report each of them as -Wmaybe-uninitialized (Release) or -Wuninitialized (the
// sanitizer build): pages of notes from inside avx512fintrin.h that say nothing about
// asrc or Eigen. Both are switched off for Eigen's own code only: GCC applies the pragma
// to any inlining chain that passes through these lines, and asrc's own code keeps them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Core>
#include <Eigen/QR>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
