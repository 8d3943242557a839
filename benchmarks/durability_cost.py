"""Print what making a stored transition durable costs per decision, side by side in one run.

Each decision stores one transition with the Q-policy before it is acknowledged. Compared:
  memory only         policy.record (what a kill loses: everything since the last checkpoint)
  WAL, no flush       + append to the write-ahead log in Python's buffer (lost on a kill)
  WAL, flush          + write() to the kernel (survives a killed process)
  WAL, fsync          + fsync (survives a power cut; the Q-policy's default, wal_sync:=fsync)
  checkpoint          save the whole policy (weights, optimiser, replay) instead of a log,
                      at two replay sizes: its cost grows with the run
Realistic transitions: 25 state features (the simulator's), 9 next candidates of ~6 words.

Run: ./sarl run python benchmarks/durability_cost.py [--dir runs/bench_durability] [--repeats 300]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sarl_ros.core.durability.checkpoint import save_checkpoint
from sarl_ros.core.mdp import Transition
from sarl_ros.core.methods import make_policy
from sarl_ros.core.durability.wal import TransitionLog

STATE_DIM = 25
PROMPTS = [f'move the gripper over object number {i}' for i in range(40)]


def transitions(n: int, seed: int = 0) -> list[Transition]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        nxt = tuple(PROMPTS[j] for j in rng.choice(len(PROMPTS), 9, replace=False))
        out.append(Transition(state=rng.normal(size=STATE_DIM).astype(np.float32), prompt=PROMPTS[i % len(PROMPTS)],
                              reward=float(i % 7 == 0), next_state=rng.normal(size=STATE_DIM).astype(np.float32),
                              next_prompts=nxt, terminal=False, control_steps=12, episode=1 + i // 8, step=i % 8))
    return out


def policy_with(n: int):
    policy = make_policy('sarl', seed=0, encoder='hashing')
    for t in transitions(n, seed=1):
        policy.record(t)
    policy.update(8)  # optimiser state exists, as in a real run
    return policy


def timed(store, data) -> list[float]:
    times = []
    for t in data:
        start = time.perf_counter()
        store(t)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def row(name: str, times: list[float], baseline: float | None) -> str:
    median = statistics.median(times)
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    extra = f'{median - baseline:+8.3f}' if baseline is not None else '        '
    return f'{name:<34} {median:9.3f} {p95:9.3f}  {extra}'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dir', type=Path, default=Path('runs/bench_durability'),
                        help='where the log and checkpoints are written (use the disk your runs use)')
    parser.add_argument('--repeats', type=int, default=300, help='transitions stored per variant')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    data = transitions(args.repeats, seed=2)
    policy_with(10)  # warm up torch and the encoder outside the timings

    results = []
    memory = policy_with(50)
    results.append(('memory only (policy.record)', timed(memory.record, data)))
    for sync in ('none', 'flush', 'fsync'):
        policy, log = policy_with(50), TransitionLog(args.dir / f'{sync}.wal', sync=sync)

        def store(t, policy=policy, log=log):
            policy.record(t)
            log.append(t)
        results.append((f'+ WAL append, sync={sync}', timed(store, data)))
        log.close()
    for replay in (500, 5000):
        policy = policy_with(replay)
        path = args.dir / f'checkpoint_{replay}.pt'

        def store(t, policy=policy, path=path):
            policy.record(t)
            save_checkpoint(policy, path)
        results.append((f'+ checkpoint, replay {replay}', timed(store, data[:max(20, args.repeats // 10)])))

    baseline = statistics.median(results[0][1])
    print(f'cost of storing one transition durably ({args.repeats} transitions, {STATE_DIM} features, '
          f'9 next candidates; files in {args.dir})')
    print(f'{"variant":<34} {"median ms":>9} {"p95 ms":>9}  {"+ms vs memory":>8}')
    for i, (name, times) in enumerate(results):
        print(row(name, times, None if i == 0 else baseline))
    size = (args.dir / 'fsync.wal').stat().st_size
    print(f'write-ahead log: {size / args.repeats:.0f} bytes per transition')
    shutil.rmtree(args.dir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
