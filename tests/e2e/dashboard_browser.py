#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""tests/e2e/dashboard_browser.py: a real browser on the dashboard (run by test_e2e_dashboard).

Headless Chromium (Debian's chromium + chromium-driver, driven by python3-selenium) loads each
page of a dashboard that test_e2e_dashboard started against a live fleet, checks what a person
would see (the counts, a stalled workflow's error, its timeline, the dead letter, the worker, a
hostile key shown as text), checks that the browser reported no error (a Content-Security-Policy
violation would be one), signs in with the token, requeues the stalled workflow `stalled-2`
through its button and watches it complete. A screenshot of each page goes to --out.

Exit 0 when every check passed, 1 with the reason otherwise.
"""
import argparse
import os
import sys
import tempfile
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

DEADLINE_S = 30


def fail(msg):
    print("dashboard_browser: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    token = os.environ.get("CF_DASHBOARD_TOKEN")
    check(token, "CF_DASHBOARD_TOKEN is not set")
    os.makedirs(args.out, exist_ok=True)
    opts = Options()
    profile = tempfile.mkdtemp(prefix="cf-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--user-data-dir=" + profile):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.set_page_load_timeout(DEADLINE_S)
    try:
        run(d, args.url, args.out, token)
    finally:
        d.quit()
    print("dashboard_browser: every check passed; screenshots in " + args.out)


def text(d, css):
    return d.find_element(By.CSS_SELECTOR, css).text


def wait_for(d, css):
    """After a click that submits a form: the next page's element css."""
    return WebDriverWait(d, DEADLINE_S).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def no_browser_errors(d, page):
    errors = [e for e in d.get_log("browser") if e.get("level") == "SEVERE"]
    check(not errors, "%s: the browser reported errors: %r" % (page, errors))


def shot(d, out, name):
    d.save_screenshot(os.path.join(out, name + ".png"))


def run(d, url, out, token):
    wf = url + "/workflow?class=Exerciser&key=stalled-2"

    d.get(url + "/")
    check(d.title == "Overview · chronoforge", "home: title %r" % d.title)
    check(text(d, "#count-stalled b") == "1", "home: stalled count " + text(d, "#count-stalled b"))
    check(text(d, "#count-idle b") == "1", "home: idle count " + text(d, "#count-idle b"))
    stuck = text(d, "#stuck")
    check("stalled-2" in stuck and "step_1 fails on attempt 1 by request" in stuck,
          "home: the stuck panel lacks the stalled workflow's error: " + stuck)
    check("1 dead letter" in stuck, "home: the stuck panel lacks the dead letter: " + stuck)
    no_browser_errors(d, "home")
    shot(d, out, "home")

    d.get(url + "/workflows?state=stalled")
    rows = d.find_elements(By.CSS_SELECTOR, "#workflows tr")
    check(len(rows) == 2 and "stalled-2" in rows[1].text,
          "workflows: expected one stalled row, saw %r" % [r.text for r in rows])
    no_browser_errors(d, "workflows")
    shot(d, out, "workflows")

    d.get(wf)
    steps = d.find_elements(By.CSS_SELECTOR, "#timeline tr")
    check(len(steps) == 2 and "durably_execute$step_1" in steps[1].text
          and "failed" in steps[1].text, "workflow: timeline %r" % [s.text for s in steps])
    check("step_1 fails on attempt 1 by request" in text(d, "#errors"), "workflow: no error")
    check(text(d, "#wf-state") == "stalled", "workflow: state " + text(d, "#wf-state"))
    no_browser_errors(d, "workflow")
    shot(d, out, "workflow")

    d.get(url + "/queues?queue=default")
    check("not_msgpack" in text(d, "#dead"), "queues: no dead letter")
    check("c1 6a 75 6e 6b" in text(d, "#dead pre.hex"), "queues: no hex of the raw bytes")
    no_browser_errors(d, "queues")
    shot(d, out, "queues")

    d.get(url + "/workers")
    check(text(d, "#live-workers") == "1", "workers: live " + text(d, "#live-workers"))
    no_browser_errors(d, "workers")
    shot(d, out, "workers")

    key = urllib.parse.quote("<script>alert(1)</script>", safe="")
    d.get(url + "/workflow?class=Exerciser&key=" + key)
    check(text(d, "h1") == "Exerciser / <script>alert(1)</script>",
          "escaping: the hostile key is not shown as text: " + text(d, "h1"))
    try:
        d.switch_to.alert
        fail("escaping: the hostile key ran a script")
    except NoAlertPresentException:
        pass

    # No action before signing in; then sign in and requeue through the button.
    d.get(wf)
    check(not d.find_elements(By.CSS_SELECTOR, "button[data-action]"),
          "workflow: an action button before signing in")
    d.get(url + "/login")
    d.find_element(By.NAME, "who").send_keys("browser")
    d.find_element(By.NAME, "token").send_keys(token)
    d.find_element(By.ID, "signin").click()
    wait_for(d, ".who b")
    check("signed in as browser" in text(d, ".who"), "login: " + text(d, ".who"))
    d.get(wf)
    d.find_element(By.CSS_SELECTOR, "button[data-action=requeue]").click()
    wait_for(d, "#result")
    check("requeued Exerciser/stalled-2 (was stalled)" in text(d, "#result"),
          "requeue: " + text(d, "#result"))
    d.find_element(By.ID, "back").click()
    wait_for(d, "#wf-state")
    deadline = time.monotonic() + DEADLINE_S
    while text(d, "#wf-state") != "completed":
        check(time.monotonic() < deadline, "requeue: the workflow did not complete: "
              + text(d, "#wf-state"))
        time.sleep(0.3)
        d.refresh()
    steps = d.find_elements(By.CSS_SELECTOR, "#timeline tr")
    check(any("durably_execute$step_1" in s.text and "completed" in s.text for s in steps),
          "requeue: step_1 not completed in the timeline")
    no_browser_errors(d, "requeued workflow")
    shot(d, out, "workflow-requeued")


if __name__ == "__main__":
    main()
