#pragma once
// A small in-memory dataset whose classes differ in which inputs are active, so a
// network can learn it in a few epochs.
#include <asrc/asrc.hpp>

namespace asrc_test {

using namespace asrc;

class SyntheticDataset : public Dataset {
 public:
  SyntheticDataset(Index n, Index steps, Index width, int classes, std::uint64_t seed)
      : steps_(steps), width_(width), classes_(classes), x_(n * steps, width), y_(static_cast<size_t>(n)) {
    Rng rng(seed);
    for (Index i = 0; i < n; ++i) {
      const int c = int(rng.below(std::uint64_t(classes)));
      y_[size_t(i)] = c;
      for (Index t = 0; t < steps; ++t)
        for (Index f = 0; f < width; ++f) {
          // Class c drives the inputs f with f % classes == c; every input carries noise.
          const bool active = (f % classes) == c;
          x_(i * steps + t, f) = float(active ? 0.6 + 0.6 * rng.uniform01() : 0.3 * rng.uniform01());
        }
    }
  }
  Index size() const override { return Index(y_.size()); }
  Index steps() const override { return steps_; }
  Index width() const override { return width_; }
  int num_classes() const override { return classes_; }
  int label(Index i) const override { return y_[size_t(i)]; }
  void fill(Index i, float* out) const override {
    Eigen::Map<Matrix<float>>(out, steps_, width_) = x_.middleRows(i * steps_, steps_);
  }
  std::string describe() const override { return str_cat("synthetic (", size(), " samples)"); }

 private:
  Index steps_, width_;
  int classes_;
  Matrix<float> x_;
  std::vector<int> y_;
};

}  // namespace asrc_test
