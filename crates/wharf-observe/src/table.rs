//! A grow-only, lock-free map from a small non-zero key to a cell of atomics.
//!
//! The request path finds (or claims) its cell with a few atomic loads and at most one
//! compare-and-swap; memory is allocated only when a block of slots is first needed, so a
//! series that exists costs no allocation to update. Blocks are never freed while the table
//! lives: a table belongs to one router, service or entrypoint, and its keys (status code,
//! method, protocol) are few.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Slots per block: a router usually sees a handful of (code, method, protocol) series.
const SLOTS: usize = 8;

/// What a table holds per key.
pub trait Cell: Send + Sync {
    /// A zeroed cell; `width` is the table's parameter (a histogram's bucket count).
    fn new(width: usize) -> Self;
}

struct Slot<C> {
    /// 0: free.
    key: AtomicU32,
    cell: C,
}

struct Block<C> {
    slots: [Slot<C>; SLOTS],
    next: OnceLock<Box<Block<C>>>,
}

impl<C: Cell> Block<C> {
    fn new(width: usize) -> Box<Self> {
        Box::new(Block {
            slots: std::array::from_fn(|_| Slot {
                key: AtomicU32::new(0),
                cell: C::new(width),
            }),
            next: OnceLock::new(),
        })
    }
}

pub struct Table<C> {
    first: OnceLock<Box<Block<C>>>,
    width: usize,
}

impl<C: Cell> Table<C> {
    pub fn new(width: usize) -> Self {
        Table {
            first: OnceLock::new(),
            width,
        }
    }

    /// The cell of `key` (not 0), claimed on first use.
    pub fn cell(&self, key: u32) -> &C {
        debug_assert_ne!(key, 0);
        let mut block = self.first.get_or_init(|| Block::new(self.width));
        loop {
            for slot in &block.slots {
                let current = slot.key.load(Ordering::Acquire);
                if current == key {
                    return &slot.cell;
                }
                if current == 0 {
                    match slot
                        .key
                        .compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire)
                    {
                        Ok(_) => return &slot.cell,
                        // Another request claimed it first, perhaps for this very key.
                        Err(other) if other == key => return &slot.cell,
                        Err(_) => {}
                    }
                }
            }
            block = block.next.get_or_init(|| Block::new(self.width));
        }
    }

    /// Every claimed key and its cell (for a scrape).
    pub fn for_each(&self, mut f: impl FnMut(u32, &C)) {
        let mut block = self.first.get();
        while let Some(b) = block {
            for slot in &b.slots {
                let key = slot.key.load(Ordering::Acquire);
                if key != 0 {
                    f(key, &slot.cell);
                }
            }
            block = b.next.get();
        }
    }
}

impl<C> std::fmt::Debug for Table<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("width", &self.width).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    struct Count(AtomicU64);
    impl Cell for Count {
        fn new(_: usize) -> Self {
            Count(AtomicU64::new(0))
        }
    }

    #[test]
    fn keys_past_one_block_get_their_own_cells() {
        let table: Table<Count> = Table::new(0);
        for key in 1..=50u32 {
            for _ in 0..key {
                table.cell(key).0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut seen = Vec::new();
        table.for_each(|k, c| seen.push((k, c.0.load(Ordering::Relaxed))));
        seen.sort();
        assert_eq!(
            seen,
            (1..=50).map(|k| (k, u64::from(k))).collect::<Vec<_>>()
        );
    }

    #[test]
    fn concurrent_claims_never_split_a_key() {
        let table: Arc<Table<Count>> = Arc::new(Table::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = table.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u32 {
                        t.cell(i % 20 + 1).0.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut keys = Vec::new();
        let mut total = 0;
        table.for_each(|k, c| {
            keys.push(k);
            total += c.0.load(Ordering::Relaxed);
        });
        keys.sort();
        assert_eq!(keys, (1..=20).collect::<Vec<_>>());
        assert_eq!(total, 40_000);
    }
}
