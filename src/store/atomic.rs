//! glusterd's atomic file replacement: write `<file>.tmp`, fsync it, rename it over `<file>`,
//! fsync the directory.
//!
//! A [`StagedFile`] is the first half (the `.tmp` written and synced); [`StagedFile::commit`]
//! is the second. Dropping a staged file without committing it removes the `.tmp`, as glusterd
//! unlinks its temporary files on error; a crash leaves it behind, and loading ignores it.

use super::error::StoreError;
use super::kv;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Suffix of the temporary file next to each store file.
pub const TMP_SUFFIX: &str = ".tmp";

/// Mode of every store file (glusterd opens them with 0600).
const FILE_MODE: u32 = 0o600;

/// `<path>.tmp`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    PathBuf::from(tmp)
}

/// A new version of a file, written and synced as `<path>.tmp`, not yet renamed into place.
#[derive(Debug)]
pub struct StagedFile {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// Writes `contents` to `<path>.tmp` (`O_RDWR|O_CREAT|O_TRUNC`, mode 0600) and fsyncs it.
    /// On error the `.tmp` is removed.
    pub fn write(path: &Path, contents: &[u8]) -> Result<StagedFile, StoreError> {
        let staged = StagedFile {
            path: path.to_path_buf(),
            tmp: tmp_path(path),
            committed: false,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&staged.tmp)
            .map_err(|e| StoreError::io("create", &staged.tmp, e))?;
        file.write_all(contents)
            .map_err(|e| StoreError::io("write", &staged.tmp, e))?;
        file.sync_all()
            .map_err(|e| StoreError::io("fsync", &staged.tmp, e))?;
        Ok(staged)
    }

    /// The file this will replace.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the `.tmp` over the file and fsyncs the directory.
    pub fn commit(mut self) -> Result<(), StoreError> {
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| StoreError::io("rename into place", &self.tmp, e))?;
        self.committed = true;
        sync_parent_dir(&self.path)
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort, like glusterd's gf_store_unlink_tmppath: the error being handled
            // matters more than a leftover .tmp, which loading ignores anyway.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// fsyncs the directory that holds `path`, so that a rename in it is durable.
fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("fsync the directory", dir, e))
}

/// Replaces `path` with `contents` atomically: [`StagedFile::write`] then
/// [`StagedFile::commit`].
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    StagedFile::write(path, contents)?.commit()
}

/// Replaces `path` atomically with `key=value` lines in the given order.
pub fn write_kv_file<K: AsRef<str>, V: AsRef<str>>(
    path: &Path,
    pairs: &[(K, V)],
) -> Result<(), StoreError> {
    write_atomic(path, &kv::render(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_atomic_replaces_the_file_with_mode_0600_and_leaves_no_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("options");
        std::fs::write(&path, b"old=1\n").unwrap();
        write_kv_file(&path, &[("global-option-version", "0")]).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"global-option-version=0\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn dropping_a_staged_file_removes_the_tmp_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("info");
        std::fs::write(&path, b"old=1\n").unwrap();
        let staged = StagedFile::write(&path, b"new=1\n").unwrap();
        assert_eq!(std::fs::read(tmp_path(&path)).unwrap(), b"new=1\n");
        assert_eq!(staged.path(), path);
        drop(staged);
        assert!(!tmp_path(&path).exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"old=1\n");
    }

    #[test]
    fn a_stale_tmp_is_truncated_not_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("info");
        std::fs::write(tmp_path(&path), b"stale garbage from a crash, long\n").unwrap();
        write_atomic(&path, b"a=1\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a=1\n");
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("info");
        let err = write_atomic(&path, b"a=1\n").unwrap_err().to_string();
        assert!(err.contains("cannot create"), "{err}");
        assert!(err.contains("missing-dir/info.tmp"), "{err}");
    }
}
