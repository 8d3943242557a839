"""The LIBERO worker: serves one LIBERO scene over stdin/stdout (sarl_ros.libero.protocol).

Started by sarl_ros.libero.client with the LIBERO venv's interpreter. Requests:
  info                         -> {'libero10': [...], 'libero90': [...]} (language + BDDL goal)
  build {suite, task, image_size, seed}
  reset {init, seed}           -> observation
  execute {predicates, budget} -> {'control_steps', 'grounded', 'observation'}
  idle {steps}                 -> hold still (tests the long-episode path)
  solve {budget}               -> the task's own goal as skills (smoke test)
  close
`python -m sarl_ros.libero.worker --check` builds LIBERO-10 task 0 once and exits.
"""
from __future__ import annotations

import sys
import time
import traceback


def _serve() -> int:
    from sarl_ros.libero import protocol
    from sarl_ros.libero.scene import LiberoScene, configure_rendering, suite_instructions

    configure_rendering()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Library chatter on stdout would corrupt the frames: route print() to stderr.
    sys.stdout = sys.stderr
    scene = None
    while True:
        try:
            request = protocol.receive(stdin)
        except protocol.ProtocolError:
            return 0
        op = request.get('op')
        try:
            if op == 'info':
                result = {'libero10': suite_instructions('libero_10'), 'libero90': suite_instructions('libero_90')}
            elif op == 'build':
                if scene is not None:
                    scene.close()
                scene = LiberoScene(request.get('suite', 'libero_10'), int(request['task']),
                                    int(request.get('image_size', 64)), int(request.get('seed', 0)))
                result = {'language': scene.language, 'goal': scene.goal, 'init_states': len(scene.init_states)}
            elif op == 'close':
                protocol.send(stdout, {'ok': True, 'result': None})
                return 0
            elif scene is None:
                raise RuntimeError(f'{op!r} before build')
            elif op == 'reset':
                result = scene.reset(int(request['init']), int(request.get('seed', 0)))
            elif op == 'execute':
                result = scene.execute(request['predicates'], int(request['budget']))
            elif op == 'idle':
                result = scene.idle(int(request['steps']))
            elif op == 'solve':
                result = scene.scripted_solve(int(request.get('budget', 1500)))
            else:
                raise ValueError(f'unknown op {op!r}')
            protocol.send(stdout, {'ok': True, 'result': result})
        except Exception as exc:  # report to the client, keep serving
            traceback.print_exc(file=sys.stderr)
            protocol.send(stdout, {'ok': False, 'error': f'{type(exc).__name__}: {exc}'})


def _check() -> int:
    from sarl_ros.libero.scene import LiberoScene, configure_rendering
    configure_rendering()
    started = time.monotonic()
    scene = LiberoScene('libero_10', 0, image_size=32)
    observation = scene.reset(0, 0)
    print(f'built and reset LIBERO-10 task 0 ({scene.language!r}) in {time.monotonic() - started:.1f} s; '
          f'image {observation["image"].shape}, {len(scene.init_states)} init states', file=sys.stderr)
    scene.close()
    return 0


if __name__ == '__main__':
    raise SystemExit(_check() if '--check' in sys.argv[1:] else _serve())
