"""Every way of starting a node or a command agrees with the node list (sarl_ros.graph.description.NODES).

A node is started by the venv's console script (setup.py), by `ros2 run sarl_ros <executable>`
(scripts/ros2_run/, what colcon installs) and by sarl-graph (sarl_ros.graph.node_entry); the
commands by setup.py's console scripts and scripts/commands/. These are separate files, so a
node added, renamed or moved in one of them and not the others is caught here.
"""
from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
import types
from pathlib import Path
from unittest import mock

from sarl_ros.graph import description, node_entry

ROOT = Path(__file__).resolve().parents[2]
NODE_ENTRY = 'sarl_ros.graph.node_entry'


def console_scripts(setup_py: Path) -> dict[str, tuple[str, str]]:
    """Return setup.py's console scripts, name -> (module, attribute), as setup() would receive them.

    setup.py builds the node entries in code, so it is run, with a stand-in for setuptools that
    only records what setup() is given (nothing is built or installed).
    """
    given = {}
    stub = types.ModuleType('setuptools')
    stub.setup = lambda **kw: given.update(kw)
    stub.find_packages = lambda **kw: []
    with mock.patch.dict(sys.modules, {'setuptools': stub}):
        exec(compile(setup_py.read_text(), str(setup_py), 'exec'), {'__name__': '__main__'})
    scripts = {}
    for line in given['entry_points']['console_scripts']:
        name, _, target = (part.strip() for part in line.partition('='))
        module, _, attribute = target.partition(':')
        scripts[name] = (module, attribute)
    return scripts


def wrapper_target(path: Path) -> tuple[str, str, tuple]:
    """Return (module imported from, name imported, constant arguments of its call) of a wrapper script."""
    tree = ast.parse(path.read_text(), str(path))
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and any(n.func.id == alias.name for i in imports for alias in i.names)]
    if len(imports) != 1 or len(imports[0].names) != 1 or len(calls) != 1:
        return '', '', ()
    args = tuple(a.value if isinstance(a, ast.Constant) else None for a in calls[0].args)
    return imports[0].module, imports[0].names[0].name, args


