"""SARL as the paper builds it: instruction pool (pool.py), Q_sem ensemble (network.py), the TD update
(learner.py), the policy (policy.py), language-guided demonstrations (demonstrations.py), and its one
typed configuration (config.py). Read in that order."""
