#!/usr/bin/env python3
"""Checks the optimal plan against external solvers, and times them side by side.

For each instance: our solver (examples/solve_plan.rs, release build), OR-Tools' min-cost flow,
and for one-seat cases scipy's linear_sum_assignment. Objectives must be equal (to the
hundredth); times are wall-clock seconds of the solve call only (ours includes building its
graph from the pairs; OR-Tools' and scipy's do not), the median of REPEATS runs, same machine,
same run.

    python3 -m venv .venv-oracle && .venv-oracle/bin/pip install ortools scipy numpy
    cargo build --release --example solve_plan
    .venv-oracle/bin/python scripts/plan_oracle.py [REPEATS, default 5]
"""
import json, os, random, statistics, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLVER = os.path.join(ROOT, "target", "release", "examples", "solve_plan")


def sparse_instance(people, elements, per_person_edges, seats, per_person, penalty, seed):
    rng = random.Random(seed)
    pairs = []
    for p in range(people):
        for e in rng.sample(range(elements), min(per_person_edges, elements)):
            pairs.append((p, e, rng.randrange(0, 10_000) / 100))
    return {"people": people, "seats": [seats] * elements, "pairs": pairs, "per_person": per_person, "penalty": penalty}


def dense_instance(people, elements, seed):
    rng = random.Random(seed)
    pairs = [(p, e, rng.randrange(0, 10_000) / 100) for p in range(people) for e in range(elements)]
    return {"people": people, "seats": [1] * elements, "pairs": pairs, "per_person": 1, "penalty": 0.0}


def median_time(run, repeats):
    results = [run() for _ in range(repeats)]
    assert len({value for value, _ in results}) == 1, results
    return results[0][0], statistics.median(seconds for _, seconds in results)


def ours(instance, repeats):
    out = subprocess.run([SOLVER, str(repeats)], input=json.dumps(instance), capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    return round(result["objective"] * 100), result["seconds"]


def ortools_flow(instance):
    from ortools.graph.python import min_cost_flow
    people, seats = instance["people"], instance["seats"]
    source, sink = 0, 1
    person = lambda p: 2 + p
    element = lambda e: 2 + people + e
    flow = min_cost_flow.SimpleMinCostFlow()
    penalty = round(instance["penalty"] * 100)
    supply = people * instance["per_person"]
    for p in range(people):
        for k in range(instance["per_person"]):
            flow.add_arc_with_capacity_and_unit_cost(source, person(p), 1, k * penalty)
    for p, e, score in instance["pairs"]:
        flow.add_arc_with_capacity_and_unit_cost(person(p), element(e), 1, -round(score * 100))
    for e, s in enumerate(seats):
        flow.add_arc_with_capacity_and_unit_cost(element(e), sink, s, 0)
    flow.add_arc_with_capacity_and_unit_cost(source, sink, supply, 0)  # flow that is not worth sending
    flow.set_node_supply(source, supply)
    flow.set_node_supply(sink, -supply)
    started = time.perf_counter()
    status = flow.solve()
    seconds = time.perf_counter() - started
    assert status == flow.OPTIMAL, status
    return -flow.optimal_cost(), seconds


def scipy_assignment(instance):
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    scores = np.zeros((instance["people"], len(instance["seats"])), dtype=np.int64)
    for p, e, score in instance["pairs"]:
        scores[p, e] = round(score * 100)
    started = time.perf_counter()
    rows, cols = linear_sum_assignment(scores, maximize=True)
    seconds = time.perf_counter() - started
    return int(scores[rows, cols].sum()), seconds


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    cases = [
        ("small, two seats each, penalty", sparse_instance(300, 60, 10, 2, 2, 15.0, 1), False),
        ("5000 x 1000 x 3 seats, 20 candidate elements each", sparse_instance(5000, 1000, 20, 3, 1, 15.0, 2), False),
        ("same, limit 2 per person, penalty 15", sparse_instance(5000, 1000, 20, 3, 2, 15.0, 2), False),
        ("dense 1000 x 1000 one seat", dense_instance(1000, 1000, 3), True),
        ("dense 5000 people x 40 elements one seat", dense_instance(5000, 40, 4), True),
    ]
    print(f"median of {repeats} runs each")
    failed = False
    for name, instance, one_seat in cases:
        mine, my_time = ours(instance, repeats)
        theirs, their_time = median_time(lambda: ortools_flow(instance), repeats)
        line = f"{name:<52} ours {my_time:8.4f}s   OR-Tools {their_time:8.4f}s   ratio {my_time / their_time:6.2f}"
        same = mine == theirs
        if one_seat:
            best, scipy_time = median_time(lambda: scipy_assignment(instance), repeats)
            line += f"   scipy {scipy_time:8.4f}s   ratio {my_time / scipy_time:6.2f}"
            same = same and mine == best
        print(line + ("   same optimum" if same else f"   DIFFERENT: ours {mine} OR-Tools {theirs}"), flush=True)
        failed |= not same
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
