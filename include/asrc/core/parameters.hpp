#pragma once
// One flat parameter buffer per network, with named views.
//
// Every trainable tensor of a network lives in one contiguous vector; modules
// keep only its entry index and read it through an Eigen::Map. The gradient has
// the same layout. So one optimizer, one serializer and one gradient checker
// serve every module, and per-group settings (learning rate of the ASRC logits,
// weight decay of the weights) are a field of each entry, not a special case.
#include <limits>
#include <string>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

/// Optimizer parameter groups of the reference code (spec section 5).
enum class ParamGroup : int {
  weights = 0,  ///< Linear weights and biases, W_rec: lr --lr, weight decay --wd
  neuron = 1,   ///< neuron parameters (PLIF decay logits): lr 1e-4, no weight decay
  skip = 2,     ///< ASRC lag logits w: lr --lr-skip, no weight decay
};
inline constexpr int kNumParamGroups = 3;

inline const char* to_string(ParamGroup g) {
  switch (g) {
    case ParamGroup::weights: return "weights";
    case ParamGroup::neuron: return "neuron";
    case ParamGroup::skip: return "skip";
  }
  return "?";
}

/// One named tensor inside the flat buffer.
struct ParamEntry {
  std::string name;  ///< e.g. "hidden0.weight"
  Index offset = 0;  ///< first element in the flat buffer
  Index rows = 0;
  Index cols = 0;
  ParamGroup group = ParamGroup::weights;
  /// The range the optimizer keeps the values in (clamped after each step), e.g. a
  /// membrane decay in [0, 0.999]; unbounded by default.
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  Index size() const { return rows * cols; }
  bool bounded() const { return lo > -std::numeric_limits<double>::infinity() || hi < std::numeric_limits<double>::infinity(); }
};

/// The layout of a flat buffer: which named tensor occupies which elements.
class ParamLayout {
 public:
  /// Reserve rows x cols elements; returns the entry index.
  Index add(const std::string& name, Index rows, Index cols, ParamGroup group,
            double lo = -std::numeric_limits<double>::infinity(),
            double hi = std::numeric_limits<double>::infinity()) {
    require(rows > 0 && cols > 0, "ParamLayout::add", "positive rows and cols for '" + name + "'",
            str_cat(rows, "x", cols));
    // Sizes come from user settings: refuse products that would overflow an Index.
    constexpr Index kMax = std::numeric_limits<Index>::max();
    require(rows <= kMax / cols && total_ <= kMax - rows * cols, "ParamLayout::add",
            "a parameter count that fits in 64 bits for '" + name + "'", str_cat(rows, "x", cols));
    for (const auto& e : entries_)
      require(e.name != name, "ParamLayout::add", "a unique parameter name", name);
    require(lo <= hi, "ParamLayout::add", "a range lo <= hi for '" + name + "'", str_cat(lo, " > ", hi));
    entries_.push_back({name, total_, rows, cols, group, lo, hi});
    total_ += rows * cols;
    return static_cast<Index>(entries_.size()) - 1;
  }
  Index size() const { return total_; }
  const std::vector<ParamEntry>& entries() const { return entries_; }
  const ParamEntry& entry(Index i) const { return entries_[static_cast<size_t>(i)]; }
  /// Index of the entry with this name, or -1.
  Index find(const std::string& name) const {
    for (size_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].name == name) return static_cast<Index>(i);
    return -1;
  }
  /// Number of elements in a group.
  Index group_size(ParamGroup g) const {
    Index n = 0;
    for (const auto& e : entries_)
      if (e.group == g) n += e.size();
    return n;
  }

 private:
  std::vector<ParamEntry> entries_;
  Index total_ = 0;
};

/// Row-major view of entry i of a flat buffer (values or gradients).
template <typename T>
MatrixMap<T> view(Vector<T>& flat, const ParamEntry& e) {
  return MatrixMap<T>(flat.data() + e.offset, e.rows, e.cols);
}
template <typename T>
ConstMatrixMap<T> view(const Vector<T>& flat, const ParamEntry& e) {
  return ConstMatrixMap<T>(flat.data() + e.offset, e.rows, e.cols);
}

}  // namespace asrc
