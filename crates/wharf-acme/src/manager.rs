//! [`AcmeManager`]: per resolver, the certificates routers need, obtained on first need and
//! renewed before they expire, with retries and backoff per set of names, so one failing
//! name never holds up the others (nor any request: certificates are served from the store,
//! the generated default until one arrives). The control plane says what is wanted
//! ([`Wanted`]) and is told when certificates change.
//!
//! A resolver whose storage is shared through Redis orders only while this instance holds
//! the lease ([`crate::follow`] keeps it); every instance serves what is stored there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use instant_acme::Account;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use wharf_model::{AcmeConfig, CertResolverConfig, CertificateSpec, Origin, PemSource};
use wharf_tls::AcmeChallenges;

use crate::follow::Follower;
use crate::http::Observed;
use crate::order::{account, obtain, AcmeError};
use crate::shared::{SharedStorage, TICK};
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

/// Where a resolver's document lives.
#[derive(Clone)]
enum Storage {
    File(PathBuf),
    /// Shared through Redis; the flag says whether this instance holds the lease.
    Shared(Arc<SharedStorage>, Arc<AtomicBool>),
}

impl Storage {
    /// Names it in logs and certificate origins; storages with one name are one.
    fn describe(&self) -> String {
        match self {
            Storage::File(path) => path.display().to_string(),
            Storage::Shared(shared, _) => format!("{shared:?}"),
        }
    }

    async fn load(&self) -> Result<StorageFile, AcmeError> {
        match self {
            Storage::File(path) => StorageFile::load(path).map_err(|e| AcmeError(e.to_string())),
            Storage::Shared(shared, _) => shared.load().await,
        }
    }

    async fn save(&self, file: &StorageFile) -> Result<(), AcmeError> {
        match self {
            Storage::File(path) => file.save(path).map_err(|e| AcmeError(e.to_string())),
            Storage::Shared(shared, _) => shared.save(file).await,
        }
    }

    /// Whether this instance may order: always with a file, with the lease when shared.
    fn orders(&self) -> bool {
        match self {
            Storage::File(_) => true,
            Storage::Shared(_, leading) => leading.load(Ordering::Relaxed),
        }
    }

    fn shared(&self) -> Option<&SharedStorage> {
        match self {
            Storage::File(_) => None,
            Storage::Shared(shared, _) => Some(shared),
        }
    }
}

