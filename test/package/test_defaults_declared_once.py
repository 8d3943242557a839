"""A default is declared once: in its config field, not again in a signature, a Param, a flag or a launch argument.

Every option of a method, a backend or a node is a field of a config class (sarl_ros.core.config). This test
reads the source of sarl_ros/, launch/ and scripts/ and fails, naming file:line, wherever a literal default is
written for a name that is such a field: a function's keyword parameter, a `Param(...)`, an argparse
`add_argument(..., default=...)`, or a `LaunchArgument(...)`. Class bodies (the config classes themselves,
and the settings they are made of) are not signatures and are not read.
"""
from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ('sarl_ros', 'launch', 'scripts')

# Where a config field's name is given a literal default that is not a second declaration of the field's.
# A key is a name (anywhere), a file and a name ('path:name'), a file or a directory ('path/'); the value says why.
ALLOWED: dict[str, str] = {
    'seed': "every random stream takes a seed, 0 by convention; a run's seed is always given by its driver",
    'width': 'pixel sizes of many different images (renders, thumbnails, browser windows), not a camera request',
    'height': 'pixel sizes of many different images (renders, thumbnails, browser windows), not a camera request',
    'device': "the torch device of small local encoders (cpu), not the VLA's or the VLM's device",
    'greedy': "a per-call switch of select() and run_episode(), not the episode manager's run-wide setting",
    'max_decisions': "0 is the 'budget not given' value of begin_episode() and resolve_task(), as in the nodes",
    'timeout_s': "waits of many unrelated calls (a server's stop, a page load); each node's are its own fields",
    'host': "sockets of unrelated servers and probes (a free-port check); the nodes' are their own fields",
    'port': "sockets of unrelated servers and probes (a free-port check); the nodes' are their own fields",
    'sarl_ros/backends/': 'adapters to external models and servers, usable without the graph, and the servers\' '
                          'own CLIs; the nodes pass every option from the option classes (options_for), so these '
                          'defaults never decide what the graph runs',
    'scripts/console_screenshot.py': "a screenshot scenario with its own task and length, not the graph's",
    'sarl_ros/core/proposals.py:memory_size': "the proposal cache's memory of useful prompts, not icl's of episodes",
    'sarl_ros/core/sarl/learner.py:control_steps': "a stored transition's own count of control steps",
    'sarl_ros/libero/scene.py:image_size': 'the LIBERO render size, not the size frames are sent to a VLA server at',
    'sarl_ros/rosutil/images.py:frame_id': 'a conversion helper for frames without a camera of their own; the camera '
                                           'node passes its frame_id (rosutil cannot import the node configs)',
    'sarl_ros/sim/ros_stack.py:state_featurizer': 'the simulator stack used directly (tests, tools); the executor '
                                                  'passes its parameter, and the simulator cannot import the node '
                                                  'configs (the backends import the simulator)',
}


def allowed(duplicate: Duplicate) -> bool:
    path = duplicate.where.rsplit(':', 1)[0]
    return any(key in ALLOWED for key in (duplicate.name, path, f'{path}:{duplicate.name}')) or \
        any(key.endswith('/') and path.startswith(key) for key in ALLOWED)


class Duplicate(NamedTuple):
    where: str  # file:line
    name: str
    kind: str  # 'parameter', 'Param', 'flag' or 'LaunchArgument'

    def __str__(self) -> str:
        return f'{self.where}: {self.kind} {self.name} has a literal default; take it from its config field'


def config_field_names() -> set[str]:
    """Return the field names of every registered config (methods, nodes) and every backend's options."""
    import sarl_ros.core.methods  # noqa: F401 - registers the method configs
    import sarl_ros.node_configs  # noqa: F401 - registers the node configs
    from sarl_ros.backends.catalog import DETECTOR_BACKENDS, EXECUTOR_BACKENDS, PROPOSER_BACKENDS
    from sarl_ros.core.config import KINDS, registered

    names = {spec.name for kind in KINDS for cls in registered(kind).values() for spec in cls.settings()}
    for backend in EXECUTOR_BACKENDS + PROPOSER_BACKENDS + DETECTOR_BACKENDS:
        if backend.options is not None:
            names.update(f.name for f in fields(backend.options))
    return names


def is_literal(node: ast.AST | None) -> bool:
    """A written-out value (a number, a string, a tuple of them...), not a name that refers to a declaration.

    None and '' are no default (they mean: unset, the callee or its config decides).
    """
    if node is None or (isinstance(node, ast.Constant) and node.value in (None, '')):
        return False
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ''


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _flag_dest(call: ast.Call) -> str:
    dest = _keyword(call, 'dest')
    if isinstance(dest, ast.Constant):
        return str(dest.value)
    for arg in call.args:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith('--'):
            return arg.value[2:].replace('-', '_')
    return ''


