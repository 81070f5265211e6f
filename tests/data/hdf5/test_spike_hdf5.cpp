// SHD / SSC reader: binning, the three on-disk time types, validation of
// malformed files, memory footprint and (on request) reading throughput.
#include <doctest/doctest.h>

#include <hdf5.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <unistd.h>
#include <vector>

#include "asrc/core/random.hpp"
#include "asrc/data/spike_hdf5.hpp"
#include "../../support/refusal.hpp"
#include "../../support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace asrc;

namespace {

using asrc_test::TempDir;

using Rows = std::vector<std::vector<double>>;
using URows = std::vector<std::vector<std::uint32_t>>;
using Labels = std::vector<std::int64_t>;

struct Cell {
  Index step;
  Index channel;
  float count;
};

// Compares the dense expansion of sample i with a 250 x 140 (by default)
// array that is zero except for the listed cells, element by element.
void check_sample(const SpikeDataset& ds, Index i, const std::vector<Cell>& nonzero) {
  const Index T = ds.steps(), F = ds.width();
  std::vector<float> want(static_cast<std::size_t>(T * F), 0.0f);
  for (const Cell& c : nonzero) want[static_cast<std::size_t>(c.step * F + c.channel)] += c.count;
  std::vector<float> got(static_cast<std::size_t>(T * F), -1.0f);
  ds.fill(i, got.data());
  int mismatches = 0;
  for (Index t = 0; t < T; ++t)
    for (Index f = 0; f < F; ++f) {
      const float g = got[static_cast<std::size_t>(t * F + f)];
      const float w = want[static_cast<std::size_t>(t * F + f)];
      if (g != w && ++mismatches <= 10)
        FAIL_CHECK("sample " << i << " step " << t << " channel " << f << ": got " << g
                             << ", expected " << w);
    }
  CHECK(mismatches == 0);
  // for_each_event reports the same cells, in (step, channel) order.
  std::vector<Cell> events;
  ds.for_each_event(i, [&](Index s, Index c, std::uint32_t n) {
    events.push_back({s, c, static_cast<float>(n)});
  });
  for (std::size_t k = 1; k < events.size(); ++k)
    CHECK(std::make_pair(events[k - 1].step, events[k - 1].channel) <
          std::make_pair(events[k].step, events[k].channel));
  std::size_t cells_nonzero = 0;
  for (float w : want) cells_nonzero += (w != 0.0f);
  CHECK(events.size() == cells_nonzero);
  for (const Cell& e : events) CHECK(want[static_cast<std::size_t>(e.step * F + e.channel)] == e.count);
}

using asrc_test::contains;
using asrc_test::refusal_of;

// The hand-built file used by several tests (times given in double, rounded
// to the on-disk type by the writer).
//
// The step edges are linspace(0, 1.4, 250): edge k = k * 0.0056224899598393...
// and a spike's step is the number of edges <= t. Channel = unit / 5.
//
// sample 0, label 3:
//   t = 0      units 0, 4 -> edges <= 0: {0} -> step 1; units 0 and 4 are both
//                            in channel 0 -> (1, 0) = 2
//   t = 0      unit 5     -> step 1, channel 1                 -> (1, 1) = 1
//   t = 0.5    units 699, 697: edge 88 = 0.49478 <= 0.5 < edge 89 = 0.50040
//                            -> 89 edges -> step 89, channel 139 -> (89, 139) = 2
//   t = 1.0    unit 350 twice: edge 177 = 0.99518 <= 1 < edge 178 = 1.00080
//                            -> step 178, channel 70, two spikes -> (178, 70) = 2
//   t = 1.375  unit 10:  edge 244 = 1.37189 <= t < edge 245 = 1.37751
//                            -> step 245, channel 2             -> (245, 2) = 1
//   t = 0.1    unit 13:  stored as 0.0999756 (f16), 0.1000000015 (f32) or 0.1:
//                            all between edge 17 = 0.09558 and edge 18 = 0.10120
//                            -> step 18, channel 2              -> (18, 2) = 1
//   t = 1.3994140625 (exact in every type) unit 1: edge 248 = 1.39438 <= t < 1.4
//                            -> 249 edges -> the last step 249   -> (249, 0) = 1
//   t = 2.0    unit 3:   all 250 edges <= t -> index 250, out of range
// sample 1, label 0: no spikes at all
// sample 2, label 34:
//   t = 0.7    unit 100: stored as 0.70020 (f16), 0.69999999 (f32) or 0.7:
//                            all between edge 124 = 0.69719 and edge 125 = 0.70281
//                            -> step 125, channel 20            -> (125, 20) = 1
//   t = 1.4    unit 699: float16 stores 1.400390625 (> 1.4: index 250, out of
//                            range); float32 stores 1.39999998 (< 1.4: step 249,
//                            channel 139); float64 stores 1.4 = the last edge
//                            (index 250, out of range)
void write_hand_file(const std::string& path, SpikeTimeType tt) {
  const Rows times = {
      {0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.375, 0.1, 1.3994140625, 2.0},
      {},
      {0.7, 1.4},
  };
  const URows units = {
      {0, 4, 5, 699, 697, 350, 350, 10, 13, 1, 3},
      {},
      {100, 699},
  };
  write_spike_hdf5(path, times, units, Labels{3, 0, 34}, tt, SpikeUnitType::uint16);
}

const std::vector<Cell> kSample0 = {{1, 0, 2},   {1, 1, 1},  {89, 139, 2}, {178, 70, 2},
                                    {245, 2, 1}, {18, 2, 1}, {249, 0, 1}};

// Raw read of spikes/times as double rows (checks HDF5's half conversion).
Rows read_times_raw(const std::string& path) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(f >= 0);
  hid_t d = H5Dopen2(f, "spikes/times", H5P_DEFAULT);
  hid_t s = H5Dget_space(d);
  hsize_t n = 0;
  H5Sget_simple_extent_dims(s, &n, nullptr);
  hid_t m = H5Tvlen_create(H5T_NATIVE_DOUBLE);
  std::vector<hvl_t> buf(n);
  REQUIRE(H5Dread(d, m, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) >= 0);
  Rows out(n);
  for (hsize_t r = 0; r < n; ++r) {
    const double* p = static_cast<const double*>(buf[r].p);
    out[r].assign(p, p + buf[r].len);
  }
  H5Dvlen_reclaim(m, s, H5P_DEFAULT, buf.data());
  H5Tclose(m);
  H5Sclose(s);
  H5Dclose(d);
  H5Fclose(f);
  return out;
}

