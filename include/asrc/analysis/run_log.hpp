#pragma once
// The ASRC lag kernels p = softmax(w / tau) (Eq. 13) of a run, for Fig. 5 and Table 4:
// per epoch from the run's log.jsonl (written by train/trainer.hpp), or once from a
// checkpoint (its parameters and tau).
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "asrc/io/checkpoint.hpp"
#include "asrc/layers/recurrence.hpp"

namespace asrc {

/// One epoch's kernels: kernels[l][j-1] = p_j of layer l; lags[l] = its argmax lag (Eq. 11).
struct KernelRecord {
  Index epoch = 0;
  double tau = 1.0;
  std::vector<std::vector<double>> kernels;
  std::vector<Index> lags;
};

namespace detail {

/// The text after `"key":` in one JSON line, or npos.
inline size_t json_value_at(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const size_t p = line.find(k);
  if (p == std::string::npos) return p;
  size_t i = p + k.size();
  while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  return i;
}

/// A JSON array of numbers, or of arrays of numbers (depth <= 2), starting at line[i] == '['.
/// Returns the rows (a flat array is one row).
inline std::vector<std::vector<double>> json_numbers(const std::string& line, size_t i,
                                                     const std::string& where) {
  require(i < line.size() && line[i] == '[', "read_skip_kernels", "a JSON array in " + where,
          line.substr(i, 20));
  std::vector<std::vector<double>> rows;
  int depth = 0;
  bool nested = i + 1 < line.size() && line.find_first_not_of(" ", i + 1) != std::string::npos &&
                line[line.find_first_not_of(" ", i + 1)] == '[';
  if (!nested) rows.emplace_back();
  for (; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '[') {
      ++depth;
      require(depth <= 2, "read_skip_kernels", "arrays nested at most twice in " + where, depth);
      if (nested && depth == 2) rows.emplace_back();
    } else if (c == ']') {
      if (--depth == 0) return rows;
    } else if (c == '-' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) {
      char* end = nullptr;
      const double v = std::strtod(line.c_str() + i, &end);
      require(end != line.c_str() + i, "read_skip_kernels", "a number in " + where, line.substr(i, 20));
      require(!rows.empty(), "read_skip_kernels", "numbers inside the inner arrays of " + where, line.substr(i, 20));
      rows.back().push_back(v);
      i = size_t(end - line.c_str()) - 1;
    }
  }
  fail_expected("read_skip_kernels", "a closed JSON array in " + where, "end of line");
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace detail

/// Kernels of every epoch of a log.jsonl (or of RUN_DIR/log.jsonl), or the one of a checkpoint.
inline std::vector<KernelRecord> read_skip_kernels(const std::string& path) {
  std::string file = path;
  std::ifstream probe(path + "/log.jsonl");
  if (probe) file = path + "/log.jsonl";
  if (detail::ends_with(file, ".jsonl")) {
    std::ifstream in(file);
    require(bool(in), "read_skip_kernels", "a readable log", file);
    std::vector<KernelRecord> recs;
    std::string line;
    for (Index n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = str_cat(file, " line ", n);
      KernelRecord r;
      const size_t e = detail::json_value_at(line, "epoch");
      require(e != std::string::npos, "read_skip_kernels", "\"epoch\" in " + where, "none");
      r.epoch = std::atol(line.c_str() + e);
      const size_t t = detail::json_value_at(line, "tau");
      if (t != std::string::npos) r.tau = std::atof(line.c_str() + t);
      const size_t k = detail::json_value_at(line, "skip_kernels");
      require(k != std::string::npos, "read_skip_kernels",
              "\"skip_kernels\" in " + where + " (an ASRC run's log)", "none");
      r.kernels = detail::json_numbers(line, k, where);
      if (r.kernels.size() == 1 && r.kernels[0].empty()) r.kernels.clear();
      require(!r.kernels.empty(), "read_skip_kernels", "ASRC kernels in " + where + " (an ASRC run's log)",
              "an empty list");
      const size_t lg = detail::json_value_at(line, "lags");
      require(lg != std::string::npos, "read_skip_kernels", "\"lags\" in " + where, "none");
      const auto lags = detail::json_numbers(line, lg, where);
      for (double v : lags[0]) r.lags.push_back(Index(v));
      require(r.lags.size() == r.kernels.size(), "read_skip_kernels",
              str_cat(r.kernels.size(), " lags in ", where), r.lags.size());
      for (size_t l = 0; l < r.lags.size(); ++l)
        require(r.lags[l] >= 1 && r.lags[l] <= Index(r.kernels[l].size()), "read_skip_kernels",
                str_cat("lags in [1, ", r.kernels[l].size(), "] in ", where), r.lags[l]);
      recs.push_back(std::move(r));
    }
    require(!recs.empty(), "read_skip_kernels", "at least one epoch in " + file, "an empty log");
    return recs;
  }
  // A checkpoint: per-layer logits hidden<l>.skip_logits, or one shared skip_logits.
  const Checkpoint c = load_checkpoint(file);
  KernelRecord r;
  r.epoch = c.has_meta("epoch") ? c.meta_int("epoch") : 0;
  r.tau = c.meta_number("tau");
  std::vector<std::string> names;
  for (Index l = 0; c.has_tensor(str_cat("param.hidden", l, ".weight")); ++l)
    names.push_back(c.has_tensor("param.skip_logits") ? "param.skip_logits"
                                                      : str_cat("param.hidden", l, ".skip_logits"));
  for (const auto& n : names) {
    require(c.has_tensor(n), "read_skip_kernels", "ASRC lag logits " + n + " in " + file, "none");
    const Matrix<double> w = c.tensor<double>(n);
    const std::vector<double> p = skip_softmax<double>(w.data(), w.size(), r.tau);
    r.kernels.push_back(p);
    r.lags.push_back(skip_argmax_lag<double>(w.data(), w.size()));
  }
  require(!r.kernels.empty(), "read_skip_kernels", "hidden layers in " + file, "none");
  return {r};
}

}  // namespace asrc
