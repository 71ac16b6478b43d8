"""One module per collector; each registers itself with agent.collector.register."""
