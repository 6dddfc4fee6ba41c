//! One certificate from an ACME CA, with instant-acme: the account (restored or created), an
//! order for a set of names, each authorization answered by HTTP-01 or TLS-ALPN-01 through
//! [`AcmeChallenges`], a CSR for a fresh key of the resolver's `keyType`, and the chain.

use std::sync::Arc;

use base64::Engine;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, ExternalAccountKey,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use wharf_model::{AcmeConfig, AcmeKeyType};
use wharf_tls::AcmeChallenges;

use crate::http::Observed;
use crate::storage::WharfAccount;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Why a certificate could not be obtained (the resolver retries later).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct AcmeError(pub String);

fn err(context: &str) -> impl Fn(instant_acme::Error) -> AcmeError + '_ {
    move |e| AcmeError(format!("{context}: {e}"))
}

/// The account to order with: the stored one when it belongs to this CA, else a new one
/// (returned, to be stored).
pub async fn account(
    config: &AcmeConfig,
    stored: Option<&WharfAccount>,
) -> Result<(Account, Option<WharfAccount>, Observed), AcmeError> {
    let (client, observed) = crate::http::client(&config.ca_certificates)?;
    let mut client = Some(client);
    let mut builder = || -> Result<instant_acme::AccountBuilder, AcmeError> {
        let client = client
            .take()
            .ok_or_else(|| AcmeError("the HTTP client is already in use".into()))?;
        Ok(Account::builder_with_http(Box::new(client)))
    };
    if let Some(stored) = stored.filter(|s| s.ca_server == config.ca_server) {
        if let Ok(credentials) =
            serde_json::from_value::<AccountCredentials>(stored.credentials.clone())
        {
            let account = builder()?
                .from_credentials(credentials)
                .await
                .map_err(err("restoring the ACME account"))?;
            return Ok((account, None, observed));
        }
    }
    let contact = format!("mailto:{}", config.email);
    let contacts: Vec<&str> = if config.email.is_empty() {
        Vec::new()
    } else {
        vec![contact.as_str()]
    };
    let eab = match &config.eab {
        Some((kid, hmac)) => {
            let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(hmac.trim_end_matches('='))
                .map_err(|e| AcmeError(format!("eab.hmacEncoded is not base64url: {e}")))?;
            Some(ExternalAccountKey::new(kid.clone(), &key))
        }
        None => None,
    };
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.ca_server.clone(),
            eab.as_ref(),
        )
        .await
        .map_err(err(&format!("creating an account at {}", config.ca_server)))?;
    let credentials = serde_json::to_value(&credentials)
        .map_err(|e| AcmeError(format!("storing the account: {e}")))?;
    Ok((
        account,
        Some(WharfAccount {
            email: config.email.clone(),
            ca_server: config.ca_server.clone(),
            credentials,
        }),
        observed,
    ))
}

/// The issuer CN of a chain's topmost certificate (the root it leads to).
fn top_issuer(chain_pem: &str) -> Option<String> {
    let top = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .filter_map(Result::ok)
        .last()?;
    let (_, cert) = x509_parser::parse_x509_certificate(top.as_ref()).ok()?;
    let cn = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_string);
    cn
}

/// `preferredChain`, as lego picks it: the first chain (the default, then each alternate)
/// whose topmost certificate is issued by that name; else the default.
async fn preferred_chain(
    account: &Account,
    observed: &Observed,
    default: String,
    preferred: &str,
) -> String {
    if top_issuer(&default).as_deref() == Some(preferred) {
        return default;
    }
    for url in observed.alternates() {
        // instant-acme fetches it (signed POST-as-GET) as if it were an order; the client
        // keeps the body, which is a chain, not an order.
        let _not_an_order = account.order(url.clone()).await;
        let Some(chain) = observed
            .body(&url)
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
        else {
            continue;
        };
        if top_issuer(&chain).as_deref() == Some(preferred) {
            return chain;
        }
    }
    tracing::warn!(
        preferred,
        "ACME: no chain leads to the preferred issuer; the default chain is used"
    );
    default
}

/// A fresh key of the resolver's type: (rcgen key pair, PEM).
fn certificate_key(kind: AcmeKeyType) -> Result<KeyPair, AcmeError> {
    let rsa = |bits: usize| -> Result<KeyPair, AcmeError> {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
            .map_err(|e| AcmeError(format!("RSA key: {e}")))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| AcmeError(format!("RSA key: {e}")))?;
        KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(der.as_bytes().to_vec()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(|e| AcmeError(format!("RSA key: {e}")))
    };
    match kind {
        AcmeKeyType::Ec256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| AcmeError(format!("EC key: {e}"))),
        AcmeKeyType::Ec384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384)
            .map_err(|e| AcmeError(format!("EC key: {e}"))),
        AcmeKeyType::Rsa2048 => rsa(2048),
        AcmeKeyType::Rsa3072 => rsa(3072),
        AcmeKeyType::Rsa4096 => rsa(4096),
        AcmeKeyType::Rsa8192 => rsa(8192),
    }
}

