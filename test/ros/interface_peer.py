"""A separate process for the cross-process interface test.

Publishes a sample of every sarl_ros message type on /interface_test/<Type> until killed,
and serves sarl_ros/srv/ProposePrompts on /interface_test/propose, answering with one
candidate per history entry, so the caller can check the request crossed intact.
"""
import sys

import rclpy
from rclpy.node import Node

from sarl_ros import msg as sarl_msg
from sarl_ros.srv import ProposePrompts
from sarl_ros.msg import SemanticAction
from sarl_ros.rosutil.qos import LATCHED

sys.path.insert(0, __file__.rsplit('/', 1)[0])
from message_samples import sample  # noqa: E402

MESSAGE_TYPES = sorted(n for n in dir(sarl_msg) if not n.startswith('_') and n[0].isupper())


def main():
    rclpy.init()
    node = Node('interface_peer')
    pubs = []
    for name in MESSAGE_TYPES:
        cls = getattr(sarl_msg, name)
        pub = node.create_publisher(cls, f'/interface_test/{name}', LATCHED)
        pub.publish(sample(cls, seed=5))
        pubs.append(pub)

    def propose(request, response):
        response.success = True
        response.message = f'{request.task}|{request.image.width}x{request.image.height}'
        response.candidates = [SemanticAction(prompt=f'{h} again', source=SemanticAction.SOURCE_VLM)
                               for h in request.history]
        response.vlm_scores = [float(x) for x in request.state_features]
        return response

    node.create_service(ProposePrompts, '/interface_test/propose', propose)
    print('ready', flush=True)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
