//! The crate boundaries of ARCHITECTURE.md, checked against `cargo metadata`.

use std::collections::BTreeMap;
use std::process::Command;

fn workspace_deps() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null()) // normal dependencies only
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn crate_boundaries_hold() {
    let deps = workspace_deps();
    let uses = |krate: &str, dep: &str| deps[krate].iter().any(|d| d == dep);
    for forbidden in [
        "wharf-config",
        "wharf-discovery",
        "wharf-control",
        "yaml-rust2",
        "notify",
    ] {
        assert!(
            !uses("wharf-proxy", forbidden),
            "wharf-proxy must not depend on {forbidden}"
        );
    }
    assert!(
        deps["wharf-rule"].iter().all(|d| !d.starts_with("wharf-")),
        "wharf-rule depends on nothing in the workspace"
    );
    assert!(
        deps["wharf-model"]
            .iter()
            .all(|d| !d.starts_with("wharf-") || d == "wharf-rule"),
        "wharf-model depends only on wharf-rule"
    );
    assert!(
        deps["wharf-observe"]
            .iter()
            .all(|d| !d.starts_with("wharf-") || d == "wharf-model"),
        "wharf-observe depends only on wharf-model (every stage may report into it)"
    );
    for (krate, list) in &deps {
        if krate != "wharf" {
            assert!(
                !list.iter().any(|d| d == "anyhow"),
                "{krate}: anyhow is for the binary only"
            );
        }
        // wharf-testkit (test-only) reads YAML's own types to write a configuration's TOML twin.
        if krate != "wharf-config" && krate != "wharf-testkit" {
            assert!(
                !list.iter().any(|d| d == "yaml-rust2" || d == "serde_yaml"),
                "{krate}: YAML is read only in wharf-config (and the test kit)"
            );
        }
    }
}
