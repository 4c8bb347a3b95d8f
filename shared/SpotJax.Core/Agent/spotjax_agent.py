#!/usr/bin/env python3
"""SpotJax node agent: prepares a worker and runs one attempt of a job's script on it.

Standard library only, Python 3.8+: it runs on TPU VMs as installed and in local mode.
Every job value comes from the AgentConfig JSON file and reaches the script as an argv list
and environment variables, never through a shell.
"""

import argparse
import base64
import fcntl
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

USAGE = """\
usage: spotjax_agent.py launch CONFIG.json
       spotjax_agent.py run CONFIG.json
       spotjax_agent.py stop CONFIG.json

launch  (cwd = the worker's home) start 'run' detached in a new session and return once it
        has written attempt-N.pgid (or the attempt was already started): in well under a
        second, whatever the preparation takes.
run     one attempt (at most once per attempt: attempt-N.lock): write the booted marker, then
        prepare the worker, with the output in prepareLogUri: fetch the code into code/, run
        spotjax_setup.sh (or spotax_setup.sh) once, install requirements.txt into venv/ once
        per content (from the wheel archive in requirementsCacheUri when there is one for this
        requirements.txt, storing one there otherwise); a failed step writes the
        prepare-failed marker and ends the attempt. Then start the script, write the prepared
        marker, stream its output to logUri and write the preempted / exited markers under
        markersUri. SIGTERM, a metadata-server preemption or maintenance notice, or the
        metadata server no longer knowing the node (404: it was deleted) end the preparation
        (SIGKILL to the running step's process group) or send SIGTERM to the script, then
        SIGKILL after graceSeconds.
stop    end an attempt the control plane has given up on: keep a 'run' that has not started
        from starting, and send SIGTERM to the process group of one that has (its agent then
        ends the preparation or the script as for a preemption notice).

environment:
  SPOTJAX_STORAGE_BASE  Cloud Storage endpoint (default https://storage.googleapis.com)
  SPOTJAX_UV_DOWNLOAD_BASE  where uvSource download fetches uv-ARCH-unknown-linux-gnu.tar.gz
                        (default the GitHub release of the pinned version)
  SPOTJAX_UV_SHA256     the sha256 that archive must have instead of the pinned one (tests)
  SPOTJAX_SECRETMANAGER_BASE  Secret Manager endpoint (default https://secretmanager.googleapis.com)
"""

# How long `launch` waits for the detached `run` to take its attempt (it does so before preparing).
# Generous: giving up early on a busy host (64 stand-in workers on two cores took 30 s) would report
# a failed attempt while the child still starts a moment later.
LAUNCH_WAIT_SECONDS = 60.0
# A log in Cloud Storage is uploaded whole whenever its file has grown: looked at every 250 ms, at
# most once a second, and for files beyond 16 MiB at most once per 16 MiB-second (a 64 MiB log every
# 4 s), so that `spotjax logs --follow` shows a line within seconds without re-sending large logs.
LOG_CHECK_SECONDS = 0.25
LOG_UPLOAD_SECONDS = 1.0
LOG_UPLOAD_SPACING_BYTES = 16 * 1024 * 1024
# A metadata watch hangs up to METADATA_WAIT_SECONDS (its timeout_sec) for a change; the socket gives
# the server that long plus some slack before the agent asks again with the same last_etag.
METADATA_WAIT_SECONDS = 300
METADATA_SLACK_SECONDS = 30.0
HTTP_TIMEOUT_SECONDS = 60.0
SETUP_SCRIPTS = ("spotjax_setup.sh", "spotax_setup.sh")
# The uv release that uvSource download installs. The sha256 values are those of its release
# tarballs as several independent public repositories pin them (install scripts and CI
# configurations found through a code search); they were not fetched from Astral here.
UV_VERSION = "0.12.1"
UV_DOWNLOAD_BASE = "https://github.com/astral-sh/uv/releases/download/" + UV_VERSION
UV_SHA256 = {
    "x86_64": "90b2f223fb69d19db49e117da601f64978593417988530aa733d456141b4bcbb",
    "aarch64": "769d373e146692c639b5fbaae33b331c297a32e03d30448772051902df52bbf4",
}
PYTHON_VERSION = re.compile(r"^3\.[0-9]{1,2}(\.[0-9]{1,3})?\Z")
UV_SOURCES = ("path", "download")
MAX_INDEX_URLS = 16
# The end of a failed script's output goes into its exited marker, so the job's error shows why it failed.
OUTPUT_TAIL_LINES = 20
OUTPUT_TAIL_BYTES = 2048
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f]")


class StepError(Exception):
    """A failure of one named step; launch reports it as one line on stderr."""

    def __init__(self, step, message):
        super().__init__("{}: {}".format(step, message))
        self.step = step
        self.message = message


