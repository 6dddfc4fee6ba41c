//! The single-writer / many-readers publication of generations.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::generation::Generation;

/// Held only by the control plane.
#[derive(Debug)]
pub struct GenerationWriter(Arc<ArcSwap<Generation>>);

/// Cloned into every listener; one `load` per request.
#[derive(Debug, Clone)]
pub struct GenerationReader(Arc<ArcSwap<Generation>>);

impl GenerationWriter {
    pub fn new(initial: Arc<Generation>) -> (GenerationWriter, GenerationReader) {
        let shared = Arc::new(ArcSwap::new(initial));
        (GenerationWriter(shared.clone()), GenerationReader(shared))
    }

    pub fn publish(&self, generation: Arc<Generation>) {
        self.0.store(generation);
    }

    pub fn current(&self) -> Arc<Generation> {
        self.0.load_full()
    }
}

impl GenerationReader {
    /// The current generation; keep the `Arc` for the whole request.
    pub fn load(&self) -> Arc<Generation> {
        self.0.load_full()
    }
}