// On-disk element type of a dataset: class and size in bytes.
std::pair<H5T_class_t, std::size_t> element_type(const std::string& path, const char* name,
                                                 bool vlen) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  hid_t e = vlen ? H5Tget_super(t) : H5Tcopy(t);
  auto r = std::make_pair(H5Tget_class(e), H5Tget_size(e));
  H5Tclose(e);
  H5Tclose(t);
  H5Dclose(d);
  H5Fclose(f);
  return r;
}

// Removes a link (dataset or group) from an existing file.
void delete_link(const std::string& path, const char* name) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  REQUIRE(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
  H5Fclose(f);
}

// Replaces `labels` by a float dataset of the same length.
void make_labels_float(const std::string& path, hsize_t n) {
  delete_link(path, "labels");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t s = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(f, "labels", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> v(n, 1.0f);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(d);
  H5Sclose(s);
  H5Fclose(f);
}

// Rewrites spikes/times as big-endian half floats (converted by HDF5 from
// double), a type the reader does not decode itself.
void rewrite_times_big_endian_half(const std::string& path, const Rows& times) {
  delete_link(path, "spikes/times");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  auto half = spike_detail::make_float16_type();
  hid_t be = H5Tcopy(half.get());
  H5Tset_order(be, H5T_ORDER_BE);
  hid_t ft = H5Tvlen_create(be);
  hid_t mt = H5Tvlen_create(H5T_NATIVE_DOUBLE);
  const hsize_t n = times.size();
  hid_t s = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(f, "spikes/times", ft, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<hvl_t> rows(n);
  for (hsize_t r = 0; r < n; ++r) rows[r] = hvl_t{times[r].size(), const_cast<double*>(times[r].data())};
  CHECK(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()) >= 0);
  H5Dclose(d);
  H5Sclose(s);
  H5Tclose(mt);
  H5Tclose(ft);
  H5Tclose(be);
  H5Fclose(f);
}

// Random SSC-like rows: `per_sample` spikes (or uniform in [lo, hi]) with
// sorted times in [0, t_max) and uniform units.
void random_rows(Rng& rng, std::size_t n, std::size_t lo, std::size_t hi, double t_max, Rows& times,
                 URows& units, Labels& labels, int classes) {
  times.assign(n, {});
  units.assign(n, {});
  labels.assign(n, 0);
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t len = lo + static_cast<std::size_t>(rng.below(hi - lo + 1));
    auto& t = times[r];
    auto& u = units[r];
    t.resize(len);
    u.resize(len);
    for (std::size_t k = 0; k < len; ++k) {
      t[k] = rng.uniform(0.0, t_max);
      u[k] = static_cast<std::uint32_t>(rng.below(700));
    }
    std::sort(t.begin(), t.end());
    labels[r] = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(classes)));
  }
}

}  // namespace

TEST_CASE("spike_bin_edges reproduces numpy.linspace(0, 1.4, 250) bit for bit") {
  const auto e = spike_bin_edges(250, 1.4);
  REQUIRE(e.size() == 250);
  CHECK(e[0] == 0.0);
  CHECK(e[1] == 0.005622489959839357);
  // numpy computes k * (1.4 / 249); 1.4 * k / 249 differs in the last bit
  // for 60 of the 250 edges, e.g. k = 3 and k = 5:
  CHECK(e[3] == 0.016867469879518072);
  CHECK(e[3] != 1.4 * 3 / 249);
  CHECK(e[5] == 0.028112449799196783);
  CHECK(e[5] != 1.4 * 5 / 249);
  CHECK(e[248] == 1.3943775100401605);
  CHECK(e[249] == 1.4);  // numpy sets the endpoint to stop exactly
  CHECK(spike_step_index(e, 0.0) == 1);
  CHECK(spike_step_index(e, e[5]) == 6);
  CHECK(spike_step_index(e, std::nextafter(e[5], 0.0)) == 5);
  CHECK(spike_step_index(e, 1.4) == 250);
  CHECK(spike_step_index(e, std::nextafter(1.4, 0.0)) == 249);
  CHECK(spike_step_index(e, 100.0) == 250);
}

