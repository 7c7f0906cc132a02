"""A fake Kubernetes API server for Remora's tests (see tests/kube/README.md)."""
