#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of a plain test registry.

Usage: faulty.py UPSTREAM RULES LOG
  UPSTREAM  host:port of a registry without auth (plain http)
  RULES     a file of rules, read again whenever it is replaced (rename a new
            file over it: its inode changes, and the rules' counters restart)
  LOG       every request is appended here, one line each (below)

Listens on two addresses and prints "FRONT_PORT OTHER_PORT" on stdout:
  FRONT  127.0.0.1:FRONT_PORT   the registry: /v2/... proxied to UPSTREAM
  OTHER  127.0.0.2:OTHER_PORT   "another host": /blob/DIGEST?repo=R (where
                                `redirect` sends blobs) and /token (a token
                                service for `auth bearer`); it records the
                                Authorization header of every request, so a
                                test can prove credentials never reach it

Rules, one per line ('#' starts a comment):
  REGEX FAULT [ARG...] [times=N]
REGEX is searched in the request path (query included) on either listener;
times=N applies the fault to the first N matching requests only (default:
all).  Faults:
  auth basic USER:PASS    401 + Basic challenge unless the request has them
  auth bearer VARIANT     401 + a Bearer challenge unless the request has the
                          token /token gives; VARIANT: other-host (realm on
                          OTHER, quoted params), unquoted (service=faulty as a
                          bare token: valid), unquoted-realm (the realm URL
                          unquoted: not a token), no-realm, garbled (an
                          unterminated quoted string)
  noranges                ignore Range headers (answer 200 and the whole body)
  drop [AT]               send the headers and the body up to byte AT of the
                          blob (a number or N%, default 50%), then close (FIN)
  reset [AT]              the same, then an RST instead of a FIN
  stall [AT]              the same, then send nothing and keep the connection
  corrupt                 flip one byte in the middle of the body
  status CODE [retry-after=V]  answer CODE (a registry error body; also on
                          OTHER's /token, the only fault applied there)
  redirect [dead]         307 to OTHER/blob/DIGEST?sig=s3cr3t&repo=REPO (dead:
                          to port 1 of 127.0.0.2, where nothing listens)
  huge SIZE [chunked]     200 with SIZE bytes (K/M suffixes) of JSON-ish
                          filler, with Content-Length or chunked
  lie DELTA               Content-Length is the real one + DELTA (negative:
                          shorter); the real body is sent, then the connection
                          is closed
  bigheader SIZE          the real answer with one more header line,
                          X-Filler, whose value is SIZE bytes (K/M suffixes)
  headers N               the real answer with N more header lines,
                          X-Filler-1 ... X-Filler-N
AT counts from the start of the blob, so a resumed request (Range: bytes=N-)
past AT gets no byte before the fault.  auth and noranges apply on top of
the first other matching rule that has turns left.

Pushes (POST, PUT, PATCH) are passed on with their bodies; their rules are
matched against "METHOD PATH" (so "^PUT.*/manifests/" picks manifest PUTs),
and only status, reset and drop apply to them (before any answer), and
  location relative|other  the upload session's Location made relative, or
                          pointing at OTHER (/upload/PATH, passed on to the
                          registry), where credentials must never be sent

Log lines: "TIME LISTENER METHOD PATH RANGE AUTH FAULT"
  TIME      seconds (monotonic, 3 decimals)
  LISTENER  front or other
  RANGE     the Range header ("bytes=N-") or -
  AUTH      the Authorization scheme (Basic, Bearer) or -; never the secret
  FAULT     what was done: pass, 401, drop@N, reset@N, stall@N, corrupt,
            status:CODE, redirect, huge, lie:DELTA, bigheader:SIZE,
            headers:N, token, noranges+...
Only the standard library is used.
"""
import base64
import http.client
import http.server
import json
import os
import re
import select
import socket
import struct
import sys
import threading
import time

upstream, rules_path, log_path = sys.argv[1:4]
TOKEN = "faulty-token-0123456789"
lock = threading.Lock()
state = {"key": None, "rules": []}  # protected by lock


class Rule:
    def __init__(self, line):
        words = line.split()
        self.times = None
        opts = {}
        args = []
        for w in words[1:]:
            if w.startswith("times="):
                self.times = int(w[6:])
            elif "=" in w and w.split("=", 1)[0] in ("retry-after",):
                k, v = w.split("=", 1)
                opts[k] = v
            else:
                args.append(w)
        self.regex = re.compile(words[0])
        self.fault = args[0]
        self.args = args[1:]
        self.opts = opts
        self.used = 0

    def matches(self, path):
        return self.regex.search(path) is not None

    def take(self):
        """One turn of the rule, if it has any left (lock held)."""
        if self.times is not None and self.used >= self.times:
            return False
        self.used += 1
        return True


def current_rules():
    """The rules, read again when the file was replaced (lock held)."""
    try:
        st = os.stat(rules_path)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        key = None
    if key != state["key"]:
        rules = []
        if key is not None:
            with open(rules_path) as f:
                for line in f:
                    line = line.split("#", 1)[0].strip()
                    if line:
                        rules.append(Rule(line))
        state["key"], state["rules"] = key, rules
    return state["rules"]


def choose(path):
    """(auth rule, noranges?, action rule) for path; turns are taken here."""
    auth, noranges, action = None, False, None
    with lock:
        for r in current_rules():
            if not r.matches(path):
                continue
            if r.fault == "auth":
                auth = auth or r
            elif r.fault == "noranges":
                noranges = noranges or r.take()
            elif action is None and r.take():
                action = r
    return auth, noranges, action


def log(listener, handler, fault):
    auth = handler.headers.get("Authorization")
    line = "%.3f %s %s %s %s %s %s\n" % (
        time.monotonic(), listener, handler.command, handler.path,
        handler.headers.get("Range") or "-", auth.split(" ", 1)[0] if auth else "-", fault)
    with lock, open(log_path, "a") as f:
        f.write(line)


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KkMm]?)", s)
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20}[m.group(2).lower()]


def fetch_upstream(method, path, accept):
    c = http.client.HTTPConnection(upstream, timeout=60)
    try:
        c.request(method, path, headers={"Accept": accept or "*/*"})
        r = c.getresponse()
        body = r.read()
        return r.status, dict(r.getheaders()), body
    finally:
        c.close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    listener = "front"

    def log_message(self, *a):
        pass

    # ---- sending ----------------------------------------------------------

    def head(self, status, headers, length):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def reply(self, status, body=b"", headers=None):
        self.head(status, headers or {}, len(body))
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, headers=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self.reply(status, body, h)

    def hang_up(self, rst):
        self.wfile.flush()
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        else:
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        self.close_connection = True

    def wait_for_client_close(self, limit=120):
        """A stall: keep the connection open until the client gives up."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            r, _, _ = select.select([self.connection], [], [], 0.5)
            if r:
                try:
                    if not self.connection.recv(65536):
                        break
                except OSError:
                    break
        self.close_connection = True

    # ---- faults -----------------------------------------------------------

    def cut(self, rule, status, headers, body, start, total):
        """drop, reset, stall: the headers, the body up to byte AT of the blob, then the fault."""
        at = rule.args[0] if rule.args else "50%"
        at = total * int(at[:-1]) // 100 if at.endswith("%") else int(at)
        n = max(0, min(len(body), at - start))
        self.head(status, headers, len(body))
        self.wfile.write(body[:n])
        self.wfile.flush()
        if rule.fault == "stall":
            self.wait_for_client_close()
        else:
            self.hang_up(rule.fault == "reset")
        return "%s@%d" % (rule.fault, start + n)

    def challenge(self, rule):
        realm = "http://127.0.0.2:%d/token" % other.server_address[1]
        kind = rule.args[0]
        if kind == "basic":
            return 'Basic realm="faulty"'
        variant = rule.args[1]
        return {
            "other-host": 'Bearer realm="%s",service="faulty",scope="repository:x:pull"' % realm,
            "unquoted": 'Bearer realm="%s",service=faulty' % realm,
            "unquoted-realm": "Bearer realm=%s,service=faulty" % realm,
            "no-realm": 'Bearer service="faulty",scope="repository:x:pull"',
            "garbled": 'Bearer realm="%s,service=faulty' % realm,
        }[variant]

    def authorized(self, rule):
        got = self.headers.get("Authorization") or ""
        if rule.args[0] == "basic":
            return got == "Basic " + base64.b64encode(rule.args[1].encode()).decode()
        return got == "Bearer " + TOKEN

    # ---- requests ---------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    # Pushes: POST, PUT and PATCH are passed on with their body; the faults
    # that apply to them are status CODE and reset/drop (before any answer).
    def do_POST(self):
        self.do_upload()

    def do_PUT(self):
        self.do_upload()

    def do_PATCH(self):
        self.do_upload()

    def do_upload(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        try:
            fault = self.serve_upload(body)
        except (BrokenPipeError, ConnectionResetError):
            fault = "client-gone"
            self.close_connection = True
        log(self.listener, self, fault)

    def serve_upload(self, body):
        auth, _, rule = choose(self.method_path())
        if auth and self.listener == "front" and not self.authorized(auth):
            self.error(401, "UNAUTHORIZED", "authentication required",
                       {"WWW-Authenticate": self.challenge(auth)})
            return "401"
        fault = rule.fault if rule else "pass"
        if fault == "status":
            code = int(rule.args[0])
            self.error(code, "FAULTY", "injected HTTP %d" % code)
            return "status:%d" % code
        if fault in ("reset", "drop"):
            self.hang_up(fault == "reset")
            return fault
        c = http.client.HTTPConnection(upstream, timeout=60)
        try:
            h = {k: v for k, v in self.headers.items()
                 if k.lower() in ("content-type", "content-range")}
            path = self.path
            if self.listener == "other":
                # An upload sent here by a "location other" rule: /upload/<the registry's path>.
                if not path.startswith("/upload/"):
                    self.error(404, "NOT_FOUND", "no such path")
                    return "404"
                path = path[len("/upload"):]
                h["Host"] = "127.0.0.1:%d" % front.server_address[1]
            else:
                h["Host"] = self.headers.get("Host") or upstream
            c.request(self.command, path, body=body, headers=h)
            r = c.getresponse()
            rbody = r.read()
            headers = {k: v for k, v in r.getheaders()
                       if k.lower() in ("content-type", "docker-content-digest", "location",
                                        "docker-upload-uuid", "range",
                                        "docker-distribution-api-version")}
            if fault == "location" and "Location" in headers:
                loc = re.sub(r"^https?://[^/]+", "", headers["Location"])
                if rule.args[:1] == ["other"]:
                    loc = "http://127.0.0.2:%d/upload%s" % (other.server_address[1], loc)
                headers["Location"] = loc
                fault = "location:" + (rule.args[0] if rule.args else "relative")
            self.reply(r.status, rbody, headers)
            return fault
        finally:
            c.close()

    def method_path(self):
        """Rules see "METHOD PATH" for uploads ("^PUT.*/blobs/uploads/" picks blob PUTs)."""
        return "%s %s" % (self.command, self.path)

    def do_GET(self):
        try:
            fault = self.serve()
        except (BrokenPipeError, ConnectionResetError):
            fault = "client-gone"
            self.close_connection = True
        log(self.listener, self, fault)

    def upstream_path(self):
        if self.listener == "front":
            return self.path
        m = re.match(r"/blob/([^?]+)\?.*repo=([^&]+)", self.path)
        return "/v2/%s/blobs/%s" % (m.group(2), m.group(1)) if m else None

    def serve(self):
        auth, noranges, rule = choose(self.path)
        if self.listener == "other" and self.path.startswith("/token"):
            if rule and rule.fault == "status":
                code = int(rule.args[0])
                self.error(code, "FAULTY", "injected HTTP %d" % code)
                return "status:%d" % code
            self.reply(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode(),
                       {"Content-Type": "application/json"})
            return "token"
        if auth and not self.authorized(auth):
            self.error(401, "UNAUTHORIZED", "authentication required",
                       {"WWW-Authenticate": self.challenge(auth)})
            return "401"
        tag = "noranges+" if noranges else ""
        fault = rule.fault if rule else "pass"
        if fault == "status":
            h = {}
            if "retry-after" in rule.opts:
                h["Retry-After"] = rule.opts["retry-after"]
            code = int(rule.args[0])
            self.error(code, "FAULTY", "injected HTTP %d" % code, h)
            return tag + "status:%d" % code
        if fault == "redirect":
            m = re.match(r"/v2/(.+)/blobs/([^/?]+)", self.path)
            port = 1 if rule.args[:1] == ["dead"] else other.server_address[1]
            loc = "http://127.0.0.2:%d/blob/%s?sig=s3cr3t&repo=%s" % (port, m.group(2), m.group(1))
            self.reply(307, b"", {"Location": loc})
            return tag + "redirect"
        if fault == "huge":
            return tag + self.huge(rule)
        path = self.upstream_path()
        if path is None:
            self.error(404, "NOT_FOUND", "no such path")
            return "404"
        status, uh, body = fetch_upstream(self.command, path, self.headers.get("Accept"))
        headers = {k: v for k, v in uh.items()
                   if k.lower() in ("content-type", "docker-content-digest",
                                    "docker-distribution-api-version")}
        total, start = len(body), 0
        rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if rng and status == 200 and not noranges and "/blob" in self.path:
            start = int(rng.group(1))
            if start >= total:
                self.reply(416, b"", {"Content-Range": "bytes */%d" % total})
                return tag + "416"
            status, body = 206, body[start:]
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, total - 1, total)
        if status != 200 and status != 206:
            self.reply(status, body, headers)
            return tag + "upstream:%d" % status
        if fault in ("drop", "reset", "stall"):
            return tag + self.cut(rule, status, headers, body, start, total)
        if fault == "corrupt":
            b = bytearray(body)
            b[len(b) // 2] ^= 0x55
            self.reply(status, bytes(b), headers)
            return tag + "corrupt"
        if fault == "bigheader":
            size = parse_size(rule.args[0])
            headers["X-Filler"] = "x" * size
            self.reply(status, body, headers)
            return tag + "bigheader:%d" % size
        if fault == "headers":
            n = int(rule.args[0])
            for i in range(1, n + 1):
                headers["X-Filler-%d" % i] = "filler value %d" % i
            self.reply(status, body, headers)
            return tag + "headers:%d" % n
        if fault == "lie":
            delta = int(rule.args[0])
            self.head(status, headers, len(body) + delta)
            self.wfile.write(body)
            self.hang_up(False)
            return tag + "lie:%d" % delta
        self.reply(status, body, headers)
        return tag + "pass"

    def huge(self, rule):
        size = parse_size(rule.args[0])
        chunked = "chunked" in rule.args[1:]
        ct = ("application/vnd.oci.image.manifest.v1+json" if "/manifests/" in self.path
              else "application/octet-stream")
        head, tail = b'{"schemaVersion": 2, "filler": "', b'"}'
        fill = size - len(head) - len(tail)
        if chunked:
            self.send_response(200)
            self.send_header("Content-Type", ct)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = [head] + [b"x" * (1 << 16)] * (fill >> 16) + [b"x" * (fill & 0xffff), tail]
            for p in pieces:
                if p:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.head(200, {"Content-Type": ct}, size)
            self.wfile.write(head)
            for _ in range(fill >> 16):
                self.wfile.write(b"x" * (1 << 16))
            self.wfile.write(b"x" * (fill & 0xffff) + tail)
        return "huge"


class Other(Handler):
    listener = "other"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


front = Server(("127.0.0.1", 0), Handler)
other = Server(("127.0.0.2", 0), Other)
print(front.server_address[1], other.server_address[1], flush=True)
threading.Thread(target=other.serve_forever, daemon=True).start()
front.serve_forever()
