#!/usr/bin/env bash
# The engine in a host with .NET's default runtime settings (tiered JIT), next to the tuned settings `coar` runs with
# and two other JIT settings a host might choose. Each runs a cold process of bench/Engine.HostBench on one thread
# (DOTNET_PROCESSOR_COUNT=1, rates per second of the thread's CPU time, so a busy machine does not skew them).
# Usage: bench/host-settings.sh [MODEL_DIR|-] [ROUNDS]     (default: the built-in tiny model, 8 rounds)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/tools/bootstrap.sh"
dotnet build "$repo/bench/Engine.HostBench/Engine.HostBench.csproj" -c Release --no-restore -v quiet -nologo >&2
bench="$repo/bench/Engine.HostBench/bin/Release/net10.0/coar-host-bench.dll"
settings=(
  "host defaults (tiered JIT, dynamic PGO)|"
  "coar's settings (TieredCompilation off)|DOTNET_TieredCompilation=0"
  "TieredPGO off|DOTNET_TieredPGO=0"
  "QuickJitForLoops off|DOTNET_TC_QuickJitForLoops=0"
)
for s in "${settings[@]}"; do
  echo "== ${s%%|*}"
  env DOTNET_PROCESSOR_COUNT=1 ${s#*|} dotnet "$bench" "${1:--}" "${2:-8}"
done
