#!/usr/bin/env bash
# The quick evaluation run, here and at an earlier commit, back to back in alternating order (A B, B A), with
# each pair's ratio: the figure to trust on a shared host. Usage: bash scripts/quick_run_vs.sh REV [PAIRS]
# (about 8 minutes a pair on 2 cores at REV 5e8466b, the code before batched generation).
set -euo pipefail
rev="${1:?usage: quick_run_vs.sh REV [PAIRS]}"; pairs="${2:-2}"
here="$(cd "$(dirname "$0")/.." && pwd)"; scratch="$(mktemp -d)"
git -C "$here" worktree add -q "$scratch/then" "$rev"
trap 'git -C "$here" worktree remove --force "$scratch/then"; rm -rf "$scratch"' EXIT
seconds() {  # tree -> wall seconds of the quick run there, into a fresh folder
  rm -rf "$scratch/out"; local start; start=$(date +%s.%N)
  (cd "$1" && python -m evaluation run --models ddpm,ldm,dit,gan --guidance 1,3,5 --prompts shapes-quick --n 2 \
     --out "$scratch/out" > "$scratch/log" 2>&1) || { tail -3 "$scratch/log"; exit 1; }
  echo "$(date +%s.%N) - $start" | bc
}
for i in $(seq "$pairs"); do
  if (( i % 2 )); then now=$(seconds "$here"); then_=$(seconds "$scratch/then")
  else then_=$(seconds "$scratch/then"); now=$(seconds "$here"); fi
  printf "pair %d: %s %.1f s, %s %.1f s, x%.2f\n" "$i" "$rev" "$then_" "$(git -C "$here" rev-parse --short HEAD)" "$now" \
    "$(echo "$then_ / $now" | bc -l)"
done
