#pragma once
// A recurrent spiking network: L hidden layers (layers/spiking_layer.hpp) and a readout
// summed over time (layers/readout.hpp), trained with full BPTT (spec sections 3-4).
// With the spiking readout (ScSr-SNN) the last layer is a spiking output layer, one
// neuron per class ("output"), built like a hidden layer without recurrence or dropout.
//
// Threads: the batch is split into fixed chunks of `chunk_size` sequences. Each chunk
// runs forward and backward on its own, into its own gradient buffer; the chunk
// gradients and losses are then added in chunk order. The chunking depends only on
// the batch size, never on the thread count, so results are bitwise identical for any
// number of OpenMP threads. Eigen's own threading is off (EIGEN_DONT_PARALLELIZE).
#include <omp.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "asrc/core/eigen.hpp"

#include "asrc/core/denormals.hpp"
#include "asrc/core/memory.hpp"
#include "asrc/core/random.hpp"
#include "asrc/layers/readout.hpp"
#include "asrc/layers/spiking_layer.hpp"

namespace asrc {

/// Which products use the spike-aware row kernels.
enum class KernelPolicy {
  automatic,  ///< row kernels for binary spikes in training, for everything in evaluation
  dense,      ///< Eigen GEMM everywhere (the reference path for checking the fast kernels)
};

/// Settings of a whole network, with the reference defaults (spec section 7).
struct NetworkConfig {
  Index input_size = 1;
  std::vector<Index> hidden = {64, 128, 128};
  Index num_classes = 10;
  /// The layer graph: extra_inputs[l] lists earlier layers j < l - 1 whose spikes also
  /// feed layer l (each through a weight of its own, "hidden<l>.from<j>"), besides layer
  /// l - 1 (or the data, for l = 0). Empty, or shorter than `hidden`: a chain.
  std::vector<std::vector<Index>> extra_inputs;
  Recurrence recurrence = Recurrence::src;
  Index skip = 16;            ///< lambda (SRC) or T_lambda (ASRC)
  bool network_wise = false;  ///< ASRC: one lag kernel w shared by all layers
  bool bias = true;           ///< biases in the hidden layers and the readout
  bool hidden_bias = true;    ///< false: none in the hidden layers even with `bias` (Zeng et al.)
  bool self_connections = true;  ///< false: W_rec without its diagonal (Zeng et al.)
  double dropout = 0.0;
  NeuronKind neuron = NeuronKind::lif;
  LifConfig lif;
  ZengConfig zeng;
  ReadoutKind readout = ReadoutKind::sum;
  double tau_p = 1.0;         ///< leaky-last readout: output current time constant
  /// The training loss (readout.hpp); spike_train needs the spiking readout. Evaluation
  /// reports the cross-entropy of the logits for every loss.
  LossKind loss = LossKind::cross_entropy;
  /// ScSr-SNN: the PSC filter on every layer's output (tau_s 0: none) and, with
  /// input_psc, on the data before the first layer (layers/psc.hpp).
  PscConfig psc;
  bool input_psc = false;
  /// ScSr-SNN: a trained weight per hidden neuron feeding its own output back one step
  /// later ("hidden<l>.self"), initially 0 (or U(0, 1) with self_init_uniform).
  bool self_recurrence = false;
  bool self_init_uniform = false;
  /// With lif.learn_decay and the spiking readout: whether the output layer's decay is
  /// trained too (ScSr's BIP default) or fixed at lif.decay (BIP in hidden layers only).
  bool learn_decay_output = true;
  InitScheme init = InitScheme::uniform;
  std::uint64_t seed = 0;     ///< initialisation seed
  Index chunk_size = 16;      ///< sequences per work item (fixes the reduction order)
  int threads = 0;            ///< OpenMP threads; 0: OpenMP's default
  KernelPolicy kernels = KernelPolicy::automatic;
  /// Treat subnormal numbers as zero inside forward, backward and streaming steps (see
  /// core/denormals.hpp: up to 1.8x faster training on x86 cores with slow subnormals).
  bool flush_denormals = true;
  /// ASRC in training: leave out of the step-by-step lag mixture the lags whose softmax
  /// coefficient is exactly 0 (KernelChoice::skip_zero_lags; the same results bitwise,
  /// tested). false runs every lag, for checking.
  bool skip_zero_lags = true;

