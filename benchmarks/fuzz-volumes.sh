#!/usr/bin/env bash
# Every fuzzed reader at the volumes of the first fuzzing campaign against rotator (inputs per reader:
# config 63,400, state 61,100, JKS 47,300, PKCS#12 46,300, PEM 46,300, DER 60,000 split between its two
# uses), in two lanes so both CPUs of a small machine work, through the whole command line (about 45
# minutes on 2 cores); then the readers of the third round straight into their entry points, 50,000
# inputs each (benchmarks/fuzz_volume.py: chain file, --servername, the fleet modules' arguments, the
# published page, the catalog check's record, the state file; about 20 minutes).
# Usage: bash benchmarks/fuzz-volumes.sh [SCALE]       (SCALE 0.01 runs a hundredth of each volume)
#        bash benchmarks/fuzz-volumes.sh new [SCALE]   (only the entry-point readers)
set -uo pipefail
cd "$(dirname "$0")/.."
only_new=0
if [ "${1:-}" = new ]; then
  only_new=1
  shift
fi
scale="${1:-1}"
logs=$(mktemp -d)

volume() {  # the entry-point readers, one process after the other (each reader's table row)
  local n
  n=$(awk -v s="$scale" 'BEGIN { printf "%d", 50000 * s }')
  echo "=== entry-point readers: $n inputs each, started $(date +%T)"
  .venv/bin/python -m benchmarks.fuzz_volume all "$n"
}

if [ "$only_new" = 1 ]; then
  volume
  exit $?
fi

run() {  # reader volume: one pytest run of one reader; its hypothesis statistics and result
  local n out rc
  n=$(awk -v v="$2" -v s="$scale" 'BEGIN { printf "%d", v * s }')
  out="$logs/$1.out"
  echo "=== $1: $n inputs, started $(date +%T)"
  ROTATOR_FUZZ_EXAMPLES="$n" .venv/bin/python -m pytest -q -p no:cacheprovider --hypothesis-show-statistics \
    tests/robustness/test_fuzz.py -k "$1" >"$out" 2>&1
  rc=$?
  grep -E "passing|Stopped because|generate phase" "$out"
  tail -n 1 "$out"
  echo "=== $1: ended $(date +%T), exit $rc"
  return "$rc"
}

lane() {  # reader volume ...: run each in turn; fails when any failed
  local rc=0
  while (($# > 1)); do
    run "$1" "$2" || rc=1
    shift 2
  done
  return "$rc"
}

lane test_config 63400 test_jks 47300 test_der_candidate_root 30000 test_der_foreign_file 30000 >"$logs/a" 2>&1 &
a=$!
lane test_state 61100 test_pkcs12 46300 test_pem_bundle 46300 >"$logs/b" 2>&1 &
b=$!
status=0
wait "$a" || status=1
wait "$b" || status=1
cat "$logs/a" "$logs/b"
volume || status=1
echo "fuzz volumes: $([ "$status" = 0 ] && echo "every reader passed" || echo "FAILED")"
exit "$status"
