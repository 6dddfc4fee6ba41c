//! The storage file in Traefik's `acme.json` format: one entry per resolver, each with the
//! ACME account and the certificates (`domain`, base64 PEM `certificate` and `key`, `Store`).
//! A file written by Traefik loads as is; what wharf does not use (Traefik's own account,
//! other resolvers, unknown fields) is kept when the file is written back. The file is
//! written atomically (a temporary file renamed over it) with mode 0600.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an ACME storage file: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The whole file: resolver name -> its data.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct StorageFile(pub BTreeMap<String, ResolverData>);

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ResolverData {
    /// Traefik's account (an RSA key wharf's ACME client cannot sign with): kept as is, so
    /// Traefik still finds it.
    #[serde(rename = "Account", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<serde_json::Value>,
    /// wharf's account (ECDSA P-256), beside Traefik's.
    #[serde(
        rename = "WharfAccount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub wharf_account: Option<WharfAccount>,
    #[serde(rename = "Certificates", default, deserialize_with = "null_as_empty")]
    pub certificates: Vec<StoredCertificate>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WharfAccount {
    #[serde(rename = "Email", default)]
    pub email: String,
    #[serde(rename = "CaServer", default)]
    pub ca_server: String,
    /// instant-acme's credentials (account URL and PKCS#8 key).
    #[serde(rename = "Credentials")]
    pub credentials: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDomain {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub main: String,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub sans: Vec<String>,
}

impl StoredDomain {
    /// Every name, main first.
    pub fn names(&self) -> Vec<String> {
        std::iter::once(self.main.clone())
            .filter(|m| !m.is_empty())
            .chain(self.sans.iter().cloned())
            .collect()
    }
}

/// One certificate, as Traefik stores it (Go's `[]byte` is base64 in JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCertificate {
    pub domain: StoredDomain,
    /// base64 of the PEM chain.
    #[serde(default)]
    pub certificate: String,
    /// base64 of the PEM key.
    #[serde(default)]
    pub key: String,
    #[serde(rename = "Store", default = "default_store")]
    pub store: String,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn default_store() -> String {
    "default".into()
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl StoredCertificate {
    pub fn new(domains: &[String], chain_pem: &str, key_pem: &str) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        StoredCertificate {
            domain: StoredDomain {
                main: domains.first().cloned().unwrap_or_default(),
                sans: domains.iter().skip(1).cloned().collect(),
            },
            certificate: b64.encode(chain_pem),
            key: b64.encode(key_pem),
            store: default_store(),
            extra: serde_json::Map::new(),
        }
    }

    /// The PEM chain and key, if they decode.
    pub fn pem(&self) -> Option<(String, String)> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let cert = String::from_utf8(b64.decode(&self.certificate).ok()?).ok()?;
        let key = String::from_utf8(b64.decode(&self.key).ok()?).ok()?;
        Some((cert, key))
    }
}

impl StorageFile {
    /// Reads the file; a missing or empty file is an empty store.
    pub fn load(path: &Path) -> Result<StorageFile, StorageError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StorageFile::default()),
            Err(source) => {
                return Err(StorageError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(StorageFile::default());
        }
        serde_json::from_slice(&bytes).map_err(|source| StorageError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes the file atomically, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), StorageError> {
        let err = |source| StorageError::Write {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(std::io::Error::other(e)))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("acme.json")
        ));
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp).map_err(err)?;
            file.write_all(&json).map_err(err)?;
            file.sync_all().map_err(err)?;
        }
        #[cfg(unix)]
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

/// Traefik refuses a storage file others may read; wharf says so (and goes on).
pub fn too_open(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
