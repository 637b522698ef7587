"""One 50-rule set over a 5,000-domain list, rendered for leadscore and for peer engines.

Pure stdlib: imported by the leadscore side and by :mod:`bench.peer_worker` in ``.venv-bench``. The
conditions are leadscore's (``field`` + one operator, ``all``/``any``/``not``); the peers get the same
logic as rule-engine and CEL expressions over pre-normalized facts (lower-cased text, ``has_<field>``
flags, list membership precomputed per lead; that work is timed on the peers' side).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from typing import Any

TEXT_FIELDS = (
    "email",
    "email_domain",
    "job_title",
    "company",
    "industry",
    "country",
    "phone",
    "website",
    "lifecycle_stage",
)
NUMBER_FIELDS = ("company_size", "revenue")
DOMAIN_FIELDS = frozenset({"email", "email_domain", "website"})
WORDS = [
    "acme",
    "globex",
    "initech",
    "umbrella",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "hooli",
    "vandelay",
    "soylent",
    "wonka",
    "gringotts",
    "oscorp",
    "pied",
    "piper",
    "aperture",
    "black",
    "mesa",
    "nakatomi",
]
TLDS = ["com", "io", "co.uk", "de", "ai", "net", "fr", "com.au"]
TITLES = [
    "VP of Engineering",
    "Chief Revenue Officer",
    "Director of Finance",
    "Head of Growth",
    "Marketing Manager",
    "Team Lead, Data",
    "Software Engineer",
    "Student",
    "Founder & CEO",
    "Intern",
    "Senior Account Executive",
    "Procurement Specialist",
]
INDUSTRIES = [
    "Software",
    "SaaS",
    "Fintech",
    "Financial Services",
    "Healthcare",
    "Retail",
    "Education",
    "Government",
    "Manufacturing",
    "Insurance",
    "Media",
    "Logistics",
]
COUNTRIES = [
    "US",
    "USA",
    "United States",
    "Canada",
    "UK",
    "Germany",
    "France",
    "India",
    "Brazil",
    "Japan",
    "Netherlands",
    "Ireland",
    "Spain",
]
STAGES = ["lead", "mql", "sql", "opportunity", "customer", "churned"]


def domains(n: int = 5_000, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        name = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}{rng.randint(1, 9999)}"
        out.add(f"{name}.{rng.choice(TLDS)}")
    return sorted(out)


def rules(n: int = 50, seed: int = 9) -> list[dict[str, Any]]:
    """``n`` fit rules cycling through every operator and combinator leadscore has."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 14
        title_words = rng.sample(
            [
                "director",
                "head of",
                "manager",
                "lead",
                "vp",
                "chief",
                "engineer",
                "founder",
                "intern",
                "student",
                "sales",
                "finance",
            ],
            3,
        )
        inds = [s.lower() for s in rng.sample(INDUSTRIES, 4)]
        if kind == 0:
            roles = "|".join(
                rng.sample(
                    ["ceo", "cto", "cfo", "coo", "cro", "chief", "vp", "vice president", "founder", "owner"],
                    5,
                )
            )
            when: dict[str, Any] = {"field": "job_title", "regex": rf"\b({roles})\b"}
        elif kind == 1:
            when = {
                "all": [
                    {"field": "job_title", "contains": title_words[:2]},
                    {"not": {"field": "job_title", "regex": r"\b(vp|vice president|chief)\b"}},
                ]
            }
        elif kind == 2:
            when = {"field": "job_title", "contains": title_words}
        elif kind == 3:
            when = {"field": "industry", "in": inds}
        elif kind == 4:
            when = {"field": "email", "in_list": "target_accounts"}
        elif kind == 5:
            lo = rng.choice([10, 50, 200, 500])
            when = {"field": "company_size", "gte": lo, "lte": lo * rng.choice([5, 10, 20])}
        elif kind == 6:
            when = {"field": "revenue", "gte": rng.choice([1e6, 1e7, 5e7])}
        elif kind == 7:
            when = {"field": "country", "in_list": "target_countries"}
        elif kind == 8:
            when = {"field": rng.choice(["phone", "website"]), "exists": True}
        elif kind == 9:
            when = {"field": "website", "starts_with": ["https://www.", "http://"]}
        elif kind == 10:
            when = {"field": "lifecycle_stage", "equals": rng.choice(STAGES)}
        elif kind == 11:
            when = {
                "any": [
                    {"field": "company", "contains": rng.sample(WORDS, 3)},
                    {"field": "email", "ends_with": [".io", ".ai"]},
                ]
            }
        elif kind == 12:
            when = {
                "all": [
                    {"field": "website", "in_list": "target_accounts"},
                    {"field": "company_size", "gt": rng.choice([20, 100])},
                ]
            }
        else:
            when = {"not": {"field": "country", "in": [c.lower() for c in rng.sample(COUNTRIES, 4)]}}
        out.append(
            {
                "id": f"rule-{i:02d}",
                "description": f"Generated rule {i}",
                "when": when,
                "points": float(rng.choice([-20, -10, -5, 5, 10, 15, 25])),
            }
        )
    return out


