#!/usr/bin/env python3
"""Profile drill: instructions per request, counted by valgrind's callgrind, for our
authenticated GET /api/v1/applications/{id}, our submit, and the baseline's GET and insert.

  python3 scripts/profile_drill.py [--backend sqlite|postgres] [--requests 3000] [--what get,submit]
                                   [--baseline] [--binary target/release/coproduce] [--no-build]

Instruction counts repeat for the same binary and inputs whatever else the machine is doing, so
this compares two builds on a busy machine where wrk's requests per second cannot. Each figure
is (instructions while wrk ran) / (requests answered): the service starts under callgrind with
collection off, wrk (4 connections) sends `--requests` requests, collection is switched on for
them only (callgrind_control), and the profile stays in the drill folder; the drill prints the
command that annotates it (`callgrind_annotate --inclusive=yes <file> | head -80`).
Needs valgrind and wrk (Debian packages).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from types import SimpleNamespace

import drill_common as d
import load_drill


def under_callgrind(name: str, argv: list[str], env: dict[str, str], port: int, ready: str, out: str) -> d.Proc:
    valgrind = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--callgrind-out-file={out}"]
    return d.start(name, valgrind + argv, env, port, None, ready)


def toggle(proc: d.Proc) -> None:
    subprocess.run(["callgrind_control", "-i", "on" if not getattr(proc, "collecting", False) else "off",
                    str(proc.pid)], check=True, capture_output=True)
    proc.collecting = not getattr(proc, "collecting", False)


def count_instructions(path: str) -> int:
    for line in open(path):
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def measure(proc: d.Proc, url: str, lua: str, lines: list[str], requests: int, out: str, label: str) -> float:
    d.WORK.mkdir(parents=True, exist_ok=True)
    load = d.WORK / f"profile-{label}.txt"
    load.write_text("".join(lines[:requests]))
    script = d.WORK / f"profile-{label}.lua"
    script.write_text(lua)
    # Warm up (statement caches, the token cache) with collection off.
    d.wrk(url, script, 4, 2, None, {"LOAD_FILE": str(load)})
    toggle(proc)
    result = d.wrk(url, script, 4, 4, None, {"LOAD_FILE": str(load)})
    toggle(proc)
    proc.kill()
    d._started.remove(proc)
    answered = result.requests
    total = count_instructions(out)
    per = total / max(answered, 1)
    d.log(f"  {label}: {answered} requests ({result.non_2xx} not 2xx), {per / 1000:.0f} K instructions each; "
          f"callgrind_annotate --inclusive=yes {out} | head -80")
    return per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--what", default="get")
    parser.add_argument("--baseline", action="store_true", help="also profile the baseline server")
    parser.add_argument("--binary", default="", help="another build of coproduce to profile")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        d.build_release()
    binary = args.binary or str(d.BIN)
    db = d.fresh_db(args.backend, "profile")
    results = {}
    try:
        svc = d.start_service("profile-seed", db, None, binary=binary)
        seeded = load_drill.seed(db, svc, SimpleNamespace(coproducers=100, applicants=args.requests + 500), None)
        svc.kill()
        d._started.remove(svc)
        get_lines = seeded["get_file"].read_text().splitlines(keepends=True)
        submit_lines = seeded["submit_file"].read_text().splitlines(keepends=True)
        for what in args.what.split(","):
            port = d.free_port()
            out = str(d.WORK / f"callgrind-{args.backend}-{what}.out")
            env = d.service_env(db, port, APP_EMAIL__WORKER="false")
            proc = under_callgrind(f"profile-{what}", [binary, "serve"], env, port, "/health/ready", out)
            if what == "get":
                results["ours GET"] = measure(proc, proc.base, load_drill.GET_LUA, get_lines, args.requests, out, "get")
            else:
                # Each submit on a different draft; the warm-up takes the first ones.
                results["ours submit"] = measure(proc, proc.base, load_drill.SUBMIT_LUA, submit_lines,
                                                 len(submit_lines), out, "submit")
        if args.baseline:
            base_db = d.fresh_db(args.backend, "profile-baseline")
            try:
                for what in args.what.split(","):
                    port = d.free_port()
                    out = str(d.WORK / f"callgrind-{args.backend}-baseline-{what}.out")
                    env = {"BASELINE_DATABASE_URL": base_db.url, "BASELINE_PORT": str(port),
                           "BASELINE_SEED": "1000", "BASELINE_POOL_SIZE": "8"}
                    proc = under_callgrind(f"baseline-{what}", [str(d.BASELINE_BIN)], env, port, "/items/item-0", out)
                    if what == "get":
                        lines = [f"/items/item-{i}\n" for i in range(1000)]
                        results["baseline GET"] = measure(proc, proc.base, load_drill.GET_LUA, lines, 1000, out,
                                                          "baseline-get")
                    else:
                        results["baseline insert"] = measure(proc, f"{proc.base}/items", load_drill.INSERT_LUA,
                                                             [], 0, out, "baseline-insert")
            finally:
                d.stop_everything()
                base_db.drop()
    finally:
        d.stop_everything()
        db.drop()
    print()
    print("| measure | instructions per request |")
    print("|---|---|")
    for label, per in results.items():
        print(f"| {label} | {per / 1000:.0f} K |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
