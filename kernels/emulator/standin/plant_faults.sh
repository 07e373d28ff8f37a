#!/bin/bash
# Checks that the CUDA tests on the driver stand-in notice faults in the C# launchers (as mutate.sh does for the
# kernels): in a copy of the working tree, plants one fault at a time in src/Engine.Managed/Backends/Cuda, builds,
# runs the CUDA conformance suite and model tests on the stand-in, and prints how many tests failed and which. A fault
# no test notices is a gap in the tests, and makes the script exit 1.
# Usage: kernels/emulator/standin/plant_faults.sh [fault...]   (default: all; names below)   ~2 minutes a fault
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
launchers="src/Engine.Managed/Backends/Cuda"
tests="FullyQualifiedName~CudaConformanceTests|FullyQualifiedName~CudaModelTests"

# name | file under $launchers | text | its replacement (the first occurrence)
faults=(
  "swapped-arguments|CudaAttention.cs|Keys = Address(cache.Keys), Values = Address(cache.Values), KeyTags = Address(cache.KeyTags),
            Rows = Address(tokens.Rows), Positions = Address(tokens.Positions), Tags = Address(tokens.Tags),
            Out = Address(output)|Keys = Address(cache.Values), Values = Address(cache.Keys), KeyTags = Address(cache.KeyTags),
            Rows = Address(tokens.Rows), Positions = Address(tokens.Positions), Tags = Address(tokens.Tags),
            Out = Address(output)"
  "grid-one-block-short|CudaGemm.cs|kernel.Launch(new Dim3(Blocks(m, tile), Blocks(n, tile))|kernel.Launch(new Dim3(Blocks(m, tile), Blocks(n, tile) - 1)"
  "shared-memory-one-tile-short|CudaAttention.cs|int shared = 3 * QueryTile * dmax * 2|int shared = 2 * QueryTile * dmax * 2"
  "no-shared-memory-opt-in|CudaAttention.cs|AttentionSharedMemory.Ensure(kernel.Function, shared);|"
)
wanted="${*:-}"

library="$(bash "$here/build.sh" --quiet)"
work="$(mktemp -d "${TMPDIR:-/tmp}/coar-planted-faults.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The working tree as it is (tracked and new files, not what git ignores: no bin/, obj/, build/).
(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) | tar -xf - -C "$work"
cd "$work"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 COAR_LIBCUDA="$library"
echo "building a copy of the working tree in $work" >&2
dotnet build tests/Engine.Tests/Engine.Tests.csproj -c Release -v quiet -nologo >/dev/null

status=0
for fault in "${faults[@]}"; do
  IFS='|' read -r -d '' name file old new <<<"$fault" || true
  new="${new%$'\n'}"
  if [ -n "$wanted" ] && [[ " $wanted " != *" $name "* ]]; then continue; fi
  path="$launchers/$file"
  cp "$path" "$path.orig"
  python3 "$here/../replace_once.py" "$path" "$old" "$new"
  if ! dotnet build tests/Engine.Tests/Engine.Tests.csproj -c Release --no-restore -v quiet -nologo >"$work/$name.build" 2>&1; then
    echo "$name: does not build (see $work/$name.build)"; status=1
  else
    dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --no-build --filter "$tests" \
      --logger "console;verbosity=normal" >"$work/$name.log" 2>&1 || true
    failed=$(grep -cE '^\s+Failed ' "$work/$name.log" || true)
    total=$( (grep -E '^\s*Total tests:' "$work/$name.log" || true) | awk '{print $3}')
    if [ "$failed" -gt 0 ]; then
      echo "$name ($file): caught, $failed of $total tests failed:"
      grep -E '^\s+Failed ' "$work/$name.log" | sed -E 's/^\s+Failed (.*) \[.*$/    \1/'
      # The first failure's message says how it was caught: the stand-in's report of a fault, or the comparison.
      grep -m1 -A1 'Error Message:' "$work/$name.log" | tail -1 | sed -E 's/^ *//; s/.*(The CoAR CUDA stand-in reports: )/\1/' \
        | cut -c1-600 | sed 's/^/    first: /'
    else
      echo "$name ($file): NOT CAUGHT (0 of ${total:-?} tests failed)"; status=1
    fi
  fi
  mv "$path.orig" "$path"
done
exit $status
