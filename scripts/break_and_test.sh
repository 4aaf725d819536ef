#!/usr/bin/env bash
# Break one line at a time in a clean clone of this repository (its committed HEAD), run the tests meant to
# catch it, print which failed, and restore: a test file that still passes against its mutation checks too
# little.  Usage: bash scripts/break_and_test.sh   (about 2 minutes; nothing in this checkout is changed)
set -u
repo="$(cd "$(dirname "$0")/.." && pwd)"; work="$(mktemp -d)/clone"
git clone -q "$repo" "$work" && cd "$work"
mutate() {  # name, file, old text, new text, test files...
  local name="$1" file="$2" old="$3" new="$4"; shift 4
  python - "$file" "$old" "$new" <<'PY' || { echo "$name: MUTATION NOT APPLIED"; return; }
import sys, pathlib
p = pathlib.Path(sys.argv[1]); s = p.read_text(); assert sys.argv[2] in s, "pattern missing"
p.write_text(s.replace(sys.argv[2], sys.argv[3], 1))
PY
  local log; log=$(timeout 900 python -m pytest -q -rf -p no:cacheprovider "$@" 2>&1)
  echo "$name ($*): $(echo "$log" | tail -1)"
  echo "$log" | grep "^FAILED" | sed -e "s/ - .*//" -e "s/^FAILED /    caught by /"
  git checkout -q -- .
}
mutate "detector keeps grain" world/detector.py "            continue  # pixels of every color" "            pass  # pixels of every color" tests/test_judge_robustness.py
mutate "detector ignores background tint" world/detector.py "mean = core.mean(axis=0) - background" "mean = core.mean(axis=0)" tests/test_judge_robustness.py
mutate "fid 1% off" evaluation/metrics/fid.py "    return float(diff.dot(diff) + np.trace(sigma1)" "    return 1.01 * float(diff.dot(diff) + np.trace(sigma1)" tests/test_metric_references.py
mutate "linear instead of cosine" models/diffusion/schedule.py "beta_schedule=SCHEDULES[self.name]" "beta_schedule='linear'" tests/test_diffusion_math.py
mutate "planner swallows crashes" models/text/planner_llm.py "call_failures: tuple[type[BaseException], ...] = ()" "call_failures: tuple[type[BaseException], ...] = (Exception,)" tests/test_planner.py
mutate "guidance sign flipped" models/diffusion/guidance.py "return (1 - scale) * eps_uncond + scale * eps_cond" "return (1 + scale) * eps_uncond - scale * eps_cond" tests/test_shipped_models.py
mutate "gan ignores psi" models/gan/family.py "x = self.network(z * truncation, pooled)" "x = self.network(z, pooled)" tests/test_gan.py
