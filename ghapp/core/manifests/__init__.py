"""Service manifests (Backstage, OpsLevel, Cortex): discovery, formats and checks."""
