#!/usr/bin/env bash
# tests/lint/sql-literals.sh: every SQL text passed to libpq is a string literal or a named
# constant (SQL_*, or the .sql member of store/sql.c's statement table), never a string built at
# run time, so values can only travel as parameters. The table's texts must be constant char
# arrays (store/sql.c's `static const char sql_*[]`, store/sql_*.c's `const char cf_sql_*[]`),
# which C only lets a string literal initialise.
set -u
cd "$(dirname "$0")/../.." || exit 1
exec /usr/bin/python3 - "$@" <<'PY'
import re, sys, glob
calls = {  # function -> index of the SQL argument
    "PQexec": 1, "PQexecParams": 1, "PQprepare": 2, "PQsendQuery": 1,
    "PQsendQueryParams": 1, "PQsendPrepare": 2,
    "migrate_query": 1,  # store/migrate.c's wrapper of cf_pg_conn_query
}
bad = 0
# The library and the stock binary; tests may build DDL for throwaway databases.
paths = [p for d in ("common", "queue", "store", "worker", "cli", "workflows")
         for p in glob.glob(d + "/**/*.c", recursive=True)]
for path in sorted(paths):
    src = open(path, encoding="utf-8", errors="replace").read()
    for m in re.finditer(r"\b(%s)\s*\(" % "|".join(calls), src):
        fn = m.group(1)
        # split the argument list at top-level commas
        depth, args, cur, i = 1, [], "", m.end()
        in_str = False
        while i < len(src) and depth:
            c = src[i]
            if in_str:
                cur += c
                if c == "\\": cur += src[i + 1]; i += 1
                elif c == '"': in_str = False
            elif c == '"': in_str = True; cur += c
            elif c in "([{": depth += 1; cur += c
            elif c in ")]}":
                depth -= 1
                if depth: cur += c
            elif c == "," and depth == 1: args.append(cur.strip()); cur = ""
            else: cur += c
            i += 1
        args.append(cur.strip())
        idx = calls[fn]
        if idx >= len(args):
            continue
        a = args[idx]
        if re.match(r"(const\s+)?char\s*\*", a):
            continue  # the wrapper's own definition
        literal = re.fullmatch(r'("([^"\\]|\\.)*"\s*)+', a, re.S)
        named = re.fullmatch(r"SQL_[A-Z0-9_]+|[a-z_]+(->|\.)sql", a)
        if not (literal or named):
            line = src.count("\n", 0, m.start()) + 1
            print(f"{path}:{line}: {fn} SQL argument is not a literal or SQL_* constant: {a[:60]}")
            bad = 1
# store/sql.c: every entry of cf_sql_stmts names a `static const char sql_*[]` of that file or a
# `const char cf_sql_*[]` of a store/sql_*.c file (arrays: only a literal initialises them).
table_src = open("store/sql.c", encoding="utf-8").read()
arrays = set(re.findall(r"^static const char (sql_[a-z0-9_]+)\[\] =", table_src, re.M))
for part in glob.glob("store/sql_*.c"):
    arrays |= set(re.findall(r"^const char (cf_sql_[a-z0-9_]+)\[\] =",
                             open(part, encoding="utf-8").read(), re.M))
table = re.search(r"cf_sql_stmts\[[A-Z_]+\] = \{(.*?)\n\};", table_src, re.S)
entries = re.findall(r"\{\s*\"[a-z0-9_]+\",\s*([^,]+),\s*\d+\s*\}", table.group(1)) if table else []
if not table or not entries:
    print("store/sql.c: statement table cf_sql_stmts not found")
    bad = 1
for e in entries:
    if e.strip() not in arrays:
        print(f"store/sql.c: cf_sql_stmts entry {e.strip()} is not a constant SQL text array")
        bad = 1
sys.exit(bad)
PY
