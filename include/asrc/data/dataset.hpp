#pragma once
// The dataset interface every task reader implements, and batching into the
// time-major layout of asrc (row t*B + b holds sample b at step t).
#include <memory>
#include <string>
#include <vector>

#include "asrc/core/error.hpp"
#include "asrc/core/types.hpp"

namespace asrc {

/// A labelled set of fixed-length sequences. Readers keep their data compact
/// (bytes, sparse events, cached features) and expand one sample on request.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual Index size() const = 0;         ///< number of samples
  virtual Index steps() const = 0;        ///< T, time steps per sample
  virtual Index width() const = 0;        ///< F, inputs per step
  virtual int num_classes() const = 0;    ///< labels are 0 .. num_classes()-1
  virtual int label(Index i) const = 0;   ///< label of sample i
  /// Write sample i as a steps() x width() row-major block starting at `out`.
  virtual void fill(Index i, float* out) const = 0;
  /// Short description for logs, e.g. "S-MNIST train (60000 samples)".
  virtual std::string describe() const = 0;
};

/// A view of a subset of another dataset (first N samples, validation split, ...).
class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<Index> indices, std::string name)
      : base_(std::move(base)), idx_(std::move(indices)), name_(std::move(name)) {
    for (Index i : idx_)
      require(i >= 0 && i < base_->size(), "SubsetDataset::SubsetDataset",
              str_cat("indices in [0, ", base_->size(), ")"), i);
  }
  Index size() const override { return static_cast<Index>(idx_.size()); }
  Index steps() const override { return base_->steps(); }
  Index width() const override { return base_->width(); }
  int num_classes() const override { return base_->num_classes(); }
  int label(Index i) const override { return base_->label(idx_[static_cast<size_t>(i)]); }
  void fill(Index i, float* out) const override { base_->fill(idx_[static_cast<size_t>(i)], out); }
  std::string describe() const override { return str_cat(name_, " (", size(), " samples)"); }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<Index> idx_;
  std::string name_;
};

/// Gather the samples `indices` into a time-major (T*B) x F matrix and labels.
template <typename T>
void make_batch(const Dataset& ds, const std::vector<Index>& indices, Matrix<T>& x,
                std::vector<int>& labels) {
  const Index B = static_cast<Index>(indices.size());
  const Index steps = ds.steps(), F = ds.width();
  x.resize(steps * B, F);
  labels.resize(static_cast<size_t>(B));
  Matrix<float> sample(steps, F);
  for (Index b = 0; b < B; ++b) {
    const Index i = indices[static_cast<size_t>(b)];
    ds.fill(i, sample.data());
    labels[static_cast<size_t>(b)] = ds.label(i);
    for (Index t = 0; t < steps; ++t) x.row(t * B + b) = sample.row(t).template cast<T>();
  }
}

}  // namespace asrc
