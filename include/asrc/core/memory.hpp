#pragma once
// How much memory this machine can still give, so that a configuration too large for it
// is refused with a message before anything is allocated (instead of std::bad_alloc or
// the kernel's OOM killer halfway through).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include <unistd.h>

#include "asrc/core/error.hpp"

namespace asrc {

/// Bytes available for new allocations: MemAvailable of /proc/meminfo (Linux), else the
/// free physical pages; 0 when neither is known (then nothing is refused).
inline std::uint64_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024ULL;
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? std::uint64_t(pages) * std::uint64_t(page) : 0;
}

/// Refuse (std::invalid_argument) when `bytes` exceed what the machine has available.
/// `what` says what the memory is for. Sizes are doubles so that an overflowing product
/// of dimensions still compares correctly.
inline void require_memory(const std::string& where, const std::string& what, double bytes,
                           std::uint64_t available = available_memory_bytes()) {
  if (available == 0 || bytes <= double(available)) return;
  char need[64];
  std::snprintf(need, sizeof need, "%.0f bytes needed", bytes);
  fail_expected(where, str_cat("at most ", available, " bytes (the memory available) for ", what), need);
}

}  // namespace asrc
