"""Policy checkpoints: one torch file with a format version, the method, its kwargs and full state.

Writes are atomic (a temporary file in the same directory, fsync, os.replace), so a crash mid-write
leaves the previous checkpoint intact. Files are read with torch.load(weights_only=True): they hold
only tensors and plain Python values, so loading never runs pickled code.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

FORMAT = 'sarl_ros.policy'
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint exists but cannot be used (corrupt, another format or version)."""


def save_checkpoint(policy, path, extra: dict | None = None) -> Path:
    """Write the policy's state to path atomically; return the path.

    extra: plain values stored beside the state (e.g. how many write-ahead-log records it holds).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {'format': FORMAT, 'format_version': FORMAT_VERSION, 'method': policy.name,
               'kwargs': dict(policy.kwargs), 'state': policy.state_dict(), 'extra': dict(extra or {})}
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_checkpoint(path) -> dict:
    """Return the raw checkpoint payload after checking format and version."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no checkpoint at {path}')
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise CheckpointError(f'checkpoint {path} is corrupt or not a sarl_ros checkpoint: {exc}') from exc
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
        raise CheckpointError(f'{path} is not a sarl_ros policy checkpoint')
    version = payload.get('format_version')
    if version != FORMAT_VERSION:
        raise CheckpointError(f'checkpoint {path} has format version {version}; this sarl_ros reads version '
                              f'{FORMAT_VERSION}')
    return payload


def load_checkpoint(path):
    """Return the policy saved at path, ready to continue (same decisions and updates as before saving)."""
    return load_checkpoint_with_extra(path)[0]


def load_checkpoint_with_extra(path):
    """Return (policy, extra) of a checkpoint; extra is {} for checkpoints written without one."""
    from sarl_ros.core.methods import make_policy

    payload = read_checkpoint(path)
    kwargs = dict(payload['kwargs'])
    try:
        policy = make_policy(payload['method'], **kwargs)
        policy.load_state_dict(payload['state'])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f'checkpoint {path} is incomplete: {exc!r}') from exc
    return policy, dict(payload.get('extra') or {})
