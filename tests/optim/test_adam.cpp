// Adam / AdamW over a flat parameter buffer: hand-computed steps, torch reference
// numbers, per-group settings, beta1 changes and the checkpoint state.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "asrc/optim/adam.hpp"

using namespace asrc;

namespace {

constexpr double kEps = 1e-8;

// One scalar parameter in the weights group.
ParamLayout scalar_layout() {
  ParamLayout l;
  l.add("w", 1, 1, ParamGroup::weights);
  return l;
}

// Layout of the torch reference test: weights 2x3, neuron 1x2, skip 1x4.
ParamLayout reference_layout() {
  ParamLayout l;
  l.add("hidden.weight", 2, 3, ParamGroup::weights);
  l.add("hidden.decay", 1, 2, ParamGroup::neuron);
  l.add("hidden.skip_logits", 1, 4, ParamGroup::skip);
  return l;
}

void check_close(double got, double want, double rel, const std::string& what) {
  INFO(what << ": got " << got << ", want " << want);
  CHECK(std::fabs(got - want) <= rel * std::max(1.0, std::fabs(want)));
}

}  // namespace

// ---------------------------------------------------------------------------
// Hand computations. One parameter p0 = 1, gradient g = 0.5 at every step,
// lr = 0.1, beta2 = 0.999, eps = 1e-8.
// ---------------------------------------------------------------------------

TEST_CASE("Adam: three steps by hand, with beta1 changed before the third") {
  // Step 1, beta1 = 0.9:
  //   m1 = 0.1 * 0.5 = 0.05            v1 = 0.001 * 0.25 = 0.00025
  //   bc1 = 1 - 0.9 = 0.1               bc2 = 1 - 0.999 = 0.001
  //   denom = sqrt(0.00025) / sqrt(0.001) + 1e-8 = 0.5 + 1e-8
  //   p1 = 1 - (0.1 / 0.1) * 0.05 / (0.5 + 1e-8) = 1 - 0.1 / (1 + 2e-8) = 0.900000002
  // Step 2, beta1 = 0.9:
  //   m2 = 0.9 * 0.05 + 0.05 = 0.095   v2 = 0.999 * 0.00025 + 0.00025 = 0.00049975
  //   bc1 = 1 - 0.81 = 0.19  (m2 / bc1 = 0.5)   bc2 = 0.001999  (v2 / bc2 = 0.25)
  //   p2 = p1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.800000004
  // Step 3, beta1 = 0.8 (torch uses the beta1 in force now for bc1):
  //   m3 = 0.8 * 0.095 + 0.2 * 0.5 = 0.176   v3 = 0.999 * 0.00049975 + 0.00025 = 0.00074925025
  //   bc1 = 1 - 0.8^3 = 0.488  (m3 / bc1 = 0.36065573770...)   bc2 = 0.002997001 (v3 / bc2 = 0.25)
  //   p3 = p2 - 0.1 * 0.3606557377 / (0.5 + 1e-8) = 0.800000004 - 0.0721311461... = 0.7278688579016...
  //   (with the product of the betas, 0.9 * 0.9 * 0.8, bc1 would be 0.352 and p3 = 0.70000000...)
  const ParamLayout layout = scalar_layout();
  Adam<double> opt(AdamMode::adam, GroupSettings{0.1, 0.0});
  Vector<double> p(1), g(1);
  p << 1.0;
  g << 0.5;

  opt.step(layout, p, g);
  const double p1 = 1.0 - (0.1 / 0.1) * 0.05 / (std::sqrt(0.00025) / std::sqrt(0.001) + kEps);
  check_close(p[0], p1, 1e-14, "p1");
  check_close(p[0], 0.900000002, 1e-14, "p1 decimal");
  check_close(opt.state().exp_avg[0], 0.05, 1e-14, "m1");
  check_close(opt.state().exp_avg_sq[0], 0.00025, 1e-14, "v1");

  opt.step(layout, p, g);
  check_close(p[0], 0.800000004, 1e-14, "p2");
  check_close(opt.state().exp_avg[0], 0.095, 1e-14, "m2");
  check_close(opt.state().exp_avg_sq[0], 0.00049975, 1e-14, "v2");

  opt.set_beta1(ParamGroup::weights, 0.8);
  opt.step(layout, p, g);
  const double p3 = 0.800000004 - 0.1 / 0.488 * 0.176 / (0.5 + kEps);
  check_close(p[0], p3, 1e-13, "p3");
  check_close(p[0], 0.72786885790163991, 1e-13, "p3 decimal");
  check_close(opt.state().exp_avg[0], 0.176, 1e-14, "m3");
  CHECK(opt.step_count(ParamGroup::weights) == 3);
}

