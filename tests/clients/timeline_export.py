"""Runs the BigQuery query of docs/operations.md ("A talk's timeline") in
DuckDB on a `likes export` folder, and prints each talk's likes per minute,
as JSON: {"<session_id>": [["2018-10-04T12:00:00Z", 3], ...], ...}.

    timeline_export.py DOCS_MD FOLDER SESSION_ID [SESSION_ID ...]

The query is read from the documentation itself, and DuckDB's dialect put
in the four places where it differs from BigQuery's."""

import json
import pathlib
import sys

import duckdb

from load_export import columns, read

MARKER = "-- Session.timeline(every: 60) of one talk, from the export"

# BigQuery → DuckDB, each of which must be found exactly once.
DIALECT = [
    ("TIMESTAMP_TRUNC(created_at, MINUTE)", "date_trunc('minute', created_at)"),
    ("GENERATE_TIMESTAMP_ARRAY(", "generate_series("),
    (", INTERVAL 1 MINUTE)) AS start", ", INTERVAL 1 MINUTE)) AS minutes(start)"),
    ("@session_id", "$session_id"),
]


def documented_query(docs):
    text = docs.read_text()
    start = text.index("```sql\n" + MARKER) + len("```sql\n")
    return text[start : text.index("```", start)]


def in_duckdb(query):
    for bigquery, duck in DIALECT:
        if query.count(bigquery) != 1:
            sys.exit(f"the documented query no longer has {bigquery!r} once")
        query = query.replace(bigquery, duck)
    return query


def main():
    docs, folder = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    sessions = [int(s) for s in sys.argv[3:]]
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE SCHEMA conference")
    files = sorted(folder.glob("likes-*.ndjson*"))
    read(db, files, columns(folder)).create("conference.likes")
    query = in_duckdb(documented_query(docs))
    printed = f"SELECT strftime(start, '%Y-%m-%dT%H:%M:%SZ'), likes FROM ({query}) ORDER BY 1"
    timelines = {
        str(session): [list(row) for row in db.execute(printed, {"session_id": session}).fetchall()]
        for session in sessions
    }
    print(json.dumps(timelines))


if __name__ == "__main__":
    main()
