"""Test-session isolation: each run talks ROS 2 only to itself, on localhost."""
import os
import random

# Set before any rclpy import, so in-process nodes and spawned processes share it.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random().randint(1, 100)))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_LOG_DIR', os.path.join(os.environ.get('TMPDIR', '/tmp'), 'sarl_ros_test_logs'))
os.environ.setdefault('HOME', '/tmp')
os.environ.setdefault('MPLBACKEND', 'Agg')

import itertools  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))  # fault_proxy


class Spinner:
    """Spin nodes on a background thread; wait for conditions with a deadline.

    Rule: every entity of a node is created before add() hands the node to the spinning
    executor. rclpy registers an ActionClient with its node before the client has its lock,
    so one created on a node that another thread spins can crash that thread ("'ActionClient'
    object has no attribute '_lock'"). The helpers below give each test-side entity its own
    new node, built completely before it is added.
    """

    def __init__(self):
        from rclpy.executors import MultiThreadedExecutor
        self.executor = MultiThreadedExecutor(num_threads=6)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.nodes = []
        self._peers = itertools.count(1)

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        if not self.thread.is_alive():
            self.thread.start()
        return node

    def own(self, node):
        """Destroy node at the end of the test without spinning it (a node that only publishes)."""
        self.nodes.append(node)
        return node

    def _peer(self, build):
        import rclpy
        node = rclpy.create_node(f'test_peer_{next(self._peers)}')
        entity = build(node)
        self.add(node)
        return entity

    def client(self, srv_type, name):
        """Return a service client (on its own node, spun from now on)."""
        return self._peer(lambda node: node.create_client(srv_type, name))

    def action_client(self, action_type, name):
        """Return an action client (on its own node, spun from now on)."""
        from rclpy.action import ActionClient
        return self._peer(lambda node: ActionClient(node, action_type, name))

    def subscribe(self, msg_type, topic, qos=10, raw=False) -> list:
        """Return a list that receives every message of topic from now on."""
        received = []
        self._peer(lambda node: node.create_subscription(msg_type, topic, received.append, qos, raw=raw))
        return received

    def publisher(self, msg_type, topic, qos=10):
        """Return a publisher (on its own node)."""
        return self._peer(lambda node: node.create_publisher(msg_type, topic, qos))

    @staticmethod
    def wait_for(condition, timeout=20.0, what='condition'):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.01)
        raise AssertionError(f'timed out waiting for {what}')

    def call(self, client, request, timeout=15.0):
        assert client.wait_for_service(timeout_sec=timeout), f'{client.srv_name} unavailable'
        future = client.call_async(request)
        self.wait_for(future.done, timeout, f'{client.srv_name} to answer')
        return future.result()


SHIPPED_GRAPH_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    'config', 'widowx_sarl.yaml')


@pytest.fixture
def graph_config(tmp_path):
    """Return write(changes): a parameters file for sarl-graph --config, the shipped one with changes.

    Always: the operator console on a free port (0). The shipped 8080 collides with any other
    graph on the machine, e.g. a test run side by side, and the console's exit stops the graph.
    Unless changes say otherwise, the Q-policy gets the hashing encoder: loading the sentence
    transformer costs every q_policy start 5 s of CPU (15 s on a loaded machine). One test
    (the end-to-end graph run) keeps the shipped encoder. changes: {node: {parameter: value}}.
    """
    import yaml

    def write(changes=None, name='graph_params.yaml'):
        with open(SHIPPED_GRAPH_CONFIG) as f:
            config = yaml.safe_load(f)
        config['operator_console']['ros__parameters']['port'] = 0
        config['q_policy']['ros__parameters']['encoder'] = 'hashing'
        for node, params in (changes or {}).items():
            config[node]['ros__parameters'].update(params)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        return path
    return write


@pytest.fixture
def ros():
    """Return a Spinner inside an initialised rclpy context (skips without the ROS 2 wheels)."""
    rclpy = pytest.importorskip('rclpy', reason='needs the ROS 2 wheels: run ./sarl test')
    rclpy.init()
    spinner = Spinner()
    yield spinner
    spinner.executor.shutdown()
    if spinner.thread.is_alive():
        # Destroying nodes while the spin thread still builds a wait set fails in that thread.
        spinner.thread.join(timeout=10)
    for node in spinner.nodes:
        close = getattr(node, 'close', None)
        if close is not None:
            close()
        node.destroy_node()
    rclpy.try_shutdown()


@pytest.fixture
def faulty_server():
    """Return start(server, plan, then=None) -> base URL: serve `server` behind scripted faults.

    `server` has serve_forever/shutdown/server_close and server_address (http.server or
    sarl-vla-server's PolicyServer); the faults are those of fault_proxy.FaultProxy, and
    `server.proxy.requests` counts the requests that reached the proxy.
    """
    from fault_proxy import FaultProxy
    started = []

    def start(server, plan=(), then=None):
        proxy = FaultProxy(tuple(server.server_address[:2]), plan, then)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, proxy, thread))
        server.proxy = proxy
        return proxy.url

    yield start
    for server, proxy, thread in started:
        proxy.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
