#!/usr/bin/env python3
"""Prints a pgbench script of the intake transaction that `clubos serve` commits for a new
customer's text, built from the same named statements (schema/queries/*.sql) with the parameters
intake gives them (captured with log_statement = all): the raw-SQL baseline of scripts/bench-api.

One message per transaction, as a client without group commit would send it. The phone number is
random over 10^14 (one collision in ~10^4 runs of 150,000 messages), so every transaction opens a
new thread as wrk's requests do.
Usage: intake_pgbench.py QUERIES_DIR > intake.sql
"""
import pathlib
import re
import sys


def statements(folder):
    out = {}
    for path in sorted(pathlib.Path(folder).glob("*.sql")):
        name = None
        for line in path.read_text().splitlines():
            m = re.match(r"--\s*name:\s*(\w+)", line)
            if m:
                name = m.group(1)
                out[name] = []
            elif name and not line.lstrip().startswith("--"):
                out[name].append(line)
    return {n: " ".join(l.strip() for l in lines if l.strip()) for n, lines in out.items()}


def bind(sql, params):
    # $10 before $1: replace from the highest number down.
    for i in range(len(params), 0, -1):
        sql = re.sub(r"\$%d(?!\d)" % i, params[i - 1], sql)
    return sql


PHONE = "('+1' || :n::text)"
LINE = "'+15555550199'"
EXTERNAL = "('raw-' || :n::text)"
BODY = "'the trackman in bay 3 is frozen'"

INTAKE = [
    ("message_by_external_id", ["'api'", PHONE, EXTERNAL], ""),
    ("thread_open_lock", [PHONE, LINE, "NULL"], ""),
    ("thread_insert", ["'bedford'", PHONE, LINE, "'received'", "NULL"], r" \gset t_"),
    ("message_insert", [":t_id", "'in'", EXTERNAL, PHONE, LINE, BODY, "NULL", "'api'"], r" \gset m_"),
    ("transition_insert", ["'thread'", ":t_id", "NULL", "'message_received'", "'received'",
                           "'customer'", "NULL", "jsonb_build_object('message_id', :m_id::bigint)::text",
                           "NULL"], ""),
    ("job_enqueue", ["'default'", "'route_message'",
                     "jsonb_build_object('thread_id', :t_id::bigint, 'message_id', :m_id::bigint)::text", "100",
                     "(now() + interval '3 seconds')", "10", "('route_message:' || :t_id::text)",
                     "'replace'", "NULL"], ""),
]


def main():
    known = statements(sys.argv[1])
    print("\\set n random(1, 99999999999999)")
    print("BEGIN;")
    for name, params, suffix in INTAKE:
        if name not in known:
            sys.exit(f"intake_pgbench.py: no statement {name} in {sys.argv[1]}")
        sql = bind(known[name], params)
        if suffix:  # \gset ends the command instead of a semicolon
            print(sql + suffix)
        else:
            print(sql + ";")
    # ':timers', spelled so that pgbench does not take :timers for one of its variables.
    print("SELECT pg_notify('clubos_jobs', chr(58) || 'timers');")
    print("COMMIT;")


main()
