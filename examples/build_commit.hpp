// The version and git commit a program was built from (`--version`): defined in
// build_commit.cpp, which the build writes (cmake/build_commit.cmake), "+modified" when the
// code had uncommitted changes, "unknown" outside a git checkout.
#pragma once

const char* asrc_build_version();
const char* asrc_build_commit();
