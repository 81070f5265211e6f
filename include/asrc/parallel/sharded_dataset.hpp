#pragma once
// A data set of which each rank holds only a contiguous shard (rank_chunks over the samples:
// rank r holds samples [first_r, last_r) of N), and the per-batch exchange that gives every
// rank its share of a global batch drawn from anywhere in the set. Every rank knows the whole
// batch (the shuffle is global and identical), so each owner knows what to send to whom
// without asking: one MPI_Alltoallv of the expanded samples per batch. The batch a rank
// builds is bitwise the one make_batch() builds from the whole set.
#include <memory>
#include <vector>

#include "asrc/data/dataset.hpp"
#include "asrc/parallel/communicator.hpp"

namespace asrc {

class ShardedDataset : public Dataset {
 public:
  /// The samples [first, last) of this rank's range of a set of `global_size` samples.
  static std::pair<Index, Index> shard_range(Index global_size, const Communicator& comm) {
    return rank_chunks(global_size, comm.rank(), comm.size());
  }

  /// `shard` holds exactly this rank's samples, shard_range(global_size, comm), in order.
  ShardedDataset(std::shared_ptr<const Dataset> shard, Index global_size, Communicator& comm)
      : shard_(std::move(shard)), global_(global_size), comm_(comm) {
    const auto [a, b] = shard_range(global_size, comm);
    first_ = a;
    require(shard_ && shard_->size() == b - a, "ShardedDataset::ShardedDataset",
            str_cat(b - a, " samples (the shard [", a, ", ", b, ") of ", global_size, ") on rank ", comm.rank()),
            shard_ ? shard_->size() : 0);
  }

  Index size() const override { return global_; }
  Index steps() const override { return shard_->steps(); }
  Index width() const override { return shard_->width(); }
  int num_classes() const override { return shard_->num_classes(); }
  int label(Index i) const override { return shard_->label(local(i, "ShardedDataset::label")); }
  void fill(Index i, float* out) const override { shard_->fill(local(i, "ShardedDataset::fill"), out); }
  std::string describe() const override {
    return str_cat(shard_->describe(), ", shard ", first_, "..", first_ + shard_->size() - 1, " of ", global_,
                   " on rank ", comm_.rank());
  }

  /// Collective, called by every rank for every batch: rank r receives the samples
  /// idx[s0_r .. s1_r) (its whole chunks of the batch, as rank_chunks assigns them with
  /// chunk size C) as a time-major batch in x, y.
  void fetch(const std::vector<Index>& idx, Index C, Matrix<float>& x, std::vector<int>& y) const {
    const int P = comm_.size(), me = comm_.rank();
    const Index B = static_cast<Index>(idx.size()), T = steps(), F = width(), per = T * F + 1;
    const Index nchunks = B / C + (B % C != 0);
    const size_t np = static_cast<size_t>(P);
    std::vector<Index> s0(np), s1(np);
    for (int r = 0; r < P; ++r) {
      const auto [c0, c1] = rank_chunks(nchunks, r, P);
      s0[size_t(r)] = std::min(c0 * C, B), s1[size_t(r)] = std::min(c1 * C, B);
    }
    // Send what I own, per destination in batch order; each sample is its T*F values and
    // its label (exact in a float for any class count below 2^24).
    std::vector<Index> send_n(np, 0), recv_n(np, 0);
    std::vector<float> send;
    for (int r = 0; r < P; ++r)
      for (Index b = s0[size_t(r)]; b < s1[size_t(r)]; ++b) {
        const Index i = idx[size_t(b)];
        if (owner(i) != me) continue;
        send.resize(send.size() + size_t(per));
        float* out = send.data() + send.size() - size_t(per);
        fill(i, out);
        out[T * F] = static_cast<float>(label(i));
        send_n[size_t(r)] += per * Index(sizeof(float));
      }
    const Index Bl = s1[size_t(me)] - s0[size_t(me)];
    for (Index b = s0[size_t(me)]; b < s1[size_t(me)]; ++b)
      recv_n[size_t(owner(idx[size_t(b)]))] += per * Index(sizeof(float));
    std::vector<float> recv(size_t(Bl * per));
    comm_.alltoall(send.data(), send_n, recv.data(), recv_n);
    // Unpack in batch order: from each owner, its samples arrive in batch order.
    std::vector<Index> at(np, 0);
    for (int r = 1; r < P; ++r) at[size_t(r)] = at[size_t(r - 1)] + recv_n[size_t(r - 1)] / Index(sizeof(float));
    x.resize(T * Bl, F);
    y.resize(size_t(Bl));
    for (Index b = 0; b < Bl; ++b) {
      const int o = owner(idx[size_t(s0[size_t(me)] + b)]);
      const float* in = recv.data() + at[size_t(o)];
      at[size_t(o)] += per;
      for (Index t = 0; t < T; ++t) x.row(t * Bl + b) = Eigen::Map<const Matrix<float>>(in + t * F, 1, F);
      y[size_t(b)] = static_cast<int>(in[T * F]);
    }
  }

 private:
  Index local(Index i, const char* where) const {
    require(i >= first_ && i < first_ + shard_->size(), where,
            str_cat("a sample of the shard ", first_, "..", first_ + shard_->size() - 1, " of rank ", comm_.rank()), i);
    return i - first_;
  }
  /// The rank whose shard holds sample i (the inverse of rank_chunks).
  int owner(Index i) const {
    const Index P = comm_.size(), q = global_ / P, rem = global_ % P;
    return int(i < rem * (q + 1) ? i / (q + 1) : rem + (i - rem * (q + 1)) / q);
  }

  std::shared_ptr<const Dataset> shard_;
  Index global_;
  Index first_ = 0;
  Communicator& comm_;
};

}  // namespace asrc