TEST_CASE("AdamW: decoupled weight decay by hand") {
  // wd = 0.01, lr = 0.1: the parameter is first scaled by 1 - 0.1 * 0.01 = 0.999.
  // Step 1: p = 0.999, then the Adam step of the test above (0.1 / (1 + 2e-8) = 0.099999998)
  //   p1 = 0.999 - 0.099999998 = 0.899000002
  // Step 2: p = 0.899000002 * 0.999 = 0.898101001998, then the same Adam step again
  //   p2 = 0.898101001998 - 0.099999998 = 0.798101003998
  const ParamLayout layout = scalar_layout();
  Adam<double> opt(AdamMode::adamw, GroupSettings{0.1, 0.01});
  Vector<double> p(1), g(1);
  p << 1.0;
  g << 0.5;
  opt.step(layout, p, g);
  check_close(p[0], 0.899000002, 1e-14, "p1");
  opt.step(layout, p, g);
  check_close(p[0], 0.798101003998, 1e-13, "p2");
  // The moments see the raw gradient: no L2 term in AdamW.
  check_close(opt.state().exp_avg[0], 0.095, 1e-14, "m2");
}

TEST_CASE("Adam: L2 weight decay enters the gradient") {
  // wd = 0.1: the gradient becomes g + 0.1 p.
  // Step 1: g' = 0.5 + 0.1 * 1 = 0.6; m1 = 0.06, v1 = 0.00036; m_hat = 0.6, sqrt(v_hat) = 0.6
  //   p1 = 1 - 0.1 * 0.6 / (0.6 + 1e-8) = 0.90000000166666...
  // Step 2: g' = 0.5 + 0.1 * p1 = 0.590000000166666...
  //   m2 = 0.9 * 0.06 + 0.1 * g' = 0.11300000001666...   v2 = 0.999 * 0.00036 + 0.001 * g'^2 = 0.00070774000019...
  //   p2 = p1 - (0.1 / 0.19) * m2 / (sqrt(v2) / sqrt(0.001999) + 1e-8) = 0.80004734048833...
  const ParamLayout layout = scalar_layout();
  Adam<double> opt(AdamMode::adam, GroupSettings{0.1, 0.1});
  Vector<double> p(1), g(1);
  p << 1.0;
  g << 0.5;
  opt.step(layout, p, g);
  const double p1 = 1.0 - 0.1 * 0.6 / (0.6 + kEps);
  check_close(p[0], p1, 1e-14, "p1");
  opt.step(layout, p, g);
  const double g2 = 0.5 + 0.1 * p1;
  const double m2 = 0.9 * 0.06 + 0.1 * g2;
  const double v2 = 0.999 * 0.00036 + 0.001 * g2 * g2;
  const double p2 = p1 - (0.1 / (1 - 0.9 * 0.9)) * m2 / (std::sqrt(v2) / std::sqrt(1 - 0.999 * 0.999) + kEps);
  check_close(p[0], p2, 1e-13, "p2");
  check_close(p[0], 0.80004734048833148, 1e-13, "p2 decimal");
  check_close(opt.state().exp_avg[0], m2, 1e-14, "m2");
}

