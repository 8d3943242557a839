"""The operator's console: a web page and single keys to watch, label, reset and stop the robot.

ROS-free: `state` holds what the page shows, `web` serves it (FastAPI + uvicorn), `keys` reads
single keys on a terminal; sarl_ros.nodes.operator_console_node connects them to the graph.
"""
