# Sourced by the scripts that run asrc-train (reproduce.sh, scsr-gsc-mini.sh):
# ensure_asrc_train sets $exe to $BUILD_DIR/examples/asrc-train (BUILD_DIR default build/),
# first installing the build dependencies and building it (Release) when it is missing.
ensure_asrc_train() {
  BUILD_DIR=${BUILD_DIR:-build}
  exe="$BUILD_DIR/examples/asrc-train"
  if [ ! -x "$exe" ]; then
    ./scripts/deps.sh
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j "$(nproc)" --target asrc-train
  fi
}
