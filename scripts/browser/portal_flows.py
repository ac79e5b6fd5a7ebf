"""The web portal (Examples/WebPortal) in a real browser, driven by the page contract
(Documentation of the URLs, form names and element ids: the WebPortal page contract).

Starts the WebPortal binary on a free loopback port with a fresh data folder, reads the `demo-account`
lines it prints, and checks, with a screenshot of each step:
  - sign-in with password then a real TOTP code (pyotp from the otpauth URI); a generic sign-in error;
    the session cookie's flags;
  - reading one's own chart (`dl#chart`), sent with `Cache-Control: no-store`;
  - IDOR: alice opens /patients/p-2 and gets the same 404 page as /patients/p-99999, no chart;
  - CSRF from a second origin (python http.server on ANOTHER loopback port, a form the test clicks):
    POST /sessions/{handle}/end as alice, POST /break-glass as nurse.joy; both refused, state unchanged;
  - sign-out then Back shows no PHI;
  - registration bypass: a registration session reaches no PHI page;
  - break-glass by nurse.joy for a patient off her care team, the banner, then audit.ada sees it in
    /review and /audit says the audit log is intact;
  - password change (/password): a wrong current password is refused; the right one rotates the
    session cookie, the old cookie reaches nothing, and the new password signs in.

    python scripts/browser/portal_flows.py WEBPORTAL_BINARY
"""

import http.client
import os
import sys
import tempfile
import traceback
import time

import pyotp
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browserkit import Checks, SecondOrigin, Server, chrome, free_port, normalized  # noqa: E402

# PHI of the fixed demo patients (Examples/PortalCore/PortalSeed.swift): no page may show these to
# someone who may not read them.
ALICE_PHI = ["Alice Example", "Harbour Lane", "Salbutamol", "Penicillin", "R-5521", "BP 118/76"]
BOB_PHI = ["Bob Sample", "Mill Road", "Metformin", "R-7310", "BP 131/84", "Hepatitis B 2019"]
OFF_TEAM = "p-50"  # on no care team of nurse.joy (p-1, p-4 ... p-40)


class Portal:
    def __init__(self, base, browser, checks, accounts):
        self.base, self.browser, self.checks, self.accounts = base, browser, checks, accounts
        self.driver = browser.driver
        self.last_step = {}

    def get(self, path):
        return self.browser.get(self.base + path)

    def submit(self, element):
        """Clicks a submit control and waits for the next document; returns (url, status, headers)."""
        return self.browser.submit(element)

    def sign_in(self, login, shot_prefix):
        password, totp = self.accounts[login]
        self.get("/sign-in")
        self.browser.shot(f"{shot_prefix}-sign-in")
        form = self.driver.find_element(By.ID, "sign-in")
        form.find_element(By.NAME, "login").send_keys(login)
        form.find_element(By.NAME, "password").send_keys(password)
        self.submit(self.driver.find_element(By.ID, "sign-in-submit"))
        self.checks.check(self.browser.path() == "/second-factor", f"{login}: password step leads to /second-factor")
        self.browser.shot(f"{shot_prefix}-second-factor")
        # The replay guard refuses a code twice: a second sign-in in the same 30 s step waits for the next.
        step = int(time.time()) // 30
        if self.last_step.get(login) == step:
            time.sleep(30 - time.time() % 30 + 0.5)
        self.last_step[login] = int(time.time()) // 30
        self.driver.find_element(By.ID, "second-factor").find_element(By.NAME, "code").send_keys(totp.now())
        self.submit(self.driver.find_element(By.ID, "second-factor-submit"))
        whoami = self.browser.by_id("whoami")
        signed_in = self.browser.path() == "/home" and whoami is not None and login in whoami.text
        self.checks.check(signed_in, f"{login}: signed in with password + TOTP (/home, #whoami names {login})")
        self.browser.shot(f"{shot_prefix}-home")
        return signed_in

    def sign_out(self):
        return self.submit(self.driver.find_element(By.ID, "sign-out-submit"))

    def chart_values(self):
        chart = self.browser.by_id("chart")
        if chart is None:
            return {}
        return {dd.get_attribute("data-field"): dd.text for dd in chart.find_elements(By.CSS_SELECTOR, "dd[data-field]")}

    def shows_none_of(self, values):
        source = self.driver.page_source
        return [v for v in values if v and v in source]


