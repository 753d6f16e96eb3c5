"""`rewardkit audit`: probe a reward with responses it should not credit, scored through the service."""
