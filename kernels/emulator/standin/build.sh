#!/bin/bash
# Builds the CUDA driver stand-in, build/cuda-standin/libcoar-cuda-standin.so (COAR_STANDIN_DIR overrides the
# directory), from kernels/ (and the test-only kernels of tests/Engine.Tests/Cuda/TestKernels) and kernels/emulator,
# and prints its path. Rebuilds only when an input changed: the kernel sources, the emulator, the stand-in's own
# sources, or the compiler (their hash is kept beside the library).
# Point COAR_LIBCUDA at the printed path to run the engine's CUDA backend on it.
# Usage: kernels/emulator/standin/build.sh [--quiet]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
emulator="$(dirname "$here")"
kernels="$(dirname "$emulator")"
repo="$(dirname "$kernels")"
test_kernels="$repo/tests/Engine.Tests/Cuda/TestKernels"
out="${COAR_STANDIN_DIR:-$repo/build/cuda-standin}"
library="$out/libcoar-cuda-standin.so"
quiet=0
[ "${1:-}" = "--quiet" ] && quiet=1
say() { [ $quiet = 1 ] || echo "$@" >&2; }

mkdir -p "$out"
# One build at a time (test processes may start it together); the others wait and then find it done.
exec 9>"$out/.lock"
flock 9

inputs() {
  ls "$kernels"/*.cu "$kernels"/*.cuh "$test_kernels"/*.cu "$emulator/cuda_emulation.h" "$emulator/make_sources.py" "$here"/*.h "$here"/*.cpp \
    "$here"/*.py "$here"/build.sh "$here"/exports.map | sort
}
hash="$( (inputs | xargs sha256sum; g++ --version | head -1) | sha256sum | cut -d' ' -f1)"
if [ -f "$library" ] && [ "$(cat "$out/inputs.sha256" 2>/dev/null)" = "$hash" ]; then
  echo "$library"
  exit 0
fi

say "building the CUDA driver stand-in in $out"
work="$out/work"
rm -rf "$work"
mkdir -p "$work/objects"
python3 "$emulator/make_sources.py" "$kernels" "$work/src"
# The test-only kernels include common.cuh as kernels/ does: they go through the same rewriting beside them.
python3 "$emulator/make_sources.py" "$test_kernels" "$work/test_src"
cp "$work/test_src"/*.cu "$work/src/"
units=$(python3 "$here/make_kernel_table.py" "$work/src" "$work")
flags=(-std=c++20 -O2 -fPIC -mtls-dialect=gnu2 -fvisibility=hidden -pthread -DEMU_STANDIN -I"$emulator" -I"$here" -I"$work")
# Objects are kept by the hash of their preprocessed source and flags, so a change rebuilds only what it touches.
mkdir -p "$out/objects"
compile() {  # source object [extra flags]
  local key
  key="$( (g++ "${flags[@]}" "${@:3}" -E "$1" | grep -v '^#'; echo "${flags[*]} ${*:3}") | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$out/objects/$key.o" ]; then
    g++ "${flags[@]}" "${@:3}" -c "$1" -o "$work/objects/$key.tmp" && mv "$work/objects/$key.tmp" "$out/objects/$key.o"
  fi
  cp "$out/objects/$key.o" "$2"
}
jobs=()
status=0
for unit in $units kernel_files.cpp; do
  compile "$work/$unit" "$work/objects/${unit%.cpp}.o" -w &
  jobs+=($!)
  # As many compilers at once as there are cores.
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || status=1; done
done
for source in driver device_memory launcher module_image; do
  compile "$here/$source.cpp" "$work/objects/$source.o" -Wall -Wextra &
  while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do wait -n || status=1; done
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || status=1; done
[ $status = 0 ] || { echo "the stand-in did not compile" >&2; exit 1; }
g++ -shared -pthread -Wl,-soname,libcoar-cuda-standin.so -Wl,--no-undefined -Wl,--version-script="$here/exports.map" -o "$work/libcoar-cuda-standin.so" "$work"/objects/*.o
mv -f "$work/libcoar-cuda-standin.so" "$library"
echo "$hash" > "$out/inputs.sha256"
rm -rf "$work"
# Objects no build refers to any more go after a week.
find "$out/objects" -name '*.o' -mtime +7 -delete
say "built $library"
echo "$library"
