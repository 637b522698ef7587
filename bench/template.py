"""What the benchmark takes from template.yaml: the table's indexes, the scorer's batching, memory sizes.

Read from the template itself (never restated here), so the bench follows a change of design.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from bench.common import TEMPLATE
from bench.meter import Index


def _loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def tagged(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node, deep=True)}
        return {suffix: loader.construct_mapping(node, deep=True)}

    Loader.add_multi_constructor("!", tagged)
    return Loader


@dataclass(frozen=True)
class Design:
    table: str
    indexes: list[Index]
    batch_size: int
    batching_window_s: float
    memory_mb: dict[str, int]  # function logical id -> MemorySize
    timeout_s: dict[str, int]
    notifier_batch: int
    stream_view: str


@cache
def design() -> Design:
    import yaml

    doc = yaml.load(TEMPLATE.read_text(), Loader=_loader())
    resources = doc["Resources"]
    table = next(k for k, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table")
    props = resources[table]["Properties"]
    indexes = []
    for gsi in props.get("GlobalSecondaryIndexes", []):
        keys = {k["KeyType"]: k["AttributeName"] for k in gsi["KeySchema"]}
        projection = gsi.get("Projection", {})
        indexes.append(
            Index(
                gsi["IndexName"],
                keys["HASH"],
                keys.get("RANGE"),
                projection.get("ProjectionType", "KEYS_ONLY"),
                tuple(projection.get("NonKeyAttributes", [])),
            )
        )
    glob = doc.get("Globals", {}).get("Function", {})
    memory, timeout = {}, {}
    batch, window, notifier_batch = 10, 0.0, 100
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        p = res["Properties"]
        memory[name] = int(p.get("MemorySize", glob.get("MemorySize", 128)))
        timeout[name] = int(p.get("Timeout", glob.get("Timeout", 3)))
        for event in (p.get("Events") or {}).values():
            ep = event.get("Properties", {})
            if event["Type"] == "SQS" and name == "ScorerFunction":
                batch = int(ep.get("BatchSize", 10))
                window = float(ep.get("MaximumBatchingWindowInSeconds", 0))
            if event["Type"] == "DynamoDB" and name == "NotifierFunction":
                notifier_batch = int(ep.get("BatchSize", 100))
    return Design(
        table=table,
        indexes=indexes,
        batch_size=batch,
        batching_window_s=window,
        memory_mb=memory,
        timeout_s=timeout,
        notifier_batch=notifier_batch,
        stream_view=str(props.get("StreamSpecification", {}).get("StreamViewType", "")),
    )