def defines_main(module: str) -> bool:
    """Whether a module's source defines a top-level main() (read, not imported: some import a model)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return False
    tree = ast.parse(Path(spec.origin).read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == 'main' for n in tree.body)


def node_script_name(executable: str) -> str:
    return f'sarl-{executable.replace("_", "-")}-node'


def entry_point_problems(root: Path, nodes=description.NODES) -> list[str]:
    """Return one line per disagreement between the node list and the entry points under root."""
    problems = []
    scripts = console_scripts(root / 'setup.py')
    node_scripts = {name: t for name, t in scripts.items() if t[0] == NODE_ENTRY}
    commands = {name: t for name, t in scripts.items() if t[0] != NODE_ENTRY}
    by_executable = {n.executable: n for n in nodes}

    for node in nodes:
        name = node_script_name(node.executable)
        if name not in node_scripts:
            problems.append(f'setup.py: no console script {name} for node {node.name}')
            continue
        attribute = node_scripts[name][1]
        entry = getattr(node_entry, attribute, None)
        if entry is None or node_entry.MODULES.get(attribute) != node.module or entry.args != (node.executable,):
            problems.append(f'setup.py: {name} does not start {node.module}')
    for name in sorted(set(node_scripts) - {node_script_name(e) for e in by_executable}):
        problems.append(f'setup.py: console script {name} starts no node of the node list')

    ros2_run = root / 'scripts' / 'ros2_run'
    wrappers = {p.name: p for p in ros2_run.iterdir()} if ros2_run.is_dir() else {}
    for executable, node in by_executable.items():
        path = wrappers.get(executable)
        if path is None:
            problems.append(f'scripts/ros2_run: no {executable} for node {node.name}')
        elif wrapper_target(path) != (NODE_ENTRY, 'run', (executable,)):
            problems.append(f'scripts/ros2_run/{executable} does not run {NODE_ENTRY}.run({executable!r})')
        elif not path.stat().st_mode & 0o111:
            problems.append(f'scripts/ros2_run/{executable} is not executable')
    for executable in sorted(set(wrappers) - set(by_executable)):
        problems.append(f'scripts/ros2_run/{executable} is no node of the node list')

    command_dir = root / 'scripts' / 'commands'
    command_files = {p.name: p for p in command_dir.iterdir()} if command_dir.is_dir() else {}
    for name, (module, attribute) in commands.items():
        if attribute != 'main' or not defines_main(module):
            problems.append(f'setup.py: {name} points at {module}:{attribute}, which is no main()')
        path = command_files.get(name)
        if path is None:
            problems.append(f'scripts/commands: no {name} (setup.py has it)')
        elif wrapper_target(path) != (module, 'main', ()):
            problems.append(f'scripts/commands/{name} does not run {module}.main()')
        elif not path.stat().st_mode & 0o111:
            problems.append(f'scripts/commands/{name} is not executable')
    for name in sorted(set(command_files) - set(commands)):
        problems.append(f'scripts/commands/{name} is no console script of setup.py')
    return problems


def test_every_entry_point_agrees_with_the_node_list():
    assert entry_point_problems(ROOT) == []


def test_every_node_and_command_has_its_console_script():
    scripts = console_scripts(ROOT / 'setup.py')
    assert {node_script_name(n.executable) for n in description.NODES} <= set(scripts)
    assert {'sarl-graph', 'sarl-replay', 'sarl-demo', 'sarl-bench'} <= set(scripts)


def _copy(tmp_path: Path) -> Path:
    (tmp_path / 'scripts').mkdir()
    shutil.copy2(ROOT / 'setup.py', tmp_path / 'setup.py')
    for folder in ('ros2_run', 'commands'):
        shutil.copytree(ROOT / 'scripts' / folder, tmp_path / 'scripts' / folder)
    return tmp_path


def test_a_node_missing_from_setup_py_or_ros2_run_is_found(tmp_path):
    root = _copy(tmp_path)
    setup_py = root / 'setup.py'
    setup_py.write_text(setup_py.read_text().replace("    'reward': 'sarl_ros.nodes.reward_node',\n", ''))
    (root / 'scripts' / 'ros2_run' / 'camera').unlink()
    problems = entry_point_problems(root)
    assert 'setup.py: no console script sarl-reward-node for node reward' in problems
    assert 'scripts/ros2_run: no camera for node camera' in problems


def test_a_wrapper_or_command_pointing_elsewhere_is_found(tmp_path):
    root = _copy(tmp_path)
    wrapper = root / 'scripts' / 'ros2_run' / 'q_policy'
    wrapper.write_text(wrapper.read_text().replace("run('q_policy')", "run('reward')"))
    command = root / 'scripts' / 'commands' / 'sarl-replay'
    command.write_text(command.read_text().replace('sarl_ros.recording.cli', 'sarl_ros.apps.demo'))
    (root / 'scripts' / 'commands' / 'sarl-extra').write_text('from sarl_ros.apps.demo import main\nmain()\n')
    problems = entry_point_problems(root)
    assert "scripts/ros2_run/q_policy does not run sarl_ros.graph.node_entry.run('q_policy')" in problems
    assert 'scripts/commands/sarl-replay does not run sarl_ros.recording.cli.main()' in problems
    assert 'scripts/commands/sarl-extra is no console script of setup.py' in problems


def test_a_node_whose_module_moved_is_found(tmp_path):
    moved = tuple(n if n.name != 'recorder' else type(n)(**{**vars(n), 'module': 'sarl_ros.nodes.elsewhere'})
                  for n in description.NODES)
    problems = entry_point_problems(_copy(tmp_path), moved)
    assert problems == ['setup.py: sarl-recorder-node does not start sarl_ros.nodes.elsewhere']
