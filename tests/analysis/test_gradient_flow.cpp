// The per-step gradient norms of asrc/analysis/gradient_flow.hpp (what
// `asrc-analyze gradient-flow` reports) against finite differences of the naive reference
// (support/reference_rsnn.hpp, long double, smooth spikes so the gradient is exact);
// an observer changes no result bitwise; the Eq. 5-7 scalar model against the literal
// product of Eq. 7.
#include <doctest/doctest.h>

#include <asrc/analysis/gradient_flow.hpp>

#include <cstring>

#include "../support/networks.hpp"
#include "../support/reference_rsnn.hpp"

using namespace asrc;
using namespace asrc_test;

namespace {

using LD = long double;

struct Case {
  const char* name;
  Recurrence rec;
  Index skip;
};
const Case kCases[] = {
    {"RSNN", Recurrence::vanilla, 1},
    {"SRC lambda=3", Recurrence::src, 3},
    {"ASRC T_lambda=4", Recurrence::asrc, 4},
};

// dL/dU^l[t](b, h) by central differences of the reference. `last` replaces the loss by
// sum_{b,k} glogits(b, k) (W_o s_{T-1})(b, k), whose gradient is what the recorder's
// last-step mode propagates (the readout's dL/ds at the last step only).
std::vector<std::vector<double>> reference_sq_norms(const NetworkConfig& cfg, const Network<double>& net,
                                                    const Matrix<double>& x, Index B,
                                                    const std::vector<int>& labels, bool last,
                                                    const Matrix<double>& glogits) {
  const Index steps = x.rows() / B;
  const Vector<double>& p = net.params();
  const auto& layout = net.layout();
  const auto& wo = layout.entry(layout.find("readout.weight"));
  const Index HL = cfg.hidden.back();
  auto value = [&](const CurrentDelta<LD>* delta) -> LD {
    const auto run = reference_forward<LD>(cfg, layout, p, x, B, labels, net.tau(), true, {}, nullptr, delta);
    if (!last) return run.loss;
    LD f = 0;
    for (Index b = 0; b < B; ++b)
      for (Index k = 0; k < cfg.num_classes; ++k)
        for (Index h = 0; h < HL; ++h)
          f += LD(glogits(b, k)) * LD(p[wo.offset + k * wo.cols + h]) *
               run.reset_spikes.back()[size_t(b)][size_t((steps - 1) * HL + h)];
    return f;
  };
  const LD eps = 1e-7L;
  std::vector<std::vector<double>> sq(cfg.hidden.size(), std::vector<double>(size_t(steps), 0.0));
  for (size_t l = 0; l < cfg.hidden.size(); ++l)
    for (Index t = 0; t < steps; ++t)
      for (Index b = 0; b < B; ++b)
        for (Index h = 0; h < cfg.hidden[l]; ++h) {
          CurrentDelta<LD> up{l, b, t, h, eps}, down{l, b, t, h, -eps};
          const double g = double((value(&up) - value(&down)) / (2 * eps));
          sq[l][size_t(t)] += g * g;
        }
  return sq;
}

}  // namespace

