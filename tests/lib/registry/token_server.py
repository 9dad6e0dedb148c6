#!/usr/bin/env python3
"""Token issuer for the test registry's `auth: token` mode.

Implements the distribution token protocol (GET REALM?service=S&scope=SCOPE,
answered with {"token": JWT, "expires_in": N}) with JWTs signed RS256 by a
test key whose certificate the registry trusts (rootcertbundle), and the
certificate itself in the x5c header.  Listens on 127.0.0.1 only.

Usage: token_server.py PORT KEY CERT ISSUER SERVICE LOG [USER:PASS]
With USER:PASS, a request must carry those Basic credentials (else 401)
and gets the pull and push it asks for; without, anonymous requests get
pull access.  A scope parameter may hold several scopes (space-separated),
as a registry's challenge for a cross-repository mount does.  Every request is appended to
LOG as "METHOD PATH STATUS" so tests can count them.
"""
import base64
import http.server
import json
import sys
import time
import urllib.parse
import uuid

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

port, key_path, cert_path, issuer, service, log_path = sys.argv[1:7]
creds = sys.argv[7] if len(sys.argv) > 7 else None

with open(key_path, "rb") as f:
    key = serialization.load_pem_private_key(f.read(), password=None)
with open(cert_path, "rb") as f:
    cert = x509.load_pem_x509_certificate(f.read())
x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with open(log_path, "a") as f:
            f.write("%s %s %d\n" % (self.command, self.path, status))

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if creds is not None:
            want = "Basic " + base64.b64encode(creds.encode()).decode()
            if self.headers.get("Authorization") != want:
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        access = []
        allowed = ("pull", "push") if creds is not None else ("pull",)
        for scope in " ".join(q.get("scope", [])).split():
            parts = scope.split(":")
            if len(parts) == 3 and parts[0] == "repository":
                access.append({"type": "repository", "name": parts[1],
                               "actions": [a for a in parts[2].split(",") if a in allowed]})
        now = int(time.time())
        claims = {"iss": issuer, "sub": "test", "aud": q.get("service", [service])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex,
                  "access": access}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"x5c": x5c})
        self.reply(200, {"token": token, "expires_in": 300,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
