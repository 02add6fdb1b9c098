"""What the stream cases of every system share: stream length and the checks.

Each system runs a stream case as a sequence of stream calls of :data:`ITEMS` items
each, until the meter's window is over:

* ``server``: the client sends the payload and a count; the server sends the
  payload back that many times. Every item is checked against the payload, and a
  stream that ends must have brought exactly the count. At the end of the window
  the client cancels the stream it is reading.
* ``client``: the client sends the payload as items; the server counts them,
  compares each with the first one, and answers the count, the number equal to
  the first and the first itself (:func:`tally_ok`). Items are counted as the
  client hands them to its stream (flow control keeps that within a window of
  what the server took); at the end of the window the client ends its stream and
  checks the answer.
* ``bidi``: the client sends the payload as items and the server sends each one
  back as it arrives. Every echo is checked against the payload; at the end of the
  window the client ends its stream, and the stream must bring back as many items
  as were sent.

An item found wrong counts as a mismatch in the result, as a wrong reply does in
the echo cases.
"""

from __future__ import annotations

from typing_extensions import Buffer

from ..measure import same_payload

__all__ = ["ITEMS", "tally_ok"]

ITEMS = 1000
"""Items per stream call: a stream's set-up is paid once per this many items."""


def tally_ok(items: int, same: int, first: Buffer, payload: bytes, sent: int) -> bool:
    """Whether a client stream's answer says the server took every item sent, each
    one the payload."""
    return items == sent and same == sent and same_payload(first, payload)
