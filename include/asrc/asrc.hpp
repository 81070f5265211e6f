#pragma once
// asrc: recurrent spiking neural networks with adaptive skip recurrent connections,
// trained on the CPU with surrogate-gradient BPTT. Include this one header.
#include "asrc/core/error.hpp"
#include "asrc/core/kernels.hpp"
#include "asrc/core/parameters.hpp"
#include "asrc/core/random.hpp"
#include "asrc/core/types.hpp"
#include "asrc/layers/readout.hpp"
#include "asrc/layers/recurrence.hpp"
#include "asrc/layers/spiking_layer.hpp"
#include "asrc/network/network.hpp"
#include "asrc/neuron/lif.hpp"
#include "asrc/neuron/surrogate.hpp"
#include "asrc/data/dataset.hpp"
#include "asrc/core/gradient_check.hpp"
