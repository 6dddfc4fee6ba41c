//! The panic boundary of a provider's decoding: a bug reached by one update rejects that
//! update (the last good configuration stays live) instead of ending the provider's task.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::LoadError;

/// Runs one decode step of `provider`; a panic inside becomes [`LoadError::Internal`].
pub(crate) fn contained<T>(provider: &str, decode: impl FnOnce() -> T) -> Result<T, LoadError> {
    catch_unwind(AssertUnwindSafe(decode)).map_err(|payload| LoadError::Internal {
        provider: provider.to_string(),
        message: panic_message(&*payload),
    })
}

/// The text of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}
