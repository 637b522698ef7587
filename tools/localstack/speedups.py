"""Two costs of the local stack that Lambda never pays, taken out of the emulator's processes.

- **botocore's service models, once per process.** The layer makes each boto3 client from a new
  ``Session`` (a container's first call, as in Lambda), and the emulator forgets those clients before
  every invocation, so each invocation re-read and re-parsed botocore's JSON service models: 40 % of
  the Lead API tests' time. A data loader shared by every session in the process reads each file
  once. The loader only caches files it reads from botocore's installed data, which never change while
  the process runs; what a client is (credentials, endpoint, config) is still decided per session.
- **moto's SQS asks the time once per message it looks at**, through a ``datetime`` round trip
  (``unix_time_millis``): a receive walks every message of the queue to find visible ones, so a
  queue holding thousands (the soak's) spent 30 % of the soak's time there. ``time.time()`` is the
  same wall clock, read in a tenth of the time.
- **moto reads a CloudFormation body with PyYAML's pure-Python loader**, JSON included: 1 to 2 s per
  stack for template.yaml's 60-odd resources. The emulator always sends JSON, which ``json.loads``
  reads in a millisecond into the same dictionary (JSON has no YAML tags to construct).

Applied once, on import of :mod:`tools.localstack.stack`; only the emulator and the tests import it.
"""

from __future__ import annotations

import functools
import json
import time
from typing import Any

_applied = False


def apply() -> None:
    """Share botocore's data loader, let moto parse JSON stack bodies as JSON and read the clock
    directly in SQS (idempotent)."""
    global _applied  # noqa: PLW0603 (a process-wide patch, applied once)
    if _applied:
        return
    _share_botocore_loader()
    _parse_json_stack_bodies_as_json()
    _read_the_clock_directly_in_sqs()
    _applied = True


def _share_botocore_loader() -> None:
    import botocore.loaders
    import botocore.session

    original = botocore.loaders.create_loader

    @functools.cache
    def create_loader(search_path_string: str | None = None) -> Any:
        return original(search_path_string)

    botocore.session.create_loader = create_loader


def _parse_json_stack_bodies_as_json() -> None:
    from moto.cloudformation.models import Stack as MotoStack

    original = MotoStack.parse_template

    def parse_template(template: str) -> dict[str, Any]:
        if template.lstrip().startswith("{"):
            try:
                parsed: dict[str, Any] = json.loads(template)
            except ValueError:
                pass
            else:
                return parsed
        return original(template)

    MotoStack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]


def _read_the_clock_directly_in_sqs() -> None:
    from moto.sqs import models

    original = models.unix_time_millis  # type: ignore[attr-defined]

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(original(dt))

    models.unix_time_millis = unix_time_millis  # type: ignore[attr-defined]
