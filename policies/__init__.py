"""The audit's policy packs: one YAML file of rules per platform family (agent/audit/policy.py
reads them). A package so that the packs travel with the installed agent."""
