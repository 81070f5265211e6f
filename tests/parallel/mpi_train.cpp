// Run by ctest under mpirun (tests/CMakeLists.txt): data-parallel training against one
// process, bitwise.
//   mpi_train equal src|asrc    a few epochs on N ranks == one process (losses, accuracies,
//                               spike rates, weights), and every rank holds the same weights
//   mpi_train sharded src|asrc  as `equal`, each rank holding only its shard of the training
//                               and test sets (ShardedDataset: samples exchanged per batch)
//   mpi_train resume src|asrc   rank 0 alone asks to stop mid-epoch; every rank stops after
//                               the same batch; the resumed run == one uninterrupted process
// Prints PASS or FAIL lines on rank 0; exit status 0 only when everything matched.
#include <asrc/parallel/mpi_communicator.hpp>
#include <asrc/parallel/sharded_dataset.hpp>
#include <asrc/train/run_trainer.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "../support/synthetic.hpp"

using namespace asrc;
using namespace asrc_test;

namespace {

RunConfig config(const std::string& model, const std::string& dir) {
  RunConfig c = make_preset("smnist-asrc");
  c.task = "gsc";  // 40 inputs, 12 classes
  c.model = model;
  c.layers = {128, 100};  // about 46,000 parameters: 3 blocks of the ordered chain
  c.skip = model == "ASRC" ? 4 : 3;
  c.epochs = 3;
  // 88 samples in batches of 20 and chunks of 4: 5 chunks per batch (2, 2, 1 on 3 ranks),
  // and a last batch of 8 = 2 chunks, so that one of 3 ranks has no share of it.
  c.batch_size = 20;
  c.chunk_size = 4;
  c.lr = 0.01;
  c.lr_skip = 0.2;
  c.drop = 0.1;  // dropout masks must be drawn identically on every rank
  c.results_dir = dir;
  return c;
}

struct Data {
  std::shared_ptr<const Dataset> train = std::make_shared<SyntheticDataset>(88, 20, 40, 12, 3);
  std::shared_ptr<const Dataset> test = std::make_shared<SyntheticDataset>(50, 20, 40, 12, 4);
};

int failures = 0;
void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::cout << "FAIL: " << what << std::endl;
  }
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void compare_history(const Trainer& a, const Trainer& b, const std::string& tag) {
  expect(a.history().size() == b.history().size(), tag + ": same number of epochs");
  for (size_t e = 0; e < std::min(a.history().size(), b.history().size()); ++e) {
    const auto &x = a.history()[e], &y = b.history()[e];
    const std::string at = tag + " epoch " + std::to_string(e + 1) + ": ";
    expect(same_bits(x.train_loss, y.train_loss), at + "train loss bitwise equal");
    expect(same_bits(x.train_acc, y.train_acc), at + "train accuracy equal");
    expect(same_bits(x.test.loss, y.test.loss), at + "test loss bitwise equal");
    expect(same_bits(x.test.accuracy, y.test.accuracy), at + "test accuracy equal");
    expect(x.spike_rates == y.spike_rates, at + "spike rates bitwise equal");
    std::printf("%s train loss %.17g / %.17g  test loss %.17g / %.17g\n", at.c_str(), x.train_loss,
                y.train_loss, x.test.loss, y.test.loss);
  }
}

/// Every rank's parameters bitwise equal to rank 0's.
void compare_replicas(Communicator& comm, const Vector<float>& p, const std::string& tag) {
  Vector<float> p0 = p;
  comm.broadcast(p0.data(), sizeof(float) * size_t(p0.size()), 0);
  std::int64_t differ = std::memcmp(p0.data(), p.data(), sizeof(float) * size_t(p.size())) != 0;
  comm.allreduce_sum(&differ, 1);
  if (comm.root()) expect(differ == 0, tag + ": the weights of every rank equal rank 0's");
}

Vector<float> train_single(const std::string& model, const std::string& dir, Trainer** keep = nullptr) {
  Data d;
  RunConfig c = config(model, dir);
  c.threads = 2;  // one process, two threads: the thread count must not matter either
  auto* t = new Trainer(c, d.train, d.test);
  std::ostringstream sink;
  t->out = &sink;
  t->progress_bar = false;
  t->fit();
  Vector<float> p = t->network().params();
  if (keep) *keep = t; else delete t;
  return p;
}

void run_equal(Communicator& comm, const std::string& model) {
  const std::string tag = str_cat(model, " on ", comm.size(), " ranks");
  Data d;
  RunConfig c = config(model, str_cat("mpi_equal_", model, "_np", comm.size()));
  c.threads = 1;
  Trainer t(c, d.train, d.test);
  std::ostringstream sink;
  t.out = &sink;
  t.progress_bar = false;
  t.comm = &comm;
  t.fit();
  compare_replicas(comm, t.network().params(), tag);
  if (comm.root()) {
    expect(t.network().num_params() > 2 * 16384, tag + ": parameters span several 16 Ki-float blocks of the chain");
    Trainer* single = nullptr;
    const Vector<float> p = train_single(model, str_cat("single_equal_", model, "_np", comm.size()), &single);
    compare_history(t, *single, tag + " vs one process");
    expect(std::memcmp(p.data(), t.network().params().data(), sizeof(float) * size_t(p.size())) == 0,
           tag + ": weights bitwise equal to one process's");
    delete single;
  }
  // The fast mode: per-rank sums combined by MPI_Allreduce. Not bitwise; it must still train
  // the same model to rounding (first epoch's loss; the schedule spans all epochs, so the
  // run has as many as the exact one).
  RunConfig cf = c;
  cf.results_dir += "_allreduce";
  Trainer f(cf, d.train, d.test);
  f.out = &sink;
  f.progress_bar = false;
  f.comm = &comm;
  f.exact_reduce = false;
  f.fit();
  if (comm.root()) {
    const double a = f.history()[0].train_loss, b = t.history()[0].train_loss;
    std::printf("%s --mpi-reduce allreduce: epoch 1 train loss %.17g (exact: %.17g)\n", tag.c_str(), a, b);
    expect(std::abs(a - b) <= 1e-4 * std::abs(b), tag + ": allreduce mode's loss within 1e-4 of the exact one");
  }
}

