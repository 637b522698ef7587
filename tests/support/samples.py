"""The people of the sample events (events/*.json), as the ingest parsers should read them."""

from __future__ import annotations

from typing import Any

from leadscore.models.event import Profile

DANA_EMAIL = "dana.reyes@northwindlabs.io"


def dana_profile(**overrides: Any) -> Profile:
    """Dana Reyes, VP of Engineering at Northwind Labs, as her forms and identify calls describe her
    (``overrides`` for what one source adds, e.g. her phone)."""
    fields: dict[str, Any] = {
        "first_name": "Dana",
        "last_name": "Reyes",
        "job_title": "VP of Engineering",
        "company": "Northwind Labs",
        "company_size": 500,
        "industry": "Software",
        "country": "United States",
    }
    return Profile(**(fields | overrides))
