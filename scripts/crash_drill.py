#!/usr/bin/env python3
"""Crash drill: kill -9 the server under 32-connection submission load, restart it, and check
that every acknowledged (2xx) submission and its email row are there. On SQLite also
`PRAGMA integrity_check`.

  python3 scripts/crash_drill.py [--backends sqlite,postgres] [--kills 3] [--applicants 6000]
                                 [--seconds 3] [--no-build]

For each backend: seeds applicants with complete drafts (as scripts/load_drill.py), then
`--kills` times: starts the service (email worker on, writing .eml files), runs 32 client
threads that submit drafts and record each id answered 2xx, sends SIGKILL after `--seconds`,
restarts the service and checks through the database and the API that every acknowledged
application is submitted, has its submission in the history, and has its "application
received" email row in the outbox. Exits non-zero on any loss.
"""

from __future__ import annotations

import argparse
import http.client
import queue
import signal
import sys
import threading
import time
from types import SimpleNamespace

import drill_common as d
import load_drill


def submit_load(port: int, drafts: queue.Queue, acknowledged: list, stop: threading.Event, connections: int = 32):
    """32 threads submitting drafts until the server goes away; records 2xx answers."""
    lock = threading.Lock()
    refused = [0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                app_id, user_id, token = drafts.get_nowait()
            except queue.Empty:
                return
            try:
                conn.request("POST", f"/api/v1/applications/{app_id}/submit",
                             headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                # The server died mid-request: not acknowledged, whatever it committed.
                return
            if 200 <= response.status < 300:
                with lock:
                    acknowledged.append((app_id, user_id))
            else:
                refused[0] += 1

    threads = [threading.Thread(target=client) for _ in range(connections)]
    for t in threads:
        t.start()
    return threads, refused


def check(db: d.Db, base: str, acknowledged: list, tokens: dict) -> list[str]:
    problems = []
    ids = [a for a, _ in acknowledged]
    if not ids:
        return ["nothing was acknowledged before the kill (the run proves nothing)"]
    submitted = set()
    emailed = set()
    history = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        in_list = ",".join(f"'{i}'" for i in chunk)
        submitted |= {r[0] for r in db.sql(f"SELECT id FROM applications WHERE status = 'submitted' AND id IN ({in_list})")}
        history |= {r[0] for r in db.sql(
            f"SELECT application_id FROM application_transitions WHERE to_status = 'submitted' AND application_id IN ({in_list})")}
    users = [u for _, u in acknowledged]
    for start in range(0, len(users), 500):
        in_list = ",".join(f"'{u}'" for u in users[start:start + 500])
        emailed |= {r[0] for r in db.sql(
            f"SELECT user_id FROM outbox WHERE template = 'application_received' AND user_id IN ({in_list})")}
    for app_id, user_id in acknowledged:
        if app_id not in submitted:
            problems.append(f"acknowledged {app_id} is not submitted")
        if app_id not in history:
            problems.append(f"acknowledged {app_id} has no submission in its history")
        if user_id not in emailed:
            problems.append(f"acknowledged {app_id} has no email row")
    # And through the API after the restart, for a sample.
    for app_id, user_id in acknowledged[:50]:
        status, body = d.call(base, "GET", f"/api/v1/applications/{app_id}", tokens[user_id])
        if status != 200 or body.get("status") != "submitted":
            problems.append(f"GET {app_id} after restart answered {status} {body}")
    return problems


def run_backend(kind: str, args, server_core: str, load_core: str) -> dict:
    d.log(f"== {kind}")
    db = d.fresh_db(kind, "crash")
    result = {"kills": [], "problems": []}
    try:
        svc = d.start_service(f"crash-{kind}", db, server_core)
        seeded = load_drill.seed(db, svc, SimpleNamespace(coproducers=0, applicants=args.applicants), load_core)
        svc.kill()
        owners = dict(db.sql("SELECT id, user_id FROM applications"))
        work: queue.Queue = queue.Queue()
        tokens = {}
        for line in seeded["submit_file"].read_text().splitlines():
            path, token = line.split()
            app_id = path.split("/")[4]
            tokens[owners[app_id]] = token
            work.put((app_id, owners[app_id], token))
        all_acknowledged: list = []
        for kill in range(args.kills):
            svc = d.start_service(f"crash-{kind}", db, server_core)
            acknowledged: list = []
            stop = threading.Event()
            threads, refused = submit_load(svc.port, work, acknowledged, stop)
            time.sleep(args.seconds)
            svc.popen.send_signal(signal.SIGKILL)
            svc.popen.wait()
            stop.set()
            for t in threads:
                t.join()
            all_acknowledged += acknowledged
            svc = d.start_service(f"crash-{kind}-restart", db, server_core)
            problems = check(db, svc.base, all_acknowledged, tokens)
            integrity = db.scalar("PRAGMA integrity_check") if kind == "sqlite" else "n/a"
            if kind == "sqlite" and integrity != "ok":
                problems.append(f"integrity_check: {integrity}")
            svc.kill()
            result["kills"].append((len(acknowledged), refused[0], integrity, len(problems)))
            result["problems"] += problems
            d.log(f"  kill {kill + 1}: {len(acknowledged)} acknowledged ({len(all_acknowledged)} so far), "
                  f"{refused[0]} refused, integrity {integrity}, {len(problems)} problems")
            if work.empty():
                d.log("  out of drafts")
                break
        return result
    finally:
        d.stop_all()
        d._started.clear()
        db.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--applicants", type=int, default=6000)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        d.build_release()
    server_core, load_core = d.cores()
    results = {}
    try:
        for kind in args.backends.split(","):
            results[kind] = run_backend(kind, args, server_core, load_core)
    finally:
        d.stop_everything()
    print()
    print("| backend | kill | acknowledged before the kill | refused (non-2xx) | integrity_check | lost or half-written |")
    print("|---|---|---|---|---|---|")
    failed = False
    for kind, r in results.items():
        for i, (acked, refused, integrity, problems) in enumerate(r["kills"], 1):
            print(f"| {kind} | {i} | {acked} | {refused} | {integrity} | {problems} |")
        for p in r["problems"][:20]:
            print("  problem:", p)
        failed |= bool(r["problems"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
