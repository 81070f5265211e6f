// core/denormals.hpp: the flush-to-zero guard, and its use inside Network (subnormal
// values read as zero while the network runs, the caller's mode restored afterwards).
#include <doctest/doctest.h>

#include <limits>

#include "../support/networks.hpp"
#include "asrc/core/denormals.hpp"

using namespace asrc;
using namespace asrc_test;

#if defined(ASRC_HAVE_MXCSR)
TEST_CASE("FlushDenormals: on inside the scope, the previous mode restored after") {
  REQUIRE_FALSE(FlushDenormals::active_here());  // the C runtime's default
  volatile float tiny = std::numeric_limits<float>::min();  // smallest normal float
  {
    const FlushDenormals flush(true);
    CHECK(FlushDenormals::active_here());
    const float half = tiny * 0.5f;  // subnormal result: flushed to 0
    CHECK(half == 0.0f);
    {
      const FlushDenormals nested(false);  // off: leaves the mode as it is
      CHECK(FlushDenormals::active_here());
    }
    CHECK(FlushDenormals::active_here());
  }
  CHECK_FALSE(FlushDenormals::active_here());
  const float half = tiny * 0.5f;
  CHECK(half > 0.0f);  // gradual underflow again
}

TEST_CASE("Network: subnormal inputs read as 0 with flush_denormals, kept without") {
  NetworkConfig cfg = tiny_config(Recurrence::asrc, 4);
  const Index steps = 12, B = 5;
  Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 3, 0.0, 2.0);
  Matrix<float> x_zero = x, x_tiny = x;
  // Input feature 0 is 0 in one copy and subnormal in the other, at every step.
  x_zero.col(0).setZero();
  x_tiny.col(0).setConstant(3e-39f);
  std::vector<int> labels = {0, 1, 2, 0, 1};
  for (bool flush : {true, false}) {
    cfg.flush_denormals = flush;
    Network<float> net(cfg);
    Vector<float> g_zero, g_tiny;
    const double l_zero = net.forward_backward(x_zero, B, labels, g_zero);
    const double l_tiny = net.forward_backward(x_tiny, B, labels, g_tiny);
    CHECK_FALSE(FlushDenormals::active_here());  // the caller's mode is back
    INFO("flush_denormals=", flush);
    REQUIRE(g_zero.norm() > 0);
    if (flush) {
      CHECK(l_tiny == l_zero);
      CHECK(g_tiny == g_zero);
    } else {
      // Column 0 of layer 0's dL/dW is sum_t dL/dI_t * x_t0: subnormal, not 0.
      CHECK_FALSE(g_tiny == g_zero);
    }
  }
}
#endif
