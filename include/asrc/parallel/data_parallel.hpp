#pragma once
// Data-parallel training steps over a Communicator: each rank runs a contiguous range of
// whole chunks of the global batch (rank_chunks), and the chunk results are added in
// global chunk order, so that losses, gradients and therefore weights are bitwise those of
// one process with the same batch, seed and chunk_size, for any number of ranks and
// threads. `exact = false` sums each rank's chunks locally and combines the ranks with a
// plain allreduce instead (faster on many ranks, not bitwise reproducible).
#include <cstdint>
#include <cstring>
#include <vector>

#include "asrc/data/dataset.hpp"
#include "asrc/layers/readout.hpp"
#include "asrc/network/network.hpp"
#include "asrc/parallel/communicator.hpp"
#include "asrc/parallel/sharded_dataset.hpp"

namespace asrc {

/// This rank's sequences [first, last) of a batch of B sequences cut into chunks of C.
inline std::pair<Index, Index> rank_sequences(Index B, Index C, const Communicator& comm) {
  const Index nchunks = B / C + (B % C != 0);
  const auto [c0, c1] = rank_chunks(nchunks, comm.rank(), comm.size());
  return {std::min(c0 * C, B), std::min(c1 * C, B)};
}

/// One training step's forward and backward over all ranks. Builds only this rank's share
/// of the batch `idx` from `ds`; returns the mean loss over the whole batch, assigns the
/// gradient (identical on every rank) and adds the whole batch's correct predictions to
/// `correct`. Sets the network's spike rates from all ranks.
template <typename Net>  // a Network<float> or one with its interface
double data_parallel_forward_backward(Communicator& comm, Net& net, const Dataset& ds,
                                      const std::vector<Index>& idx, bool exact, Matrix<float>& x,
                                      std::vector<int>& y, Matrix<float>& logits,
                                      Vector<float>& grad, double& correct) {
  const Index B = static_cast<Index>(idx.size()), C = net.config().chunk_size;
  const Index nchunks = B / C + (B % C != 0);
  const auto [s0, s1] = rank_sequences(B, C, comm);
  const Index Bl = s1 - s0, nl = (Bl + C - 1) / C;
  const size_t L = net.layers().size(), rec = 2 + L;  // per chunk: loss, correct, spikes per layer

  std::int64_t nonzero = 0;
  if (const auto* sharded = dynamic_cast<const ShardedDataset*>(&ds))
    sharded->fetch(idx, C, x, y);  // collective: also on a rank without a share
  else if (Bl > 0)
    make_batch(ds, std::vector<Index>(idx.begin() + s0, idx.begin() + s1), x, y);
  if (Bl > 0) nonzero = static_cast<std::int64_t>((x.array() != 0.0f).count());
  comm.allreduce_sum(&nonzero, 1);  // integers: exact in any order
  if (Bl > 0)
    net.forward_backward_chunks(x, Bl, y, BatchSlice{B, s0, static_cast<Index>(nonzero)}, &logits);
  else
    net.skip_batch(B);

  std::vector<double> mine(static_cast<size_t>(nl) * rec), all(static_cast<size_t>(nchunks) * rec);
  for (Index ci = 0; ci < nl; ++ci) {
    double* r = mine.data() + size_t(ci) * rec;
    r[0] = net.chunk_losses()[size_t(ci)];
    for (Index b = ci * C; b < std::min(Bl, (ci + 1) * C); ++b) {
      Index arg;
      logits.row(b).maxCoeff(&arg);
      if (arg == y[size_t(b)]) r[1] += 1;
    }
    for (size_t l = 0; l < L; ++l) r[2 + l] = net.chunk_spike_sums()[size_t(ci) * L + l];
  }
  std::vector<Index> counts(static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    const auto [c0, c1] = rank_chunks(nchunks, r, comm.size());
    counts[size_t(r)] = (c1 - c0) * Index(rec);
  }
  comm.allgather(mine.data(), counts, all.data());

  // The same additions, in the same order, as Network::run() on the whole batch.
  double loss = 0.0;
  std::vector<double> spikes(L, 0.0);
  for (Index ci = 0; ci < nchunks; ++ci) {
    const double* r = all.data() + size_t(ci) * rec;
    loss += r[0];
    correct += r[1];
  }
  for (size_t l = 0; l < L; ++l) {
    for (Index ci = 0; ci < nchunks; ++ci) spikes[l] += all[size_t(ci) * rec + 2 + l];
    spikes[l] /= double(ds.steps()) * double(B) * double(net.layers()[l].size());
  }
  net.set_spike_rates(spikes);

  const Index P = net.num_params();
  grad.resize(P);
  const auto& cg = net.chunk_gradients();
  if (exact) {
    comm.ordered_sum(grad.data(), P, [&](float* block, Index off, Index len) {
      Eigen::Map<Vector<float>> g(block, len);
      for (Index ci = 0; ci < nl; ++ci) g += cg[size_t(ci)].segment(off, len);
    });
  } else {
    grad.setZero();
    for (Index ci = 0; ci < nl; ++ci) grad += cg[size_t(ci)];
    comm.allreduce_sum(grad.data(), P);
  }
  return loss / static_cast<double>(B);
}

/// Evaluation of one batch over all ranks: adds the batch's summed loss (in sample order,
/// as one process adds it) and correct predictions. Each rank runs its whole chunks.
template <typename Net>
void data_parallel_evaluate_batch(Communicator& comm, Net& net, const Dataset& ds,
                                  const std::vector<Index>& idx, Matrix<float>& x,
                                  std::vector<int>& y, double& loss_sum, double& correct) {
  const Index B = static_cast<Index>(idx.size()), C = net.config().chunk_size;
  const auto [s0, s1] = rank_sequences(B, C, comm);
  const Index Bl = s1 - s0;
  std::vector<double> mine(static_cast<size_t>(2 * Bl)), all(static_cast<size_t>(2 * B));
  if (const auto* sharded = dynamic_cast<const ShardedDataset*>(&ds))
    sharded->fetch(idx, C, x, y);  // collective: also on a rank without a share
  else if (Bl > 0)
    make_batch(ds, std::vector<Index>(idx.begin() + s0, idx.begin() + s1), x, y);
  if (Bl > 0) {
    const Matrix<float> logits = net.forward(x, Bl);
    for (Index b = 0; b < Bl; ++b) {
      const Matrix<float> row = logits.row(b);
      mine[size_t(2 * b)] = softmax_cross_entropy(row, &y[size_t(b)], 1, nullptr);
      Index arg;
      logits.row(b).maxCoeff(&arg);
      mine[size_t(2 * b + 1)] = arg == y[size_t(b)] ? 1.0 : 0.0;
    }
  }
  std::vector<Index> counts(static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    const auto [first, last] = rank_chunks(B / C + (B % C != 0), r, comm.size());
    counts[size_t(r)] = 2 * (std::min(last * C, B) - std::min(first * C, B));
  }
  comm.allgather(mine.data(), counts, all.data());
  double total = 0.0;  // softmax_cross_entropy's own order over the batch
  for (Index b = 0; b < B; ++b) {
    total += all[size_t(2 * b)];
    correct += all[size_t(2 * b + 1)];
  }
  loss_sum += total;
}

/// Throws on every rank whose parameters differ from rank 0's (ranks on different CPU
/// types or binaries can round differently; the exact reduction assumes they do not).
inline void check_replicas(Communicator& comm, const Vector<float>& params) {
  std::uint64_t h = 1469598103934665603ULL, h0;  // FNV-1a over the bytes
  const auto* p = reinterpret_cast<const unsigned char*>(params.data());
  for (size_t i = 0; i < size_t(params.size()) * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ULL;
  h0 = h;
  comm.broadcast(&h0, sizeof h0, 0);
  require(h == h0, "check_replicas",
          "the parameters of every rank equal rank 0's (same binary and CPU type on every machine)",
          str_cat("a difference on rank ", comm.rank()));
}

}  // namespace asrc
