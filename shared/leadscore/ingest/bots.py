"""Recognise automated traffic by user agent: crawlers, HTTP libraries, headless browsers, and the link
scanners of email security gateways (which "click" every link in a message before the human sees it).

Such events are kept and marked with ``bot`` (the reason); the scorer decides what they are worth.
Image proxies (Gmail's GoogleImageProxy, Yahoo's) are not bots: they fetch on behalf of a real open.
"""

from __future__ import annotations

import re

# Each alternative is one named token, so the reason can say which one matched.
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("headless browser", r"headlesschrome|phantomjs|puppeteer|playwright|selenium"),
    (
        "email security scanner",
        r"barracuda|mimecast|proofpoint|urldefense|safelinks|symantec|messagelabs|forcepoint|zscaler"
        r"|trendmicro|trend micro|fireeye|ironport|sophos|bitdefender|checkpoint|avanan|abnormal security",
    ),
    (
        "http library",  # == HTTP_LIBRARY
        r"^(python-requests|python-urllib|python-httpx|aiohttp|curl|wget|go-http-client|java/|okhttp"
        r"|libwww-perl|apache-httpclient|axios|node-fetch|undici|ruby|scrapy|httpie|postmanruntime)",
    ),
    (
        "crawler",
        r"(?<!cu)bot\b|bot/|crawler|crawl|spider|slurp|bingpreview|facebookexternalhit|embedly"
        r"|quora link preview|linkchecker|validator|monitor|pingdom|uptimerobot|statuscake|lighthouse"
        r"|pagespeed|gtmetrix",
    ),
)
_COMPILED = tuple((label, re.compile(pattern, re.IGNORECASE)) for label, pattern in _PATTERNS)


HTTP_LIBRARY = "http library"


def bot_reason(user_agent: str | None, *, http_libraries: bool = True) -> str | None:
    """Why this user agent looks automated (``"crawler user agent (googlebot/2.1)"``), or None.

    ``http_libraries=False`` ignores plain HTTP clients (curl, axios...): right where a legitimate backend
    may relay the request (a form builder's server posting submissions), wrong for browser-reported agents.
    """
    if user_agent is None:
        return None
    ua = user_agent.strip()[:512]
    if not ua:
        return None
    for label, pattern in _COMPILED:
        if label == HTTP_LIBRARY and not http_libraries:
            continue
        match = pattern.search(ua)
        if match:
            return f"{label} user agent ({_token(ua, match.start(), match.end())})"
    return None


_SEPARATORS = " ;(),+"


def _token(ua: str, start: int, end: int) -> str:
    """The user-agent token around a match: ``bot`` in ``...; Googlebot/2.1; ...`` → ``googlebot/2.1``."""
    while start > 0 and ua[start - 1] not in _SEPARATORS:
        start -= 1
    while end < len(ua) and ua[end] not in _SEPARATORS:
        end += 1
    return ua[start:end].strip().lower()[:80]
