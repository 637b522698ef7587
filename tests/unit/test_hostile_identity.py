"""Email identity and log redaction under hostile and international input.

One normalizer keys every lead: the same person typed as ``dana@bücher.de`` or ``dana@xn--bcher-kva.de``
(or with a decomposed ``ü``) is one lead; an address carrying an invisible or control character is
refused, never stored as a look-alike; plus-addresses stay distinct. redact() masks addresses in any
script before they reach a log line.
"""

from __future__ import annotations

import pytest
from leadscore.api.models import HotListQuery
from leadscore.api.service import lead_id_from_ref
from leadscore.models.event import EmailEncodingError, lead_id_for_email, normalize_email
from leadscore.observability import redact
from pydantic import ValidationError

from functions.erasure.app import ErasureRequest

SAME_PERSON = [
    "dana@bücher.de",
    "dana@xn--bcher-kva.de",
    "DANA@BÜCHER.DE",
    "dana@XN--BCHER-KVA.DE",
    "dana@bu\u0308cher.de",  # u + COMBINING DIAERESIS: NFD, as macOS keyboards produce it
    "  dana@bücher.de\n",
    "dana@bücher\u3002de",  # IDEOGRAPHIC FULL STOP, which UTS 46 maps to "."
]


@pytest.mark.parametrize("spelling", SAME_PERSON)
def test_every_spelling_of_an_idn_address_is_one_lead(spelling: str) -> None:
    assert normalize_email(spelling) == "dana@bücher.de"
    assert lead_id_for_email(spelling) == lead_id_for_email("dana@bücher.de")


def test_the_unicode_form_is_stored_and_ascii_addresses_are_unchanged() -> None:
    # The stored form is the U-label: readable, and what a decomposed or A-label spelling maps to.
    assert normalize_email("dana@xn--bcher-kva.de") == "dana@bücher.de"
    assert normalize_email("Jörg@Bücher.de") == "jörg@bücher.de"  # NFC + lower-case in the local part
    assert normalize_email("jo\u0308rg@bücher.de") == "jörg@bücher.de"
    # ASCII addresses keep the exact normalization they always had (lead ids must not move).
    assert normalize_email("  Dana.Reyes@NorthwindLabs.IO ") == "dana.reyes@northwindlabs.io"
    assert normalize_email("ops@exa_mple.com") == "ops@exa_mple.com"
    assert normalize_email("用户@例子.广告") == "用户@例子.广告"


def test_plus_addresses_are_distinct_leads() -> None:
    # Whether "+tag" is ignored depends on the mailbox provider; merging would be a guess.
    assert normalize_email("Dana+News@X.com") == "dana+news@x.com"
    assert lead_id_for_email("dana+news@x.com") != lead_id_for_email("dana@x.com")


@pytest.mark.parametrize(
    ("address", "named"),
    [
        ("dana\u200b@x.com", "U+200B"),  # ZERO WIDTH SPACE
        ("da\u200dna@x.com", "U+200D"),  # ZERO WIDTH JOINER
        ("dana@x\u202e.com", "U+202E"),  # RIGHT-TO-LEFT OVERRIDE
        ("dana@\u2066x.com", "U+2066"),  # LEFT-TO-RIGHT ISOLATE
        ("\u200edana@x.com", "U+200E"),  # LEFT-TO-RIGHT MARK
        ("da\u00adna@x.com", "U+00AD"),  # SOFT HYPHEN
        ("dana@x.com\ufeffx", "U+FEFF"),  # ZERO WIDTH NO-BREAK SPACE (BOM)
        ("da\u00a0na@x.com", "U+00A0"),  # NO-BREAK SPACE inside
        ("da\x00na@x.com", "U+0000"),
        ("da\tna@x.com", "U+0009"),
        ("da\ud800na@x.com", "U+D800"),  # a lone surrogate (from a \\ud800 escape)
    ],
)
def test_invisible_and_control_characters_are_refused_naming_them(address: str, named: str) -> None:
    with pytest.raises(EmailEncodingError) as info:
        normalize_email(address)
    assert named in str(info.value)


@pytest.mark.parametrize(
    "address", ["dana@xn--zz.de", "dana@bü_cher.de", "a@b@c.de", "dana@", "@bücher.de", "dana@bücher"]
)
def test_invalid_addresses_are_value_errors(address: str) -> None:
    with pytest.raises(ValueError, match="not a valid"):
        normalize_email(address)


def test_lookups_and_erasure_use_the_same_normalizer() -> None:
    dana = lead_id_for_email("dana@bücher.de")
    assert lead_id_from_ref("dana%40xn--bcher-kva.de") == dana  # GET /leads/{lead}
    assert lead_id_from_ref("DANA@BU%CC%88CHER.DE") == dana
    assert ErasureRequest(email="dana@xn--bcher-kva.de").target == dana
    with pytest.raises(ValidationError, match="email"):
        ErasureRequest(email="dana\u200b@bücher.de")
    with pytest.raises(ValidationError, match="lead_id"):
        ErasureRequest(lead_id="e\x00")


# ---------------------------------------------------------------------------------------------- redact
@pytest.mark.parametrize(
    "address",
    [
        "dana.reyes@northwindlabs.io",
        "dana+news@x.com",
        "dana@bücher.de",
        "jörg@bücher.de",
        "dana@xn--bcher-kva.de",
        "δοκιμή@παράδειγμα.δοκιμή",
        "用户@例子.广告",
        "用户@例子。广告",
        "नमस्ते@उदाहरण.भारत",  # Devanagari: combining vowel signs are not \\w
        "почта@пример.рф",
        "user＠example.com",  # FULLWIDTH COMMERCIAL AT
        "dana%40b%C3%BCcher.de",  # percent-encoded, as in a raw query string
    ],
)
def test_redact_masks_addresses_in_any_script(address: str) -> None:
    for text in (address, f"not a tier name: {address!r}", f"tier={address}&limit=5", f"<{address}>"):
        masked = redact(text)
        assert "<email>" in masked, text
        assert address not in masked
        assert "@" not in masked.replace("<email>", "") and "%40" not in masked


def test_redact_leaves_text_without_addresses_alone() -> None:
    for text in ("lead e0123456789abcdef: 3 events", "score 12 @ 3pm", "user@localhost", "a@b"):
        assert redact(text) == text


def test_a_query_value_echoed_in_an_error_is_redacted() -> None:
    with pytest.raises(ValidationError) as info:
        HotListQuery.model_validate({"tier": "dana@bücher.de"})
    # What the Lead API answers and logs: the messages, without pydantic's input echo.
    (error,) = info.value.errors(include_input=False)
    assert error["loc"] == ("tier",)
    assert "bücher" not in error["msg"] and "<email>" in error["msg"]
