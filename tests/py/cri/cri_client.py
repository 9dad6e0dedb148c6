#!/usr/bin/python3
"""A small Kubernetes CRI (runtime.v1) client, for driving containerd's CRI
plugin the way kubelet does (tests/e2e/74-runtime-cri.bats).

The messages are those of cri.proto beside this file (a trimmed copy of
k8s.io/cri-api's api.proto: same package, services, names and field numbers).
Its Python modules are generated when first needed, with Debian's grpc_tools
(python3-grpc-tools), into a directory of the caller's (--gen DIR, or
CRI_GEN_DIR) or a temporary one removed at exit; nothing generated is kept in
the repository.

Requests and replies are JSON with the proto's field names (enums by name,
int64 as strings, bytes as base64, every field present in replies):

  cri_client.py [--sock S] [--gen DIR] [--deadline SECONDS] COMMAND ...
    gen                          generate the modules into --gen DIR and exit
    call SERVICE METHOD [JSON]   any RPC of cri.proto (JSON, or stdin if "-";
                                 default {}); prints the reply
    version                      RuntimeService.Version
    status                       RuntimeService.Status (conditions)
    pull IMAGE                   ImageService.PullImage; prints the image ref
    runp CONFIG                  RunPodSandbox (CONFIG: a PodSandboxConfig as
                                 JSON, or @FILE); prints the pod's id
    inspectp POD                 PodSandboxStatus
    pods                         ListPodSandbox (the items)
    stopp POD / rmp POD          StopPodSandbox / RemovePodSandbox
    create POD CONFIG PODCONFIG  CreateContainer (ContainerConfig and the pod's
                                 PodSandboxConfig, JSON or @FILE); prints the id
    start ID                     StartContainer
    exec [--timeout N] ID CMD... ExecSync: the command's stdout and stderr on
                                 ours, its exit code as ours
    inspect ID                   ContainerStatus (the status)
    stop [--timeout N] ID        StopContainer (N seconds of grace, default 0)
    rm ID                        RemoveContainer
    ps [--pod POD] [--state S]   ListContainers (the containers)

A failed RPC prints "cri_client: METHOD: CODE: DETAILS" on stderr and exits
with status 2 (ExecSync's own exit codes are the command's).
"""

import argparse
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "cri.proto")
DEFAULT_SOCK = "/run/containerd/containerd.sock"


class CriError(Exception):
    """A failed RPC: .method, .code (a grpc.StatusCode name), .details."""

    def __init__(self, method, code, details):
        super().__init__("%s: %s: %s" % (method, code, details))
        self.method = method
        self.code = code
        self.details = details


