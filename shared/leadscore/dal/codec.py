"""Compact binary attributes: JSON compressed with a dictionary, behind a one-byte format tag.

DynamoDB bills a write by the larger of the item's sizes before and after, per started KB, and bills
every index the item is projected into again. A lead's state as native attributes repeats every map
key in every item (``"counters"``, ``"last_seen"``, rule ids...); as one compressed blob it is about
a quarter of that, so a typical lead fits one write unit. Small blobs compress badly on their own: the
dictionary primes the compressor with the keys and values every lead and event repeat.

Formats, named by the tag byte; a new dictionary gets a new tag, and old tags stay readable forever:

1. raw deflate (zlib) with the hand-written dictionary below. Read only.
2. zstd with ``zstd-v2.dict``, trained by ``python -m bench.dictionary`` on what the scorer packs.
   Measured on held-out items: 0.7 us to pack a 1.2 KB state instead of 20 us with deflate (most of
   deflate's time is setting up its 256 KB state), and 30 % smaller. Read only.
3. zstd with ``zstd-v2.dict``, written since lead states are bounded (leadscore.scoring.state): the
   tag also tells readers that a state blob has the bounded layout. Tags 1-2 (``LEGACY_TAGS``) carry
   the layout before it, read through :mod:`leadscore.dal.legacy`.
"""

from __future__ import annotations

import threading
import zlib
from functools import cache
from pathlib import Path
from typing import Any

_WBITS = -15  # raw deflate: no zlib header or checksum (DynamoDB stores the bytes as they are)

# Format 1 (read only). Most frequent last: deflate finds recent matches with shorter distances.
_DICTIONARY_V1 = (
    b'"properties":{"message_id":"msg-","campaign":"","url":"https://","path":"/"},"user_agent":"'
    b'"identity":{"anonymous_id":null,"email":"@gmail.com"},"profile":null,"bot":null}'
    b'"schema_version":1,"event_id":"sendgrid:segment:forms:mailgun:postmark:'
    b'"source":"segment","type":"page_view","email_open","email_click","email_delivered",'
    b'"form_submit","track","identify","unsubscribe","bounce","spam_report",'
    b'"occurred_at":"2026-11-23T00:00:00Z","received_at":"2026-11-23T00:00:00Z","name":null,'
    b'"note":null}'
    b'"outbox":{},"merged_into":null,"merged_from":[],"adjustments":[],"outcomes":[]}'
    b'"armed":{"sales_ready":false},"last_alert_at":{"sales_ready":'
    b'"card":{"score":0.0,"fit":0.0,"activity":0.0,"tier":"cold","warm","sales_ready","disqualified"'
    b',"grade":"D1","categories":{},"contributions":[{"rule":"","kind":"fit","activity",'
    b'"description":"","points":0.0,"count":1,"last_seen":null,"category":null,"disqualify":false}],'
    b'"reasons":["Viewed the pricing page ","Requested a demo ", last today (+10)"],'
    b'"disqualified":false,"surge":false,"model":"lead","rules_version":"s3:","threshold":100.0,'
    b'"computed_at":1700000000,"due_at":null}'
    b'"recent":[{"at":1700000000,"type":"page_view","source":"segment","name":null,"path":"/pricing",'
    b'"rules":[],"bot":null}],"events_total":1,"created_at":1700000000,"updated_at":1700000000,'
    b'"seen":{"20000":["'
    b'"delivered":{},"counters":{"page-pricing":{"20000":1}},"totals":{},"last_seen":{},'
    b'{"lead_id":"e","email":"","anonymous_ids":[],"profile":{"first_name":"","last_name":"",'
    b'"job_title":"","company":"","company_size":0.0,"industry":"","country":""},'
)

_ZSTD_V2 = 2
_ZSTD = 3
_ZSTD_LEVEL = 3
_TAG = bytes((_ZSTD,))
LEGACY_TAGS = frozenset({1, _ZSTD_V2})


_local = threading.local()


def _zstd() -> tuple[Any, Any]:
    """This thread's zstd compressor and decompressor, made on first use.

    The contexts are not thread-safe (the local stack serves HTTP on threads), and making one costs
    ~15 us against ~1 us to use it, so each thread keeps its own. ``zstandard`` (a C extension, ~2 ms)
    is imported here, on the first pack or unpack, never at cold start.
    """
    contexts: tuple[Any, Any] | None = getattr(_local, "zstd", None)
    if contexts is None:
        import zstandard

        dictionary = _zstd_dictionary()
        contexts = _local.zstd = (
            zstandard.ZstdCompressor(dict_data=dictionary, write_checksum=False, write_dict_id=False),
            zstandard.ZstdDecompressor(dict_data=dictionary),
        )
    return contexts


@cache
def _zstd_dictionary() -> Any:
    import zstandard

    dictionary = zstandard.ZstdCompressionDict(Path(__file__).with_name("zstd-v2.dict").read_bytes())
    dictionary.precompute_compress(level=_ZSTD_LEVEL)
    return dictionary


def pack(data: bytes) -> bytes:
    """``data`` compressed with the current format, behind its tag byte."""
    return _TAG + bytes(_zstd()[0].compress(data))


def unpack(blob: bytes) -> bytes:
    """The bytes :func:`pack` was given. Raises ``ValueError`` for a tag it does not know."""
    return unpack_tagged(blob)[1]


def unpack_tagged(blob: bytes) -> tuple[int, bytes]:
    """The blob's format tag and the bytes it holds."""
    if not blob:
        raise ValueError("empty blob")
    tag = blob[0]
    if tag in (_ZSTD, _ZSTD_V2):
        try:
            return tag, bytes(_zstd()[1].decompress(blob[1:]))
        except Exception as exc:  # zstandard.ZstdError: a damaged blob
            raise ValueError(f"damaged blob: {exc}") from None
    if tag == 1:
        decompressor = zlib.decompressobj(_WBITS, zdict=_DICTIONARY_V1)
        return tag, decompressor.decompress(blob[1:]) + decompressor.flush()
    raise ValueError(f"unknown blob format {tag}")
