//! Min-cost flow by successive shortest paths with potentials (Dijkstra on reduced costs).
//! `maximise_profit` sends flow only while an augmenting path lowers the total cost, so with
//! negative costs for wanted pairs it returns the cheapest flow of any size: the optimum.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Clone)]
struct Edge {
    to: usize,
    cap: i64,
    cost: i64,
}

#[derive(Debug, Clone)]
pub struct MinCostFlow {
    edges: Vec<Edge>,
    adjacency: Vec<Vec<usize>>,
}

impl MinCostFlow {
    pub fn new(nodes: usize) -> Self {
        Self {
            edges: Vec::new(),
            adjacency: vec![Vec::new(); nodes],
        }
    }

    /// Adds `from → to` and returns its id (for `flow`).
    pub fn add_edge(&mut self, from: usize, to: usize, cap: i64, cost: i64) -> usize {
        let id = self.edges.len();
        self.edges.push(Edge { to, cap, cost });
        self.edges.push(Edge {
            to: from,
            cap: 0,
            cost: -cost,
        });
        self.adjacency[from].push(id);
        self.adjacency[to].push(id + 1);
        id
    }

    /// Flow sent along edge `id`.
    pub fn flow(&self, id: usize) -> i64 {
        self.edges[id + 1].cap
    }

    /// Sends flow from `s` to `t` while it lowers the total cost; returns (flow, cost).
    pub fn maximise_profit(&mut self, s: usize, t: usize) -> (i64, i64) {
        let n = self.adjacency.len();
        let mut potential = self.initial_potentials(s);
        let (mut flow, mut cost) = (0i64, 0i64);
        let mut dist = vec![i64::MAX; n];
        let mut via = vec![usize::MAX; n];
        loop {
            dist.iter_mut().for_each(|d| *d = i64::MAX);
            via.iter_mut().for_each(|v| *v = usize::MAX);
            dist[s] = 0;
            let mut heap = BinaryHeap::from([Reverse((0i64, s))]);
            while let Some(Reverse((d, u))) = heap.pop() {
                if d > dist[u] {
                    continue;
                }
                // Settled the sink: nodes further away keep their reduced costs valid with the
                // capped update below, so the rest of the search is wasted work.
                if u == t {
                    break;
                }
                for &id in &self.adjacency[u] {
                    let edge = &self.edges[id];
                    if edge.cap <= 0 || potential[edge.to] == i64::MAX {
                        continue;
                    }
                    let reduced = edge.cost + potential[u] - potential[edge.to];
                    let next = d + reduced;
                    if next < dist[edge.to] {
                        dist[edge.to] = next;
                        via[edge.to] = id;
                        heap.push(Reverse((next, edge.to)));
                    }
                }
            }
            if dist[t] == i64::MAX {
                break;
            }
            let reach = dist[t];
            for v in 0..n {
                if potential[v] != i64::MAX {
                    potential[v] += dist[v].min(reach);
                }
            }
            // Real cost of the path: stop once it no longer pays.
            let path_cost = potential[t] - potential[s];
            if path_cost >= 0 {
                break;
            }
            let mut push = i64::MAX;
            let mut v = t;
            while v != s {
                let id = via[v];
                push = push.min(self.edges[id].cap);
                v = self.edges[id ^ 1].to;
            }
            let mut v = t;
            while v != s {
                let id = via[v];
                self.edges[id].cap -= push;
                self.edges[id ^ 1].cap += push;
                v = self.edges[id ^ 1].to;
            }
            flow += push;
            cost += push * path_cost;
        }
        (flow, cost)
    }

    /// Shortest distances from `s` with negative costs allowed (Bellman-Ford, queue-based);
    /// unreachable nodes get `i64::MAX`.
    fn initial_potentials(&self, s: usize) -> Vec<i64> {
        let n = self.adjacency.len();
        let mut dist = vec![i64::MAX; n];
        let mut queued = vec![false; n];
        let mut queue = std::collections::VecDeque::from([s]);
        dist[s] = 0;
        queued[s] = true;
        while let Some(u) = queue.pop_front() {
            queued[u] = false;
            for &id in &self.adjacency[u] {
                let edge = &self.edges[id];
                if edge.cap > 0 && dist[u] + edge.cost < dist[edge.to] {
                    dist[edge.to] = dist[u] + edge.cost;
                    if !queued[edge.to] {
                        queued[edge.to] = true;
                        queue.push_back(edge.to);
                    }
                }
            }
        }
        dist
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_only_the_paths_that_pay() {
        // s → a → t costs -5 (take it), s → b → t costs +3 (leave it).
        let mut g = MinCostFlow::new(4);
        let (s, a, b, t) = (0, 1, 2, 3);
        g.add_edge(s, a, 1, 0);
        let ab = g.add_edge(a, t, 1, -5);
        g.add_edge(s, b, 1, 0);
        let bt = g.add_edge(b, t, 1, 3);
        assert_eq!(g.maximise_profit(s, t), (1, -5));
        assert_eq!((g.flow(ab), g.flow(bt)), (1, 0));
    }

    #[test]
    fn reroutes_earlier_flow_when_that_is_better() {
        // Two people, two seats: greedy would give p1 the best seat; the optimum differs.
        let mut g = MinCostFlow::new(6);
        let (s, p1, p2, e1, e2, t) = (0, 1, 2, 3, 4, 5);
        g.add_edge(s, p1, 1, 0);
        g.add_edge(s, p2, 1, 0);
        g.add_edge(p1, e1, 1, -10);
        g.add_edge(p1, e2, 1, -9);
        g.add_edge(p2, e1, 1, -8);
        g.add_edge(p2, e2, 1, -1);
        g.add_edge(e1, t, 1, 0);
        g.add_edge(e2, t, 1, 0);
        assert_eq!(g.maximise_profit(s, t), (2, -17));
    }
}
