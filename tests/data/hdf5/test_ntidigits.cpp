// N-TIDIGITS reader: single-digit selection, class mapping, binary binning on
// 3 ms windows (edges, events past T, empty utterances), both string kinds of
// the labels, several address / timestamp types, and refusals of bad files.
#include <doctest/doctest.h>

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "asrc/core/random.hpp"
#include "asrc/data/ntidigits.hpp"
#include "../../support/refusal.hpp"
#include "../../support/temp_dir.hpp"

using namespace asrc;

namespace {

using asrc_test::contains;
using asrc_test::refusal_of;
using asrc_test::TempDir;
using H = spike_detail::Handle;

/// One utterance: its id and events. write = false: the id is listed in the labels
/// but no address / timestamp datasets are written for it.
struct Utt {
  std::string id;
  std::vector<std::int64_t> addr;
  std::vector<double> time;
  bool write = true;
};

enum class Strings { fixed, vlen };

/// On-disk types of one file.
struct Layout {
  Strings labels = Strings::fixed;
  hid_t addr_type = H5T_STD_U16LE;
  hid_t time_type = H5T_IEEE_F32LE;
};

// A 1-D dataset `name` below loc, converted by HDF5 from the memory type.
void write_1d(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, std::size_t n,
              const void* data) {
  const hsize_t dims = n;
  H space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
  H d(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  REQUIRE(d.valid());
  if (n > 0) REQUIRE(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
}

// A 1-D string dataset: fixed-length NUL-padded (numpy "|S<max>") or variable-length.
void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& v, Strings kind) {
  if (kind == Strings::vlen) {
    H t(H5Tcopy(H5T_C_S1), H5Tclose);
    REQUIRE(H5Tset_size(t.get(), H5T_VARIABLE) >= 0);
    std::vector<const char*> p;
    for (const auto& s : v) p.push_back(s.c_str());
    write_1d(loc, name, t.get(), t.get(), v.size(), p.data());
  } else {
    std::size_t len = 1;
    for (const auto& s : v) len = std::max(len, s.size());
    H t(H5Tcopy(H5T_C_S1), H5Tclose);
    REQUIRE(H5Tset_size(t.get(), len) >= 0);
    REQUIRE(H5Tset_strpad(t.get(), H5T_STR_NULLPAD) >= 0);
    std::vector<char> buf(v.size() * len, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) std::copy(v[i].begin(), v[i].end(), buf.begin() + i * len);
    write_1d(loc, name, t.get(), t.get(), v.size(), buf.data());
  }
}

void write_split(hid_t file, const std::string& split, const std::vector<Utt>& utts, const Layout& lay) {
  std::vector<std::string> ids;
  for (const Utt& u : utts) ids.push_back(u.id);
  write_strings(file, split + "_labels", ids, lay.labels);
  H ag(H5Gcreate2(file, (split + "_addresses").c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  H tg(H5Gcreate2(file, (split + "_timestamps").c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  REQUIRE(ag.valid());
  REQUIRE(tg.valid());
  for (const Utt& u : utts) {
    if (!u.write) continue;
    write_1d(ag.get(), u.id, lay.addr_type, H5T_NATIVE_INT64, u.addr.size(), u.addr.data());
    write_1d(tg.get(), u.id, lay.time_type, H5T_NATIVE_DOUBLE, u.time.size(), u.time.data());
  }
}

void write_ntidigits(const std::string& path, const std::vector<Utt>& train, const std::vector<Utt>& test,
                     const Layout& lay = Layout{}) {
  spike_detail::QuietErrors quiet;
  H f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  REQUIRE(f.valid());
  write_split(f.get(), "train", train, lay);
  write_split(f.get(), "test", test, lay);
}

void delete_link(const std::string& path, const std::string& name) {
  H f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  REQUIRE(f.valid());
  REQUIRE(H5Ldelete(f.get(), name.c_str(), H5P_DEFAULT) >= 0);
}

// Replaces the object `name` by a 1-D dataset of doubles written as `file_type`.
void replace_with(const std::string& path, const std::string& name, hid_t file_type,
                  const std::vector<double>& v) {
  delete_link(path, name);
  H f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  REQUIRE(f.valid());
  write_1d(f.get(), name, file_type, H5T_NATIVE_DOUBLE, v.size(), v.data());
}

// The dense steps x width expansion of sample i.
std::vector<float> dense(const NTidigitsDataset& ds, Index i) {
  std::vector<float> out(static_cast<std::size_t>(ds.steps() * ds.width()), -1.0f);
  ds.fill(i, out.data());
  return out;
}

// Compares sample i with a matrix that is 1 exactly at the listed (step, channel)
// cells, element by element; active() must agree.
void check_sample(const NTidigitsDataset& ds, Index i, const std::vector<std::pair<Index, Index>>& ones) {
  const Index T = ds.steps(), C = ds.width();
  std::vector<float> want(static_cast<std::size_t>(T * C), 0.0f);
  for (const auto& [s, c] : ones) want[static_cast<std::size_t>(s * C + c)] = 1.0f;
  const std::vector<float> got = dense(ds, i);
  int mismatches = 0;
  for (Index s = 0; s < T; ++s)
    for (Index c = 0; c < C; ++c) {
      const float g = got[static_cast<std::size_t>(s * C + c)], w = want[static_cast<std::size_t>(s * C + c)];
      if (g != w && ++mismatches <= 10)
        FAIL_CHECK("sample " << i << " step " << s << " channel " << c << ": got " << g << ", expected " << w);
      if (ds.active(i, s, c) != (w == 1.0f) && ++mismatches <= 10)
        FAIL_CHECK("active(" << i << ", " << s << ", " << c << ") disagrees with " << w);
    }
  CHECK(mismatches == 0);
}

// The hand-built train split (ids in file order):
//   row 0 "man-ab-a-1"     class 1, events below
//   row 1 "woman-ab-b-7557" digit sequence: skipped; no event datasets at all
//   row 2 "man-ab-b-z"     class 0, no events (datasets of length 0)
//   row 3 "man-cd-b-12"    digit sequence with an invalid address 999: never read
//   row 4 "woman-cd-a-o"   class 10, t = 0.1 s channel 40: 100 / 3 = 33.3 -> (33, 40)
// Steps are floor(t * 1000 / 3) on the stored value; T = 300 (0.9 s).
// Row 0, event by event (float64 | float32 stored value):
//   t 0         c 0  -> (0, 0)
//   t 0.0029999 c 1  -> 0.99997 -> (0, 1)
//   t 0.003     c 1  -> exactly 1 | 1.0000000087 -> (1, 1): the edge opens step 1
//   t 0.003     c 1  -> again: still 1, not 2 (binary)
//   t 0.006     c 63 -> 2 | 2.0000000174 -> (2, 63)
//   t 0.009     c 3  -> exactly 3 -> (3, 3) | float32 0.0089999996 -> 2.99999987 -> (2, 3)
//   t 0.012     c 2  -> 4 -> (4, 2)
//   t 0.3       c 5  -> 100 -> (100, 5)
//   t 0.375     c 7  -> exactly 125 in both -> (125, 7)
//   t 0.75      c 8  -> exactly 250 in both -> (250, 8)
//   t 0.8969999 c 9  -> 298.99997 -> (298, 9)
//   t 0.897     c 10 -> 299 | 299.0000049 -> (299, 10), the last step
//   t 0.9       c 11 -> exactly 300: dropped | float32 0.89999998 -> 299.99999 -> (299, 11)
//   t 1.5       c 12 -> 500: dropped in both
std::vector<Utt> hand_train() {
  return {
      {"man-ab-a-1",
       {0, 1, 1, 1, 63, 3, 2, 5, 7, 8, 9, 10, 11, 12},
       {0.0, 0.0029999, 0.003, 0.003, 0.006, 0.009, 0.012, 0.3, 0.375, 0.75, 0.8969999, 0.897, 0.9, 1.5}},
      {"woman-ab-b-7557", {}, {}, false},
      {"man-ab-b-z", {}, {}},
      {"man-cd-b-12", {999, 1}, {0.1, 0.2}},
      {"woman-cd-a-o", {40}, {0.1}},
  };
}
std::vector<Utt> hand_test() {
  return {
      {"woman-ef-a-5599", {}, {}, false},
      {"man-ef-a-9", {63, 0}, {0.0, 0.89}},  // 0.89 s: 296.67 -> (296, 0)
  };
}

using Cells = std::vector<std::pair<Index, Index>>;
const Cells kCommon = {{0, 0},   {0, 1},   {1, 1},   {2, 63},  {4, 2},
                       {100, 5}, {125, 7}, {250, 8}, {298, 9}, {299, 10}};

Cells with(Cells c, std::initializer_list<std::pair<Index, Index>> more) {
  c.insert(c.end(), more.begin(), more.end());
  return c;
}

}  // namespace

TEST_CASE("class mapping and digit field of utterance ids") {
  CHECK(NTidigitsDataset::class_of("z") == 0);
  CHECK(NTidigitsDataset::class_of("o") == 10);
  for (int d = 1; d <= 9; ++d) CHECK(NTidigitsDataset::class_of(std::string(1, static_cast<char>('0' + d))) == d);
  CHECK(NTidigitsDataset::class_of("0") == -1);
  CHECK(NTidigitsDataset::class_of("x") == -1);
  CHECK(NTidigitsDataset::class_of("12") == -1);
  CHECK(NTidigitsDataset::class_of("") == -1);
  CHECK(NTidigitsDataset::digit_field("man-im-a-7557") == "7557");
  CHECK(NTidigitsDataset::digit_field("woman-ab-b-o") == "o");
  CHECK(NTidigitsDataset::digit_field("7") == "7");
  const auto& names = NTidigitsDataset::class_names();
  REQUIRE(names.size() == 11);
  CHECK(names[0] == "zero");
  CHECK(names[5] == "5");
  CHECK(names[10] == "oh");
  CHECK(ntidigits_split("train") == NTidigitsSplit::train);
  CHECK(ntidigits_split("test") == NTidigitsSplit::test);
  CHECK(contains(refusal_of([] { ntidigits_split("valid"); }), "'valid'"));
}

TEST_CASE("hand-built files: selection, labels and the binned matrix, for both type sets") {
  TempDir tmp("asrc_ntidigits_");
  struct Case {
    const char* name;
    Layout layout;
    bool f32;
  };
  const Case cases[] = {
      {"fixed-length ids, uint16 addresses, float32 times", {Strings::fixed, H5T_STD_U16LE, H5T_IEEE_F32LE}, true},
      {"variable-length ids, int32 addresses, float64 times", {Strings::vlen, H5T_STD_I32LE, H5T_IEEE_F64LE}, false},
      {"variable-length ids, uint8 addresses, big-endian float32 times",
       {Strings::vlen, H5T_STD_U8LE, H5T_IEEE_F32BE}, true},
      {"fixed-length ids, int64 addresses, big-endian float64 times",
       {Strings::fixed, H5T_STD_I64BE, H5T_IEEE_F64BE}, false},
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    const std::string p = tmp.file("n-tidigits.hdf5");
    std::vector<Utt> train = hand_train();
    if (k.layout.addr_type == H5T_STD_U8LE) train[3].addr = {250, 1};  // 999 does not fit a byte
    write_ntidigits(p, train, hand_test(), k.layout);

    NTidigitsDataset ds(p, NTidigitsSplit::train);
    REQUIRE(ds.size() == 3);
    CHECK(ds.steps() == 300);
    CHECK(ds.width() == 64);
    CHECK(ds.num_classes() == 11);
    CHECK(ds.label(0) == 1);
    CHECK(ds.label(1) == 0);
    CHECK(ds.label(2) == 10);
    CHECK(ds.utterance_id(0) == "man-ab-a-1");
    CHECK(ds.utterance_id(1) == "man-ab-b-z");
    CHECK(ds.utterance_id(2) == "woman-cd-a-o");
    CHECK(ds.file_row(0) == 0);
    CHECK(ds.file_row(1) == 2);
    CHECK(ds.file_row(2) == 4);
    CHECK(ds.utterances_in_file() == 5);
    CHECK(ds.multi_digit_skipped() == 2);
    CHECK(ds.events_read() == 15);
    if (k.f32) {
      CHECK(ds.events_dropped() == 1);  // 1.5 s only: float32 0.9 is inside
      check_sample(ds, 0, with(kCommon, {{2, 3}, {299, 11}}));
    } else {
      CHECK(ds.events_dropped() == 2);  // 0.9 s (exactly 300 windows) and 1.5 s
      check_sample(ds, 0, with(kCommon, {{3, 3}}));
    }
    check_sample(ds, 1, {});  // empty utterance: all zeros
    check_sample(ds, 2, {{33, 40}});
    CHECK(ds.describe() == "N-TIDIGITS train (3 samples, 300 steps x 64 channels, 3 ms windows, 11 classes)");
    CHECK(ds.bytes() >= 3 * 300 * 64 / 8);

    NTidigitsDataset te(p, NTidigitsSplit::test);
    REQUIRE(te.size() == 1);
    CHECK(te.label(0) == 9);
    CHECK(te.utterance_id(0) == "man-ef-a-9");
    CHECK(te.file_row(0) == 1);
    CHECK(te.multi_digit_skipped() == 1);
    check_sample(te, 0, {{0, 63}, {296, 0}});
    CHECK(te.events_dropped() == 0);

    // make_batch places the samples time-major.
    Matrix<float> x;
    std::vector<int> labels;
    make_batch(ds, {2, 0}, x, labels);
    REQUIRE(x.rows() == 600);
    CHECK(labels == std::vector<int>{10, 1});
    CHECK(x(33 * 2 + 0, 40) == 1.0f);
    CHECK(x(33 * 2 + 1, 40) == 0.0f);
    CHECK(x(125 * 2 + 1, 7) == 1.0f);
    CHECK(x.sum() == 1.0f + static_cast<float>(k.f32 ? kCommon.size() + 2 : kCommon.size() + 1));
  }
}

TEST_CASE("all eleven single digits map to their classes, in file order") {
  TempDir tmp("asrc_ntidigits_");
  const std::string p = tmp.file("digits.hdf5");
  const std::string digits = "o9z8172635 4";  // the blank stands for a multi-digit id
  std::vector<Utt> train;
  std::vector<int> want;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (digits[i] == ' ') {
      train.push_back({"man-xy-a-1o2z", {}, {}, false});
      continue;
    }
    train.push_back({str_cat(i % 2 ? "woman" : "man", "-s", i, "-b-", digits[i]), {static_cast<std::int64_t>(i)},
                     {0.001 * static_cast<double>(i)}});
    want.push_back(digits[i] == 'z' ? 0 : digits[i] == 'o' ? 10 : digits[i] - '0');
  }
  write_ntidigits(p, train, {{"man-q-a-3", {1}, {0.0}}}, Layout{Strings::vlen, H5T_STD_U16LE, H5T_IEEE_F32LE});
  NTidigitsDataset ds(p, NTidigitsSplit::train);
  REQUIRE(ds.size() == 11);
  std::vector<int> got;
  for (Index i = 0; i < ds.size(); ++i) got.push_back(ds.label(i));
  CHECK(got == want);
  std::vector<int> seen(11, 0);
  for (int v : got) ++seen[static_cast<std::size_t>(v)];
  CHECK(std::count(seen.begin(), seen.end(), 1) == 11);
  CHECK(ds.multi_digit_skipped() == 1);
}

TEST_CASE("options: window, steps and channels") {
  TempDir tmp("asrc_ntidigits_");
  const std::string p = tmp.file("opts.hdf5");
  // 1 ms windows, 5 steps: 0 -> 0, 0.001 -> 1 (edge), 0.0049 -> 4, 0.005 -> 5: dropped.
  // Channels 0..99 (two 64-bit words per step): 99 and 64 sit in the second word.
  write_ntidigits(p, {{"man-a-a-4", {0, 64, 99, 63, 2}, {0.0, 0.001, 0.0049, 0.005, 0.002}}}, {},
                  Layout{Strings::fixed, H5T_STD_U16LE, H5T_IEEE_F64LE});
  NTidigitsOptions o;
  o.window_ms = 1.0;
  o.steps = 5;
  o.channels = 100;
  o.name = "tiny";
  NTidigitsDataset ds(p, NTidigitsSplit::train, o);
  REQUIRE(ds.size() == 1);
  CHECK(ds.steps() == 5);
  CHECK(ds.width() == 100);
  CHECK(ds.label(0) == 4);
  CHECK(ds.events_dropped() == 1);
  check_sample(ds, 0, {{0, 0}, {1, 64}, {4, 99}, {2, 2}});
  CHECK(ds.describe() == "tiny (1 samples, 5 steps x 100 channels, 1 ms windows, 11 classes)");

  // 4 ms windows: 0.0049 -> 1.225 -> step 1; 0.005 -> 1.25 -> step 1; nothing dropped.
  o.window_ms = 4.0;
  NTidigitsDataset wide(p, NTidigitsSplit::train, o);
  CHECK(wide.events_dropped() == 0);
  check_sample(wide, 0, {{0, 0}, {0, 64}, {1, 99}, {1, 63}, {0, 2}});

  // The default 64 channels: address 64 is out of range.
  const std::string m = refusal_of([&] { NTidigitsDataset d64(p, NTidigitsSplit::train); });
  CHECK(contains(m, "channel addresses in 0 .. 63"));
  CHECK(contains(m, "train_addresses/man-a-a-4"));
  CHECK(contains(m, "event 1"));
  CHECK(contains(m, "got 64"));

  o = NTidigitsOptions{};
  o.window_ms = 0.0;
  CHECK(contains(refusal_of([&] { NTidigitsDataset d(p, NTidigitsSplit::train, o); }), "window_ms"));
  o.window_ms = std::numeric_limits<double>::quiet_NaN();
  CHECK(contains(refusal_of([&] { NTidigitsDataset d(p, NTidigitsSplit::train, o); }), "window_ms"));
  o = NTidigitsOptions{};
  o.steps = 0;
  CHECK(contains(refusal_of([&] { NTidigitsDataset d(p, NTidigitsSplit::train, o); }), "steps >= 1"));
  o = NTidigitsOptions{};
  o.channels = 0;
  CHECK(contains(refusal_of([&] { NTidigitsDataset d(p, NTidigitsSplit::train, o); }), "channels >= 1"));
  o = NTidigitsOptions{};
  o.channels = 100;
  NTidigitsDataset ok(p, NTidigitsSplit::train, o);
  CHECK(contains(refusal_of([&] { ok.label(1); }), "NTidigitsDataset::label(): expected a sample index in [0, 1)"));
  CHECK(contains(refusal_of([&] { ok.label(-1); }), "got -1"));
  CHECK(contains(refusal_of([&] { ok.active(0, 300, 0); }), "step 300"));
  CHECK(contains(refusal_of([&] { ok.active(0, 0, 100); }), "channel 100"));
}

TEST_CASE("random files: the binned matrix equals a direct binning") {
  TempDir tmp("asrc_ntidigits_");
  Rng rng(11);
  const std::string p = tmp.file("random.hdf5");
  const std::string digits = "zo123456789";
  for (hid_t time_type : {H5T_IEEE_F32LE, H5T_IEEE_F64LE}) {
    CAPTURE(time_type == H5T_IEEE_F32LE ? "float32" : "float64");
    std::vector<Utt> train;
    for (int u = 0; u < 40; ++u) {
      Utt x;
      const bool multi = rng.below(4) == 0;
      x.id = str_cat("man-r", u, "-a-", digits[rng.below(11)], multi ? "5" : "");
      const std::size_t n = static_cast<std::size_t>(rng.below(400));
      for (std::size_t k = 0; k < n; ++k) {
        x.addr.push_back(static_cast<std::int64_t>(rng.below(64)));
        // Mostly inside 0.9 s, some past it, some exactly on a window edge.
        const std::uint64_t kind = rng.below(10);
        x.time.push_back(kind == 0 ? 0.003 * static_cast<double>(rng.below(320))
                                   : rng.uniform(0.0, 1.0));
      }
      train.push_back(std::move(x));
    }
    write_ntidigits(p, train, {}, Layout{Strings::fixed, H5T_STD_U16LE, time_type});
    NTidigitsDataset ds(p, NTidigitsSplit::train);
    std::size_t i = 0;
    std::uint64_t dropped = 0, read = 0;
    for (const Utt& x : train) {
      if (NTidigitsDataset::digit_field(x.id).size() != 1) continue;  // a digit sequence
      REQUIRE(i < static_cast<std::size_t>(ds.size()));
      CHECK(ds.utterance_id(static_cast<Index>(i)) == x.id);
      std::vector<float> want(300 * 64, 0.0f);
      for (std::size_t k = 0; k < x.time.size(); ++k) {
        // The stored value, then floor(t * 1000 / 3) in double.
        const double t = time_type == H5T_IEEE_F32LE ? static_cast<double>(static_cast<float>(x.time[k]))
                                                     : x.time[k];
        const double q = std::floor(t * 1000.0 / 3.0);
        if (q >= 300.0) {
          ++dropped;
          continue;
        }
        want[static_cast<std::size_t>(q) * 64 + static_cast<std::size_t>(x.addr[k])] = 1.0f;
      }
      read += x.time.size();
      CHECK(dense(ds, static_cast<Index>(i)) == want);
      ++i;
    }
    CHECK(static_cast<Index>(i) == ds.size());
    CHECK(ds.events_dropped() == dropped);
    CHECK(ds.events_read() == read);
    CHECK(dropped > 0);
  }
}

TEST_CASE("bad files raise std::invalid_argument naming the file and the dataset") {
  TempDir tmp("asrc_ntidigits_");
  const std::vector<Utt> train = {
      {"man-ab-a-1", {1, 2}, {0.01, 0.02}},
      {"woman-ab-b-75", {}, {}, false},
      {"man-cd-b-z", {3}, {0.5}},
  };
  const std::vector<Utt> test = {{"man-ef-a-o", {4}, {0.1}}};
  const char* where = "NTidigitsDataset::NTidigitsDataset(): expected";

  SUBCASE("missing file") {
    const std::string p = tmp.file("nope.hdf5");
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, where));
    CHECK(contains(m, p));
    CHECK(contains(m, "does not exist"));
  }
  SUBCASE("not an HDF5 file") {
    const std::string p = tmp.file("text.hdf5");
    std::ofstream(p) << "not HDF5\n";
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, p));
    CHECK(contains(m, "not HDF5"));
  }
  SUBCASE("missing labels dataset") {
    const std::string p = tmp.file("no_labels.hdf5");
    write_ntidigits(p, train, test);
    delete_link(p, "test_labels");
    NTidigitsDataset ok(p, NTidigitsSplit::train);  // the other split still reads
    CHECK(ok.size() == 2);
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::test); });
    CHECK(contains(m, where));
    CHECK(contains(m, p));
    CHECK(contains(m, "a dataset 'test_labels'"));
    CHECK(contains(m, "no such object"));
  }
  SUBCASE("labels that are not strings") {
    const std::string p = tmp.file("int_labels.hdf5");
    write_ntidigits(p, train, test);
    replace_with(p, "train_labels", H5T_STD_I32LE, {1, 2, 3});
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, p));
    CHECK(contains(m, "'train_labels'"));
    CHECK(contains(m, "strings"));
    CHECK(contains(m, "got integers"));
  }
  SUBCASE("labels that are a group") {
    const std::string p = tmp.file("group_labels.hdf5");
    write_ntidigits(p, train, test);
    delete_link(p, "train_labels");
    {
      H f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      H g(H5Gcreate2(f.get(), "train_labels", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
      REQUIRE(g.valid());
    }
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, "'train_labels'"));
    CHECK(contains(m, "not a dataset"));
  }
  SUBCASE("an id with no addresses or no timestamps dataset") {
    for (const char* group : {"train_addresses", "train_timestamps"}) {
      CAPTURE(group);
      const std::string p = tmp.file("missing_events.hdf5");
      write_ntidigits(p, train, test);
      delete_link(p, str_cat(group, "/man-cd-b-z"));
      const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
      CHECK(contains(m, where));
      CHECK(contains(m, p));
      CHECK(contains(m, str_cat("a dataset '", group, "/man-cd-b-z'")));
      CHECK(contains(m, "row 2 of 'train_labels'"));
      CHECK(contains(m, "no such object"));
    }
  }
  SUBCASE("a missing addresses or timestamps group") {
    for (const char* group : {"test_addresses", "test_timestamps"}) {
      CAPTURE(group);
      const std::string p = tmp.file("missing_group.hdf5");
      write_ntidigits(p, train, test);
      delete_link(p, group);
      const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::test); });
      CHECK(contains(m, p));
      CHECK(contains(m, str_cat("a group '", group, "'")));
    }
  }
  SUBCASE("addresses and timestamps of different lengths") {
    const std::string p = tmp.file("lengths.hdf5");
    write_ntidigits(p, train, test);
    replace_with(p, "train_timestamps/man-ab-a-1", H5T_IEEE_F32LE, {0.01, 0.02, 0.03});
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, p));
    CHECK(contains(m, "'train_addresses/man-ab-a-1' and 'train_timestamps/man-ab-a-1' of the same length"));
    CHECK(contains(m, "got 2 addresses and 3 timestamps"));
  }
  SUBCASE("addresses outside 0..63") {
    for (std::int64_t bad : {64, -1, 1000}) {
      CAPTURE(bad);
      const std::string p = tmp.file("address.hdf5");
      std::vector<Utt> t = train;
      t[2].addr = {bad};
      write_ntidigits(p, t, test, Layout{Strings::fixed, H5T_STD_I32LE, H5T_IEEE_F32LE});
      const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
      CHECK(contains(m, p));
      CHECK(contains(m, "channel addresses in 0 .. 63 in dataset 'train_addresses/man-cd-b-z'"));
      CHECK(contains(m, "(event 0)"));
      CHECK(contains(m, str_cat("got ", bad)));
    }
  }
  SUBCASE("float addresses: whole numbers read, fractions refused") {
    const std::string p = tmp.file("float_addr.hdf5");
    write_ntidigits(p, train, test);
    replace_with(p, "train_addresses/man-ab-a-1", H5T_IEEE_F32LE, {1.0, 2.0});
    NTidigitsDataset ds(p, NTidigitsSplit::train);
    check_sample(ds, 0, {{3, 1}, {6, 2}});  // 0.01 s: 3.33 -> 3; 0.02 s: 6.67 -> 6 (float32 times)
    replace_with(p, "train_addresses/man-ab-a-1", H5T_IEEE_F64LE, {1.0, 2.5});
    const std::string m = refusal_of([&] { NTidigitsDataset d(p, NTidigitsSplit::train); });
    CHECK(contains(m, "train_addresses/man-ab-a-1"));
    CHECK(contains(m, "(event 1)"));
    CHECK(contains(m, "got 2.5"));
  }
  SUBCASE("addresses of a string type") {
    const std::string p = tmp.file("str_addr.hdf5");
    write_ntidigits(p, train, test);
    delete_link(p, "train_addresses/man-ab-a-1");
    {
      H f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      write_strings(f.get(), "train_addresses/man-ab-a-1", {"1", "2"}, Strings::fixed);
    }
    const std::string m = refusal_of([&] { NTidigitsDataset d(p, NTidigitsSplit::train); });
    CHECK(contains(m, "integer channel addresses in dataset 'train_addresses/man-ab-a-1'"));
    CHECK(contains(m, "got strings"));
  }
  SUBCASE("negative, NaN and infinite timestamps") {
    for (double bad : {-0.001, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()}) {
      CAPTURE(bad);
      const std::string p = tmp.file("time.hdf5");
      std::vector<Utt> t = train;
      t[0].time = {0.01, bad};
      write_ntidigits(p, t, test);
      const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
      CHECK(contains(m, p));
      CHECK(contains(m, "finite timestamps >= 0 (seconds) in dataset 'train_timestamps/man-ab-a-1'"));
      CHECK(contains(m, "(event 1)"));
    }
  }
  SUBCASE("integer timestamps") {
    const std::string p = tmp.file("int_time.hdf5");
    write_ntidigits(p, train, test);
    replace_with(p, "train_timestamps/man-ab-a-1", H5T_STD_I64LE, {10000, 20000});
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, "floating-point timestamps in seconds in dataset 'train_timestamps/man-ab-a-1'"));
    CHECK(contains(m, "got integers"));
  }
  SUBCASE("no single-digit utterances") {
    const std::string p = tmp.file("multi.hdf5");
    write_ntidigits(p, {{"man-ab-a-12", {1}, {0.1}}, {"man-ab-a-oz9", {}, {}}}, test,
                    Layout{Strings::vlen, H5T_STD_U16LE, H5T_IEEE_F32LE});
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, where));
    CHECK(contains(m, p));
    CHECK(contains(m, "at least one single-digit utterance id"));
    CHECK(contains(m, "'train_labels'"));
    CHECK(contains(m, "got none among 2 ids"));
    // An empty labels array too.
    const std::string q = tmp.file("empty.hdf5");
    write_ntidigits(q, {}, test);
    CHECK(contains(refusal_of([&] { NTidigitsDataset ds(q, NTidigitsSplit::train); }), "got none among 0 ids"));
  }
  SUBCASE("a single-character digit field that is no digit") {
    const std::string p = tmp.file("letter.hdf5");
    std::vector<Utt> t = train;
    t.push_back({"man-ab-a-x", {1}, {0.1}});
    write_ntidigits(p, t, test);
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, p));
    CHECK(contains(m, "'train_labels' of file"));
    CHECK(contains(m, "(row 3)"));
    CHECK(contains(m, "got 'man-ab-a-x'"));
  }
  SUBCASE("2-D labels") {
    const std::string p = tmp.file("labels2d.hdf5");
    write_ntidigits(p, train, test);
    delete_link(p, "train_labels");
    {
      H f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      H t(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(t.get(), 4);
      const hsize_t dims[2] = {1, 1};
      H s(H5Screate_simple(2, dims, nullptr), H5Sclose);
      H d(H5Dcreate2(f.get(), "train_labels", t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
      REQUIRE(d.valid());
    }
    const std::string m = refusal_of([&] { NTidigitsDataset ds(p, NTidigitsSplit::train); });
    CHECK(contains(m, "a 1-D dataset in dataset 'train_labels'"));
    CHECK(contains(m, "got rank 2"));
  }
}

TEST_CASE("space-padded fixed-length ids are trimmed") {
  TempDir tmp("asrc_ntidigits_");
  const std::string p = tmp.file("spacepad.hdf5");
  write_ntidigits(p, {{"man-ab-a-1", {1}, {0.0}}, {"man-ab-a-77", {}, {}, false}}, {});
  delete_link(p, "train_labels");
  {
    H f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    H t(H5Tcopy(H5T_C_S1), H5Tclose);
    REQUIRE(H5Tset_size(t.get(), 14) >= 0);
    REQUIRE(H5Tset_strpad(t.get(), H5T_STR_SPACEPAD) >= 0);
    const std::string buf = "man-ab-a-1    man-ab-a-77   ";
    write_1d(f.get(), "train_labels", t.get(), t.get(), 2, buf.data());
  }
  NTidigitsDataset ds(p, NTidigitsSplit::train);
  REQUIRE(ds.size() == 1);
  CHECK(ds.utterance_id(0) == "man-ab-a-1");
  CHECK(ds.label(0) == 1);
  check_sample(ds, 0, {{0, 1}});
}
