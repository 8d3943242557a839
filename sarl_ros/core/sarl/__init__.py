"""SARL as the paper builds it, in reading order.

config.py (its one typed configuration), pool.py (the instruction pool), network.py (the Q_sem
ensemble), learner.py (the TD update), policy.py (choosing and storing), demonstrations.py
(language-guided demonstrations).
"""
