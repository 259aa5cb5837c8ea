#!/usr/bin/env python3
"""Fuzz every operation of the OpenAPI document with schemathesis, once per role.

Usage: python3 scripts/schemathesis.py            (from anywhere; runs in the repository root)

Builds the service (debug), starts it on a random free port with SQLite in a temporary folder
and email written to .eml files there, seeds an account for each role through the API (the
first admin with `coproduce create-admin`, staff and partners by invitation, a co-producer by
an accepted application), then runs `schemathesis run` against /api-docs/openapi.json with the
Bearer token of each role and once signed out; `DELETE /api/v1/me` last, as it ends the account.
Exits non-zero on any failed check.

Environment:
  FUZZ_MAX_EXAMPLES   examples per operation and phase (default 20; CI uses fewer)
  FUZZ_SEED           random seed (default 20240607, so every run tries the same inputs)
  FUZZ_ROLES          comma-separated subset of: anonymous,applicant,coproducer,reviewer,
                      partner,coordinator,admin (default: all)
  FUZZ_MAX_TIME       seconds to keep fuzzing each role (schemathesis --max-time: it repeats
                      fuzzing until the time is spent; for long local runs, not for CI)
  FUZZ_POSTGRES_URL   fuzz on PostgreSQL instead of SQLite: a server URL such as
                      postgres://postgres@127.0.0.1:5432/postgres on which a fresh database
                      coproduce_fuzz_<pid> is created with psql, and dropped afterwards
                      (CI runs both: SQLite with 10 examples, PostgreSQL with 5)
  CARGO_TARGET_DIR    honoured: the service is run from there
  FUZZ_KEEP           keep the temporary folder (server log, mail, reports) for reading
Reports (JUnit XML per role) and the server log land in the temporary folder, printed at the end.
"""

import email
import email.policy
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

SCHEMATHESIS_VERSION = "4.32.5"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-schemathesis")
ALL_ROLES = ["anonymous", "applicant", "coproducer", "reviewer", "partner", "coordinator", "admin"]
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
])
# Deleting your own account: fuzzed after everything else (see `run`).
ERASURE = "DELETE /api/v1/me"
ADMIN_EMAIL = "admin@fuzz.example"
ADMIN_PASSWORD = "fuzzing-admin-password-1"


def log(message):
    print(f"[schemathesis.py] {message}", flush=True)


def ensure_schemathesis():
    binary = os.path.join(VENV, "bin", "schemathesis")
    pip = os.path.join(VENV, "bin", "pip")
    if os.path.exists(binary):
        shown = subprocess.run([pip, "show", "schemathesis"], capture_output=True, text=True)
        if f"Version: {SCHEMATHESIS_VERSION}" in shown.stdout:
            return binary
    log(f"installing schemathesis=={SCHEMATHESIS_VERSION} into {VENV}")
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([pip, "install", "--quiet", "--disable-pip-version-check",
                    f"schemathesis=={SCHEMATHESIS_VERSION}"], check=True)
    return binary


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, token=None, expect=(200, 201, 202, 204)):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        if status not in expect:
            raise RuntimeError(f"{method} {path} answered {status}: {text[:500]}")
        return json.loads(text) if text else None


def emails(mail_dir):
    return set(glob.glob(os.path.join(mail_dir, "*.eml")))


def link_token_sent_to(mail_dir, address, before):
    """The token of a link emailed to `address` in a file not in `before` (waits for the worker)."""
    deadline = time.time() + 20
    while time.time() < deadline:
        for path in sorted(emails(mail_dir) - before):
            with open(path, "rb") as handle:
                message = email.message_from_binary_file(handle, policy=email.policy.default)
            if address not in str(message["To"]):
                continue
            text = message.get_body(preferencelist=("plain",)).get_content()
            links = re.findall(r"https?://\S+token=([A-Za-z0-9_-]+)", text)
            if links:
                return links[-1]
        time.sleep(0.2)
    raise RuntimeError(f"no link was emailed to {address}")


def invited(api, mail_dir, inviter, address, role, organisation_id=None):
    sent = emails(mail_dir)
    body = {"email": address, "role": role}
    if organisation_id:
        body["organisation_id"] = organisation_id
    api.call("POST", "/api/v1/users/invitations", body, inviter)
    token = link_token_sent_to(mail_dir, address, sent)
    accepted = api.call("POST", "/api/v1/users/invitations/accept",
                        {"token": token, "full_name": f"Fuzz {role}"})
    return accepted["access_token"]