  void validate() const {
    require(input_size > 0, "NetworkConfig::validate", "input_size > 0", input_size);
    require(!hidden.empty(), "NetworkConfig::validate", "at least one hidden layer", "none");
    for (Index h : hidden) require(h > 0, "NetworkConfig::validate", "hidden widths > 0", h);
    require(num_classes >= 2, "NetworkConfig::validate", "num_classes >= 2", num_classes);
    if (recurrence == Recurrence::src)
      require(skip >= 1, "NetworkConfig::validate", "lambda >= 1", skip);
    if (recurrence == Recurrence::asrc)
      require(skip >= 1, "NetworkConfig::validate", "T_lambda >= 1", skip);
    require(dropout >= 0.0 && dropout < 1.0, "NetworkConfig::validate", "dropout in [0, 1)",
            dropout);
    require(chunk_size >= 1, "NetworkConfig::validate", "chunk_size >= 1", chunk_size);
    require(threads >= 0, "NetworkConfig::validate", "threads >= 0", threads);
    require(readout != ReadoutKind::leaky_last || (tau_p > 0 && std::isfinite(tau_p)), "NetworkConfig::validate",
            "a finite tau_p > 0 for the leaky readout", tau_p);
    psc.validate();
    require(loss == LossKind::cross_entropy || readout == ReadoutKind::spiking, "NetworkConfig::validate",
            "the spiking readout for the spike-train loss", to_string(readout));
    require(!input_psc || psc.enabled(), "NetworkConfig::validate", "a PSC filter (tau_s > 0) for the input filter",
            psc.tau_s);
    validate_neuron(*this);
    require(extra_inputs.size() <= hidden.size(), "NetworkConfig::validate",
            str_cat("extra_inputs for at most the ", hidden.size(), " hidden layers"), extra_inputs.size());
    for (size_t l = 0; l < extra_inputs.size(); ++l)
      for (size_t k = 0; k < extra_inputs[l].size(); ++k) {
        const Index j = extra_inputs[l][k];
        require(j >= 0 && j + 1 < Index(l) && (k == 0 || j > extra_inputs[l][k - 1]), "NetworkConfig::validate",
                str_cat("extra inputs of layer ", l, " from earlier layers 0 .. ", Index(l) - 2, ", increasing"), j);
      }
  }
  /// The extra inputs of layer l (empty for a chain).
  const std::vector<Index>& extra_inputs_of(size_t l) const {
    static const std::vector<Index> none;
    return l < extra_inputs.size() ? extra_inputs[l] : none;
  }

  Index lag() const { return max_lag(recurrence, skip); }
  /// Layers of spiking neurons: the hidden ones, and the output layer of the spiking readout.
  size_t spiking_layers() const { return hidden.size() + (readout == ReadoutKind::spiking ? 1 : 0); }
};

/// One rank's share of a global batch in data-parallel training (parallel/data_parallel.hpp):
/// sequences offset .. offset+batch-1 of a batch of global_batch. offset must be a multiple
/// of chunk_size, so that the local chunks are exactly the global batch's chunks.
struct BatchSlice {
  Index global_batch = 0;
  Index offset = 0;
  /// Non-zero inputs in the whole global batch: layer 0's kernel choice must not depend on
  /// how the batch is split (-1: count this share only).
  Index input_nonzero = -1;
};

/// Streaming state: per layer, the neuron's state and a circular buffer of the last K spike
/// vectors (K = lambda, T_lambda or 1); plus the readout's running features.
template <typename T>
struct StreamState {
  Index batch = 0;
  Index steps = 0;  ///< steps fed so far
  std::vector<std::vector<Matrix<T>>> state;  ///< per layer, the neuron's B x H states
  std::vector<std::vector<Matrix<T>>> ring;   ///< per layer, K blocks of B x H
  std::vector<Matrix<T>> spikes;              ///< per layer, the current step's outputs
  Matrix<T> input;                            ///< with the input filter: the filtered x_t
  Matrix<T> counts;                           ///< B x H_L: spike counts or output current
  Matrix<T> scratch, scratch_r, flags;
  Matrix<T> scratch_x;                        ///< a strided x_t made dense for the input filter
};

/// Optional observer of a network's passes, for analysis (asrc/analysis/gradient_flow.hpp
/// and `asrc-analyze gradient-flow`). Install with Network::set_observer(); without one
/// the network does no extra work (one null test per chunk and layer) and its results
/// are bitwise the same as with an observer that changes nothing.
///
/// The per-chunk callbacks run concurrently, one OpenMP thread per chunk, so an observer
/// writes only to storage of its own chunk `ci` (begin() gives the chunk count) and
/// reduces in end(), in chunk order, to stay independent of the thread count.
/// All matrices are time-major for the chunk: row t*Bc + i is sequence b0 + i at step t.
/// forward() calls begin(), forward_layer() and end(); forward_backward() all five.
template <typename T>
class NetworkObserver {
 public:
  virtual ~NetworkObserver() = default;
  /// Before any chunk runs (serial): batch size, steps, chunk size and count.
  virtual void begin(Index batch, Index steps, Index chunk_size, Index chunks) {}
  /// After hidden layer l's forward on chunk ci: V = membrane v_t before reset (Eq. 1,
  /// the paper's U[t]), S = spikes s_t (Eq. 2), both (steps*Bc) x H.
  virtual void forward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<T>& V,
                             const Matrix<T>& S) {}
  /// dL/ds_t of the top hidden layer as the readout wrote it (the same block at every
  /// step), before backward runs. The observer may change it: keeping only the last
  /// step gives the gradient of the last step's output alone (dL[T-1]/dU[t], Eq. 5-8).
  /// The parameter gradient then belongs to that changed loss.
  virtual void top_gradient(Index ci, Index Bc, Matrix<T>& dS) {}
  /// After hidden layer l's backward on chunk ci: G = dL/dv_t (= dL/dI_t, since
  /// v_t = d v'_{t-1} + I_t), (steps*Bc) x H; with dropout in training, times the mask.
  virtual void backward_layer(size_t l, Index ci, Index b0, Index Bc, const Matrix<T>& G) {}
  /// After every chunk (serial).
  virtual void end() {}
};

