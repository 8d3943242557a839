"""A VLA on another machine: the client of sarl-vla-server or of OpenVLA's own deploy server (httpx)."""
from __future__ import annotations

import json
import logging
import time

import numpy as np

from sarl_ros.backends import wire
from sarl_ros.backends.action_tokens import ACTION_DIM
from sarl_ros.backends.retry import backoff_delay

log = logging.getLogger(__name__)

SKILL_DONE_HEADER = 'X-SARL-Skill-Done'
ERROR_HEADER = 'X-SARL-Error'
ERROR_KIND_HEADER = 'X-SARL-Error-Kind'


class RemoteVLAError(RuntimeError):
    """The policy server could not be reached or answered with an error."""


class NoHealthEndpoint(RemoteVLAError):
    """The server answers but has no /health: OpenVLA's deploy.py (it serves only POST /act)."""


class RemoteVLA:
    """The VLA interface over HTTP, with a timeout per request and retries on transient failures.

    Connection errors, timeouts and 5xx answers are retried (an /act request has no side
    effect on the server); a 4xx answer is the client's fault and raised at once.
    """

    # The /act wire format carries no latent noise, so DSRL refuses it (core.executor.require_latent_noise).
    accepts_noise = False

    def __init__(self, url: str = 'http://127.0.0.1:8777', unnorm_key: str | None = 'bridge_orig',
                 timeout_s: float = 10.0, retries: int = 2, backoff_s: float = 0.25,
                 image_size: int | None = None, check_health: bool = True, token: str | None = None):
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
        import httpx
        self._httpx = httpx
        # One keep-alive connection (httpx sets TCP_NODELAY): no handshake per action.
        headers = {'Content-Type': 'application/json'}
        if token:  # the server's bearer token (sarl-vla-server --token-env); never logged
            headers['Authorization'] = f'Bearer {token}'
        self._client = httpx.Client(base_url=self.url, timeout=self.timeout_s, headers=headers)
        if check_health:
            try:
                log.info('policy server %s: %s', self.url, self.health())
            except NoHealthEndpoint:
                log.info('policy server %s is up; it has no /health (an OpenVLA deploy.py server)', self.url)
            except RemoteVLAError as exc:  # the server may start after the robot side; act() will retry
                log.warning('policy server not reachable yet: %s', exc)

    def health(self) -> dict:
        """Return the server's /health document; NoHealthEndpoint from a server without one (OpenVLA's deploy.py)."""
        try:
            body, _ = self._request('GET', '/health', None, retries=0)
        except RemoteVLAError as exc:
            if 'HTTP 404' in str(exc):
                raise NoHealthEndpoint(f'{self.url} answers but has no /health (an OpenVLA deploy.py server?)') \
                    from None
            raise
        return json.loads(body)

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

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
        body, headers = self._request('POST', '/act', wire.dumps(payload).encode('utf-8'), act=True)
        self.last_latency_s = time.perf_counter() - start
        action = _parse_action(body)
        self._skill_done = headers.get(SKILL_DONE_HEADER, '0').strip() == '1'
        return action

    def _prepare(self, image: np.ndarray | None) -> np.ndarray | None:
        if image is None:
            return None
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if self.image_size:  # as OpenVLA's Bridge evaluation prepares frames (the server then leaves them)
            from sarl_ros.backends.openvla import prepare_bridge_image
            image = prepare_bridge_image(image, self.image_size)
        return image

    def _request(self, method: str, path: str, data: bytes | None, retries: int | None = None, act: bool = False):
        retries = self.retries if retries is None else retries
        httpx = self._httpx
        last_error = ''
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(backoff_delay(self.backoff_s, attempt))
            try:
                response = self._client.request(method, path, content=data)
            except httpx.TimeoutException as exc:
                last_error = f'timed out ({type(exc).__name__})'
            except httpx.TransportError as exc:
                last_error = f'{type(exc).__name__}: {exc}'
            else:
                if response.status_code >= 500 or response.status_code == 429:
                    last_error = f'HTTP {response.status_code}: {_error_detail(response)}'
                elif response.status_code >= 400:
                    raise RemoteVLAError(f'{method} {self.url}{path}: HTTP {response.status_code}: '
                                         f'{_error_detail(response)}')
                elif act and _is_upstream_error(response.content):
                    # Upstream answers a failure as 200 "error"; our server says why and whose fault.
                    kind = response.headers.get(ERROR_KIND_HEADER, '')
                    reason = response.headers.get(ERROR_HEADER, '')
                    if kind != 'inference':
                        raise RemoteVLAError(f'the policy server at {self.url} answered "error": '
                                             f'{reason or "no reason given (OpenVLA deploy.py: see its log)"}')
                    last_error = f'inference failed: {reason}'
                else:
                    return response.content, response.headers
            log.warning('%s %s%s failed (attempt %d of %d): %s', method, self.url, path, attempt + 1,
                        retries + 1, last_error)
        raise RemoteVLAError(f'{method} {self.url}{path} failed after {retries + 1} attempts '
                             f'(timeout {self.timeout_s} s each): {last_error}')


def _is_upstream_error(body: bytes) -> bool:
    return body.strip() == b'"error"'


def _error_detail(response) -> str:
    try:
        value = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(value, dict):
        return str(value.get('error') or value.get('detail') or value)[:300]
    return str(value)[:300]


def _parse_action(body: bytes) -> np.ndarray:
    try:
        value = wire.loads(body)
        if isinstance(value, str):  # the answer to a double-encoded request: json-numpy text in a string
            value = wire.loads(value)
    except ValueError as exc:
        raise RemoteVLAError(f'the policy server answered with something that is not an action: {exc}') from None
    if isinstance(value, dict) and 'action' in value:  # servers that wrap the array
        value = value['action']
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
    parser.add_argument('--token-env', default='SARL_VLA_TOKEN',
                        help="Environment variable holding the server's bearer token (unset: none)")
    args = parser.parse_args(argv)
    import os
    client = RemoteVLA(url=args.url, unnorm_key=args.unnorm_key, timeout_s=args.timeout_s,
                       image_size=args.image_size or None, check_health=False,
                       token=os.environ.get(args.token_env, '') or None)
    try:
        print('health:', json.dumps(client.health()))
    except NoHealthEndpoint as exc:
        print(f'health: {exc}; checking /act directly')
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
