//! Weighted round robin as Traefik schedules it: earliest deadline first, each server's
//! deadline advancing by 1/weight per pick.
//!
//! A cycle (one pick per unit of total weight) of up to [`MAX_CYCLE`] picks is precomputed by
//! replaying Traefik's own heap (Go's `container/heap` over float deadlines), so ties fall as
//! in Traefik (3:1 gives b1 b1 b2 b1 b1 b1 b1 b2). Longer cycles (extreme ratios such as
//! 1000000:1) are never cut short: the n-th pick is computed exactly, in integers, from the
//! weights alone. Equal weights are a plain rotation, without a table (a pool per service must
//! stay small with thousands of services).

/// The longest cycle kept as a table (256 KiB of indices).
pub const MAX_CYCLE: u64 = 1 << 16;
/// Short cycles are replayed for at least this many picks.
const MIN_PICKS: u64 = 4096;

#[derive(Debug, Clone)]
pub enum Schedule {
    /// No server with a positive weight.
    Empty,
    /// Equal weights: these server indices in turn (no table per pick).
    Rotation(Vec<u32>),
    /// Server indices in pick order, one full cycle.
    Cycle(Vec<u32>),
    /// (server index, weight) of each positive-weight server, and their sum.
    Exact {
        weights: Vec<(u32, u64)>,
        total: u64,
    },
}

impl Schedule {
    /// `weights[i]` is server i's weight; zero keeps it out.
    pub fn new(weights: &[u32]) -> Self {
        let active: Vec<(u32, u64)> = weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 0)
            .filter_map(|(i, w)| Some((u32::try_from(i).ok()?, u64::from(*w))))
            .collect();
        if active.is_empty() {
            return Schedule::Empty;
        }
        if active.iter().all(|(_, w)| *w == active[0].1) {
            return Schedule::Rotation(active.iter().map(|(i, _)| *i).collect());
        }
        let total: u64 = active.iter().map(|(_, w)| *w).sum();
        if total <= MAX_CYCLE {
            // Several rounds: Traefik's float deadlines make its order drift from one round
            // to the next (3:1 gives b1 b1 b2 b1, then b1 b1 b1 b2).
            let rounds = (MIN_PICKS / total).max(1);
            Schedule::Cycle(traefik_cycle(&active, total * rounds))
        } else {
            Schedule::Exact {
                weights: active,
                total,
            }
        }
    }

    /// The number of picks in one cycle (a whole number of rounds of the weights).
    pub fn len(&self) -> u64 {
        match self {
            Schedule::Empty => 0,
            Schedule::Rotation(r) => r.len() as u64,
            Schedule::Cycle(c) => c.len() as u64,
            Schedule::Exact { total, .. } => *total,
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Schedule::Empty)
    }

    /// The server index of pick `n` (any counter value; it wraps at the cycle's end).
    pub fn pick(&self, n: u64) -> Option<usize> {
        match self {
            Schedule::Empty => None,
            Schedule::Rotation(r) => {
                let len = r.len() as u64;
                r.get(usize::try_from(n % len).ok()?).map(|i| *i as usize)
            }
            Schedule::Cycle(c) => {
                let len = c.len() as u64;
                c.get(usize::try_from(n % len).ok()?).map(|i| *i as usize)
            }
            Schedule::Exact { weights, total } => Some(exact_pick(weights, *total, n % total)),
        }
    }
}

/// One cycle of Traefik's wrr: handlers pushed in order with deadline 1/w; each pick pops the
/// minimum, advances its deadline by 1/w and pushes it back.
fn traefik_cycle(active: &[(u32, u64)], picks: u64) -> Vec<u32> {
    #[derive(Clone, Copy)]
    struct Entry {
        server: u32,
        inverse: f64,
        deadline: f64,
    }
    let mut heap: Vec<Entry> = Vec::with_capacity(active.len());
    for (server, w) in active {
        // u64 -> f64 is exact up to 2^53; weights are u32.
        let inverse = 1.0 / *w as f64;
        heap.push(Entry {
            server: *server,
            inverse,
            deadline: inverse,
        });
        let last = heap.len() - 1;
        up(&mut heap, last, |e| e.deadline);
    }
    let mut out = Vec::with_capacity(usize::try_from(picks).unwrap_or(0));
    for _ in 0..picks {
        // heap.Pop: swap the root with the last, sift down over the rest, take the last.
        let n = heap.len() - 1;
        heap.swap(0, n);
        down(&mut heap, 0, n, |e| e.deadline);
        let Some(mut e) = heap.pop() else { break };
        out.push(e.server);
        e.deadline += e.inverse;
        // heap.Push: append, sift up.
        heap.push(e);
        let last = heap.len() - 1;
        up(&mut heap, last, |e| e.deadline);
    }
    out
}

