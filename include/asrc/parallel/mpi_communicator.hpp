#pragma once
// The MPI group (Open MPI from Debian: libopenmpi-dev). Built only with ASRC_WITH_MPI;
// asrc-train uses it when started by mpirun and SingleProcess otherwise.
#ifndef ASRC_WITH_MPI
#error "asrc/parallel/mpi_communicator.hpp needs ASRC_WITH_MPI (CMake: MPI found, -DASRC_WITH_MPI=ON)"
#endif
#include <mpi.h>

#include <cstdlib>
#include <iostream>

#include "asrc/parallel/communicator.hpp"

namespace asrc {

class MpiCommunicator final : public Communicator {
 public:
  /// True when this process was started by an MPI launcher (mpirun / mpiexec / srun), so
  /// that a plain start of the same binary stays a single process without MPI_Init.
  static bool launched() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
      if (std::getenv(v)) return true;
    return false;
  }

  /// Initialises MPI (threads: only the main thread calls MPI; OpenMP threads never do).
  MpiCommunicator(int* argc, char*** argv) {
    int done = 0;
    MPI_Initialized(&done);
    if (!done) {
      int provided = 0;
      MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
      owns_ = true;
    }
    // Errors return codes instead of aborting inside MPI, so that messages name the call.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiCommunicator() override {
    int fin = 0;
    MPI_Finalized(&fin);
    if (owns_ && !fin) MPI_Finalize();
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void ordered_sum(float* data, Index n,
                   const std::function<void(float*, Index, Index)>& add_local) override {
    // Blocks of 16 Ki floats (64 KB) pipeline the chain: rank r adds block j while rank
    // r+1 adds block j-1, so the chain costs about one pass over the vector plus
    // (ranks - 1) block transfers, not (ranks - 1) whole vectors.
    constexpr Index kBlock = Index(1) << 14;
    std::vector<MPI_Request> sends;
    for (Index off = 0; off < n; off += kBlock) {
      const Index len = std::min(kBlock, n - off);
      float* b = data + off;
      if (rank_ == 0)
        std::fill(b, b + len, 0.0f);
      else
        check(MPI_Recv(b, int(len), MPI_FLOAT, rank_ - 1, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
      add_local(b, off, len);
      if (rank_ + 1 < size_) {
        sends.emplace_back();
        check(MPI_Isend(b, int(len), MPI_FLOAT, rank_ + 1, kTag, MPI_COMM_WORLD, &sends.back()), "MPI_Isend");
      }
    }
    if (!sends.empty())
      check(MPI_Waitall(int(sends.size()), sends.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    for (Index off = 0; off < n; off += kBlock)  // int counts: broadcast in blocks too
      check(MPI_Bcast(data + off, int(std::min(kBlock, n - off)), MPI_FLOAT, size_ - 1, MPI_COMM_WORLD),
            "MPI_Bcast");
  }
  void allreduce_sum(float* data, Index n) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data, int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void allreduce_sum(std::int64_t* data, Index n) override {
    check(MPI_Allreduce(MPI_IN_PLACE, data, int(n), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  }
  void allgather(const double* send, const std::vector<Index>& counts, double* recv) override {
    require(int(counts.size()) == size_, "MpiCommunicator::allgather", str_cat(size_, " counts"), counts.size());
    std::vector<int> c(counts.size()), displ(counts.size());
    int at = 0;
    for (size_t r = 0; r < counts.size(); ++r) c[r] = int(counts[r]), displ[r] = at, at += c[r];
    check(MPI_Allgatherv(send, c[size_t(rank_)], MPI_DOUBLE, recv, c.data(), displ.data(), MPI_DOUBLE,
                         MPI_COMM_WORLD),
          "MPI_Allgatherv");
  }
  void alltoall(const void* send, const std::vector<Index>& send_bytes, void* recv,
                const std::vector<Index>& recv_bytes) override {
    const size_t n = static_cast<size_t>(size_);
    std::vector<int> sc(n), sd(n), rc(n), rd(n);
    int s_at = 0, r_at = 0;
    for (size_t r = 0; r < size_t(size_); ++r) {
      sc[r] = int(send_bytes.at(r)), sd[r] = s_at, s_at += sc[r];
      rc[r] = int(recv_bytes.at(r)), rd[r] = r_at, r_at += rc[r];
    }
    check(MPI_Alltoallv(send, sc.data(), sd.data(), MPI_BYTE, recv, rc.data(), rd.data(), MPI_BYTE,
                        MPI_COMM_WORLD),
          "MPI_Alltoallv");
  }
  void broadcast(void* data, std::size_t bytes, int root_rank) override {
    check(MPI_Bcast(data, int(bytes), MPI_BYTE, root_rank, MPI_COMM_WORLD), "MPI_Bcast");
  }
  [[noreturn]] void abort(int code) override {
    std::cerr << std::flush;
    std::cout << std::flush;
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }

 private:
  static constexpr int kTag = 0x5a5c;
  void check(int rc, const char* call) const {
    if (rc == MPI_SUCCESS) return;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw std::runtime_error(str_cat("MpiCommunicator: ", call, " failed on rank ", rank_, ": ",
                                     std::string(msg, size_t(len))));
  }
  int rank_ = 0, size_ = 1;
  bool owns_ = false;
};

}  // namespace asrc
