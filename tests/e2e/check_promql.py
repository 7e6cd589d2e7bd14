#!/usr/bin/python3
"""tests/e2e/check_promql.py PROM_URL RULES.yml DASHBOARD.json: checks the shipped alert rules and
Grafana board against a live Prometheus that scrapes chronoforge workers (test_e2e_metrics.c):
`promtool check rules` accepts the rules; every rule's and panel's expression evaluates through
/api/v1/query without error; and every chronoforge_* metric name in them is one the workers
export (a name Prometheus has scraped: /api/v1/label/__name__/values). Grafana's $__rate_interval
is evaluated as 1m. Prints each failure; exits 1 if any, 0 otherwise."""
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import yaml

GRAFANA_VARS = {"$__rate_interval": "1m", "${__rate_interval}": "1m"}
NAME = re.compile(r"\bchronoforge_[a-z0-9_]+")


def get(prom, path, **params):
    url = prom + path + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400 for a bad expression: the body says why
        return json.load(e)


def rule_exprs(path):
    doc = yaml.safe_load(open(path))
    for g in doc["groups"]:
        for r in g["rules"]:
            yield "rule " + r.get("alert", r.get("record", "?")), r["expr"]


def panel_exprs(path):
    board = json.load(open(path))

    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                yield "panel '%s' %s" % (p.get("title"), t.get("refId")), t["expr"]

    yield from walk(board["panels"])


def main():
    prom, rules, dashboard = sys.argv[1:4]
    failures = []
    pc = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, text=True)
    if pc.returncode != 0:
        failures.append("promtool check rules: " + pc.stdout + pc.stderr)
    names = get(prom, "/api/v1/label/__name__/values")
    exported = {n for n in names.get("data", []) if n.startswith("chronoforge_")}
    if not exported:
        failures.append("Prometheus has scraped no chronoforge_ metric")
    exprs = list(rule_exprs(rules)) + list(panel_exprs(dashboard))
    for where, expr in exprs:
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        if "$" in expr:
            failures.append("%s: an unknown template variable: %s" % (where, expr))
            continue
        res = get(prom, "/api/v1/query", query=expr)
        if res.get("status") != "success":
            failures.append("%s: does not evaluate (%s): %s" % (where, res.get("error"), expr))
        for name in NAME.findall(expr):
            if name not in exported:
                failures.append("%s: names a metric we do not export: %s" % (where, name))
    for f in failures:
        print(f)
    print("%d expressions (%d rules), %d failures" % (len(exprs), len(list(rule_exprs(rules))),
                                                      len(failures)))
    return 1 if failures or not exprs else 0


if __name__ == "__main__":
    sys.exit(main())