TEST_CASE("the writer produces the published layout and float16 converts exactly") {
  TempDir tmp("asrc_spike_hdf5_");
  const std::string p = tmp.file("half.h5");
  write_hand_file(p, SpikeTimeType::float16);
  auto tt = element_type(p, "spikes/times", true);
  CHECK(tt.first == H5T_FLOAT);
  CHECK(tt.second == 2);
  auto ut = element_type(p, "spikes/units", true);
  CHECK(ut.first == H5T_INTEGER);
  CHECK(ut.second == 2);
  auto lt = element_type(p, "labels", false);
  CHECK(lt.first == H5T_INTEGER);
  CHECK(lt.second == 2);

  // Values read back as double are the float16 values (nearest to the input).
  const Rows t = read_times_raw(p);
  REQUIRE(t.size() == 3);
  REQUIRE(t[0].size() == 11);
  CHECK(t[0][0] == 0.0);
  CHECK(t[0][3] == 0.5);
  CHECK(t[0][7] == 1.375);
  CHECK(t[0][8] == 0.0999755859375);  // 0.1 -> 1638 * 2^-14
  CHECK(t[0][9] == 1.3994140625);
  CHECK(t[0][10] == 2.0);
  CHECK(t[1].empty());
  REQUIRE(t[2].size() == 2);
  CHECK(t[2][0] == 0.7001953125);  // 0.7 -> 717 * 2^-10
  CHECK(t[2][1] == 1.400390625);   // 1.4 -> 1434 * 2^-10, above 1.4

  // Subnormals, the largest half, ties (to even) and overflow, written with
  // the writer's rounding and read back through HDF5's half -> double conversion.
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<double, double>> cases = {
      {std::ldexp(1.0, -20), std::ldexp(1.0, -20)},  // subnormal, exact
      {std::ldexp(1.0, -24), std::ldexp(1.0, -24)},  // smallest subnormal
      {std::ldexp(1.0, -25), 0.0},                   // tie between 0 and 2^-24 -> 0 (even)
      {3 * std::ldexp(1.0, -25), std::ldexp(1.0, -23)},  // tie 1 vs 2 units of 2^-24 -> 2
      {std::ldexp(1023.5, -24), std::ldexp(1.0, -14)},  // tie, 1023 is odd: up into the normals
      {65504.0, 65504.0},                                   // largest half
      {65519.0, 65504.0},                                   // below the tie: stays finite
      {65520.0, inf},                                       // tie with 2^16 -> even -> infinity
      {1.0 + std::ldexp(1.0, -11), 1.0},                    // tie, mantissa 0 is even
      {1.0 + 3 * std::ldexp(1.0, -11), 1.0 + std::ldexp(1.0, -9)},  // tie, mantissa 2 is even
      {1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -30), 1.0 + std::ldexp(1.0, -10)},  // just above a tie
      {-0.1, -0.0999755859375},
  };
  Rows in(1);
  for (const auto& c : cases) in[0].push_back(c.first);
  const std::string q = tmp.file("half_special.h5");
  write_spike_hdf5(q, in, URows{std::vector<std::uint32_t>(cases.size(), 0)}, Labels{0},
                   SpikeTimeType::float16);
  const Rows s = read_times_raw(q);
  REQUIRE(s.size() == 1);
  REQUIRE(s[0].size() == cases.size());
  for (std::size_t k = 0; k < cases.size(); ++k) {
    CAPTURE(k);
    CHECK(s[0][k] == cases[k].second);
  }
  CHECK(spike_detail::float16_bits(std::numeric_limits<double>::quiet_NaN()) == 0x7E00);
  CHECK(spike_detail::float16_bits(-inf) == 0xFC00);
  CHECK(spike_detail::float16_bits(1e300) == 0x7C00);
  CHECK(spike_detail::float16_bits(-0.0) == 0x8000);
  CHECK(spike_detail::float16_bits(1e-300) == 0x0000);
}

