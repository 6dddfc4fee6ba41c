//! Loading the file provider's sources.

use wharf_discovery::{FileProvider, LoadError};
use wharf_model::FileProviderConfig;

fn dir_provider(dir: &std::path::Path) -> FileProvider {
    FileProvider::new(
        FileProviderConfig::Directory {
            path: dir.to_path_buf(),
            watch: false,
        },
        None,
    )
}

#[test]
fn a_directory_is_merged_recursively_and_duplicates_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        "http:\n  routers:\n    r: {rule: \"Host(`a`)\", service: s}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("sub/b.yaml"), "http:\n  routers:\n    r: {rule: \"Host(`b`)\", service: s}\n    q: {rule: \"Host(`q`)\", service: s}\n").unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[http.routers.t]\nrule = \"Host(`t`)\"\nservice = \"s\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".swap.yml"), "not: [yaml").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let update = dir_provider(dir.path()).load(false).unwrap();
    assert_eq!(
        update.raw.routers.keys().collect::<Vec<_>>(),
        ["q", "r", "t"]
    );
    assert_eq!(
        update.raw.routers["r"].rule.as_ref().unwrap().value,
        "Host(`a`)"
    );
    let issues: Vec<String> = update.issues.iter().map(ToString::to_string).collect();
    assert!(
        issues
            .iter()
            .any(|i| i.contains("b.yaml:3:5: error: router `r` is defined in several files")),
        "{issues:#?}"
    );
    // A TOML file is read like the YAML ones, its positions kept.
    assert_eq!(
        update.raw.routers["t"]
            .rule
            .as_ref()
            .unwrap()
            .origin
            .to_string(),
        format!("{}:2:8", dir.path().join("c.toml").display())
    );
}

#[test]
fn unreadable_unparsable_and_empty_sources_are_rejected_whole() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yml"), "http: {}\n").unwrap();
    std::fs::write(dir.path().join("bad.yml"), "http:\n  routers: [x\n").unwrap();
    match dir_provider(dir.path()).load(false) {
        Err(LoadError::Yaml(e)) => assert!(e.path.ends_with("bad.yml") && e.line >= 2, "{e}"),
        other => panic!("{other:?}"),
    }
    std::fs::write(dir.path().join("bad.yml"), "").unwrap();
    assert!(matches!(
        dir_provider(dir.path()).load(false),
        Err(LoadError::Empty { .. })
    ));
    assert!(
        dir_provider(dir.path()).load(true).is_ok(),
        "accepted once the grace period is over"
    );
    let missing = FileProvider::new(
        FileProviderConfig::File {
            path: dir.path().join("missing.yml"),
            watch: false,
        },
        None,
    );
    let err = missing.load(true).unwrap_err();
    assert!(
        err.to_issue()
            .to_string()
            .contains("missing.yml: cannot read"),
        "{}",
        err.to_issue()
    );
}
