"""Thin helpers shared by the ROS nodes: imports, QoS, parameters, conversions."""