TEST_CASE("gradient flow: per-step norms of dL/dU[t] equal finite differences of the reference") {
  for (const auto& c : kCases)
    for (bool last : {false, true}) {
      CAPTURE(c.name);
      CAPTURE(last);
      NetworkConfig cfg = tiny_config(c.rec, c.skip);
      cfg.lif.spike_fn = SpikeFunction::smooth;
      Network<double> net(cfg);
      if (c.rec == Recurrence::asrc) {
        net.set_tau(0.7);
        for (const auto& e : net.layout().entries())
          if (e.group == ParamGroup::skip)
            for (Index j = 0; j < e.size(); ++j) net.params()[e.offset + j] = 0.4 * std::cos(1.3 * double(j + e.offset));
      }
      const Index steps = 8, B = 3;
      const Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 5, -0.5, 2.0);
      const std::vector<int> labels = {2, 0, 1};

      GradientFlowRecorder<double> rec(cfg.hidden.size(), last);
      net.set_observer(&rec);
      Vector<double> grad;
      Matrix<double> logits;
      net.forward_backward(x, B, labels, grad, nullptr, &logits);
      net.set_observer(nullptr);
      Matrix<double> glogits;
      softmax_cross_entropy(logits, labels.data(), B, &glogits);

      const auto sq = reference_sq_norms(cfg, net, x, B, labels, last, glogits);
      double worst = 0, top_nonzero = 0;
      for (size_t l = 0; l < cfg.hidden.size(); ++l)
        for (Index t = 0; t < steps; ++t) {
          const double ref = std::sqrt(sq[l][size_t(t)]), got = rec.norm(l, t);
          worst = std::max(worst, std::abs(got - ref) / std::max(ref, 1e-12));
          if (l + 1 == cfg.hidden.size()) top_nonzero = std::max(top_nonzero, ref);
        }
      CHECK(top_nonzero > 1e-4);  // a check of zeros against zeros would prove nothing
      CHECK(worst < 1e-5);
      if (last) {
        // The last step's output cannot depend on later steps; the top layer's step T-1
        // gradient is the readout's, at every other step it comes only from the future.
        CHECK(rec.norm(cfg.hidden.size() - 1, steps - 1) > 0);
      }
    }
}

namespace {
// Forward V and S of every chunk, for the Eq. 7 check.
struct TraceObserver : NetworkObserver<double> {
  std::vector<Matrix<double>> V;
  void forward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<double>& v,
                     const Matrix<double>& s) override {
    if (l == 0 && ci == 0) V.push_back(v);
  }
};
}  // namespace

TEST_CASE("an observer changes no result bitwise") {
  for (const auto& c : kCases) {
    CAPTURE(c.name);
    NetworkConfig cfg = tiny_config(c.rec, c.skip);
    cfg.dropout = 0.2;  // the dropout draws must not move either
    const Index steps = 20, B = 5;
    const Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 3, -0.5, 2.0);
    const std::vector<int> labels = {2, 0, 1, 1, 0};
    Network<float> a(cfg), b(cfg);
    a.set_tau(0.5);
    b.set_tau(0.5);
    GradientFlowRecorder<float> rec(cfg.hidden.size());
    TemporalFactorRecorder<float> fac(b);
    struct Both : NetworkObserver<float> {
      GradientFlowRecorder<float>* r;
      TemporalFactorRecorder<float>* f;
      void begin(Index n, Index s, Index cs, Index ch) override { r->begin(n, s, cs, ch); f->begin(n, s, cs, ch); }
      void forward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<float>& V, const Matrix<float>& S) override {
        f->forward_layer(l, ci, b0, Bc, V, S);
      }
      void top_gradient(Index ci, Index Bc, Matrix<float>& dS) override { r->top_gradient(ci, Bc, dS); }
      void backward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<float>& G) override {
        r->backward_layer(l, ci, b0, Bc, G);
      }
      void end() override { r->end(); f->end(); }
    } both;
    both.r = &rec;
    both.f = &fac;
    b.set_observer(&both);
    for (int rep = 0; rep < 2; ++rep) {
      Vector<float> ga, gb;
      Matrix<float> la, lb;
      const double lossa = a.forward_backward(x, B, labels, ga, nullptr, &la);
      const double lossb = b.forward_backward(x, B, labels, gb, nullptr, &lb);
      CHECK(lossa == lossb);
      CHECK(ga.size() == gb.size());
      CHECK(std::memcmp(ga.data(), gb.data(), sizeof(float) * size_t(ga.size())) == 0);
      CHECK(std::memcmp(la.data(), lb.data(), sizeof(float) * size_t(la.size())) == 0);
      CHECK(a.spike_rates() == b.spike_rates());
    }
    CHECK(rec.norm(0, 0) > 0);  // the observer did run
    CHECK(fac.mean_abs(0, 0) == 1.0);
  }
}