template <typename T>
class Network {
 public:
  using Scalar = T;

  explicit Network(const NetworkConfig& cfg) : cfg_(cfg), dropout_rng_(cfg.seed ^ 0xd1b54a32d192ed03ULL) {
    cfg_.validate();
    build(cfg_, layout_, layers_, readout_);
    extra_read_.assign(layers_.size(), false);
    for (size_t l = 0; l < cfg_.extra_inputs.size(); ++l)
      for (Index j : cfg_.extra_inputs[l]) extra_read_[size_t(j)] = true;
    // The parameters and the kernels' transposed copies of the weights.
    require_memory("Network::Network", str_cat(layout_.size(), " parameters"),
                   2.0 * double(layout_.size()) * double(sizeof(T)));
    params_.setZero(layout_.size());
    initialize(cfg_.seed);
  }

  /// The number of parameters a network of `cfg` has, without allocating them.
  static Index count_params(const NetworkConfig& cfg) {
    cfg.validate();
    ParamLayout layout;
    std::vector<SpikingLayer<T>> layers;
    std::unique_ptr<Readout<T>> readout;
    build(cfg, layout, layers, readout);
    return layout.size();
  }

  const NetworkConfig& config() const { return cfg_; }
  const ParamLayout& layout() const { return layout_; }
  Index num_params() const { return layout_.size(); }
  const Vector<T>& params() const { return params_; }
  /// Mutable parameters. Every forward / forward_backward call reads them afresh (the
  /// kernels' transposed copies are rebuilt per call, a cost linear in the parameters), so
  /// a reference kept across calls can never feed stale weights to a batch pass. A stream
  /// reads them at its first step: change parameters between streams, not during one.
  Vector<T>& params() {
    dirty_ = true;
    return params_;
  }
  const std::vector<SpikingLayer<T>>& layers() const { return layers_; }

  bool training() const { return training_; }
  void set_training(bool on) { training_ = on; }
  double tau() const { return tau_; }
  void set_tau(double tau) {
    require(tau > 0.0 && std::isfinite(tau), "Network::set_tau", "a finite tau > 0", tau);
    tau_ = tau;
  }
  /// Generator of the dropout masks (its state belongs in checkpoints).
  Rng& dropout_rng() { return dropout_rng_; }

  /// Draw every parameter from `seed`: each module initialises its own, in the order
  /// they were declared (a shared ASRC kernel first: logits 0). NetworkConfig::init picks
  /// the scheme (torch's defaults for Table 1, Gaussian for Zeng et al.).
  void initialize(std::uint64_t seed) {
    Rng rng(seed);
    const Index shared = layout_.find("skip_logits");
    if (shared >= 0) view(params_, layout_.entry(shared)).setZero();
    for (const auto& layer : layers_) layer.initialize(layout_, params_, rng, cfg_.init);
    readout_->initialize(layout_, params_, rng, cfg_.init);
    dirty_ = true;
  }