TEST_CASE("the reader's own half decoding equals HDF5's conversion for all 65536 patterns") {
  // HDF5 converts the user-defined half type (built like h5py's) to double.
  auto half = spike_detail::make_float16_type();
  CHECK(spike_detail::is_ieee_half_le(half.get()));
  CHECK_FALSE(spike_detail::is_ieee_half_le(H5T_IEEE_F32LE));
  std::vector<double> buf(65536);
  auto* bits = reinterpret_cast<std::uint16_t*>(buf.data());
  for (std::uint32_t h = 0; h < 65536; ++h) bits[h] = static_cast<std::uint16_t>(h);
  REQUIRE(H5Tconvert(half.get(), H5T_NATIVE_DOUBLE, 65536, buf.data(), nullptr, H5P_DEFAULT) >= 0);
  int mismatches = 0, nans = 0;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const double mine = spike_detail::float16_value(static_cast<std::uint16_t>(h));
    const double hdf5 = buf[h];
    if (std::isnan(mine)) {
      ++nans;
      mismatches += !std::isnan(hdf5);
      continue;
    }
    mismatches += !(mine == hdf5 && std::signbit(mine) == std::signbit(hdf5));
    // and the writer's rounding maps every value back to its own bits
    mismatches += spike_detail::float16_bits(mine) != h;
  }
  CHECK(nans == 2 * 1023);
  CHECK(mismatches == 0);
}

TEST_CASE("binning of the hand-built file for float16, float32 and float64 times") {
  TempDir tmp("asrc_spike_hdf5_");
  struct Case {
    SpikeTimeType type;
    const char* name;
    bool keeps_1_4;  // the spike written as 1.4 lands in step 249
  };
  for (const Case& c : {Case{SpikeTimeType::float16, "float16", false},
                        Case{SpikeTimeType::float32, "float32", true},
                        Case{SpikeTimeType::float64, "float64", false}}) {
    CAPTURE(c.name);
    const std::string p = tmp.file(std::string(c.name) + ".h5");
    write_hand_file(p, c.type);
    SpikeDataset ds(p);
    REQUIRE(ds.size() == 3);
    CHECK(ds.steps() == 250);
    CHECK(ds.width() == 140);
    CHECK(ds.num_classes() == 35);
    CHECK(ds.rows_in_file() == 3);
    CHECK(ds.time_type().rfind(c.name, 0) == 0);
    CHECK(ds.label(0) == 3);
    CHECK(ds.label(1) == 0);
    CHECK(ds.label(2) == 34);
    CHECK(ds.spikes_read() == 13);
    // t = 2.0 always, and t = 1.4 unless stored as float32.
    const std::uint64_t out = c.keeps_1_4 ? 1 : 2;
    CHECK(ds.spikes_out_of_range() == out);
    CHECK(ds.spikes_dropped() == out);

    check_sample(ds, 0, kSample0);
    check_sample(ds, 1, {});
    if (c.keeps_1_4)
      check_sample(ds, 2, {{125, 20, 1}, {249, 139, 1}});
    else
      check_sample(ds, 2, {{125, 20, 1}});
    CHECK(contains(ds.describe(), "3 samples"));
  }
}

TEST_CASE("a half type the reader does not decode itself goes through HDF5's conversion") {
  TempDir tmp("asrc_spike_hdf5_");
  const std::string p = tmp.file("half_be.h5");
  write_hand_file(p, SpikeTimeType::float16);
  // Same values as the hand file (none of them a rounding tie).
  rewrite_times_big_endian_half(p, Rows{{0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.375, 0.1, 1.3994140625, 2.0},
                                        {},
                                        {0.7, 1.4}});
  SpikeDataset ds(p);
  CHECK(ds.time_type() == "2-byte float");
  CHECK(ds.spikes_out_of_range() == 2);  // 2.0 and float16(1.4) = 1.400390625
  check_sample(ds, 0, kSample0);
  check_sample(ds, 1, {});
  check_sample(ds, 2, {{125, 20, 1}});
}

TEST_CASE("clamp policy puts spikes past 1.4 s into the last step") {
  TempDir tmp("asrc_spike_hdf5_");
  const std::string p = tmp.file("clamp.h5");
  write_hand_file(p, SpikeTimeType::float16);
  SpikeHdf5Options o;
  o.out_of_range = SpikeOutOfRange::clamp;
  SpikeDataset ds(p, o);
  CHECK(ds.spikes_out_of_range() == 2);
  CHECK(ds.spikes_dropped() == 0);
  // Sample 0: t = 2.0, unit 3 joins unit 1 (t = 1.3994) in (249, channel 0).
  std::vector<Cell> s0 = kSample0;
  for (Cell& c : s0)
    if (c.step == 249 && c.channel == 0) c.count = 2;
  check_sample(ds, 0, s0);
  check_sample(ds, 1, {});
  // Sample 2: the float16 1.400390625 (unit 699) goes to (249, 139).
  check_sample(ds, 2, {{125, 20, 1}, {249, 139, 1}});
}

