"""rewardkit in a trainer's process: the embedded engine, the TRL/verl/chat glue behind rewardkit.trl and .verl."""
