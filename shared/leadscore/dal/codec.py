"""Compact binary attributes: JSON, deflated with a preset dictionary, behind a one-byte format tag.

DynamoDB bills a write by the larger of the item's sizes before and after, per started KB, and bills
every index the item is projected into again. A lead's state as native attributes repeats every map
key in every item (``"counters"``, ``"last_seen"``, rule ids...); as one deflated blob it is about a
third of that, so a typical lead fits one write unit. Small blobs compress badly on their own: the
preset dictionary below primes deflate with the keys and values every lead and event repeat.

The tag byte names the dictionary. A new dictionary gets a new tag; old tags stay readable forever.
"""

from __future__ import annotations

import zlib

_LEVEL = 6
_WBITS = -15  # raw deflate: no zlib header or checksum (DynamoDB stores the bytes as they are)

# Most frequent last: deflate finds recent matches with shorter distances.
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

_DICTIONARIES = {1: _DICTIONARY_V1}
_CURRENT = 1


def pack(data: bytes) -> bytes:
    """``data`` deflated with the current dictionary, behind its tag byte."""
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, zdict=_DICTIONARIES[_CURRENT])
    return bytes((_CURRENT,)) + compressor.compress(data) + compressor.flush()


def unpack(blob: bytes) -> bytes:
    """The bytes :func:`pack` was given. Raises ``ValueError`` for a tag it does not know."""
    if not blob:
        raise ValueError("empty blob")
    dictionary = _DICTIONARIES.get(blob[0])
    if dictionary is None:
        raise ValueError(f"unknown blob format {blob[0]}")
    decompressor = zlib.decompressobj(_WBITS, zdict=dictionary)
    return decompressor.decompress(blob[1:]) + decompressor.flush()
