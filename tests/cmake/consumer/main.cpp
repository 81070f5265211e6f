// Builds a Table 1 network through the installed headers and checks its size.
#include <asrc/asrc.hpp>

#include <cstdio>

int main() {
  asrc::NetworkConfig cfg;  // defaults: 1-64-128-128-10 SRC
  asrc::Network<float> net(cfg);
  std::printf("parameters: %ld\n", static_cast<long>(net.num_params()));
  return net.num_params() == 63114 ? 0 : 1;
}
