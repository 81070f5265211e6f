// libFuzzer target: see fuzz/targets.hpp (run_wav) for the input format and
// what counts as a finding; scripts/fuzz.sh builds and runs it.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return asrc_fuzz::run_wav(data, size);
}
