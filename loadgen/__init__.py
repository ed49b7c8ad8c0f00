"""Load generation for ``orderflow loadtest`` and ``benchmarks/pipeline.py``.

Realistic ``order.create.v1`` records (with a share of invalid and poison ones) sent at a fixed
rate or in one burst, and the accounting of what became of each: Open on ``order.status.v1``,
rejected on ``order.validation.v1``, dead-lettered on a ``.dlq`` topic, or missing. Every record
carries a ``correlation-id`` header naming its run and sequence number; the pipeline copies it
into every event and DLQ record, which is how an outcome finds its record.

Takes plain aiokafka option dicts (built from settings by the CLI), reads no settings itself.
"""
