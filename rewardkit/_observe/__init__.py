"""What a served reward did: recorded runs read back and drawn (`rewardkit report`)."""
