// Data parallelism without MPI: the chunk partition across ranks, and the Network's slice
// hook: shares of a batch run by separate network copies (as ranks would), their chunk
// results added in chunk order, equal bitwise the whole batch in one call, dropout and
// layer 0's kernel choice included. The MPI runs themselves are tests/parallel/mpi_train.cpp.
#include <doctest/doctest.h>

#include <asrc/parallel/data_parallel.hpp>

#include "../support/networks.hpp"
#include "../support/synthetic.hpp"

using namespace asrc;
using namespace asrc_test;

TEST_CASE("rank_chunks: contiguous ranges in rank order covering every chunk, sizes within one") {
  for (Index n : {0, 1, 5, 16, 17}) {
    for (int size : {1, 2, 3, 4, 64}) {
      Index next = 0, lo = n, hi = 0;
      for (int r = 0; r < size; ++r) {
        const auto [a, b] = rank_chunks(n, r, size);
        CHECK(a == next);
        next = b;
        lo = std::min(lo, b - a);
        hi = std::max(hi, b - a);
      }
      CHECK(next == n);
      CHECK(hi - lo <= 1);
    }
  }
  CHECK_THROWS_WITH_AS(rank_chunks(4, 2, 2), "rank_chunks(): expected 0 <= rank < size, got 2 of 2",
                       std::invalid_argument);
}

TEST_CASE("shares of a batch run apart and added in chunk order equal the whole batch, bitwise") {
  for (Recurrence rec : {Recurrence::src, Recurrence::asrc}) {
    CAPTURE(int(rec));
    NetworkConfig cfg = tiny_config(rec, 3);
    cfg.dropout = 0.2;  // masks are drawn for the whole batch on every copy
    const Index steps = 12, B = 9, C = cfg.chunk_size;  // 5 chunks, the last one short
    // Sequences 0-3 mostly zero, 4-8 dense: each share alone would pick a different layer-0
    // kernel than the whole batch, so the slice must use the batch's count of non-zeros.
    Matrix<float> x = random_input<float>(steps, B, cfg.input_size, 11, 0.0, 1.0);
    for (Index t = 0; t < steps; ++t)
      for (Index b = 0; b < 4; ++b)
        for (Index f = 0; f < cfg.input_size; ++f)
          if ((t + f) % 10) x(t * B + b, f) = 0.0f;
    std::vector<int> y = {0, 1, 2, 1, 0, 2, 2, 1, 0};
    const Index nonzero = (x.array() != 0.0f).count();

    Network<float> whole(cfg);
    Vector<float> g_whole;
    const double loss_whole = whole.forward_backward(x, B, y, g_whole);

    // Three "ranks": chunks {0, 1}, {2, 3}, {4}.
    Vector<float> g = Vector<float>::Zero(whole.num_params());
    double loss = 0.0;
    std::vector<double> spikes(cfg.hidden.size(), 0.0);
    for (int r = 0; r < 3; ++r) {
      const auto [c0, c1] = rank_chunks(5, r, 3);
      const Index s0 = c0 * C, s1 = std::min(c1 * C, B), Bl = s1 - s0;
      Matrix<float> xs(steps * Bl, cfg.input_size);
      for (Index t = 0; t < steps; ++t) xs.middleRows(t * Bl, Bl) = x.middleRows(t * B + s0, Bl);
      Network<float> part(cfg);
      part.forward_backward_chunks(xs, Bl, std::vector<int>(y.begin() + s0, y.begin() + s1),
                                   BatchSlice{B, s0, nonzero});
      for (Index ci = 0; ci < c1 - c0; ++ci) {
        g += part.chunk_gradients()[size_t(ci)];
        loss += part.chunk_losses()[size_t(ci)];
        for (size_t l = 0; l < spikes.size(); ++l) spikes[l] += part.chunk_spike_sums()[size_t(ci) * spikes.size() + l];
      }
      CHECK(part.dropout_rng().state() == whole.dropout_rng().state());
    }
    CHECK(loss / double(B) == loss_whole);
    CHECK(g == g_whole);
    for (size_t l = 0; l < spikes.size(); ++l)
      CHECK(spikes[l] / (double(steps) * double(B) * double(cfg.hidden[l])) == whole.spike_rates()[l]);
  }
}

TEST_CASE("a slice must start at a chunk boundary inside its batch") {
  Network<float> net(tiny_config(Recurrence::src, 3));
  const Matrix<float> x = random_input<float>(12, 2, 3, 1, 0.0, 1.0);
  CHECK_THROWS_WITH_AS(net.forward_backward_chunks(x, 2, {0, 1}, BatchSlice{6, 1, -1}),
                       "Network::forward_backward_chunks(): expected a slice at a multiple of chunk_size 2 "
                       "inside the global batch of 6, got sequences 1 .. 2",
                       std::invalid_argument);
}

TEST_CASE("one process: the data-parallel step is the plain step, bitwise") {
  auto ds = std::make_shared<SyntheticDataset>(21, 10, 3, 3, 5);
  NetworkConfig cfg = tiny_config(Recurrence::asrc, 3);
  cfg.dropout = 0.1;
  Network<float> a(cfg), b(cfg);
  std::vector<Index> idx = {4, 0, 7, 19, 3, 3, 11, 8, 2};
  Matrix<float> x;
  std::vector<int> y;
  make_batch(*ds, idx, x, y);
  Vector<float> ga, gb;
  Matrix<float> la, lb;
  const double loss_a = a.forward_backward(x, Index(idx.size()), y, ga, nullptr, &la);
  double correct = 0;
  const double loss_b = data_parallel_forward_backward(single_process(), b, *ds, idx, true, x, y, lb, gb, correct);
  CHECK(loss_a == loss_b);
  CHECK(ga == gb);
  CHECK(a.spike_rates() == b.spike_rates());
  double expect_correct = 0;
  for (Index r = 0; r < la.rows(); ++r) {
    Index arg;
    la.row(r).maxCoeff(&arg);
    expect_correct += arg == y[size_t(r)];
  }
  CHECK(correct == expect_correct);
}
