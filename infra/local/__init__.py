"""Loopback services for tests, the demo and laptops: a Ray cluster and an MLflow tracking server.

    from infra.local.cluster import start_cluster, stop_cluster
    from infra.local.mlflow_server import start_mlflow, stop_mlflow

See infra/local/README.md. Everything binds 127.0.0.1 and is stopped by its recorded session ids only.
"""
