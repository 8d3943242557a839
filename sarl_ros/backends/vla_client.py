"""A VLA on another machine: the client of sarl-vla-server (or of OpenVLA's REST deploy server)."""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

import numpy as np

from sarl_ros.backends import wire
from sarl_ros.backends.action_tokens import ACTION_DIM

log = logging.getLogger(__name__)

SKILL_DONE_HEADER = 'X-SARL-Skill-Done'


class RemoteVLAError(RuntimeError):
    """The policy server could not be reached or answered with an error."""


class RemoteVLA:
    """The VLA interface over HTTP, with a timeout per request and retries on transient failures.

    Connection errors, timeouts and 5xx answers are retried (an /act request has no side
    effect on the server); a 4xx answer is the client's fault and raised at once.
    """

    # The /act wire format carries no latent noise, so DSRL refuses it (core.executor.require_latent_noise).
    accepts_noise = False

    def __init__(self, url: str = 'http://127.0.0.1:8777', unnorm_key: str | None = 'bridge_orig',
                 timeout_s: float = 10.0, retries: int = 2, backoff_s: float = 0.25,
                 image_size: int | None = None, check_health: bool = True):
        if not url.startswith(('http://', 'https://')):
            raise ValueError(f'vla_server_url must start with http:// or https://, got {url!r}')
        if timeout_s <= 0 or retries < 0:
            raise ValueError(f'need timeout_s > 0 and retries >= 0, got {timeout_s}, {retries}')
        self.url = url.rstrip('/')
        self.unnorm_key = unnorm_key or None
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        # Downscale frames before sending (OpenVLA's processor resizes to 224 anyway): less bandwidth.
        self.image_size = image_size
        self._skill_done = False
        self._reset_supported = True
        self.last_latency_s = 0.0
        if check_health:
            try:
                log.info('policy server %s: %s', self.url, self.health())
            except RemoteVLAError as exc:  # the server may start after the robot side; act() will retry
                log.warning('policy server not reachable yet: %s', exc)

    def health(self) -> dict:
        """Return the server's /health document."""
        body, _ = self._request('GET', '/health', None, retries=0)
        return json.loads(body)

    def reset(self) -> None:
        """Tell the server a new prompt starts (OpenVLA's own server has no /reset: ignored)."""
        self._skill_done = False
        if not self._reset_supported:
            return
        try:
            self._request('POST', '/reset', b'{}')
        except RemoteVLAError as exc:
            if '404' in str(exc):
                self._reset_supported = False
                log.info('the policy server has no /reset (an OpenVLA deploy server): stateless')
            else:
                raise

    def skill_done(self) -> bool:
        """Return whether the server's backend reported the skill finished at the last act()."""
        return self._skill_done

    def act(self, image: np.ndarray | None, instruction: str, proprio: np.ndarray | None = None) -> np.ndarray:
        """Return the server's 7-D action for the image and command."""
        payload = {'instruction': instruction, 'image': self._prepare(image)}
        if self.unnorm_key:
            payload['unnorm_key'] = self.unnorm_key
        if proprio is not None:
            payload['proprio'] = np.asarray(proprio, dtype=np.float64)
        start = time.perf_counter()
        body, headers = self._request('POST', '/act', wire.dumps(payload).encode('utf-8'))
        self.last_latency_s = time.perf_counter() - start
        action = _parse_action(body)
        self._skill_done = headers.get(SKILL_DONE_HEADER, '0').strip() == '1'
        return action

    def _prepare(self, image: np.ndarray | None) -> np.ndarray | None:
        if image is None:
            return None
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if self.image_size and image.shape[:2] != (self.image_size, self.image_size):
            from PIL import Image
            image = np.asarray(Image.fromarray(image).resize((self.image_size, self.image_size), Image.BILINEAR))
        return image

    def _request(self, method: str, path: str, data: bytes | None, retries: int | None = None):
        retries = self.retries if retries is None else retries
        last_error = ''
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(self.url + path, data=data, method=method,
                                             headers={'Content-Type': 'application/json'})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return response.read(), dict(response.headers)
            except urllib.error.HTTPError as exc:
                detail = _error_detail(exc)
                if exc.code < 500:
                    raise RemoteVLAError(f'{method} {self.url}{path}: HTTP {exc.code}: {detail}') from None
                last_error = f'HTTP {exc.code}: {detail}'
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, 'reason', exc)
                last_error = f'{type(reason).__name__}: {reason}'
            log.warning('%s %s%s failed (attempt %d of %d): %s', method, self.url, path, attempt + 1,
                        retries + 1, last_error)
        raise RemoteVLAError(f'{method} {self.url}{path} failed after {retries + 1} attempts '
                             f'(timeout {self.timeout_s} s each): {last_error}')


def _error_detail(exc) -> str:
    try:
        text = exc.read().decode('utf-8', 'replace')
        return json.loads(text).get('error', text)
    except Exception:  # noqa: BLE001 - the detail is best effort
        return str(exc.reason)


def _parse_action(body: bytes) -> np.ndarray:
    try:
        value = wire.loads(body)
    except ValueError as exc:
        raise RemoteVLAError(f'the policy server answered with something that is not an action: {exc}') from None
    if isinstance(value, dict) and 'action' in value:  # servers that wrap the array
        value = value['action']
    if isinstance(value, str):  # OpenVLA's deploy server answers "error" on failure
        raise RemoteVLAError(f'the policy server reported: {value!r}')
    action = np.asarray(value, dtype=np.float64).reshape(-1)
    if action.shape != (ACTION_DIM,) or not np.all(np.isfinite(action)):
        raise RemoteVLAError(f'the policy server sent an invalid action {action!r}')
    return action


def main(argv=None) -> int:
    """Check a policy server from the robot side: health, then the latency of N actions."""
    import argparse
    import statistics
    parser = argparse.ArgumentParser(prog='python -m sarl_ros.backends.vla_client', description=main.__doc__)
    parser.add_argument('--url', default='http://127.0.0.1:8777')
    parser.add_argument('--unnorm-key', default='bridge_orig')
    parser.add_argument('--instruction', default='pick up the cup')
    parser.add_argument('--size', type=int, nargs=2, default=(480, 640), metavar=('H', 'W'),
                        help='Size of the synthetic test frame')
    parser.add_argument('--image-size', type=int, default=0, help='Downscale before sending (0: no)')
    parser.add_argument('-n', type=int, default=20, help='Number of /act requests')
    parser.add_argument('--timeout-s', type=float, default=30.0)
    args = parser.parse_args(argv)
    client = RemoteVLA(url=args.url, unnorm_key=args.unnorm_key, timeout_s=args.timeout_s,
                       image_size=args.image_size or None, check_health=False)
    print('health:', json.dumps(client.health()))
    frame = np.random.default_rng(0).integers(0, 256, size=(*args.size, 3), dtype=np.uint8)
    latencies = []
    for _ in range(max(1, args.n)):
        action = client.act(frame, args.instruction)
        latencies.append(client.last_latency_s * 1000)
    latencies.sort()
    print(f'action: {np.round(action, 4).tolist()}')
    print(f'/act latency over {len(latencies)} calls: median {statistics.median(latencies):.1f} ms, '
          f'p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms, max {latencies[-1]:.1f} ms')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
