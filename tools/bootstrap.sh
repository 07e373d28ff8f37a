#!/usr/bin/env bash
# Installs what the engine needs on a Debian machine (run as root) and restores NuGet packages.
# Safe to run again: it installs only what is missing. Sourced by ./coar and ./run-tests.sh.
# --cuda-standin (run-tests.sh): also build the CUDA driver stand-in where no NVIDIA driver is installed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Images need no Debian package: Skia's codecs come from NuGet (SkiaSharp). libnvrtc11.2 (Debian non-free, CUDA 11.8): compiles every kernel, GPU or not.
# g++ and python3: the CPU emulator of the GEMM and attention kernels (kernels/emulator), run by the tests.
# afl++: drives the fuzzing of every file reader (tools/fuzz, tests/Engine.Fuzz), briefly in the tests.
apt_packages=(libnvrtc11.2 g++ python3 afl++)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing Debian packages ${missing[*]}; run this script as root once (it uses apt-get)." >&2
    exit 1
  fi
  # NVRTC lives in the non-free component: enable it in whichever sources format this machine uses.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -i -E '/^Components:/{/non-free( |$)/!s/$/ non-free/}' /etc/apt/sources.list.d/debian.sources
  fi
  if [ -f /etc/apt/sources.list ]; then
    sed -i -E '/^deb .*debian/{/non-free( |$)/!s/ main( |$)/ main non-free\1/}' /etc/apt/sources.list
  fi
  echo "bootstrap: installing ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "bootstrap: the .NET 10 SDK is not on PATH. Install it (https://dot.net, or Microsoft's Debian packages:" >&2
  echo "  dotnet-sdk-10.0) and run again." >&2
  exit 1
fi

stamp="$repo/obj/.restored"
if [ ! -f "$stamp" ] || [ -n "$(find "$repo" -name '*.csproj' -newer "$stamp" -o -name 'Directory.*.props' -newer "$stamp" | head -1)" ]; then
  dotnet restore "$repo/CoAR.Engine.sln" -v quiet >&2
  mkdir -p "$repo/obj" && touch "$stamp"
fi

# The CUDA driver stand-in (kernels/emulator/standin: the driver API on the CPU emulator), which the tests run the
# CUDA backend on where there is no GPU: built from source with the emulator's g++, rebuilt only when its sources or
# kernels/ change. Skipped where the loader finds an NVIDIA driver (the tests build it themselves if that has no GPU).
if [ "${1:-}" = "--cuda-standin" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
  bash "$repo/kernels/emulator/standin/build.sh" --quiet >/dev/null
fi
