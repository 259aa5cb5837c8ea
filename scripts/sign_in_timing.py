#!/usr/bin/env python3
"""Do sign-in answers take as long for an unknown address as for a known one?

Starts the release binary on a fresh SQLite file (rate limits raised), registers one address, then
times interleaved requests for the known and an unknown address on the same endpoint and prints
medians side by side. Usage: cargo build --release && python3 scripts/sign_in_timing.py [N]
"""
import json, os, statistics, subprocess, sys, tempfile, time, urllib.request, urllib.error

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18093

def post(path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}/api/v1{path}", json.dumps(body).encode(),
                                     {"content-type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, (time.perf_counter() - started) * 1000

def compare(label, path, known, unknown):
    times = {"known": [], "unknown": []}
    statuses = set()
    for i in range(N):
        for name, body in (("known", known), ("unknown", unknown)):
            status, ms = post(path, body(i) if callable(body) else body)
            statuses.add((name, status))
            times[name].append(ms)
    k, u = statistics.median(times["known"]), statistics.median(times["unknown"])
    print(f"{label:<34} known {k:7.2f} ms   unknown {u:7.2f} ms   ratio {u / k:5.2f}   statuses {sorted(statuses)}")

with tempfile.TemporaryDirectory() as folder:
    env = dict(os.environ, APP_DATABASE__URL=f"sqlite://{folder}/timing.db", APP_SERVER__PORT=str(PORT),
               APP_EMAIL__FILE_DIR=f"{folder}/mail", APP_RATE_LIMIT__PER_IP_PER_MINUTE="1000000",
               APP_RATE_LIMIT__PER_EMAIL_PER_HOUR="1000000", RUST_LOG="warn")
    server = subprocess.Popen([f"{ROOT}/target/release/coproduce"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health/ready"); break
            except OSError:
                time.sleep(0.1)
        post("/auth/register", {"email": "known@example.org", "full_name": "Known", "password": "a long enough passphrase"})
        print(f"{N} interleaved requests each, SQLite, release build")
        compare("POST /auth/magic-link", "/auth/magic-link", {"email": "known@example.org"}, {"email": "unknown@example.org"})
        compare("POST /auth/register (again)", "/auth/register",
                {"email": "known@example.org", "full_name": "K"},
                lambda i: {"email": f"new{i}@example.org", "full_name": "New"})
        compare("POST /auth/token password, wrong", "/auth/token",
                {"grant_type": "password", "email": "known@example.org", "password": "not the right one!"},
                {"grant_type": "password", "email": "nobody@example.org", "password": "not the right one!"})
    finally:
        server.terminate()
        server.wait()
