//! The loop every provider that follows a server (Docker, Swarm, Redis) runs: one session
//! until its connection fails, then another after a doubling backoff. Nothing is sent while
//! the server is unreachable, so the last configuration stays live.

use std::fmt::Display;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::{LoadError, ProviderUpdate};

pub(crate) type UpdateSender = mpsc::Sender<Result<ProviderUpdate, LoadError>>;

/// Set by a session once it got as far as a full read (atomic, so sessions stay `Send`).
#[derive(Default)]
pub(crate) struct Synced(AtomicBool);

impl Synced {
    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Runs `session` until it returns Ok (the receiver is gone) or `tx` closes. A session sets
/// `synced` once it got as far as a full read: its later loss starts the backoff over.
pub(crate) async fn reconnecting<F, Fut, E>(
    provider: &str,
    state: &wharf_observe::ProviderState,
    tx: &UpdateSender,
    synced: &Synced,
    mut session: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        synced.0.store(false, Ordering::Relaxed);
        match session().await {
            Ok(()) => return,
            Err(e) => {
                state.lost();
                if synced.0.load(Ordering::Relaxed) {
                    backoff = FIRST_BACKOFF;
                }
                tracing::error!(error = %e, retry_in = ?backoff, "{provider} provider: connection lost; keeping the last configuration");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                if tx.is_closed() {
                    return;
                }
            }
        }
    }
}
