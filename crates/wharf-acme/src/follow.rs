//! Per shared storage, for as long as the manager runs: keeps the lease (or tries to take it)
//! every [`TICK`], and follows what the leader writes: the document (the manager is told to
//! serve it again when it changed) and, on the instances that do not lead, the challenges in
//! flight, which they answer too and acknowledge.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use base64::Engine;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use wharf_tls::AcmeChallenges;

use crate::order::tls_alpn_certificate;
use crate::shared::{Challenge, SharedStorage, TICK};

pub(crate) struct Follower {
    pub storage: Arc<SharedStorage>,
    /// Whether this instance holds the lease (read by the manager before ordering).
    pub leading: Arc<AtomicBool>,
    pub challenges: Arc<AcmeChallenges>,
    /// Told when the stored document changed.
    pub stored: mpsc::Sender<()>,
}

impl Follower {
    pub async fn run(self) {
        let mut document: Option<Vec<u8>> = None;
        let mut answering: BTreeSet<Challenge> = BTreeSet::new();
        let mut messages = None;
        let mut tick = tokio::time::interval(TICK);
        let mut unreachable = false;
        loop {
            let message = match messages.as_mut() {
                Some(stream) => tokio::select! {
                    _ = tick.tick() => None,
                    m = StreamExt::next(stream) => match m {
                        Some(m) => Some(m),
                        None => { messages = None; continue }
                    },
                },
                None => {
                    tick.tick().await;
                    None
                }
            };
            let result = match message {
                None => {
                    self.round(&mut document, &mut answering, &mut messages)
                        .await
                }
                Some(_) => self.follow(&mut document, &mut answering).await,
            };
            match result {
                Ok(()) if unreachable => {
                    unreachable = false;
                    tracing::info!(storage = ?self.storage, "ACME: the shared storage is reachable again");
                }
                Ok(()) => {}
                Err(e) if !unreachable => {
                    unreachable = true;
                    messages = None;
                    tracing::error!(storage = ?self.storage, error = %e, "ACME: the shared storage is unreachable; the certificates held are still served, and nothing is ordered");
                }
                Err(_) => messages = None,
            }
        }
    }

    /// The lease, then everything read again.
    async fn round(
        &self,
        document: &mut Option<Vec<u8>>,
        answering: &mut BTreeSet<Challenge>,
        messages: &mut Option<redis::aio::PubSubStream>,
    ) -> Result<(), crate::AcmeError> {
        if messages.is_none() {
            *messages = Some(self.storage.subscribe().await?);
        }
        let lead = self.storage.lead().await;
        let leading = *lead.as_ref().unwrap_or(&false);
        if self.leading.swap(leading, Ordering::Relaxed) != leading {
            if leading {
                tracing::info!(storage = ?self.storage, "ACME: this instance now orders and renews the shared certificates");
            } else {
                tracing::warn!(storage = ?self.storage, "ACME: another instance now orders and renews the shared certificates");
            }
        }
        lead?;
        self.follow(document, answering).await
    }

    async fn follow(
        &self,
        document: &mut Option<Vec<u8>>,
        answering: &mut BTreeSet<Challenge>,
    ) -> Result<(), crate::AcmeError> {
        let now = self.storage.load_raw().await?;
        if now != *document {
            *document = now;
            let _ignored = self.stored.try_send(());
        }
        if self.leading.load(Ordering::Relaxed) {
            // The leader answers its own orders' challenges itself.
            return Ok(());
        }
        let wanted: BTreeSet<Challenge> = self.storage.challenges().await?.into_iter().collect();
        for gone in answering.difference(&wanted) {
            match gone {
                Challenge::Http { token, .. } => self.challenges.remove_http(token),
                Challenge::TlsAlpn { domain, .. } => self.challenges.remove_tls_alpn(domain),
            }
        }
        for new in wanted.difference(answering) {
            match new {
                Challenge::Http {
                    token,
                    key_authorization,
                } => self.challenges.set_http(token, key_authorization),
                Challenge::TlsAlpn { domain, digest_b64 } => {
                    let digest = base64::engine::general_purpose::STANDARD
                        .decode(digest_b64)
                        .map_err(|e| crate::AcmeError(format!("a TLS-ALPN-01 digest: {e}")))?;
                    self.challenges
                        .set_tls_alpn(domain, tls_alpn_certificate(domain, &digest)?);
                }
            }
        }
        *answering = wanted;
        if !answering.is_empty() {
            self.storage.acknowledge().await?;
        }
        Ok(())
    }
}
