// The version and git commit a program was built from (`--version`): defined in
// build_commit.cpp, which the build writes (cmake/build_commit.cmake), "+modified" when the
// code had uncommitted changes, "unknown" outside a git checkout.
#pragma once

#include <cstdio>

const char* asrc_build_version();
const char* asrc_build_commit();

/// What `PROGRAM --version` prints: "PROGRAM VERSION commit COMMIT". The commit is the last
/// word, which scripts/run-folder.sh reads.
inline void print_version(const char* program) {
  std::printf("%s %s commit %s\n", program, asrc_build_version(), asrc_build_commit());
}
