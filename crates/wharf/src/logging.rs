//! Logs through `tracing`, with pingora's `log` records bridged in, to stdout or
//! `log.filePath` (reopened on SIGUSR1, for log rotation).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriter};
use tracing_subscriber::EnvFilter;
use wharf_model::LogConfig;

/// `log.filePath`, which log rotation may move away: [`LogFile::reopen`] opens it again.
pub struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

impl LogFile {
    pub fn reopen(&self) {
        match (open(&self.path), self.file.lock()) {
            (Ok(f), Ok(mut current)) => *current = f,
            (Err(e), _) => {
                tracing::error!(error = %e, file = %self.path.display(), "cannot reopen the log file; writing on to the old one")
            }
            (_, Err(_)) => {}
        }
    }
}

/// One log line's access to the file.
pub struct LogFileWriter<'a>(Option<MutexGuard<'a, File>>);

impl Write for LogFileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Some(f) => f.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

struct Shared(Arc<LogFile>);

impl<'a> MakeWriter<'a> for Shared {
    type Writer = LogFileWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter(self.0.file.lock().ok())
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set, overrides `log.level`. Returns the
/// log file when `log.filePath` is set (for SIGUSR1).
pub fn init(config: &LogConfig) -> Option<Arc<LogFile>> {
    let level = match config.level.as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        _ => "error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let file = config.file_path.as_ref().and_then(|path| match open(path) {
        Ok(f) => Some(Arc::new(LogFile {
            path: path.clone(),
            file: Mutex::new(f),
        })),
        Err(e) => {
            eprintln!(
                "wharf: cannot open log.filePath {}: {e}; logging to stdout",
                path.display()
            );
            None
        }
    });
    let writer = match &file {
        Some(f) => BoxMakeWriter::new(Shared(f.clone())),
        None => BoxMakeWriter::new(std::io::stdout),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let result = if config.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if let Err(e) = result {
        eprintln!("wharf: logging was already initialised: {e}");
    }
    file
}