def log(message):
    sys.stdout.write("{} spotjax-agent: {}\n".format(now_rfc3339(), message))
    sys.stdout.flush()


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sha256_text(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Configuration


class Config:
    def __init__(self, path):
        try:
            with open(path, "r", encoding="utf-8") as f:
                raw = json.load(f)
        except (OSError, ValueError) as e:
            raise StepError("config", "cannot read {}: {}".format(path, e))
        if not isinstance(raw, dict):
            raise StepError("config", "{} is not a JSON object".format(path))
        self.path = os.path.abspath(path)
        self.job_id = _field(raw, "jobId", str)
        self.attempt = _field(raw, "attempt", int)
        self.worker_id = _field(raw, "workerId", int)
        self.num_workers = _field(raw, "numWorkers", int)
        self.code_uri = _field(raw, "codeUri", str)
        self.script = _field(raw, "script", str)
        self.args = _field(raw, "args", list)
        self.env = _field(raw, "env", dict)
        self.markers_uri = _field(raw, "markersUri", str).rstrip("/")
        self.log_uri = _field(raw, "logUri", str)
        # Where the preparation's output goes (gs:// or a local file); older controllers sent none.
        self.prepare_log_uri = raw.get("prepareLogUri") or self.home_file(".prepare.log")
        if not isinstance(self.prepare_log_uri, str):
            raise StepError("config", "prepareLogUri must be a string")
        self.metadata_url = _field(raw, "metadataUrl", str)
        self.grace_seconds = raw.get("graceSeconds", 25)
        self.requirements_cache_uri = raw.get("requirementsCacheUri")
        if self.requirements_cache_uri is not None and not isinstance(self.requirements_cache_uri, str):
            raise StepError("config", "requirementsCacheUri must be a string")
        if not all(isinstance(a, str) for a in self.args):
            raise StepError("config", "args must be strings")
        self.python = raw.get("python", "3.12")
        if not isinstance(self.python, str) or not PYTHON_VERSION.match(self.python):
            raise StepError("config", "python must be a version such as 3.12")
        self.extra_index_urls = raw.get("extraIndexUrls", [])
        if (not isinstance(self.extra_index_urls, list) or len(self.extra_index_urls) > MAX_INDEX_URLS
                or not all(isinstance(u, str) and u.startswith(("https://", "http://")) and not CONTROL_OR_SPACE.search(u)
                           for u in self.extra_index_urls)):
            raise StepError("config", "extraIndexUrls must be at most {} http(s) URLs".format(MAX_INDEX_URLS))
        self.pip_args = raw.get("pipArgs", [])
        if not isinstance(self.pip_args, list) or not all(isinstance(a, str) and "\x00" not in a for a in self.pip_args):
            raise StepError("config", "pipArgs must be strings")
        self.uv_source = raw.get("uvSource", "path")
        if self.uv_source not in UV_SOURCES:
            raise StepError("config", "uvSource must be one of " + ", ".join(UV_SOURCES))
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()):
            raise StepError("config", "env must map strings to strings")
        self.secret_env = raw.get("secretEnv", {})
        if not isinstance(self.secret_env, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.secret_env.items()):
            raise StepError("config", "secretEnv must map strings to strings")
        if not isinstance(self.grace_seconds, (int, float)) or self.grace_seconds < 0:
            raise StepError("config", "graceSeconds must be a non-negative number")
        if self.attempt < 0:
            raise StepError("config", "attempt must not be negative")
        if self.metadata_url and not self.metadata_url.endswith("/"):
            self.metadata_url += "/"

    def home_file(self, suffix):
        return os.path.join(os.path.dirname(self.path), "attempt-{}{}".format(self.attempt, suffix))


def _field(raw, name, kind):
    value = raw.get(name)
    # bool is an int in Python; a JSON true is never a valid attempt or worker number.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StepError("config", "field '{}' is missing or not a {}".format(name, kind.__name__))
    return value


# ---------------------------------------------------------------------------------------------
# Metadata server and Cloud Storage (JSON API)


class Cloud:
    """Bearer tokens from the metadata server and the few Cloud Storage calls the agent makes."""

    def __init__(self, metadata_url):
        self.metadata_url = metadata_url
        self.storage_base = os.environ.get("SPOTJAX_STORAGE_BASE", "https://storage.googleapis.com").rstrip("/")
        self._token = None
        self._token_expiry = 0.0
        self._lock = threading.Lock()

    def token(self):
        with self._lock:
            # Refresh a minute early so a token never expires in the middle of an upload.
            if self._token is None or time.monotonic() > self._token_expiry - 60:
                if not self.metadata_url:
                    raise StepError("auth", "no metadata server to get a token from")
                request = urllib.request.Request(
                    self.metadata_url + "instance/service-accounts/default/token",
                    headers={"Metadata-Flavor": "Google"})
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                    body = json.loads(response.read().decode("utf-8"))
                self._token = body["access_token"]
                self._token_expiry = time.monotonic() + float(body.get("expires_in", 300))
            return self._token

    def _call(self, url, data=None, content_type=None, method="GET"):
        headers = {"Authorization": "Bearer " + self.token()}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        return urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS)

    def download(self, bucket, name, target):
        url = "{}/storage/v1/b/{}/o/{}?alt=media".format(
            self.storage_base, urllib.parse.quote(bucket, safe=""), urllib.parse.quote(name, safe=""))
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        with self._call(url) as response, open(target, "wb") as f:
            shutil.copyfileobj(response, f)

    def list(self, bucket, prefix):
        names = []
        page = None
        while True:
            query = {"prefix": prefix, "fields": "items(name),nextPageToken"}
            if page:
                query["pageToken"] = page
            url = "{}/storage/v1/b/{}/o?{}".format(
                self.storage_base, urllib.parse.quote(bucket, safe=""), urllib.parse.urlencode(query))
            with self._call(url) as response:
                body = json.loads(response.read().decode("utf-8"))
            names.extend(item["name"] for item in body.get("items", []))
            page = body.get("nextPageToken")
            if not page:
                return names

    def upload(self, bucket, name, data, content_type):
        url = "{}/upload/storage/v1/b/{}/o?uploadType=media&name={}".format(
            self.storage_base, urllib.parse.quote(bucket, safe=""), urllib.parse.quote(name, safe=""))
        with self._call(url, data=data, content_type=content_type, method="POST") as response:
            response.read()


def split_gs(uri):
    rest = uri[len("gs://"):]
    bucket, _, name = rest.partition("/")
    if not bucket:
        raise ValueError("no bucket in " + uri)
    return bucket, name


def fetch_object(cloud, bucket, name, target):
    """Downloads an object to target; False when it does not exist (a 404 is an answer, not a failure)."""
    def attempt():
        try:
            cloud.download(bucket, name, target)
            return True
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return False
            raise
    return with_retries(attempt)


