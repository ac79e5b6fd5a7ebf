"""HummingbirdQuickstart in a real browser: sign-in with password and a real TOTP code must set a
Secure/HttpOnly/SameSite=Strict host-only session cookie that scripts cannot read, and a form posted from
a second origin (another loopback port: same site, so the SameSite=Strict cookie IS sent) must be refused
by the CSRF checks while the session stays signed in.

    python scripts/browser/quickstart_flows.py QUICKSTART_BINARY
"""

import os
import sys
import tempfile
import traceback

import pyotp
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browserkit import Checks, SecondOrigin, Server, chrome, free_port, normalized, wait_until  # noqa: E402


def run(binary, work):
    checks = Checks("quickstart")
    port = free_port()
    portal = f"http://127.0.0.1:{port}"
    log = os.path.join(work, "quickstart.log")
    server = Server([binary, "--port", str(port), "--database", os.path.join(work, "quickstart.sqlite")], log)
    attacker = browser = None
    try:
        if not checks.check(server.wait_for(lambda l: f"on http://127.0.0.1:{port}/" in l), "quickstart started"):
            return checks
        uri = next(l.split()[1] for l in server.lines() if l.strip().startswith("alice ") and "otpauth://" in l)
        totp = pyotp.parse_uri(uri)
        attacker = SecondOrigin(
            os.path.join(work, "quickstart-attacker"),
            {
                "attack.html": f"""<!doctype html><html><body><h1>Win a prize</h1>
<form method="post" action="{portal}/logout"><input type="hidden" name="x" value="1">
<button id="go">Claim</button></form></body></html>"""
            },
        )
        browser = chrome()
        driver = browser.driver
        browser.get(portal + "/")
        browser.shot("quickstart-01-sign-in")
        driver.find_element(By.NAME, "name").send_keys("alice")
        driver.find_element(By.NAME, "password").send_keys("correct horse battery staple")
        driver.find_element(By.TAG_NAME, "button").click()
        checks.check(wait_until(driver, lambda d: d.current_url.endswith("/login/code")),
                     "password step leads to the code form")
        browser.shot("quickstart-02-code")
        driver.find_element(By.NAME, "code").send_keys(totp.now())
        driver.find_element(By.TAG_NAME, "button").click()
        wait_until(driver, lambda d: "/login/code" not in d.current_url)
        browser.shot("quickstart-03-signed-in")
        checks.check("Signed in" in driver.page_source, "signed in after the TOTP code")
        cookie = driver.get_cookie("__Host-phiguard-session")
        checks.check(cookie is not None, "session cookie stored by the browser")
        if cookie:
            checks.check(cookie.get("secure") is True, "cookie is Secure")
            checks.check(cookie.get("httpOnly") is True, "cookie is HttpOnly")
            checks.check(cookie.get("sameSite") == "Strict", "cookie is SameSite=Strict")
            checks.check("domain" not in cookie or cookie["domain"] == "127.0.0.1", "cookie is host-only")
        checks.check(driver.execute_script("return document.cookie") == "", "scripts cannot read the cookie")
        # Her chart through the JSON API, in the browser: not cacheable.
        _, status, headers = browser.get(portal + "/api/charts/c-alice")
        browser.shot("quickstart-04-own-chart")
        checks.check(status == 200 and "Alice Example" in driver.page_source, f"alice reads c-alice (status {status})")
        checks.check("no-store" in headers.get("cache-control", ""),
                     f"the chart is sent with Cache-Control: no-store (got {headers.get('cache-control')!r})")
        # IDOR: bob's chart answers exactly like a chart that does not exist.
        _, denied_status, _ = browser.get(portal + "/api/charts/c-bob")
        browser.shot("quickstart-05-idor-c-bob")
        denied_text = browser.text()
        leaked = "Bob Example" in driver.page_source
        _, missing_status, _ = browser.get(portal + "/api/charts/c-nobody")
        missing_text = browser.text()
        checks.check(denied_status == 404 and not leaked,
                     f"alice opening c-bob: 404 and no PHI (status {denied_status}, leaked {leaked})")
        checks.check(missing_status == 404 and normalized(denied_text) == normalized(missing_text),
                     "c-bob (denied) and c-nobody (missing) answer the same 404")
        browser.get(attacker.origin + "/attack.html")
        browser.shot("quickstart-06-attacker-page")
        driver.find_element(By.ID, "go").click()
        WebDriverWait(driver, 10).until(lambda d: d.current_url.startswith(portal))
        browser.shot("quickstart-07-cross-origin-post-refused")
        checks.check("Access denied" in driver.page_source, "cross-origin form post refused (403 page)")
        checks.check(
            any("cross-site request refused (sec-fetch-site)" in l for l in server.lines()),
            "refused by the Sec-Fetch-Site check (the SameSite=Strict cookie was sent: same site)",
        )
        browser.get(portal + "/")
        browser.shot("quickstart-08-still-signed-in")
        checks.check("Signed in" in driver.page_source, "still signed in after the refused post")
        # Sign-out, then Back to the chart: the browser must ask again (no-store), and gets no PHI.
        browser.get(portal + "/api/charts/c-alice")
        browser.get(portal + "/")
        driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
        WebDriverWait(driver, 10).until(lambda d: "Sign in" in d.page_source)
        browser.shot("quickstart-09-signed-out")
        driver.back()  # the signed-in home page
        driver.back()  # the chart
        WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("/api/charts/c-alice"))
        browser.shot("quickstart-10-back-to-chart-after-sign-out")
        checks.check("Alice Example" not in driver.page_source and "penicillin" not in driver.page_source,
                     "Back to the chart after sign-out shows no PHI")
    except Exception as error:  # a missing element or a crashed server fails the suite, never skips it
        checks.error(f"quickstart flow stopped: {type(error).__name__}: {str(error).strip().splitlines()[0]}")
        traceback.print_exc(limit=-3, file=sys.stdout)
    finally:
        if browser:
            browser.quit()
        if attacker:
            attacker.close()
        server.stop()
    return checks


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as work:
        result = run(sys.argv[1], work)
    print(f"{result.passed} passed, {len(result.failed)} failed")
    sys.exit(1 if result.failed else 0)
