#!/usr/bin/env bash
# The pre-registered runs of docs/results/sarl_paper/PROTOCOL.md, in order; each resumes where it stopped.
#   benchmarks/sarl_paper.sh [A1|B|A2|C|D|E ...]   (default: all, in this order)
# Part A runs in two halves (A1: seeds 0-2, A2: 101-103; the same settings), so that all four tasks
# have results early; benchmarks/sarl_paper_report.py reads both as one run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/results/sarl_paper
common=(--episodes 100 --eval-at 0,30,60,100 --eval-episodes 20 --jobs 2 --baseline-pool 32)
run() { local part=$1; shift; echo "== part $part: $*"; ./sarl bench "${common[@]}" "$@" --out "$out/$part"; }
for part in "${@:-A1 B A2 C D E}"; do
  for p in $part; do
    case $p in
      A1) run A1 --tasks paper --reset paper_like --methods fixed,random,icl,sarl,sarl_nodemo,sarl_blind --seed-list 0,1,2 ;;
      A2) run A2 --tasks paper --reset paper_like --methods fixed,random,icl,sarl,sarl_nodemo,sarl_blind --seed-list 101,102,103 ;;
      B) run B --tasks paper --reset paper_like --methods sarl_text,sarl_textprompt,sarl_nopool,sarl_e1,sarl_noopt,sarl_nobudget,sarl_oracle --seed-list 0,1,2 ;;
      C) run C --tasks held_out_paper --reset paper_like --methods fixed,random,icl,sarl,sarl_nodemo,sarl_blind --seed-list 0,1,2 ;;
      D) run D --tasks paper --reset repaint --methods fixed,random,icl,sarl,sarl_nodemo --seed-list 0,1,2 ;;
      E) run E --tasks hammer_plate_mushroom --reset paper_like --methods sarl_sep_cnn --seed-list 0,1,2 ;;
      *) echo "unknown part $p (A1 A2 B C D E)" >&2; exit 2 ;;
    esac
  done
done
