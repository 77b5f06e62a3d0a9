"""Loads `likes export` folders into DuckDB the way docs/operations.md loads them
into BigQuery, and prints what the table then holds, as JSON.

    load_export.py merge DIR [DIR ...]    each folder's files, merged on id
    load_export.py replace DIR [DIR ...]  each day file replaces its day

The column types come from the folder's schema.json (BigQuery's format)."""

import json
import pathlib
import sys

import duckdb

TYPES = {"STRING": "VARCHAR", "INTEGER": "BIGINT", "TIMESTAMP": "TIMESTAMPTZ"}


def columns(folder):
    schema = json.loads((folder / "schema.json").read_text())
    return {field["name"]: TYPES[field["type"]] for field in schema}


def read(db, files, cols):
    names = ", ".join(f"'{f}'" for f in files)
    spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"
    return db.sql(
        f"SELECT * FROM read_json([{names}], format = 'newline_delimited', "
        f"columns = {spec}, timestampformat = '%Y-%m-%dT%H:%M:%S.%fZ')"
    )


def main():
    mode, folders = sys.argv[1], [pathlib.Path(p) for p in sys.argv[2:]]
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    cols = columns(folders[0])
    db.execute(
        "CREATE TABLE likes (" + ", ".join(f"{k} {v} NOT NULL" for k, v in cols.items()) + ")"
    )
    for folder in folders:
        files = sorted(folder.glob("likes-*.ndjson*"))
        if not files:
            continue
        if mode == "merge":
            read(db, files, cols).create_view("staging")
            db.execute(
                "INSERT INTO likes SELECT * FROM staging s "
                "WHERE NOT EXISTS (SELECT 1 FROM likes l WHERE l.id = s.id)"
            )
        else:
            for file in files:
                day = file.name.split(".")[0].removeprefix("likes-")
                db.execute("DELETE FROM likes WHERE CAST(created_at AS DATE) = ?", [day])
                read(db, [file], cols).create_view("staging")
                db.execute("INSERT INTO likes SELECT * FROM staging")
    total, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM likes").fetchone()
    per_talk = dict(
        db.execute("SELECT session_id, COUNT(*) FROM likes GROUP BY 1 ORDER BY 1").fetchall()
    )
    per_day = dict(
        db.execute(
            "SELECT strftime(CAST(created_at AS DATE), '%Y-%m-%d'), COUNT(*) "
            "FROM likes GROUP BY 1 ORDER BY 1"
        ).fetchall()
    )
    earliest = db.execute(
        "SELECT strftime(MIN(created_at), '%Y-%m-%dT%H:%M:%S.%fZ') FROM likes"
    ).fetchone()[0]
    print(
        json.dumps(
            {
                "total": total,
                "distinct": distinct,
                "per_talk": {str(k): v for k, v in per_talk.items()},
                "per_day": per_day,
                "earliest": earliest,
            }
        )
    )


if __name__ == "__main__":
    main()
