"""The one way a rules file becomes what the scorer loads: YAML (or JSON) in, canonical JSON out.

``leadscore rules publish``, the local stack (`make demo`, `make serve`), the tests and the bench all
go through :func:`compile_file`, so `rules/example.yaml` is the only source: there is no hand-kept
JSON copy that could drift from it. Results are cached by path, size and modification time, so a
test session compiles the example once and an edited file is compiled again.

Dev-only (PyYAML is not in the Lambda layer): never imported by the layer or a function.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from leadscore.errors import RulesValidationError
from leadscore.rules.compiler import CompiledRules, compile_document, content_version, parse_document

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "rules" / "example.yaml"
YAML_SUFFIXES = (".yaml", ".yml")


def _yaml_loader() -> Any:
    """PyYAML's safe loader, reading ``1e305`` as a number as YAML 1.2 does (YAML 1.1, PyYAML's, wants
    ``1.0e+305`` and reads ``1e305`` as a string). The rules model refuses numbers given as strings,
    so without this ``alert_cooldown_hours: 1e305`` would get "not a valid number" instead of its bound."""
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]  # yaml has no stubs here
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return Loader


def parse_text(text: str, yaml_syntax: bool) -> Any:
    """The document as data (not validated). Raises :class:`RulesValidationError` on a syntax error."""
    if yaml_syntax:
        import yaml

        try:
            return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise RulesValidationError([f"document: not valid YAML ({exc})"]) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RulesValidationError([f"document: not valid JSON ({exc})"]) from None


def read_document(path: Path) -> Any:
    return parse_text(path.read_text(encoding="utf-8"), path.suffix.lower() in YAML_SUFFIXES)


def compile_file(path: str | Path = EXAMPLE) -> tuple[bytes, CompiledRules]:
    """Validate a YAML/JSON rules file; return the canonical JSON bytes (what ``rules publish``
    uploads) and the compiled rules. Raises :class:`RulesValidationError` listing every error."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _compiled(resolved, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _compiled(path: Path, size: int, mtime_ns: int) -> tuple[bytes, CompiledRules]:
    # size and mtime_ns are only the cache key: an edited file is compiled again.
    doc = parse_document(read_document(path))
    body = doc.model_dump_json(by_alias=True, exclude_defaults=False, indent=1).encode()
    return body, compile_document(doc, content_version(body))


def compiled_json(path: str | Path = EXAMPLE) -> bytes:
    """The JSON the scorer loads for this rules file, exactly as ``rules publish`` uploads it."""
    return compile_file(path)[0]


def compiled_rules(path: str | Path = EXAMPLE) -> CompiledRules:
    return compile_file(path)[1]
