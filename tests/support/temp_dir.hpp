#pragma once
// A fresh folder under the system's temporary directory, removed with its content when the
// object goes (tests that write files: data sets, caches, checkpoints).
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <string>

namespace asrc_test {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "asrc_test_") {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           (prefix + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace asrc_test
