// Finite-difference checks of each module on its own (the whole-network checks are in
// network/test_gradients.cpp): one hidden layer for every recurrence kind and reset mode
// (parameters, input and lag coefficients), and the readout with its loss. The layer
// runs with the smooth spike of the multi-Gaussian surrogate, which is smooth
// everywhere, so central differences in double are accurate to ~1e-10.
#include <doctest/doctest.h>

#include <asrc/asrc.hpp>

using namespace asrc;

namespace {

template <typename T>
Matrix<T> uniform(Index r, Index c, std::uint64_t seed, double lo, double hi) {
  Rng rng(seed);
  Matrix<T> m(r, c);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = T(rng.uniform(lo, hi));
  return m;
}

struct LayerCase {
  std::string name;
  Recurrence rec;
  Index skip;
  std::vector<double> coeff;
};

// Loss = sum R (.) S of one layer's spikes, so dL/dS = R.
struct LayerProblem {
  HiddenLayerConfig hc;
  ParamLayout layout;
  std::unique_ptr<SpikingLayer<double>> layer;
  Vector<double> p;
  Matrix<double> x, R, mask;
  std::vector<double> coeff;
  Index Bc = 3, steps = 8;

  LayerProblem(const LayerCase& c, ResetMode reset, bool detach) {
    hc.input_size = 4;
    hc.size = 5;
    hc.recurrence = c.rec;
    hc.skip = c.skip;
    hc.lif.reset = reset;
    hc.lif.detach_reset = detach;
    hc.lif.surrogate = Surrogate::gaussian;
    hc.lif.spike_fn = SpikeFunction::smooth;
    layer = std::make_unique<SpikingLayer<double>>(hc, layout, "h");
    p = Eigen::Map<Vector<double>>(uniform<double>(layout.size(), 1, 1, -0.6, 0.8).data(), layout.size());
    x = uniform<double>(steps * Bc, hc.input_size, 2, -0.5, 1.5);
    R = uniform<double>(steps * Bc, hc.size, 3, -1, 1);
    mask = uniform<double>(Bc, hc.size, 4, 0.5, 1.5);
    coeff = c.coeff;
  }
  double loss(const Vector<double>& params, const Matrix<double>& xin, const std::vector<double>& cf) {
    layer->prepare(layout, params);
    LayerCache<double> cache;
    layer->forward(layout, params, xin, Bc, &mask, cf, KernelChoice{}, cache);
    return (R.array() * cache.S.array()).sum();
  }
};

const LayerCase kLayerCases[] = {
    {"none", Recurrence::none, 1, {}},
    {"vanilla", Recurrence::vanilla, 1, {1.0}},
    {"SRC lambda=3", Recurrence::src, 3, {0, 0, 1.0}},
    {"ASRC mixture T_lambda=4", Recurrence::asrc, 4, {0.1, 0.4, 0.2, 0.3}},
};

}  // namespace

