"""Recording SARL runs as rosbag2 and analysing them offline (sarl-replay).

Reading a bag, plotting, exporting and re-training need no ROS installation: only the
pure-Python `rosbags` library. Recording and playing back need rclpy.
"""
