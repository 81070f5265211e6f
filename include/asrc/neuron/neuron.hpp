#pragma once
// Neuron models as policies. A hidden layer (layers/spiking_layer.hpp) owns the synapses
// (feed-forward and recurrent products, their gradients); the neuron owns what happens to
// the currents inside one time step, forward and backward. Each policy is a class
// template on the scalar with static members (neuron/lif.hpp is the smallest example,
// neuron/zeng.hpp the largest):
//
//   using Config            its settings (validate() checks them)
//   kStates                 matrices of Bc x H carried from step to step; forward and
//                           backward each start them at zero (backward reuses them for its
//                           own carries, e.g. dL/dv_{t+1})
//   kSplitInput             false: the layer adds the recurrent drive r_t into the
//                           feed-forward drive a_t and the neuron sees I_t = a_t + r_t;
//                           true: the neuron gets a_t and r_t apart (it filters r_t, say)
//                           and backward returns dL/da_t and dL/dr_t apart
//   kFlags                  true: forward writes one value per neuron and step that
//                           backward reads (masks), kept by the layer in its cache
//   declare(cfg, layout, prefix, H, entries)   its trained parameters, if any: each a
//                           tensor in the layer's flat buffer with its own optimizer group
//                           and range (LIF: "<layer>.decay" with learn_decay)
//   initialize(cfg, p, H)   their initial values
//   forward(...)            one step: drive in, membrane cache and spikes out; reads its
//                           parameters from NeuronParams::p
//   backward(...)           one step, in reverse time: dL/ds_t in, dL/d(drive) out;
//                           adds dL/da_t into gsum when given (the bias gradient) and its
//                           parameters' gradients into NeuronParams::g
//
// The same forward step runs in training, evaluation and streaming, so a stream equals
// the batch pass bitwise. docs/architecture.md walks through adding a neuron.
#include <string>

#include "asrc/core/error.hpp"
#include "asrc/neuron/lif.hpp"
#include "asrc/neuron/zeng.hpp"

namespace asrc {

enum class NeuronKind { lif, zeng };

inline NeuronKind parse_neuron(const std::string& s) {
  if (s == "lif" || s == "LIF") return NeuronKind::lif;
  if (s == "zeng" || s == "Zeng") return NeuronKind::zeng;
  fail_expected("parse_neuron", "one of lif, zeng", "'" + s + "'");
}
inline const char* to_string(NeuronKind k) {
  switch (k) {
    case NeuronKind::lif: return "lif";
    case NeuronKind::zeng: return "zeng";
  }
  return "?";
}

/// Calls f(Policy{}, config) with the neuron policy that `c` selects (any settings struct
/// with the fields `neuron`, `lif` and `zeng`: HiddenLayerConfig, NetworkConfig), for
/// scalar T: one dispatch per layer pass, the policy's step loops compiled for it.
template <typename T, typename C, typename F>
void visit_neuron(const C& c, F&& f) {
  if (c.neuron == NeuronKind::zeng) f(ZengNeuron<T>{}, c.zeng);
  else f(LifNeuron<T>{}, c.lif);
}

/// Settings check and spike kind of the neuron that `c` selects.
template <typename C>
void validate_neuron(const C& c) {
  if (c.neuron == NeuronKind::zeng) c.zeng.validate();
  else c.lif.validate();
}
template <typename C>
bool binary_spikes(const C& c) {
  return (c.neuron == NeuronKind::zeng ? c.zeng.spike_fn : c.lif.spike_fn) == SpikeFunction::heaviside;
}

}  // namespace asrc