struct ResolverState {
    config: AcmeConfig,
    storage: Storage,
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
        // Resolvers on one Redis key share one storage (and one lease).
        let mut shared: BTreeMap<(String, String), Storage> = BTreeMap::new();
        let mut states = BTreeMap::new();
        for (name, r) in resolvers {
            let storage = match &r.acme.redis_storage {
                None => Storage::File(r.acme.storage.clone()),
                Some(redis) => {
                    let id = (redis.connection.endpoint.clone(), redis.key.clone());
                    if let Some(s) = shared.get(&id) {
                        s.clone()
                    } else {
                        match SharedStorage::new(redis) {
                            Ok(s) => {
                                let s = Storage::Shared(Arc::new(s), Arc::default());
                                shared.insert(id, s.clone());
                                s
                            }
                            Err(e) => {
                                tracing::error!(resolver = %name, error = %e, "ACME: the shared storage cannot be used; the resolver is off");
                                continue;
                            }
                        }
                    }
                }
            };
            states.insert(
                name.clone(),
                ResolverState {
                    config: r.acme.clone(),
                    storage,
                    account: None,
                    retry: HashMap::new(),
                },
            );
        }
        let manager = AcmeManager {
            resolvers: states,
            link: AcmeLink {
                certificates: Arc::new(ArcSwap::from_pointee(Vec::new())),
                wanted: Arc::new(wanted),
            },
            challenges,
            changed,
            listeners,
        };
        for (name, r) in &manager.resolvers {
            if let Storage::File(path) = &r.storage {
                if let Some(mode) = too_open(path) {
                    tracing::warn!(resolver = %name, storage = %path.display(), "the ACME storage file has mode {mode:o}: others may read its private keys (Traefik refuses it); run chmod 600");
                }
            }
        }
        // Files are read at once, so their certificates are in the first generation; a
        // shared storage is read when the manager runs.
        if manager
            .resolvers
            .values()
            .all(|r| matches!(r.storage, Storage::File(_)))
        {
            let _done = futures_util::FutureExt::now_or_never(manager.publish());
        }
        manager
    }

    pub fn link(&self) -> AcmeLink {
        self.link.clone()
    }

    /// Every resolver's stored certificates, as inline specs for the TLS store.
    async fn publish(&self) {
        let mut specs = Vec::new();
        let mut loaded: BTreeMap<String, Option<StorageFile>> = BTreeMap::new();
        for (name, r) in &self.resolvers {
            let described = r.storage.describe();
            if !loaded.contains_key(&described) {
                let file = r.storage.load().await
                    .map_err(|e| tracing::error!(resolver = %name, error = %e, "ACME storage unreadable; its certificates are not served"))
                    .ok();
                loaded.insert(described.clone(), file);
            }
            let Some(data) = loaded
                .get(&described)
                .and_then(Option::as_ref)
                .and_then(|f| f.0.get(name))
            else {
                continue;
            };
            for cert in &data.certificates {
                if let Some((chain, key)) = cert.pem() {
                    specs.push(CertificateSpec {
                        cert: PemSource::Inline(chain),
                        key: PemSource::Inline(key),
                        origin: Origin::Provider(format!(
                            "ACME resolver {name} ({described}), {}",
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
        let (stored_tx, mut stored_rx) = mpsc::channel(4);
        let mut followed = BTreeSet::new();
        for r in self.resolvers.values() {
            if let Storage::Shared(shared, leading) = &r.storage {
                if followed.insert(r.storage.describe()) {
                    tokio::spawn(
                        Follower {
                            storage: shared.clone(),
                            leading: leading.clone(),
                            challenges: self.challenges.clone(),
                            stored: stored_tx.clone(),
                        }
                        .run(),
                    );
                }
            }
        }
        drop(stored_tx);
        if !followed.is_empty() {
            // What a shared storage holds is served before any order, which may take minutes.
            self.publish().await;
            let _ignored = self.changed.try_send(());
        }
        self.wait_listening().await;
        let mut wanted_rx = self.link.wanted.subscribe();
        loop {
            let wanted = wanted_rx.borrow_and_update().clone();
            let next = self.pass(&wanted).await;
            tokio::select! {
                changed = wanted_rx.changed() => if changed.is_err() { return },
                Some(()) = stored_rx.recv() => {
                    // Another instance stored certificates: serve them.
                    self.publish().await;
                    let _ignored = self.changed.try_send(());
                }
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
            if let Some(r) = self.resolvers.get(&name) {
                if !r.storage.orders() {
                    // Another instance orders; look again when the lease may have moved.
                    next = next.min(Instant::now() + TICK);
                    continue;
                }
            }
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
        let stored = match r.storage.load().await {
            Ok(stored) => stored,
            // What is stored there is not known: ordering again could replace it for nothing.
            Err(_) if r.storage.shared().is_some() => return Some(Instant::now() + TICK),
            Err(_) => StorageFile::default(),
        };
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
                self.publish().await;
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
        let mut file = r.storage.load().await?;
        if r.account.is_none() {
            let stored = file.0.get(name).and_then(|d| d.wharf_account.clone());
            let (acct, created, observed) = account(&r.config, stored.as_ref()).await?;
            if let Some(created) = created {
                file.0.entry(name.to_string()).or_default().wharf_account = Some(created);
                r.storage.save(&file).await?;
            }
            r.account = Some((acct, observed));
        }
        let (acct, observed) = r
            .account
            .as_ref()
            .ok_or_else(|| AcmeError("no account".into()))?;
        let shared = r.storage.shared();
        let obtained = obtain(acct, observed, domains, &r.config, &self.challenges, shared).await;
        if let Some(shared) = shared {
            if let Err(e) = shared.clear_challenges().await {
                tracing::warn!(error = %e, "ACME: the shared challenges were not cleared (they expire)");
            }
        }
        let (chain, key) = obtained?;
        // Re-read: another resolver may share the storage.
        let mut file = r.storage.load().await?;
        let data = file.0.entry(name.to_string()).or_default();
        let wanted: BTreeSet<&String> = domains.iter().collect();
        data.certificates.retain(|c| {
            let names = c.domain.names();
            names.iter().collect::<BTreeSet<_>>() != wanted
        });
        data.certificates
            .push(StoredCertificate::new(domains, &chain, &key));
        r.storage.save(&file).await
    }
}
