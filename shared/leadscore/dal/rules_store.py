"""Rules from S3: cached per container, refreshed with a conditional GET, last good kept on failure.

The rules document is JSON (``leadscore rules publish`` compiles YAML to JSON), so no YAML parser is
on the cold-start path. It is fetched at most once per refresh interval; when the object has not
changed S3 answers 304 and nothing is downloaded or recompiled. A missing, unreadable or invalid
file never replaces good rules: the error is logged and counted, and scoring goes on with the last
good version.

A cold container has no last good rules in memory. When the current object is then invalid,
unreadable or deleted, the store falls back to the bucket's history (it is versioned): it lists the
key's versions, newest first, skipping delete markers, fetches at most :data:`MAX_FALLBACK_VERSIONS`
of them by version id and uses the newest that validates, counting ``RulesFallback`` and logging the
version used and why the newer ones were rejected. The fallback is then the container's last good
rules, so it is not looked for again. Only when no version validates is
:class:`RulesUnavailableError` raised, so the events are retried, never scored with nothing; that
outcome is kept until the next refresh, so a container without rules does not list versions per
batch or request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import BaseProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from leadscore.dal import clients
from leadscore.errors import RulesUnavailableError, RulesValidationError
from leadscore.observability import count, logger
from leadscore.rules.compiler import CompiledRules, load_rules

MAX_FALLBACK_VERSIONS = 10  # versions fetched at most, newest first, when the current object is unusable
_LIST_PAGES = 3  # ListObjectVersions pages read at most (delete markers count against each page)


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
        self.rejected: tuple[str, list[str]] | None = (
            None  # the version id and errors of an invalid current object
        )

    def _get(self, name: str, **sdk_options: Any) -> Any:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": name}
        if self.etag is not None:
            kwargs["IfNoneMatch"] = self.etag
        rejected, self.rejected = self.rejected, None
        try:
            response = clients.s3().get_object(**kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            if status == 304 or code in ("304", "NotModified"):
                if self.good is not None:
                    return _Fetched(self.good)  # unchanged since the last fetch
                self.rejected = rejected  # still the object rejected last time
            raise
        body = response["Body"].read()
        self.etag = response.get("ETag")
        version = response.get("VersionId") or (self.etag or "").strip('"')
        try:
            rules = load_rules(body, version=f"s3:{version}" if version else None)
        except RulesValidationError as exc:
            self.rejected = (response.get("VersionId") or "", exc.errors)
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
        self._unavailable: tuple[float, str] | None = None  # (monotonic deadline, why): no valid version

    def current(self) -> CompiledRules:
        """The rules in force. Fetches at most once per ``refresh_seconds``."""
        if self._provider.good is None and self._unavailable is not None:
            until, why = self._unavailable
            if time.monotonic() < until:
                count("RulesUnavailable")
                raise RulesUnavailableError(why)
        try:
            fetched = self._provider.get(self.key, max_age=self.refresh_seconds)
        except GetParameterError as exc:
            self._provider.last_error = str(exc)
            good = self._provider.good
            if good is None:
                good = self._fall_back()
                if good is None:
                    count("RulesUnavailable")
                    why = (
                        f"no valid rules at s3://{self._provider.bucket}/{self.key} or in its versions: {exc}"
                    )
                    self._unavailable = (time.monotonic() + self.refresh_seconds, why)
                    raise RulesUnavailableError(why) from exc
                self._provider.good = good  # the container's last good rules from now on
            else:
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
        self._unavailable = None
        return fetched.rules

    def _fall_back(self) -> CompiledRules | None:
        """The newest version of the rules object that validates, or None.

        Called on a cold container whose current object is invalid, unreadable or deleted. The
        current object, when it was read and rejected, is not fetched again."""
        bucket = self._provider.bucket
        rejected: list[dict[str, Any]] = []
        skip = ""
        if self._provider.rejected is not None:
            skip, errors = self._provider.rejected
            rejected.append({"version_id": skip, "errors": errors[:10]})
        try:
            versions = [v for v in self._versions() if v != skip][:MAX_FALLBACK_VERSIONS]
        except ClientError as exc:
            logger.error(
                "rules versions could not be listed; no fallback",
                extra={"key": self.key, "error": exc.response.get("Error", {}).get("Code", str(exc))},
            )
            return None
        s3 = clients.s3()
        for version_id in versions:
            try:
                body = s3.get_object(Bucket=bucket, Key=self.key, VersionId=version_id)["Body"].read()
                rules = load_rules(body, version=f"s3:{version_id}")
            except RulesValidationError as exc:
                rejected.append({"version_id": version_id, "errors": exc.errors[:10]})
                continue
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "error")
                rejected.append({"version_id": version_id, "errors": [f"not readable ({code})"]})
                continue
            count("RulesFallback")
            logger.warning(
                "current rules object unusable; scoring with the newest valid version in its history",
                extra={
                    "key": self.key,
                    "version_id": version_id,
                    "rules_version": rules.version,
                    "label": rules.label,
                    "current_error": self._provider.last_error,
                    "rejected": rejected,
                },
            )
            return rules
        logger.error(
            "no valid rules version; events are retried",
            extra={"key": self.key, "versions_tried": len(versions), "rejected": rejected},
        )
        return None

    def _versions(self) -> list[str]:
        """The key's version ids, newest first, without delete markers (S3 lists a key's versions
        newest first; the sort by LastModified is stable, so equal times keep that order)."""
        s3 = clients.s3()
        found: list[Any] = []  # ObjectVersionTypeDef
        request: dict[str, Any] = {"Bucket": self._provider.bucket, "Prefix": self.key}
        for _ in range(_LIST_PAGES):
            page = s3.list_object_versions(**request)
            found += [v for v in page.get("Versions", []) if v.get("Key") == self.key]
            if len(found) > MAX_FALLBACK_VERSIONS or not page.get("IsTruncated"):
                break
            request["KeyMarker"] = page.get("NextKeyMarker")
            request["VersionIdMarker"] = page.get("NextVersionIdMarker")
        found.sort(key=lambda v: v["LastModified"], reverse=True)
        return [str(v["VersionId"]) for v in found if v.get("VersionId")]  # "null": before versioning


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