TEST_CASE("spikes exactly on step edges (float64 times)") {
  TempDir tmp("asrc_spike_hdf5_");
  const std::string p = tmp.file("edges.h5");
  const double h = 1.4 / 249;  // numpy's step
  const Rows times = {{
      5 * h,                          // exactly edge 5: edges 0..5 <= t -> step 6
      std::nextafter(5 * h, 0.0),     // just below edge 5 -> step 5
      1.4 * 3 / 249,                  // one ulp below numpy's edge 3 -> step 3
      3 * h,                          // exactly edge 3 -> step 4
      248 * h,                        // exactly edge 248 -> step 249
      std::nextafter(1.4, 0.0),       // just below the last edge -> step 249
      1.4,                            // exactly the last edge -> index 250, dropped
      0.0,                            // exactly edge 0 -> step 1
  }};
  const URows units = {{20, 25, 30, 30, 35, 39, 0, 699}};
  write_spike_hdf5(p, times, units, Labels{7}, SpikeTimeType::float64, SpikeUnitType::uint32);
  SpikeDataset ds(p);
  CHECK(ds.spikes_out_of_range() == 1);
  // Channels: 20 -> 4, 25 -> 5, 30 -> 6, 35 and 39 -> 7, 699 -> 139.
  check_sample(ds, 0, {{6, 4, 1}, {5, 5, 1}, {3, 6, 1}, {4, 6, 1}, {249, 7, 2}, {1, 139, 1}});
}

TEST_CASE("large counts, other groupings, limit and label types") {
  TempDir tmp("asrc_spike_hdf5_");
  // 300 spikes of unit 7 at t = 0.25 (edge 44 = 0.24739 <= t < edge 45 =
  // 0.25301 -> step 45, channel 1) plus 3 of unit 8 (same channel) -> 303; the
  // count needs several 16-bit tokens.
  Rows times(1);
  URows units(1);
  for (int k = 0; k < 300; ++k) {
    times[0].push_back(0.25);
    units[0].push_back(7);
  }
  for (int k = 0; k < 3; ++k) {
    times[0].push_back(0.25);
    units[0].push_back(8);
  }
  times.push_back({0.0});
  units.push_back({699});
  times.push_back({1.0});
  units.push_back({1});
  const std::string p = tmp.file("counts.h5");
  write_spike_hdf5(p, times, units, Labels{19, 0, 5}, SpikeTimeType::float32, SpikeUnitType::uint16,
                   SpikeLabelType::int32);
  {
    SpikeDataset ds(p, SpikeHdf5Options::shd());
    CHECK(ds.num_classes() == 20);
    CHECK(ds.label(0) == 19);
    check_sample(ds, 0, {{45, 1, 303}});
    check_sample(ds, 1, {{1, 139, 1}});
    check_sample(ds, 2, {{178, 0, 1}});
  }
  {
    // No grouping: 700 channels (10 channel bits leave 5 count bits: 32 per token).
    SpikeHdf5Options o = SpikeHdf5Options::shd();
    o.n_bins = 1;
    SpikeDataset ds(p, o);
    CHECK(ds.width() == 700);
    check_sample(ds, 0, {{45, 7, 300}, {45, 8, 3}});
    check_sample(ds, 1, {{1, 699, 1}});
  }
  {
    // Fewer, coarser steps: linspace(0, 1, 11) has edges k / 10; 0.25 ->
    // 3 edges (0, 0.1, 0.2) -> step 3; 1.0 -> 11 edges -> out of range.
    SpikeHdf5Options o = SpikeHdf5Options::shd();
    o.steps = 11;
    o.max_time = 1.0;
    o.n_bins = 700;
    SpikeDataset ds(p, o);
    CHECK(ds.width() == 1);
    check_sample(ds, 0, {{3, 0, 303}});
    check_sample(ds, 1, {{1, 0, 1}});
    check_sample(ds, 2, {});
    CHECK(ds.spikes_out_of_range() == 1);
  }
  {
    SpikeHdf5Options o = SpikeHdf5Options::shd();
    o.limit = 2;
    SpikeDataset ds(p, o);
    CHECK(ds.size() == 2);
    CHECK(ds.rows_in_file() == 3);
    CHECK(ds.spikes_read() == 304);
    o.limit = 10;  // above the file's count: all rows
    CHECK(SpikeDataset(p, o).size() == 3);
  }
  for (SpikeLabelType lt : {SpikeLabelType::uint8, SpikeLabelType::int64}) {
    const std::string q = tmp.file("labels.h5");
    write_spike_hdf5(q, Rows{{0.5}, {}}, URows{{3}, {}}, Labels{12, 34}, SpikeTimeType::float16,
                     SpikeUnitType::uint32, lt);
    SpikeDataset ds(q);
    CHECK(ds.label(0) == 12);
    CHECK(ds.label(1) == 34);
    check_sample(ds, 0, {{89, 0, 1}});
  }
}

TEST_CASE("random files: dense expansion matches a direct binning") {
  TempDir tmp("asrc_spike_hdf5_");
  Rng rng(11);
  Rows times;
  URows units;
  Labels labels;
  // Clustered spikes (narrow time window, few units) so counts get large.
  random_rows(rng, 40, 0, 3000, 1.5, times, units, labels, 35);
  for (auto& u : units)
    for (auto& v : u) v = v % 12 + 600;
  for (auto& t : times)
    for (auto& v : t)
      if (rng.uniform01() < 0.5) v = 0.3 + v * 0.01;
  const std::string p = tmp.file("random.h5");
  write_spike_hdf5(p, times, units, labels, SpikeTimeType::float64, SpikeUnitType::uint16);
  SpikeDataset ds(p);
  const auto edges = spike_bin_edges(250, 1.4);
  std::uint64_t out = 0;
  for (std::size_t r = 0; r < times.size(); ++r) {
    std::vector<Cell> want;
    for (std::size_t k = 0; k < times[r].size(); ++k) {
      // Direct count of edges <= t.
      Index s = 0;
      for (double e : edges) s += (e <= times[r][k]);
      if (s >= 250) {
        ++out;
        continue;
      }
      want.push_back({s, static_cast<Index>(units[r][k] / 5), 1.0f});
    }
    check_sample(ds, static_cast<Index>(r), want);
    CHECK(ds.label(static_cast<Index>(r)) == labels[r]);
  }
  CHECK(ds.spikes_out_of_range() == out);
}