TEST_CASE("SpikingLayer backward: parameters, input and lag coefficients") {
  for (const auto& c : kLayerCases) {
    for (ResetMode reset : {ResetMode::soft, ResetMode::hard}) {
      {  // detach_reset is checked on whole networks, with the reset spikes held fixed
        LayerProblem lp(c, reset, false);
        lp.layer->prepare(lp.layout, lp.p);
        LayerCache<double> cache;
        lp.layer->forward(lp.layout, lp.p, lp.x, lp.Bc, &lp.mask, lp.coeff, KernelChoice{}, cache);
        cache.G = lp.R;
        Vector<double> grad = Vector<double>::Zero(lp.layout.size());
        Matrix<double> gx;
        std::vector<double> gcoeff(lp.coeff.size(), 0.0);
        lp.layer->backward(lp.layout, lp.p, lp.x, lp.Bc, &lp.mask, lp.coeff, KernelChoice{}, cache,
                           grad, &gx, gcoeff);
        INFO(c.name, reset == ResetMode::soft ? " soft" : " hard");
        const double h = 1e-5;
        auto r = check_gradient<double>([&](const Vector<double>& q) { return lp.loss(q, lp.x, lp.coeff); },
                                        lp.p, grad, lp.layout, h);
        CHECK(r.analytic_norm > 1e-2);
        CHECK(r.max_rel_error < 1e-6);
        // Input gradient.
        ParamLayout xl;
        xl.add("x", lp.x.rows(), lp.x.cols(), ParamGroup::weights);
        Vector<double> xf = Eigen::Map<Vector<double>>(lp.x.data(), lp.x.size());
        Vector<double> gxf = Eigen::Map<Vector<double>>(gx.data(), gx.size());
        auto rx = check_gradient<double>(
            [&](const Vector<double>& q) {
              return lp.loss(lp.p, Eigen::Map<const Matrix<double>>(q.data(), lp.x.rows(), lp.x.cols()), lp.coeff);
            },
            xf, gxf, xl, h);
        CHECK(rx.max_rel_error < 1e-6);
        // Lag coefficients of the ASRC mixture.
        if (c.rec == Recurrence::asrc) {
          ParamLayout cl;
          cl.add("c", 1, Index(lp.coeff.size()), ParamGroup::skip);
          Vector<double> cf = Eigen::Map<const Vector<double>>(lp.coeff.data(), Index(lp.coeff.size()));
          Vector<double> gcf = Eigen::Map<const Vector<double>>(gcoeff.data(), Index(gcoeff.size()));
          auto rc = check_gradient<double>(
              [&](const Vector<double>& q) { return lp.loss(lp.p, lp.x, std::vector<double>(q.data(), q.data() + q.size())); },
              cf, gcf, cl, h);
          CHECK(rc.analytic_norm > 1e-3);
          CHECK(rc.max_rel_error < 1e-6);
        }
      }
    }
  }
}

TEST_CASE("Readout and softmax cross-entropy backward") {
  ParamLayout layout;
  Readout<double> ro(6, 4, true, layout);
  Vector<double> p = Eigen::Map<Vector<double>>(uniform<double>(layout.size(), 1, 5, -0.3, 0.3).data(), layout.size());
  const Index steps = 7, Bc = 3;
  Matrix<double> S = uniform<double>(steps * Bc, 6, 6, 0, 1);
  const int labels[] = {1, 3, 0};
  auto loss = [&](const Vector<double>& q, const Matrix<double>& s) {
    Matrix<double> C, logits;
    ro.features(s, Bc, C);
    ro.logits(layout, q, C, steps, false, logits);
    return softmax_cross_entropy(logits, labels, Bc, nullptr) / double(Bc);
  };
  Matrix<double> C, logits, glogits, gS;
  ro.features(S, Bc, C);
  ro.logits(layout, p, C, steps, false, logits);
  softmax_cross_entropy(logits, labels, Bc, &glogits);
  Vector<double> grad = Vector<double>::Zero(layout.size());
  ro.backward(layout, p, C, glogits, steps, grad, gS);
  auto r = check_gradient<double>([&](const Vector<double>& q) { return loss(q, S); }, p, grad, layout, 1e-6);
  CHECK(r.analytic_norm > 1e-2);
  CHECK(r.max_rel_error < 1e-7);
  ParamLayout sl;
  sl.add("S", S.rows(), S.cols(), ParamGroup::weights);
  Vector<double> sf = Eigen::Map<Vector<double>>(S.data(), S.size());
  Vector<double> gsf = Eigen::Map<Vector<double>>(gS.data(), gS.size());
  auto rs = check_gradient<double>(
      [&](const Vector<double>& q) { return loss(p, Eigen::Map<const Matrix<double>>(q.data(), S.rows(), S.cols())); },
      sf, gsf, sl, 1e-6);
  CHECK(rs.max_rel_error < 1e-7);
  // The exact row kernel used in evaluation gives the same logits.
  ro.prepare(layout, p);
  Matrix<double> exact;
  ro.logits(layout, p, C, steps, true, exact);
  CHECK((exact - logits).cwiseAbs().maxCoeff() < 1e-12);
}
