//! The plan when every person may take one seat and every element has one: an assignment
//! problem, solved on a dense matrix by Jonker–Volgenant (column reduction, reduction transfer,
//! augmenting row reduction, then shortest augmenting paths).
//!
//! Maximising value with people allowed to stay out is the same as a full assignment of the
//! shorter side on values where a missing pair is worth 0: any partial plan extends to a full
//! one by adding pairs worth 0, and dropping pairs worth ≤ 0 from a full one loses nothing.

use super::flow::Arc;

/// Largest matrix (people × elements) solved densely.
const MAX_CELLS: usize = 1 << 22;

/// Whether the dense solver fits: one seat per person and per element, a matrix that fits,
/// and at least a quarter of all pairs feasible (sparser instances go to the flow solver).
pub fn suits(people: usize, seats: &[u32], pairs: usize, per_person: u32) -> bool {
    let cells = people.saturating_mul(seats.len());
    per_person == 1
        && seats.iter().all(|s| *s <= 1)
        && cells > 0
        && cells <= MAX_CELLS
        && pairs.saturating_mul(4) >= cells
}

/// For each arc, whether it is in an optimal plan (elements with no seat take no one).
pub fn maximise_value(people: usize, seats: &[u32], arcs: &[Arc]) -> Vec<bool> {
    let elements = seats.len();
    let transposed = people > elements;
    let (rows, cols) = if transposed {
        (elements, people)
    } else {
        (people, elements)
    };
    let cell = |arc: &Arc| {
        if transposed {
            arc.element * cols + arc.person
        } else {
            arc.person * cols + arc.element
        }
    };
    // Costs are negated values; a missing or worthless pair costs 0.
    let mut cost = vec![0i64; rows * cols];
    for arc in arcs.iter().filter(|a| seats[a.element] > 0) {
        let c = &mut cost[cell(arc)];
        *c = (*c).min(-arc.value);
    }
    let row_to_col = if rows == cols {
        lapjv_square(rows, &cost)
    } else {
        shortest_augmenting_paths(rows, cols, &cost)
    };
    let mut wanted = vec![usize::MAX; people];
    for (r, c) in row_to_col.into_iter().enumerate() {
        let (p, e) = if transposed { (c, r) } else { (r, c) };
        if cost[if transposed {
            e * cols + p
        } else {
            p * cols + e
        }] < 0
        {
            wanted[p] = e;
        }
    }
    let mut picked = vec![false; arcs.len()];
    for (i, arc) in arcs.iter().enumerate() {
        if wanted[arc.person] == arc.element && -arc.value == cost[cell(arc)] {
            picked[i] = true;
            wanted[arc.person] = usize::MAX;
        }
    }
    picked
}

const FREE: usize = usize::MAX;

/// Square min-cost assignment (`cost` row-major, n × n); returns each row's column.
fn lapjv_square(n: usize, cost: &[i64]) -> Vec<usize> {
    let at = |i: usize, j: usize| cost[i * n + j];
    let mut row_col = vec![FREE; n];
    let mut col_row = vec![FREE; n];
    let mut v = vec![0i64; n];
    let mut matches = vec![0u32; n];

    // Column reduction: each column's price is its cheapest entry (found row by row, which
    // reads the matrix in order); that row takes it if free.
    let mut cheapest_row = vec![0usize; n];
    v.copy_from_slice(&cost[..n]);
    for i in 1..n {
        for (j, c) in cost[i * n..(i + 1) * n].iter().enumerate() {
            if *c < v[j] {
                v[j] = *c;
                cheapest_row[j] = i;
            }
        }
    }
    for j in (0..n).rev() {
        let best_row = cheapest_row[j];
        matches[best_row] += 1;
        if matches[best_row] == 1 {
            row_col[best_row] = j;
            col_row[j] = best_row;
        } else if v[j] < v[row_col[best_row]] {
            let old = row_col[best_row];
            row_col[best_row] = j;
            col_row[j] = best_row;
            col_row[old] = FREE;
        } else {
            col_row[j] = FREE;
        }
    }

    // Reduction transfer: rows matched once lower their column's price to their second best.
    let mut free_rows = Vec::with_capacity(n);
    for i in 0..n {
        match matches[i] {
            0 => free_rows.push(i),
            1 => {
                let own = row_col[i];
                let second = (0..n)
                    .filter(|j| *j != own)
                    .map(|j| at(i, j) - v[j])
                    .min()
                    .unwrap_or(0);
                v[own] -= second;
            }
            _ => {}
        }
    }

    // Augmenting row reduction, twice: free rows bid for their best column, displacing owners.
    for _ in 0..2 {
        let pending = std::mem::take(&mut free_rows);
        let mut queue: Vec<usize> = pending.into_iter().rev().collect();
        while let Some(i) = queue.pop() {
            let (mut best, mut best_col) = (at(i, 0) - v[0], 0);
            let (mut second, mut second_col) = (i64::MAX, 0);
            let row = &cost[i * n..(i + 1) * n];
            for (j, (c, price)) in row.iter().zip(&v).enumerate().skip(1) {
                let h = c - price;
                if h < second {
                    if h >= best {
                        second = h;
                        second_col = j;
                    } else {
                        second = best;
                        second_col = best_col;
                        best = h;
                        best_col = j;
                    }
                }
            }
            let mut owner = col_row[best_col];
            let mut col = best_col;
            if best < second {
                v[col] -= second - best;
            } else if owner != FREE {
                col = second_col;
                owner = col_row[col];
            }
            if row_col[i] != FREE && col_row[row_col[i]] == i {
                col_row[row_col[i]] = FREE;
            }
            row_col[i] = col;
            col_row[col] = i;
            if owner != FREE {
                row_col[owner] = FREE;
                if best < second {
                    queue.push(owner);
                } else {
                    free_rows.push(owner);
                }
            }
        }
    }
    augment_free_rows(n, n, cost, &free_rows, &mut row_col, &mut col_row, &mut v);
    row_col
}

