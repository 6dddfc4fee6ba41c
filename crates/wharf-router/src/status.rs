//! [`ControlStatus`]: what the request path knows of the control plane's health, for the
//! `/health/ready` answer. Written by the control plane and the provider supervisors, read by
//! the proxy; atomics only, so the request path never waits on the writer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// An update that takes longer than this to apply means the control plane is stuck.
pub const STUCK_AFTER: Duration = Duration::from_secs(10);

/// The providers wharf knows, one bit each in [`ControlStatus`]'s masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSlot {
    File,
    Docker,
    Swarm,
    Redis,
}

impl ProviderSlot {
    fn bit(self) -> u64 {
        match self {
            ProviderSlot::File => 1,
            ProviderSlot::Docker => 2,
            ProviderSlot::Swarm => 4,
            ProviderSlot::Redis => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ProviderSlot::File => "file",
            ProviderSlot::Docker => "docker",
            ProviderSlot::Swarm => "swarm",
            ProviderSlot::Redis => "redis",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "file" => Some(ProviderSlot::File),
            "docker" => Some(ProviderSlot::Docker),
            "swarm" => Some(ProviderSlot::Swarm),
            "redis" => Some(ProviderSlot::Redis),
            _ => None,
        }
    }

    const ALL: [ProviderSlot; 4] = [
        ProviderSlot::File,
        ProviderSlot::Docker,
        ProviderSlot::Swarm,
        ProviderSlot::Redis,
    ];
}

#[derive(Debug)]
pub struct ControlStatus {
    epoch: Instant,
    /// Providers that are enabled but have not delivered an accepted configuration yet.
    waiting: AtomicU64,
    /// Providers whose task ended unexpectedly.
    lost: AtomicU64,
    /// Milliseconds since `epoch` + 1 when the update being applied started; 0 when idle.
    busy_since: AtomicU64,
    /// The control plane's loop has ended: no update will ever be applied again.
    dead: AtomicBool,
    /// Updates rejected because applying them panicked.
    internal_errors: AtomicU64,
}

impl ControlStatus {
    /// A status waiting for each of `enabled` providers.
    pub fn new(enabled: &[ProviderSlot]) -> Self {
        ControlStatus {
            epoch: Instant::now(),
            waiting: AtomicU64::new(enabled.iter().fold(0, |m, p| m | p.bit())),
            lost: AtomicU64::new(0),
            busy_since: AtomicU64::new(0),
            dead: AtomicBool::new(false),
            internal_errors: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn delivered(&self, provider: ProviderSlot) {
        self.waiting.fetch_and(!provider.bit(), Ordering::AcqRel);
    }

    pub fn provider_lost(&self, provider: ProviderSlot) {
        self.lost.fetch_or(provider.bit(), Ordering::AcqRel);
    }

    pub fn begin_update(&self) {
        self.busy_since
            .store(self.now_ms().saturating_add(1), Ordering::Release);
    }

    pub fn end_update(&self) {
        self.busy_since.store(0, Ordering::Release);
    }

    pub fn internal_error(&self) {
        self.internal_errors.fetch_add(1, Ordering::AcqRel);
    }

    pub fn internal_errors(&self) -> u64 {
        self.internal_errors.load(Ordering::Acquire)
    }

    pub fn set_dead(&self) {
        self.dead.store(true, Ordering::Release);
    }

    /// `Ok` when ready to serve its intended configuration, else why not.
    pub fn readiness(&self) -> Result<(), String> {
        if self.dead.load(Ordering::Acquire) {
            return Err(
                "the control plane has stopped: configuration changes are not applied".into(),
            );
        }
        let busy_since = self.busy_since.load(Ordering::Acquire);
        if busy_since != 0 {
            let busy = Duration::from_millis(self.now_ms().saturating_sub(busy_since - 1));
            if busy >= STUCK_AFTER {
                return Err(format!(
                    "the control plane has been applying one update for {} s",
                    busy.as_secs()
                ));
            }
        }
        let names = |mask: u64| {
            ProviderSlot::ALL
                .iter()
                .filter(|p| mask & p.bit() != 0)
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let lost = self.lost.load(Ordering::Acquire);
        if lost != 0 {
            return Err(format!("provider stopped: {}", names(lost)));
        }
        let waiting = self.waiting.load(Ordering::Acquire);
        if waiting != 0 {
            return Err(format!(
                "waiting for a first valid configuration from: {}",
                names(waiting)
            ));
        }
        Ok(())
    }
}

impl wharf_observe::ControlProbe for ControlStatus {
    fn ready(&self) -> bool {
        self.readiness().is_ok()
    }
    fn internal_errors(&self) -> u64 {
        ControlStatus::internal_errors(self)
    }
    fn rate_limit_fallbacks(&self) -> Vec<(String, u64)> {
        wharf_middleware::redis_rate_limit_fallbacks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_every_provider_delivered() {
        let s = ControlStatus::new(&[ProviderSlot::File, ProviderSlot::Docker]);
        assert!(s.readiness().unwrap_err().contains("file, docker"));
        s.delivered(ProviderSlot::File);
        assert!(s.readiness().unwrap_err().contains("docker"));
        s.delivered(ProviderSlot::Docker);
        assert_eq!(s.readiness(), Ok(()));
        s.begin_update();
        assert_eq!(s.readiness(), Ok(()), "a short update is not a stall");
        s.end_update();
        s.provider_lost(ProviderSlot::Docker);
        assert!(s.readiness().unwrap_err().contains("stopped: docker"));
        s.set_dead();
        assert!(s
            .readiness()
            .unwrap_err()
            .contains("control plane has stopped"));
    }

    #[test]
    fn a_long_update_is_a_stall() {
        let s = ControlStatus {
            epoch: Instant::now()
                .checked_sub(STUCK_AFTER * 2)
                .expect("the clock has run for a while"),
            ..ControlStatus::new(&[])
        };
        s.busy_since.store(1, Ordering::Release);
        assert!(s.readiness().unwrap_err().contains("applying one update"));
    }
}
