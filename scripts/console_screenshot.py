#!/usr/bin/env python3
"""Screenshot of the operator console during a simulated run (docs/images/operator_console.png).

Starts `sarl-graph` on the simulator with the console on a free port and operator resets
(reset_mode:=operator), confirms each reset over the console's API until some episodes are done,
and photographs the page with headless Chromium while the run waits for the next reset: the
"needs you" line, the history and both success curves are on it.

    ./sarl run python scripts/console_screenshot.py [--episodes 12] [--after 8]
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from sarl_ros.console.browser import headless_chromium, missing_browser
from sarl_ros.graph.launcher import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--episodes', type=int, default=12)
    parser.add_argument('--after', type=int, default=8, help='photograph once this many episodes are done')
    parser.add_argument('--task', default='sushi_to_pot')
    parser.add_argument('--out', type=Path, default=ROOT / 'docs' / 'images' / 'operator_console.png')
    parser.add_argument('--size', default='1280x1500', help='browser window WIDTHxHEIGHT')
    args = parser.parse_args()
    reason = missing_browser()
    if reason:
        print(f'console_screenshot: {reason}', file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix='sarl_console_'))
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    port = free_port()
    config['operator_console']['ros__parameters']['port'] = port
    config['operator_console']['ros__parameters']['keyboard'] = False
    (work / 'config.yaml').write_text(yaml.safe_dump(config))
    graph = subprocess.Popen([sys.executable, '-m', 'sarl_ros.graph.launcher', '--config', str(work / 'config.yaml'),
                              f'episodes:={args.episodes}', f'task:={args.task}', f'output_dir:={work / "run"}',
                              'reset_mode:=operator', f'console_port:={port}'],
                             stdout=(work / 'graph.log').open('w'), stderr=subprocess.STDOUT,
                             env=dict(os.environ, PYTHONUNBUFFERED='1'))
    url = f'http://127.0.0.1:{port}/'
    try:
        deadline = time.monotonic() + 600
        done = 0
        while done < args.after:
            if graph.poll() is not None or time.monotonic() > deadline:
                print(f'console_screenshot: the graph ended early; see {work / "graph.log"}', file=sys.stderr)
                return 1
            try:
                view = httpx.get(url + 'api/state', timeout=2).json()
                done = view['episodes_done']
                if done < args.after and (view['needs'] or {}).get('what') == 'reset':
                    httpx.post(url + 'api/reset/confirm', json={}, timeout=10)  # the operator's `r`
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        width, height = (int(v) for v in args.size.split('x'))
        browser = headless_chromium(width, height)
        try:
            browser.set_window_size(width, height)  # below 500 px only after start (Chromium's minimum)
            browser.get(url)
            end = time.monotonic() + 30
            while time.monotonic() < end and not browser.execute_script(
                    "const i = document.getElementById('camera');"
                    "return document.querySelectorAll('#curve circle').length > 0 && i.complete && i.naturalWidth > 0"
                    " && !document.getElementById('needs').hidden"
                    " && document.getElementById('learner').textContent !== '–'"
                    " && document.querySelectorAll('#history td.strip img').length > 0"):
                time.sleep(0.2)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(args.out))
        finally:
            browser.quit()
        print(f'wrote {args.out} ({done} episodes done)')
        return 0
    finally:
        if graph.poll() is None:
            graph.send_signal(signal.SIGINT)
            try:
                graph.wait(timeout=30)
            except subprocess.TimeoutExpired:
                graph.kill()


if __name__ == '__main__':
    raise SystemExit(main())
