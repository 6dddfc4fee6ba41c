//! A located configuration problem. Issues are collected, never first-error-and-stop.

use std::fmt;

use crate::origin::Origin;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The item it names was dropped (or, in static config, start-up is refused).
    Error,
    /// Accepted, but probably not what was meant, or not implemented yet.
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigIssue {
    pub severity: Severity,
    pub origin: Origin,
    pub message: String,
    /// How to fix it, when we can tell.
    pub hint: Option<String>,
}

impl ConfigIssue {
    pub fn error(origin: Origin, message: impl Into<String>) -> Self {
        ConfigIssue {
            severity: Severity::Error,
            origin,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(origin: Origin, message: impl Into<String>) -> Self {
        ConfigIssue {
            severity: Severity::Warning,
            origin,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {sev}: {}", self.origin, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}
