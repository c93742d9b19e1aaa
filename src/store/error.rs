//! What can go wrong reading or writing the workdir. Every error names the file, and the line
//! when there is one.

use super::kv::LineProblem;
use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// A store error.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A file system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done ("read", "create", "rename … to", "sync the directory").
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A line is not `key=value` by glusterd's rules.
    #[error("{path} line {line}: {problem}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        problem: LineProblem,
    },
    /// A line is well formed but its value is unusable.
    #[error("{path} line {line}: {key}={value}: {problem}")]
    Value {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// Why it is unusable, e.g. "not a volume type glusterd knows (0-5)".
        problem: String,
    },
    /// A key that must be present is not.
    #[error("{path}: no {key}= line{hint}")]
    MissingKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Extra explanation, starting with a separator, or empty.
        hint: String,
    },
    /// The file's keys contradict each other or the rest of the workdir.
    #[error("{path}: {problem}")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What does not fit.
        problem: String,
    },
}

impl StoreError {
    /// An [`StoreError::Io`] error.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
