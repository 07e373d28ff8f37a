#!/usr/bin/env bash
# Runs the whole test suite. Installs what it needs first (tools/bootstrap.sh), then builds and tests offline.
# Ends with a plain line "N passed, N failed, N skipped". Extra arguments go to `dotnet test` (e.g. --filter Name~Rope).
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"
bash tools/bootstrap.sh --cuda-standin || { echo "0 passed, 1 failed"; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! dotnet build CoAR.Engine.sln -c Release --no-restore -v quiet -nologo; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

log=$(mktemp)
dotnet test tests/Engine.Tests/Engine.Tests.csproj -c Release --no-build --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# VSTest's summary block has lines "     Passed: P", "     Failed: F", "    Skipped: S" (absent when zero).
count() { grep -E "^ +$1: +[0-9]+ *$" "$log" | awk -F: '{s+=$2} END {print s+0}'; }
passed=$(count Passed); failed=$(count Failed); skipped=$(count Skipped)
rm -f "$log"
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
  failed=1  # the test host crashed or a run aborted without reporting a failed test
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" = 0 ] && [ "$failed" = 0 ]
