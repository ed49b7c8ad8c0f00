"""The Orderflow contract: Kafka messages, events, status codes, topic names, IDs, error codes.

Pure data and pure functions only: no I/O, no settings. Safe to import from workflow code.
"""
