#!/bin/bash
# Builds the CPU emulator against kernels/ and runs every kernel check under several schedules: fibers in order,
# in random order, with warps stalled at random for runs of rounds, and with one warp at a time held back while the
# others run ahead; cp.async landing at wait_group (deferred: a missing wait shows) or at issue (eager: overwriting a
# buffer another warp still reads shows).
# Usage: kernels/emulator/run.sh [group...]   (default: every group; build.sh lists them)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/build.sh"
out="${TMPDIR:-/tmp}/coar-kernel-emulator"
python3 "$here/make_sources.py" "$here/.." "$out/src"
build_checks "$out"
groups="${*:-$all_groups}"
status=0
schedules=("deferred 0 1" "deferred 2 1" "deferred 3 1" "deferred 3 2" "eager 3 3" "deferred 4 1" "eager 4 2")
for mode in "${schedules[@]}"; do
  set -- $mode
  for g in $groups; do
    if ! "$out/$(program_of "$g")" "$g" "$1" "$2" "$3" > "$out/$g.log"; then
      echo "FAILED: $g (copies $1, schedule $2, seed $3):"; grep FAIL "$out/$g.log" || tail -3 "$out/$g.log"; status=1
    fi
  done
done
[ $status -eq 0 ] && echo "all kernel checks passed ($groups; ${#schedules[@]} schedules)"
exit $status