// ---------------------------------------------------------------------------
// torch reference. Produced by tests/optim/make_reference.py with torch
// 1.13.0a0 (CPU, float64): three torch optimizers, one per group (weights: 2x3,
// neuron: 2, skip: 4), three steps with fixed gradients, and beta1 set by hand
// before every step. Columns: the 6 weights, the 2 neuron parameters, the 4 skip
// logits, after each step.
// ---------------------------------------------------------------------------
namespace {

const double kP0[12] = {0.5, -0.25, 1.0, 0.125, -0.75, 2.0, 0.25, -0.5, 0.0, 0.0, 0.0, 0.0};
const double kGrads[3][12] = {
    {0.1, -0.2, 0.3, 0.0, 0.5, -1.0, 0.01, -0.02, 0.25, -0.125, 0.0, 0.5},
    {0.2, 0.1, -0.3, 0.0625, 0.5, -0.5, -0.03, 0.04, 0.125, 0.125, -0.0625, 0.25},
    {-0.1, 0.05, 0.2, -0.0625, 0.25, 0.75, 0.02, 0.0, -0.25, 0.5, 0.0625, 0.0},
};
// beta1 in force at steps 1, 2, 3 for weights, neuron, skip.
const double kBeta1[3][3] = {{0.95, 0.9, 0.85}, {0.9, 0.9, 0.9}, {0.85, 0.95, 0.9}};

// Adam: weights lr 0.01 wd 0.1 (L2), neuron lr 1e-4, skip lr 0.25, both wd 0.
const double kAdamStep[3][12] = {
    {0.4900000006666666, -0.24000000044444442, 0.99000000025000001, 0.1150000079999936,
     -0.75999999976470589, 2.0099999998750002, 0.24990000009999991, -0.49990000004999996,
     -0.24999999000000039, 0.24999998000000162, 0, -0.24999999500000009},
    {0.48189685973396662, -0.23920847341815055, 0.99034921740819226, 0.10710473372229783,
     -0.76762816815166435, 2.0157444126844202, 0.24994941906123322, -0.49993661039112808,
     -0.7933445962989446, 0.48717944820512948, 0.18126405704324858, -0.79334461504665943},
    {0.47898829769051321, -0.239540334104036, 0.98675770145538189, 0.10759707282127841,
     -0.77325283915847698, 2.0127003130806487, 0.24994754029266172, -0.49996491028891454,
     -0.84740460216352886, 0.36793705035089447, 0.11913848952072664, -1.0088745043068679},
};
// AdamW: weights lr 0.001 wd 0.01 (decoupled), neuron lr 1e-4, skip lr 0.1, both wd 0.
const double kAdamWStep[3][12] = {
    {0.49899500010000003, -0.24899750005000001, 0.99899000003333338, 0.12499875000000001,
     -0.75099249998000006, 2.0009799999900002, 0.24990000009999991, -0.49990000004999996,
     -0.099999996000000174, 0.099999992000000648, 0, -0.099999998000000034},
    {0.49817459780043721, -0.24902830220285119, 0.99926948380789449, 0.12425336335726983,
     -0.75174814793447398, 2.0015925406511919, 0.24994941906123322, -0.49993661039112808,
     -0.31733783851957786, 0.19487177928205179, 0.072505622817299442, -0.31733784601866372},
    {0.49806287431029994, -0.24918944684360197, 0.99910659625311682, 0.12445837543918591,
     -0.75233397691150439, 2.0014666551610767, 0.24994754029266172, -0.49996491028891454,
     -0.33896184086541159, 0.14717482014035776, 0.047655395808290667, -0.40354980172274713},
};

template <typename T>
void run_reference(AdamMode mode, const std::array<GroupSettings, kNumParamGroups>& groups,
                   const double (&want)[3][12], double rel) {
  const ParamLayout layout = reference_layout();
  Adam<T> opt(mode, groups);
  Vector<T> p(12), g(12);
  for (int i = 0; i < 12; ++i) p[i] = static_cast<T>(kP0[i]);
  for (int s = 0; s < 3; ++s) {
    for (int k = 0; k < kNumParamGroups; ++k) opt.set_beta1(static_cast<ParamGroup>(k), kBeta1[k][s]);
    for (int i = 0; i < 12; ++i) g[i] = static_cast<T>(kGrads[s][i]);
    opt.step(layout, p, g);
    for (int i = 0; i < 12; ++i)
      check_close(static_cast<double>(p[i]), want[s][i], rel,
                  "step " + std::to_string(s + 1) + " element " + std::to_string(i));
  }
  for (int k = 0; k < kNumParamGroups; ++k) CHECK(opt.step_count(static_cast<ParamGroup>(k)) == 3);
}

}  // namespace

TEST_CASE("Adam matches torch.optim.Adam (three groups, beta1 changed every step)") {
  const std::array<GroupSettings, kNumParamGroups> groups{
      GroupSettings{0.01, 0.1}, GroupSettings{1e-4, 0.0}, GroupSettings{0.25, 0.0}};
  run_reference<double>(AdamMode::adam, groups, kAdamStep, 1e-14);
  run_reference<float>(AdamMode::adam, groups, kAdamStep, 2e-6);
}

TEST_CASE("AdamW matches torch.optim.AdamW (three groups, beta1 changed every step)") {
  const std::array<GroupSettings, kNumParamGroups> groups{
      GroupSettings{0.001, 0.01}, GroupSettings{1e-4, 0.0}, GroupSettings{0.1, 0.0}};
  run_reference<double>(AdamMode::adamw, groups, kAdamWStep, 1e-14);
  run_reference<float>(AdamMode::adamw, groups, kAdamWStep, 2e-6);
}