/// The self-signed certificate a TLS-ALPN-01 validator must be served (RFC 8737).
pub(crate) fn tls_alpn_certificate(
    domain: &str,
    digest: &[u8],
) -> Result<Arc<CertifiedKey>, AcmeError> {
    let key = KeyPair::generate().map_err(|e| AcmeError(e.to_string()))?;
    let mut params =
        CertificateParams::new(vec![domain.to_string()]).map_err(|e| AcmeError(e.to_string()))?;
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let cert = params
        .self_signed(&key)
        .map_err(|e| AcmeError(e.to_string()))?;
    let signing = any_supported_type(&PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        key.serialize_der(),
    )))
    .map_err(|e| AcmeError(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// Removes a challenge's answer when the order is done, however it ends.
struct Answered<'a> {
    challenges: &'a AcmeChallenges,
    http: Vec<String>,
    tls: Vec<String>,
}

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        for token in &self.http {
            self.challenges.remove_http(token);
        }
        for domain in &self.tls {
            self.challenges.remove_tls_alpn(domain);
        }
    }
}

/// Orders a certificate for `domains` (the first is its main name): (PEM chain, PEM key).
/// With `shared`, each challenge is published there before the CA is told it is ready, so
/// the other instances answer it too (the caller clears them after).
pub async fn obtain(
    account: &Account,
    observed: &Observed,
    domains: &[String],
    config: &AcmeConfig,
    challenges: &AcmeChallenges,
    shared: Option<&crate::shared::SharedStorage>,
) -> Result<(String, String), AcmeError> {
    let mut published = Vec::new();
    let identifiers: Vec<Identifier> = domains.iter().cloned().map(Identifier::Dns).collect();
    let mut new_order = NewOrder::new(&identifiers);
    if let Some(profile) = &config.profile {
        new_order = new_order.profile(profile);
    }
    let mut order = account
        .new_order(&new_order)
        .await
        .map_err(err("creating the order"))?;
    let kind = if config.http_challenge.is_some() {
        ChallengeType::Http01
    } else {
        ChallengeType::TlsAlpn01
    };
    let mut answered = Answered {
        challenges,
        http: Vec::new(),
        tls: Vec::new(),
    };
    {
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.map_err(err("reading an authorization"))?;
            match authorization.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(AcmeError(format!(
                        "an authorization is {other:?}, not pending"
                    )))
                }
            }
            let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
                AcmeError(format!("the CA offers no {kind:?} challenge for this name"))
            })?;
            let key_authorization = challenge.key_authorization();
            let domain = match challenge.identifier().identifier {
                Identifier::Dns(name) => name.clone(),
                other => return Err(AcmeError(format!("unexpected identifier {other:?}"))),
            };
            match kind {
                ChallengeType::Http01 => {
                    challenges.set_http(&challenge.token, key_authorization.as_str());
                    answered.http.push(challenge.token.clone());
                    published.push(crate::shared::Challenge::Http {
                        token: challenge.token.clone(),
                        key_authorization: key_authorization.as_str().to_string(),
                    });
                }
                _ => {
                    let digest = key_authorization.digest();
                    let cert = tls_alpn_certificate(&domain, digest.as_ref())?;
                    challenges.set_tls_alpn(&domain, cert);
                    answered.tls.push(domain.clone());
                    published.push(crate::shared::Challenge::TlsAlpn {
                        domain: domain.clone(),
                        digest_b64: base64::engine::general_purpose::STANDARD
                            .encode(digest.as_ref()),
                    });
                }
            }
            if let Some(shared) = shared {
                shared.share_challenges(&published).await?;
            }
            challenge
                .set_ready()
                .await
                .map_err(err(&format!("the {kind:?} challenge for {domain}")))?;
        }
    }
    let status = order
        .poll_ready(&RetryPolicy::new().timeout(std::time::Duration::from_secs(90)))
        .await
        .map_err(err("waiting for validation"))?;
    if status != OrderStatus::Ready {
        let state = order.refresh().await.map_err(err("reading the order"))?;
        return Err(AcmeError(format!(
            "the order is {status:?}: {:?}",
            state.error
        )));
    }
    drop(answered);
    let key_kind = config.key_type;
    let (key, csr) = tokio::task::spawn_blocking({
        let domains = domains.to_vec();
        move || -> Result<(KeyPair, Vec<u8>), AcmeError> {
            let key = certificate_key(key_kind)?;
            let params = CertificateParams::new(domains).map_err(|e| AcmeError(e.to_string()))?;
            let csr = params
                .serialize_request(&key)
                .map_err(|e| AcmeError(format!("the CSR: {e}")))?;
            Ok((key, csr.der().to_vec()))
        }
    })
    .await
    .map_err(|e| AcmeError(format!("key generation: {e}")))??;
    order
        .finalize_csr(&csr)
        .await
        .map_err(err("finalizing the order"))?;
    let chain = order
        .poll_certificate(&RetryPolicy::new().timeout(std::time::Duration::from_secs(90)))
        .await
        .map_err(err("downloading the certificate"))?;
    let chain = match &config.preferred_chain {
        Some(preferred) => preferred_chain(account, observed, chain, preferred).await,
        None => chain,
    };
    Ok((chain, key.serialize_pem()))
}