def _proto_hash():
    with open(PROTO, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def generate(gen_dir):
    """cri_pb2.py and cri_pb2_grpc.py for cri.proto in gen_dir, made once per
    version of cri.proto (gen_dir/cri.sha256 says which).  Made in a directory
    beside and renamed in, so that concurrent callers never import half a file."""
    want = _proto_hash()
    stamp = os.path.join(gen_dir, "cri.sha256")
    try:
        with open(stamp) as f:
            if f.read().strip() == want:
                return gen_dir
    except FileNotFoundError:
        pass
    os.makedirs(gen_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".gen-", dir=gen_dir)
    try:
        cmd = [
            sys.executable, "-m", "grpc_tools.protoc", "-I" + HERE,
            "--python_out=" + tmp, "--grpc_python_out=" + tmp, PROTO,
        ]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise RuntimeError(
                "grpc_tools.protoc failed (python3-grpc-tools installed?): %s" % r.stdout.strip()
            )
        for name in ("cri_pb2.py", "cri_pb2_grpc.py"):
            os.replace(os.path.join(tmp, name), os.path.join(gen_dir, name))
        with open(os.path.join(tmp, "cri.sha256"), "w") as f:
            f.write(want + "\n")
        os.replace(os.path.join(tmp, "cri.sha256"), stamp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return gen_dir


class Cri:
    """The two CRI services on one socket.  Methods take and return the
    generated messages; call() takes and returns JSON-shaped dicts."""

    def __init__(self, sock=DEFAULT_SOCK, gen_dir=None, deadline=60.0):
        import grpc  # python3-grpcio

        self._grpc = grpc
        self._own_gen = None
        if gen_dir is None:
            gen_dir = self._own_gen = tempfile.mkdtemp(prefix="cri-gen-")
        generate(gen_dir)
        if gen_dir not in sys.path:
            sys.path.insert(0, gen_dir)
        self.pb = importlib.import_module("cri_pb2")
        pb_grpc = importlib.import_module("cri_pb2_grpc")
        self.deadline = deadline
        self.channel = grpc.insecure_channel("unix://" + os.path.abspath(sock))
        self.runtime = pb_grpc.RuntimeServiceStub(self.channel)
        self.image = pb_grpc.ImageServiceStub(self.channel)

    def close(self):
        self.channel.close()
        if self._own_gen:
            shutil.rmtree(self._own_gen, ignore_errors=True)

    def rpc(self, service, method, request, deadline=None):
        stub = {"RuntimeService": self.runtime, "ImageService": self.image}.get(service)
        if stub is None or not hasattr(stub, method):
            raise CriError(method, "UNIMPLEMENTED", "not in cri.proto: %s.%s" % (service, method))
        try:
            return getattr(stub, method)(request, timeout=deadline or self.deadline)
        except self._grpc.RpcError as e:
            raise CriError(method, e.code().name, e.details()) from None

    def message(self, name, value=None):
        """A request message from a JSON-shaped dict (proto field names)."""
        from google.protobuf import json_format

        return json_format.ParseDict(value or {}, getattr(self.pb, name)())

    @staticmethod
    def to_dict(msg):
        from google.protobuf import json_format

        return json_format.MessageToDict(
            msg, preserving_proto_field_name=True, including_default_value_fields=True
        )

    def call(self, service, method, value=None, deadline=None):
        """service.method with a JSON-shaped request; the reply as a dict."""
        stub = {"RuntimeService": self.runtime, "ImageService": self.image}.get(service)
        if stub is None:
            raise CriError(method, "UNIMPLEMENTED", "no service %s in cri.proto" % service)
        desc = self.pb.DESCRIPTOR.services_by_name[service].methods_by_name.get(method)
        if desc is None:
            raise CriError(method, "UNIMPLEMENTED", "not in cri.proto: %s.%s" % (service, method))
        req = self.message(desc.input_type.name, value)
        return self.to_dict(self.rpc(service, method, req, deadline))

    # ---- the calls kubelet makes, by name ----

    def version(self):
        return self.call("RuntimeService", "Version", {"version": "v1"})

    def pull(self, image, sandbox_config=None):
        req = {"image": {"image": image}}
        if sandbox_config:
            req["sandbox_config"] = sandbox_config
        return self.call("ImageService", "PullImage", req, deadline=max(self.deadline, 120))[
            "image_ref"
        ]

    def run_pod(self, config):
        return self.call("RuntimeService", "RunPodSandbox", {"config": config})["pod_sandbox_id"]

    def create(self, pod, config, sandbox_config):
        req = {"pod_sandbox_id": pod, "config": config, "sandbox_config": sandbox_config}
        return self.call("RuntimeService", "CreateContainer", req)["container_id"]

    def exec_sync(self, cid, cmd, timeout=0):
        """(exit code, stdout bytes, stderr bytes)."""
        req = self.message("ExecSyncRequest", {"container_id": cid, "cmd": cmd, "timeout": timeout})
        deadline = self.deadline + (timeout or 0)
        r = self.rpc("RuntimeService", "ExecSync", req, deadline)
        return r.exit_code, r.stdout, r.stderr


def _json_arg(text):
    """JSON from an argument: inline, @FILE, or - for stdin."""
    if text == "-":
        return json.load(sys.stdin)
    if text.startswith("@"):
        with open(text[1:]) as f:
            return json.load(f)
    return json.loads(text)


def _print(value):
    if isinstance(value, str):
        print(value)
    else:
        print(json.dumps(value, indent=1, sort_keys=True))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="cri_client.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sock", default=os.environ.get("CRI_SOCK", DEFAULT_SOCK))
    ap.add_argument("--gen", default=os.environ.get("CRI_GEN_DIR") or None)
    ap.add_argument("--deadline", type=float, default=60.0, help="seconds for each RPC")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("gen")
    p = sub.add_parser("call")
    p.add_argument("service")
    p.add_argument("method")
    p.add_argument("json", nargs="?", default="{}")
    sub.add_parser("version")
    sub.add_parser("status")
    sub.add_parser("pods")
    p = sub.add_parser("pull")
    p.add_argument("image")
    p = sub.add_parser("runp")
    p.add_argument("config")
    for name in ("inspectp", "stopp", "rmp", "start", "inspect", "rm"):
        sub.add_parser(name).add_argument("id")
    p = sub.add_parser("create")
    p.add_argument("pod")
    p.add_argument("config")
    p.add_argument("pod_config")
    p = sub.add_parser("exec")
    p.add_argument("--timeout", type=int, default=0)
    p.add_argument("id")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = sub.add_parser("stop")
    p.add_argument("--timeout", type=int, default=0)
    p.add_argument("id")
    p = sub.add_parser("ps")
    p.add_argument("--pod", default="")
    p.add_argument("--state", default="")
    a = ap.parse_args(argv)

    if a.cmd == "gen":
        if not a.gen:
            ap.error("gen needs --gen DIR (or CRI_GEN_DIR)")
        generate(a.gen)
        return 0

    cri = Cri(a.sock, a.gen, a.deadline)
    rs = "RuntimeService"
    try:
        if a.cmd == "call":
            _print(cri.call(a.service, a.method, _json_arg(a.json)))
        elif a.cmd == "version":
            _print(cri.version())
        elif a.cmd == "status":
            _print(cri.call(rs, "Status", {}))
        elif a.cmd == "pull":
            _print(cri.pull(a.image))
        elif a.cmd == "runp":
            _print(cri.run_pod(_json_arg(a.config)))
        elif a.cmd == "inspectp":
            _print(cri.call(rs, "PodSandboxStatus", {"pod_sandbox_id": a.id}))
        elif a.cmd == "pods":
            _print(cri.call(rs, "ListPodSandbox", {}).get("items", []))
        elif a.cmd == "stopp":
            cri.call(rs, "StopPodSandbox", {"pod_sandbox_id": a.id})
        elif a.cmd == "rmp":
            cri.call(rs, "RemovePodSandbox", {"pod_sandbox_id": a.id})
        elif a.cmd == "create":
            _print(cri.create(a.pod, _json_arg(a.config), _json_arg(a.pod_config)))
        elif a.cmd == "start":
            cri.call(rs, "StartContainer", {"container_id": a.id})
        elif a.cmd == "exec":
            cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
            code, out, err = cri.exec_sync(a.id, cmd, a.timeout)
            sys.stdout.buffer.write(out)
            sys.stdout.flush()
            sys.stderr.buffer.write(err)
            sys.stderr.flush()
            return code
        elif a.cmd == "inspect":
            _print(cri.call(rs, "ContainerStatus", {"container_id": a.id})["status"])
        elif a.cmd == "stop":
            deadline = cri.deadline + a.timeout
            cri.call(rs, "StopContainer", {"container_id": a.id, "timeout": a.timeout}, deadline)
        elif a.cmd == "rm":
            cri.call(rs, "RemoveContainer", {"container_id": a.id})
        elif a.cmd == "ps":
            flt = {}
            if a.pod:
                flt["pod_sandbox_id"] = a.pod
            if a.state:
                flt["state"] = {"state": a.state}
            _print(cri.call(rs, "ListContainers", {"filter": flt}).get("containers", []))
    except CriError as e:
        print("cri_client: %s" % e, file=sys.stderr)
        return 2
    finally:
        cri.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
