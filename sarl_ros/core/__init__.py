"""ROS-free core of SARL: semantic MDP types, Q-function, policies, learner, replay."""
