"""Payload protection: the AES-256-GCM payload codec every Temporal client and worker uses, and
the remote codec endpoint (``/encode``, ``/decode``) that lets the Temporal Web UI and CLI show
decoded payloads. Takes plain values (keys as bytes); settings are read by the entry points."""
