#!/bin/bash
# Checks that the kernel checks notice a fault: applies one textual mutation to a copy of a kernel file and prints
# the failure count of GROUP under 12 schedules (cp.async deferred, then eager; 6 seeds each, alternating warps stalled
# at random and one warp held back), "abort" where the emulator stopped the run (a misaligned access, a deadlock, a
# divergent collective). A mutation that is never noticed is a gap in the checks, or harmless.
# Usage: kernels/emulator/mutate.sh FILE OLD NEW GROUP     e.g. mutate.sh attention.cu "__syncthreads();  // P V" "" fwd
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/build.sh"
out="${TMPDIR:-/tmp}/coar-kernel-emulator-mutant"
program="$(program_of "$4")"
python3 "$here/make_sources.py" "$here/.." "$out/src"
python3 "$here/replace_once.py" "$out/src/$1" "$2" "$3"
build_checks "$out"
counts=""
for copies in deferred eager; do
  for seed in 1 2 3 4 5 6; do
    last="$("$out/$program" "$4" "$copies" $((3 + seed % 2)) "$seed" 2>/dev/null | tail -1)" || true
    case "$last" in
      *"failure(s)") counts="$counts ${last%% *}" ;;
      *) counts="$counts abort" ;;
    esac
  done
done
echo "$1 failures per schedule:$counts"