def signed_in_by_link(api, mail_dir, address):
    sent = emails(mail_dir)
    api.call("POST", "/api/v1/auth/magic-link", {"email": address})
    token = link_token_sent_to(mail_dir, address, sent)
    return api.call("POST", "/api/v1/auth/token",
                    {"grant_type": "magic_link", "token": token})["access_token"]


def seed(api, mail_dir):
    """Signs in one account per role, and leaves real data (a round, an application, an
    organisation, a request turned into a project) for the fuzzer to find."""
    now = datetime.now(timezone.utc)
    tokens = {"anonymous": None}
    tokens["admin"] = api.call("POST", "/api/v1/auth/token", {
        "grant_type": "password", "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD,
    })["access_token"]
    tokens["coordinator"] = invited(api, mail_dir, tokens["admin"], "coordinator@fuzz.example",
                                    "coordinator")
    tokens["reviewer"] = invited(api, mail_dir, tokens["admin"], "reviewer@fuzz.example",
                                 "reviewer")
    coordinator = tokens["coordinator"]

    organisation = api.call("POST", "/api/v1/organisations", {
        "name": "Fuzz Housing Trust", "kind": "charity", "contact_email": "hello@org.example",
    }, coordinator)
    tokens["partner"] = invited(api, mail_dir, coordinator, "partner@fuzz.example", "partner",
                                organisation["id"])

    round_ = api.call("POST", "/api/v1/rounds", {
        "title": "Peer researchers", "summary": "Join our peer research team.",
        "description": "People with lived experience of homelessness.",
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(), "places": 6,
        "questions": [{"prompt": "Why do you want to join?", "required": True, "max_words": 50}],
    }, coordinator)

    for address in ["coproducer@fuzz.example", "applicant@fuzz.example"]:
        sent = emails(mail_dir)
        api.call("POST", "/api/v1/auth/register", {"email": address, "full_name": "Fuzz Person"})
        token = link_token_sent_to(mail_dir, address, sent)
        tokens[address.split("@")[0]] = api.call("POST", "/api/v1/auth/token", {
            "grant_type": "magic_link", "token": token})["access_token"]
    person = tokens["coproducer"]
    api.call("PUT", "/api/v1/me/profile", {
        "contact": {"preferred_channel": "email", "phone": None, "best_times": "Mornings",
                    "formats": ["easy_read"]},
        "skills": [{"code": "facilitation", "level": 3}, {"code": "interviewing", "level": 2}],
        "interests": ["housing"], "lived_experience": ["homelessness"],
        "availability": {"weekly": [{"day": "mon", "from": "09:00", "to": "17:00"}],
                         "hours_per_month": 40, "remote": True, "in_person": True,
                         "region": "london"},
        "payment": {"method": "bank_transfer", "earnings_limit_pence": 1000000,
                    "benefits_advice_wanted": False},
    }, person)
    api.call("PUT", "/api/v1/me/access-passport", {
        "needs": [{"code": "step_free_access", "detail": None}], "good_day_bad_day": None,
        "access_to_work": False, "share_with_project_teams": True, "review_by": None,
    }, person)
    application = api.call("POST", f"/api/v1/rounds/{round_['id']}/applications", None, person)
    api.call("PATCH", f"/api/v1/applications/{application['id']}", {
        "answers": [{"question_id": round_["questions"][0]["id"], "text": "To help."}],
        "consents": {"privacy_notice": True},
    }, person)
    api.call("POST", f"/api/v1/applications/{application['id']}/submit", None, person)
    api.call("POST", f"/api/v1/applications/{application['id']}/decision", {
        "outcome": "accepted", "feedback": "Welcome aboard.",
    }, coordinator)
    # The new role is in the next token.
    tokens["coproducer"] = signed_in_by_link(api, mail_dir, "coproducer@fuzz.example")

    start = (now + timedelta(days=40)).replace(hour=10, minute=0, second=0, microsecond=0)
    request = api.call("POST", "/api/v1/requests", {
        "title": "Housing support review", "summary": "Shape our review.",
        "engagement_level": "co_produce", "budget_pence": 500000, "access_budget_pence": 50000,
        "elements": [{
            "title": "Peer interviews", "description": "Interview people.",
            "skills_required": ["interviewing"], "skills_desired": [],
            "lived_experience_wanted": ["homelessness"], "interests": ["housing"],
            "people_needed": 2, "hours_estimate": 6, "mode": "remote", "location": None,
            "features": [], "pay_rate_pence_per_hour": 2500, "content_notes": None,
            "sessions": [{"starts_at": start.isoformat(),
                          "ends_at": (start + timedelta(hours=2)).isoformat()}],
        }],
    }, tokens["partner"])
    project_id = api.call("POST", f"/api/v1/requests/{request['id']}/triage",
                          {"decision": "accept", "note": "Good fit."}, coordinator)["project_id"]
    project = api.call("GET", f"/api/v1/projects/{project_id}", None, coordinator)
    element_id = project["elements"][0]["id"]
    coproducer_id = api.call("GET", "/api/v1/me", None, tokens["coproducer"])["id"]
    invitation = api.call("POST", f"/api/v1/elements/{element_id}/invitations", {
        "coproducer_ids": [coproducer_id],
        "respond_by": (now + timedelta(days=10)).isoformat(),
    }, coordinator)[0]
    outbox = api.call("GET", "/api/v1/admin/outbox?status=sent", None, coordinator)["items"]
    ids = {
        "rounds": [round_["id"]],
        "applications": [application["id"]],
        "requests": [request["id"]],
        "projects": [project_id],
        "elements": [element_id],
        "invitations": [invitation["id"]],
        "coproducers": [coproducer_id],
        "organisations": [organisation["id"]],
        "outbox": [item["id"] for item in outbox[:3]],
        "questions": [question["id"] for question in round_["questions"]],
    }
    return tokens, ids