TEST_CASE("the scalar model of Eq. 5-7 equals the literal product for an RSNN") {
  NetworkConfig cfg = tiny_config(Recurrence::vanilla, 1);
  cfg.chunk_size = 8;  // one chunk: the trace observer keeps chunk 0
  Network<double> net(cfg);
  const Index steps = 30, B = 4;
  const Matrix<double> x = random_input<double>(steps, B, cfg.input_size, 9, 0.0, 3.0);
  TemporalFactorRecorder<double> fac(net);
  TraceObserver tr;
  struct Both : NetworkObserver<double> {
    TemporalFactorRecorder<double>* f;
    TraceObserver* t;
    void begin(Index n, Index s, Index cs, Index ch) override { f->begin(n, s, cs, ch); }
    void forward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<double>& V, const Matrix<double>& S) override {
      f->forward_layer(l, ci, b0, Bc, V, S);
      t->forward_layer(l, ci, b0, Bc, V, S);
    }
    void end() override { f->end(); }
  } both;
  both.f = &fac;
  both.t = &tr;
  net.set_observer(&both);
  net.forward(x, B);
  REQUIRE(tr.V.size() == 1);
  const Matrix<double>& V = tr.V[0];
  const auto& e = net.layout().entry(net.layout().find("hidden0.recurrent"));
  const double alpha = cfg.lif.decay, vth = cfg.lif.threshold;
  const Index H = cfg.hidden[0];
  double max_rel = 0, checked = 0;
  for (Index k = 0; k < steps; ++k) {
    double mean = 0;
    for (Index b = 0; b < B; ++b)
      for (Index h = 0; h < H; ++h) {
        const double w2 = net.params()[e.offset + h * e.cols + h];
        double prod = 1;  // Eq. 7: prod_{t'=0}^{k-1} (alpha + (W_2 - alpha V_th) H(U[t + t']))
        for (Index tp = 0; tp < k; ++tp) {
          const double u = V((steps - 1 - k + tp) * B + b, h);
          prod *= alpha + (w2 - alpha * vth) * surrogate_grad<double>(cfg.lif.surrogate, u - vth);  // Eq. 5, 6
        }
        mean += std::abs(prod);
      }
    mean /= double(B * H);
    const double got = fac.mean_abs(0, k);
    if (mean > 1e-300) {
      max_rel = std::max(max_rel, std::abs(got - mean) / mean);
      ++checked;
    }
  }
  CHECK(checked > 5);
  CHECK(max_rel < 1e-12);
}

TEST_CASE("gradient flow recorders refuse reads outside what they recorded") {
  GradientFlowRecorder<float> rec(2);
  CHECK_THROWS_WITH_AS(rec.norm(0, 0), doctest::Contains("GradientFlowRecorder::norm(): expected a recorded layer"),
                       std::invalid_argument);
  CHECK_THROWS_AS(GradientFlowRecorder<float>(0), std::invalid_argument);
}

TEST_CASE("gradient flow norms below 1e-154 (whose squares underflow) are kept") {
  GradientFlowRecorder<double> rec(1);
  rec.begin(4, 2, 2, 2);
  Matrix<double> a(4, 3), b(4, 3);  // 2 steps x 2 sequences per chunk
  a.setConstant(3e-200);
  b.setConstant(4e-200);
  b.row(2).setConstant(0.0);  // step 1 of chunk 1 is zero
  b.row(3).setConstant(0.0);
  rec.backward_layer(0, 0, 0, 2, a);
  rec.backward_layer(0, 1, 2, 2, b);
  rec.end();
  CHECK(rec.norm(0, 0) == doctest::Approx(std::sqrt(6 * 9.0 + 6 * 16.0) * 1e-200).epsilon(1e-12));
  CHECK(rec.norm(0, 1) == doctest::Approx(std::sqrt(6 * 9.0) * 1e-200).epsilon(1e-12));
}
