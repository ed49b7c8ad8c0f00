"""Health and metrics endpoints of every long-running process (worker, bridge; the API serves
the same checks through its own routes): ``/health/live``, ``/health/ready``, ``/metrics``."""
