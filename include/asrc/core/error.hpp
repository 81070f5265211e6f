#pragma once
// Error helpers: every configuration or input error is a std::invalid_argument
// whose message reads "Class::method(): expected ..., got ...".
#include <sstream>
#include <stdexcept>
#include <string>

namespace asrc {

namespace detail {
inline void append_all(std::ostringstream&) {}
template <typename A, typename... Rest>
void append_all(std::ostringstream& os, const A& a, const Rest&... rest) {
  os << a;
  append_all(os, rest...);
}
}  // namespace detail

/// Concatenate the arguments with operator<< into one string.
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  detail::append_all(os, args...);
  return os.str();
}

/// Throw std::invalid_argument("where(): expected <expected>, got <got>").
template <typename Got>
[[noreturn]] void fail_expected(const std::string& where, const std::string& expected,
                                const Got& got) {
  throw std::invalid_argument(str_cat(where, "(): expected ", expected, ", got ", got));
}

/// Check a condition; on failure throw with the standard message form.
template <typename Got>
void require(bool ok, const std::string& where, const std::string& expected, const Got& got) {
  if (!ok) fail_expected(where, expected, got);
}

}  // namespace asrc