TEST_CASE("malformed files raise std::invalid_argument naming the file and dataset") {
  TempDir tmp("asrc_spike_hdf5_");
  const Rows times = {{0.1, 0.2}, {0.3}};
  const URows units = {{1, 2}, {3}};
  const Labels labels = {1, 2};

  SUBCASE("missing file") {
    const std::string p = tmp.file("nope.h5");
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "nope.h5"));
    CHECK(contains(m, "SpikeDataset::SpikeDataset(): expected"));
  }
  SUBCASE("not an HDF5 file") {
    const std::string p = tmp.file("text.h5");
    std::ofstream(p) << "this is not HDF5\n";
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "text.h5"));
    CHECK(contains(m, "HDF5"));
  }
  SUBCASE("missing dataset") {
    const std::string p = tmp.file("no_units.h5");
    write_spike_hdf5(p, times, units, labels);
    delete_link(p, "spikes/units");
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "spikes/units"));
    CHECK(contains(m, "no_units.h5"));
  }
  SUBCASE("missing group") {
    const std::string p = tmp.file("no_spikes.h5");
    write_spike_hdf5(p, times, units, labels);
    delete_link(p, "spikes");
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "spikes/times"));
    CHECK(contains(m, "no_spikes.h5"));
  }
  SUBCASE("missing labels") {
    const std::string p = tmp.file("no_labels.h5");
    write_spike_hdf5(p, times, units, labels);
    delete_link(p, "labels");
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "'labels'"));
  }
  SUBCASE("mismatched row counts") {
    const std::string p = tmp.file("rows.h5");
    write_spike_hdf5(p, times, URows{{1, 2}}, labels);
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "same number of rows"));
    CHECK(contains(m, "2, 1 and 2"));
    CHECK(contains(m, "rows.h5"));
    const std::string q = tmp.file("rows2.h5");
    write_spike_hdf5(q, times, units, Labels{1, 2, 3});
    CHECK(contains(refusal_of([&] { SpikeDataset ds(q); }), "2, 2 and 3"));
  }
  SUBCASE("row of times and units of different length") {
    const std::string p = tmp.file("len.h5");
    write_spike_hdf5(p, times, URows{{1, 2}, {3, 4}}, labels);
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "row 1"));
    CHECK(contains(m, "1 times and 2 units"));
  }
  SUBCASE("unit 700") {
    const std::string p = tmp.file("unit.h5");
    write_spike_hdf5(p, times, URows{{1, 2}, {700}}, labels);
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "spikes/units"));
    CHECK(contains(m, "unit.h5"));
    CHECK(contains(m, "got 700"));
    // A smaller n_channels is enforced too.
    SpikeHdf5Options o;
    o.n_channels = 2;
    o.n_bins = 1;
    const std::string q = tmp.file("unit2.h5");
    write_spike_hdf5(q, times, units, labels);
    CHECK(contains(refusal_of([&] { SpikeDataset ds(q, o); }), "got 2"));
  }
  SUBCASE("label out of range") {
    const std::string p = tmp.file("label.h5");
    write_spike_hdf5(p, times, units, Labels{1, 35});
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "'labels'"));
    CHECK(contains(m, "label.h5"));
    CHECK(contains(m, "got 35"));
    // 19 is fine for SHD, 20 is not.
    write_spike_hdf5(p, times, units, Labels{19, 20});
    CHECK(contains(refusal_of([&] { SpikeDataset ds(p, SpikeHdf5Options::shd()); }), "got 20"));
    // Negative labels of a signed type.
    write_spike_hdf5(p, times, units, Labels{-1, 0}, SpikeTimeType::float16, SpikeUnitType::uint16,
                     SpikeLabelType::int32);
    CHECK(contains(refusal_of([&] { SpikeDataset ds(p); }), "got -1"));
  }
  SUBCASE("negative, NaN and infinite times") {
    const std::string p = tmp.file("time.h5");
    for (double bad : {-0.5, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity()}) {
      CAPTURE(bad);
      write_spike_hdf5(p, Rows{{0.1, bad}, {0.3}}, units, labels, SpikeTimeType::float32);
      const std::string m = refusal_of([&] { SpikeDataset ds(p); });
      CHECK(contains(m, "spikes/times"));
      CHECK(contains(m, "time.h5"));
      CHECK(contains(m, "row 0, spike 1"));
    }
  }
  SUBCASE("labels of a float type") {
    const std::string p = tmp.file("flabels.h5");
    write_spike_hdf5(p, times, units, labels);
    make_labels_float(p, 2);
    const std::string m = refusal_of([&] { SpikeDataset ds(p); });
    CHECK(contains(m, "integer labels"));
    CHECK(contains(m, "got floats"));
  }
  SUBCASE("bad options") {
    const std::string p = tmp.file("ok.h5");
    write_spike_hdf5(p, times, units, labels);
    SpikeHdf5Options o;
    o.n_bins = 3;  // 700 is not a multiple of 3
    CHECK(contains(refusal_of([&] { SpikeDataset ds(p, o); }), "n_bins"));
    o = SpikeHdf5Options{};
    o.limit = -1;
    CHECK(contains(refusal_of([&] { SpikeDataset ds(p, o); }), "limit"));
    SpikeDataset ds(p);
    CHECK(contains(refusal_of([&] { ds.label(2); }), "SpikeDataset::label(): expected"));
  }
  SUBCASE("writer refuses values its types cannot hold") {
    const std::string p = tmp.file("w.h5");
    CHECK(contains(refusal_of([&] { write_spike_hdf5(p, times, URows{{70000, 1}, {1}}, labels); }),
                   "70000"));
    CHECK(contains(refusal_of([&] { write_spike_hdf5(p, times, units, Labels{-1, 0}); }), "-1"));
    CHECK(contains(refusal_of([&] { write_spike_hdf5(tmp.file("no/such/dir.h5"), times, units, labels); }),
                   "dir.h5"));
  }
}

