#pragma once
// The training loop of the reference (spec section 5): per epoch, train over shuffled
// batches, evaluate, step the schedules, decay tau; log each epoch to CSV and JSON lines;
// keep `last.ckpt` and `best.ckpt` (atomic writes); resume exactly from `last.ckpt`.
//
// BasicTrainer<Net, Optimizer> knows neither the command line nor the model: it builds
// Net from its configuration and reads TrainSettings. Net is a Network<T> (or anything
// with its interface: forward, forward_backward, params, layout, tau, dropout_rng, ...);
// Optimizer has Adam's interface (set_group, set_lr, set_beta1, lr, beta1, step) and the
// two checkpoint overloads save_optimizer / load_optimizer (optim/adam.hpp has Adam's).
// asrc-train's Trainer (train/run_trainer.hpp) is BasicTrainer<Network<float>, Adam<float>>
// set up from a RunConfig.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <type_traits>
#include <sys/stat.h>

#include "asrc/data/dataset.hpp"
#include "asrc/io/checkpoint.hpp"
#include "asrc/optim/adam.hpp"
#include "asrc/optim/schedule.hpp"
#include "asrc/parallel/data_parallel.hpp"
#include "asrc/network/network.hpp"

namespace asrc {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;  ///< percent
  Index samples = 0;
};

/// The first `n` samples of `ds` (n <= 0: all) in consecutive batches of at most `batch`:
/// `add(idx, r)` adds each batch's summed loss and correct count into `r`; the sums become
/// the mean loss and the percentage correct. The one batch loop of every evaluation path.
template <typename AddBatch>
EvalResult evaluate_batches(const Dataset& ds, Index batch, Index n, AddBatch&& add) {
  require(batch >= 1, "evaluate_dataset", "batch >= 1", batch);
  n = n > 0 ? std::min(n, ds.size()) : ds.size();
  EvalResult r;
  for (Index start = 0; start < n; start += batch) {
    const Index B = std::min(batch, n - start);
    std::vector<Index> idx(static_cast<size_t>(B));
    for (Index b = 0; b < B; ++b) idx[size_t(b)] = start + b;
    add(idx, r);
    r.samples += B;
  }
  if (r.samples) {
    r.loss /= double(r.samples);
    r.accuracy = 100.0 * r.accuracy / double(r.samples);
  }
  return r;
}

/// The first `n` samples of `ds` (n <= 0: all) through `net` in its current mode, in batches
/// of `batch`: mean cross-entropy of the logits and the percentage whose argmax is the label.
/// Trainer::evaluate on one process, and `asrc-analyze evaluate` in either kernel mode.
template <typename Net>
EvalResult evaluate_dataset(Net& net, const Dataset& ds, Index batch, Index n = 0) {
  Matrix<typename Net::Scalar> x;
  std::vector<int> y;
  return evaluate_batches(ds, batch, n, [&](const std::vector<Index>& idx, EvalResult& r) {
    const Index B = Index(idx.size());
    make_batch(ds, idx, x, y);
    const auto logits = net.forward(x, B);
    r.loss += softmax_cross_entropy(logits, y.data(), B, nullptr);
    for (Index b = 0; b < B; ++b) {
      Index arg;
      logits.row(b).maxCoeff(&arg);
      if (arg == y[size_t(b)]) r.accuracy += 1;
    }
  });
}

/// An epoch's gradient norms before clipping (log.jsonl "grad_norm"), over the whole epoch,
/// also across a mid-epoch resume.
struct GradNormStats {
  double max = 0;               ///< the largest L2 norm of a batch's gradient
  Index clipped = 0;            ///< batches that TrainSettings::clip_grad_norm rescaled
  std::vector<double> tensors;  ///< the largest norm of each tensor's gradient, layout order
};

struct EpochRecord {
  Index epoch = 0;
  double lr = 0, lr_skip = 0, beta1 = 0, tau = 1;
  double train_loss = 0, train_acc = 0;
  EvalResult test, valid;
  double best_acc = 0;
  Index best_epoch = -1;
  double seconds = 0, samples_per_s = 0;
  std::vector<std::vector<double>> skip_kernels;  ///< ASRC: softmax(w / tau) per layer
  std::vector<Index> lags;                         ///< evaluation lag per layer
  std::vector<double> spike_rates;
  /// Where the epoch's wall time went, in seconds (log.jsonl "phases"): building batches
  /// from the data set, forward and backward (on several processes: with the sample
  /// exchange and the gradient reduction), the optimizer step with the finiteness checks,
  /// the test and validation passes. After a mid-epoch resume the training phases cover
  /// only the batches run since (`resumed` true).
  struct Phases {
    double data = 0, forward_backward = 0, update = 0, test = 0, valid = 0;
  } phases;
  bool resumed = false;
  GradNormStats grad_norm;  ///< where a growing gradient comes from
};

