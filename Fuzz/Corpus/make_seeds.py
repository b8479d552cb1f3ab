"""Writes the seed corpus of every fuzz target into Fuzz/Corpus/<target>/ (the files are committed;
rerun after changing a target's input format). Each target's first byte(s) choose its mode, as
the target's Swift file reads them; the rest is what that mode parses.

  python3 Fuzz/Corpus/make_seeds.py [PYTHON_WITH_PYMONGO]

The BSON session document comes from scripts/fixtures/bson_interop.py (pymongo's encoder) when a
Python with pymongo is given (scripts/test's venv: .venv-mongoeco/bin/python).
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# JWTTarget's ring: "k-new" signs with 32 x 0x11; "k-old" (48 x 0x22) still verifies.
KEYS = {"k-new": b"\x11" * 32, "k-old": b"\x22" * 48}
NOW = 1_700_000_000


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def token(header, payload, kid="k-new"):
    signing_input = b64(header) + b"." + b64(payload)
    return signing_input + b"." + b64(hmac.new(KEYS[kid], signing_input, hashlib.sha256).digest())


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


CLAIMS = {"iss": "authgate", "aud": "authgate", "sub": "user-1", "sid": "sid-1", "jti": "jti-1", "iat": NOW, "nbf": NOW,
          "exp": NOW + 900, "login": "alice", "email": "alice@example.com", "name": "Alice"}
HEADER = {"alg": "HS256", "typ": "JWT", "kid": "k-new"}


def write(target, name, data):
    folder = os.path.join(HERE, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def jwt():
    valid = token(compact(HEADER), compact(CLAIMS))
    write("jwt", "raw-valid", b"\x00" + valid)
    write("jwt", "raw-none", b"\x00" + b64(b'{"alg":"none","typ":"JWT"}') + b"." + b64(compact(CLAIMS)) + b".")
    write("jwt", "raw-garbage", b"\x00" + b"a.b.c")
    resigned = [
        ("valid", HEADER, CLAIMS),
        ("aud-list", HEADER, dict(CLAIMS, aud=["other", "authgate"])),
        ("no-exp", HEADER, {k: v for k, v in CLAIMS.items() if k != "exp"}),
        ("expired", HEADER, dict(CLAIMS, exp=NOW - 3600)),
        ("hs512", dict(HEADER, alg="HS512"), CLAIMS),
        ("no-kid", {"alg": "HS256"}, CLAIMS),
        ("float-exp", HEADER, dict(CLAIMS, exp=1.7e9)),
    ]
    for name, header, claims in resigned:
        write("jwt", "signed-" + name, b"\x01\x00" + compact(header) + b"\x00" + compact(claims))
    write("jwt", "signed-old-key", b"\x01\x01" + compact(dict(HEADER, kid="k-old")) + b"\x00" + compact(CLAIMS))
    fields = [b"user-1", b"sid-1", b"jti-1", b"alice", b"alice@example.com", "Alice \u2713 \"q\" \\ \x01".encode()]
    write("jwt", "roundtrip", b"\x02" + struct.pack(">iH", NOW, 900) + b"\x00".join(fields))
    # Mutation mode: edit count, then (position, operation, byte) triples.
    write("jwt", "mutate-flip", b"\x03\x00" + struct.pack(">H", 10) + b"\x00" + b"A")
    write("jwt", "mutate-truncate", b"\x03\x00" + struct.pack(">H", 200) + b"\x03")


def body():
    login = [b'{"username":"alice","password":"correct-horse-1"}', b"username=alice&password=correct%20horse",
             b'{"username":"a","password":"b","extra":[1,{"x":null}]}', b"username=alice&password=a&password=b"]
    refresh = [b'{"refresh_token":"r0bWq6vW3u0b8b1Zc9mKQ"}', b"refresh_token=abc%2Bdef"]
    for index, data in enumerate(login):
        write("body", f"login-{index}", (b"\x00\x01" if data.startswith(b"{") else b"\x00\x00") + data)
    for index, data in enumerate(refresh):
        write("body", f"refresh-{index}", (b"\x01\x01" if data.startswith(b"{") else b"\x01\x00") + data)
    write("body", "content-type", b"\x02" + b"application/json; charset=utf-8")
    write("body", "content-type-form", b"\x02" + b"Application/X-WWW-Form-Urlencoded ;q=1")


def headers():
    valid = token(compact(HEADER), compact(CLAIMS))
    write("headers", "authorization", b"\x00" + b"Bearer " + valid)
    write("headers", "authorization-blanks", b"\x00" + b"bEaReR \t " + valid + b" \t")
    write("headers", "cookies", b"\x01\x01" + b"Cookie: a=b; authgate_refresh=tok123; c=d\nX-Authgate-CSRF: 1\nOrigin: https://app.example")
    write("headers", "cookies-foreign", b"\x01\x00" + b"Cookie: authgate_refresh=x\nCookie: authgate_refresh=y\nX-Authgate-CSRF: 1\nOrigin: http://gw.example")
    write("headers", "request-id", b"\x02" + b"req-123_ABC")
    write("headers", "forwarded", b"\x03\x01\x01" + b"\n".join([
        b"Connection: keep-alive, X-Secret", b"X-Secret: s", b"X-Authgate-Login: mallory", b"x-authgate-user-id: 0",
        b"Cookie: authgate_refresh=t; theme=dark", b"X-Forwarded-For: 203.0.113.9", b"X-Forwarded-Proto: https",
        b"Transfer-Encoding: chunked", b"Content-Length: 5", b"Authorization: Bearer client", b"Accept: */*"]))
    write("headers", "identity", b"\x04" + "Zoë 100% \u2713\r\n".encode())


def config():
    routes = [
        {"prefix": "/api", "upstream": "http://127.0.0.1:9000/base", "strip_prefix": False, "timeout": 2.5, "authorization": "internal"},
        {"prefix": "/sg", "kind": "shotgrid"},
        {"prefix": "/", "upstream": "https://example.com", "authorization": "forward", "audience": "root"},
    ]
    write("config", "routes-json", b"\x01" + json.dumps(routes).encode())
    write("config", "routes-bad", b"\x01" + b'[{"prefix":"/auth/x","upstream":"ftp://x"},{"prefix":"/a/../b"}]')
    yaml = b"""listen: 127.0.0.1:8080