TEST_CASE("memory: bytes per spike stays small") {
  TempDir tmp("asrc_spike_hdf5_");
  Rng rng(3);
  Rows times;
  URows units;
  Labels labels;
  const std::size_t n = 2000, per = 1000;
  random_rows(rng, n, per, per, 1.4, times, units, labels, 35);
  const std::string p = tmp.file("mem.h5");
  write_spike_hdf5(p, times, units, labels, SpikeTimeType::float16, SpikeUnitType::uint16);
  SpikeDataset ds(p);
  REQUIRE(ds.spikes_read() == n * per);
  const double per_spike = static_cast<double>(ds.bytes()) / static_cast<double>(ds.spikes_read());
  const double dense = static_cast<double>(n) * 250 * 140 * 4;
  MESSAGE("2000 samples x 1000 uniform spikes: " << ds.bytes() << " bytes (" << per_spike
                                                 << " bytes/spike, " << ds.tokens()
                                                 << " tokens); dense float would be " << dense / 1e6
                                                 << " MB");
  // Extrapolations to the SSC training set (75,466 samples).
  for (double spikes : {1e8, 75466.0 * 6000.0})
    MESSAGE("SSC train with " << spikes << " spikes -> about " << per_spike * spikes / (1 << 30)
                              << " GiB at this rate");
  CHECK(per_spike <= 8.0);
  CHECK(per_spike <= 3.0);  // 2 bytes per cell + 2 per non-empty step, few collisions
}

// Opt in with --no-skip: writes a ~130 MB SSC-sized file (5000 samples,
// 3000..9000 spikes each, float16 times, uint16 units) and times the reader.
TEST_CASE("throughput on an SSC-like file" * doctest::skip()) {
  TempDir tmp("asrc_spike_hdf5_");
  Rng rng(5);
  Rows times;
  URows units;
  Labels labels;
  random_rows(rng, 5000, 3000, 9000, 1.42, times, units, labels, 35);
  const std::string p = tmp.file("big.h5");
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  write_spike_hdf5(p, times, units, labels, SpikeTimeType::float16, SpikeUnitType::uint16);
  auto t1 = clock::now();
  times.clear();
  units.clear();
  times.shrink_to_fit();
  units.shrink_to_fit();
  SpikeDataset ds(p);
  auto t2 = clock::now();
  std::vector<float> buf(static_cast<std::size_t>(ds.steps() * ds.width()));
  double sink = 0;
  for (Index i = 0; i < ds.size(); ++i) {
    ds.fill(i, buf.data());
    sink += buf[static_cast<std::size_t>(i % 1000)];
  }
  auto t3 = clock::now();
  const double w = std::chrono::duration<double>(t1 - t0).count();
  const double r = std::chrono::duration<double>(t2 - t1).count();
  const double f = std::chrono::duration<double>(t3 - t2).count();
  const double spikes = static_cast<double>(ds.spikes_read());
  MESSAGE("file " << fs::file_size(p) / 1e6 << " MB, " << ds.size() << " samples, " << spikes
                  << " spikes; write " << w << " s");
  MESSAGE("read+bin " << r << " s: " << ds.size() / r << " samples/s, " << spikes / r / 1e6
                      << " M spikes/s; memory " << ds.bytes() / 1e6 << " MB ("
                      << ds.bytes() / spikes << " bytes/spike); out of range "
                      << ds.spikes_out_of_range());
  MESSAGE("fill (dense 250x140) " << f / ds.size() * 1e6 << " us/sample (" << sink << ")");
  CHECK(ds.size() == 5000);
}

