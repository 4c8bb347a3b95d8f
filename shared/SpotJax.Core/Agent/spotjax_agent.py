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

launch  (cwd = the worker's home) fetch the code into code/, run spotjax_setup.sh (or
        spotax_setup.sh) once, install requirements.txt into venv/ once per content (from the
        wheel archive in requirementsCacheUri when there is one for this requirements.txt,
        storing one there otherwise), then start 'run' detached in a new session and return
        once it has written attempt-N.pgid (or the attempt was already started).
run     start the script of one attempt (at most once per attempt: attempt-N.lock), stream its
        output to logUri, write the booted / preempted / exited markers under markersUri, and
        turn SIGTERM, a metadata-server preemption or maintenance notice, or the metadata
        server no longer knowing the node (404: it was deleted) into SIGTERM to the script,
        then SIGKILL after graceSeconds.
stop    end an attempt the control plane has given up on: keep a 'run' that has not started
        from starting, and send SIGTERM to the process group of one that has (its agent then
        ends the script as for a preemption notice).

environment:
  SPOTJAX_STORAGE_BASE  Cloud Storage endpoint (default https://storage.googleapis.com)
  SPOTJAX_PIP_ARGS      extra arguments for pip install, split on spaces
  SPOTJAX_SECRETMANAGER_BASE  Secret Manager endpoint (default https://secretmanager.googleapis.com)
"""

# How long `launch` waits for the detached `run` to start the script. Generous: giving up early on a
# busy host (64 stand-in workers on two cores took 30 s) would report a failed attempt while the
# child still starts the script a moment later.
LAUNCH_WAIT_SECONDS = 60.0
LOG_UPLOAD_SECONDS = 15.0
METADATA_TIMEOUT_SECONDS = 600.0
HTTP_TIMEOUT_SECONDS = 60.0
SETUP_SCRIPTS = ("spotjax_setup.sh", "spotax_setup.sh")
# The end of a failed script's output goes into its exited marker, so the job's error shows why it failed.
OUTPUT_TAIL_LINES = 20
OUTPUT_TAIL_BYTES = 2048
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class StepError(Exception):
    """A failure of one named step; launch reports it as one line on stderr."""

    def __init__(self, step, message):
        super().__init__("{}: {}".format(step, message))
        self.step = step


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
        self.metadata_url = _field(raw, "metadataUrl", str)
        self.grace_seconds = raw.get("graceSeconds", 25)
        self.requirements_cache_uri = raw.get("requirementsCacheUri")
        if self.requirements_cache_uri is not None and not isinstance(self.requirements_cache_uri, str):
            raise StepError("config", "requirementsCacheUri must be a string")
        if not all(isinstance(a, str) for a in self.args):
            raise StepError("config", "args must be strings")
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


def run_step(step, command, cwd, env, output_path):
    """Runs one prepare command with its output appended to prepare.log."""
    with open(output_path, "ab") as out:
        out.write("\n== {} {}: {}\n".format(now_rfc3339(), step, " ".join(command)).encode("utf-8"))
        out.flush()
        start = out.tell()
        code = subprocess.call(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    if code != 0:
        with open(output_path, "rb") as f:
            f.seek(start)
            lines = [line for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output"
        shown = command[:4] if len(command) > 2 and command[1] == "-m" else command[:2]
        raise StepError(step, "'{}' exited with code {} ({}; see prepare.log)".format(
            " ".join(shown), code, last[:300]))


class RequirementsCache:
    """Wheel archives keyed by the hash of requirements.txt, in a gs:// folder or a local one.

    The key also names the interpreter and machine: wheels built by one Python may not install on
    another, and two jobs on different TPU runtimes can share a cache folder.
    """

    def __init__(self, uri, cloud, requirements_key):
        implementation = "cp" if sys.implementation.name == "cpython" else sys.implementation.name
        self.name = "{}-{}{}{}-{}.tar.gz".format(
            requirements_key, implementation, sys.version_info[0], sys.version_info[1], platform.machine() or "unknown")
        self.uri = uri.rstrip("/") + "/" + self.name
        self.cloud = cloud

    def fetch(self, wheels):
        """Unpacks the archive into wheels; False when the cache has none."""
        if self.uri.startswith("gs://"):
            bucket, name = split_gs(self.uri)
            handle, archive = tempfile.mkstemp(prefix=".wheels-", suffix=".tar.gz", dir=os.path.dirname(wheels))
            os.close(handle)
            try:
                if not fetch_object(self.cloud, bucket, name, archive):
                    return False
                os.makedirs(wheels)
                extract_tarball(archive, wheels)
            finally:
                os.remove(archive)
            return True
        if not os.path.isfile(self.uri):
            return False
        os.makedirs(wheels)
        extract_tarball(self.uri, wheels)
        return True

    def store(self, wheels):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in sorted(os.listdir(wheels)):
                tar.add(os.path.join(wheels, name), arcname=name, recursive=False)
        data = buffer.getvalue()
        if self.uri.startswith("gs://"):
            bucket, name = split_gs(self.uri)
            with_retries(lambda: self.cloud.upload(bucket, name, data, "application/gzip"))
        else:
            write_atomic(self.uri, data)


def create_venv(venv, home, prepare_log):
    """A venv that sees the interpreter's packages (jax and libtpu on a TPU VM image).

    When the interpreter has pip, the venv uses it (through --system-site-packages) instead of
    getting its own copy: ensurepip writes and compiles a thousand files per venv, which is most of
    a worker's preparation time. bin/pip then runs that pip for the venv.
    """
    has_pip = subprocess.call([sys.executable, "-c", "import pip"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    command = [sys.executable, "-m", "venv", "--system-site-packages"] + (["--without-pip"] if has_pip else []) + [venv]
    run_step("requirements", command, home, None, prepare_log)
    if has_pip:
        pip = os.path.join(venv, "bin", "pip")
        write_atomic(pip, b'#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n')
        os.chmod(pip, 0o755)


def install_requirements(config, cloud, home, code, path, requirements_key, prepare_log):
    """pip install -r requirements.txt into venv/, through the wheel cache when one is configured."""
    pip = [os.path.join(home, "venv", "bin", "python"), "-m", "pip"]
    extra = os.environ.get("SPOTJAX_PIP_ARGS", "").split()
    pip_env = dict(os.environ, PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    if not config.requirements_cache_uri:
        run_step("requirements", pip + ["install", "-r", path] + extra, code, pip_env, prepare_log)
        return "the package index"

    cache = RequirementsCache(config.requirements_cache_uri, cloud, requirements_key)
    wheels = os.path.join(home, "wheels.partial")
    offline = pip + ["install", "--no-index", "--find-links", wheels, "-r", path]
    shutil.rmtree(wheels, ignore_errors=True)
    try:
        try:
            cached = cache.fetch(wheels)
        except (OSError, urllib.error.URLError, tarfile.TarError, ValueError, KeyError, StepError) as e:
            # A cache that cannot be read costs a download, never the launch.
            log("cannot read the requirements cache {}: {}".format(cache.uri, e))
            cached = False
        if cached:
            try:
                run_step("requirements", offline, code, pip_env, prepare_log)
                return cache.uri
            except StepError as e:
                log("the cached wheels did not install ({}); using the package index".format(e))
            shutil.rmtree(wheels, ignore_errors=True)

        # Wheels first, then an install from them: everything is downloaded once and cached as installed.
        try:
            run_step("requirements", pip + ["wheel", "-r", path, "-w", wheels] + extra, code, pip_env, prepare_log)
        except StepError as e:
            log("cannot build wheels for the cache ({}); installing without it".format(e))
            run_step("requirements", pip + ["install", "-r", path] + extra, code, pip_env, prepare_log)
            return "the package index"
        run_step("requirements", offline, code, pip_env, prepare_log)
        try:
            cache.store(wheels)
            log("stored the wheels of requirements.txt in " + cache.uri)
        except (OSError, urllib.error.URLError, tarfile.TarError, ValueError, KeyError, StepError) as e:
            log("cannot store the requirements cache {}: {}".format(cache.uri, e))
        return "the package index"
    finally:
        shutil.rmtree(wheels, ignore_errors=True)


def prepare(config, home):
    cloud = Cloud(config.metadata_url)
    code = os.path.join(home, "code")
    prepare_log = os.path.join(home, "prepare.log")
    code_key = sha256_text(config.code_uri)

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

    def setup():
        script = next((s for s in SETUP_SCRIPTS if os.path.isfile(os.path.join(code, s))), None)
        if script is None:
            return
        setup_key = code_key + ":" + sha256_file(os.path.join(code, script))
        setup_stamp = os.path.join(home, "setup.stamp")
        if read_stamp(setup_stamp) != setup_key:
            run_step("setup", ["bash", script], code, script_environment(config, home), prepare_log)
            write_atomic(setup_stamp, setup_key.encode("utf-8"))
            log("ran " + script)

    def requirements():
        path = os.path.join(code, "requirements.txt")
        if not os.path.isfile(path):
            return
        requirements_key = sha256_file(path)
        venv_stamp = os.path.join(home, "venv.stamp")
        if read_stamp(venv_stamp) == requirements_key:
            return
        venv = os.path.join(home, "venv")
        if not os.path.isfile(os.path.join(venv, "bin", "pip")):
            shutil.rmtree(venv, ignore_errors=True)
            create_venv(venv, home, prepare_log)
        source = install_requirements(config, cloud, home, code, path, requirements_key, prepare_log)
        write_atomic(venv_stamp, requirements_key.encode("utf-8"))
        log("installed requirements.txt from " + source)

    steps = (("code", fetch), ("script", lambda: script_command(config, home)), ("setup", setup), ("requirements", requirements))
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

    # Two launches of one worker (a redelivered step message) must not prepare at the same time.
    with open(os.path.join(home, "prepare.lock"), "a") as guard:
        fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
        prepare(config, home)

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
            raise StepError("run", "the agent exited with code {} before starting the script ({})".format(
                code, last_line(agent_log)))
        time.sleep(0.05)
    raise StepError("run", "the agent did not start the script within {:.0f} s".format(LAUNCH_WAIT_SECONDS))


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
    """The script's stdout and stderr: a local file, or a local file uploaded to gs:// regularly."""

    def __init__(self, config, cloud):
        self.uri = config.log_uri
        self.cloud = cloud
        self.remote = self.uri.startswith("gs://")
        self.path = config.home_file(".log") if self.remote else self.uri
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.file = open(self.path, "ab")
        self._stop = threading.Event()
        self._thread = None
        if self.remote:
            self._thread = threading.Thread(target=self._upload_loop, name="log-upload", daemon=True)
            self._thread.start()

    def _upload_loop(self):
        while not self._stop.wait(LOG_UPLOAD_SECONDS):
            self.upload()

    def upload(self):
        if not self.remote:
            return
        try:
            with open(self.path, "rb") as f:
                data = f.read()
            bucket, name = split_gs(self.uri)
            with_retries(lambda: self.cloud.upload(bucket, name, data, "text/plain"), attempts=3)
        except (OSError, urllib.error.URLError, ValueError, KeyError, StepError) as e:
            log("log upload failed: {}".format(e))

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.file.close()
        self.upload()


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
    # A run that holds the lock publishes its group before it starts the script, and launch waits
    # for that: stop, called after launch returned, finds it.
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
    """Long-polls one metadata key and reports a notice when it takes the given value."""

    def __init__(self, base, key, value, reason, notify):
        super().__init__(name="watch-" + key, daemon=True)
        self.url = base + key + "?wait_for_change=true"
        self.value = value
        self.reason = reason
        self.notify = notify

    def run(self):
        backoff = 1.0
        failing = False
        while True:
            started = time.monotonic()
            try:
                request = urllib.request.Request(self.url, headers={"Metadata-Flavor": "Google"})
                with urllib.request.urlopen(request, timeout=METADATA_TIMEOUT_SECONDS) as response:
                    value = response.read().decode("utf-8", "replace").strip()
                backoff = 1.0
                failing = False
                if value == self.value:
                    self.notify(self.reason)
                    return
                # A server that answers at once instead of hanging must not be hammered.
                elapsed = time.monotonic() - started
                if elapsed < 1.0:
                    time.sleep(1.0 - elapsed)
            except socket.timeout:
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
            except (OSError, urllib.error.URLError, ValueError) as e:
                self.report_failure(e, failing)
                failing = True
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

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

        sink = LogSink(config, self.cloud)
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

    def run_script(self, sink):
        try:
            command = script_command(self.config, self.home)
            # Read just before the start: the values live in this process and the script's only.
            secrets = secret_environment(self.config, self.cloud)
            with self.lock:
                if self.notice is not None:
                    # Noticed before the script started: there is nothing worth starting.
                    return 128 + signal.SIGTERM
                self.process = subprocess.Popen(
                    command, cwd=os.path.join(self.home, "code"), env=script_environment(self.config, self.home, secrets),
                    stdin=subprocess.DEVNULL, stdout=sink.file, stderr=subprocess.STDOUT, close_fds=True)
            log("started script pid {}: {}".format(self.process.pid, json.dumps(command)))
        except (OSError, StepError) as e:
            sink.file.write("spotjax-agent: cannot start the script: {}\n".format(e).encode("utf-8"))
            sink.file.flush()
            log("cannot start the script: {}".format(e))
            return 127
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
