#!/usr/bin/env bash
# Run the whole suite N times in a row (default 3) while a busy loop holds one CPU core at normal
# priority: the load condition of issue 13. Stops at the first failing pass; prints each pass's time.
#   scripts/suite_under_load.sh [N] [pytest args]
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
passes=${1:-3}
[ $# -gt 0 ] && shift
python3 -c 'while True: pass' &
busy=$!
trap 'kill $busy 2>/dev/null' EXIT
for i in $(seq 1 "$passes"); do
  start=$(date +%s)
  "$repo/sarl" test -q -p no:cacheprovider "$@" > "$repo/.build/suite_pass_$i.log" 2>&1
  rc=$?
  echo "pass $i/$passes: exit $rc in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg): $(tail -1 "$repo/.build/suite_pass_$i.log")"
  [ $rc = 0 ] || exit $rc
done