def duplicates_in(source: str, filename: str, names: set[str]) -> Iterator[Duplicate]:
    """Yield every literal default given to one of `names` in a Python source."""
    for node in ast.walk(ast.parse(source, filename)):
        where = f'{filename}:{getattr(node, "lineno", 0)}'
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg, default in pairs:
                if arg.arg in names and is_literal(default):
                    yield Duplicate(f'{filename}:{arg.lineno}', arg.arg, 'parameter')
        elif isinstance(node, ast.Call):
            called = _call_name(node)
            if called == 'Param' and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant):
                if node.args[0].value in names and is_literal(node.args[1]):
                    yield Duplicate(where, node.args[0].value, 'Param')
            elif called == 'add_argument':
                dest = _flag_dest(node)
                if dest in names and is_literal(_keyword(node, 'default')):
                    yield Duplicate(where, dest, 'flag')
            elif called == 'LaunchArgument' and node.args and isinstance(node.args[0], ast.Constant):
                name = node.args[0].value
                # The old form LaunchArgument(name, default, description, ...) or a default by keyword.
                given = [_keyword(node, 'default'), _keyword(node, 'own_default')]
                if len(node.args) >= 3:
                    given.append(node.args[1])
                if name in names and any(is_literal(value) for value in given):
                    yield Duplicate(where, name, 'LaunchArgument')


def scan(names: set[str]) -> list[Duplicate]:
    found = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob('*.py')):
            rel = str(path.relative_to(ROOT))
            found += [d for d in duplicates_in(path.read_text(), rel, names) if not allowed(d)]
    return found


def test_no_default_is_declared_twice():
    duplicates = scan(config_field_names())
    assert not duplicates, 'defaults declared outside their config field:\n' + '\n'.join(map(str, duplicates))


def test_the_field_names_cover_methods_nodes_and_backends():
    # a method's (icl), sarl_text's learner, the Q-policy node's, a backend option of the executor
    assert {'memory_size', 'activation', 'wal_sync', 'unnorm_key', 'temperature', 'updates_per_decision'} <= \
        config_field_names()


def test_every_allowed_entry_names_a_field_or_a_path_and_says_why():
    names = config_field_names()
    for key, reason in ALLOWED.items():
        path, _, name = key.rpartition(':') if ':' in key else ('', '', key)
        if key.endswith('/') or (not name and path):
            assert (ROOT / key).exists(), key
        elif path:
            assert (ROOT / path).is_file() and name in names, key
        else:
            assert key in names or (ROOT / key).exists(), f'{key} is no config field: drop it from ALLOWED'
        assert len(reason.split()) >= 8, f'say why {key} is allowed'


def test_an_allowed_name_does_not_hide_other_names():
    assert allowed(Duplicate('sarl_ros/core/x.py:1', 'seed', 'parameter'))
    assert allowed(Duplicate('sarl_ros/backends/openvla.py:3', 'temperature', 'parameter'))
    assert not allowed(Duplicate('sarl_ros/core/x.py:1', 'temperature', 'parameter'))
    assert not allowed(Duplicate('sarl_ros/apps/demo.py:9', 'temperature', 'flag'))  # only its episodes, output_dir
    assert allowed(Duplicate('scripts/console_screenshot.py:4', 'task', 'flag'))


PLANTED = '''
import argparse
from sarl_ros.graph.description import LaunchArgument
from sarl_ros.rosutil.params import Param

TEMPERATURE = 0.2


def choose(prompts, *, temperature=0.2, top=3):
    return prompts[:top]


def fine(prompts, *, temperature=TEMPERATURE, gamma=None):
    return prompts


class Node:
    def __init__(self, pool_capacity=32):
        self.params = (Param('gamma', 0.9, 'discount'),)


parser = argparse.ArgumentParser()
parser.add_argument('--lr', type=float, default=1e-3)
parser.add_argument('--rate', dest='tau', default=-0.5)
parser.add_argument('--episodes-to-run', default=3)
ARGS = (LaunchArgument('seed', '0', 'Random seed', int), LaunchArgument('record', 'x', own_default='false'),
        LaunchArgument('method', 'the method', targets={'q_policy': 'method'}))
'''


def test_the_scanner_finds_a_planted_duplicate_of_each_kind(tmp_path):
    planted = tmp_path / 'planted.py'
    planted.write_text(PLANTED)
    names = {'temperature', 'gamma', 'pool_capacity', 'lr', 'tau', 'seed', 'method'}
    found = sorted((d.name, d.kind, d.where.rsplit(':', 1)[1]) for d in duplicates_in(PLANTED, str(planted), names))
    assert found == [('gamma', 'Param', '19'), ('lr', 'flag', '23'), ('pool_capacity', 'parameter', '18'),
                     ('seed', 'LaunchArgument', '26'), ('tau', 'flag', '24'), ('temperature', 'parameter', '9')]
    assert str(Duplicate('planted.py:9', 'temperature', 'parameter')).startswith('planted.py:9: parameter temperature')


@pytest.mark.parametrize('source, literal', [('x = 0.2', True), ('x = -1', True), ('x = (1, 2)', True),
                                             ('x = None', False), ("x = ''", False), ('x = NAME', False),
                                             ('x = f(1)', False), ('x = A.b', False)])
def test_literal_means_written_out(source, literal):
    assert is_literal(ast.parse(source).body[0].value) is literal