def document(n_rules: int = 50, n_domains: int = 5_000) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "version": "bench",
        "lists": {
            "target_accounts": domains(n_domains),
            "target_countries": ["us", "usa", "united states", "canada", "uk", "germany", "france"],
        },
        "models": {"lead": {"fit": rules(n_rules), "activity": []}},
    }


def leads(n: int, seed: int = 3, unique: bool = False) -> list[dict[str, Any]]:
    """Lead profiles: ~25 % at a listed account (some through a subdomain), the rest elsewhere.

    ``unique``: every text value of every lead is distinct (no per-value memo or cache can hit):
    email domains and websites get a lead-specific subdomain (list membership by parent domain still
    matches), the other text fields a lead-specific suffix (``contains``/regex/prefix rules still
    match; ``equals``/``in`` on them no longer do, for every engine alike).
    """
    rng = random.Random(seed)
    listed = domains()
    out = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.15:
            domain = rng.choice(listed)
        elif roll < 0.25:
            domain = "mail." + rng.choice(listed)
        elif roll < 0.45:
            domain = rng.choice(["gmail.com", "outlook.com", "yahoo.co.uk"])
        else:
            domain = f"{rng.choice(WORDS)}{rng.randint(1, 99999)}.{rng.choice(TLDS)}"
        profile: dict[str, Any] = {
            "job_title": rng.choice(TITLES),
            "company": f"{rng.choice(WORDS).title()} {rng.choice(['Inc', 'GmbH', 'Ltd'])}",
            "industry": rng.choice(INDUSTRIES),
            "country": rng.choice(COUNTRIES),
            "company_size": float(rng.choice([5, 40, 150, 800, 3000, 12000])),
        }
        if rng.random() < 0.5:
            profile["revenue"] = float(rng.choice([5e5, 2e6, 2e7, 1e8]))
        if rng.random() < 0.4:
            profile["phone"] = "+1 555 0100"
        if rng.random() < 0.5:
            profile["website"] = rng.choice(["https://www.", "http://", ""]) + (
                rng.choice(listed) if rng.random() < 0.3 else domain
            )
        if rng.random() < 0.5:
            profile["lifecycle_stage"] = rng.choice(STAGES)
        if unique:
            tag = f"u{seed}x{i}"
            domain = f"{tag}.{domain}"
            for name in ("job_title", "company", "industry", "country", "lifecycle_stage"):
                if name in profile:
                    profile[name] = f"{profile[name]} {tag}"
            if "phone" in profile:
                profile["phone"] = f"+1 555 {seed % 1000:03d} {i:06d}"
            if "website" in profile:
                scheme, _, host = profile["website"].rpartition("//")
                profile["website"] = (f"{scheme}//" if scheme else "") + f"{tag}.{host.removeprefix('www.')}"
        out.append({"email": f"person{i}@{domain}", "profile": profile})
    return out


