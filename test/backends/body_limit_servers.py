"""The operator console's app and the policy server in one process, for the body-size tests (not a test module).

Prints `<console url> <policy server url>`, serves until a line arrives on stdin, then prints the
operator commands and VLA calls that reached the code behind the routes (none should, for a refused body).
"""
import sys
import threading

import numpy as np

from sarl_ros.backends.vla_server import make_server
from sarl_ros.console.state import ConsoleState
from sarl_ros.console.web import ConsoleServer

CALLS = []


class Operator:
    def report_outcome(self, success):
        CALLS.append('outcome')
        return 'ok'

    def confirm_reset(self):
        CALLS.append('reset')
        return 'ok'

    def set_paused(self, paused):
        CALLS.append('pause')
        return 'ok'

    def emergency_stop(self, engage, reason):
        CALLS.append('estop')
        return 'ok'

    def correct_outcome(self, episode, success):
        CALLS.append('correct')
        return 'ok'

    def correct_last(self):
        CALLS.append('correct last')
        return 'ok'

    def demonstrate(self, prompt, typed):
        CALLS.append('demonstrate')
        return 'ok'


class StillVLA:
    def act(self, image, instruction, proprio):
        CALLS.append('act')
        return np.zeros(7)

    def skill_done(self):
        return False

    def reset(self):
        CALLS.append('vla reset')


def main():
    console = ConsoleServer(ConsoleState(), Operator(), port=0)
    console.start()
    if not console.wait_started():
        raise SystemExit('the console did not start')
    vla = make_server(StillVLA(), port=0)
    threading.Thread(target=vla.serve_forever, daemon=True).start()
    print(console.url, vla.url, flush=True)
    sys.stdin.readline()
    print(' '.join(CALLS) or '-', flush=True)
    vla.shutdown()
    console.stop()


if __name__ == '__main__':
    main()
