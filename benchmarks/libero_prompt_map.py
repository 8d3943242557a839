"""Which LIBERO-90 skill each command of the simulated VLM runs as, per LIBERO-10 task.

For every LIBERO-10 task: its steps as the simulated VLM phrases them (all variants), the nearest
LIBERO-90 instruction (the skill the base policy executes) and the cosine similarity. Markdown on
stdout. Needs `./sarl setup --libero` (the instructions come from the package's BDDL files).

  ./sarl run python benchmarks/libero_prompt_map.py [--encoder minilm] > docs/results/libero10/prompt_map.md
"""
from __future__ import annotations

import argparse

from sarl_ros.libero.client import LiberoWorker
from sarl_ros.libero.libero_vlm import LOW_LEVEL, _variants, task_steps
from sarl_ros.libero.repertoire import Libero90Repertoire


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--encoder', default='auto')
    args = parser.parse_args()
    with LiberoWorker() as worker:
        info = worker.call('info')
    repertoire = Libero90Repertoire(info['libero90'], encoder=args.encoder)
    print(f'# LIBERO-10 commands -> nearest LIBERO-90 skill (encoder: {repertoire.encoder.name}, '
          f'{len(repertoire.instructions)} distinct LIBERO-90 instructions)\n')
    for index, task in enumerate(info['libero10']):
        print(f'## {index}: {task["language"]}\n\nBDDL goal: `{task["goal"]}`\n')
        print('| command | nearest LIBERO-90 instruction | cos | its goal |\n|---|---|---|---|')
        prompts = [task["language"]] + [p for step in task_steps(task["language"]) for p, _ in _variants(step)]
        prompts += list(LOW_LEVEL)
        for prompt in dict.fromkeys(prompts):
            skill = repertoire.nearest(prompt)
            goal = '; '.join(' '.join(p) for p in skill.goal)
            print(f'| {prompt} | {skill.instruction} | {skill.similarity:.2f} | {goal} |')
        print()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
