"""Kafka -> Temporal: the pure record handler, the consumer loop, and the DLQ tooling."""
