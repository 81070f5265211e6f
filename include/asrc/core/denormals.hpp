#pragma once
// Subnormal floating-point numbers, flushed to zero for the duration of a scope.
//
// Why: on many x86 cores (seen on this project's Xeon machine, not on its AMD EPYC one)
// every arithmetic operation that reads or produces a subnormal value (|x| < 1.2e-38 in
// float) takes a slow microcode path, tens to hundreds of cycles instead of one. BPTT
// through leaky neurons produces such values: gradients and membranes are scaled by the
// decay (0.5) at every step, and an S-MNIST sequence has 784 steps. Measured with
// asrc-bench, 2 threads, one run each way: S-MNIST ASRC training 277 -> 496 samples/s,
// PS-MNIST ASRC-212 174 -> 271, S-MNIST SRC-212 352 -> 402 with flushing on.
//
// What it changes: a result that would be subnormal becomes 0 (FTZ) and a subnormal
// input is read as 0 (DAZ). Normal numbers are untouched, so a value changes only when
// it is below 1.2e-38 (float) or 2.2e-308 (double). A gradient entry that small moves an
// Adam step by at most lr * 1.2e-38 / eps = 1.2e-33 (lr 1e-3, eps 1e-8), far below the
// resolution of any float weight. TensorFlow runs its CPU kernels with flushing on;
// PyTorch leaves it off unless torch.set_flush_denormal(True).
//
// The mode is per thread (x86 MXCSR); the guard restores the previous mode when it ends,
// so code around asrc is not affected. On other architectures it does nothing.
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define ASRC_HAVE_MXCSR 1
#endif

namespace asrc {

class FlushDenormals {
 public:
  explicit FlushDenormals(bool on) {
#if defined(ASRC_HAVE_MXCSR)
    if (on) {
      saved_ = _mm_getcsr();
      _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
      active_ = true;
    }
#endif
  }
  ~FlushDenormals() {
#if defined(ASRC_HAVE_MXCSR)
    if (active_) _mm_setcsr(saved_);
#endif
  }
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

  /// Whether subnormals are flushed in the calling thread right now.
  static bool active_here() {
#if defined(ASRC_HAVE_MXCSR)
    return (_mm_getcsr() & (kFlushToZero | kDenormalsAreZero)) == (kFlushToZero | kDenormalsAreZero);
#else
    return false;
#endif
  }

 private:
  static constexpr unsigned kFlushToZero = 0x8000;      // MXCSR bit 15
  static constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR bit 6
  unsigned saved_ = 0;
  bool active_ = false;
};

}  // namespace asrc
