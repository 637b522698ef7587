"""What sales reads and writes about a lead: the domain behind the Lead API (``functions/leads_api``).

- :mod:`.models`: pydantic models of every request body and query string;
- :mod:`.views`: a lead as JSON (the score card, a hot-list row);
- :mod:`.service`: find a lead by id or email, page through the hot list, record an outcome, adjust.

Handlers, the CLI (``leadscore leads``) and the local server all use the same functions.
"""
