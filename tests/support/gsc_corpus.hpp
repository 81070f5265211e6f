#pragma once
// Helpers of the Speech Commands tests: a copy of part of the vendored
// mini corpus (tests/data/gsc_mini, CC BY 4.0, see its ATTRIBUTION.md: a missing file is a
// failure), and the message of a refusal.
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace asrc_test {

namespace fs = std::filesystem;

inline const std::string kGscRoot = ASRC_SOURCE_DIR "/tests/data/gsc_mini";

/// Copy the lists and some word folders of the mini corpus into `dst`.
inline void copy_corpus(const std::string& dst, const std::vector<std::string>& words) {
  fs::create_directories(dst);
  fs::copy_file(kGscRoot + "/testing_list.txt", dst + "/testing_list.txt");
  fs::copy_file(kGscRoot + "/validation_list.txt", dst + "/validation_list.txt");
  for (const auto& w : words) fs::copy(kGscRoot + "/" + w, dst + "/" + w, fs::copy_options::recursive);
}

/// The message of the std::invalid_argument that f throws, or "".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace asrc_test