inline bool make_dirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty()) mkdir(cur.c_str(), 0755);
    }
    if (i < path.size()) cur += path[i];
  }
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

/// Raised when a loss or gradient stops being finite, or the loss passes --max-loss.
struct NonFiniteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Raised by fit() after a stop request: the batch in flight was finished and a
/// resumable checkpoint written.
struct Interrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Raised by fit() when the next step would pass `Trainer::time_limit_s`: the run stopped
/// at a batch boundary and wrote a resumable last.ckpt (asrc-train exits with
/// kExitTimeLimit).
struct TimeLimitReached : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Set by the SIGINT / SIGTERM handler (or by anyone) to ask a running fit() to stop.
inline volatile std::sig_atomic_t& stop_requested() {
  static volatile std::sig_atomic_t flag = 0;
  return flag;
}

/// What the training loop needs besides the model, the optimizer and the data
/// (asrc-train fills it from its flags: train/run_trainer.hpp).
struct TrainSettings {
  Index epochs = 1;
  Index batch_size = 256;
  std::uint64_t seed = 0;             ///< of the shuffle
  std::string results_dir = "results";
  double max_loss = 1e4;              ///< divergence guard (0: off)
  double de_tau = 0.96;               ///< ASRC temperature decay per epoch (asrc_tau)
  /// Peak learning rates per parameter group and the weights' decay; the schedule
  /// scales all three alike.
  double lr = 1e-3, lr_skip = 0, lr_neuron = 0, wd = 0;
  /// Before each step the whole gradient (every group) is rescaled to this L2 norm when it
  /// is longer, as torch.nn.utils.clip_grad_norm_ does (0: off).
  double clip_grad_norm = 0;
  /// After each step the weight group (not neuron parameters, not skip logits) is clamped
  /// to [-clip_weights, clip_weights] (0: off).
  double clip_weights = 0;
  LrSchedule schedule = LrSchedule::constant;
  StepConfig step;
  /// The run's settings as text, kept beside it: config.txt ("--key value" lines) and the
  /// checkpoints' "config.<key>" entries (from which asrc-train rebuilds a run).
  std::map<std::string, std::string> record;

  void validate() const {
    const char* w = "TrainSettings::validate";
    require(epochs >= 1, w, "epochs >= 1", epochs);
    require(batch_size >= 1, w, "batch_size >= 1", batch_size);
    require(!results_dir.empty(), w, "a results folder", "none");
    require(max_loss >= 0, w, "max_loss >= 0 (0: off)", max_loss);
    require(de_tau > 0 && de_tau <= 1, w, "de_tau in (0, 1]", de_tau);
    require(lr > 0 && lr_skip >= 0 && lr_neuron >= 0 && wd >= 0, w,
            "lr > 0 and lr_skip, lr_neuron, wd >= 0", str_cat(lr, ", ", lr_skip, ", ", lr_neuron, ", ", wd));
    require(std::isfinite(clip_grad_norm) && clip_grad_norm >= 0, w, "clip_grad_norm >= 0 (0: off)",
            clip_grad_norm);
    require(std::isfinite(clip_weights) && clip_weights >= 0, w, "clip_weights >= 0 (0: off)", clip_weights);
  }
};

/// Route SIGINT, SIGTERM and SIGUSR1 to stop_requested(): training finishes the current batch,
/// writes last.ckpt and returns.
inline void install_stop_handlers() {
  auto handler = [](int) { stop_requested() = 1; };
  std::signal(SIGINT, handler);
  std::signal(SIGTERM, handler);
  std::signal(SIGUSR1, handler);  // mpirun forwards it to every rank (SIGINT/TERM: kill after 1 s)
}

template <typename Net, typename Optimizer>
class BasicTrainer {
 public:
  using Scalar = typename Net::Scalar;

