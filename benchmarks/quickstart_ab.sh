#!/usr/bin/env bash
# Whole-process cost of `textrobust quickstart` at another revision (old) vs this checkout (new), alternated
# A B B A so that a load that drifts during the runs weighs on both sides; prints one row per run and the ratio.
#   benchmarks/quickstart_ab.sh 06c2fb7            (needs .venv from `make install`; ~35 min on 2 CPU cores)
# Environment: THREADS (torch threads per run, default 1: on a shared machine 2 threads can be many times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:?usage: benchmarks/quickstart_ab.sh GIT_REV}
OLD=$(mktemp -d /tmp/textrobust-qs-old.XXXX)
trap 'git worktree remove --force "$OLD" >/dev/null 2>&1 || true' EXIT
git worktree add -q --detach "$OLD" "$REV"
export OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
declare -A total=([old]=0 [new]=0)
printf "| run | tree | seconds | exit | load before |\n|---|---|---|---|---|\n"
i=0
for side in old new new old; do
  i=$((i + 1))
  src=$([ "$side" = old ] && echo "$OLD/src" || echo "$PWD/src")
  out=$(mktemp -d /tmp/textrobust-qs-run.XXXX)
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  rc=0
  PYTHONPATH=$src .venv/bin/python -m textrobust quickstart -o "$out/run" > "$out/log" 2>&1 || rc=$?
  s=$(echo "$(date +%s.%N) - $t0" | bc)
  total[$side]=$(echo "${total[$side]} + $s" | bc)
  printf "| %d | %s (%s) | %.1f | %d | %s |\n" "$i" "$side" "$([ "$side" = old ] && echo "$REV" || git rev-parse --short HEAD)" "$s" "$rc" "$load"
  rm -rf "$out"
done
printf "\nnew / old, summed over the two runs of each: %.3f\n" "$(echo "${total[new]} / ${total[old]}" | bc -l)"