def with_retries(action, attempts=5):
    """Runs a network action, retrying with a short backoff: a lost marker stalls the job."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            return action()
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            if attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 8.0)
    return None


# ---------------------------------------------------------------------------------------------
# Secrets: read from Secret Manager with the node's token, set for the script only


SECRET_REFERENCE = re.compile(
    r"projects/(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[1-9][0-9]{0,19})/secrets/[A-Za-z0-9_-]{1,255}"
    r"/versions/(?:[1-9][0-9]{0,18}|latest)")
SECRET_ATTEMPTS = 4


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    """CRC32C (Castagnoli), the checksum Secret Manager sends as payload.dataCrc32c."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def access_secret(cloud, base, name):
    """The payload of one secret version (GET v1/{name}:access); never logs or reports the value."""
    url = "{}/v1/{}:access".format(base, name)
    delay = 0.5
    for attempt in range(SECRET_ATTEMPTS):
        last = attempt == SECRET_ATTEMPTS - 1
        try:
            token = cloud.token()
        except (StepError, OSError, urllib.error.URLError, ValueError, KeyError) as e:
            if last:
                raise StepError("secrets", "cannot read {}: no token from the metadata server: {}".format(name, e))
            time.sleep(delay)
            delay *= 2
            continue
        try:
            request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
                body = json.loads(response.read().decode("utf-8"))
            break
        except urllib.error.HTTPError as e:
            if e.code in (400, 401, 403, 404):
                reason = {400: "the name is not a secret version", 401: "the node's token was refused",
                          403: "the node's service account may not access it (roles/secretmanager.secretAccessor)",
                          404: "no such secret or version (or it is disabled or destroyed)"}[e.code]
                raise StepError("secrets", "cannot read {}: HTTP {}: {}".format(name, e.code, reason))
            if (e.code != 429 and e.code < 500) or last:
                raise StepError("secrets", "cannot read {}: HTTP {}".format(name, e.code))
        except (OSError, urllib.error.URLError, ValueError) as e:
            if last:
                raise StepError("secrets", "cannot read {}: {}".format(name, type(e).__name__))
        time.sleep(delay)
        delay *= 2
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), str):
        raise StepError("secrets", "Secret Manager answered {} without payload.data".format(name))
    try:
        data = base64.b64decode(payload["data"], validate=True)
    except ValueError:
        raise StepError("secrets", "Secret Manager answered {} with a payload that is not base64".format(name))
    expected = payload.get("dataCrc32c")
    if expected is not None:
        try:
            matches = int(expected) == crc32c(data)
        except (TypeError, ValueError):
            matches = False
        if not matches:
            raise StepError("secrets", "the payload of {} does not match its dataCrc32c: damaged on the way, not used".format(name))
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StepError("secrets", "the payload of {} is not UTF-8 text, so it cannot be an environment variable".format(name))
    if "\x00" in value:
        raise StepError("secrets", "the payload of {} contains NUL, so it cannot be an environment variable".format(name))
    return value


def secret_environment(config, cloud):
    """The script's secret variables: each secretEnv reference read from Secret Manager.

    The values go into the script's environment only: never into a file, a log, a marker or the
    setup script's environment.
    """
    if not config.secret_env:
        return {}
    base = os.environ.get("SPOTJAX_SECRETMANAGER_BASE", "https://secretmanager.googleapis.com").rstrip("/")
    values = {}
    for variable, name in sorted(config.secret_env.items()):
        if not SECRET_REFERENCE.fullmatch(name):
            raise StepError("secrets", "{} is not a secret version reference (projects/P/secrets/S/versions/V)".format(variable))
        values[variable] = access_secret(cloud, base, name)
    log("read {} secret(s) from Secret Manager: {}".format(len(values), ", ".join(sorted(values))))
    return values


# ---------------------------------------------------------------------------------------------
# launch: prepare the worker


def safe_relative(name):
    """A member path that stays inside the target folder, or None."""
    if not name or name.startswith("/") or name.startswith("\\") or "\x00" in name:
        return None
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def is_within(root, path):
    root = os.path.realpath(root)
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


def extract_tarball(archive, target):
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            if safe_relative(member.name) is None:
                raise StepError("code", "tarball member '{}' escapes the code folder".format(member.name))
            if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                raise StepError("code", "tarball member '{}' is not a file, folder or link".format(member.name))
            if member.issym() or member.islnk():
                link = member.linkname
                base = os.path.dirname(member.name) if member.issym() else ""
                joined = os.path.normpath(os.path.join(target, base, link))
                if os.path.isabs(link) or not is_within(target, joined):
                    raise StepError("code", "tarball link '{}' points outside the code folder".format(member.name))
            # Permissions come from the archive, ownership never does.
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.mode &= 0o777
        # Python 3.12+ warns without an explicit filter; 'data' repeats the checks above.
        options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(target, members=members, **options)


def is_tarball(name):
    return name.endswith((".tar.gz", ".tgz", ".tar"))


def fetch_code(config, cloud, target):
    uri = config.code_uri
    if uri.startswith("gs://"):
        bucket, name = split_gs(uri)
        if uri.endswith("/"):
            names = with_retries(lambda: cloud.list(bucket, name))
            fetched = 0
            for full in names:
                if full.endswith("/"):
                    continue
                relative = safe_relative(full[len(name):])
                if relative is None:
                    raise StepError("code", "object '{}' escapes the code folder".format(full))
                with_retries(lambda: cloud.download(bucket, full, os.path.join(target, relative)))
                fetched += 1
            if fetched == 0:
                raise StepError("code", "no objects under " + uri)
        elif is_tarball(name):
            handle, archive = tempfile.mkstemp(prefix=".code-", suffix=".tar", dir=os.path.dirname(target))
            os.close(handle)
            try:
                with_retries(lambda: cloud.download(bucket, name, archive))
                os.makedirs(target)
                extract_tarball(archive, target)
            finally:
                os.remove(archive)
        else:
            raise StepError("code", "{} is neither a .tar.gz/.tgz object nor a prefix ending in '/'".format(uri))
    elif os.path.isdir(uri):
        shutil.copytree(uri, target, symlinks=True)
    elif os.path.isfile(uri) and is_tarball(uri):
        os.makedirs(target)
        extract_tarball(uri, target)
    else:
        raise StepError("code", "{} is not a folder, a tarball or a gs:// URI".format(uri))


