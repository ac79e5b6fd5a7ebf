"""Shared pieces of the real-browser tests (scripts/browser-tests.sh): headless Debian Chromium through
chromium-driver and Selenium, a check recorder, screenshots, the document status and headers the browser
itself saw (Chrome's performance log), servers started on free loopback ports, and a second origin.
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


class Checks:
    """Records every check (`ok` / `FAIL` lines); a suite fails when any check failed."""

    def __init__(self, suite):
        self.suite, self.passed, self.failed = suite, 0, []

    def check(self, condition, what):
        print(("ok   " if condition else "FAIL ") + f"[{self.suite}] {what}", flush=True)
        if condition:
            self.passed += 1
        else:
            self.failed.append(what)
        return bool(condition)

    def error(self, what):
        """An exception that ended the suite early counts as one failed check."""
        self.check(False, what)


def normalized(text):
    """A page's text without what may differ per request (references, request ids, record ids, times)."""
    text = re.sub(r"[0-9a-fA-F]{8,}(-[0-9a-fA-F]{4,})*", "REF", text)
    text = re.sub(r"\b[pc]-[\w-]+\b", "ID", text)
    return re.sub(r"\d", "0", text)


def wait_until(driver, condition, timeout=15):
    """True when `condition(driver)` held within `timeout` seconds, else False."""
    try:
        WebDriverWait(driver, timeout).until(condition)
        return True
    except TimeoutException:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chrome():
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,800"]:
        options.add_argument(argument)
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    # The performance log carries the Network events: the status and headers the browser received.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return Browser(webdriver.Chrome(service=service, options=options))


class Browser:
    """A Selenium driver plus the screenshot folder and the document responses seen since the last look."""

    def __init__(self, driver):
        self.driver, self.step, self.requested = driver, 0, []
        self.shots = os.environ.get("SHOTS", ".build/browser-screenshots")
        os.makedirs(self.shots, exist_ok=True)

    def quit(self):
        self.driver.quit()

    def shot(self, name):
        self.step += 1
        path = f"{self.shots}/{name}.png"
        self.driver.save_screenshot(path)
        return path

    def drain(self):
        """The top-level document responses since the last call: [(url, status, headers lower-cased)]."""
        responses = []
        self.requested = []  # the top-level documents requested since the last call, redirects included
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent" and message["params"].get("type") == "Document":
                self.requested.append(message["params"]["request"]["url"])
            if message.get("method") != "Network.responseReceived":
                continue
            params = message["params"]
            if params.get("type") != "Document":
                continue
            response = params["response"]
            headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
            responses.append((response["url"], response["status"], headers))
        return responses

    def get(self, url):
        """Navigates and returns the final document response (url, status, headers) or None."""
        self.drain()
        self.driver.get(url)
        return self.last_document()

    def submit(self, element):
        """Clicks a control that navigates, waits for the new document, returns its (url, status, headers).

        The old document is marked by a window property (WebDriver's script runs outside the page's CSP);
        the new one lacks it. Errors while the documents swap are retried, not fatal."""
        self.driver.execute_script("window.__browserTestOldDocument = true")
        self.drain()
        element.click()
        WebDriverWait(self.driver, 20, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script(
                "return window.__browserTestOldDocument === undefined && document.readyState === 'complete'"))
        return self.last_document()

    def last_document(self):
        responses = self.drain()
        return responses[-1] if responses else None

    def find(self, by, value):
        try:
            return self.driver.find_element(by, value)
        except NoSuchElementException:
            return None

    def by_id(self, value):
        return self.find(By.ID, value)

    def text(self):
        body = self.find(By.TAG_NAME, "body")
        return body.text if body else ""

    def path(self):
        return urllib.parse.urlparse(self.driver.current_url).path

    def cookies_gone(self):
        self.driver.delete_all_cookies()


class SecondOrigin:
    """A second origin: python's http.server on ANOTHER loopback port serving `pages` {name: html}."""

    def __init__(self, directory, pages):
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        for name, html in pages.items():
            self.put(name, html)
        self.port = free_port()
        handler = partial(QuietHandler, directory=directory)
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.port}"

    def put(self, name, html):
        with open(os.path.join(self.directory, name), "w") as f:
            f.write(html)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Server:
    """A server process whose stdout goes to a log file; `wait_for` polls the log for a line."""

    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def lines(self):
        with open(self.log_path) as f:
            return f.read().splitlines()

    def wait_for(self, predicate, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(predicate(line) for line in self.lines()):
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.2)
        return False

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def summary(suites):
    passed = sum(s.passed for s in suites)
    failed = sum(len(s.failed) for s in suites)
    for s in suites:
        for what in s.failed:
            print(f"failed: [{s.suite}] {what}")
    return passed, failed


def fail_exit(message):
    print(message, file=sys.stderr)
    sys.exit(2)
