// Fingerprints of LIF networks for scripts/bitwise-check.sh: hashes of init, loss, gradient,
// evaluation and stream logits, compared between two versions of the headers.
#include <asrc/asrc.hpp>
#include <cstdio>
#include <cstring>
using namespace asrc;
template <class T> unsigned long long fnv(const T* p, size_t n, unsigned long long h = 1469598103934665603ULL) {
  const unsigned char* b = reinterpret_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n * sizeof(T); ++i) { h ^= b[i]; h *= 1099511628211ULL; }
  return h;
}
template <class T> void run(Recurrence rec, Index skip, bool hard, double drop, bool nw, const char* name) {
  NetworkConfig c;
  c.input_size = 3; c.hidden = {24, 20}; c.num_classes = 5; c.recurrence = rec; c.skip = skip;
  c.network_wise = nw; c.dropout = drop; c.lif.reset = hard ? ResetMode::hard : ResetMode::soft;
  c.seed = 7; c.chunk_size = 3; c.threads = 2;
  Network<T> net(c);
  net.set_tau(0.7);
  const Index steps = 60, B = 7;
  Matrix<T> x(steps * B, 3);
  Rng r(3);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = T(r.uniform01() < 0.3 ? r.uniform(0, 2.5) : 0.0);
  std::vector<int> y = {0, 1, 2, 3, 4, 0, 1};
  Vector<T> g;
  Matrix<T> gx;
  double loss = 0;
  for (int it = 0; it < 3; ++it) {
    loss = net.forward_backward(x, B, y, g, &gx);
    net.params() -= T(0.05) * g;
  }
  net.set_training(false);
  Matrix<T> lo = net.forward(x, B);
  auto st = net.make_stream(B);
  for (Index t = 0; t < steps; ++t) net.stream_step(st, x.middleRows(t * B, B));
  Matrix<T> ls = net.stream_logits(st);
  std::printf("%-28s %s loss %.17g params %016llx grad %016llx gx %016llx eval %016llx stream %016llx\n", name,
              sizeof(T) == 4 ? "f" : "d", loss, fnv(net.params().data(), size_t(net.params().size())),
              fnv(g.data(), size_t(g.size())), fnv(gx.data(), size_t(gx.size())), fnv(lo.data(), size_t(lo.size())),
              fnv(ls.data(), size_t(ls.size())));
}
template <class T> void all() {
  run<T>(Recurrence::none, 1, false, 0, false, "FF");
  run<T>(Recurrence::vanilla, 1, true, 0, false, "RSNN hard");
  run<T>(Recurrence::src, 4, false, 0.2, false, "SRC drop");
  run<T>(Recurrence::asrc, 6, false, 0, false, "ASRC");
  run<T>(Recurrence::asrc, 20, true, 0.1, true, "ASRC nw hard drop");
}
int main() { all<float>(); all<double>(); }