/// Rows ≤ columns: prices start at 0 (a column left unassigned must keep price 0), each row
/// takes its cheapest column if free, the rest by shortest augmenting paths.
fn shortest_augmenting_paths(rows: usize, cols: usize, cost: &[i64]) -> Vec<usize> {
    let mut row_col = vec![FREE; rows];
    let mut col_row = vec![FREE; cols];
    let mut v = vec![0i64; cols];
    let mut free_rows = Vec::new();
    for i in 0..rows {
        let row = &cost[i * cols..(i + 1) * cols];
        let best = (0..cols).min_by_key(|j| row[*j]).unwrap_or(0);
        if col_row[best] == FREE {
            col_row[best] = i;
            row_col[i] = best;
        } else {
            free_rows.push(i);
        }
    }
    augment_free_rows(
        rows,
        cols,
        cost,
        &free_rows,
        &mut row_col,
        &mut col_row,
        &mut v,
    );
    row_col
}

/// Jonker–Volgenant augmentation: for each free row, a Dijkstra over columns on reduced costs
/// (dense, no heap), ending at the first free column reached at the minimum distance.
fn augment_free_rows(
    _rows: usize,
    cols: usize,
    cost: &[i64],
    free_rows: &[usize],
    row_col: &mut [usize],
    col_row: &mut [usize],
    v: &mut [i64],
) {
    let at = |i: usize, j: usize| cost[i * cols + j];
    let mut d = vec![0i64; cols];
    let mut pred = vec![0usize; cols];
    let mut order: Vec<usize> = (0..cols).collect();
    for &start in free_rows {
        for j in 0..cols {
            d[j] = at(start, j) - v[j];
            pred[j] = start;
            order[j] = j;
        }
        // order[..low]: settled; order[low..up]: at the current minimum, to scan; rest: to do.
        let (mut low, mut up) = (0usize, 0usize);
        let mut last = 0usize;
        let mut min = 0i64;
        let end = 'search: loop {
            if up == low {
                last = low;
                min = d[order[up]];
                up += 1;
                let rest = up;
                for k in rest..cols {
                    let j = order[k];
                    if d[j] <= min {
                        if d[j] < min {
                            up = low;
                            min = d[j];
                        }
                        order[k] = order[up];
                        order[up] = j;
                        up += 1;
                    }
                }
                for &j in &order[low..up] {
                    if col_row[j] == FREE {
                        break 'search j;
                    }
                }
            }
            let scanned = order[low];
            low += 1;
            let i = col_row[scanned];
            let h = at(i, scanned) - v[scanned] - min;
            let mut k = up;
            while k < cols {
                let j = order[k];
                let reduced = at(i, j) - v[j] - h;
                if reduced < d[j] {
                    pred[j] = i;
                    d[j] = reduced;
                    if reduced == min {
                        if col_row[j] == FREE {
                            break 'search j;
                        }
                        order[k] = order[up];
                        order[up] = j;
                        up += 1;
                    }
                }
                k += 1;
            }
        };
        // Settled columns (those finished before the last minimum) lower their prices.
        for &j in &order[..last] {
            v[j] += d[j] - min;
        }
        let mut j = end;
        loop {
            let i = pred[j];
            col_row[j] = i;
            let previous = row_col[i];
            row_col[i] = j;
            if i == start {
                break;
            }
            j = previous;
        }
    }
}
