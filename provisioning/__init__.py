"""Deploy-time provisioning: database migrations, Kafka topics, Temporal search attributes.

Takes plain values (no settings); used by ``orderflow setup``, ``orderflow db`` and the local
stack."""
