"""Kubernetes manifests: workload extraction and deploy-safety checks."""
