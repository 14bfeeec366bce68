#!/usr/bin/env bash
# The long run of the reliability tests: every reader fuzzed with N examples (default 2000; CI runs 60),
# SIGKILL at every write point of every store kind (CI samples 8 per kind), hostile downloads and races.
# Usage: bash benchmarks/reliability.sh [EXAMPLES_PER_READER]
set -euo pipefail
cd "$(dirname "$0")/.."
export ROTATOR_FUZZ_EXAMPLES="${1:-2000}" ROTATOR_CRASH_POINTS=all
exec .venv/bin/python -m pytest -q -p no:cacheprovider --hypothesis-show-statistics \
  tests/robustness/test_fuzz.py tests/robustness/test_crash_points.py tests/robustness/test_bounded_time.py tests/robustness/test_concurrency.py \
  tests/robustness/test_hostile_input.py