def run(binary, work):
    checks = Checks("portal")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server([binary, "--data", os.path.join(work, "portal-data"), "--port", str(port)],
                    os.path.join(work, "webportal.log"))
    browser = attacker = None
    try:
        started = server.wait_for(lambda l: l.strip() == f"WebPortal listening on {base}", timeout=300)
        if not checks.check(started, f"WebPortal started and printed 'WebPortal listening on {base}'"):
            print("\n".join(server.lines()[-20:]))
            return checks
        accounts = {}
        for line in server.lines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == "demo-account" and parts[3].startswith("otpauth://totp/"):
                accounts[parts[1]] = (parts[2], pyotp.parse_uri(parts[3]))
        if not checks.check({"alice", "nurse.joy", "audit.ada"} <= accounts.keys(),
                            f"demo-account lines for alice, nurse.joy, audit.ada (got {sorted(accounts)})"):
            return checks
        attacker = SecondOrigin(os.path.join(work, "portal-attacker"), {})
        checks.check(attacker.port != port, f"second origin on another loopback port ({attacker.origin})")
        browser = chrome()
        portal = Portal(base, browser, checks, accounts)
        flows(portal, checks, attacker, server)
    except Exception as error:  # a missing element or a crashed server fails the suite, never skips it
        checks.error(f"portal flow stopped: {type(error).__name__}: {str(error).strip().splitlines()[0]}")
        traceback.print_exc(limit=-3, file=sys.stdout)
        if browser:
            browser.shot("portal-99-where-it-stopped")
    finally:
        if browser:
            browser.quit()
        if attacker:
            attacker.close()
        server.stop()
    return checks


