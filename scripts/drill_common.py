"""Shared parts of the drills (scripts/*_drill.py): building, starting and stopping servers
pinned to a core, databases (SQLite file or a fresh PostgreSQL database), seeding users,
minting access tokens, wrk runs, and an SMTP sink that logs every Message-ID it receives.

Python 3.11 standard library only (the SMTP sink needs aiosmtpd from the drills' venv).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("DRILL_BINARY", REPO / "target" / "release" / "coproduce"))
BASELINE_BIN = REPO / "target" / "release" / "examples" / "baseline_server"
VENV = REPO / ".venv-drills"
JWT_SECRET = "drill-secret-drill-secret-drill-secret-0123"
DEFAULT_PG = os.environ.get("DRILL_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
WORK = Path(os.environ.get("DRILL_WORK_DIR", tempfile.gettempdir())) / f"coproduce-drills-{os.getpid()}"


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def build_release() -> None:
    log("building release (coproduce, baseline_server)")
    subprocess.run(
        ["cargo", "build", "--release", "--bin", "coproduce", "--example", "baseline_server"],
        cwd=REPO,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cores() -> tuple[str, str]:
    """(server core, load-generator core): separate when there are two or more."""
    n = os.cpu_count() or 1
    return ("0", "1") if n >= 2 else ("0", "0")


# --- databases -------------------------------------------------------------------------------

@dataclass
class Db:
    """One drill database: `url` is what the service gets."""

    url: str
    kind: str  # "sqlite" | "postgres"
    path: Path | None = None  # SQLite file
    name: str | None = None  # PostgreSQL database

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        if self.kind == "sqlite":
            with sqlite3.connect(self.path, timeout=30) as conn:
                return conn.execute(statement, params).fetchall()
        if params:
            raise ValueError("psql statements take no parameters here")
        out = subprocess.run(
            ["psql", pg_url(self.name), "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", statement],
            check=True, capture_output=True, text=True,
        ).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def scalar(self, statement: str):
        rows = self.sql(statement)
        value = rows[0][0]
        try:
            return int(value)
        except (TypeError, ValueError):
            return value

    def copy_rows(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        """Bulk insert (seeding only)."""
        if self.kind == "sqlite":
            marks = ",".join("?" for _ in columns)
            with sqlite3.connect(self.path, timeout=30) as conn:
                conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
            return
        lines = []
        for row in rows:
            lines.append("\t".join("\\N" if v is None else str(v).replace("\\", "\\\\").replace("\t", " ") for v in row))
        done = subprocess.run(
            ["psql", pg_url(self.name), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
             f"COPY {table} ({','.join(columns)}) FROM STDIN"],
            input="\n".join(lines) + "\n", text=True, capture_output=True,
        )
        if done.returncode:
            raise RuntimeError(f"COPY {table}: {done.stderr[-500:]}")

    def drop(self) -> None:
        if self.kind == "postgres":
            subprocess.run(["psql", DEFAULT_PG, "-X", "-q", "-c", f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'],
                           check=False, capture_output=True)


def pg_url(name: str) -> str:
    """DRILL_PG_URL with the database `name`, keeping its options (`?sslmode=disable`, say)."""
    address, question, options = DEFAULT_PG.partition("?")
    return f"{address.rsplit('/', 1)[0]}/{name}{question}{options}"


def fresh_db(kind: str, label: str) -> Db:
    WORK.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        path = WORK / f"{label}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return Db(url=f"sqlite://{path}", kind="sqlite", path=path)
    name = f"drill_{label}_{os.getpid()}"
    subprocess.run(["psql", DEFAULT_PG, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", f'DROP DATABASE IF EXISTS "{name}"'],
                   check=True, capture_output=True)
    subprocess.run(["psql", DEFAULT_PG, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"'],
                   check=True, capture_output=True)
    return Db(url=pg_url(name), kind="postgres", name=name)


def stamp(at: float | None = None) -> str:
    """A timestamp as diesel stores `Timestamp` (UTC, no zone) on both backends."""
    t = time.gmtime(at if at is not None else time.time())
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + ".000000"


# --- processes -------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU time this process has used so far, in user and kernel mode together."""
        fields = open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_kb(self) -> dict[str, int]:
        figures = {}
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    figures[key] = int(rest.split()[0])
        return figures

    def kill(self, sig: int = signal.SIGTERM, wait: float = 20) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def alive(self) -> bool:
        return self.popen.poll() is None