// ---------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------

TEST_CASE("groups keep their own learning rate, weight decay and beta1") {
  // Three one-element entries with identical value and gradient, one per group.
  ParamLayout layout;
  layout.add("a", 1, 1, ParamGroup::weights);
  layout.add("b", 1, 1, ParamGroup::neuron);
  layout.add("c", 1, 1, ParamGroup::skip);
  Adam<double> opt(AdamMode::adamw, {GroupSettings{0.1, 0.01}, GroupSettings{1e-4, 0.0},
                                     GroupSettings{0.25, 0.0}});
  Vector<double> p = Vector<double>::Constant(3, 1.0);
  const Vector<double> g = Vector<double>::Constant(3, 0.5);
  opt.step(layout, p, g);
  // First step: every Adam step is lr * 0.5 / (0.5 + 1e-8); only "a" decays.
  check_close(p[0], 0.999 - 0.1 / (1 + 2e-8), 1e-14, "weights");
  check_close(p[1], 1.0 - 1e-4 / (1 + 2e-8), 1e-14, "neuron");
  check_close(p[2], 1.0 - 0.25 / (1 + 2e-8), 1e-14, "skip: no weight decay");

  // A zero gradient and zero moments: AdamW with wd 0 leaves the skip logit alone,
  // the weights still decay.
  Adam<double> opt2(AdamMode::adamw, {GroupSettings{0.1, 0.5}, GroupSettings{0.1, 0.0},
                                      GroupSettings{0.1, 0.0}});
  Vector<double> q = Vector<double>::Constant(3, 2.0);
  opt2.step(layout, q, Vector<double>::Zero(3));
  CHECK(q[0] == doctest::Approx(2.0 * (1 - 0.05)).epsilon(1e-15));
  CHECK(q[1] == 2.0);
  CHECK(q[2] == 2.0);
  // The same with Adam's L2 term: with wd 0 the skip logit gets no gradient at all.
  Adam<double> opt3(AdamMode::adam, {GroupSettings{0.1, 0.5}, GroupSettings{0.1, 0.0},
                                     GroupSettings{0.1, 0.0}});
  Vector<double> r = Vector<double>::Constant(3, 2.0);
  opt3.step(layout, r, Vector<double>::Zero(3));
  check_close(r[0], 2.0 - 0.1 / (1 + 1e-8), 1e-14, "L2 weights: g' = 0.5 * 2 = 1");
  CHECK(r[1] == 2.0);
  CHECK(r[2] == 2.0);

  // beta1 of one group does not touch the others.
  opt.set_beta1(ParamGroup::skip, 0.5);
  CHECK(opt.beta1(ParamGroup::skip) == 0.5);
  CHECK(opt.beta1(ParamGroup::weights) == Adam<double>::kDefaultBeta1);
  CHECK(opt.beta1(ParamGroup::neuron) == Adam<double>::kDefaultBeta1);
  opt.set_lr(ParamGroup::neuron, 3e-4);
  CHECK(opt.lr(ParamGroup::neuron) == 3e-4);
  CHECK(opt.lr(ParamGroup::weights) == 0.1);
}

TEST_CASE("step counters are per group and empty groups do not step") {
  ParamLayout layout;
  layout.add("w", 2, 2, ParamGroup::weights);
  layout.add("s", 1, 3, ParamGroup::skip);  // no neuron group
  Adam<double> opt;
  Vector<double> p = Vector<double>::Ones(7), g = Vector<double>::Constant(7, 0.1);
  opt.step(layout, p, g);
  opt.step(layout, p, g);
  CHECK(opt.step_count(ParamGroup::weights) == 2);
  CHECK(opt.step_count(ParamGroup::neuron) == 0);
  CHECK(opt.step_count(ParamGroup::skip) == 2);
}

// ---------------------------------------------------------------------------
// State and validation
// ---------------------------------------------------------------------------

