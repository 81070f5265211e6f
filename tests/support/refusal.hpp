#pragma once
// The message of a refusal, for tests of the readers' error messages.
#include <stdexcept>
#include <string>

namespace asrc_test {

/// Runs f and returns the std::invalid_argument message (a failed check if none).
template <typename F>
std::string refusal_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL_CHECK("expected std::invalid_argument");
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace asrc_test
