//! `wharf check [flags]`: loads the static configuration and every provider that can be read
//! offline, validates everything, prints each issue with its origin, and fails on errors.

use std::sync::Arc;

use anyhow::{bail, Context};
use wharf_config::{load_static, validate, ProviderConfig};
use wharf_discovery::FileProvider;
use wharf_model::ConfigIssue;

pub fn check(args: Vec<String>) -> anyhow::Result<()> {
    let loaded = load_static(&crate::run::inputs(args)?)?;
    let mut issues: Vec<ConfigIssue> = loaded.warnings.clone();
    let statics = Arc::new(loaded.config);
    let mut providers = Vec::new();
    if let Some(file) = statics.providers.file.clone() {
        match FileProvider::new(file, None).load(true) {
            Ok(update) => {
                issues.extend(update.issues);
                providers.push(ProviderConfig {
                    provider: update.provider,
                    raw: update.raw,
                });
            }
            Err(e) => issues.push(e.to_issue()),
        }
    }
    let (config, validation) = validate(&providers, &statics);
    issues.extend(validation);
    // Certificates, keys and CA files are read and checked as the control plane would.
    let mut tls = wharf_tls::TlsRegistry::new().context("cannot set up TLS")?;
    issues.extend(tls.build(&config.tls).1);
    // Servers transports' CA files and client certificates, read as the pools would.
    let mut transports = std::collections::BTreeSet::new();
    for service in config.services.values() {
        if transports.insert(service.transport.name.clone()) {
            issues.extend(wharf_upstream::Transport::build(&service.transport).1);
        }
    }
    for issue in &issues {
        println!("{issue}");
    }
    let errors = issues.iter().filter(|i| i.is_error()).count();
    println!(
        "{} entrypoint(s), {} router(s), {} service(s), {} middleware(s); {} error(s), {} warning(s)",
        statics.entry_points.len(),
        config.routers.len(),
        config.services.len(),
        config.middlewares.len(),
        errors,
        issues.len() - errors
    );
    if errors > 0 {
        bail!("the configuration has {errors} error(s)");
    }
    Ok(())
}