def flows(portal, checks, attacker, server):
    browser, driver = portal.browser, portal.driver

    # 1. A failed sign-in says the same thing for a wrong password and an unknown account.
    messages = []
    for login in ["alice", "nobody.here"]:
        portal.get("/sign-in")
        form = driver.find_element(By.ID, "sign-in")
        form.find_element(By.NAME, "login").send_keys(login)
        form.find_element(By.NAME, "password").send_keys("not the password at all 123")
        portal.submit(driver.find_element(By.ID, "sign-in-submit"))
        error = browser.by_id("error")
        messages.append(error.text if error else None)
    browser.shot("portal-01-sign-in-refused")
    checks.check(messages[0] and normalized(messages[0]) == normalized(messages[1]),
                 f"wrong password and unknown account get one generic #error ({messages})")

    # 2. alice: password, then a real TOTP code.
    if not portal.sign_in("alice", "portal-02-alice"):
        return
    cookies = [c for c in driver.get_cookies() if c["name"].startswith("__Host-")]
    checks.check(len(cookies) == 1, f"one __Host- session cookie ({[c['name'] for c in driver.get_cookies()]})")
    for cookie in cookies:
        checks.check(cookie.get("secure") is True and cookie.get("httpOnly") is True
                     and cookie.get("sameSite") == "Strict" and cookie.get("path") == "/",
                     f"session cookie is Secure, HttpOnly, SameSite=Strict, Path=/ ({cookie})")
    checks.check(driver.execute_script("return document.cookie") == "", "scripts cannot read the session cookie")

    # 3. Her own chart, not cacheable.
    _, status, headers = portal.get("/chart")
    browser.shot("portal-03-alice-chart")
    chart = portal.chart_values()
    checks.check(status == 200 and chart and "Penicillin" in chart.values(),
                 f"/chart shows alice's chart in dl#chart (status {status}, fields {sorted(chart)})")
    checks.check("no-store" in headers.get("cache-control", ""),
                 f"/chart is sent with Cache-Control: no-store (got {headers.get('cache-control')!r})")
    alice_values = [v for v in chart.values() if len(v) >= 4] or ALICE_PHI

    # 4. IDOR: another patient's chart answers exactly like a chart that does not exist.
    _, idor_status, idor_headers = portal.get("/patients/p-2")
    browser.shot("portal-04-idor-p-2")
    idor_text, idor_chart = browser.text(), browser.by_id("chart")
    leaked = portal.shows_none_of(BOB_PHI)
    _, missing_status, _ = portal.get("/patients/p-99999")
    browser.shot("portal-05-missing-p-99999")
    missing_text = browser.text()
    checks.check(idor_status == 404 and idor_chart is None and not leaked,
                 f"alice opening /patients/p-2: 404, no dl#chart, none of bob's PHI (status {idor_status}, leaked {leaked})")
    checks.check(missing_status == 404 and normalized(idor_text) == normalized(missing_text),
                 "/patients/p-2 (denied) and /patients/p-99999 (missing) are the same 404 page")

    # 5. CSRF from a second origin: a form on another loopback port posts "end this session".
    portal.get("/sessions")
    rows = driver.find_elements(By.CSS_SELECTOR, "table#sessions tr[data-session-handle]")
    handles = [r.get_attribute("data-session-handle") for r in rows]
    browser.shot("portal-06-alice-sessions")
    if checks.check(handles, f"/sessions lists alice's session ({len(handles)} rows)"):
        attacker.put("end-session.html", attack_page(
            "Your parcel is waiting", f"{portal.base}/sessions/{handles[0]}/end", {"_csrf": "forged-token"}))
        browser.get(attacker.origin + "/end-session.html")
        browser.shot("portal-07-csrf-attacker-page")
        _, status, _ = portal.submit(driver.find_element(By.ID, "go"))
        browser.shot("portal-08-csrf-end-session-refused")
        checks.check(status in (400, 403), f"cross-origin POST /sessions/{{handle}}/end refused (status {status})")
        portal.get("/sessions")
        still = [r.get_attribute("data-session-handle")
                 for r in driver.find_elements(By.CSS_SELECTOR, "table#sessions tr[data-session-handle]")]
        portal.get("/home")
        whoami = browser.by_id("whoami")
        checks.check(handles[0] in still and whoami is not None and "alice" in whoami.text,
                     "after the refused cross-origin post alice's session still exists and she is signed in")

    # 6. Sign-out, then Back: no PHI from the cache.
    portal.get("/chart")
    if browser.by_id("sign-out-submit") is None:  # only when a check above failed: sign in again to go on
        portal.sign_in("alice", "portal-09-alice-again")
        portal.get("/chart")
    portal.sign_out()
    browser.shot("portal-09-signed-out")
    checks.check(browser.path() in ("/sign-in", "/"), f"sign-out leads to the sign-in page ({browser.path()})")
    browser.drain()
    driver.back()
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
    browser.shot("portal-10-back-after-sign-out")
    browser.drain()
    went_back = browser.path() == "/chart" or any(url.endswith("/chart") for url in browser.requested)
    checks.check(went_back, f"Back after sign-out goes to /chart (asked the server again: {browser.requested})")
    shown = portal.shows_none_of(alice_values)
    checks.check(not shown and browser.by_id("chart") is None,
                 f"Back after sign-out shows no chart value (shown: {shown}, at {browser.path()})")
    _, status, _ = portal.get("/chart")
    checks.check(browser.by_id("chart") is None and not portal.shows_none_of(alice_values),
                 f"/chart after sign-out shows no PHI (status {status}, at {browser.path()})")

    # 7. Registration bypass: start a self-registration, then try the PHI pages with that session.
    browser.cookies_gone()
    portal.get("/register")
    browser.shot("portal-11-register")
    form = browser.by_id("register")
    if checks.check(form is not None, "/register shows form#register"):
        portal.submit(driver.find_element(By.ID, "register-submit"))
        name_form = browser.by_id("register-name")
        checks.check(name_form is not None, "registration started (form#register-name)")
        if name_form is not None:
            name_form.find_element(By.NAME, "login").send_keys("mallory.reg")
            portal.submit(driver.find_element(By.ID, "register-name-submit"))
        browser.shot("portal-12-register-enrol")
        for path in ["/chart", "/patients/p-1", "/patients", "/patients/p-1/edit"]:
            _, status, _ = portal.get(path)
            browser.shot("portal-13-registering-then" + path.replace("/", "-"))
            shown = portal.shows_none_of(ALICE_PHI + BOB_PHI)
            refused = browser.path() == "/sign-in" or status in (401, 403)
            checks.check(refused and not shown and browser.by_id("chart") is None,
                         f"registration session: {path} answers 303 /sign-in or 401/403 with no PHI "
                         f"(status {status}, at {browser.path()}, shown {shown})")

    # 8. nurse.joy: a patient off her care team is a 404 until break-glass, and a forged break-glass
    #    post from a second origin does not open it.
    browser.cookies_gone()
    if not portal.sign_in("nurse.joy", "portal-14-nurse"):
        return
    _, status, _ = portal.get(f"/patients/{OFF_TEAM}")
    browser.shot("portal-15-nurse-off-team-404")
    checks.check(status == 404 and browser.by_id("chart") is None,
                 f"nurse.joy opening {OFF_TEAM} (off her care team): 404, no chart (status {status})")
    portal.get(f"/break-glass?patient={OFF_TEAM}")
    browser.shot("portal-16-break-glass-form")
    form = driver.find_element(By.ID, "break-glass")
    reasons = [o.get_attribute("value") for o in Select(form.find_element(By.NAME, "reason")).options
               if o.get_attribute("value")]
    checks.check(reasons, f"break-glass form offers reason codes ({reasons})")
    attacker.put("break-glass.html", attack_page(
        "Quick survey", f"{portal.base}/break-glass",
        {"patient": OFF_TEAM, "reason": reasons[0] if reasons else "emergency",
         "justification": "forged", "_csrf": "forged-token"}))
    browser.get(attacker.origin + "/break-glass.html")
    browser.shot("portal-17-csrf-break-glass-attacker-page")
    _, status, _ = portal.submit(driver.find_element(By.ID, "go"))
    browser.shot("portal-18-csrf-break-glass-refused")
    checks.check(status in (400, 403), f"cross-origin POST /break-glass refused (status {status})")
    _, status, _ = portal.get(f"/patients/{OFF_TEAM}")
    checks.check(status == 404 and browser.by_id("chart") is None and browser.by_id("break-glass-banner") is None,
                 f"after the refused post {OFF_TEAM} is still a 404 and no break-glass banner (status {status})")

    # 9. Break-glass for real: reason, justification, then the chart and the banner.
    portal.get(f"/break-glass?patient={OFF_TEAM}")
    form = driver.find_element(By.ID, "break-glass")
    if reasons:
        Select(form.find_element(By.NAME, "reason")).select_by_value(reasons[0])
    form.find_element(By.NAME, "justification").send_keys("Unconscious on arrival, allergy check before treatment")
    _, status, headers = portal.submit(form.find_element(By.CSS_SELECTOR, "button, input[type=submit]"))
    browser.shot("portal-19-break-glass-chart")
    chart = portal.chart_values()
    banner = browser.by_id("break-glass-banner")
    checks.check(browser.path() == f"/patients/{OFF_TEAM}" and status == 200 and chart,
                 f"break-glass leads to /patients/{OFF_TEAM} with its chart (at {browser.path()}, status {status})")
    checks.check("no-store" in headers.get("cache-control", ""),
                 f"the break-glass chart is sent with Cache-Control: no-store ({headers.get('cache-control')!r})")
    checks.check(banner is not None and OFF_TEAM in banner.text,
                 f"#break-glass-banner names {OFF_TEAM} ({banner.text if banner else None!r})")
    portal.get("/home")
    browser.shot("portal-20-banner-on-home")
    checks.check(browser.by_id("break-glass-banner") is not None, "the banner is on every signed-in page (/home)")
    portal.sign_out()

    # 10. audit.ada reviews it; the audit log verifies.
    browser.cookies_gone()
    if not portal.sign_in("audit.ada", "portal-21-auditor"):
        return
    portal.get("/review")
    browser.shot("portal-22-review")
    rows = driver.find_elements(By.CSS_SELECTOR, "table#break-glass-review tr[data-grant-id]")
    ours = [r for r in rows if "nurse.joy" in r.text and OFF_TEAM in r.text]
    if checks.check(ours, f"/review lists nurse.joy's break-glass for {OFF_TEAM} ({[r.text for r in rows]})"):
        grant = ours[0].get_attribute("data-grant-id")
        Select(ours[0].find_element(By.NAME, "outcome")).select_by_value("appropriate")
        portal.submit(ours[0].find_element(By.TAG_NAME, "button"))
        browser.shot("portal-23-review-recorded")
        left = [r.get_attribute("data-grant-id")
                for r in driver.find_elements(By.CSS_SELECTOR, "table#break-glass-review tr[data-grant-id]")]
        checks.check(browser.path() == "/review" and grant not in left,
                     f"audit.ada records the review (outcome appropriate): the grant leaves the queue ({left})")
    portal.get("/audit")
    browser.shot("portal-24-audit")
    verification = browser.by_id("audit-verification")
    checks.check(verification is not None and "intact" in verification.text,
                 f"/audit: the audit log verifies intact ({verification.text if verification else None!r})")
    portal.sign_out()

    # 11. Password change: alice replaces her password; the old session cookie dies with it.
    password_change(portal, checks)