  /// Builds the network from `net_config`. `test` is evaluated every epoch; `valid` (may
  /// be null) is carved from training data.
  template <typename NetConfig>
  BasicTrainer(TrainSettings settings, const NetConfig& net_config, Optimizer opt,
               std::shared_ptr<const Dataset> train, std::shared_ptr<const Dataset> test,
               std::shared_ptr<const Dataset> valid = nullptr)
      : set_(validated(std::move(settings))), train_(std::move(train)), test_(std::move(test)),
        valid_(std::move(valid)), net_(net_config), opt_(std::move(opt)),
        shuffle_rng_(set_.seed * 0x9e3779b97f4a7c15ULL + 1) {
    require(train_ && test_, "Trainer::Trainer", "train and test datasets", "null");
    const auto& nc = net_.config();
    for (const Dataset* d : {train_.get(), test_.get(), valid_.get()}) {
      if (!d) continue;
      require(d->width() == nc.input_size, "Trainer::Trainer",
              str_cat(nc.input_size, " inputs per step (the network's input size) in ", d->describe()), d->width());
      require(d->num_classes() == nc.num_classes, "Trainer::Trainer",
              str_cat(nc.num_classes, " classes (the network's outputs) in ", d->describe()), d->num_classes());
    }
    {
      // A lower bound of what a training step holds (gradient and the optimizer's two
      // moments, one chunk's membranes and spikes, the batch's inputs): refused here with
      // the numbers rather than by std::bad_alloc in the first batch.
      double hidden = 0;
      for (const auto& layer : net_.layers()) hidden += double(layer.size());
      const double steps = double(train_->steps()), B = double(set_.batch_size);
      const double bytes = sizeof(Scalar) * (3.0 * double(net_.num_params()) +
                                             2.0 * steps * std::min(B, double(nc.chunk_size)) * hidden +
                                             steps * B * double(train_->width()));
      require_memory("Trainer::Trainer", str_cat("training ", net_.num_params(), " parameters on batches of ",
                                                  set_.batch_size, " x ", train_->steps(), " steps"),
                     bytes);
    }
    opt_.set_group(ParamGroup::weights, {set_.lr, set_.wd});
    opt_.set_group(ParamGroup::neuron, {set_.lr_neuron, 0.0});
    opt_.set_group(ParamGroup::skip, {set_.lr_skip, 0.0});
    apply_schedule(0);
  }

  Net& network() { return net_; }
  const TrainSettings& settings() const { return set_; }
  Index next_epoch() const { return epoch_; }
  const std::vector<EpochRecord>& history() const { return history_; }
  double best_accuracy() const { return best_acc_; }
  /// Extra integers stored with every checkpoint (e.g. the PS-MNIST permutation).
  std::map<std::string, std::vector<std::int64_t>> extra_ints;
  /// Output stream for progress and epoch lines.
  std::ostream* out = &std::cout;
  bool progress_bar = isatty(STDOUT_FILENO);
  /// Called after every batch (tests use it to interrupt a run).
  std::function<void(Index epoch, Index batch)> on_batch;
  /// Wall-clock budget in seconds, counted by `elapsed` (0: none). Before each batch fit()
  /// checks that the batch, the checkpoint write and, before an epoch's last batch, the
  /// test pass still fit; if not, it writes last.ckpt and throws TimeLimitReached.
  double time_limit_s = 0;
  /// Seconds elapsed on the budget's clock; by default since this Trainer was built
  /// (asrc-train counts from the program's start; tests drive it by hand).
  std::function<double()> elapsed = [start = std::chrono::steady_clock::now()] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  /// The processes training this model together (data parallelism, parallel/): each runs
  /// its chunks of every batch; rank 0 alone writes logs and checkpoints.
  Communicator* comm = &single_process();
  /// Add chunk gradients in global chunk order (bitwise equal for any rank count); false:
  /// a plain allreduce of per-rank sums (faster on many ranks, not reproducible).
  bool exact_reduce = true;

  /// Evaluate a dataset in evaluation mode.
  EvalResult evaluate(const Dataset& ds) {
    const bool was = net_.training();
    net_.set_training(false);
    EvalResult r;
    if (comm->size() > 1) {  // each rank evaluates its chunks of every batch
      if constexpr (std::is_same_v<Scalar, float>) {
        Matrix<Scalar> x;
        std::vector<int> y;
        r = evaluate_batches(ds, set_.batch_size, 0, [&](const std::vector<Index>& idx, EvalResult& sum) {
          data_parallel_evaluate_batch(*comm, net_, ds, idx, x, y, sum.loss, sum.accuracy);
        });
      } else {
        fail_expected("Trainer::evaluate", "a float network for evaluating on several processes", "another scalar");
      }
    } else {
      r = evaluate_dataset(net_, ds, set_.batch_size);
    }
    net_.set_training(was);
    if constexpr (std::is_same_v<Scalar, float>)  // several processes train float networks only
      if (comm->size() > 1) check_replicas(*comm, net_.params());
    return r;
  }

