//! The plan's min-cost flow, specialised to its shape: people ↔ elements, each person taking up
//! to `limit` seats (the k-th costing (k−1)·`penalty`), each element up to its seats, any flow
//! size, maximising total value.
//!
//! Both sides look alike: a node takes up to its capacity in units, the k-th unit costing
//! (k−1)·slope (people: their limit and the penalty; elements: their seats and no slope). One
//! side is the *roots*, whose units are added one node at a time; the other is where they go.
//! Each unit follows a shortest augmenting path to the sink, found by Dijkstra on reduced costs
//! from its root alone (successive shortest paths, Hungarian style). A path ends at a node of
//! the other side with room, at a root-side node giving up its dearest unit, or at once (the
//! unit stays unused, worth 0). Dijkstra stops when it settles the sink and only settled nodes'
//! potentials move, so a search touches only the nodes competing for the same places. Every step
//! keeps all residual reduced costs non-negative, so the result is the exact optimum (proptest in
//! plan.rs checks it against brute force and a no-improving-cycle certificate;
//! scripts/plan_oracle.py against OR-Tools).
//!
//! The roots are the side with fewer units to place (usually the elements' seats): their
//! searches end quickly, at the first node of the plentiful side with room.
//!
//! Node numbering inside: roots `0..L`, the other side `L..L+R`, the sink `L+R` (potential 0).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One feasible pair: `value` is what seating `person` on `element` is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arc {
    pub person: usize,
    pub element: usize,
    pub value: i64,
}

/// Which side's units are placed one node at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roots {
    People,
    Elements,
}

/// Returns, for each arc, whether it is in an optimal plan. Arcs with a value ≤ 0 are never
/// chosen (a plan without them is never worse); of repeated (person, element) arcs at most one is.
pub fn maximise_value(
    people: usize,
    seats: &[u32],
    arcs: &[Arc],
    limit: u32,
    penalty: i64,
) -> Vec<bool> {
    // Units each side could place at most: its capacity, or its useful arcs if fewer.
    let mut person_units = vec![0u32; people];
    let mut element_units = vec![0u32; seats.len()];
    for arc in arcs.iter().filter(|a| a.value > 0) {
        person_units[arc.person] = (person_units[arc.person] + 1).min(limit);
        element_units[arc.element] = (element_units[arc.element] + 1).min(seats[arc.element]);
    }
    let total = |units: &[u32]| units.iter().map(|u| u64::from(*u)).sum::<u64>();
    let roots = if total(&element_units) < total(&person_units) {
        Roots::Elements
    } else {
        Roots::People
    };
    maximise_value_from(roots, people, seats, arcs, limit, penalty)
}

/// `maximise_value` with the roots chosen by the caller (both give the optimum; the scarcer
/// side is faster).
pub fn maximise_value_from(
    roots: Roots,
    people: usize,
    seats: &[u32],
    arcs: &[Arc],
    limit: u32,
    penalty: i64,
) -> Vec<bool> {
    let person_side = Side {
        capacity: vec![i64::from(limit); people],
        slope: penalty.max(0),
    };
    let element_side = Side {
        capacity: seats.iter().map(|s| i64::from(*s)).collect(),
        slope: 0,
    };
    let mut solver = match roots {
        Roots::People => Solver::new(person_side, element_side, arcs, |arc| {
            (arc.person, arc.element)
        }),
        Roots::Elements => Solver::new(element_side, person_side, arcs, |arc| {
            (arc.element, arc.person)
        }),
    };
    solver.run();
    let mut chosen = vec![false; arcs.len()];
    for (k, picked) in solver.chosen.iter().enumerate() {
        if *picked {
            chosen[solver.link_arc[k] as usize] = true;
        }
    }
    chosen
}

struct Side {
    /// Units each node may take.
    capacity: Vec<i64>,
    /// A node's k-th unit costs (k−1)·slope.
    slope: i64,
}