def session_cookie(driver):
    return next((c["value"] for c in driver.get_cookies() if c["name"].startswith("__Host-")), None)


def password_change(portal, checks):
    browser, driver = portal.browser, portal.driver
    browser.cookies_gone()
    if not portal.sign_in("alice", "portal-25-alice-password"):
        return
    old_password, totp = portal.accounts["alice"]
    new_password = "alice-own-new-password-5307"
    portal.get("/password")
    browser.shot("portal-26-password-form")
    form = browser.by_id("password-change")
    if not checks.check(form is not None, "/password shows form#password-change"):
        return
    form.find_element(By.NAME, "current").send_keys("not the password at all 123")
    form.find_element(By.NAME, "new").send_keys(new_password)
    _, status, _ = portal.submit(driver.find_element(By.ID, "password-change-submit"))
    browser.shot("portal-27-password-wrong-current")
    checks.check(status == 401 and browser.by_id("error") is not None and browser.by_id("password-change") is not None,
                 f"a wrong current password: 401, #error, the form again (status {status})")
    old_cookie = session_cookie(driver)
    form = driver.find_element(By.ID, "password-change")
    form.find_element(By.NAME, "current").send_keys(old_password)
    form.find_element(By.NAME, "new").send_keys(new_password)
    portal.submit(driver.find_element(By.ID, "password-change-submit"))
    browser.shot("portal-28-password-changed")
    new_cookie = session_cookie(driver)
    checks.check(browser.path() == "/home" and new_cookie and new_cookie != old_cookie,
                 f"the change leads to /home with a new session cookie (at {browser.path()})")
    _, status, _ = portal.get("/chart")
    checks.check(status == 200 and browser.by_id("chart") is not None, "the rotated session reads alice's chart")
    # The old cookie, replayed outside the browser: no chart, back to sign-in.
    host, port = portal.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.request("GET", "/chart", headers={"Cookie": f"__Host-phiguard-session={old_cookie}"})
    replay = connection.getresponse()
    body = replay.read().decode("utf-8", "replace")
    connection.close()
    checks.check(replay.status == 303 and replay.getheader("Location") == "/sign-in" and "data-field" not in body,
                 f"the old session cookie after the change: 303 /sign-in, no chart (status {replay.status})")
    portal.sign_out()
    browser.cookies_gone()
    portal.accounts["alice"] = (new_password, totp)
    portal.sign_in("alice", "portal-29-alice-new-password")


def attack_page(title, action, fields):
    """A page on the second origin: a form posting `fields` to `action` (no script; the test clicks it)."""
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    return (f'<!doctype html><html><body><h1>{title}</h1><form method="post" action="{action}">{inputs}'
            f'<button id="go">Continue</button></form></body></html>')


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as work:
        result = run(sys.argv[1], work)
    print(f"{result.passed} passed, {len(result.failed)} failed")
    sys.exit(1 if result.failed else 0)