  /// Train until settings().epochs, writing logs and checkpoints in settings().results_dir.
  void fit() {
    if (comm->root()) {
      require(make_dirs(set_.results_dir), "Trainer::fit", "a writable results folder",
              "'" + set_.results_dir + "'");
      write_config_file();
    }
    for (; epoch_ < set_.epochs; ) {
      if (agreed_stop(true, false, false)) {  // arrived during the last batch or the test pass
        throw Interrupted(str_cat("stopped before epoch ", epoch_ + 1, " of ", set_.epochs,
                                  "; last.ckpt is in ", set_.results_dir));
      }
      EpochRecord rec = train_epoch();
      const double eval_start = elapsed();
      const auto t_test = std::chrono::steady_clock::now();
      rec.test = evaluate(*test_);
      const auto t_valid = std::chrono::steady_clock::now();
      rec.phases.test = seconds_between(t_test, t_valid);
      if (valid_) {
        rec.valid = evaluate(*valid_);
        rec.phases.valid = seconds_between(t_valid, std::chrono::steady_clock::now());
      }
      eval_seconds_ = elapsed() - eval_start;
      const double select = valid_ ? rec.valid.accuracy : rec.test.accuracy;
      const bool improved = best_epoch_ < 0 || select > best_acc_;
      if (improved) {
        best_acc_ = select;
        best_epoch_ = epoch_;
        best_test_at_best_ = rec.test.accuracy;
      }
      rec.best_acc = best_acc_;
      rec.best_epoch = best_epoch_;
      // Epoch order of the reference: train, evaluate, step the schedules, decay tau.
      ++epoch_;
      apply_schedule(epoch_);
      history_.push_back(rec);
      if (comm->root()) log_epoch(rec);
      timed_save(set_.results_dir + "/last.ckpt");
      if (improved) timed_save(set_.results_dir + "/best.ckpt");
    }
    if (!history_.empty()) {
      const auto& last = history_.back();
      *out << "final: last-epoch test accuracy " << fmt(last.test.accuracy) << "%, best "
           << (valid_ ? "validation" : "test") << " accuracy " << fmt(best_acc_) << "% (epoch "
           << best_epoch_ + 1 << ")";
      if (valid_) *out << ", test accuracy at that epoch " << fmt(best_test_at_best_) << "%";
      *out << std::endl;
    }
  }

  /// Write the whole training state atomically.
  void save(const std::string& path) const {
    if (!comm->root()) return;  // every rank holds the same state
    Checkpoint c;
    for (const auto& [k, v] : set_.record) c.set_meta("config." + k, v);
    c.set_meta_int("epoch", epoch_);
    c.set_meta_number("tau", net_.tau());
    c.set_meta_number("best_acc", best_acc_);
    c.set_meta_int("best_epoch", best_epoch_);
    c.set_meta_number("best_test_at_best", best_test_at_best_);
    c.set_meta("rng.shuffle", shuffle_rng_.state());
    // Mid-epoch state (a stop request between batches): the batch to continue with, the
    // shuffle generator as it was before this epoch's shuffle, and the running sums.
    c.set_meta_int("batch", next_batch_);
    c.set_meta("rng.shuffle_epoch_start", epoch_shuffle_state_);
    c.set_meta_number("partial.loss_sum", partial_.loss_sum);
    c.set_meta_number("partial.correct", partial_.correct);
    c.set_meta_int("partial.seen", partial_.seen);
    c.set_meta_number("partial.seconds", partial_.seconds);
    const GradNormStats& gn = partial_.grad_norm;
    c.set_meta_number("partial.grad_norm_max", gn.max);
    c.set_meta_int("partial.clipped", gn.clipped);
    if (!gn.tensors.empty())
      c.set_tensor("partial.grad_norm_tensors",
                   Eigen::Map<const RowVector<double>>(gn.tensors.data(), Index(gn.tensors.size())),
                   dtype_of<double>());
    c.set_meta("rng.dropout", const_cast<Net&>(net_).dropout_rng().state());
    for (const auto& e : net_.layout().entries())
      c.set_tensor("param." + e.name, view(net_.params(), e), dtype_of<Scalar>());
    save_optimizer(c, opt_);
    for (const auto& [k, v] : extra_ints) c.set_ints(k, v);
    save_checkpoint(path, c);
  }

  /// Restore parameters (and, with `full`, the optimizer, epoch, tau and generators).
  void load(const std::string& path, bool full) {
    const Checkpoint c = load_checkpoint(path);
    for (const auto& e : net_.layout().entries())
      view(net_.params(), e) = c.tensor<Scalar>("param." + e.name, e.rows, e.cols);
    net_.set_tau(c.meta_number("tau"));
    if (!full) return;
    epoch_ = c.meta_int("epoch");
    best_acc_ = c.meta_number("best_acc");
    best_epoch_ = c.meta_int("best_epoch");
    best_test_at_best_ = c.meta_number("best_test_at_best");
    next_batch_ = c.meta_int("batch");
    shuffle_rng_.set_state(c.meta_at(next_batch_ > 0 ? "rng.shuffle_epoch_start" : "rng.shuffle"));
    epoch_shuffle_state_ = c.meta_at("rng.shuffle_epoch_start");
    partial_.loss_sum = c.meta_number("partial.loss_sum");
    partial_.correct = c.meta_number("partial.correct");
    partial_.seen = c.meta_int("partial.seen");
    partial_.seconds = c.meta_number("partial.seconds");
    // Checkpoints written before the gradient norms were logged lack these.
    GradNormStats& gn = partial_.grad_norm;
    gn.max = c.has_meta("partial.grad_norm_max") ? c.meta_number("partial.grad_norm_max") : 0.0;
    gn.clipped = c.has_meta("partial.clipped") ? c.meta_int("partial.clipped") : 0;
    gn.tensors.clear();
    if (c.has_tensor("partial.grad_norm_tensors")) {
      const Index n = Index(net_.layout().entries().size());
      const Vector<double> v = c.tensor_vector<double>("partial.grad_norm_tensors", n);
      gn.tensors.assign(v.data(), v.data() + n);
    }
    net_.dropout_rng().set_state(c.meta_at("rng.dropout"));
    load_optimizer(c, opt_, net_.layout(), path);
    apply_schedule(epoch_);
    net_.set_tau(c.meta_number("tau"));
  }

