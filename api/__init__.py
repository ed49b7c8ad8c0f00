"""The FastAPI read side: health, orders (read from PostgreSQL, status changes through the
order's workflow) and Prometheus metrics. Build the app with :func:`api.app.create_app`; only
the CLI (``orderflow api``) reads settings and turns them into :class:`api.deps.ApiDeps`."""
