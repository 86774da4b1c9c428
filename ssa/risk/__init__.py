"""The learned risk score: features and labels read, training, scoring."""

import os

# LightGBM's OpenMP threads spin while they wait for each other unless told
# to sleep. On a machine whose cores are busy with anything else (other
# jobs, or this process's own reader beside the scoring thread) a spinning
# thread holds the core the one it waits for needs, and training on a
# loaded machine slows many times over. Set before LightGBM is first
# imported (ssa.risk.risk_model); a value already in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
