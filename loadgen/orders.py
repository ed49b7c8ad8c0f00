"""Realistic ``order.create.v1`` records for a load test, and what should become of each.

* **valid**: 1..N lines (``lines_min``..``lines_max``), one of ``locations`` ship-from
  locations, decimal prices, totals that add up -> expected Open.
* **invalid**: parses, has an ``OrderID``, but fails the workflow's validation (totals that do
  not add up, a zero quantity, no ship-from location) -> expected ``order.validation.v1``
  ``Valid=false`` and a DLQ record of stage ``VALIDATE``.
* **poison**: not JSON (stage ``DESERIALIZE``), or no ``OrderID`` / an unknown major schema
  version (stage ``SCHEMA``) -> expected a DLQ record written by the bridge.

Shares are exact over a run (error diffusion rather than coin flips), so a small run has the
mix it asked for. Content is reproducible for a given ``seed``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from contracts.dlq import H_CORRELATION_ID, DlqStage

CENT = Decimal("0.01")
TAX_RATE = Decimal("0.08")
SHIPPING = Decimal("4.99")


class Kind(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    POISON = "poison"


@dataclass(frozen=True)
class OrderMix:
    """What a run sends. Shares are fractions of all records (0.01 = 1 %)."""

    lines_min: int = 1
    lines_max: int = 5
    locations: int = 50
    invalid_share: float = 0.0
    poison_share: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.lines_min <= self.lines_max:
            raise ValueError("need 1 <= lines_min <= lines_max")
        if self.locations < 1:
            raise ValueError("need at least one location")
        shares = (self.invalid_share, self.poison_share)
        if min(shares) < 0 or sum(shares) > 1:
            raise ValueError("invalid and poison shares must be >= 0 and add up to <= 1")


@dataclass(frozen=True)
class Outgoing:
    """One record to send, with the outcome the pipeline should produce for it."""

    seq: int
    kind: Kind
    order_id: str
    correlation_id: str
    key: bytes | None
    value: bytes
    # None: Open expected; otherwise the DLQ stage the record should reach.
    expected_stage: DlqStage | None

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        return [(H_CORRELATION_ID, self.correlation_id.encode())]


def correlation_prefix(run_id: str) -> str:
    """What every correlation ID of run ``run_id`` starts with."""
    return f"lt-{run_id}-"


def correlation_id(run_id: str, seq: int) -> str:
    return f"{correlation_prefix(run_id)}{seq}"


def sequence_of(run_id: str, correlation: str) -> int | None:
    """The sequence number in a correlation ID of run ``run_id``; None for anything else."""
    prefix = correlation_prefix(run_id)
    if not correlation.startswith(prefix):
        return None
    tail = correlation[len(prefix) :]
    return int(tail) if tail.isdigit() else None


class OrderFactory:
    """Builds record ``seq`` of run ``run_id``; call :meth:`make` with 0, 1, 2, … in order."""

    def __init__(self, run_id: str, mix: OrderMix, *, order_prefix: str = "LT") -> None:
        self.run_id = run_id
        self.mix = mix
        self._order_prefix = order_prefix
        # Test data, reproducible per seed: not for anything secret.
        self._rng = random.Random(f"{mix.seed}:{run_id}")  # noqa: S311
        # Error diffusion: each kind accumulates its share and is chosen when it reaches 1
        # (starting at one half: a run of n records holds about round(n * share) of each).
        self._owed = {Kind.INVALID: 0.5, Kind.POISON: 0.5}
        # How many of each kind so far: picks the variant of the next spoiled record.
        self._made = {kind: 0 for kind in Kind}

    def order_id(self, seq: int) -> str:
        return f"{self._order_prefix}-{self.run_id}-{seq:07d}"

    def _kind(self) -> Kind:
        self._owed[Kind.INVALID] += self.mix.invalid_share
        self._owed[Kind.POISON] += self.mix.poison_share
        kind = max(self._owed, key=lambda k: self._owed[k])
        if self._owed[kind] < 1 - 1e-9:
            return Kind.VALID
        self._owed[kind] -= 1
        return kind

    def make(self, seq: int) -> Outgoing:
        kind = self._kind()
        variant = self._made[kind] % 3
        self._made[kind] += 1
        order_id = self.order_id(seq)
        order = self._valid_order(order_id)
        stage: DlqStage | None = None
        if kind is Kind.INVALID:
            stage = DlqStage.VALIDATE
            self._spoil(order, variant)
        value = json.dumps(order, separators=(",", ":")).encode()
        if kind is Kind.POISON:
            stage, value = self._poison(order, value, variant)
        location = order.get("ShipFromLocationID")
        return Outgoing(
            seq=seq,
            kind=kind,
            order_id=order_id,
            correlation_id=correlation_id(self.run_id, seq),
            key=location.encode() if isinstance(location, str) else None,
            value=value,
            expected_stage=stage,
        )

    def _valid_order(self, order_id: str) -> dict[str, Any]:
        rng = self._rng
        location = f"LOC-{rng.randint(1, self.mix.locations):04d}"
        lines = []
        subtotal = Decimal(0)
        for number in range(1, rng.randint(self.mix.lines_min, self.mix.lines_max) + 1):
            quantity = rng.randint(1, 5)
            price = Decimal(rng.randint(99, 19_999)) * CENT
            subtotal += quantity * price
            lines.append(
                {
                    "OrderLineID": str(number),
                    "ItemID": f"SKU-{rng.randrange(100_000):05d}",
                    "Quantity": str(quantity),
                    "UOM": "EA",
                    "UnitPrice": str(price),
                    "ShipFromLocationID": location,
                }
            )
        taxes = (subtotal * TAX_RATE).quantize(CENT)
        return {
            "MessageID": f"msg-{order_id}",
            "SchemaVersion": "1.0",
            "OrderID": order_id,
            "OrgID": "LOADTEST",
            "CustomerID": f"CUST-{rng.randrange(1_000_000):06d}",
            "ShipFromLocationID": location,
            "CurrencyCode": "EUR",
            "CapturedDate": datetime.now(UTC).isoformat(timespec="seconds"),
            "OrderLines": lines,
            "OrderSubTotal": str(subtotal),
            "TotalCharges": str(SHIPPING),
            "TotalTaxes": str(taxes),
            "TotalDiscounts": "0",
            "OrderTotal": str(subtotal + SHIPPING + taxes),
        }

    @staticmethod
    def _spoil(order: dict[str, Any], variant: int) -> None:
        """A business error the workflow's validation refuses (stage VALIDATE)."""
        if variant == 0:
            order["OrderTotal"] = str(Decimal(order["OrderTotal"]) + 1)  # ERR_TOTAL_MISMATCH
        elif variant == 1:
            order["OrderLines"][0]["Quantity"] = "0"  # ERR_NON_POSITIVE_QUANTITY
        else:
            del order["ShipFromLocationID"]  # ERR_MISSING_SHIP_FROM_LOCATION
            for line in order["OrderLines"]:
                line.pop("ShipFromLocationID", None)

    @staticmethod
    def _poison(order: dict[str, Any], value: bytes, variant: int) -> tuple[DlqStage, bytes]:
        """A record the bridge dead-letters without starting a workflow."""
        if variant == 0:
            return DlqStage.DESERIALIZE, value[: len(value) // 2]  # cut off: not JSON
        if variant == 1:
            del order["OrderID"]
        else:
            order["SchemaVersion"] = "9.0"  # unknown major version
        return DlqStage.SCHEMA, json.dumps(order, separators=(",", ":")).encode()
