// libFuzzer target: see fuzz/targets.hpp (run_hdf5) for the input format and
// what counts as a finding; scripts/fuzz.sh builds and runs it.
#ifndef ASRC_HAVE_HDF5
#error "fuzz_hdf5 needs -DASRC_HAVE_HDF5 and the HDF5 C library"
#endif
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return asrc_fuzz::run_hdf5(data, size);
}