def read_stamp(path):
    try:
        with open(path, "r", encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def write_atomic(path, data):
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


class StepGroups:
    """The process group of the preparation command running now, so a notice can end it.

    Each command leads its own session (setup scripts start children of their own, and a notice
    must end all of them); its group is kept here and, while it runs, in attempt-N.prepare.pgid,
    where the TPU simulator finds it as it finds the agent's. Once ended, no further command starts.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.path = None
        self.pgid = None
        self.ended = None

    def start(self, step, command, **options):
        with self.lock:
            if self.ended is not None:
                raise StepError(step, "not started: the preparation was ended ({})".format(self.ended))
            child = subprocess.Popen(command, start_new_session=True, **options)
            self.pgid = child.pid
            if self.path is not None:
                write_atomic(self.path, "{}\n".format(child.pid).encode("ascii"))
            return child

    def finish(self, child):
        with self.lock:
            if self.pgid == child.pid:
                self.pgid = None
                if self.path is not None:
                    # A group that has ended must not be signalled once its number is reused.
                    try:
                        os.remove(self.path)
                    except FileNotFoundError:
                        pass

    def end(self, reason):
        """Kills the running command's whole group and keeps any further one from starting."""
        with self.lock:
            self.ended = reason
            if self.pgid is not None:
                try:
                    os.killpg(self.pgid, signal.SIGKILL)
                    log("killed preparation process group {} ({})".format(self.pgid, reason))
                except ProcessLookupError:
                    pass


STEP_GROUPS = StepGroups()


def run_step(step, command, cwd, env, output_path):
    """Runs one prepare command with its output appended to the preparation log."""
    with open(output_path, "ab") as out:
        out.write("\n== {} {}: {}\n".format(now_rfc3339(), step, " ".join(command)).encode("utf-8"))
        out.flush()
        start = out.tell()
        child = STEP_GROUPS.start(step, command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = child.wait()
        finally:
            STEP_GROUPS.finish(child)
    if code != 0:
        with open(output_path, "rb") as f:
            f.seek(start)
            lines = [line for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output"
        shown = command[:4] if len(command) > 2 and command[1] == "-m" else command[:2]
        raise StepError(step, "'{}' exited with code {} ({}; see prepare.log)".format(
            " ".join(shown), code, last[:300]))


def note(prepare_log, step, message):
    """One line of the agent's own in prepare.log (and its stdout), between the steps' output."""
    with open(prepare_log, "ab") as out:
        out.write("\n== {} {}: {}\n".format(now_rfc3339(), step, message).encode("utf-8"))
    log(message)


def uv_release():
    """The architecture and archive stem of the uv release for this machine."""
    machine = (platform.machine() or "unknown").lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine)
    if arch is None:
        raise StepError("uv", "no uv {} release for machine '{}'; uvSource download supports x86_64 and aarch64".format(UV_VERSION, machine))
    return arch, "uv-{}-unknown-linux-gnu".format(arch)


def download_uv(prepare_log):
    """The pinned uv, from the node cache or downloaded and checked against its sha256."""
    arch, stem = uv_release()
    cache = os.path.join(os.path.expanduser("~"), ".cache", "spotjax", "uv-" + UV_VERSION)
    binary = os.path.join(cache, "uv")
    if os.path.isfile(binary) and os.access(binary, os.X_OK):
        note(prepare_log, "uv", "uv {} from the node cache {}".format(UV_VERSION, binary))
        return binary
    base = os.environ.get("SPOTJAX_UV_DOWNLOAD_BASE", UV_DOWNLOAD_BASE).rstrip("/")
    url = "{}/{}.tar.gz".format(base, stem)
    expected = os.environ.get("SPOTJAX_UV_SHA256") or UV_SHA256[arch]
    note(prepare_log, "uv", "downloading uv {} from {}".format(UV_VERSION, url))
    os.makedirs(cache, exist_ok=True)
    handle, archive = tempfile.mkstemp(prefix=".uv-", suffix=".tar.gz", dir=cache)
    os.close(handle)
    try:
        def fetch():
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response, open(archive, "wb") as f:
                shutil.copyfileobj(response, f)
        with_retries(fetch)
        actual = sha256_file(archive)
        if actual != expected:
            raise StepError("uv", "{} has sha256 {}, expected {}: not running it".format(url, actual, expected))
        with tarfile.open(archive, "r:gz") as tar:
            try:
                member = tar.getmember(stem + "/uv")
            except KeyError:
                raise StepError("uv", "{} has no {}/uv".format(url, stem))
            if not member.isfile():
                raise StepError("uv", "{}/uv in {} is not a file".format(stem, url))
            content = tar.extractfile(member).read()
        # Made executable before it appears: a second worker of the VM never finds it half there.
        handle, temp = tempfile.mkstemp(prefix=".uv-", dir=cache)
        with os.fdopen(handle, "wb") as f:
            f.write(content)
        os.chmod(temp, 0o755)
        os.replace(temp, binary)
    finally:
        os.remove(archive)
    note(prepare_log, "uv", "installed uv {} in {}".format(UV_VERSION, binary))
    return binary


def find_uv(config, prepare_log):
    """The uv binary the venv and the installs use, or None for the python3 -m venv and pip fallback."""
    if config.uv_source == "download":
        uv = download_uv(prepare_log)
    else:
        uv = shutil.which("uv")
        if uv is None:
            note(prepare_log, "uv", "uv is not on the PATH: making the venv with {} -m venv and installing requirements.txt "
                 "with pip; the job's python {} is not applied".format(sys.executable, config.python))
            return None
    run_step("uv", [uv, "--version"], os.path.dirname(prepare_log), None, prepare_log)
    return os.path.abspath(uv)


def prepare_environment(config, home, uv):
    """The setup script's and the installs' environment: the venv active, uv on the PATH, SPOT_* set."""
    env = script_environment(config, home)
    venv_bin = os.path.join(home, "venv", "bin")
    rest = [p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if p]
    first = [venv_bin] + ([os.path.dirname(uv)] if uv else [])
    env["PATH"] = os.pathsep.join(first + [p for p in rest if p not in first])
    env.pop("PYTHONHOME", None)
    return env


def create_fallback_venv(venv, home, prepare_log):
    """Without uv: a venv that sees the interpreter's packages.

    When the interpreter has pip, the venv uses it (through --system-site-packages) instead of
    getting its own copy: ensurepip writes and compiles a thousand files per venv. bin/pip then
    runs that pip for the venv.
    """
    has_pip = subprocess.call([sys.executable, "-c", "import pip"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    command = [sys.executable, "-m", "venv", "--system-site-packages"] + (["--without-pip"] if has_pip else []) + [venv]
    run_step("venv", command, home, None, prepare_log)
    if has_pip:
        pip = os.path.join(venv, "bin", "pip")
        write_atomic(pip, b'#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n')
        os.chmod(pip, 0o755)


def index_arguments(config):
    arguments = []
    for url in config.extra_index_urls:
        arguments += ["--extra-index-url", url]
    return arguments


class WheelCache:
    """Archives of uv's cache after an install of one requirements.txt, in a gs:// folder or a local one.

    The key covers what changes the packages: the requirements, the Python version, the indexes,
    the pip arguments and the machine (two jobs on different TPU runtimes can share a folder).
    """

    def __init__(self, uri, cloud, config, requirements_hash):
        machine = platform.machine() or "unknown"
        key = sha256_text(json.dumps([requirements_hash, config.python, config.extra_index_urls, config.pip_args, machine, UV_VERSION]))
        self.name = "{}-py{}-{}.tar.gz".format(key, config.python, machine)
        self.uri = uri.rstrip("/") + "/" + self.name
        self.cloud = cloud

    def fetch(self, folder):
        """Unpacks the archive into folder; False when the cache has none."""
        if self.uri.startswith("gs://"):
            bucket, name = split_gs(self.uri)
            handle, archive = tempfile.mkstemp(prefix=".uv-cache-", suffix=".tar.gz", dir=os.path.dirname(folder))
            os.close(handle)
            try:
                if not fetch_object(self.cloud, bucket, name, archive):
                    return False
                os.makedirs(folder)
                extract_tarball(archive, folder)
            finally:
                os.remove(archive)
            return True
        if not os.path.isfile(self.uri):
            return False
        os.makedirs(folder)
        extract_tarball(self.uri, folder)
        return True

    def store(self, folder):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in sorted(os.listdir(folder)):
                if name != ".lock":
                    tar.add(os.path.join(folder, name), arcname=name)
        data = buffer.getvalue()
        if self.uri.startswith("gs://"):
            bucket, name = split_gs(self.uri)
            with_retries(lambda: self.cloud.upload(bucket, name, data, "application/gzip"))
        else:
            write_atomic(self.uri, data)


def install_requirements(config, cloud, uv, home, code, requirements_hash, prepare_log):
    """uv pip install -r requirements.txt into the venv, through the wheel cache when one is configured."""
    env = prepare_environment(config, home, uv)
    arguments = ["-r", "requirements.txt"] + index_arguments(config) + list(config.pip_args)
    if uv is None:
        env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        run_step("requirements", [os.path.join(home, "venv", "bin", "python"), "-m", "pip", "install"] + arguments, code, env, prepare_log)
        return "the package index (pip)"
    install = [uv, "pip", "install"] + arguments
    if not config.requirements_cache_uri:
        run_step("requirements", install, code, env, prepare_log)
        return "the package index"

    cache = WheelCache(config.requirements_cache_uri, cloud, config, requirements_hash)
    folder = os.path.join(home, "uv-cache")
    env["UV_CACHE_DIR"] = folder
    shutil.rmtree(folder, ignore_errors=True)
    try:
        cached = cache.fetch(folder)
    except (OSError, urllib.error.URLError, tarfile.TarError, ValueError, KeyError, StepError) as e:
        # A cache that cannot be read costs a download, never the attempt.
        note(prepare_log, "requirements", "cannot read the wheel cache {}: {}".format(cache.uri, e))
        cached = False
    if cached:
        try:
            run_step("requirements", install + ["--offline"], code, env, prepare_log)
            return cache.uri
        except StepError as e:
            note(prepare_log, "requirements", "the cached wheels did not install ({}); using the package index".format(e))
    else:
        shutil.rmtree(folder, ignore_errors=True)
    run_step("requirements", install, code, env, prepare_log)
    try:
        cache.store(folder)
        note(prepare_log, "requirements", "stored the wheel cache in " + cache.uri)
    except (OSError, urllib.error.URLError, tarfile.TarError, ValueError, KeyError, StepError) as e:
        note(prepare_log, "requirements", "cannot store the wheel cache {}: {}".format(cache.uri, e))
    return "the package index"


def prepare(config, home, prepare_log):
    """Code, uv, venv, setup script, requirements: each step named in a failure, each skipped when already done."""
    cloud = Cloud(config.metadata_url)
    code = os.path.join(home, "code")
    venv = os.path.join(home, "venv")
    code_key = sha256_text(config.code_uri)
    state = {"uv": None, "venv_key": ""}

    def fetch():
        code_stamp = os.path.join(home, "code.stamp")
        if read_stamp(code_stamp) == code_key and os.path.isdir(code):
            return
        partial = os.path.join(home, "code.partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            fetch_code(config, cloud, partial)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        shutil.rmtree(code, ignore_errors=True)
        os.rename(partial, code)
        write_atomic(code_stamp, code_key.encode("utf-8"))
        log("fetched code from " + config.code_uri)

    def uv():
        state["uv"] = find_uv(config, prepare_log)

    def make_venv():
        venv_key = "uv {}".format(config.python) if state["uv"] else "python3 -m venv {}".format(sys.executable)
        state["venv_key"] = venv_key
        venv_stamp = os.path.join(home, "venv.stamp")
        if read_stamp(venv_stamp) == venv_key and os.path.isfile(os.path.join(venv, "bin", "python")):
            return
        shutil.rmtree(venv, ignore_errors=True)
        # What the setup script and the requirements put into the old venv is gone with it.
        for stamp in ("setup.stamp", "requirements.stamp"):
            if os.path.exists(os.path.join(home, stamp)):
                os.remove(os.path.join(home, stamp))
        if state["uv"]:
            run_step("venv", [state["uv"], "venv", venv, "--python", config.python], home,
                     prepare_environment(config, home, state["uv"]), prepare_log)
        else:
            create_fallback_venv(venv, home, prepare_log)
        write_atomic(venv_stamp, venv_key.encode("utf-8"))
        log("made the venv ({})".format(venv_key))

    def setup():
        script = next((s for s in SETUP_SCRIPTS if os.path.isfile(os.path.join(code, s))), None)
        if script is None:
            return
        setup_key = sha256_text(json.dumps([code_key, sha256_file(os.path.join(code, script)), state["venv_key"]]))
        setup_stamp = os.path.join(home, "setup.stamp")
        if read_stamp(setup_stamp) != setup_key:
            run_step("setup", ["bash", script], code, prepare_environment(config, home, state["uv"]), prepare_log)
            write_atomic(setup_stamp, setup_key.encode("utf-8"))
            log("ran " + script)

    def requirements():
        path = os.path.join(code, "requirements.txt")
        if not os.path.isfile(path):
            return
        requirements_hash = sha256_file(path)
        key = sha256_text(json.dumps([requirements_hash, state["venv_key"], config.extra_index_urls, config.pip_args]))
        stamp = os.path.join(home, "requirements.stamp")
        if read_stamp(stamp) == key:
            return
        source = install_requirements(config, cloud, state["uv"], home, code, requirements_hash, prepare_log)
        write_atomic(stamp, key.encode("utf-8"))
        log("installed requirements.txt from " + source)

    steps = (("code", fetch), ("script", lambda: script_command(config, home)), ("uv", uv), ("venv", make_venv),
             ("setup", setup), ("requirements", requirements))
    for step, action in steps:
        try:
            action()
        except StepError:
            raise
        except (OSError, urllib.error.URLError, tarfile.TarError, ValueError, KeyError) as e:
            raise StepError(step, str(e))


def launch(config_path):
    config = Config(config_path)
    home = os.path.dirname(config.path)
    lock_dir = config.home_file(".lock")
    pgid_file = config.home_file(".pgid")
    if os.path.isdir(lock_dir):
        log("attempt {} already started".format(config.attempt))
        return 0

    agent_log = config.home_file(".agent.log")
    with open(agent_log, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "run", config.path],
            cwd=home, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True)

    deadline = time.monotonic() + LAUNCH_WAIT_SECONDS
    while time.monotonic() < deadline:
        if os.path.isfile(pgid_file):
            log("attempt {} started, process group {}".format(config.attempt, read_stamp(pgid_file)))
            return 0
        code = child.poll()
        if code == 0:
            log("attempt {} already started".format(config.attempt))
            return 0
        if code is not None:
            raise StepError("run", "the agent exited with code {} before taking the attempt ({})".format(
                code, last_line(agent_log)))
        time.sleep(0.05)
    raise StepError("run", "the agent did not take the attempt within {:.0f} s".format(LAUNCH_WAIT_SECONDS))


def last_line(path):
    try:
        with open(path, "rb") as f:
            lines = [line for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1].strip()[:300] if lines else "no output"
    except OSError:
        return "no output"


# ---------------------------------------------------------------------------------------------
# run: one attempt of the script


def script_environment(config, home, secrets=None):
    env = dict(os.environ)
    # Unbuffered output reaches the log before a preemption kills the script.
    env.setdefault("PYTHONUNBUFFERED", "1")
    venv_bin = os.path.join(home, "venv", "bin")
    if os.path.isdir(venv_bin):
        env["VIRTUAL_ENV"] = os.path.join(home, "venv")
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", os.defpath)
    env.update(config.env)
    env.update(secrets or {})
    return env


def script_command(config, home):
    code = os.path.join(home, "code")
    relative = safe_relative(config.script)
    if relative is None:
        raise StepError("script", "'{}' is not a path inside the code folder".format(config.script))
    path = os.path.join(code, relative)
    if not is_within(code, path):
        raise StepError("script", "'{}' leaves the code folder".format(config.script))
    if not os.path.isfile(path):
        raise StepError("script", "'{}' does not exist in the code".format(config.script))
    if relative.endswith(".py"):
        venv_python = os.path.join(home, "venv", "bin", "python")
        interpreter = venv_python if os.path.isfile(venv_python) else sys.executable
        return [interpreter, path] + list(config.args)
    if relative.endswith(".sh"):
        return ["bash", path] + list(config.args)
    return [path] + list(config.args)


class Markers:
    def __init__(self, config, cloud):
        self.uri = config.markers_uri
        self.cloud = cloud

    def write(self, kind, body):
        data = json.dumps(body).encode("utf-8")
        if self.uri.startswith("gs://"):
            bucket, prefix = split_gs(self.uri)
            name = "{}/{}".format(prefix, kind) if prefix else kind
            with_retries(lambda: self.cloud.upload(bucket, name, data, "application/json"))
        else:
            write_atomic(os.path.join(self.uri, kind), data)
        log("wrote {} marker {}".format(kind, body))


class LogSink:
    """Output written to a log: a local file, or a local file uploaded to a gs:// URI as it grows.

    With a gs:// uri the output goes to local_path, which is uploaded whole when it has grown (see
    LOG_UPLOAD_SECONDS) and once more on close; otherwise it goes to the file uri and local_path is
    unused. A failed upload is logged and tried again on the next growth, never fatal.
    """

    def __init__(self, cloud, uri, local_path):
        self.uri = uri
        self.cloud = cloud
        self.remote = uri.startswith("gs://")
        self.path = local_path if self.remote else uri
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.file = open(self.path, "ab")
        self._uploaded = None
        self._failing = False
        self._upload_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if self.remote:
            self._thread = threading.Thread(target=self._upload_loop, name="log-upload", daemon=True)
            self._thread.start()

    def _upload_loop(self):
        last = None
        while not self._stop.wait(LOG_CHECK_SECONDS):
            try:
                size = os.path.getsize(self.path)
            except OSError:
                continue
            if size == self._uploaded:
                continue
            spacing = max(LOG_UPLOAD_SECONDS, LOG_UPLOAD_SECONDS * size / LOG_UPLOAD_SPACING_BYTES)
            if last is not None and time.monotonic() - last < spacing:
                continue
            last = time.monotonic()
            self.upload(attempts=1)

    def upload(self, attempts=3):
        """Uploads the file when it differs from the last upload; the final upload also sends an empty log."""
        if not self.remote:
            return
        with self._upload_lock:
            try:
                with open(self.path, "rb") as f:
                    data = f.read()
                if len(data) == self._uploaded:
                    return
                bucket, name = split_gs(self.uri)
                with_retries(lambda: self.cloud.upload(bucket, name, data, "text/plain"), attempts=attempts)
                self._uploaded = len(data)
                if self._failing:
                    self._failing = False
                    log("log upload of {} works again".format(self.uri))
            except (OSError, urllib.error.URLError, ValueError, KeyError, StepError) as e:
                # Reported once per outage: the next growth tries again, once a second.
                if not self._failing or attempts > 1:
                    log("log upload of {} failed: {}".format(self.uri, e))
                self._failing = True

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.file.close()
        self.upload(attempts=5)


def output_tail(path):
    """The last lines of a log, at most OUTPUT_TAIL_LINES and OUTPUT_TAIL_BYTES, without colours or control characters."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - OUTPUT_TAIL_BYTES))
            data = f.read(OUTPUT_TAIL_BYTES)
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").split("\n")
    if size > OUTPUT_TAIL_BYTES and len(lines) > 1:
        # The first line was cut by the seek.
        lines = lines[1:]
    # A progress bar redraws its line with carriage returns: keep what a terminal would show last.
    lines = [CONTROL_CHARACTERS.sub("", ANSI_ESCAPE.sub("", line.rstrip("\r").rsplit("\r", 1)[-1])).rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines[-OUTPUT_TAIL_LINES:])


def stop(config_path):
    config = Config(config_path)
    try:
        # Taken before a 'run' takes it, the lock keeps that run from starting the script at all.
        os.mkdir(config.home_file(".lock"))
        log("attempt {} stopped before it started".format(config.attempt))
        return 0
    except FileExistsError:
        pass
    # A run that holds the lock publishes its group before it prepares, and launch waits for that:
    # stop, called after launch returned, finds it, also while the worker is still preparing.
    stamp = read_stamp(config.home_file(".pgid"))
    if stamp is None:
        log("attempt {} has no process group to stop".format(config.attempt))
        return 0
    pgid = int(stamp)
    if pgid <= 1 or pgid == os.getpgid(0):
        raise StepError("stop", "attempt {} names process group {}, which is not its own".format(config.attempt, pgid))
    try:
        os.killpg(pgid, signal.SIGTERM)
        log("attempt {} stopped: SIGTERM to process group {}".format(config.attempt, pgid))
    except ProcessLookupError:
        log("attempt {} had already ended".format(config.attempt))
    return 0


class MetadataWatcher(threading.Thread):
    """Watches one metadata key and reports a notice each time it turns to the given value.

    As https://cloud.google.com/compute/docs/metadata/querying-metadata describes waiting for
    changes: a plain GET gives the current value and its ETag; every later GET sends
    wait_for_change=true with last_etag=<the ETag of the last answer>, which the server answers at
    once when the value changed since that answer (so a change between two polls is not missed) and
    otherwise holds until a change or timeout_sec, answering the current value. The server can
    answer 503 for a moment during maintenance; that and other failures are retried with backoff.
    The value can leave and take the notice value again (a maintenance event that repeats): each
    time it takes it is one notice.
    """

    def __init__(self, base, key, value, reason, notify):
        super().__init__(name="watch-" + key, daemon=True)
        self.url = base + key
        self.key = key
        self.value = value
        self.reason = reason
        self.notify = notify

    def run(self):
        backoff = 1.0
        failing = False
        etag = None
        current = None
        while True:
            url = self.url
            if etag is not None:
                url += "?" + urllib.parse.urlencode(
                    {"wait_for_change": "true", "last_etag": etag, "timeout_sec": str(METADATA_WAIT_SECONDS)})
            started = time.monotonic()
            try:
                request = urllib.request.Request(url, headers={"Metadata-Flavor": "Google"})
                with urllib.request.urlopen(request, timeout=METADATA_WAIT_SECONDS + METADATA_SLACK_SECONDS) as response:
                    value = response.read().decode("utf-8", "replace").strip()
                    answered_etag = response.headers.get("ETag")
            except socket.timeout:
                # No answer within timeout_sec and the slack: ask again from the same ETag.
                continue
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    # The metadata server no longer knows this node: it was deleted, and with it
                    # the attempt, whose script must not run on beside the next one.
                    self.notify("metadata:node-gone")
                    return
                self.report_failure(e, failing)
                failing = True
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            except (OSError, urllib.error.URLError, ValueError) as e:
                self.report_failure(e, failing)
                failing = True
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            failing = False
            if value != current:
                if current is not None:
                    log("metadata {}: {} -> {}".format(self.key, current, value))
                if value == self.value:
                    self.notify(self.reason)
                current = value
            elapsed = time.monotonic() - started
            if (answered_etag is None or answered_etag == etag) and elapsed < 1.0:
                # A server without ETags (polled plainly), or one that answers an unchanged value at
                # once instead of holding the request, must not be hammered.
                time.sleep(1.0 - elapsed)
            etag = answered_etag

    def report_failure(self, error, failing):
        if not failing:
            log("metadata watch {} failing, retrying: {}".format(self.url, error))


class Attempt:
    def __init__(self, config):
        self.config = config
        self.home = os.path.dirname(config.path)
        self.cloud = Cloud(config.metadata_url)
        self.markers = Markers(config, self.cloud)
        self.lock = threading.Lock()
        self.notice = None
        self.finished = False
        self.process = None
        self.exited = threading.Event()
        self.sigterm_received = False
        self.secrets = {}

    def trap_sigterm(self):
        """Turns SIGTERM into a notice handled on a thread.

        The Python-level handler runs on the main thread between any two bytecodes, so it only sets a
        flag: taking locks or writing there could deadlock on what the main thread holds. The wakeup
        fd, written by the C-level handler, wakes the thread that does the work.
        """
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        signal.set_wakeup_fd(write_end)
        signal.signal(signal.SIGTERM, lambda signum, frame: setattr(self, "sigterm_received", True))

        def watch():
            while signal.SIGTERM not in os.read(read_end, 64):
                continue
            self.on_notice("SIGTERM")

        threading.Thread(target=watch, name="sigterm", daemon=True).start()

    def on_notice(self, reason):
        with self.lock:
            if self.notice is not None or self.finished:
                return
            self.notice = reason
            log("preemption notice: " + reason)
            # A worker still preparing stops at once: nothing it installs would be used.
            STEP_GROUPS.end(reason)
            try:
                self.markers.write("preempted", {"reason": reason, "time": now_rfc3339()})
            except (OSError, urllib.error.URLError, ValueError, KeyError, StepError) as e:
                log("cannot write the preempted marker: {}".format(e))
            if self.process is not None and self.process.returncode is None:
                try:
                    self.process.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                threading.Thread(target=self.kill_after_grace, name="grace", daemon=True).start()

    def kill_after_grace(self):
        if not self.exited.wait(self.config.grace_seconds):
            log("script still running {} s after the notice, killing it".format(self.config.grace_seconds))
            try:
                self.process.kill()
            except ProcessLookupError:
                pass

    def run(self):
        config = self.config
        try:
            os.mkdir(config.home_file(".lock"))
        except FileExistsError:
            log("attempt {} already started".format(config.attempt))
            return 0
        # Trapped before the pgid is published: whoever reads it may signal at once.
        self.trap_sigterm()
        if os.getpgid(0) != os.getpid():
            # Started by hand rather than by launch: lead a session so the pgid names only us.
            os.setsid()
        write_atomic(config.home_file(".pgid"), "{}\n".format(os.getpgid(0)).encode("ascii"))

        try:
            self.markers.write("booted", {"pid": os.getpid(), "host": socket.gethostname(), "time": now_rfc3339()})
        except (OSError, urllib.error.URLError, ValueError, KeyError, StepError) as e:
            # The script still runs: its exited marker and the sweep tell the control plane the rest.
            log("cannot write the booted marker: {}".format(e))

        if config.metadata_url:
            MetadataWatcher(config.metadata_url, "instance/preempted", "TRUE", "metadata:preempted", self.on_notice).start()
            MetadataWatcher(config.metadata_url, "instance/maintenance-event", "TERMINATE_ON_HOST_MAINTENANCE",
                            "metadata:maintenance", self.on_notice).start()

        failure, prepare_log = self.prepare()
        if self.sigterm_received:
            self.on_notice("SIGTERM")
        with self.lock:
            # A step killed by a notice is the notice's doing, not a failed preparation.
            failed = failure is not None and self.notice is None
            self.finished = failed
        if failed:
            self.markers.write("prepare-failed", {
                "step": failure.step, "message": failure.message, "outputTail": output_tail(prepare_log), "time": now_rfc3339()})
            return 0

        sink = LogSink(self.cloud, config.log_uri, config.home_file(".log"))
        exit_code = self.run_script(sink)
        self.exited.set()
        sink.close()

        # A SIGTERM that also killed the script interrupts the wait, so its flag is set by now even
        # if the notice thread has not run yet: the preempted marker must precede the exited one.
        if self.sigterm_received:
            self.on_notice("SIGTERM")
        with self.lock:
            self.finished = True
            notice = self.notice
        exited = {"exitCode": exit_code, "preemptionNotice": notice is not None, "time": now_rfc3339()}
        if exit_code != 0:
            exited["outputTail"] = output_tail(sink.path)
        self.markers.write("exited", exited)
        return 0

    def prepare(self):
        """Prepares the worker with its output in the preparation log: (the failed step's StepError or None, the log's path)."""
        config = self.config
        STEP_GROUPS.path = config.home_file(".prepare.pgid")
        sink = LogSink(self.cloud, config.prepare_log_uri, config.home_file(".prepare.log"))
        failure = None
        try:
            # Two attempts on one VM must not prepare its code and venv at the same time.
            with open(os.path.join(self.home, "prepare.lock"), "a") as guard:
                fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
                prepare(config, self.home, sink.path)
            # The last step of preparation: the values live in this process and the script's only.
            self.secrets = secret_environment(config, self.cloud)
        except StepError as e:
            failure = e
        except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
            failure = StepError("prepare", "{}: {}".format(type(e).__name__, e))
        if failure is not None:
            log("preparation failed: {}".format(failure))
            sink.file.write("\n== {} spotjax-agent: {} failed: {}\n".format(now_rfc3339(), failure.step, failure.message).encode("utf-8"))
            sink.file.flush()
        sink.close()
        return failure, sink.path

    def run_script(self, sink):
        try:
            command = script_command(self.config, self.home)
            with self.lock:
                if self.notice is not None:
                    # Noticed before the script started: there is nothing worth starting.
                    return 128 + signal.SIGTERM
                self.process = subprocess.Popen(
                    command, cwd=os.path.join(self.home, "code"), env=script_environment(self.config, self.home, self.secrets),
                    stdin=subprocess.DEVNULL, stdout=sink.file, stderr=subprocess.STDOUT, close_fds=True)
            log("started script pid {}: {}".format(self.process.pid, json.dumps(command)))
        except (OSError, StepError) as e:
            sink.file.write("spotjax-agent: cannot start the script: {}\n".format(e).encode("utf-8"))
            sink.file.flush()
            log("cannot start the script: {}".format(e))
            return 127
        try:
            self.markers.write("prepared", {"pid": self.process.pid, "time": now_rfc3339()})
        except (OSError, urllib.error.URLError, ValueError, KeyError, StepError) as e:
            # The control plane then ends the attempt at its preparation timeout; the script runs until then.
            log("cannot write the prepared marker: {}".format(e))
        code = self.process.wait()
        log("script exited with code {}".format(code))
        return 128 - code if code < 0 else code


def main(argv):
    parser = argparse.ArgumentParser(prog="spotjax_agent.py", usage=USAGE, add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("command", nargs="?", choices=["launch", "run", "stop"])
    parser.add_argument("config", nargs="?")
    options = parser.parse_args(argv)
    if options.help:
        sys.stdout.write(USAGE)
        return 0
    if options.command is None or options.config is None:
        sys.stderr.write(USAGE)
        return 2
    try:
        if options.command == "launch":
            return launch(options.config)
        if options.command == "stop":
            return stop(options.config)
        return Attempt(Config(options.config)).run()
    except StepError as e:
        sys.stderr.write("spotjax-agent: {} failed: {}\n".format(options.command, e))
        return 1
    except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
        sys.stderr.write("spotjax-agent: {} failed: {}: {}\n".format(options.command, type(e).__name__, e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
