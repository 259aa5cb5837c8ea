//! The plan's min-cost flow, specialised to its shape: people → elements, each person taking up
//! to `limit` seats (the k-th costing (k−1)·`penalty`), each element up to its seats, any flow
//! size, maximising total value.
//!
//! Successive shortest paths, one person at a time (Hungarian style). Adding a person adds
//! `limit` units of supply at them, and each unit follows a shortest augmenting path to the sink,
//! found by Dijkstra on reduced costs from that person alone. A path ends at an element with a
//! free seat, at a person giving up their dearest seat, or at once (the unit stays unused: value
//! 0). Dijkstra stops when it settles the sink and only settled nodes' potentials move, so a
//! search touches only the neighbourhood that competes for the same seats. Every step keeps all
//! residual reduced costs non-negative, so the result is the exact optimum (proptest in plan.rs
//! checks it against brute force; scripts/plan_oracle.py against OR-Tools).
//!
//! Node numbering: people `0..P`, elements `P..P+E`, the sink `P+E` (its potential stays 0).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One feasible pair: `value` (> 0) is what seating `person` on `element` is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arc {
    pub person: usize,
    pub element: usize,
    pub value: i64,
}

/// How the sink was reached on the current shortest path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Into {
    /// Straight from the new unit: it stays unused.
    Unused,
    /// From an element taking one more person into a free seat.
    FreeSeat(usize),
    /// From a person giving up their dearest seat.
    GivesUp(usize),
}

const NONE: u32 = u32::MAX;

/// Returns, for each arc, whether it is in an optimal plan. Arcs with a value ≤ 0 are never
/// chosen (a plan without them is never worse); of repeated (person, element) arcs at most one is.
pub fn maximise_value(
    people: usize,
    seats: &[u32],
    arcs: &[Arc],
    limit: u32,
    penalty: i64,
) -> Vec<bool> {
    Solver::new(people, seats, arcs, limit, penalty.max(0)).run()
}

struct Solver<'a> {
    arcs: &'a [Arc],
    people: usize,
    limit: i64,
    penalty: i64,
    /// Arcs by person (indices into `arcs`): `by_person[first[p]..first[p + 1]]`.
    first: Vec<usize>,
    by_person: Vec<u32>,
    chosen: Vec<bool>,
    /// Seats each person holds.
    held: Vec<i64>,
    /// Free seats per element.
    free: Vec<i64>,
    /// Chosen arcs per element.
    seated: Vec<Vec<u32>>,
    potential: Vec<i64>,
    // Dijkstra scratch, reset through `touched`.
    dist: Vec<i64>,
    /// For a person: the chosen arc it leaves by (NONE for the search's root).
    /// For an element: the arc it is entered by.
    via: Vec<u32>,
    settled: Vec<bool>,
    touched: Vec<usize>,
    settled_order: Vec<usize>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
}

