#!/usr/bin/env bash
# The campaign engine on a real Slurm (issue 19): starts a single-node cluster with
# scripts/slurm-local, submits a simulate campaign of 8 shards into a folder whose name holds a
# space, quotes and $(...), kills one running task with SIGKILL, requeues it, and checks that the
# merged result equals the single-process run point for point (nothing lost, nothing twice); then a
# --runner cpu profile campaign; then that `attnio submit --dry-run` is accepted by
# `sbatch --test-only`. Exit 77 (ctest: skipped) with the reason when Slurm cannot start here; the
# outcome is written to WORK/result for .ci/run, which requires "passed".
#   usage: campaign_on_slurm.sh ATTNIO SOURCE_DIR WORK_DIR
set -euo pipefail
attnio="$1" src="$2" work="$3"
rm -rf "$work"
mkdir -p "$work"
result="$work/result"
say() { echo "[slurm-test $(date +%T)] $*"; }
skip() { say "SKIP: $*"; echo "skipped: $*" >"$result"; exit 77; }
fail() { say "FAIL: $*"; echo "failed: $*" >"$result"; exit 1; }

export ATTNIO_SLURM_DIR="$work/cluster"
[ "$(id -u)" -eq 0 ] || skip "not root: scripts/slurm-local needs root to install and start munge, slurmctld and slurmd"
if ! "$src/scripts/slurm-local" start --cpus 2 >"$work/start.log" 2>&1; then
  cat "$work/start.log"
  skip "Slurm did not start here: $(tail -1 "$work/start.log")"
fi
trap '"$src/scripts/slurm-local" stop >/dev/null 2>&1 || true' EXIT
export SLURM_CONF="$ATTNIO_SLURM_DIR/slurm.conf"
say "$(sinfo -h -o '%P %D nodes %c CPUs %T')"

# Wait until none of the given jobs is in the queue (at most $2 s).
wait_jobs() {
  local jobs="$1" limit="$2" t=0
  while [ -n "$(squeue -h -j "$jobs" -o %i 2>/dev/null)" ]; do
    sleep 0.5
    t=$((t + 1))
    [ $t -le $((limit * 2)) ] || { squeue; fail "jobs $jobs still queued after ${limit} s"; }
  done
}
records() { [ -f "$1" ] && echo $(($(wc -l <"$1") - 1)) || echo 0; }

# ---- 1. a simulate campaign of 8 shards, one task killed and requeued -----------------------------
cat >"$work/sim.json" <<'SPEC'
{"description": "slurm test: simulate campaign",
 "sweeps": [{"variant": "flash2,standard,flash1", "seq": "1024:8192:x2", "batch": "1,2", "heads": "16,32"},
            {"variant": "flash-decoding,paged", "phase": "decode", "seq": "4096,16384,65536", "batch": "1,8"}]}
SPEC
dir="$work/camp aign 'q' \$(touch PWNED)"
out="$("$attnio" submit --spec "$work/sim.json" --dir "$dir" --tasks 8 --kind simulate --job-name attnio-test)"
say "$out"
array="$(sed -n 's/^submitted array job \([0-9]*\).*merge job \([0-9]*\).*/\1/p' <<<"$out")"
merge="$(sed -n 's/^submitted array job \([0-9]*\).*merge job \([0-9]*\).*/\2/p' <<<"$out")"
[ -n "$array" ] && [ -n "$merge" ] || fail "no job ids in: $out"

# Kill a task that is running and has written at least one record but not all of its shard.
victim=""
for _ in $(seq 600); do
  for task in $(squeue -h -j "$array" -t RUNNING -o %K 2>/dev/null); do
    f="$(printf '%s/shards/shard-%03d.jsonl' "$dir" "$task")"
    [ -f "$f" ] || continue
    dealt="$(head -1 "$f" | grep -o '"shard_points":\[[^]]*\]' | tr -cd ',' | wc -c)"
    done_n="$(records "$f")"
    if [ "$done_n" -ge 1 ] && [ "$done_n" -le "$dealt" ]; then victim="$task"; break 2; fi
  done
  sleep 0.1
