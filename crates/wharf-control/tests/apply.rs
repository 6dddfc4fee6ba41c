//! The reconciler keeps each provider's last good configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wharf_config::{decode_static, flags_to_node};
use wharf_control::Controller;
use wharf_discovery::FileProvider;
use wharf_model::FileProviderConfig;
use wharf_router::{ControlStatus, Generation, GenerationReader, GenerationWriter, ProviderSlot};

/// A controller on one `web` entrypoint, its generation reader, its status (waiting for the
/// file provider) and an unwatched file provider reading `file`.
fn controller(
    file: &Path,
) -> (
    Controller,
    GenerationReader,
    Arc<ControlStatus>,
    FileProvider,
) {
    let (statics, _) = decode_static(&flags_to_node(&[
        "--entryPoints.web.address=:80".to_string()
    ]));
    let ((writer, reader), tls) = {
        let tls = wharf_tls::TlsRegistry::new().unwrap();
        let empty = Generation::empty(&["web".to_string()], &tls.empty_snapshot());
        (GenerationWriter::new(empty), tls)
    };
    let status = Arc::new(ControlStatus::new(&[ProviderSlot::File]));
    let controller = Controller::new(Arc::new(statics), writer, status.clone(), tls);
    let provider = FileProvider::new(
        FileProviderConfig::File {
            path: PathBuf::from(file),
            watch: false,
        },
        None,
    );
    (controller, reader, status, provider)
}

#[test]
fn a_rejected_update_changes_nothing_and_a_good_one_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.yml");
    std::fs::write(
        &file,
        "http:\n  routers:\n    r: {rule: \"Host(`a`)\", service: s}\n  services:\n    s: {loadBalancer: {servers: [{url: \"http://127.0.0.1:1\"}]}}\n",
    )
    .unwrap();
    let (mut controller, reader, status, provider) = controller(&file);

    assert!(
        status.readiness().is_err(),
        "not ready before the first configuration"
    );
    let report = controller.apply(provider.load(false));
    assert!(report.published);
    assert_eq!(reader.load().entry_points[0].plain.len(), 1);
    assert_eq!(status.readiness(), Ok(()));
    let good = reader.load().id;

    std::fs::write(&file, "http: [").unwrap();
    let report = controller.apply(provider.load(false));
    assert!(!report.published);
    assert_eq!(
        reader.load().id,
        good,
        "a broken file must not replace the live generation"
    );
    assert!(report
        .issues
        .iter()
        .any(|i| i.to_string().contains("invalid YAML")));

    std::fs::write(&file, "").unwrap();
    let report = controller.apply(provider.load(false));
    assert!(!report.published, "an empty read is a write in progress");

    std::fs::write(&file, "http: {}\n").unwrap();
    let report = controller.apply(provider.load(false));
    assert!(report.published);
    assert_eq!(reader.load().entry_points[0].plain.len(), 0);
}

#[test]
fn a_first_configuration_that_is_rejected_keeps_readiness_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("d.yml");
    std::fs::write(&file, "http: [").unwrap();
    let (mut controller, _reader, status, provider) = controller(&file);
    controller.apply(provider.load(false));
    let why = status.readiness().unwrap_err();
    assert!(
        why.contains("waiting for a first valid configuration from: file"),
        "{why}"
    );
}