impl<'a> Solver<'a> {
    fn new(people: usize, seats: &[u32], arcs: &'a [Arc], limit: u32, penalty: i64) -> Self {
        let elements = seats.len();
        // Bucket the useful arcs by person, keeping the best of repeated (person, element) arcs.
        let mut first = vec![0usize; people + 1];
        for arc in arcs.iter().filter(|a| a.value > 0) {
            first[arc.person + 1] += 1;
        }
        for p in 0..people {
            first[p + 1] += first[p];
        }
        let mut fill = first.clone();
        let mut by_person = vec![NONE; first[people]];
        for (i, arc) in arcs.iter().enumerate().filter(|(_, a)| a.value > 0) {
            by_person[fill[arc.person]] = i as u32;
            fill[arc.person] += 1;
        }
        let mut best_at = vec![NONE; elements];
        let mut kept = Vec::with_capacity(by_person.len());
        let mut kept_first = vec![0usize; people + 1];
        for p in 0..people {
            for &i in &by_person[first[p]..first[p + 1]] {
                let e = arcs[i as usize].element;
                match best_at[e] {
                    slot if slot != NONE && arcs[kept[slot as usize] as usize].person == p => {
                        if arcs[i as usize].value > arcs[kept[slot as usize] as usize].value {
                            kept[slot as usize] = i;
                        }
                    }
                    _ => {
                        best_at[e] = kept.len() as u32;
                        kept.push(i);
                    }
                }
            }
            kept_first[p + 1] = kept.len();
        }
        let nodes = people + elements + 1;
        Self {
            arcs,
            people,
            limit: i64::from(limit),
            penalty,
            first: kept_first,
            by_person: kept,
            chosen: vec![false; arcs.len()],
            held: vec![0; people],
            free: seats.iter().map(|s| i64::from(*s)).collect(),
            seated: vec![Vec::new(); elements],
            potential: vec![0; nodes],
            dist: vec![i64::MAX; nodes],
            via: vec![NONE; nodes],
            settled: vec![false; nodes],
            touched: Vec::new(),
            settled_order: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    fn run(mut self) -> Vec<bool> {
        for p in 0..self.people {
            let arcs = &self.by_person[self.first[p]..self.first[p + 1]];
            if arcs.is_empty() {
                continue;
            }
            // Reduced costs of p's arcs (cost = −value) must be ≥ 0: p's potential is the
            // largest value + element potential. Nothing reaches p yet, so nothing else changes.
            self.potential[p] = arcs
                .iter()
                .map(|&i| {
                    let arc = self.arcs[i as usize];
                    arc.value + self.potential[self.people + arc.element]
                })
                .max()
                .unwrap_or(0);
            while self.held[p] < self.limit && self.augment_from(p) {}
        }
        self.chosen
    }

    fn sink(&self) -> usize {
        self.potential.len() - 1
    }

    fn reach(&mut self, node: usize, dist: i64, via: u32) {
        if dist < self.dist[node] {
            if self.dist[node] == i64::MAX {
                self.touched.push(node);
            }
            self.dist[node] = dist;
            self.via[node] = via;
            self.heap.push(Reverse((dist, node as u32)));
        }
    }

    /// Sends one more unit from `root` along a shortest path; false if the unit is better
    /// left unused (then so is every later unit of `root`: nothing changed).
    fn augment_from(&mut self, root: usize) -> bool {
        let people = self.people;
        let sink = self.sink();
        // The unit's own node sits before `root`; its potential is any value keeping both of its
        // arcs (to root at the next seat's penalty, and straight to the sink at 0) non-negative.
        let next_seat_cost = self.held[root] * self.penalty;
        let unit_potential = (self.potential[root] - next_seat_cost).max(self.potential[sink]);
        let mut into_sink = Into::Unused;
        self.reach(sink, unit_potential - self.potential[sink], NONE);
        self.reach(
            root,
            next_seat_cost + unit_potential - self.potential[root],
            NONE,
        );
        while let Some(Reverse((d, v))) = self.heap.pop() {
            let v = v as usize;
            if self.settled[v] || d > self.dist[v] {
                continue;
            }
            if v == sink {
                break;
            }
            self.settled[v] = true;
            self.settled_order.push(v);
            if v < people {
                let hv = self.potential[v];
                for k in self.first[v]..self.first[v + 1] {
                    let i = self.by_person[k];
                    if self.chosen[i as usize] {
                        continue;
                    }
                    let arc = self.arcs[i as usize];
                    let e = people + arc.element;
                    if self.settled[e] {
                        continue;
                    }
                    let reduced = -arc.value + hv - self.potential[e];
                    self.reach(e, d + reduced, i);
                }
                if v != root && self.held[v] > 0 {
                    // v gives up its dearest seat: it saves (held − 1) · penalty.
                    let reduced = -(self.held[v] - 1) * self.penalty + hv - self.potential[sink];
                    if d + reduced < self.dist[sink] {
                        self.reach(sink, d + reduced, NONE);
                        into_sink = Into::GivesUp(v);
                    }
                }
            } else {
                let e = v - people;
                let hv = self.potential[v];
                if self.free[e] > 0 {
                    let reduced = hv - self.potential[sink];
                    if d + reduced < self.dist[sink] {
                        self.reach(sink, d + reduced, NONE);
                        into_sink = Into::FreeSeat(e);
                    }
                }
                for k in 0..self.seated[e].len() {
                    let i = self.seated[e][k];
                    let arc = self.arcs[i as usize];
                    if self.settled[arc.person] {
                        continue;
                    }
                    let reduced = arc.value + hv - self.potential[arc.person];
                    self.reach(arc.person, d + reduced, i);
                }
            }
        }
        let reached = self.dist[sink];
        for &v in &self.settled_order {
            self.potential[v] += self.dist[v] - reached;
        }
        let mut at = match into_sink {
            Into::Unused => None,
            Into::FreeSeat(e) => {
                self.free[e] -= 1;
                Some(people + e)
            }
            Into::GivesUp(q) => {
                self.held[q] -= 1;
                Some(q)
            }
        };
        let found = at.is_some();
        // Walk back to the root, flipping each arc: an element is entered by a person joining
        // it, a person other than the root by leaving a seat they held.
        while let Some(v) = at.filter(|v| *v != root) {
            let i = self.via[v];
            let arc = self.arcs[i as usize];
            if v >= people {
                self.chosen[i as usize] = true;
                self.seated[arc.element].push(i);
                at = Some(arc.person);
            } else {
                self.chosen[i as usize] = false;
                let seated = &mut self.seated[arc.element];
                if let Some(k) = seated.iter().position(|j| *j == i) {
                    seated.swap_remove(k);
                }
                at = Some(people + arc.element);
            }
        }
        if found {
            self.held[root] += 1;
        }
        self.heap.clear();
        for &v in &self.touched {
            self.dist[v] = i64::MAX;
            self.via[v] = NONE;
            self.settled[v] = false;
        }
        self.touched.clear();
        self.settled_order.clear();
        found
    }
}
