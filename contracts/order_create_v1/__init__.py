"""The ``order.create.v1`` message, in three modules with three jobs:

* :mod:`~contracts.order_create_v1.model`: the message as pydantic models (the published JSON
  Schema is generated from them);
* :mod:`~contracts.order_create_v1.envelope`: the lenient reading the bridge needs before
  anything is validated: JSON with exact decimals, the one lenient field reader
  (:func:`~contracts.order_create_v1.envelope.read_fields`), and poison or an envelope;
* :mod:`~contracts.order_create_v1.validation`: the full validation the workflow runs, every
  problem as ``{Code, Field, Message}``; :func:`~contracts.order_create_v1.validation.parse_order`
  is the one parse an activity makes of the raw message.
"""