/// Only this rank's shard of `full`, as a reader that reads only its part would hold it.
std::shared_ptr<const Dataset> shard_of(std::shared_ptr<const Dataset> full, Communicator& comm) {
  const auto [a, b] = ShardedDataset::shard_range(full->size(), comm);
  std::vector<Index> mine;
  for (Index i = a; i < b; ++i) mine.push_back(i);
  return std::make_shared<ShardedDataset>(std::make_shared<SubsetDataset>(full, mine, "shard"), full->size(), comm);
}

void run_sharded(Communicator& comm, const std::string& model) {
  const std::string tag = str_cat(model, " sharded on ", comm.size(), " ranks");
  Data d;
  RunConfig c = config(model, str_cat("mpi_sharded_", model, "_np", comm.size()));
  c.threads = 1;
  Trainer t(c, shard_of(d.train, comm), shard_of(d.test, comm));
  std::ostringstream sink;
  t.out = &sink;
  t.progress_bar = false;
  t.comm = &comm;
  t.fit();
  compare_replicas(comm, t.network().params(), tag);
  if (comm.root()) {
    Trainer* single = nullptr;
    const Vector<float> p = train_single(model, str_cat("single_sharded_", model, "_np", comm.size()), &single);
    compare_history(t, *single, tag + " vs one process");
    expect(std::memcmp(p.data(), t.network().params().data(), sizeof(float) * size_t(p.size())) == 0,
           tag + ": weights bitwise equal to one process's (whole data set)");
    delete single;
  }
}

void run_resume(Communicator& comm, const std::string& model) {
  const std::string tag = str_cat(model, " resumed on ", comm.size(), " ranks");
  const std::string dir = str_cat("mpi_resume_", model, "_np", comm.size());
  if (comm.root()) std::system(("rm -rf " + dir).c_str());
  Data d;
  RunConfig c = config(model, dir);
  c.threads = 1;
  std::ostringstream sink;
  bool interrupted = false;
  {
    Trainer t(c, d.train, d.test);
    t.out = &sink;
    t.progress_bar = false;
    t.comm = &comm;
    // Only rank 0 is asked to stop (as when a signal reaches one process): the
    // broadcast decision must stop every rank after the same batch.
    t.on_batch = [&](Index epoch, Index batch) {
      if (comm.root() && epoch == 1 && batch == 1) stop_requested() = 1;
    };
    try {
      t.fit();
    } catch (const Interrupted&) {
      interrupted = true;
    }
  }
  std::int64_t stopped = interrupted;
  comm.allreduce_sum(&stopped, 1);  // also orders rank 0's checkpoint before the loads below
  if (comm.root()) expect(stopped == comm.size(), tag + ": every rank stopped at the request of rank 0");
  Trainer t(c, d.train, d.test);
  t.out = &sink;
  t.progress_bar = false;
  t.comm = &comm;
  t.load(dir + "/last.ckpt", true);
  if (comm.root()) expect(t.next_epoch() == 1, tag + ": resumed in epoch 2");
  t.fit();
  compare_replicas(comm, t.network().params(), tag);
  if (comm.root()) {
    const Vector<float> p = train_single(model, str_cat("single_resume_", model, "_np", comm.size()));
    expect(std::memcmp(p.data(), t.network().params().data(), sizeof(float) * size_t(p.size())) == 0,
           tag + ": weights bitwise equal to one uninterrupted process's");
  }
}

}  // namespace

int main(int argc, char** argv) {
  MpiCommunicator comm(&argc, &argv);
  try {
    const std::string mode = argc > 1 ? argv[1] : "", model = argc > 2 ? argv[2] : "";
    require((mode == "equal" || mode == "resume" || mode == "sharded") && (model == "src" || model == "asrc"),
            "mpi_train", "arguments equal|resume|sharded src|asrc", str_cat(mode, " ", model));
    const std::string m = model == "src" ? "SRC" : "ASRC";
    if (mode == "equal") run_equal(comm, m);
    else if (mode == "sharded") run_sharded(comm, m);
    else run_resume(comm, m);
  } catch (const std::exception& e) {
    std::cerr << "mpi_train: error on rank " << comm.rank() << ": " << e.what() << std::endl;
    comm.abort(1);
  }
  std::int64_t f = failures;
  comm.allreduce_sum(&f, 1);
  if (comm.root()) std::cout << (f ? "FAIL" : "PASS") << " (" << comm.size() << " ranks)" << std::endl;
  return f ? 1 : 0;
}
