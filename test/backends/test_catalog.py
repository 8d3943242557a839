"""The one table of backends: what the launch arguments offer, the nodes accept and the factories build."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from sarl_ros.backends import catalog
from sarl_ros.graph import description
from sarl_ros.graph.launch_plan import check_arguments

HEAVY = ('torch', 'transformers', 'cv2', 'interbotix_xs_modules', 'interbotix_common_modules')


def test_every_role_is_a_launch_argument_offering_the_table_s_names():
    arguments = {a.name: a for a in description.LAUNCH_ARGUMENTS}
    for role in catalog.ROLES:
        assert arguments[role].choices == catalog.names(role), role
    assert arguments['robot'].choices == ('sim', 'widowx')
    assert arguments['detector'].choices == ('sim', 'vlm', 'none')
    assert arguments['camera'].choices == ('relay', 'opencv')


def test_every_backend_is_built_or_served_and_its_options_have_a_prefix():
    for backend in catalog.BACKENDS:
        assert backend.argument in catalog.ROLES
        assert (backend.factory is None) == bool(backend.served_by), backend
        if backend.options is not None:
            assert fields(backend.options), backend
    keys = [(b.argument, b.name) for b in catalog.BACKENDS]
    assert len(keys) == len(set(keys))


def test_the_simulated_backends_are_in_the_table():
    assert {(b.argument, b.name) for b in catalog.BACKENDS} >= {
        ('robot', 'sim'), ('vla', 'sim'), ('vlm', 'sim'), ('detector', 'sim'), ('detector', 'none'),
        ('camera', 'relay')}


def test_the_node_tables_are_the_catalog_s_backends():
    assert [b.name for b in catalog.EXECUTOR_BACKENDS] == ['sim', 'widowx', 'sim', 'openvla', 'remote', 'openpi']
    assert {b.argument for b in catalog.PROPOSER_BACKENDS} == {'vlm'}
    assert {b.argument for b in catalog.DETECTOR_BACKENDS} == {'detector'}


def test_only_the_vlas_that_drive_the_simulated_arm_go_with_robot_sim():
    assert catalog.SIM_ARM_VLAS == ('sim', 'openpi')
    assert check_arguments({'robot': 'sim', 'vla': 'openpi'})['vla'] == 'openpi'
    with pytest.raises(ValueError, match='vla:=remote needs camera images of a real scene'):
        check_arguments({'robot': 'sim', 'vla': 'remote'})


def test_an_unknown_or_unbuilt_backend_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown VLA backend 'gpt'; choose one of \['openpi', 'openvla', 'remote'\]"):
        catalog.make_vla('gpt')
    # The camera node serves relay itself: there is nothing to build.
    with pytest.raises(ValueError, match=r"unknown camera backend 'relay'; choose one of \['opencv'\]"):
        catalog.make_camera('relay')
    with pytest.raises(ValueError, match=r"unknown detector backend 'x'; choose one of \['none', 'sim', 'vlm'\]"):
        catalog.backend('detector', 'x')
    assert catalog.backend('detector', 'none').served_by
    # The simulated robot is a whole stack around its world, not a robot to combine with another VLA.
    assert catalog.STACK_ROBOTS == ('sim',)
    with pytest.raises(ValueError, match=r"unknown robot backend 'sim'; choose one of \['widowx'\]"):
        catalog.make_robot('sim')
    with pytest.raises(ValueError, match=r"unknown robot backend 'widowx'; choose one of \['sim'\]"):
        catalog.make_stack('widowx')


def test_the_table_and_the_simulator_import_no_model_library():
    # What the simulator graph imports to read the table and build its backends: no torch, transformers,
    # OpenCV or Interbotix (a robot computer's GPU stack is not needed to run the simulator).
    code = ('import sys\n'
            'from sarl_ros.backends import catalog\n'
            'import sarl_ros.graph.description\n'
            'catalog.make_proposer("sim", seed=0)\n'
            f'print(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'
