//! [`AcmeManager`]: per resolver, the certificates routers need, obtained on first need and
//! renewed before they expire, with retries and backoff per set of names, so one failing
//! name never holds up the others (nor any request: certificates are served from the store,
//! the generated default until one arrives). The control plane says what is wanted
//! ([`Wanted`]) and is told when certificates change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use instant_acme::Account;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use wharf_model::{AcmeConfig, CertResolverConfig, CertificateSpec, Origin, PemSource};
use wharf_tls::AcmeChallenges;

use crate::http::Observed;
use crate::order::{account, obtain, AcmeError};
use crate::storage::{too_open, StorageFile, StoredCertificate};

/// Per resolver, the sets of names routers need a certificate for (main name first).
pub type Wanted = BTreeMap<String, BTreeSet<Vec<String>>>;

/// The first retry after a failure; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// One order's whole budget.
const ORDER_TIMEOUT: Duration = Duration::from_secs(180);

/// What the control plane holds of the ACME side.
#[derive(Clone)]
pub struct AcmeLink {
    /// The certificates the resolvers hold, as inline certificate specs for the TLS store.
    pub certificates: Arc<ArcSwap<Vec<CertificateSpec>>>,
    /// What routers need (the control plane sends it after each rebuild).
    pub wanted: Arc<watch::Sender<Wanted>>,
}

pub struct AcmeManager {
    resolvers: BTreeMap<String, ResolverState>,
    link: AcmeLink,
    challenges: Arc<AcmeChallenges>,
    /// Told after the certificates changed.
    changed: mpsc::Sender<()>,
    /// The entrypoints a CA's validation reaches: the first orders wait until they listen.
    listeners: Vec<std::net::SocketAddr>,
}

struct ResolverState {
    config: AcmeConfig,
    storage: PathBuf,
    account: Option<(Account, Observed)>,
    /// When a set of names may be tried again, and the current backoff.
    retry: HashMap<Vec<String>, (Instant, Duration)>,
}

/// A stored certificate's names and validity.
struct Held {
    names: BTreeSet<String>,
    not_before: i64,
    not_after: i64,
}

fn held(cert: &StoredCertificate) -> Option<Held> {
    let (chain, _) = cert.pem()?;
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(chain.as_bytes())
        .ok()
        .map(|c: rustls_pki_types::CertificateDer<'static>| c.as_ref().to_vec())?;
    let (_, x509) = x509_parser::parse_x509_certificate(&der).ok()?;
    let mut names: BTreeSet<String> = cert.domain.names().into_iter().collect();
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        for n in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = n {
                names.insert(d.to_ascii_lowercase());
            }
        }
    }
    Some(Held {
        names,
        not_before: x509.validity().not_before.timestamp(),
        not_after: x509.validity().not_after.timestamp(),
    })
}

