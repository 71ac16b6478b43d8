"""egov-agent: monitoring, provisioning and configuration audit for a province's e-government."""

__version__ = "0.1.0"
