//! Graceful shutdown as Traefik: on SIGTERM, requests are still accepted for
//! `requestAcceptGraceTimeout` while `/ping` (and wharf's `/health`) answer 503, so a load
//! balancer in front stops sending; then pingora closes the listeners and sleeps a fixed grace
//! period, and we end the process as soon as in-flight requests are done (`graceTimeOut` at
//! most).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};

/// Process-wide lifecycle state shared by every entrypoint.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub(crate) in_flight: Arc<AtomicUsize>,
    pub(crate) terminating: Arc<AtomicBool>,
}

impl Lifecycle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub fn is_terminating(&self) -> bool {
        self.terminating.load(Ordering::Acquire)
    }

    /// The signal watcher to hand to pingora's `Server::run`.
    pub fn signal_watch(
        &self,
        accept_grace: Duration,
        grace: Duration,
    ) -> Box<dyn ShutdownSignalWatch> {
        Box::new(DrainingSignalWatch {
            lifecycle: self.clone(),
            accept_grace,
            grace,
        })
    }
}

struct DrainingSignalWatch {
    lifecycle: Lifecycle,
    accept_grace: Duration,
    grace: Duration,
}

#[async_trait]
impl ShutdownSignalWatch for DrainingSignalWatch {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
        ) else {
            tracing::error!("cannot install signal handlers; shutdown will be abrupt");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => return ShutdownSignal::FastShutdown,
            _ = term.recv() => {}
            _ = quit.recv() => {}
        }
        self.lifecycle.terminating.store(true, Ordering::Release);
        if !self.accept_grace.is_zero() {
            tracing::info!(accept_grace = ?self.accept_grace, "shutting down: still accepting requests, /ping answers 503");
            tokio::select! {
                () = tokio::time::sleep(self.accept_grace) => {}
                _ = int.recv() => return ShutdownSignal::FastShutdown,
            }
        }
        tracing::info!(grace = ?self.grace, "shutting down: draining in-flight requests");
        let lifecycle = self.lifecycle.clone();
        let grace = self.grace;
        // Pingora's main thread now sleeps for the whole grace period; end earlier once idle.
        std::thread::spawn(move || {
            let start = Instant::now();
            // Let the listeners close and the last accepted requests register.
            std::thread::sleep(Duration::from_millis(100));
            while lifecycle.in_flight() > 0 && start.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(20));
            }
            tracing::info!(
                left = lifecycle.in_flight(),
                elapsed = ?start.elapsed(),
                "shutdown complete"
            );
            std::process::exit(0);
        });
        ShutdownSignal::GracefulTerminate
    }
}