/// Go's `container/heap` `up`.
fn up<T>(h: &mut [T], mut j: usize, key: impl Fn(&T) -> f64) {
    while j > 0 {
        let i = (j - 1) / 2;
        if key(&h[j]) >= key(&h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

/// Go's `container/heap` `down`.
fn down<T>(h: &mut [T], i0: usize, n: usize, key: impl Fn(&T) -> f64) {
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && key(&h[j2]) < key(&h[j1]) {
            j = j2;
        }
        if key(&h[j]) >= key(&h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

/// Pick `n` (0-based, `n < total`) of the exact EDF order: the (n+1)-th smallest deadline
/// k/w_i (k = 1..=w_i), ties to the lower server index.
fn exact_pick(weights: &[(u32, u64)], total: u64, n: u64) -> usize {
    let m = u128::from(n) + 1;
    let total = u128::from(total);
    // Picks of each server with a deadline at or before m/total.
    let mut counts: Vec<u128> = weights
        .iter()
        .map(|(_, w)| m * u128::from(*w) / total)
        .collect();
    let counted: u128 = counts.iter().sum();
    // Fewer than the number of servers picks are still missing (each floor loses < 1).
    let missing = m - counted;
    // a/wa < b/wb, compared exactly.
    let less = |a: u128, wa: u64, b: u128, wb: u64| a * u128::from(wb) < b * u128::from(wa);
    if missing == 0 {
        // The latest deadline at or before m/total; among equal deadlines the last in order
        // is the highest index.
        let mut best: Option<usize> = None;
        for (k, (_, w)) in weights.iter().enumerate() {
            if counts[k] == 0 {
                continue;
            }
            best = match best {
                Some(b) if less(counts[k], *w, counts[b], weights[b].1) => Some(b),
                _ => Some(k),
            };
        }
        return best.map_or(0, |b| weights[b].0 as usize);
    }
    let mut last = 0;
    for _ in 0..missing {
        // The next deadline after those counted, ties to the lower index.
        let mut best = 0;
        for k in 1..weights.len() {
            if less(
                counts[k] + 1,
                weights[k].1,
                counts[best] + 1,
                weights[best].1,
            ) {
                best = k;
            }
        }
        counts[best] += 1;
        last = best;
    }
    weights[last].0 as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycle(weights: &[u32]) -> Vec<usize> {
        let s = Schedule::new(weights);
        (0..s.len()).map(|n| s.pick(n).unwrap()).collect()
    }

    #[test]
    fn traefiks_order() {
        // Observed with Traefik 3.7.15 (traefik-compat.md V32): 3:1 over 8 requests.
        let s = Schedule::new(&[3, 1]);
        let picks: Vec<usize> = (0..8).map(|n| s.pick(n).unwrap()).collect();
        assert_eq!(picks, vec![0, 0, 1, 0, 0, 0, 0, 1]);
        assert_eq!(cycle(&[1, 1]), [0, 1]);
        assert_eq!(cycle(&[0, 2]), [1]);
        assert_eq!(cycle(&[5, 0, 5]), [0, 2]);
        assert!(Schedule::new(&[]).is_empty() && Schedule::new(&[0, 0]).is_empty());
    }

    #[test]
    fn every_ratio_is_honoured() {
        for weights in [
            vec![3, 1],
            vec![7, 5, 2],
            vec![5000, 1],
            vec![70000, 1],
            vec![1_000_000, 3, 2],
        ] {
            let s = Schedule::new(&weights);
            let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
            assert_eq!(s.len() % total, 0);
            let rounds = s.len() / total;
            let mut counts = vec![0u64; weights.len()];
            for n in 0..s.len() {
                counts[s.pick(n).unwrap()] += 1;
            }
            let expected: Vec<u64> = weights.iter().map(|w| u64::from(*w) * rounds).collect();
            assert_eq!(counts, expected, "{weights:?}");
        }
    }

    /// The exact order against a plain simulation with rational deadlines.
    #[test]
    fn exact_picks_follow_earliest_deadline_first() {
        for weights in [
            vec![3u64, 1],
            vec![2, 3, 5],
            vec![7, 7, 1, 4],
            vec![1, 1, 1],
        ] {
            let active: Vec<(u32, u64)> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| (i as u32, *w))
                .collect();
            let total: u64 = weights.iter().sum();
            let mut picks = vec![0u64; weights.len()];
            for n in 0..total {
                // Next: min over (picks_i + 1) / w_i, ties to the lower index.
                let mut best = 0;
                for k in 1..weights.len() {
                    if (picks[k] + 1) * weights[best] < (picks[best] + 1) * weights[k] {
                        best = k;
                    }
                }
                picks[best] += 1;
                assert_eq!(exact_pick(&active, total, n), best, "{weights:?} pick {n}");
            }
        }
    }

    #[test]
    fn interleaving_is_smooth_at_extreme_ratios() {
        let s = Schedule::new(&[100_000, 1]);
        let second: Vec<u64> = (0..s.len()).filter(|n| s.pick(*n) == Some(1)).collect();
        assert_eq!(
            second,
            vec![100_000],
            "the light server comes once per cycle"
        );
        let s = Schedule::new(&[100_000, 100_000]);
        assert_eq!(
            (0..4).map(|n| s.pick(n).unwrap()).collect::<Vec<_>>(),
            vec![0, 1, 0, 1]
        );
    }
}
