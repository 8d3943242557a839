"""The node graph, described once for both `ros2 launch` and the sarl-graph launcher."""
