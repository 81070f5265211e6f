# Script mode (cmake -DSRC=<source dir> -DOUT=<file.cpp> -DVERSION=<x.y.z> -P build_commit.cmake):
# writes OUT, which defines the version and the git commit the programs are built from
# (`asrc-train --version`). "+modified" marks uncommitted changes to the code (include/,
# examples/, cmake/, CMakeLists.txt; results folders do not count); "unknown" outside a
# git checkout. OUT is rewritten only when its text changes, so an unchanged commit
# recompiles nothing.
set(commit unknown)
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS "${SRC}/.git")
  execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE head OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0 AND head)
    set(commit "${head}")
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" diff --no-ext-diff --quiet HEAD --
                            include examples cmake CMakeLists.txt
                    RESULT_VARIABLE dirty ERROR_QUIET)
    if(NOT dirty EQUAL 0)
      set(commit "${commit}+modified")
    endif()
  endif()
endif()
set(text "// Written by cmake/build_commit.cmake at build time; not in the source tree.\n")
string(APPEND text "const char* asrc_build_version() { return \"${VERSION}\"; }\n")
string(APPEND text "const char* asrc_build_commit() { return \"${commit}\"; }\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE "${OUT}" "${text}")
endif()
