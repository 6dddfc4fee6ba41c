//! [`TlsRegistry`]: the control plane's TLS builder. It loads certificates (keeping each
//! one's last good version when a file turns bad), owns the generated default certificate
//! and the resumption state, and builds a [`TlsSnapshot`] per configuration.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use wharf_model::{
    CertificateSpec, ConfigIssue, Origin, PemSource, TlsConfig, TlsOptionsSpec, DEFAULT_TLS_OPTIONS,
};

use crate::certificate::{load, CertError, LoadedCertificate};
use crate::generated::traefik_default_certificate;
use crate::options::{build_options, OptionSet, SessionState};
use crate::snapshot::TlsSnapshot;
use crate::store::CertStore;

/// What identifies a certificate's sources as unchanged: each file's length and modification
/// time (an inline PEM is its own identity, part of the spec).
type Fingerprint = Vec<Option<(u64, SystemTime)>>;

/// `None` when a file cannot be looked at: it must be read (and reported) again.
fn fingerprint(spec: &CertificateSpec) -> Option<Fingerprint> {
    [&spec.cert, &spec.key]
        .into_iter()
        .map(|source| match source {
            PemSource::File(path) => {
                let meta = std::fs::metadata(path).ok()?;
                Some(Some((meta.len(), meta.modified().ok()?)))
            }
            PemSource::Inline(_) => Some(None),
        })
        .collect()
}

pub struct TlsRegistry {
    session: SessionState,
    generated: LoadedCertificate,
    loaded: HashMap<CertificateSpec, (Fingerprint, LoadedCertificate)>,
}

impl TlsRegistry {
    /// Generates this run's default certificate.
    pub fn new() -> Result<Self, CertError> {
        Ok(TlsRegistry {
            session: SessionState::new()?,
            generated: traefik_default_certificate(SystemTime::now())?,
            loaded: HashMap::new(),
        })
    }

    /// Loads `spec`, or keeps its last good version (with an error) when it cannot be.
    fn certificate(
        &mut self,
        spec: &CertificateSpec,
        issues: &mut Vec<ConfigIssue>,
    ) -> Option<LoadedCertificate> {
        let print = fingerprint(spec);
        if let (Some((old, cert)), Some(print)) = (self.loaded.get(spec), &print) {
            if old == print {
                return Some(cert.clone());
            }
        }
        match load(spec, SystemTime::now()) {
            Ok(cert) => {
                // Read fine although a file could not be looked at just before: it changed
                // meanwhile; the next build looks again.
                self.loaded
                    .insert(spec.clone(), (print.unwrap_or_default(), cert.clone()));
                Some(cert)
            }
            Err(e) => {
                let previous = self.loaded.get(spec).map(|(_, c)| c.clone());
                let tail = if previous.is_some() {
                    "; the previous version stays in service"
                } else {
                    "; it is not served"
                };
                issues.push(
                    ConfigIssue::error(spec.origin.clone(), format!("TLS certificate: {e}{tail}"))
                        .with_hint(hint(&e)),
                );
                previous
            }
        }
    }

    /// The snapshot for one configuration, and what is wrong with its TLS parts.
    pub fn build(&mut self, config: &TlsConfig) -> (Arc<TlsSnapshot>, Vec<ConfigIssue>) {
        let mut issues = Vec::new();
        let mut certificates = Vec::new();
        for spec in &config.certificates {
            if let Some(cert) = self.certificate(spec, &mut issues) {
                certificates.push(cert);
            }
        }
        let configured_default = config
            .default_certificate
            .as_ref()
            .and_then(|spec| self.certificate(spec, &mut issues))
            .or_else(|| {
                // `defaultGeneratedCert`: its resolver's certificate for the domain, once
                // obtained (the generated certificate until then).
                let main = &config.default_generated.as_ref()?.domain.main;
                certificates
                    .iter()
                    .find(|c| c.info.names.iter().any(|n| n == main))
                    .cloned()
            });
        // Forget certificates no longer configured (their files may be gone for good).
        let mut keep: Vec<&CertificateSpec> = config.certificates.iter().collect();
        keep.extend(config.default_certificate.as_ref());
        self.loaded.retain(|spec, _| keep.contains(&spec));

        let store = Arc::new(CertStore::new(
            &certificates,
            configured_default.as_ref().unwrap_or(&self.generated),
            configured_default.is_some(),
        ));
        let mut options: HashMap<String, Option<Arc<OptionSet>>> = HashMap::new();
        let default_spec = config
            .options
            .get(DEFAULT_TLS_OPTIONS)
            .cloned()
            .unwrap_or_else(|| {
                TlsOptionsSpec::traefik_default(DEFAULT_TLS_OPTIONS, Origin::Default)
            });
        for spec in config
            .options
            .values()
            .chain(std::iter::once(&default_spec))
        {
            let built = match build_options(spec, &store, &self.session) {
                Ok(set) => Some(Arc::new(set)),
                Err(e) => {
                    issues.push(ConfigIssue::error(
                        spec.origin.clone(),
                        format!(
                            "TLS options `{}`: {e}; handshakes that need them are refused",
                            spec.name
                        ),
                    ));
                    None
                }
            };
            options.insert(spec.name.clone(), built);
        }
        let default = match options.get(DEFAULT_TLS_OPTIONS).cloned().flatten() {
            Some(set) => set,
            None => {
                // The configured default is broken: Traefik's own defaults keep TLS serving.
                let fallback =
                    TlsOptionsSpec::traefik_default(DEFAULT_TLS_OPTIONS, Origin::Default);
                match build_options(&fallback, &store, &self.session) {
                    Ok(set) => Arc::new(set),
                    Err(e) => {
                        tracing::error!(error = %e, "Traefik's default TLS options cannot be built");
                        return (self.empty_snapshot(), issues);
                    }
                }
            }
        };
        options.insert(DEFAULT_TLS_OPTIONS.to_string(), Some(default.clone()));
        (
            Arc::new(TlsSnapshot {
                store,
                options,
                default,
            }),
            issues,
        )
    }

    /// Only the generated certificate and default options (the first generation, or when
    /// nothing else can be built).
    pub fn empty_snapshot(&self) -> Arc<TlsSnapshot> {
        let store = Arc::new(CertStore::new(&[], &self.generated, false));
        let spec = TlsOptionsSpec::traefik_default(DEFAULT_TLS_OPTIONS, Origin::Default);
        let default = Arc::new(
            build_options(&spec, &store, &self.session)
                .expect("Traefik's default TLS options always build"),
        );
        Arc::new(TlsSnapshot {
            store,
            options: HashMap::from([(DEFAULT_TLS_OPTIONS.to_string(), Some(default.clone()))]),
            default,
        })
    }
}

fn hint(e: &CertError) -> String {
    match e {
        CertError::Read { .. } => "check the path and that wharf may read the file (a Docker secret is under /run/secrets/)".into(),
        CertError::KeyMismatch { .. } => "pair the certificate with the key it was issued for".into(),
        CertError::Expired { .. } => "renew the certificate".into(),
        CertError::NoKey { .. } | CertError::KeyType { .. } => "use an RSA, ECDSA (P-256/P-384) or Ed25519 key in PEM".into(),
        _ => "give a PEM certificate chain (leaf first) and its PEM key".into(),
    }
}
