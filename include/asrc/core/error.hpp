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

/// The text with control bytes (NUL, newline, escape, DEL, ...) written as \xNN: names and
/// values quoted from a hostile file or command line cannot cut a message short or
/// drive the terminal.
inline std::string printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

/// Throw std::invalid_argument("where(): expected <expected>, got <got>").
template <typename Got>
[[noreturn]] void fail_expected(const std::string& where, const std::string& expected,
                                const Got& got) {
  throw std::invalid_argument(printable(str_cat(where, "(): expected ", expected, ", got ", got)));
}

/// Check a condition; on failure throw with the standard message form.
template <typename Got>
void require(bool ok, const std::string& where, const std::string& expected, const Got& got) {
  if (!ok) fail_expected(where, expected, got);
}

}  // namespace asrc
