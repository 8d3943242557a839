"""Backends behind small interfaces: robot, camera, VLA, VLM, success detector."""
