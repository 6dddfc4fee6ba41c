//! The access log: the request path hands each finished request ([`AccessEntry`]) to a bounded
//! queue; one writer thread filters, formats and writes it, and reopens the file when asked
//! (SIGUSR1, for log rotation) without losing a line.

mod clock;
mod entry;
mod fields;
mod format;
mod json;
mod route_members;

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use wharf_model::{AccessLogConfig, AccessLogFilters};

pub use entry::{AccessEntry, OriginFields, RequestText};
pub use format::{logs_headers, LineFormat};

/// Lines that may wait for the writer when `bufferingSize` is 0 (Traefik then writes on the
/// request's own goroutine; wharf never writes on the request path).
const DEFAULT_QUEUE: usize = 1024;

/// How long a busy writer lets lines gather before it writes them (and before a line written
/// reaches the file).
const POLL: Duration = Duration::from_millis(5);

enum Message {
    Entry(Box<AccessEntry>),
    /// Close and open the file again (it was moved away by a rotation).
    Reopen,
    Close,
}

/// Where lines go: the file (reopened on rotation) or stdout.
enum Output {
    Stdout(io::Stdout),
    File(BufWriter<File>),
}

impl Output {
    fn open(path: Option<&Path>) -> io::Result<Output> {
        match path {
            None => Ok(Output::Stdout(io::stdout())),
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                let file = OpenOptions::new().create(true).append(true).open(p)?;
                Ok(Output::File(BufWriter::new(file)))
            }
        }
    }

    fn write(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.lock().write_all(line),
            Output::File(f) => f.write_all(line),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(s) => s.flush(),
            Output::File(f) => f.flush(),
        }
    }
}

pub struct AccessLog {
    config: AccessLogConfig,
    /// Whether any header is logged (otherwise the request path copies none).
    logs_headers: bool,
    tx: SyncSender<Message>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for AccessLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLog")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Whether the filters keep a request (no filter set: every request).
fn kept(filters: &AccessLogFilters, e: &AccessEntry) -> bool {
    let any = !filters.status_codes.is_empty()
        || filters.retry_attempts
        || !filters.min_duration.is_zero();
    !any || filters
        .status_codes
        .iter()
        .any(|(a, b)| (*a..=*b).contains(&e.status))
        || (filters.retry_attempts && e.retry_attempts > 0)
        || (!filters.min_duration.is_zero() && e.duration > filters.min_duration)
}

impl AccessLog {
    /// Opens the output (an error names the file) and starts the writer thread.
    pub fn start(config: AccessLogConfig) -> io::Result<AccessLog> {
        let path = config.file_path.clone();
        let output = Output::open(path.as_deref()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot open the access log {}: {e}",
                    path.as_deref()
                        .map_or("stdout".into(), |p| p.display().to_string())
                ),
            )
        })?;
        let capacity = usize::try_from(config.buffering_size)
            .unwrap_or(usize::MAX)
            .clamp(DEFAULT_QUEUE, 1 << 20);
        let (tx, rx) = sync_channel(capacity);
        let writer_config = config.clone();
        let writer = std::thread::Builder::new()
            .name("wharf-access-log".into())
            .spawn(move || write_loop(rx, output, path, writer_config))?;
        Ok(AccessLog {
            logs_headers: logs_headers(&config.fields),
            config,
            tx,
            writer: Mutex::new(Some(writer)),
        })
    }

    pub fn config(&self) -> &AccessLogConfig {
        &self.config
    }

    /// Whether entries need their headers.
    pub fn logs_headers(&self) -> bool {
        self.logs_headers
    }

    /// Queues one request. A full queue makes the request wait for the writer: no line is
    /// ever dropped.
    pub fn log(&self, entry: AccessEntry) {
        if self.tx.send(Message::Entry(Box::new(entry))).is_err() {
            tracing::debug!("access log closed; a line was not written");
        }
    }

    /// Reopens the file after the lines queued before (log rotation).
    pub fn reopen(&self) {
        if self.tx.send(Message::Reopen).is_err() {
            tracing::debug!("access log closed");
        }
    }

    /// Writes out what is queued and stops the writer (at shutdown).
    pub fn close(&self) {
        if self.tx.send(Message::Close).is_ok() {
            if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
                if writer.join().is_err() {
                    tracing::error!("the access log writer failed");
                }
            }
        }
    }
}

fn write_loop(
    rx: Receiver<Message>,
    mut output: Output,
    path: Option<PathBuf>,
    config: AccessLogConfig,
) {
    let mut format = LineFormat::new(config.format, config.fields.clone());
    let report = |what: &str, e: io::Error| {
        tracing::error!(error = %e, file = ?path, "access log: cannot {what}");
    };
    // Whether lines came since the writer last waited.
    let mut busy = false;
    loop {
        let message = match rx.try_recv() {
            Ok(m) => m,
            Err(TryRecvError::Empty) => {
                // What was written reaches the file before the writer waits.
                if let Err(e) = output.flush() {
                    report("write", e);
                }
                if std::mem::take(&mut busy) {
                    // While lines keep coming, the writer looks for them every POLL rather
                    // than being woken for each: a request then only pushes onto the queue.
                    std::thread::sleep(POLL);
                    continue;
                }
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => return,
                }
            }
            Err(TryRecvError::Disconnected) => return,
        };
        busy = true;
        match message {
            Message::Entry(e) => {
                if kept(&config.filters, &e) {
                    if let Err(e) = output.write(format.line(&e, SystemTime::now())) {
                        report("write", e);
                    }
                }
            }
            Message::Reopen => {
                if let Err(e) = output.flush() {
                    report("write", e);
                }
                match Output::open(path.as_deref()) {
                    Ok(o) => output = o,
                    Err(e) => report("reopen the file (the old one stays in use)", e),
                }
            }
            Message::Close => {
                if let Err(e) = output.flush() {
                    report("write", e);
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use wharf_model::{AccessLogFields, AccessLogFormat};

    fn entry(status: u16) -> AccessEntry {
        AccessEntry {
            start: SystemTime::now(),
            duration: Duration::from_millis(1),
            client: None,
            username: None,
            request_count: 1,
            request: RequestText::new(None, b"/"),
            method: http::Method::GET,
            protocol: "HTTP/1.1",
            tls: None,
            entry_point: Arc::from("web"),
            router: None,
            origin: None,
            status,
            size: 0,
            request_size: 0,
            retry_attempts: 0,
            request_headers: None,
            downstream_headers: None,
        }
    }

    #[test]
    fn rotation_loses_no_line_and_filters_apply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs").join("access.log");
        let log = AccessLog::start(AccessLogConfig {
            file_path: Some(path.clone()),
            format: AccessLogFormat::Json,
            buffering_size: 0,
            filters: AccessLogFilters {
                status_codes: vec![(500, 599)],
                ..Default::default()
            },
            fields: AccessLogFields::default(),
            add_internals: false,
        })
        .unwrap();
        for i in 0..100 {
            log.log(entry(if i % 2 == 0 { 500 } else { 200 }));
            if i == 50 {
                std::fs::rename(&path, dir.path().join("rotated.log")).unwrap();
                log.reopen();
            }
        }
        log.close();
        let lines = |p: &Path| std::fs::read_to_string(p).unwrap().lines().count();
        assert_eq!(lines(&dir.path().join("rotated.log")) + lines(&path), 50);
        assert_eq!(
            lines(&path),
            24,
            "lines after the rotation are in the new file"
        );
    }
}
