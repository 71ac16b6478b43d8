"""Configuration audit: backups, policy packs, drift, reports."""