_started: list[Proc] = []


def stop_all() -> None:
    for proc in reversed(_started):
        proc.kill()


def start(name: str, argv: list[str], env: dict[str, str], port: int, core: str | None, ready_path: str) -> Proc:
    WORK.mkdir(parents=True, exist_ok=True)
    log_path = WORK / f"{name}.log"
    cmd = (["taskset", "-c", core] if core is not None else []) + argv
    full_env = {**os.environ, **env}
    popen = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
    proc = Proc(name, popen, port, log_path)
    _started.append(proc)
    deadline = time.time() + 120
    while time.time() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {popen.returncode}; see {log_path}:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{proc.base}{ready_path}", timeout=2) as r:
                if r.status < 500:
                    return proc
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not become ready; see {log_path}")


def service_env(db: Db, port: int, **overrides: str) -> dict[str, str]:
    env = {
        "APP_ENV": "local",
        "APP_DATABASE__URL": db.url,
        "APP_SERVER__PORT": str(port),
        "APP_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "APP_AUTH__JWT_SECRET": JWT_SECRET,
        "APP_AUTH__ACCESS_TOKEN_TTL_SECS": "86400",
        "APP_EMAIL__TRANSPORT": "file",
        "APP_EMAIL__FILE_DIR": str(WORK / "mail"),
        "APP_LOG__FORMAT": "json",
    }
    env.update(overrides)
    return env


def start_service(name: str, db: Db, core: str | None, port: int | None = None, binary: str | None = None,
                  **overrides: str) -> Proc:
    port = port or free_port()
    return start(name, [binary or str(BIN), "serve"], service_env(db, port, **overrides), port, core, "/health/ready")


def start_baseline(db: Db, core: str | None, seed: int, pool_size: int = 8) -> Proc:
    port = free_port()
    env = {"BASELINE_DATABASE_URL": db.url, "BASELINE_PORT": str(port), "BASELINE_SEED": str(seed),
           "BASELINE_POOL_SIZE": str(pool_size)}
    return start("baseline", [str(BASELINE_BIN)], env, port, core, "/items/item-0")


def create_admin(db: Db, email: str = "admin@drill.example") -> str:
    env = {**os.environ, **service_env(db, 1), "COPRODUCE_ADMIN_PASSWORD": "drill-admin-password"}
    subprocess.run([str(BIN), "create-admin", "--email", email], cwd=REPO, env=env, check=True,
                   capture_output=True)
    admin_id = str(db.scalar(f"SELECT id FROM users WHERE email = '{email}'"))
    open_sessions(db, [admin_id])
    return admin_id


def open_sessions(db: Db, user_ids: list[str]) -> None:
    """The session rows that `mint_token`'s tokens name: the service checks every token's session."""
    db.copy_rows("sessions", ["id", "user_id", "created_at"], [(f"drill-{uid}", uid, stamp()) for uid in user_ids])