 private:
  static TrainSettings validated(TrainSettings s) {
    s.validate();  // before any member is built from it
    return s;
  }
  static double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  }
  static std::string fmt(double v, int prec = 2) {
    char b[64];
    std::snprintf(b, sizeof b, "%.*f", prec, v);
    return b;
  }

  void apply_schedule(Index e) {
    const Index E = set_.epochs;
    const Index ee = std::min(e, E - 1 < 0 ? 0 : E - 1);
    const double lr = scheduled_lr(set_.schedule, ee, E, set_.lr, set_.step);
    const double lr_skip = scheduled_lr(set_.schedule, ee, E, set_.lr_skip, set_.step);
    const double lr_neuron = scheduled_lr(set_.schedule, ee, E, set_.lr_neuron, set_.step);
    const double beta1 = scheduled_beta1(set_.schedule, ee, E);
    opt_.set_lr(ParamGroup::weights, lr);
    opt_.set_lr(ParamGroup::skip, lr_skip);
    opt_.set_lr(ParamGroup::neuron, lr_neuron);
    for (int g = 0; g < kNumParamGroups; ++g) opt_.set_beta1(static_cast<ParamGroup>(g), beta1);
    net_.set_tau(asrc_tau(e, set_.de_tau));  // multiplied once per epoch, as the reference does
  }

  EpochRecord train_epoch() {
    EpochRecord rec;
    rec.epoch = epoch_;
    rec.lr = opt_.lr(ParamGroup::weights);
    rec.lr_skip = opt_.lr(ParamGroup::skip);
    rec.beta1 = opt_.beta1(ParamGroup::weights);
    rec.tau = net_.tau();
    net_.set_training(true);
    const Index N = train_->size();
    std::vector<Index> order(static_cast<size_t>(N));
    for (Index i = 0; i < N; ++i) order[size_t(i)] = i;
    epoch_shuffle_state_ = shuffle_rng_.state();
    for (Index i = N - 1; i > 0; --i)
      std::swap(order[size_t(i)], order[size_t(shuffle_rng_.below(std::uint64_t(i + 1)))]);
    const Index nb = (N + set_.batch_size - 1) / set_.batch_size;
    Matrix<Scalar> x;
    std::vector<int> y;
    Vector<Scalar> grad;
    Matrix<Scalar> logits;
    // A resumed mid-epoch run continues with the saved batch and running sums.
    double loss_sum = partial_.loss_sum, correct = partial_.correct;
    Index seen = partial_.seen;
    rec.grad_norm = partial_.grad_norm;
    rec.grad_norm.tensors.resize(net_.layout().entries().size(), 0.0);
    const Index first = next_batch_;
    rec.resumed = first > 0;
    const double seconds_before = partial_.seconds;
    partial_ = {};
    const auto t0 = std::chrono::steady_clock::now();
    for (Index bi = first; bi < nb; ++bi) {
      // Stop requests are honoured between batches: by a signal (after at least one
      // batch of this epoch) or by the time budget (before any batch that would pass it).
      const int stop = agreed_stop(bi > first, true, bi + 1 == nb);
      if (stop) {
        next_batch_ = bi;
        partial_ = {loss_sum, correct, seen,
                    seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                    rec.grad_norm};
        if (bi == 0) shuffle_rng_.set_state(epoch_shuffle_state_);  // the epoch has not begun
        if (progress_bar) *out << "\n";
        save(set_.results_dir + "/last.ckpt");
        const std::string where =
            bi == 0 ? str_cat("before epoch ", epoch_ + 1, " of ", set_.epochs) : "after " + position(bi - 1);
        if (stop == 1)
          throw Interrupted(str_cat("stopped ", where, "; last.ckpt written in ", set_.results_dir));
        throw TimeLimitReached(str_cat("time limit of ", time_limit_s, " s: stopped ", where, " at ",
                                       fmt(elapsed(), 1), " s; last.ckpt written in ", set_.results_dir));
      }
      const double batch_start = elapsed();
      const Index start = bi * set_.batch_size, B = std::min(set_.batch_size, N - start);
      std::vector<Index> idx(order.begin() + start, order.begin() + start + B);
      double loss;
      auto t_fb = std::chrono::steady_clock::now();
      if (comm->size() > 1) {
        if constexpr (std::is_same_v<Scalar, float>)
          loss = data_parallel_forward_backward(*comm, net_, *train_, idx, exact_reduce, x, y, logits, grad, correct);
        else
          fail_expected("Trainer::fit", "a float network for training on several processes", "another scalar");
      } else {
        make_batch(*train_, idx, x, y);
        const auto t_made = std::chrono::steady_clock::now();
        rec.phases.data += seconds_between(t_fb, t_made);
        t_fb = t_made;  // the forward + backward phase starts after the batch is built
        loss = net_.forward_backward(x, B, y, grad, nullptr, &logits);
        for (Index b = 0; b < B; ++b) {
          Index arg;
          logits.row(b).maxCoeff(&arg);
          if (arg == y[size_t(b)]) correct += 1;
        }
      }
      const auto t_update = std::chrono::steady_clock::now();
      rec.phases.forward_backward += seconds_between(t_fb, t_update);
      check_finite(loss, grad, bi);
      clip_gradient(grad, rec.grad_norm);
      opt_.step(net_.layout(), net_.params(), grad);
      clamp_weights();
      check_params(bi);
      rec.phases.update += seconds_between(t_update, std::chrono::steady_clock::now());
      loss_sum += loss * double(B);
      seen += B;
      if (progress_bar) {
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double sps = double(seen) / std::max(el, 1e-9);
        *out << "\repoch " << epoch_ + 1 << "/" << set_.epochs << "  batch " << bi + 1 << "/" << nb
             << "  " << fmt(sps, 1) << " samples/s  loss " << fmt(loss_sum / double(seen), 4)
             << "  acc " << fmt(100.0 * correct / double(seen)) << "%  ETA "
             << fmt(double(N - seen) / std::max(sps, 1e-9), 0) << "s   " << std::flush;
      }
      batch_seconds_ = std::max(batch_seconds_, elapsed() - batch_start);
      if (on_batch) on_batch(epoch_, bi);
    }
    next_batch_ = 0;
    if (progress_bar) *out << "\r" << std::string(100, ' ') << "\r";
    rec.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rec.samples_per_s = double(seen) / std::max(rec.seconds, 1e-9);
    rec.train_loss = loss_sum / double(std::max<Index>(seen, 1));
    rec.train_acc = 100.0 * correct / double(std::max<Index>(seen, 1));
    rec.spike_rates = net_.spike_rates();
    rec.lags = net_.eval_lags();
    if (net_.config().recurrence == Recurrence::asrc) {
      for (size_t l = 0; l < net_.layers().size(); ++l) {
        const auto c = net_.lag_coefficients(l);
        rec.skip_kernels.emplace_back(c.begin(), c.end());
      }
    }
    return rec;
  }

  /// Whether the next batch (with, before an epoch's last batch, the test pass and the
  /// checkpoint writes after it) would pass the time limit. The estimates are the
  /// slowest batch and checkpoint write of this process and its last test pass; before
  /// the first test pass, one training batch per evaluated batch (forward only costs less).
  bool out_of_time(bool last_batch) const {
    if (time_limit_s <= 0) return false;
    double need = batch_seconds_ + save_seconds_;
    if (last_batch) {
      double eval = eval_seconds_;
      if (eval < 0) {
        const Index n = test_->size() + (valid_ ? valid_->size() : 0);
        eval = batch_seconds_ * double((n + set_.batch_size - 1) / set_.batch_size);
      }
      need += eval + save_seconds_;  // last.ckpt and possibly best.ckpt
    }
    return elapsed() + need > time_limit_s;
  }
  void timed_save(const std::string& path) {
    const double t = elapsed();
    save(path);
    save_seconds_ = std::max(save_seconds_, elapsed() - t);
  }

  /// Whether fit() stops here: 0 no, 1 a stop signal, 2 the time limit. Rank 0 decides
  /// and every rank follows, since a signal or the clock can differ between ranks and
  /// all must stop before the same batch.
  int agreed_stop(bool check_signal, bool check_time, bool last_batch) {
    int f = 0;
    if (comm->root()) f = check_signal && stop_requested() ? 1 : check_time && out_of_time(last_batch) ? 2 : 0;
    if (comm->size() > 1) comm->broadcast(&f, sizeof f, 0);
    if (f) stop_requested() = 0;
    return f;
  }

  /// Where a batch is, 1-based, for messages.
  std::string position(Index batch) const {
    return str_cat("epoch ", epoch_ + 1, " of ", set_.epochs, ", batch ", batch + 1);
  }
  std::string first_bad(const Vector<Scalar>& v) const {
    for (const auto& e : net_.layout().entries())
      if (!view(v, e).allFinite()) return e.name;
    return "";
  }
  void check_finite(double loss, const Vector<Scalar>& grad, Index batch) {
    const std::string keep = "; the last good checkpoint is kept in " + set_.results_dir + "/last.ckpt";
    if (!std::isfinite(loss)) {
      const std::string p = first_bad(net_.params());
      throw NonFiniteError(str_cat("non-finite loss at ", position(batch),
                                   p.empty() ? std::string(" (all parameters finite)")
                                             : " (non-finite parameter tensor '" + p + "')",
                                   keep));
    }
    const std::string g = first_bad(grad);
    if (!g.empty())
      throw NonFiniteError(str_cat("non-finite gradient of tensor '", g, "' at ", position(batch), keep));
    if (set_.max_loss > 0 && loss > set_.max_loss) {
      // Still finite, but diverging: name the tensor with the largest weight.
      std::string name;
      double largest = -1;
      for (const auto& e : net_.layout().entries()) {
        const double m = static_cast<double>(view(net_.params(), e).cwiseAbs().maxCoeff());
        if (m > largest) largest = m, name = e.name;
      }
      throw NonFiniteError(str_cat("diverging loss ", loss, " > --max-loss ", set_.max_loss, " at ",
                                   position(batch), " (exploding weights: largest |value| ", largest,
                                   " in tensor '", name, "'; lower --lr)", keep));
    }
  }
  /// The gradient's L2 norm, summed in double in a fixed order (every rank holds the same
  /// reduced gradient, so every rank scales alike); rescaled to clip_grad_norm when longer.
  void clip_gradient(Vector<Scalar>& grad, GradNormStats& gn) const {
    double sq = 0;
    const auto& entries = net_.layout().entries();
    for (size_t k = 0; k < entries.size(); ++k) {  // entries tile the buffer in order
      double tsq = 0;
      for (Index i = entries[k].offset; i < entries[k].offset + entries[k].size(); ++i) {
        const double v = double(grad[i]) * double(grad[i]);
        sq += v;
        tsq += v;
      }
      gn.tensors[k] = std::max(gn.tensors[k], std::sqrt(tsq));
    }
    const double norm = std::sqrt(sq);
    gn.max = std::max(gn.max, norm);
    if (set_.clip_grad_norm > 0 && norm > set_.clip_grad_norm) {
      grad *= static_cast<Scalar>(set_.clip_grad_norm / (norm + 1e-6));  // torch's coefficient
      ++gn.clipped;
    }
  }
  void clamp_weights() {
    if (set_.clip_weights <= 0) return;
    const auto w = static_cast<Scalar>(set_.clip_weights);
    for (const auto& e : net_.layout().entries())
      if (e.group == ParamGroup::weights) view(net_.params(), e) = view(net_.params(), e).cwiseMax(-w).cwiseMin(w);
  }
  void check_params(Index batch) {
    const std::string p = first_bad(net_.params());
    if (!p.empty())
      throw NonFiniteError(str_cat("non-finite parameter tensor '", p, "' after the update at ",
                                   position(batch), "; the last good checkpoint is kept in ",
                                   set_.results_dir, "/last.ckpt"));
  }

  void write_config_file() const {
    std::ofstream f(set_.results_dir + "/config.txt");
    for (const auto& [k, v] : set_.record) f << "--" << k << " " << v << "\n";
  }

  void log_epoch(const EpochRecord& r) {
    const std::string csv = set_.results_dir + "/log.csv";
    const bool header = !std::ifstream(csv).good();
    std::ofstream c(csv, std::ios::app);
    if (header)
      c << "epoch,lr,lr_skip,beta1,tau,train_loss,train_acc,test_loss,test_acc,valid_loss,valid_acc,"
           "best_acc,best_epoch,seconds,samples_per_s,lags\n";
    std::string lags;
    for (size_t l = 0; l < r.lags.size(); ++l) lags += (l ? " " : "") + std::to_string(r.lags[l]);
    char buf[512];
    std::snprintf(buf, sizeof buf, "%ld,%.6g,%.6g,%.6g,%.6g,%.6f,%.4f,%.6f,%.4f,%.6f,%.4f,%.4f,%ld,%.2f,%.1f,",
                  long(r.epoch), r.lr, r.lr_skip, r.beta1, r.tau, r.train_loss, r.train_acc, r.test.loss,
                  r.test.accuracy, r.valid.loss, r.valid.accuracy, r.best_acc, long(r.best_epoch),
                  r.seconds, r.samples_per_s);
    c << buf << lags << "\n";

    std::ofstream j(set_.results_dir + "/log.jsonl", std::ios::app);
    std::snprintf(buf, sizeof buf,
                  "{\"epoch\": %ld, \"lr\": %.8g, \"lr_skip\": %.8g, \"beta1\": %.8g, \"tau\": %.8g, "
                  "\"train_loss\": %.8g, \"train_acc\": %.6g, \"test_loss\": %.8g, \"test_acc\": %.6g, ",
                  long(r.epoch), r.lr, r.lr_skip, r.beta1, r.tau, r.train_loss, r.train_acc, r.test.loss,
                  r.test.accuracy);
    j << buf;
    if (valid_) j << "\"valid_loss\": " << r.valid.loss << ", \"valid_acc\": " << r.valid.accuracy << ", ";
    j << "\"best_acc\": " << r.best_acc << ", \"best_epoch\": " << r.best_epoch << ", \"seconds\": "
      << r.seconds << ", \"samples_per_s\": " << r.samples_per_s << ", \"spike_rates\": [";
    for (size_t l = 0; l < r.spike_rates.size(); ++l) j << (l ? ", " : "") << r.spike_rates[l];
    j << "], \"lags\": [";
    for (size_t l = 0; l < r.lags.size(); ++l) j << (l ? ", " : "") << r.lags[l];
    j << "]";
    std::snprintf(buf, sizeof buf,
                  ", \"phases\": {\"data\": %.4f, \"forward_backward\": %.4f, \"update\": %.4f, "
                  "\"test\": %.4f, \"valid\": %.4f, \"resumed\": %s}",
                  r.phases.data, r.phases.forward_backward, r.phases.update, r.phases.test, r.phases.valid,
                  r.resumed ? "true" : "false");
    j << buf;
    std::snprintf(buf, sizeof buf, ", \"grad_norm\": {\"max\": %.6g, \"clipped\": %ld, \"tensors\": {",
                  r.grad_norm.max, long(r.grad_norm.clipped));
    j << buf;
    const auto& entries = net_.layout().entries();
    for (size_t k = 0; k < r.grad_norm.tensors.size() && k < entries.size(); ++k) {
      std::snprintf(buf, sizeof buf, "%s\"%s\": %.6g", k ? ", " : "", entries[k].name.c_str(), r.grad_norm.tensors[k]);
      j << buf;
    }
    j << "}}";
    if (!r.skip_kernels.empty()) {
      j << ", \"skip_kernels\": [";
      for (size_t l = 0; l < r.skip_kernels.size(); ++l) {
        j << (l ? ", " : "") << "[";
        for (size_t k = 0; k < r.skip_kernels[l].size(); ++k) {
          std::snprintf(buf, sizeof buf, "%s%.5g", k ? ", " : "", r.skip_kernels[l][k]);
          j << buf;
        }
        j << "]";
      }
      j << "]";
    }
    j << "}\n";

    *out << "epoch " << r.epoch + 1 << "/" << set_.epochs << "  lr " << r.lr << "  tau " << fmt(r.tau, 4)
         << "  train loss " << fmt(r.train_loss, 4) << " acc " << fmt(r.train_acc) << "%  test loss "
         << fmt(r.test.loss, 4) << " acc " << fmt(r.test.accuracy) << "%";
    if (valid_) *out << "  valid acc " << fmt(r.valid.accuracy) << "%";
    *out << "  best " << fmt(r.best_acc) << "% (epoch " << r.best_epoch + 1 << ")  " << fmt(r.seconds, 1)
         << "s  " << fmt(r.samples_per_s, 1) << " samples/s  lags";
    for (Index l : r.lags) *out << " " << l;
    *out << std::endl;
  }

  TrainSettings set_;
  std::shared_ptr<const Dataset> train_, test_, valid_;
  Net net_;
  Optimizer opt_;
  Rng shuffle_rng_;
  std::string epoch_shuffle_state_ = shuffle_rng_.state();
  struct Partial {
    double loss_sum = 0, correct = 0;
    Index seen = 0;
    double seconds = 0;
    GradNormStats grad_norm;
  } partial_;
  Index next_batch_ = 0;  ///< > 0 while an epoch is interrupted between batches
  // Time-limit estimates (seconds on `elapsed`): slowest batch, slowest checkpoint write,
  // last test pass (-1: none yet).
  double batch_seconds_ = 0, save_seconds_ = 0, eval_seconds_ = -1;
  Index epoch_ = 0;
  double best_acc_ = 0;
  Index best_epoch_ = -1;
  double best_test_at_best_ = 0;
  std::vector<EpochRecord> history_;
};

}  // namespace asrc
