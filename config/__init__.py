"""Ground floor: settings and the builders that turn them into clients (engine, Kafka options,
Temporal client, logging and tracing). Used by every entry point; imports nothing above it."""