def write_config(path, ids):
    """A schemathesis.toml that makes half the path ids (and some ids in bodies) real ones,
    so generated requests reach the handlers' own checks instead of stopping at 404."""
    toml = []
    for name, values in ids.items():
        if values:
            quoted = ", ".join(json.dumps(value) for value in values)
            toml += [f"[dictionaries.{name}]", f"values = [{quoted}]", ""]

    def bind(path_regex, bindings):
        toml.extend(["[[operations]]", f"include-path-regex = {json.dumps(path_regex)}"])
        pairs = ", ".join(f"{json.dumps(key)} = {{ dictionary = {json.dumps(name)}, "
                          f"probability = 0.5 }}" for key, name in bindings)
        toml.extend([f"parameters = {{ {pairs} }}", ""])

    for prefix, name in [("rounds", "rounds"), ("applications", "applications"),
                         ("requests", "requests"), ("projects", "projects"),
                         ("elements", "elements"), ("invitations", "invitations"),
                         ("coproducers", "coproducers"), ("admin/outbox", "outbox")]:
        bindings = [("path.id", name)]
        if prefix == "elements":
            bindings.append(("body.coproducer_ids[*]", "coproducers"))
        if prefix == "applications":
            bindings.append(("body.answers[*].question_id", "questions"))
            bindings.append(("body.scores[*].question_id", "questions"))
        bind(f"^/api/v1/{prefix}/\\{{id\\}}", bindings)
    bind("^/api/v1/me/conflicts/", [("path.organisation_id", "organisations")])
    bind("^/api/v1/users/invitations$", [("body.organisation_id", "organisations")])
    with open(path, "w") as handle:
        handle.write("\n".join(toml))


def wait_until_ready(api, server, log_path):
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            with open(log_path) as handle:
                sys.stderr.write(handle.read()[-3000:])
            raise RuntimeError("the service stopped while starting")
        try:
            api.call("GET", "/health/ready")
            return
        except (OSError, RuntimeError):
            time.sleep(0.3)
    raise RuntimeError("the service did not become ready in 120 seconds")


