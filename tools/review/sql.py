"""The review's aggregates as SQL, for 10^8 leads (docs/review.md): DuckDB here, Athena alike.

Input: the per-lead rows ``leadscore review --rows-out`` writes (CSV, or Parquet once converted):
``lead_id, decided_at, converted, score, grade`` and one column per rule (its feature: 1 for a fit
rule that matched, the decayed, capped occurrences of an activity rule). The rows are the only part
that needs leadscore's own engine (a lead's history replayed to its decision point); everything
here is plain SQL over them.
"""

from __future__ import annotations

from typing import Any

FIXED = ("lead_id", "decided_at", "converted", "score", "grade")

# The time-ordered holdout: the newest share of rows by decision time (never a random split).
SPLIT = """
CREATE OR REPLACE VIEW split AS
SELECT *, row_number() OVER (ORDER BY decided_at, lead_id) > round(count(*) OVER () * (1 - {holdout}))
          AS held_out
FROM rows
"""

BASE = "SELECT count(*) AS leads, sum(converted) AS conversions, avg(converted) AS base_rate FROM rows"

GRADES = """
SELECT grade, count(*) AS leads, avg(converted) AS conversion
FROM rows GROUP BY grade ORDER BY grade
"""

# Per-rule lift: conversion when the rule fired against when it did not.
RULE_LIFT = """
WITH long AS (
  UNPIVOT rows ON COLUMNS(* EXCLUDE (lead_id, decided_at, converted, score, grade))
  INTO NAME rule VALUE x
)
SELECT rule,
       count(*) FILTER (WHERE x <> 0) AS fired,
       avg(converted) FILTER (WHERE x <> 0) AS conversion_fired,
       avg(converted) FILTER (WHERE x = 0) AS conversion_not_fired
FROM long GROUP BY rule ORDER BY rule
"""

# Every distinct score of the training rows as a threshold: leads at or above it, their conversions.
THRESHOLDS = """
WITH train AS (SELECT * FROM split WHERE NOT held_out),
     span AS (SELECT greatest((max(decided_at) - min(decided_at)) / 604800.0, 1.0) AS weeks,
                     sum(converted) AS won_total FROM train),
     by_score AS (SELECT score, count(*) AS n, sum(converted) AS won FROM train GROUP BY score),
     swept AS (SELECT score AS threshold,
                      sum(n) OVER (ORDER BY score DESC) AS leads,
                      sum(won) OVER (ORDER BY score DESC) AS won
               FROM by_score)
SELECT threshold, leads, won::DOUBLE / leads AS precision, won::DOUBLE / won_total AS recall,
       leads / weeks AS leads_per_week
FROM swept, span ORDER BY threshold
"""

# The proposal for a capacity: the lowest threshold whose leads per week fit it (at least 10 leads).
PROPOSE = """
SELECT min(threshold) AS threshold FROM ({thresholds}) WHERE leads_per_week <= {capacity} AND leads >= 10
"""

# AUC of the score on the held-out rows (Mann-Whitney, ties count one half).
AUC = """
WITH h AS (SELECT score, converted FROM split WHERE held_out),
     ranked AS (SELECT converted,
                       rank() OVER (ORDER BY score) + (count(*) OVER (PARTITION BY score) - 1) / 2.0 AS r
                FROM h),
     pn AS (SELECT sum(converted) AS p, count(*) - sum(converted) AS n FROM h)
SELECT (sum(r) FILTER (WHERE converted = 1) - p * (p + 1) / 2.0) / (p * n) AS auc FROM ranked, pn
GROUP BY p, n
"""

# Holdout precision and recall at a threshold.
AT_THRESHOLD = """
SELECT count(*) FILTER (WHERE score >= {t}) AS leads,
       avg(converted) FILTER (WHERE score >= {t}) AS precision,
       sum(converted) FILTER (WHERE score >= {t})::DOUBLE / sum(converted) AS recall
FROM split WHERE held_out
"""

# The rows the weights are fitted on: a reservoir sample of the training rows (bounded, uniform).
# (DuckDB samples a FROM before its WHERE: the filter goes in a subquery.)
FIT_SAMPLE = """
SELECT * FROM (SELECT * FROM split WHERE NOT held_out) USING SAMPLE reservoir({rows} ROWS) REPEATABLE (0)
"""


def connect(rows_csv: str, holdout: float = 0.3) -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW rows AS SELECT * FROM read_csv('{rows_csv}', header = true)")
    con.execute(SPLIT.format(holdout=holdout))
    return con


# Step 1 at scale: DynamoDB's export to S3 (DYNAMODB_JSON: one {"Item": ...} a line, gzipped, the items
# of a lead in any file and any order) grouped into one line per lead: its lead item and history
# items (dedupe pages left out), for ``leadscore review --input``. DuckDB reads s3:// paths with its
# httpfs extension; Athena runs the same GROUP BY over the export's table.
GROUP_EXPORT = """
COPY (
  SELECT json_extract_string(Item, '$.pk.S') AS pk,
         list(Item ORDER BY json_extract_string(Item, '$.sk.S')) AS items
  FROM read_json('{source}', format = 'newline_delimited', columns = {{Item: 'JSON'}})
  WHERE json_extract_string(Item, '$.sk.S') = 'LEAD'
     OR starts_with(json_extract_string(Item, '$.sk.S'), 'EV#')
  GROUP BY pk
  ORDER BY pk
) TO '{target}' (FORMAT json)
"""


def group_export(source: str, target: str) -> None:
    import duckdb

    duckdb.connect().execute(GROUP_EXPORT.format(source=source, target=target))
