#!/usr/bin/env bash
# Drives Debian's headless Chromium (chromium + chromium-driver, Selenium in .venv-interop) against the
# HummingbirdQuickstart on loopback: sign-in with password and a real TOTP code must set a
# Secure/HttpOnly/SameSite=Strict session cookie, and a form posted from a second origin (another
# loopback port: same site, so the SameSite=Strict cookie IS sent) must be refused by the CSRF checks
# while the session stays signed in. Screenshots go to $SCREENSHOTS (default .build/browser-screenshots).
#
#   scripts/browser-tests.sh            (installs what is missing; run as root for apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18280}
ATTACKER_PORT=${ATTACKER_PORT:-18281}
SCREENSHOTS=${SCREENSHOTS:-.build/browser-screenshots}
SWIFT=${SWIFT:-swift}

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
scripts/interop-venv.sh
.venv-interop/bin/python -c "import selenium" 2>/dev/null ||
    .venv-interop/bin/pip install --quiet --disable-pip-version-check selenium

# QUICKSTART_BIN: an already built HummingbirdQuickstart (otherwise it is built here, debug).
bin=${QUICKSTART_BIN:-}
if [ -z "$bin" ]; then
    "$SWIFT" build --product HummingbirdQuickstart >&2
    bin="$("$SWIFT" build --show-bin-path)/HummingbirdQuickstart"
fi
work=$(mktemp -d)
pids=()
cleanup() {
    cp "$work/server.log" "$SCREENSHOTS/server.log" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
"$bin" --port "$PORT" --database "$work/portal.sqlite" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q "listening on 127.0.0.1:$PORT" "$work/server.log" && break; sleep 0.2; done

# The second origin: a page whose form posts to the portal's sign-out.
mkdir -p "$work/attacker" "$SCREENSHOTS"
cat >"$work/attacker/attack.html" <<HTML
<!doctype html><html><body><h1>Win a prize</h1>
<form method="post" action="http://127.0.0.1:$PORT/logout"><input type="hidden" name="x" value="1">
<button id="go">Claim</button></form></body></html>
HTML
(cd "$work/attacker" && exec python3 -m http.server "$ATTACKER_PORT" --bind 127.0.0.1 >/dev/null 2>&1) &
pids+=($!)
sleep 1

PORTAL="http://127.0.0.1:$PORT" ATTACKER="http://127.0.0.1:$ATTACKER_PORT" LOG="$work/server.log" \
    SHOTS="$SCREENSHOTS" .venv-interop/bin/python - <<'PY'
import base64, hashlib, hmac, os, struct, sys, time, urllib.parse
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

portal, attacker, shots = os.environ["PORTAL"], os.environ["ATTACKER"], os.environ["SHOTS"]
uri = next(l.split()[1] for l in open(os.environ["LOG"]) if l.strip().startswith("alice ") and "otpauth://" in l)
secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]

def totp():
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    o = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1_000_000)

options = webdriver.ChromeOptions()
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,700"]:
    options.add_argument(argument)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
failures = []
def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what)
    if not condition: failures.append(what)
try:
    driver.get(portal + "/")
    driver.save_screenshot(f"{shots}/01-sign-in.png")
    driver.find_element(By.NAME, "name").send_keys("alice")
    driver.find_element(By.NAME, "password").send_keys("correct horse battery staple")
    driver.find_element(By.TAG_NAME, "button").click()
    check(driver.current_url.endswith("/login/code"), "password step leads to the code form")
    driver.save_screenshot(f"{shots}/02-code.png")
    driver.find_element(By.NAME, "code").send_keys(totp())
    driver.find_element(By.TAG_NAME, "button").click()
    driver.save_screenshot(f"{shots}/03-signed-in.png")
    check("Signed in" in driver.page_source, "signed in after the TOTP code")
    cookie = driver.get_cookie("__Host-phiguard-session")
    check(cookie is not None, "session cookie stored by the browser")
    if cookie:
        check(cookie.get("secure") is True, "cookie is Secure")
        check(cookie.get("httpOnly") is True, "cookie is HttpOnly")
        check(cookie.get("sameSite") == "Strict", "cookie is SameSite=Strict")
        check("domain" not in cookie or cookie["domain"] == "127.0.0.1", "cookie is host-only")
    check(driver.execute_script("return document.cookie") == "", "scripts cannot read the cookie")
    driver.get(attacker + "/attack.html")
    driver.save_screenshot(f"{shots}/04-attacker-page.png")
    driver.find_element(By.ID, "go").click()
    WebDriverWait(driver, 10).until(lambda d: d.current_url.startswith(portal))
    driver.save_screenshot(f"{shots}/05-cross-origin-post-refused.png")
    check("Access denied" in driver.page_source, "cross-origin form post refused (403 page)")
    check("cross-site request refused (sec-fetch-site)" in open(os.environ["LOG"]).read(),
          "refused by the Sec-Fetch-Site check (the SameSite=Strict cookie was sent: same site)")
    driver.get(portal + "/")
    driver.save_screenshot(f"{shots}/06-still-signed-in.png")
    check("Signed in" in driver.page_source, "still signed in after the refused post")
finally:
    driver.quit()
sys.exit(1 if failures else 0)
PY
echo "browser tests passed; screenshots in $SCREENSHOTS"