def main():
    os.chdir(ROOT)
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "20")
    seed_value = os.environ.get("FUZZ_SEED", "20240607")
    roles = [r for r in os.environ.get("FUZZ_ROLES", ",".join(ALL_ROLES)).split(",") if r]
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        sys.exit(f"unknown role(s) in FUZZ_ROLES: {', '.join(sorted(unknown))}")

    schemathesis = ensure_schemathesis()
    log("building the service (debug)")
    subprocess.run(["cargo", "build", "--locked", "--quiet", "--bin", "coproduce"], check=True)
    target = os.path.join(ROOT, os.environ.get("CARGO_TARGET_DIR") or "target")
    binary = os.path.join(target, "debug", "coproduce")

    work = tempfile.mkdtemp(prefix="coproduce-fuzz-")
    port = free_port()
    env = dict(os.environ)
    env.update({
        "APP_ENV": "local",
        "APP_SERVER__PORT": str(port),
        "APP_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "APP_SERVER__WORKERS": "2",
        "APP_DATABASE__URL": f"sqlite://{work}/fuzz.db",
        "APP_EMAIL__TRANSPORT": "file",
        "APP_EMAIL__FILE_DIR": os.path.join(work, "mail"),
        "APP_EMAIL__POLL_INTERVAL_MS": "100",
        # Fuzzing sends thousands of sign-in requests from one address: let them reach the
        # handlers instead of all answering 429 (which is documented, and tested in tests/api).
        "APP_RATE_LIMIT__PER_IP_PER_MINUTE": "1000000",
        "APP_RATE_LIMIT__PER_EMAIL_PER_HOUR": "1000000",
        "APP_AUTH__ACCESS_TOKEN_TTL_SECS": "86400",
        "APP_LOG__LEVEL": "warn",
        "COPRODUCE_ADMIN_PASSWORD": ADMIN_PASSWORD,
    })
    env.pop("RUST_LOG", None)
    postgres = os.environ.get("FUZZ_POSTGRES_URL")
    database = f"coproduce_fuzz_{os.getpid()}"
    # `timeout` stops us with SIGTERM: exit through the `finally`s, so the server stops and the
    # database is dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if postgres:
        subprocess.run(["psql", "-w", "-q", postgres, "-c", f"CREATE DATABASE {database}"],
                       check=True)
        env["APP_DATABASE__URL"] = postgres.rsplit("/", 1)[0] + "/" + database
    try:
        run(binary, env, work, schemathesis, roles, max_examples, seed_value)
    finally:
        if postgres:
            subprocess.run(["psql", "-w", "-q", postgres, "-c",
                            f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=False)


def run(binary, env, work, schemathesis, roles, max_examples, seed_value):
    port = int(env["APP_SERVER__PORT"])
    mail_dir = env["APP_EMAIL__FILE_DIR"]
    subprocess.run([binary, "create-admin", "--email", ADMIN_EMAIL], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    log_path = os.path.join(work, "server.log")
    server_log = open(log_path, "w")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=server_log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    api = Api(base)
    failed = []
    try:
        wait_until_ready(api, server, log_path)
        log(f"service on {base}; seeding one account per role")
        tokens, ids = seed(api, mail_dir)
        config = os.path.join(work, "schemathesis.toml")
        write_config(config, ids)
        def fuzz(role, name, operations):
            command = [
                schemathesis, "--config-file", config, "run", f"{base}/api-docs/openapi.json",
                "--checks", CHECKS,
                "--max-examples", max_examples,
                "--seed", seed_value,
                "--workers", "1",
                "--request-timeout", "30",
                "--suppress-health-check", "all",
                "--no-color",
                "--report", "junit",
                "--report-junit-path", os.path.join(work, f"junit-{name}.xml"),
            ] + operations
            if os.environ.get("FUZZ_MAX_TIME"):
                command += ["--max-time", os.environ["FUZZ_MAX_TIME"]]
            if tokens[role]:
                command += ["--header", f"Authorization: Bearer {tokens[role]}"]
            # Run in the temporary folder: schemathesis keeps a cache of past cases in its working
            # directory, which would make runs depend on earlier ones (and litter the repository).
            if subprocess.run(command, cwd=work).returncode != 0:
                failed.append(name)

        for role in roles:
            log(f"fuzzing as {role}: {max_examples} examples per operation, seed {seed_value}")
            fuzz(role, role, ["--exclude-name", ERASURE])
        # Its schema's example erases the account, after which every request of that role is a
        # 401: so it goes last, once every role is done with everything else.
        for role in roles:
            log(f"fuzzing {ERASURE} as {role}")
            fuzz(role, f"{role}-erasure", ["--include-name", ERASURE])
        if server.poll() is not None:
            failed.append("server exited during the run")
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
    if failed:
        log(f"FAILED for: {', '.join(failed)}. Server log and reports: {work}")
        sys.exit(1)
    log(f"no failures for {', '.join(roles)}")
    if os.environ.get("FUZZ_KEEP"):
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
