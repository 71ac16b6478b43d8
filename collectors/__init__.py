"""One module per collector; each registers itself by subclassing agent.collector.Collector."""