# --------------------------------------------------------------------------- peers' facts and expressions
def _domain_of(value: str) -> str:
    value = value.strip().lower()
    if "@" in value:
        value = value.rsplit("@", 1)[1]
    for prefix in ("https://", "http://"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value.split("/", 1)[0].removeprefix("www.")


def _parents(domain: str) -> Iterable[str]:
    labels = domain.split(".")
    for i in range(len(labels)):
        yield ".".join(labels[i:])


def membership_tests(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(variable, list, field) for every in_list condition of the document."""
    found: dict[str, tuple[str, str, str]] = {}

    def walk(cond: dict[str, Any]) -> None:
        for key in ("all", "any"):
            if key in cond:
                for c in cond[key]:
                    walk(c)
                return
        if "not" in cond:
            walk(cond["not"])
            return
        if "in_list" in cond:
            var = f"inlist__{cond['in_list']}__{cond['field']}"
            found[var] = (var, cond["in_list"], cond["field"])

    for rule in doc["models"]["lead"]["fit"]:
        walk(rule["when"])
    return sorted(found.values())


def peer_facts(
    lead: dict[str, Any], tests: list[tuple[str, str, str]], lists: dict[str, frozenset[str]]
) -> dict[str, Any]:
    """What a peer evaluates against: every variable present, text lower-cased, membership precomputed."""
    profile = lead["profile"]
    email = lead["email"].lower()
    raw = {**profile, "email": email, "email_domain": email.partition("@")[2]}
    facts: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = raw.get(name)
        text = "" if value is None else str(value).lower()
        facts[name] = text
        facts["has_" + name] = text != ""
    for name in NUMBER_FIELDS:
        value = raw.get(name)
        facts[name] = float(value) if value is not None else 0.0
        facts["has_" + name] = value is not None
    for var, list_name, field in tests:
        value = raw.get(field)
        members = lists[list_name]
        if value in (None, ""):
            facts[var] = False
        elif field in DOMAIN_FIELDS:
            facts[var] = any(p in members for p in _parents(_domain_of(str(value))))
        else:
            facts[var] = str(value).strip().lower() in members
    return facts


def _q(value: str) -> str:
    return json.dumps(value)


def _num(value: float) -> str:
    return repr(float(value))


def render(cond: dict[str, Any], dialect: str) -> str:
    """A condition as a rule-engine (``dialect="re"``) or CEL (``"cel"``) expression.

    ``"cel-rx"`` is CEL with regexes through a host function ``rx(text, pattern)`` (a cached compiled
    pattern): the Rust binding recompiles ``matches()`` patterns on every call.
    """
    cel = dialect.startswith("cel")
    AND, OR, NOT = (" && ", " || ", "!") if cel else (" and ", " or ", "not ")
    if "all" in cond:
        return "(" + AND.join(render(c, dialect) for c in cond["all"]) + ")"
    if "any" in cond:
        return "(" + OR.join(render(c, dialect) for c in cond["any"]) + ")"
    if "not" in cond:
        return f"{NOT}({render(cond['not'], dialect)})"
    field = cond["field"]
    needles = lambda key: [cond[key]] if isinstance(cond[key], str) else cond[key]  # noqa: E731
    if "equals" in cond:
        return f"{field} == {_q(str(cond['equals']).lower())}"
    if "in" in cond:
        return f"{field} in [{', '.join(_q(str(v).lower()) for v in cond['in'])}]"
    if "contains" in cond:
        parts = [f"{field}.contains({_q(n)})" if cel else f"{_q(n)} in {field}" for n in needles("contains")]
        return "(" + OR.join(parts) + ")"
    if "starts_with" in cond:
        parts = [
            f"{field}.startsWith({_q(n)})" if cel else f"{field} =~ {_q(re.escape(n))}"
            for n in needles("starts_with")
        ]
        return "(" + OR.join(parts) + ")"
    if "ends_with" in cond:
        parts = [
            f"{field}.endsWith({_q(n)})" if cel else f"{field} =~~ {_q(re.escape(n) + '$')}"
            for n in needles("ends_with")
        ]
        return "(" + OR.join(parts) + ")"
    if "regex" in cond and dialect == "cel-rx":
        return f"rx({field}, {_q(cond['regex'])})"
    if "regex" in cond:
        return f"{field}.matches({_q(cond['regex'])})" if cel else f"{field} =~~ {_q(cond['regex'])}"
    if "exists" in cond:
        return f"has_{field}" if cond["exists"] else f"{NOT}has_{field}"
    if "in_list" in cond:
        return f"inlist__{cond['in_list']}__{field}"
    parts = [f"has_{field}"]
    for key, op in (("gte", ">="), ("gt", ">"), ("lte", "<="), ("lt", "<")):
        if key in cond:
            parts.append(f"{field} {op} {_num(cond[key])}")
    return "(" + AND.join(parts) + ")"
