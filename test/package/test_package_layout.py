"""The package as colcon, ros2 run and ros2 launch see it, kept consistent with the code."""
import ast
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from sarl_ros.core.config import config_class
from sarl_ros import node_configs  # noqa: F401 - registers the node configs
from sarl_ros.graph import description

ROOT = Path(__file__).resolve().parents[2]


def setup_py_tables():
    tree = ast.parse((ROOT / 'setup.py').read_text())
    tables = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            tables[node.targets[0].id] = ast.literal_eval(node.value)
    return tables


def test_package_xml_is_format_3_ament_cmake_with_interfaces():
    root = ET.parse(ROOT / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'sarl_ros'
    assert root.find('export/build_type').text == 'ament_cmake'
    assert 'rosidl_interface_packages' in [e.text for e in root.findall('member_of_group')]
    buildtools = {e.text for e in root.findall('buildtool_depend')}
    assert {'ament_cmake', 'ament_cmake_python', 'rosidl_default_generators'} <= buildtools
    cmake = (ROOT / 'CMakeLists.txt').read_text()
    assert 'rosidl_generate_interfaces' in cmake
    assert re.search(r'<version>([^<]+)</version>', (ROOT / 'package.xml').read_text()).group(1) \
        == re.search(r"version='([^']+)'", (ROOT / 'setup.py').read_text()).group(1)


def cmake_code():
    """Return CMakeLists.txt without its comments."""
    return '\n'.join(line.split('#', 1)[0] for line in (ROOT / 'CMakeLists.txt').read_text().splitlines())


def test_python_package_is_installed_without_a_second_ament_python_install_package():
    # rosidl_generate_interfaces already calls ament_python_install_package(sarl_ros) for the
    # generated interfaces on humble, jazzy and kilted; a second call fails colcon's configure.
    code = cmake_code()
    assert 'ament_python_install_package' not in code
    python_install = r'install\(DIRECTORY \$\{PROJECT_NAME\}/\s+DESTINATION \$\{PYTHON_INSTALL_DIR\}/\$\{PROJECT_NAME\}'
    assert re.search(python_install, code)
    assert re.search(r'install\(PROGRAMS \$\{_node_scripts\} DESTINATION lib/\$\{PROJECT_NAME\}\)', code)
    assert re.search(r'install\(DIRECTORY launch config DESTINATION share/\$\{PROJECT_NAME\}\)', code)


def test_package_xml_declares_what_the_launch_file_runs():
    root = ET.parse(ROOT / 'package.xml').getroot()
    run = {e.text for e in root.findall('exec_depend')} | {e.text for e in root.findall('depend')}
    assert {'launch', 'launch_ros', 'ament_index_python', 'ros2bag', 'rosbag2_storage_mcap',
            'interbotix_xsarm_control', 'rclpy'} <= run
    test_depends = {e.text for e in root.findall('test_depend')}
    # colcon configures with BUILD_TESTING on: the PyPI environment must have what that finds.
    assert 'ament_cmake_pytest' in test_depends
    assert 'ros-ament-cmake-pytest' in (ROOT / 'requirements' / 'ros.txt').read_text()


def test_package_xml_declares_the_web_stack_the_nodes_import():
    """rosdep installs what package.xml names: the console, the VLA server and the VLM client import these."""
    root = ET.parse(ROOT / 'package.xml').getroot()
    run = {e.text for e in root.findall('exec_depend')}
    sources = {path: path.read_text() for path in (ROOT / 'sarl_ros').rglob('*.py')}
    keys = {'fastapi': 'python3-fastapi', 'uvicorn': 'python3-uvicorn', 'openai': 'python3-openai-pip'}
    for module, key in keys.items():
        assert any(re.search(rf'^\s*(import|from) {module}\b', text, re.M) for text in sources.values()), module
        assert key in run, key
    assert 'python3-selenium' in {e.text for e in root.findall('test_depend')}


def test_every_node_is_declared_everywhere():
    nodes = {n.executable: n.module for n in description.NODES}
    assert setup_py_tables()['NODES'] == nodes
    ros2_run = {p.name: p.read_text() for p in (ROOT / 'scripts' / 'ros2_run').iterdir()}
    assert set(ros2_run) == set(nodes)
    for name, text in ros2_run.items():
        assert f"run('{name}')" in text and 'from sarl_ros.graph.node_entry import run' in text
    config = yaml.safe_load((ROOT / 'config' / 'widowx_sarl.yaml').read_text())
    assert set(config) == {n.name for n in description.NODES}


def documented_commands() -> set[str]:
    """Return the `sarl-...` commands README.md and docs/ name (not the `--sarl-option` flag)."""
    texts = [ROOT / 'README.md', *sorted((ROOT / 'docs').rglob('*.md'))]
    return {m for path in texts for m in re.findall(r'(?<![-\w])sarl-[a-z]+(?:-[a-z]+)*', path.read_text())}


def test_every_documented_command_exists_in_both_installs():
    """The venv gets setup.py's console scripts; colcon installs scripts/commands/ into bin and lib/sarl_ros."""
    commands = setup_py_tables()['COMMANDS']
    assert {'sarl-graph', 'sarl-replay'} <= documented_commands() <= set(commands)
    scripts = {p.name: p for p in (ROOT / 'scripts' / 'commands').iterdir()}
    assert set(scripts) == set(commands)
    for name, path in scripts.items():
        assert f'from {commands[name]} import main' in path.read_text() and path.stat().st_mode & 0o111, name
    cmake = (ROOT / 'CMakeLists.txt').read_text()
    assert 'scripts/commands/*' in cmake and 'DESTINATION bin' in cmake


@pytest.mark.parametrize('node', description.NODES, ids=lambda n: n.executable)
def test_node_executable_starts_with_help(node):
    script = ROOT / 'scripts' / 'ros2_run' / node.executable
    out = subprocess.run([sys.executable, str(script), '--help'], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f'ros2 run sarl_ros {node.executable}' in out.stdout
    for spec in config_class('node', node.name).settings():
        assert f'  {spec.name} (' in out.stdout


@pytest.mark.parametrize('node', description.NODES, ids=lambda n: n.executable)
def test_config_file_holds_every_parameter_default(node):
    config = yaml.safe_load((ROOT / 'config' / 'widowx_sarl.yaml').read_text())
    values = config[node.name]['ros__parameters']
    specs = config_class('node', node.name).settings()
    assert list(values) == [spec.name for spec in specs]
    for spec in specs:
        assert values[spec.name] == spec.default and type(values[spec.name]) is type(spec.default), spec.name
        assert not spec.choices or spec.default in spec.choices


def test_launch_arguments_target_declared_parameters():
    for arg in description.LAUNCH_ARGUMENTS:
        for node_name, param in arg.targets.items():
            assert any(n.name == node_name for n in description.NODES), node_name
            spec = next((s for s in config_class('node', node_name).settings() if s.name == param), None)
            assert spec is not None, f'{arg.name} targets undeclared {node_name}.{param}'
            assert type(spec.default) is arg.value_type, f'{arg.name} type differs from {node_name}.{param}'
            assert set(arg.choices) == set(spec.choices), arg.name
            assert description.parse_value(arg.default, arg.value_type) == spec.default, arg.name


def test_launch_file_builds_the_graph_from_the_description():
    source = (ROOT / 'launch' / 'widowx_sarl.launch.py').read_text()
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {'LAUNCH_ARGUMENTS', 'plan_graph', 'judge_exit', 'Node', 'DeclareLaunchArgument', 'OpaqueFunction',
            'OnProcessExit', 'INTERBOTIX_PACKAGE'} <= imported
    assert any(isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description' for n in tree.body)
    assert "'wx250s'" in source
    # No launch conditions: LaunchConfigurationEquals warns on kilted, EqualsSubstitution is
    # missing on humble; the OpaqueFunction decides on resolved values instead.
    assert 'launch.conditions' not in modules and 'LaunchConfigurationEquals' not in source


def test_style_flake8():
    out = subprocess.run([sys.executable, '-m', 'flake8', 'sarl_ros', 'test', 'launch', 'scripts', 'setup.py',
                          'benchmarks'], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_style_pep257():
    out = subprocess.run([sys.executable, '-m', 'pydocstyle', 'sarl_ros', 'launch'], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
