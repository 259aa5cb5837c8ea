#!/usr/bin/env python3
"""Profile drill: instructions per request, counted by valgrind's callgrind, for our
authenticated GET /api/v1/applications/{id}, our submit, and the baseline's GET and insert.

  python3 scripts/profile_drill.py [--backend sqlite|postgres] [--requests 3000] [--what get,submit]
                                   [--baseline] [--binary target/release/coproduce] [--no-build]

Instruction counts repeat for the same binary and inputs whatever else the machine is doing, so
this compares two builds on a busy machine where wrk's requests per second cannot. Each figure
is (instructions while wrk ran) / (requests answered): the service starts under callgrind, wrk
(4 connections) warms it up, the counters are zeroed, wrk runs 4 s more, and callgrind dumps what
those requests cost (callgrind_control); the dump stays in the drill folder and the drill prints
the command that annotates it (`callgrind_annotate --inclusive=yes <file> | head -80`).
Needs valgrind and wrk (Debian packages).
"""

from __future__ import annotations

import argparse
import glob
import subprocess
import sys
from types import SimpleNamespace

import drill_common as d
import load_drill


def under_callgrind(name: str, argv: list[str], env: dict[str, str], port: int, ready: str, out: str) -> d.Proc:
    return d.start(name, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + argv, env, port, None, ready)


def callgrind_control(proc: d.Proc, option: str) -> None:
    subprocess.run(["callgrind_control", option, str(proc.pid)], check=True, capture_output=True)


def count_instructions(path: str) -> int:
    for line in open(path):
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def measure(proc: d.Proc, url: str, lua: str, lines: list[str], out: str, label: str, once: bool = False) -> float:
    """Warms up, then counts the instructions of the requests wrk sends from `lines`. `once`:
    each line may be sent only once (a submit), so the warm-up takes the first fifth and the
    count the rest; otherwise both use all the lines, as the load drill does."""
    d.WORK.mkdir(parents=True, exist_ok=True)
    script = d.WORK / f"profile-{label}.lua"
    script.write_text(lua)
    warm, rest = d.WORK / f"profile-{label}-warm.txt", d.WORK / f"profile-{label}.txt"
    cut = max(len(lines) // 5, 1) if lines and once else 0
    warm.write_text("".join(lines[:cut] if once else lines))
    rest.write_text("".join(lines[cut:]))
    # Statement caches, the token cache and the allocator settle with counting still to come.
    d.wrk(url, script, 4, 2, None, {"LOAD_FILE": str(warm)})
    callgrind_control(proc, "--zero")
    result = d.wrk(url, script, 4, 4, None, {"LOAD_FILE": str(rest)})
    callgrind_control(proc, "--dump")
    proc.kill()
    d._started.remove(proc)
    dumps = sorted(glob.glob(f"{out}.*"))
    if not dumps:
        raise RuntimeError(f"callgrind wrote no dump next to {out}")
    per = count_instructions(dumps[-1]) / max(result.requests, 1)
    d.log(f"  {label}: {result.requests} requests ({result.non_2xx} not 2xx), {per / 1000:.0f} K instructions "
          f"each; callgrind_annotate --inclusive=yes {dumps[-1]} | head -80")
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
        seeded = load_drill.seed(db, svc, SimpleNamespace(coproducers=100, applicants=args.requests + load_drill.GET_DRAFTS + 500), None)
        svc.kill()
        d._started.remove(svc)
        # 100 owners: under callgrind (~300 requests/s) each token comes back within the token
        # cache's second, as the load drill's 1,000 do at its thousands of requests a second.
        get_lines = seeded["get_file"].read_text().splitlines(keepends=True)[:100]
        submit_lines = seeded["submit_file"].read_text().splitlines(keepends=True)
        for what in args.what.split(","):
            port = d.free_port()
            out = str(d.WORK / f"callgrind-{args.backend}-{what}.out")
            env = d.service_env(db, port, APP_EMAIL__WORKER="false")
            proc = under_callgrind(f"profile-{what}", [binary, "serve"], env, port, "/health/ready", out)
            if what == "get":
                results["ours GET"] = measure(proc, proc.base, load_drill.GET_LUA, get_lines, out, "get")
            else:
                # Each submit on a different draft: wrk sends far fewer than there are under callgrind.
                results["ours submit"] = measure(proc, proc.base, load_drill.SUBMIT_LUA, submit_lines, out, "submit",
                                                 once=True)
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
                        results["baseline GET"] = measure(proc, proc.base, load_drill.GET_LUA, lines, out,
                                                          "baseline-get")
                    else:
                        results["baseline insert"] = measure(proc, f"{proc.base}/items", load_drill.INSERT_LUA,
                                                             [], out, "baseline-insert")
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