store: sqlite:/tmp/authgate.db
provider: local
access-ttl: 900
session-idle-ttl: 28800.5
pool-size: 16
trusted-proxies:
  - 10.0.0.0/8
  - ::1
allowed-origins: https://app.example, https://admin.example
log-format: json
routes:
  - prefix: /api
    upstream: http://127.0.0.1:9000
    timeout: 3
  - prefix: /sg
    kind: shotgrid
"""
    write("config", "file-yaml", b"\x00" + yaml)
    write("config", "file-anchors", b"\x00" + b"routes: &r\n  - prefix: /a\n    upstream: http://h\nlisten: '[::1]:0'\n")


def bson_seeds(python):
    def doc(elements):
        body = b"".join(elements)
        return struct.pack("<i", len(body) + 5) + body + b"\x00"

    def cstring(text):
        return text.encode() + b"\x00"

    def string(text):
        data = text.encode() + b"\x00"
        return struct.pack("<i", len(data)) + data

    user = doc([
        b"\x02" + cstring("_id") + string("user-1"), b"\x02" + cstring("login") + string("alice"),
        b"\x02" + cstring("password_hash") + string("$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA"),
        b"\x09" + cstring("created_at") + struct.pack("<q", NOW * 1000),
    ])
    write("bson", "user", user)
    nested = doc([b"\x03" + cstring("a") + doc([b"\x04" + cstring("b") + doc([b"\x10" + cstring("0") + struct.pack("<i", 7)])])])
    write("bson", "nested", nested)
    if python:
        script = os.path.join(ROOT, "scripts", "fixtures", "bson_interop.py")
        session = subprocess.run([python, script, "session"], check=True, capture_output=True, text=True).stdout.strip()
        write("bson", "session-pymongo", bytes.fromhex(session))
        exotic = json.loads(subprocess.run([python, script, "exotic"], check=True, capture_output=True, text=True).stdout)
        write("bson", "exotic-pymongo", bytes.fromhex(exotic["hex"]))


def address():
    for index, text in enumerate(["10.1.2.3", "::ffff:10.1.2.3", "[fe80::1%eth0]", "2001:db8::1", "::", "255.255.255.255"]):
        write("address", f"address-{index}", b"\x00" + text.encode())
    for index, text in enumerate(["10.0.0.0/8", "fd00::/8", "192.168.1.7/24", "::/0", "1.2.3.4/32"]):
        write("address", f"network-{index}", b"\x01" + text.encode())
    write("address", "forwarded", b"\x02" + b"10.0.0.2\n203.0.113.7, 10.0.0.9\n127.0.0.1, fd00::2")
    write("address", "forwarded-untrusted", b"\x02" + b"198.51.100.1\n10.0.0.1")


def wire():
    write("wire", "string", b"\x00\x00" + "v \u2713 \"q\" \\ \x01 \x7f".encode())
    write("wire", "array", b"\x01\x05\x03" + b"\x00a\x00" + b"\x01" + struct.pack(">q", -42) + b"\x03\x01")
    write("wire", "object", b"\x00\x06\x02" + b"k\x00" + b"\x02" + struct.pack(">d", 0.1) + b"k2\x00" + b"\x04")


def main():
    python = sys.argv[1] if len(sys.argv) > 1 else None
    jwt()
    body()
    headers()
    config()
    bson_seeds(python)
    address()
    wire()


if __name__ == "__main__":
    main()