  /// Lag coefficients c_1..c_K of layer l in the current mode (see spiking_layer.hpp).
  std::vector<T> lag_coefficients(size_t l) const {
    const auto& layer = layers_[l];
    const Index K = layer.lag_count();
    if (K == 0) return {};
    const T* w = cfg_.recurrence == Recurrence::asrc ? params_.data() + layout_.entry(layer.skip_entry()).offset
                                                      : nullptr;
    return asrc::lag_coefficients<T>(cfg_.recurrence, K, w, training_, tau_);
  }

  /// The lag of each layer used in evaluation (1-based; 0 without recurrence).
  std::vector<Index> eval_lags() const {
    std::vector<Index> lags;
    for (const auto& layer : layers_) {
      const Index K = layer.lag_count();
      if (K == 0) { lags.push_back(0); continue; }
      if (cfg_.recurrence == Recurrence::asrc)
        lags.push_back(skip_argmax_lag<T>(params_.data() + layout_.entry(layer.skip_entry()).offset, K));
      else
        lags.push_back(K);
    }
    return lags;
  }

  /// Forward only. x: (steps*batch) x input_size, time-major. Returns logits (batch x classes).
  /// Training mode draws dropout masks from dropout_rng().
  Matrix<T> forward(const Eigen::Ref<const Matrix<T>>& x, Index batch) {
    Matrix<T> logits;
    run(x, batch, nullptr, nullptr, nullptr, &logits);
    return logits;
  }

  /// Forward and full BPTT. Returns the mean cross-entropy over the batch; ASSIGNS the
  /// gradient of every parameter to `grad` (resized to num_params()), and dL/dx to
  /// *grad_input when given; writes logits to *logits when given.
  double forward_backward(const Eigen::Ref<const Matrix<T>>& x, Index batch,
                          const std::vector<int>& labels, Vector<T>& grad,
                          Matrix<T>* grad_input = nullptr, Matrix<T>* logits = nullptr) {
    require(static_cast<Index>(labels.size()) == batch, "Network::forward_backward",
            str_cat(batch, " labels"), labels.size());
    return run(x, batch, labels.data(), &grad, grad_input, logits);
  }

  /// Forward and BPTT of one share of a global batch (see BatchSlice), keeping each chunk's
  /// results apart instead of adding them: chunk_gradients(), chunk_losses() (summed, not
  /// averaged, cross-entropy) and chunk_spike_sums(), for a reduction across processes in
  /// global chunk order. Dropout masks are drawn for the global batch, so every rank must
  /// call this for every batch to keep dropout_rng() in step. Gradients are those of the
  /// mean loss over the global batch.
  void forward_backward_chunks(const Eigen::Ref<const Matrix<T>>& x, Index batch,
                               const std::vector<int>& labels, const BatchSlice& slice,
                               Matrix<T>* logits = nullptr) {
    require(static_cast<Index>(labels.size()) == batch, "Network::forward_backward_chunks",
            str_cat(batch, " labels"), labels.size());
    require(slice.offset >= 0 && slice.offset % cfg_.chunk_size == 0 &&
                slice.offset + batch <= slice.global_batch,
            "Network::forward_backward_chunks",
            str_cat("a slice at a multiple of chunk_size ", cfg_.chunk_size, " inside the global batch of ",
                    slice.global_batch),
            str_cat("sequences ", slice.offset, " .. ", slice.offset + batch - 1));
    run(x, batch, labels.data(), nullptr, nullptr, logits, &slice);
  }
  /// For a rank with no share of a batch: draws the batch's dropout masks, as
  /// forward_backward_chunks() would, to keep dropout_rng() in step with the other ranks.
  void skip_batch(Index global_batch) { draw_masks(global_batch); }
  /// Per-chunk results of the last forward_backward_chunks() (chunk ci of the slice).
  const std::vector<Vector<T>>& chunk_gradients() const { return chunk_grad_; }
  const std::vector<double>& chunk_losses() const { return chunk_loss_; }
  /// Spikes per chunk and layer (chunk-major: [ci * layers + l]).
  const std::vector<double>& chunk_spike_sums() const { return chunk_spikes_; }
  /// Set by data-parallel training from the chunk sums of every rank.
  void set_spike_rates(std::vector<double> rates) { spike_rates_ = std::move(rates); }

