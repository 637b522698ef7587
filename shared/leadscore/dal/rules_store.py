"""Rules from S3: cached per container, refreshed with a conditional GET, last good kept on failure.

The rules document is JSON (``leadscore rules publish`` compiles YAML to JSON), so no YAML parser is
on the cold-start path. It is fetched at most once per refresh interval; when the object has not
changed S3 answers 304 and nothing is downloaded or recompiled. A missing, unreadable or invalid
file never replaces good rules: the error is logged and counted, and scoring goes on with the last
good version. With no good version at all (a cold start), :class:`RulesUnavailableError` is raised
so the events are retried, never scored with nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import BaseProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from leadscore.dal import clients
from leadscore.errors import RulesUnavailableError, RulesValidationError
from leadscore.observability import count, logger
from leadscore.rules.compiler import CompiledRules, load_rules


@dataclass(frozen=True)
class _Fetched:
    rules: CompiledRules


class _S3RulesProvider(BaseProvider):
    """A Powertools parameters provider whose values are compiled rules, keyed by S3 object key."""

    def __init__(self, bucket: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.bucket = bucket
        self.etag: str | None = None  # of the last object fetched, good or bad
        self.good: CompiledRules | None = None
        self.last_error: str | None = None

    def _get(self, name: str, **sdk_options: Any) -> Any:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": name}
        if self.etag is not None:
            kwargs["IfNoneMatch"] = self.etag
        try:
            response = clients.s3().get_object(**kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            if (status == 304 or code in ("304", "NotModified")) and self.good is not None:
                return _Fetched(self.good)  # unchanged since the last fetch
            raise
        body = response["Body"].read()
        self.etag = response.get("ETag")
        version = response.get("VersionId") or (self.etag or "").strip('"')
        try:
            rules = load_rules(body, version=f"s3:{version}" if version else None)
        except RulesValidationError as exc:
            count("RulesInvalid")
            logger.error(
                "rules file rejected; keeping the last good rules", extra={"errors": exc.errors[:50]}
            )
            raise
        self.good = rules
        logger.info("rules loaded", extra={"rules_version": rules.version, "label": rules.label})
        return _Fetched(rules)

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError


class RulesStore:
    def __init__(self, bucket: str, key: str, refresh_seconds: int) -> None:
        self.key = key
        self.refresh_seconds = refresh_seconds
        self._provider = _S3RulesProvider(bucket)

    def current(self) -> CompiledRules:
        """The rules in force. Fetches at most once per ``refresh_seconds``."""
        try:
            fetched = self._provider.get(self.key, max_age=self.refresh_seconds)
        except GetParameterError as exc:
            self._provider.last_error = str(exc)
            good = self._provider.good
            if good is None:
                count("RulesUnavailable")
                raise RulesUnavailableError(
                    f"no valid rules at s3://{self._provider.bucket}/{self.key}: {exc}"
                ) from exc
            count("RulesRefreshFailed")
            logger.warning(
                "rules refresh failed; scoring with the last good rules",
                extra={"rules_version": good.version},
            )
            # Do not ask again before the next interval: cache the last good rules under the same key.
            self._provider.add_to_cache(
                key=self._provider._build_cache_key(self.key),
                value=_Fetched(good),
                max_age=self.refresh_seconds,
            )
            return good
        assert isinstance(fetched, _Fetched)
        return fetched.rules


_stores: dict[tuple[str, str, int], RulesStore] = {}


def rules_store(bucket: str, key: str, refresh_seconds: int) -> RulesStore:
    """One store per container and location (module state survives between invocations)."""
    ident = (bucket, key, refresh_seconds)
    store = _stores.get(ident)
    if store is None:
        store = _stores[ident] = RulesStore(bucket, key, refresh_seconds)
    return store


def reset_rules_cache() -> None:
    """Forget every cached rules document (tests)."""
    _stores.clear()
