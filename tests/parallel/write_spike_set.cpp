// Writes an SHD-layout file (float16 times, uint16 units and labels) of N rows of seeded
// random spikes for mpi_shard_read_data.sh, with every row outside [A, B) damaged: its label
// is 99 (a read refuses it: "labels in [0, 20)") and its units differ. The intact rows do not
// depend on A and B.
// Usage: write_spike_set OUT.h5 N A B SEED
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "asrc/core/random.hpp"
#include "asrc/data/spike_hdf5.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: write_spike_set OUT.h5 N A B SEED\n");
    return 2;
  }
  try {
    const long n = std::stol(argv[2]), a = std::stol(argv[3]), b = std::stol(argv[4]);
    asrc::Rng rng(std::stoull(argv[5]));
    std::vector<std::vector<double>> times(static_cast<std::size_t>(n));
    std::vector<std::vector<std::uint32_t>> units(static_cast<std::size_t>(n));
    std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
    for (long r = 0; r < n; ++r) {
      const std::size_t i = static_cast<std::size_t>(r);
      labels[i] = static_cast<std::int64_t>(rng.below(20));
      const auto k = rng.below(120);
      for (std::uint64_t j = 0; j < k; ++j) {
        times[i].push_back(rng.uniform01() * 1.5);  // some past 1.4 s: dropped
        // Units near the label's own, so the task can be learned a little.
        units[i].push_back(static_cast<std::uint32_t>((labels[i] * 35 + rng.below(60)) % 700));
      }
      if (r < a || r >= b) {
        labels[i] = 99;
        for (auto& u : units[i]) u = (u + 350) % 700;
      }
    }
    asrc::write_spike_hdf5(argv[1], times, units, labels);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "write_spike_set: %s\n", e.what());
    return 1;
  }
  return 0;
}
