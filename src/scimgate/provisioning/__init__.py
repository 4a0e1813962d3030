"""The provisioning log, its explanations, metrics and health: what an operator needs when provisioning breaks."""
