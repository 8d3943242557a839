"""rosbag2 I/O of SARL runs: crash-safe writing, reading damaged bags, decoding, repair, play-back.

Nothing here knows about episodes or learning; the analysis (sarl_ros.recording) builds on it.
"""