done
[ -n "$victim" ] || fail "no task was seen running with a partial shard"
before="$(records "$(printf '%s/shards/shard-%03d.jsonl' "$dir" "$victim")")"
scancel --signal=KILL "${array}_${victim}"
for _ in $(seq 100); do
  state="$(squeue -h -j "${array}_${victim}" -o %T 2>/dev/null || true)"
  [ "$state" != "RUNNING" ] && [ "$state" != "COMPLETING" ] && break
  sleep 0.1
done
say "killed task $victim (SIGKILL) after $before record(s); state now '${state:-gone}'"
scontrol requeue "${array}_${victim}" || fail "scontrol requeue ${array}_${victim} failed"
# Slurm holds a requeued job back for a while (its begin time moves ahead); start it now.
scontrol update JobId="${array}_${victim}" StartTime=now >/dev/null 2>&1 || true
say "requeued task $victim"
wait_jobs "$array,$merge" 600
say "merge job log:"
cat "$dir/logs/merge.log"
grep -q "campaign complete: " "$dir/logs/merge.log" || fail "the merged campaign is not complete"
grep -q "restart 1" "$dir/logs/task-$victim.log" || fail "task $victim did not run again after the requeue"
[ ! -e "$work/PWNED" ] && [ ! -e "$dir/PWNED" ] || fail "a \$(...) in the folder name was executed"

# The same plan in one process: every record equal (merge refuses one id with two results).
"$attnio" sweep --spec "$work/sim.json" --simulate --out "$work/single.jsonl" >/dev/null 2>&1
"$attnio" merge "$work/check.jsonl" "$dir/merged.jsonl" "$work/single.jsonl" >"$work/check.out" ||
  { cat "$work/check.out"; fail "the Slurm campaign differs from the single-process run"; }
n_merged="$(records "$dir/merged.jsonl")" n_single="$(records "$work/single.jsonl")"
[ "$n_merged" -eq "$n_single" ] || fail "merged $n_merged records, the single run $n_single"
say "simulate campaign: $n_merged records, equal to the single-process run point for point"

# ---- 2. a --runner cpu profile campaign -----------------------------------------------------------
cat >"$work/prof.json" <<'SPEC'
{"sweeps": [{"variant": "flash2,standard", "seq": "128,256,512", "heads": "4", "head-dim": "64"}]}
SPEC
pdir="$work/profile campaign"
out="$("$attnio" submit --spec "$work/prof.json" --dir "$pdir" --tasks 3 --kind profile --runner cpu)"
say "$out"
pjobs="$(sed -n 's/^submitted array job \([0-9]*\).*merge job \([0-9]*\).*/\1,\2/p' <<<"$out")"
wait_jobs "$pjobs" 300
cat "$pdir/logs/merge.log"
grep -q "campaign complete: 6 of 6" "$pdir/logs/merge.log" || fail "the profile campaign is not complete"
"$attnio" submit --status "$pdir" || fail "submit --status says the profile campaign is incomplete"

# ---- 3. the dry-run script is one sbatch accepts ------------------------------------------------------
"$attnio" submit --spec "$work/sim.json" --dir "$work/dry run" --tasks 8 --partition local --time 00:05:00 --dry-run >"$work/dry.sbatch"
sbatch --test-only --chdir="$work/dry run" "$work/dry.sbatch" 2>&1 | tee "$work/test-only.out"
grep -q "to start at" "$work/test-only.out" || fail "sbatch --test-only refused the dry-run script"

echo "passed: simulate campaign of $n_merged points in 8 shards (task $victim killed with SIGKILL and requeued), profile campaign of 6 points, sbatch --test-only" >"$result"
say "PASSED"
