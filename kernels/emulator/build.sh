# Sourced by run.sh and mutate.sh. The checks are three programs (one translation unit each, so they compile in
# parallel), each with its groups:
#   kernel_checks  gemm wgrad gemv simt fwd dec bwd    (GEMM, weight gradient, GEMV, attention)
#   layer_checks   norm rope rows point loss sample    (norms, RoPE, row moves, pointwise, losses, sampling)
#   vqgan_checks   conv gnorm code sattn               (convolution, GroupNorm/upsampling, codebook, spatial attention)
emulator_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
check_programs="kernel_checks layer_checks vqgan_checks"
all_groups="gemm wgrad gemv simt fwd dec bwd norm rope rows point loss sample conv gnorm code sattn"

# The program that holds group $1.
program_of() {
  case "$1" in
    gemm|wgrad|gemv|simt|fwd|dec|bwd) echo kernel_checks ;;
    norm|rope|rows|point|loss|sample) echo layer_checks ;;
    conv|gnorm|code|sattn) echo vqgan_checks ;;
    *) echo "unknown group '$1' (groups: $all_groups)" >&2; return 1 ;;
  esac
}

# Compiles the programs against the kernel copy in $1/src into $1.
build_checks() {
  local out="$1" pids=() program status=0
  for program in $check_programs; do
    g++ -std=c++20 -O1 -w -I"$emulator_dir" -I"$out" -o "$out/$program" "$emulator_dir/$program.cpp" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  return $status
}