TEST_CASE("state round trip continues exactly") {
  const ParamLayout layout = reference_layout();
  const std::array<GroupSettings, kNumParamGroups> groups{
      GroupSettings{0.01, 0.1}, GroupSettings{1e-4, 0.0}, GroupSettings{0.25, 0.0}};
  Adam<double> a(AdamMode::adam, groups);
  Vector<double> p(12), g(12);
  for (int i = 0; i < 12; ++i) p[i] = kP0[i];
  for (int i = 0; i < 12; ++i) g[i] = kGrads[0][i];
  a.step(layout, p, g);
  a.step(layout, p, g);

  Adam<double> b(AdamMode::adam, groups);
  b.set_state(layout, a.state());
  Vector<double> pb = p;
  for (int i = 0; i < 12; ++i) g[i] = kGrads[2][i];
  a.step(layout, p, g);
  b.step(layout, pb, g);
  CHECK(p == pb);
  CHECK(b.step_count(ParamGroup::skip) == 3);

  b.reset();
  CHECK(b.step_count(ParamGroup::weights) == 0);
  CHECK(b.state().exp_avg.size() == 0);
}

TEST_CASE("invalid arguments are refused with clear messages") {
  const ParamLayout layout = reference_layout();
  Adam<double> opt;
  Vector<double> p = Vector<double>::Zero(12), g = Vector<double>::Zero(11);
  CHECK_THROWS_WITH_AS(opt.step(layout, p, g),
                       "Adam::step(): expected a gradient vector of 12 elements, got 11",
                       std::invalid_argument);
  Vector<double> p5 = Vector<double>::Zero(5);
  CHECK_THROWS_AS(opt.step(layout, p5, p5), std::invalid_argument);
  CHECK_THROWS_WITH_AS(opt.set_beta1(ParamGroup::weights, 1.0),
                       "Adam::set_beta1(): expected beta1 in [0, 1) for group weights, got 1",
                       std::invalid_argument);
  CHECK_THROWS_AS(opt.set_lr(ParamGroup::skip, -1.0), std::invalid_argument);
  CHECK_THROWS_AS(opt.set_group(ParamGroup::weights, GroupSettings{0.1, -0.01}),
                  std::invalid_argument);

  AdamState<double> s;
  s.exp_avg = Vector<double>::Zero(12);
  s.exp_avg_sq = Vector<double>::Zero(10);
  CHECK_THROWS_WITH_AS(opt.set_state(layout, s),
                       "Adam::set_state(): expected exp_avg_sq of 12 elements (the layout's size), got 10",
                       std::invalid_argument);
  s.exp_avg_sq = Vector<double>::Zero(12);
  s.exp_avg_sq[3] = -1.0;
  CHECK_THROWS_AS(opt.set_state(layout, s), std::invalid_argument);
  s.exp_avg_sq[3] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(opt.set_state(layout, s),
                       "Adam::set_state(): expected exp_avg_sq values >= 0 (+inf allowed), got nan at element 3",
                       std::invalid_argument);
  s.exp_avg_sq[3] = 0.0;
  s.steps = {1, -1, 1};
  CHECK_THROWS_AS(opt.set_state(layout, s), std::invalid_argument);
  AdamState<double> fresh;
  fresh.steps = {2, 0, 0};
  CHECK_THROWS_AS(opt.set_state(layout, fresh), std::invalid_argument);

  // State from another layout is refused at the next step.
  Adam<double> other;
  Vector<double> p12 = Vector<double>::Zero(12), g12 = Vector<double>::Zero(12);
  other.step(layout, p12, g12);
  ParamLayout bigger = reference_layout();
  bigger.add("extra", 1, 1, ParamGroup::weights);
  Vector<double> p13 = Vector<double>::Zero(13);
  CHECK_THROWS_AS(other.step(bigger, p13, p13), std::invalid_argument);
}

// A squared gradient beyond float's range leaves +inf in the second moment; the run goes
// on with that element frozen, so a checkpoint holding it resumes to the same numbers.
TEST_CASE("Adam: an infinite second moment is state that resumes exactly") {
  ParamLayout layout;
  layout.add("w", 1, 4, ParamGroup::weights);
  Adam<float> a;
  Vector<float> p = Vector<float>::Constant(4, 0.5f), g(4);
  g << 1.0f, 1e21f, -2.0f, 0.5f;  // 1e-3 * 1e21^2 overflows float
  a.step(layout, p, g);
  CHECK(std::isinf(a.state().exp_avg_sq[1]));
  CHECK(p.allFinite());
  const float frozen = p[1];
  Adam<float> b;
  b.set_state(layout, a.state());
  Vector<float> pb = p;
  g << 0.25f, 1.0f, 1.0f, -1.0f;
  a.step(layout, p, g);
  b.step(layout, pb, g);
  CHECK(p == pb);
  CHECK(p[1] == frozen);
}
