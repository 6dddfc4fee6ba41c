//! Test containers on the real Docker engine: the echo image (built locally, no registry),
//! networks and labelled containers with unique names, removed when dropped, even on failure.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub const ECHO_IMAGE: &str = "wharf-test-echo:dev";

/// A name no other test run can use: `wharftest-<pid>-<n>-<what>`.
pub fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "wharftest-{}-{}-{what}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `docker args`, panicking with its stderr when it fails; its stdout, trimmed.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the statically linked echo program and imports it as [`ECHO_IMAGE`] (once per
/// process). The image holds `/wharf-echo`, also as `/bin/sh` for shell-form healthchecks.
pub fn echo_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        let target_dir = root.join("target/static");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "wharf-testkit",
                "--bin",
                "wharf-echo",
            ])
            .args(["--target", "x86_64-unknown-linux-gnu", "--target-dir"])
            .arg(&target_dir)
            .status()
            .expect("cargo build wharf-echo");
        assert!(status.success(), "building the static echo program failed");
        let binary = target_dir.join("x86_64-unknown-linux-gnu/release/wharf-echo");
        let ctx = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(ctx.path().join("bin")).expect("mkdir");
        std::fs::copy(&binary, ctx.path().join("wharf-echo")).expect("copy");
        std::fs::copy(&binary, ctx.path().join("bin/sh")).expect("copy");
        let tar = ctx.path().join("image.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(ctx.path())
            .args(["-cf"])
            .arg(&tar)
            .args(["wharf-echo", "bin"])
            .status()
            .expect("tar");
        assert!(status.success());
        docker(&[
            "import",
            "--change",
            "ENTRYPOINT [\"/wharf-echo\"]",
            "--change",
            "EXPOSE 80",
            tar.to_str().expect("utf-8 path"),
            ECHO_IMAGE,
        ]);
    });
    ECHO_IMAGE
}

/// A user-defined bridge network, removed on drop.
pub struct TestNetwork {
    pub name: String,
}

impl TestNetwork {
    pub fn create(what: &str) -> TestNetwork {
        let name = unique(what);
        docker(&["network", "create", &name]);
        TestNetwork { name }
    }
}

impl Drop for TestNetwork {
    fn drop(&mut self) {
        let _ignored = Command::new("docker")
            .args(["network", "rm", "-f", &self.name])
            .output();
    }
}

/// How to start an echo container.
#[derive(Default, Clone)]
pub struct ContainerSpec {
    pub labels: Vec<(String, String)>,
    /// The first is given to `docker run`, the others connected afterwards.
    pub networks: Vec<String>,
    /// A healthcheck probing `/health` every second.
    pub healthcheck: bool,
    /// A healthcheck that never passes (it probes a port nothing listens on).
    pub failing_healthcheck: bool,
}

impl ContainerSpec {
    pub fn label(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.labels.push((k.into(), v.into()));
        self
    }

    pub fn network(mut self, n: &str) -> Self {
        self.networks.push(n.to_string());
        self
    }

    pub fn healthcheck(mut self) -> Self {
        self.healthcheck = true;
        self
    }

    pub fn failing_healthcheck(mut self) -> Self {
        self.failing_healthcheck = true;
        self
    }
}

/// A running echo container (named after itself, so responses say which one answered);
/// removed on drop.
pub struct TestContainer {
    pub name: String,
    pub id: String,
}

impl TestContainer {
    pub fn run(what: &str, spec: &ContainerSpec) -> TestContainer {
        let image = echo_image();
        let name = unique(what);
        let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), name.clone()];
        args.extend(["-e".into(), format!("ECHO_NAME={name}")]);
        for (k, v) in &spec.labels {
            args.extend(["--label".into(), format!("{k}={v}")]);
        }
        if let Some(first) = spec.networks.first() {
            args.extend(["--network".into(), first.clone()]);
        }
        if spec.healthcheck || spec.failing_healthcheck {
            let port = if spec.failing_healthcheck { 81 } else { 80 };
            args.extend([
                "--health-cmd".into(),
                format!("/wharf-echo probe http://127.0.0.1:{port}/health"),
                "--health-interval".into(),
                "1s".into(),
                "--health-retries".into(),
                "1".into(),
                "--health-timeout".into(),
                "2s".into(),
            ]);
        }
        args.push(image.into());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = docker(&argv);
        let c = TestContainer { name, id };
        for extra in spec.networks.iter().skip(1) {
            docker(&["network", "connect", extra, &c.name]);
        }
        c
    }

    /// The container's IPv4 address on `network`.
    pub fn ip(&self, network: &str) -> String {
        docker(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
            &self.name,
        ])
    }

    pub fn health(&self) -> String {
        docker(&["inspect", "-f", "{{.State.Health.Status}}", &self.name])
    }

    /// What the container printed (the echo program logs each request).
    pub fn logs(&self) -> String {
        let out = Command::new("docker")
            .args(["logs", &self.name])
            .output()
            .expect("docker logs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// `docker stop` with a grace period of `seconds` (the echo program ignores SIGTERM, as a
    /// PID 1 without a handler does, so this always takes that long).
    pub fn stop_with_grace(&self, seconds: u32) {
        docker(&["stop", "-t", &seconds.to_string(), &self.name]);
    }

    pub fn stop(&self) {
        docker(&["stop", "-t", "1", &self.name]);
    }

    pub fn start(&self) {
        docker(&["start", &self.name]);
    }

    /// `docker kill`: SIGKILL, no grace.
    pub fn kill(&self) {
        docker(&["kill", &self.name]);
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        let _ignored = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}