/// How the sink was reached on the current shortest path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Into {
    /// Straight from the new unit: it stays unused.
    Unused,
    /// From a node on the other side taking one more unit.
    Room(usize),
    /// From a root-side node giving up its dearest unit.
    GivesUp(usize),
}

const NONE: u32 = u32::MAX;

struct Solver {
    roots: Side,
    others: Side,
    root_count: usize,
    /// Links (root, other, value) grouped by root: `first[r]..first[r + 1]`.
    first: Vec<usize>,
    link_other: Vec<u32>,
    link_root: Vec<u32>,
    link_value: Vec<i64>,
    /// The input arc each link stands for.
    link_arc: Vec<u32>,
    chosen: Vec<bool>,
    /// Units each node holds (roots, then others).
    held: Vec<i64>,
    /// Chosen links per node on the other side.
    taken: Vec<Vec<u32>>,
    potential: Vec<i64>,
    // Dijkstra scratch, reset through `touched`.
    dist: Vec<i64>,
    /// For an other-side node: the link it is entered by. For a root-side node: the chosen
    /// link it leaves by (NONE for the search's root).
    via: Vec<u32>,
    settled: Vec<bool>,
    touched: Vec<usize>,
    settled_order: Vec<usize>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
}

impl Solver {
    /// `ends` gives an arc's (root-side, other-side) nodes.
    fn new(roots: Side, others: Side, arcs: &[Arc], ends: impl Fn(&Arc) -> (usize, usize)) -> Self {
        let root_count = roots.capacity.len();
        let other_count = others.capacity.len();
        let useful = || arcs.iter().enumerate().filter(|(_, a)| a.value > 0);
        // Bucket the arcs by root-side node (counting sort), keeping the best of repeated pairs.
        let mut first = vec![0usize; root_count + 1];
        for (_, arc) in useful() {
            first[ends(arc).0 + 1] += 1;
        }
        for r in 0..root_count {
            first[r + 1] += first[r];
        }
        let mut fill = first.clone();
        let mut order = vec![NONE; first[root_count]];
        for (i, arc) in useful() {
            let r = ends(arc).0;
            order[fill[r]] = i as u32;
            fill[r] += 1;
        }
        let mut last_link = vec![NONE; other_count];
        let mut kept_first = vec![0usize; root_count + 1];
        let (mut link_other, mut link_root, mut link_value, mut link_arc) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in 0..root_count {
            for &i in &order[first[r]..first[r + 1]] {
                let arc = &arcs[i as usize];
                let o = ends(arc).1;
                let previous = last_link[o];
                if previous != NONE && previous as usize >= kept_first[r] {
                    if arc.value > link_value[previous as usize] {
                        link_value[previous as usize] = arc.value;
                        link_arc[previous as usize] = i;
                    }
                    continue;
                }
                last_link[o] = link_other.len() as u32;
                link_other.push(o as u32);
                link_root.push(r as u32);
                link_value.push(arc.value);
                link_arc.push(i);
            }
            kept_first[r + 1] = link_other.len();
        }
        let nodes = root_count + other_count + 1;
        Self {
            roots,
            others,
            root_count,
            first: kept_first,
            chosen: vec![false; link_other.len()],
            link_other,
            link_root,
            link_value,
            link_arc,
            held: vec![0; nodes - 1],
            taken: vec![Vec::new(); other_count],
            potential: vec![0; nodes],
            dist: vec![i64::MAX; nodes],
            via: vec![NONE; nodes],
            settled: vec![false; nodes],
            touched: Vec::new(),
            settled_order: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    fn run(&mut self) {
        for r in 0..self.root_count {
            let links = self.first[r]..self.first[r + 1];
            if links.is_empty() {
                continue;
            }
            // Reduced costs of r's links (cost = −value) must be ≥ 0: r's potential is the
            // largest value + other-side potential. Nothing reaches r yet, so nothing else changes.
            self.potential[r] = links
                .map(|k| self.link_value[k] + self.potential[self.other(k)])
                .max()
                .unwrap_or(0);
            while self.held[r] < self.roots.capacity[r] && self.augment_from(r) {}
        }
    }

    /// Node number of link `k`'s other-side end.
    fn other(&self, k: usize) -> usize {
        self.root_count + self.link_other[k] as usize
    }

    fn sink(&self) -> usize {
        self.potential.len() - 1
    }

    fn reach(&mut self, node: usize, dist: i64, via: u32) {
        // A node no nearer than the sink's best path so far cannot shorten it (reduced costs
        // are non-negative), so it need not be queued.
        let sink = self.sink();
        if node != sink && dist >= self.dist[sink] {
            return;
        }
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
        let roots = self.root_count;
        let sink = self.sink();
        // The unit's own node sits before `root`; its potential is any value keeping both of its
        // arcs (to root at the next unit's cost, and straight to the sink at 0) non-negative.
        let next_unit_cost = self.held[root] * self.roots.slope;
        let unit_potential = (self.potential[root] - next_unit_cost).max(self.potential[sink]);
        let mut into_sink = Into::Unused;
        self.reach(sink, unit_potential - self.potential[sink], NONE);
        self.reach(
            root,
            next_unit_cost + unit_potential - self.potential[root],
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
            let hv = self.potential[v];
            if v < roots {
                for k in self.first[v]..self.first[v + 1] {
                    if self.chosen[k] {
                        continue;
                    }
                    let o = self.other(k);
                    if self.settled[o] {
                        continue;
                    }
                    let reduced = -self.link_value[k] + hv - self.potential[o];
                    self.reach(o, d + reduced, k as u32);
                }
                if v != root && self.held[v] > 0 {
                    // v gives up its dearest unit, saving (held − 1) · slope.
                    let saving = (self.held[v] - 1) * self.roots.slope;
                    let reduced = -saving + hv - self.potential[sink];
                    if d + reduced < self.dist[sink] {
                        self.reach(sink, d + reduced, NONE);
                        into_sink = Into::GivesUp(v);
                    }
                }
            } else {
                let o = v - roots;
                if self.held[v] < self.others.capacity[o] {
                    let next = self.held[v] * self.others.slope;
                    let reduced = next + hv - self.potential[sink];
                    if d + reduced < self.dist[sink] {
                        self.reach(sink, d + reduced, NONE);
                        into_sink = Into::Room(v);
                    }
                }
                for t in 0..self.taken[o].len() {
                    let k = self.taken[o][t] as usize;
                    let r = self.link_root[k] as usize;
                    if self.settled[r] {
                        continue;
                    }
                    let reduced = self.link_value[k] + hv - self.potential[r];
                    self.reach(r, d + reduced, k as u32);
                }
            }
        }
        let reached = self.dist[sink];
        for &v in &self.settled_order {
            self.potential[v] += self.dist[v] - reached;
        }
        let mut at = match into_sink {
            Into::Unused => None,
            Into::Room(v) | Into::GivesUp(v) => Some(v),
        };
        if let Into::GivesUp(v) = into_sink {
            self.held[v] -= 1;
        }
        if let Into::Room(v) = into_sink {
            self.held[v] += 1;
        }
        let found = at.is_some();
        // Walk back to the root, flipping each link: an other-side node is entered by a root-side
        // node joining it, a root-side node other than the root by leaving a link it held.
        while let Some(v) = at.filter(|v| *v != root) {
            let k = self.via[v] as usize;
            let o = self.link_other[k] as usize;
            if v >= roots {
                self.chosen[k] = true;
                self.taken[o].push(k as u32);
                at = Some(self.link_root[k] as usize);
            } else {
                self.chosen[k] = false;
                let taken = &mut self.taken[o];
                if let Some(t) = taken.iter().position(|j| *j as usize == k) {
                    taken.swap_remove(t);
                }
                at = Some(roots + o);
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
