#!/usr/bin/env python3
"""A registry front that redirects blob downloads to another host, as Docker
Hub and most cloud registries do (to S3-like storage).

Usage: redirector.py UPSTREAM LOG USER:PASS
Listens on two free ports of 127.0.0.1 and prints "FRONT STORAGE" on stdout:
  FRONT    /v2/... with Basic auth USER:PASS (401 + challenge otherwise);
           manifests are proxied from UPSTREAM (host:port, plain http),
           blobs answer 307 to STORAGE/blob/<digest>?sig=s3cr3t
  STORAGE  /blob/<digest>: the blob from UPSTREAM, no auth needed
Every request is appended to LOG as "PORTKIND METHOD PATH AUTH", AUTH being
the Authorization header or "-", so a test can prove that the credentials
never reached the storage host.
"""
import base64
import http.server
import sys
import threading
import urllib.request

upstream, log_path, creds = sys.argv[1:4]
want = "Basic " + base64.b64encode(creds.encode()).decode()
lock = threading.Lock()


def log(kind, handler):
    with lock, open(log_path, "a") as f:
        f.write("%s %s %s %s\n" % (kind, handler.command, handler.path,
                                   handler.headers.get("Authorization") or "-"))


def proxy(handler, path):
    r = urllib.request.Request("http://%s%s" % (upstream, path),
                               headers={"Accept": handler.headers.get("Accept", "*/*")})
    try:
        with urllib.request.urlopen(r) as resp:
            data, ct, status = resp.read(), resp.headers.get("Content-Type"), resp.status
    except urllib.error.HTTPError as e:
        data, ct, status = e.read(), e.headers.get("Content-Type"), e.code
    handler.send_response(status)
    handler.send_header("Content-Type", ct or "application/octet-stream")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Storage(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        log("storage", self)
        digest = self.path.split("?")[0].rsplit("/", 1)[-1]
        repo = self.path.split("repo=")[-1]
        proxy(self, "/v2/%s/blobs/%s" % (repo, digest))


class Front(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        log("front", self)
        if self.headers.get("Authorization") != want:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="redirector"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "/blobs/" in self.path:
            repo, digest = self.path[len("/v2/"):].split("/blobs/")
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:%d/blob/%s?sig=s3cr3t&repo=%s"
                             % (storage.server_address[1], digest, repo))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        proxy(self, self.path)


storage = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Storage)
front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
print(front.server_address[1], storage.server_address[1], flush=True)
threading.Thread(target=storage.serve_forever, daemon=True).start()
front.serve_forever()