# --- tokens and HTTP -------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(user_id: str, roles: list[str], ttl: int = 86400) -> str:
    """An access token as the service issues it (HS256 with the drills' secret), naming the session
    `drill-{user_id}` that `insert_users` and `create_admin` open. Seeding signs users in this way
    instead of running thousands of sign-ins."""
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {"sub": user_id, "roles": roles, "sid": f"drill-{user_id}", "iat": now, "nbf": now,
              "exp": now + ttl, "iss": "coproduce", "aud": "coproduce-api", "typ": "access"}
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(JWT_SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def call(base: str, method: str, path: str, token: str | None = None, body=None, timeout: float = 30):
    """(status, parsed JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


# --- seeding ---------------------------------------------------------------------------------

PROFILE = {
    "contact": {"preferred_channel": "email", "phone": None, "best_times": "Weekday mornings", "formats": ["easy_read"]},
    "skills": [{"code": "facilitation", "level": 3}, {"code": "peer_research", "level": 2}],
    "interests": ["housing", "mental_health"],
    "lived_experience": ["homelessness", "uses_mental_health_services"],
    "availability": {"weekly": [{"day": "mon", "from": "09:30", "to": "13:00"}], "hours_per_month": 12,
                     "remote": True, "in_person": False, "region": "london"},
    "payment": {"method": "bank_transfer", "earnings_limit_pence": 100000, "benefits_advice_wanted": True},
}


def insert_users(db: Db, prefix: str, count: int, role: str, coproducer: bool = False) -> list[str]:
    """Registered, verified users (rows as registration writes them). Returns their ids."""
    now = stamp()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for start_at in range(0, count, 20000):
        chunk = ids[start_at:start_at + 20000]
        db.copy_rows(
            "users",
            ["id", "email", "full_name", "preferred_name", "password_hash", "status", "created_at", "updated_at",
             "email_format", "email_digest", "email_verified_at"],
            [(uid, f"{prefix}{start_at + i}@drill.example", f"Drill Person {start_at + i}", None, None, "active", now,
              now, "standard", "false" if db.kind == "postgres" else 0, now) for i, uid in enumerate(chunk)],
        )
        db.copy_rows("user_roles", ["user_id", "role", "granted_at"], [(uid, role, now) for uid in chunk])
        if coproducer:
            db.copy_rows("coproducers", ["user_id", "status", "paused_until", "archived_reason", "joined_at", "updated_at"],
                         [(uid, "active", None, None, now, now) for uid in chunk])
        open_sessions(db, chunk)
    return ids


def round_body(questions: int = 2) -> dict:
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    return {
        "title": "Peer researchers (drill)",
        "summary": "Join our peer research team.",
        "description": "We are looking for people with lived experience of homelessness.",
        "opens_at": iso(now - 86400),
        "closes_at": iso(now + 30 * 86400),
        "places": 6,
        "questions": [{"prompt": f"Question {i + 1}?", "required": True, "max_words": 200} for i in range(questions)],
    }


ANSWER = "I have lived experience and want to help make services better for the people who use them. " * 2


# --- wrk -------------------------------------------------------------------------------------

@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    non_2xx: int
    errors: int
    latency_ms: dict[str, float] = field(default_factory=dict)
    raw: str = ""
    # The server's CPU time per answered request, in µs (set by `wrk_measuring`).
    cpu_us: float = float("nan")


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(url: str, script: Path, connections: int, seconds: float, core: str | None, env: dict | None = None) -> WrkResult:
    cmd = (["taskset", "-c", core] if core is not None else []) + [
        "wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s", "-s", str(script), url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout
    requests_m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    requests = int(requests_m.group(1))
    secs = float(requests_m.group(2)) * {"s": 1, "ms": 0.001, "m": 60}[requests_m.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    return WrkResult(
        requests=requests, seconds=secs, rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        errors=sum(int(x) for x in errors.groups()) if errors else 0,
        latency_ms=latency, raw=out,
    )


def wrk_measuring(server: Proc, script: Path, connections: int, seconds: float, core: str | None,
                  env: dict | None = None) -> WrkResult:
    """`wrk` against `server`, also counting the server's CPU time per request: a cost that does
    not depend on how fast the load generator is, so it varies less than requests per second on
    a busy machine."""
    before = server.cpu_seconds()
    result = wrk(server.base, script, connections, seconds, core, env)
    if result.requests:
        result.cpu_us = (server.cpu_seconds() - before) / result.requests * 1e6
    return result


REPLAY_LUA = r"""
-- Sends each request of REPLAY_FILE once (method, path, token, body per line, tab-separated),
-- then marks REPLAY_DONE. Counts answers that were not 2xx.
local lines = {}
local index = 0
local answered = 0
local failed = 0
function init(args)
  for line in io.lines(os.getenv("REPLAY_FILE")) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    local headers = { ["Content-Type"] = "application/json" }
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    if body == "" then body = nil end
    lines[#lines + 1] = wrk.format(method, path, headers, body)
  end
end
local skipped_first = false
function request()
  -- wrk asks each thread for one request before connecting and never sends it.
  if not skipped_first then
    skipped_first = true
    return wrk.format("GET", "/health/live")
  end
  index = index + 1
  if index > #lines then return wrk.format("GET", "/health/live") end
  return lines[index]
end
function response(status, headers, body)
  answered = answered + 1
  if status >= 300 and answered <= #lines then
    failed = failed + 1
    if failed <= 3 then io.stderr:write(status .. " " .. body .. "\n") end
  end
  if answered == #lines then
    -- wrk runs for its whole duration; tell the drill, which stops it with SIGINT.
    local marker = io.open(os.getenv("REPLAY_DONE"), "w")
    marker:write("done")
    marker:close()
  end
end
function done(summary, latency, requests)
  io.write(string.format("replay-failed %d\n", failed))
end
"""


def replay(base: str, requests: list[tuple[str, str, str, dict | None]], core: str | None, label: str) -> None:
    """Sends every request once through wrk (32 connections). Raises if any was not 2xx."""
    if not requests:
        return
    WORK.mkdir(parents=True, exist_ok=True)
    script = WORK / "replay.lua"
    script.write_text(REPLAY_LUA)
    data = WORK / f"replay-{label}.tsv"
    with open(data, "w") as f:
        for method, path, token, body in requests:
            f.write(f"{method}\t{path}\t{token}\t{json.dumps(body) if body is not None else ''}\n")
    marker = WORK / f"replay-{label}.done"
    marker.unlink(missing_ok=True)
    started = time.time()
    cmd = (["taskset", "-c", core] if core is not None else []) + [
        "wrk", "-t1", "-c32", "-d3600s", "--timeout", "30s", "-s", str(script), base]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "REPLAY_FILE": str(data), "REPLAY_DONE": str(marker)})
    while not marker.exists() and proc.poll() is None:
        time.sleep(0.05)
    # The count includes fillers sent after the list ran out, so a few real requests may still be
    # on their way: give them time before stopping wrk (callers check what was stored).
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    failed = int(re.search(r"replay-failed (\d+)", stdout).group(1))
    log(f"  {label}: {len(requests)} requests in {time.time() - started:.1f}s, {failed} failed")
    if failed:
        raise RuntimeError(f"seeding {label}: {failed} requests failed: {stderr[-1000:]}")


# --- SMTP sink -------------------------------------------------------------------------------

def venv_python() -> str:
    python = VENV / "bin" / "python"
    if not python.exists():
        log("creating .venv-drills with aiosmtpd")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "aiosmtpd"], check=True)
    return str(python)


@dataclass
class Sink:
    proc: subprocess.Popen
    port: int
    log_path: Path

    def message_ids(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return [line.strip() for line in self.log_path.read_text().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_sinks: list[Sink] = []


def start_sink(port: int, log_path: Path, core: str | None) -> Sink:
    """`python -m aiosmtpd -n` with a handler that appends each message's Message-ID to log_path."""
    cmd = (["taskset", "-c", core] if core is not None else []) + [
        venv_python(), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "drill_common.MessageIdLog"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "SINK_LOG": str(log_path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(WORK / f"sink-{port}.log", "ab"))
    sink = Sink(proc, port, log_path)
    _sinks.append(sink)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return sink
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the SMTP sink did not start")


class MessageIdLog:
    """aiosmtpd handler: accepts every message and logs its Message-ID (one line each)."""

    def __init__(self) -> None:
        self.out = open(os.environ["SINK_LOG"], "a", buffering=1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        content = envelope.original_content or envelope.content
        first = Path(os.environ["SINK_LOG"] + ".first")
        if not first.exists():  # one message as it arrived, for drills that need its words
            first.write_bytes(content)
        match = re.search(rb"^Message-ID:\s*(<[^>]+>)", content, re.M | re.I)
        self.out.write((match.group(1).decode() if match else "<none>") + "\n")
        return "250 OK"


def stop_everything() -> None:
    stop_all()
    for sink in _sinks:
        sink.stop()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
