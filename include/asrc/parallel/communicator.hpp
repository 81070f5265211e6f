#pragma once
// What data-parallel training needs from a group of processes that train one model
// together, and the single-process group. The MPI group is parallel/mpi_communicator.hpp,
// compiled only with ASRC_WITH_MPI, so the library stays usable without MPI and the
// Trainer never calls MPI itself.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  bool root() const { return rank() == 0; }

  /// The sum of n floats over all ranks, added in rank order, left on every rank:
  /// rank r receives the running sum of ranks 0..r-1 (rank 0 starts from zeros), calls
  /// add_local(block, offset, length) to add its own terms to each block, and passes it
  /// on; the last rank's result is broadcast. The additions are the same, in the same
  /// order, as one process adding every term, so the result is bitwise that of one
  /// process for any number of ranks.
  virtual void ordered_sum(float* data, Index n,
                           const std::function<void(float*, Index, Index)>& add_local) = 0;
  /// In-place sums over all ranks, in an order the library chooses (not bitwise
  /// reproducible across rank counts for floating point; exact for integers).
  virtual void allreduce_sum(float* data, Index n) = 0;
  virtual void allreduce_sum(std::int64_t* data, Index n) = 0;
  /// Concatenate every rank's `send` (counts[r] doubles from rank r) in rank order into
  /// `recv` on every rank.
  virtual void allgather(const double* send, const std::vector<Index>& counts, double* recv) = 0;
  /// Personalised exchange: send_bytes[r] bytes of `send` (consecutive, in rank order) go to
  /// rank r; recv_bytes[r] bytes from rank r land in `recv`, in rank order.
  virtual void alltoall(const void* send, const std::vector<Index>& send_bytes, void* recv,
                        const std::vector<Index>& recv_bytes) = 0;
  /// Copy `bytes` bytes from `root_rank` to every rank.
  virtual void broadcast(void* data, std::size_t bytes, int root_rank) = 0;
  /// End every rank at once with `code` (after a failure on this rank only, so that the
  /// others do not wait for it forever).
  [[noreturn]] virtual void abort(int code) = 0;
};

/// One process: every collective is a copy or nothing.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void ordered_sum(float* data, Index n,
                   const std::function<void(float*, Index, Index)>& add_local) override {
    std::fill(data, data + n, 0.0f);
    add_local(data, 0, n);
  }
  void allreduce_sum(float*, Index) override {}
  void allreduce_sum(std::int64_t*, Index) override {}
  void allgather(const double* send, const std::vector<Index>& counts, double* recv) override {
    std::memcpy(recv, send, sizeof(double) * static_cast<std::size_t>(counts.at(0)));
  }
  void alltoall(const void* send, const std::vector<Index>& send_bytes, void* recv,
                const std::vector<Index>&) override {
    std::memcpy(recv, send, static_cast<std::size_t>(send_bytes.at(0)));
  }
  void broadcast(void*, std::size_t, int) override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

/// The process-wide single-process group (the Trainer's default).
inline Communicator& single_process() {
  static SingleProcess c;
  return c;
}

/// The chunks [first, last) of a batch of `nchunks` chunks that `rank` of `size` runs:
/// contiguous, in rank order, sizes differing by at most one.
inline std::pair<Index, Index> rank_chunks(Index nchunks, int rank, int size) {
  require(size >= 1 && rank >= 0 && rank < size, "rank_chunks", "0 <= rank < size",
          str_cat(rank, " of ", size));
  const Index q = nchunks / size, r = nchunks % size;
  const Index first = rank * q + std::min<Index>(rank, r);
  return {first, first + q + (rank < r ? 1 : 0)};
}

}  // namespace asrc