/// Traefik's renewal period for `certificatesDuration`, but never more than a third of the
/// certificate's actual lifetime (a CA may issue shorter ones).
fn renew_before(config: &AcmeConfig, lifetime: i64) -> i64 {
    let hours = config.certificates_duration.as_secs() / 3600;
    let traefik = match hours {
        h if h >= 365 * 24 => 4 * 30 * 24 * 3600,
        h if h >= 3 * 30 * 24 => 30 * 24 * 3600,
        h if h >= 7 * 24 => 24 * 3600,
        h if h >= 24 => 6 * 3600,
        _ => 20 * 60,
    };
    traefik.min(lifetime / 3)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl AcmeManager {
    /// Loads each resolver's storage (its certificates are served from the first
    /// generation on). Problems are logged; a resolver always starts.
    pub fn new(
        resolvers: &BTreeMap<String, CertResolverConfig>,
        challenges: Arc<AcmeChallenges>,
        changed: mpsc::Sender<()>,
        listeners: Vec<std::net::SocketAddr>,
    ) -> Self {
        let (wanted, _) = watch::channel(Wanted::new());
        let manager = AcmeManager {
            resolvers: resolvers
                .iter()
                .map(|(name, r)| {
                    (
                        name.clone(),
                        ResolverState {
                            config: r.acme.clone(),
                            storage: r.acme.storage.clone(),
                            account: None,
                            retry: HashMap::new(),
                        },
                    )
                })
                .collect(),
            link: AcmeLink {
                certificates: Arc::new(ArcSwap::from_pointee(Vec::new())),
                wanted: Arc::new(wanted),
            },
            challenges,
            changed,
            listeners,
        };
        for (name, r) in &manager.resolvers {
            if let Some(mode) = too_open(&r.storage) {
                tracing::warn!(resolver = %name, storage = %r.storage.display(), "the ACME storage file has mode {mode:o}: others may read its private keys (Traefik refuses it); run chmod 600");
            }
        }
        manager.publish();
        manager
    }

    pub fn link(&self) -> AcmeLink {
        self.link.clone()
    }

    /// Every resolver's stored certificates, as inline specs for the TLS store.
    fn publish(&self) {
        let mut specs = Vec::new();
        let mut files: BTreeMap<&PathBuf, Option<StorageFile>> = BTreeMap::new();
        for (name, r) in &self.resolvers {
            let file = files.entry(&r.storage).or_insert_with(|| {
                StorageFile::load(&r.storage)
                    .map_err(|e| tracing::error!(resolver = %name, error = %e, "ACME storage unreadable; its certificates are not served"))
                    .ok()
            });
            let Some(data) = file.as_ref().and_then(|f| f.0.get(name)) else {
                continue;
            };
            for cert in &data.certificates {
                if let Some((chain, key)) = cert.pem() {
                    specs.push(CertificateSpec {
                        cert: PemSource::Inline(chain),
                        key: PemSource::Inline(key),
                        origin: Origin::Provider(format!(
                            "ACME resolver {name} ({}), {}",
                            r.storage.display(),
                            cert.domain.main
                        )),
                    });
                }
            }
        }
        self.link.certificates.store(Arc::new(specs));
    }

    /// Runs until the control plane goes away.
    pub async fn run(mut self) {
        self.wait_listening().await;
        let mut wanted_rx = self.link.wanted.subscribe();
        loop {
            let wanted = wanted_rx.borrow_and_update().clone();
            let next = self.pass(&wanted).await;
            tokio::select! {
                changed = wanted_rx.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(next) => {}
            }
        }
    }

    /// Waits (up to 30 s) until the entrypoints accept connections: an order placed before
    /// would fail its validation and wait out a backoff.
    async fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for addr in &self.listeners {
            let mut target = *addr;
            if target.ip().is_unspecified() {
                target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            while Instant::now() < deadline && tokio::net::TcpStream::connect(target).await.is_err()
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Obtains or renews what is due; returns when to look again.
    async fn pass(&mut self, wanted: &Wanted) -> Instant {
        let mut next = Instant::now() + Duration::from_secs(24 * 3600);
        let names: Vec<String> = self.resolvers.keys().cloned().collect();
        for name in names {
            let Some(sets) = wanted.get(&name) else {
                continue;
            };
            for domains in sets {
                if let Some(at) = self.ensure(&name, domains).await {
                    next = next.min(at);
                }
            }
        }
        next
    }

    /// Makes sure `domains` has a current certificate; returns when to look again.
    async fn ensure(&mut self, name: &str, domains: &[String]) -> Option<Instant> {
        let now = unix_now();
        let r = self.resolvers.get_mut(name)?;
        let stored = StorageFile::load(&r.storage).unwrap_or_default();
        let current = stored.0.get(name).and_then(|data| {
            data.certificates
                .iter()
                .filter_map(held)
                .filter(|h| domains.iter().all(|d| h.names.contains(d)))
                .max_by_key(|h| h.not_after)
        });
        if let Some(h) = &current {
            let renew_at = h.not_after - renew_before(&r.config, h.not_after - h.not_before);
            if now < renew_at {
                let wait = u64::try_from(renew_at - now).unwrap_or(0).min(24 * 3600);
                return Some(Instant::now() + Duration::from_secs(wait.max(1)));
            }
        }
        if let Some((at, _)) = r.retry.get(domains) {
            if Instant::now() < *at {
                return Some(*at);
            }
        }
        let (what, verb) = if current.is_some() {
            ("renewing", "renew")
        } else {
            ("obtaining", "obtain")
        };
        tracing::info!(resolver = %name, domains = ?domains, "ACME: {what} a certificate");
        let result = tokio::time::timeout(ORDER_TIMEOUT, self.order(name, domains))
            .await
            .unwrap_or_else(|_| Err(AcmeError("no answer within 3 minutes".into())));
        let r = self.resolvers.get_mut(name)?;
        match result {
            Ok(()) => {
                r.retry.remove(domains);
                self.publish();
                let _ignored = self.changed.try_send(());
                tracing::info!(resolver = %name, domains = ?domains, "ACME: certificate stored and served");
                Some(Instant::now() + Duration::from_secs(1))
            }
            Err(e) => {
                let backoff = r
                    .retry
                    .get(domains)
                    .map_or(FIRST_BACKOFF, |(_, b)| (*b * 2).min(MAX_BACKOFF));
                let at = Instant::now() + backoff;
                r.retry.insert(domains.to_vec(), (at, backoff));
                tracing::error!(resolver = %name, domains = ?domains, error = %e, retry_in = ?backoff, "ACME: cannot {verb} the certificate; the current one (or the default) is served meanwhile");
                Some(at)
            }
        }
    }

    async fn order(&mut self, name: &str, domains: &[String]) -> Result<(), AcmeError> {
        let r = self
            .resolvers
            .get_mut(name)
            .ok_or_else(|| AcmeError("no such resolver".into()))?;
        let mut file = StorageFile::load(&r.storage).map_err(|e| AcmeError(e.to_string()))?;
        if r.account.is_none() {
            let stored = file.0.get(name).and_then(|d| d.wharf_account.clone());
            let (acct, created, observed) = account(&r.config, stored.as_ref()).await?;
            if let Some(created) = created {
                file.0.entry(name.to_string()).or_default().wharf_account = Some(created);
                file.save(&r.storage)
                    .map_err(|e| AcmeError(e.to_string()))?;
            }
            r.account = Some((acct, observed));
        }
        let (acct, observed) = r
            .account
            .as_ref()
            .ok_or_else(|| AcmeError("no account".into()))?;
        let (chain, key) = obtain(acct, observed, domains, &r.config, &self.challenges).await?;
        // Re-read: another resolver may share the file.
        let mut file = StorageFile::load(&r.storage).map_err(|e| AcmeError(e.to_string()))?;
        let data = file.0.entry(name.to_string()).or_default();
        let wanted: BTreeSet<&String> = domains.iter().collect();
        data.certificates.retain(|c| {
            let names = c.domain.names();
            names.iter().collect::<BTreeSet<_>>() != wanted
        });
        data.certificates
            .push(StoredCertificate::new(domains, &chain, &key));
        file.save(&r.storage).map_err(|e| AcmeError(e.to_string()))
    }
}