  /// Streaming inference (evaluation semantics): start a state for `batch` sequences.
  StreamState<T> make_stream(Index batch) const {
    require(batch >= 1, "Network::make_stream", "batch >= 1", batch);
    StreamState<T> st;
    st.batch = batch;
    const auto lags = eval_lags();
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Index H = layers_[l].size();
      st.state.push_back(layers_[l].stream_state(batch));
      st.ring.emplace_back(static_cast<size_t>(lags[l]), Matrix<T>::Zero(batch, H));
      st.spikes.push_back(Matrix<T>::Zero(batch, H));
    }
    st.counts.setZero(batch, layers_.back().size());
    return st;
  }

  /// Feed one time step x_t (batch x input_size). Each layer reads s_{t-lag} from its
  /// circular buffer, then stores s_t in the slot it read. O(1) memory in time.
  void stream_step(StreamState<T>& st, const Eigen::Ref<const Matrix<T>>& xt) {
    require(xt.rows() == st.batch && xt.cols() == cfg_.input_size, "Network::stream_step",
            str_cat("a ", st.batch, " x ", cfg_.input_size, " step"),
            str_cat(xt.rows(), " x ", xt.cols()));
    require(xt.allFinite(), "Network::stream_step", "finite inputs", "NaN or Inf");
    prepare(st.steps == 0);  // a stream's weights are read at its first step
    const FlushDenormals flush(cfg_.flush_denormals);  // as in forward(): identical results
    const Matrix<T>* in = nullptr;
    const bool filter = cfg_.input_psc;
    if (filter) {  // as run() filters a batch: the first step has no predecessor
      if (st.steps == 0) st.input.resize(st.batch, cfg_.input_size);
      const T* x = xt.data();
      if (xt.outerStride() != xt.cols()) {  // a strided view: psc_step reads a dense block
        st.scratch_x = xt;
        x = st.scratch_x.data();
      }
      psc_step<T>(cfg_.psc, st.steps > 0 ? st.input.data() : nullptr, x, st.input.data(), xt.size());
    }
    for (size_t l = 0; l < layers_.size(); ++l) {
      auto& ring = st.ring[l];
      const Index K = static_cast<Index>(ring.size());
      Matrix<T>* slot = K > 0 ? &ring[size_t(st.steps % K)] : nullptr;
      const Matrix<T>* history = (K > 0 && st.steps >= K) ? slot : nullptr;
      std::vector<const Matrix<T>*> extra;
      for (Index j : cfg_.extra_inputs_of(l)) extra.push_back(&st.spikes[size_t(j)]);
      if (l == 0 && filter)
        layers_[l].stream_step(layout_, params_, st.input, history, st.scratch, st.scratch_r, st.state[l], st.flags,
                               st.spikes[l], extra);
      else if (l == 0)
        layers_[l].stream_step(layout_, params_, xt, history, st.scratch, st.scratch_r, st.state[l], st.flags,
                               st.spikes[l], extra);
      else
        layers_[l].stream_step(layout_, params_, *in, history, st.scratch, st.scratch_r, st.state[l], st.flags,
                               st.spikes[l], extra);
      if (slot) *slot = st.spikes[l];
      in = &st.spikes[l];
    }
    readout_->accumulate(st.counts, st.spikes.back());
    ++st.steps;
  }

  /// Logits of the steps fed so far (equal to forward() in evaluation mode).
  Matrix<T> stream_logits(const StreamState<T>& st) {
    prepare(false);
    Matrix<T> out;
    readout_->logits(layout_, params_, st.counts, st.steps, true, out);
    return out;
  }

  /// Install (or with nullptr remove) an observer of forward and backward; not owned.
  void set_observer(NetworkObserver<T>* observer) { observer_ = observer; }
  NetworkObserver<T>* observer() const { return observer_; }

  /// Fraction of spikes per hidden layer in the last forward pass (whole batch).
  const std::vector<double>& spike_rates() const { return spike_rates_; }

 private:
  /// Declare the layers and their parameters into `layout` (nothing is allocated).
  static void build(const NetworkConfig& cfg, ParamLayout& layout, std::vector<SpikingLayer<T>>& layers,
                    std::unique_ptr<Readout<T>>& readout) {
    Index shared_skip = -1;
    if (cfg.recurrence == Recurrence::asrc && cfg.network_wise)
      shared_skip = layout.add("skip_logits", 1, cfg.skip, ParamGroup::skip);
    Index in = cfg.input_size;
    for (size_t l = 0; l < cfg.spiking_layers(); ++l) {
      const bool output = l == cfg.hidden.size();  // the spiking readout's layer
      HiddenLayerConfig hc;
      hc.input_size = in;
      hc.size = output ? cfg.num_classes : cfg.hidden[l];
      hc.bias = cfg.bias && cfg.hidden_bias;
      hc.recurrence = output ? Recurrence::none : cfg.recurrence;
      hc.skip = cfg.skip;
      hc.dropout = output ? 0.0 : cfg.dropout;
      hc.self_connections = cfg.self_connections;
      if (!output)
        for (Index j : cfg.extra_inputs_of(l)) hc.extra_inputs.emplace_back(j, cfg.hidden[size_t(j)]);
      hc.self_recurrence = cfg.self_recurrence && !output;
      hc.self_init_uniform = cfg.self_init_uniform;
      hc.psc = cfg.psc;
      hc.neuron = cfg.neuron;
      hc.lif = cfg.lif;
      if (output && !cfg.learn_decay_output) hc.lif.learn_decay = false;
      hc.zeng = cfg.zeng;
      layers.emplace_back(hc, layout, output ? std::string("output") : "hidden" + std::to_string(l),
                          output ? -1 : shared_skip);
      in = hc.size;
    }
    readout = std::make_unique<Readout<T>>(in, cfg.num_classes, cfg.bias, layout, cfg.readout, cfg.tau_p);
  }

  struct Workspace {
    Matrix<T> x;
    std::vector<LayerCache<T>> layers;
    Matrix<T> counts, logits, glogits, gx, e;
  };

  /// The spikes of layer l's extra inputs in a chunk's workspace.
  std::vector<const Matrix<T>*> extra_of(const Workspace& w, size_t l) const {
    std::vector<const Matrix<T>*> v;
    for (Index j : cfg_.extra_inputs_of(l)) v.push_back(&w.layers[size_t(j)].S);
    return v;
  }

  /// Rebuild the kernels' transposed copies of the weights: always for batch passes
  /// (`force`), for streams when params() was handed out since the last rebuild.
  void prepare(bool force = true) {
    if (!force && !dirty_) return;
    for (auto& layer : layers_) layer.prepare(layout_, params_);
    readout_->prepare(layout_, params_);
    dirty_ = false;
  }

  /// Dropout masks: one B x H mask per layer, drawn in a fixed order (none when not
  /// training with dropout).
  std::vector<Matrix<T>> draw_masks(Index batch) {
    std::vector<Matrix<T>> masks;
    if (!training_ || cfg_.dropout <= 0.0) return masks;
    const T keep_scale = T(1.0 / (1.0 - cfg_.dropout));
    for (size_t l = 0; l < cfg_.hidden.size(); ++l) {  // not the spiking readout's layer
      Matrix<T> m(batch, layers_[l].size());
      for (Index i = 0; i < m.size(); ++i)
        m.data()[i] = dropout_rng_.uniform01() < cfg_.dropout ? T(0) : keep_scale;
      masks.push_back(std::move(m));
    }
    return masks;
  }

  KernelChoice kernel_choice(size_t l) const {
    KernelChoice kc;
    kc.skip_zero_lags = cfg_.skip_zero_lags;
    if (cfg_.kernels == KernelPolicy::dense) return kc;
    if (!training_) {
      kc.sparse_input = true;  // row kernel: exact equality with streaming
      kc.sparse_recurrent = true;
      return kc;
    }
    // Layer 0 reads the data: its row kernel wins when most inputs are 0 (SSC/SHD spike
    // counts, about 10% non-zero), not for dense features (GSC log-mel). asrc-bench
    // measures both paths; the threshold is where they cross on this machine.
    // (The input filter makes the data dense and real-valued: no row kernel then.)
    kc.sparse_input = l > 0 ? layers_[l - 1].binary_output() : !cfg_.input_psc && input_density_ < kSparseInputDensity;
    kc.sparse_recurrent = layers_[l].binary_output();  // its own outputs; extra inputs alike
    return kc;
  }

  /// Below this fraction of non-zero inputs, layer 0 uses the row kernel in training.
  static constexpr double kSparseInputDensity = 0.3;

  double run(const Eigen::Ref<const Matrix<T>>& x, Index batch, const int* labels,
             Vector<T>* grad, Matrix<T>* grad_input, Matrix<T>* logits_out,
             const BatchSlice* slice = nullptr) {
    require(batch >= 1, "Network::forward", "batch >= 1", batch);
    require(x.cols() == cfg_.input_size, "Network::forward",
            str_cat(cfg_.input_size, " input columns"), x.cols());
    require(x.rows() % batch == 0 && x.rows() > 0, "Network::forward",
            str_cat("a multiple of batch ", batch, " rows (time-major steps x batch)"), x.rows());
    const Index steps = x.rows() / batch;
    require(steps > cfg_.lag(), "Network::forward",
            str_cat("sequences longer than the recurrent lag ", cfg_.lag(), " steps"), steps);
    require(x.allFinite(), "Network::forward", "finite inputs", "NaN or Inf");
    prepare();
    // Sequences in the whole batch, of which this call runs `batch` from `first`.
    const Index global = slice ? slice->global_batch : batch;
    const Index first = slice ? slice->offset : 0;
    const bool chunk_grads = grad || slice;  // slice: per-chunk gradients, not reduced here
    if (training_ && cfg_.kernels != KernelPolicy::dense) {  // only kernel_choice() reads it
      if (slice && slice->input_nonzero >= 0)
        input_density_ = static_cast<double>(slice->input_nonzero) /
                         static_cast<double>(steps * global * x.cols());
      else
        input_density_ = static_cast<double>((x.array() != T(0)).count()) / static_cast<double>(x.size());
    }

    const size_t L = layers_.size();
    std::vector<std::vector<T>> coeff(L);
    for (size_t l = 0; l < L; ++l) coeff[l] = lag_coefficients(l);

    const std::vector<Matrix<T>> masks = draw_masks(global);

    const Index C = cfg_.chunk_size;
    const Index nchunks = batch / C + (batch % C != 0);  // no overflow for huge C
    const int nthreads = cfg_.threads > 0 ? cfg_.threads : omp_get_max_threads();
    if (static_cast<int>(work_.size()) < nthreads) work_.resize(static_cast<size_t>(nthreads));
    chunk_loss_.assign(static_cast<size_t>(nchunks), 0.0);
    chunk_spikes_.assign(static_cast<size_t>(nchunks) * L, 0.0);
    if (chunk_grads) chunk_grad_.resize(static_cast<size_t>(nchunks));
    if (logits_out) logits_out->resize(batch, cfg_.num_classes);
    if (grad_input) grad_input->resize(x.rows(), x.cols());

    NetworkObserver<T>* const obs = observer_;
    if (obs) obs->begin(batch, steps, C, nchunks);
    std::vector<std::string> errors(static_cast<size_t>(nchunks));
#pragma omp parallel for schedule(static) num_threads(nthreads)
    for (Index ci = 0; ci < nchunks; ++ci) {
      try {
        const FlushDenormals flush(cfg_.flush_denormals);
        Workspace& w = work_[static_cast<size_t>(omp_get_thread_num())];
        const Index b0 = ci * C, Bc = std::min(C, batch - b0);
        w.layers.resize(L);
        w.x.resize(steps * Bc, cfg_.input_size);
        for (Index t = 0; t < steps; ++t) w.x.middleRows(t * Bc, Bc) = x.middleRows(t * batch + b0, Bc);
        if (cfg_.input_psc) psc_filter_in_place(cfg_.psc, w.x, Bc);
        std::vector<Matrix<T>> chunk_masks;
        for (size_t l = 0; l < masks.size(); ++l) chunk_masks.push_back(masks[l].middleRows(first + b0, Bc));

        for (size_t l = 0; l < L; ++l) {
          const Matrix<T>& in = l == 0 ? w.x : w.layers[l - 1].S;
          layers_[l].forward(layout_, params_, in, Bc, l < chunk_masks.size() ? &chunk_masks[l] : nullptr,
                             coeff[l], kernel_choice(l), w.layers[l], extra_of(w, l));
          const Matrix<T>& spikes = layers_[l].spikes(w.layers[l]);
          chunk_spikes_[size_t(ci) * L + l] = static_cast<double>(spikes.sum());
          if (obs) obs->forward_layer(l, ci, b0, Bc, w.layers[l].V, spikes);
        }
        readout_->features(w.layers.back().S, Bc, w.counts);
        readout_->logits(layout_, params_, w.counts, steps, !training_ && cfg_.kernels != KernelPolicy::dense, w.logits);
        if (logits_out) logits_out->middleRows(b0, Bc) = w.logits;
        if (!chunk_grads) continue;

        Vector<T>& g = chunk_grad_[size_t(ci)];
        g.setZero(layout_.size());
        std::vector<std::vector<T>> gcoeff(L);
        if (cfg_.loss == LossKind::spike_train) {
          chunk_loss_[size_t(ci)] =
              spike_train_loss(w.layers.back().S, Bc, labels + b0, global, cfg_.psc, w.layers.back().G);
        } else {
          chunk_loss_[size_t(ci)] = softmax_cross_entropy(w.logits, labels + b0, global, &w.glogits);
          readout_->backward(layout_, params_, w.counts, w.glogits, steps, g, w.layers.back().G);
        }
        if (obs) obs->top_gradient(ci, Bc, w.layers.back().G);
        // A layer that other layers read besides the next one gets its dL/ds added by
        // each reader, so it starts at zero; one read by the next layer alone is assigned.
        for (size_t l = 0; l + 1 < L; ++l)
          if (extra_read_[l]) w.layers[l].G.setZero(steps * Bc, layers_[l].size());
        for (size_t l = L; l-- > 0;) {
          gcoeff[l].assign(coeff[l].size(), T(0));
          const Matrix<T>& in = l == 0 ? w.x : w.layers[l - 1].S;
          Matrix<T>* gin = l > 0 ? &w.layers[l - 1].G : (grad_input ? &w.gx : nullptr);
          std::vector<Matrix<T>*> extra_grad;
          for (Index j : cfg_.extra_inputs_of(l)) extra_grad.push_back(&w.layers[size_t(j)].G);
          layers_[l].backward(layout_, params_, in, Bc, l < chunk_masks.size() ? &chunk_masks[l] : nullptr,
                              coeff[l], kernel_choice(l), w.layers[l], g, gin, gcoeff[l], extra_of(w, l), extra_grad,
                              l > 0 && extra_read_[l - 1]);
          if (obs) obs->backward_layer(l, ci, b0, Bc, w.layers[l].G);
        }
        add_skip_grad(coeff, gcoeff, g);
        if (grad_input && cfg_.input_psc) psc_filter_backward_in_place(cfg_.psc, w.gx, Bc, w.e);
        if (grad_input)
          for (Index t = 0; t < steps; ++t)
            grad_input->middleRows(t * batch + b0, Bc) = w.gx.middleRows(t * Bc, Bc);
      } catch (const std::exception& e) {
        errors[size_t(ci)] = e.what();
      }
    }
    for (const auto& e : errors)
      if (!e.empty()) throw std::invalid_argument(e);
    if (obs) obs->end();

    spike_rates_.assign(L, 0.0);
    for (size_t l = 0; l < L; ++l) {
      double s = 0;
      for (Index ci = 0; ci < nchunks; ++ci) s += chunk_spikes_[size_t(ci) * L + l];
      spike_rates_[l] = s / (double(steps) * double(batch) * double(layers_[l].size()));
    }
    if (!grad) return 0.0;  // (a slice leaves its chunk results for the caller to reduce)
    // Fixed-order reduction over chunks.
    grad->setZero(layout_.size());
    double loss = 0.0;
    for (Index ci = 0; ci < nchunks; ++ci) {
      *grad += chunk_grad_[size_t(ci)];
      loss += chunk_loss_[size_t(ci)];
    }
    return loss / static_cast<double>(batch);
  }

  /// dL/dw for ASRC in training, from each layer's dL/dc (layers/recurrence.hpp).
  void add_skip_grad(const std::vector<std::vector<T>>& coeff,
                     const std::vector<std::vector<T>>& gcoeff, Vector<T>& g) const {
    if (cfg_.recurrence != Recurrence::asrc || !training_) return;
    for (size_t l = 0; l < layers_.size(); ++l)
      if (layers_[l].skip_entry() >= 0)
        skip_softmax_backward(coeff[l], gcoeff[l], tau_, g.data() + layout_.entry(layers_[l].skip_entry()).offset);
  }

  NetworkConfig cfg_;
  std::vector<bool> extra_read_;  ///< per layer: read by a layer other than the next
  Rng dropout_rng_;
  ParamLayout layout_;
  std::vector<SpikingLayer<T>> layers_;
  std::unique_ptr<Readout<T>> readout_;
  Vector<T> params_;
  bool dirty_ = true;
  bool training_ = true;
  double tau_ = 1.0;
  double input_density_ = 1.0;  ///< fraction of non-zero inputs in the batch being run
  std::vector<Workspace> work_;
  std::vector<Vector<T>> chunk_grad_;
  std::vector<double> chunk_loss_, chunk_spikes_;
  std::vector<double> spike_rates_;
  NetworkObserver<T>* observer_ = nullptr;
};

}  // namespace asrc