// Truncation at every length, and every single-bit flip of the stored values. The
// value bytes are found by writing the same layout twice with different values and
// comparing the files. A flipped value is either refused (unit >= 700, a label out of
// range, a time that is negative or not finite) with the file named, or read as the
// different valid file it is. Flips in HDF5's own metadata are left to the fuzz target
// (fuzz/README.md): libhdf5 1.10 itself crashes on some of them.
TEST_CASE("truncated files and flipped values are refused or read as valid, never crash") {
  TempDir tmp("asrc_spike_hdf5_");
  const Rows times_a = {{0.1, 0.2, 0.3, 1.0}, {0.5}, {0.25, 0.75}};
  const URows units_a = {{1, 2, 3, 600}, {42}, {0, 699}};
  const Rows times_b = {{0.15, 0.35, 0.55, 1.25}, {0.65}, {0.05, 1.35}};
  const URows units_b = {{101, 202, 303, 500}, {142}, {100, 599}};
  const std::string a = tmp.file("a.h5"), b = tmp.file("b.h5"), p = tmp.file("p.h5");
  write_spike_hdf5(a, times_a, units_a, Labels{1, 2, 3});
  write_spike_hdf5(b, times_b, units_b, Labels{4, 5, 6});
  auto slurp = [](const std::string& f) {
    std::ifstream in(f, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  auto save = [&](const std::vector<char>& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  const std::vector<char> good = slurp(a), other = slurp(b);
  REQUIRE(good.size() == other.size());
  SpikeHdf5Options opt;
  opt.num_classes = 35;
  // Outcome of reading p: "" when it loads (and every sample can be filled), else the message.
  auto outcome = [&]() -> std::string {
    try {
      SpikeDataset ds(p, opt);
      std::vector<float> buf(static_cast<std::size_t>(ds.steps() * ds.width()));
      for (Index i = 0; i < ds.size(); ++i) {
        ds.fill(i, buf.data());
        for (float v : buf) REQUIRE(std::isfinite(v));
      }
      return "";
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
  };

  int truncations = 0;
  for (std::size_t n = 0; n < good.size(); n += (n < 1024 ? 1 : 7)) {
    save(std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    const std::string m = outcome();
    INFO("truncated to " << n << " of " << good.size() << " bytes: " << m);
    CHECK(contains(m, p));
    ++truncations;
  }

  std::vector<std::size_t> value_bytes;
  for (std::size_t i = 0; i < good.size(); ++i)
    if (good[i] != other[i]) value_bytes.push_back(i);
  REQUIRE(value_bytes.size() >= 3 * 7);  // at least the labels and the 7 units differ
  int refused = 0, accepted = 0;
  for (std::size_t i : value_bytes) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<char> bytes = good;
      bytes[i] = static_cast<char>(bytes[i] ^ (1 << bit));
      save(bytes);
      const std::string m = outcome();
      INFO("byte " << i << " bit " << bit << ": " << m);
      if (m.empty()) {
        ++accepted;
      } else {
        CHECK(contains(m, p));
        ++refused;
      }
    }
  }
  CHECK(refused > 0);
  CHECK(accepted > 0);
  MESSAGE("HDF5: " << truncations << " truncations refused; " << value_bytes.size() * 8
                   << " flips of value bits: " << refused << " refused, " << accepted << " read as valid");
}

// Two inputs the fuzzer found that crash or hang libhdf5 1.10 itself (fuzz/known/): with
// check_in_child_s set (asrc-train sets it), they are refused with the file named instead
// of killing or hanging the process. A good file still loads with the check on.
TEST_CASE("check_in_child: files that crash or hang libhdf5 are refused, naming the file") {
  SpikeHdf5Options o = SpikeHdf5Options::ssc();
  o.check_in_child_s = 3;
  const std::string known = std::string(ASRC_SOURCE_DIR) + "/fuzz/known/fuzz_hdf5/";
  const std::string segv = known + "segv-in-H5HG_read.h5", hang = known + "hang-in-H5HG__protect.h5";
  const std::string m1 = refusal_of([&] { SpikeDataset ds(segv, o); });
  CHECK(contains(m1, segv));
  CHECK(contains(m1, "a damaged file: reading it"));  // a signal, or ASan's exit status
  CHECK(contains(m1, "inside libhdf5"));
  const std::string m2 = refusal_of([&] { SpikeDataset ds(hang, o); });
  CHECK(contains(m2, hang));
  CHECK(contains(m2, "did not finish within 3 s"));
  TempDir tmp("asrc_spike_hdf5_");
  const std::string good = tmp.file("good.h5");
  write_spike_hdf5(good, Rows{{0.1, 0.2}, {0.3}}, URows{{1, 2}, {3}}, Labels{1, 2});
  SpikeDataset ds(good, o);
  CHECK(ds.size() == 2);
  // An ordinary refusal keeps its own message (the child's read is only a probe).
  const std::string m3 = refusal_of([&] { SpikeDataset bad(tmp.file("missing.h5"), o); });
  CHECK(contains(m3, "missing.h5"));
  CHECK_FALSE(contains(m3, "damaged"));
}
