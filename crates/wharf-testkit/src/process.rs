//! The real `wharf` (or `traefik`) binary, started and stopped by a test.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::wait::wait_until;

/// A free port for a process the test starts. Ports are drawn below Linux's ephemeral range
/// (32768+), so no `bind(:0)` elsewhere in the test can take them meanwhile, and never handed
/// out twice by one test binary.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let used = guard.get_or_insert_with(HashSet::new);
    let seed = std::process::id() as usize;
    for i in 0..12_000usize {
        let port = 20_000 + ((seed.wrapping_mul(7919) + used.len() * 97 + i) % 12_000) as u16;
        if used.contains(&port) {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            used.insert(port);
            return port;
        }
    }
    panic!("no free port in 20000..32000");
}

/// A running proxy process; killed when dropped.
pub struct WharfProcess {
    child: Option<Child>,
    log: PathBuf,
    /// The working directory (a temp dir, so no `./traefik.yml` leaks in).
    pub dir: tempfile::TempDir,
}

impl WharfProcess {
    /// Starts `binary args...` in a fresh temp dir, then waits until every address in
    /// `wait_for` accepts connections.
    pub fn start(
        binary: &Path,
        args: &[String],
        env: &[(&str, &str)],
        wait_for: &[SocketAddr],
    ) -> WharfProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, binary, args, env, wait_for)
    }

    pub fn start_in(
        dir: tempfile::TempDir,
        binary: &Path,
        args: &[String],
        env: &[(&str, &str)],
        wait_for: &[SocketAddr],
    ) -> WharfProcess {
        let log = dir.path().join("process.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .env("HOME", dir.path())
            .env("WHARF_ETC_DIR", dir.path().join("etc"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut p = WharfProcess {
            child: Some(child),
            log,
            dir,
        };
        for addr in wait_for {
            let up = wait_until(Duration::from_secs(20), || {
                p.exited().is_none()
                    && TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok()
            });
            assert!(
                up,
                "{} did not listen on {addr}; log:\n{}",
                binary.display(),
                p.log()
            );
        }
        p
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log().contains(needle))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        if let Some(c) = &self.child {
            let status = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .expect("run kill");
            assert!(status.success(), "kill -TERM failed");
        }
    }

    /// Waits for exit, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait_until(timeout, || {
            status = self.exited();
            status.is_some()
        });
        status
    }
}

impl Drop for WharfProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _killed = c.kill();
            let _reaped = c.wait();
        }
    }
}
