#!/usr/bin/env python3
"""Signs a demo account in to the running quickstart over HTTP (password, then TOTP) and prints the
session cookie's value. Usage: sign-in.py PORT SERVER_LOG NAME. The TOTP secret comes from the
otpauth:// URI the quickstart prints for its demo accounts."""

import base64
import hashlib
import hmac
import http.client
import re
import struct
import sys
import time
import urllib.parse

port, log, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
origin = f"http://127.0.0.1:{port}"
cookie_name = "__Host-phiguard-session"


def totp(secret):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def request(method, path, cookie=None, form=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"} if method == "POST" else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if cookie:
        headers["Cookie"] = f"{cookie_name}={cookie}"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    text = response.read().decode()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie" and value.startswith(cookie_name + "="):
            cookie = value.split(";", 1)[0].split("=", 1)[1]
    return response.status, text, cookie


uri = next(line.split()[1] for line in open(log) if line.strip().startswith(name + " ") and "otpauth://" in line)
secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
status, _, cookie = request("POST", "/login", form={"name": name, "password": "correct horse battery staple"})
assert status == 302 and cookie, f"password step answered {status}"
status, page, cookie = request("GET", "/login/code", cookie)
token = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
status, _, cookie = request("POST", "/login/code", cookie, {"code": totp(secret), "_csrf": token})
assert status == 302 and cookie, f"code step answered {status}"
print(cookie)
