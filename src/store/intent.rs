//! Intent records: what a commit is about to change, written before it changes anything, so
//! that a commit cut short (a crash, kill -9, power loss) is finished or undone at start-up
//! instead of leaving a half-made volume or a brick "already part of a volume".
//!
//! One file per transaction, `<workdir>/brickd/intents/<txn uuid>`, in the store's `key=value`
//! format and written with the atomic protocol. glusterd never looks under `brickd/`, so a
//! real glusterd started on the workdir is not disturbed by it. The record's body is the
//! operation's business (`ops`): this module keeps the fixed head (`op`, `volname`,
//! `volume-id`, `stage`) and the op's pairs in order.

use super::atomic::write_kv_file;
use super::error::StoreError;
use super::kv;
use crate::model::Uuid;
use std::path::{Path, PathBuf};

/// Most bytes an intent file may have (the bricks and claim steps of one command).
pub const INTENT_BYTES_MAX: u64 = 4 << 20;

/// An intent record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// The transaction.
    pub txn: Uuid,
    /// What it does (`create`, `delete`).
    pub op: String,
    /// The volume.
    pub volname: String,
    /// The volume's id.
    pub volume_id: Uuid,
    /// How far the commit got, in the op's words (`begun`, `claimed`, …).
    pub stage: String,
    /// The op's own pairs, in order.
    pub pairs: Vec<(String, String)>,
}

/// The directory of intent records under `workdir`.
pub fn intents_dir(workdir: &Path) -> PathBuf {
    workdir.join("brickd").join("intents")
}

fn intent_path(workdir: &Path, txn: Uuid) -> PathBuf {
    intents_dir(workdir).join(txn.to_string())
}

/// The record's path and bytes, for writers that batch their I/O (the directory is
/// [`intents_dir`]; it must exist).
pub fn file(workdir: &Path, intent: &Intent) -> (PathBuf, Vec<u8>) {
    (intent_path(workdir, intent.txn), kv::render(&pairs(intent)))
}

/// The path of transaction `txn`'s record.
pub fn path(workdir: &Path, txn: Uuid) -> PathBuf {
    intent_path(workdir, txn)
}

fn pairs(intent: &Intent) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = vec![
        ("op".into(), intent.op.clone()),
        ("volname".into(), intent.volname.clone()),
        ("volume-id".into(), intent.volume_id.to_string()),
        ("stage".into(), intent.stage.clone()),
    ];
    pairs.extend(intent.pairs.iter().cloned());
    pairs
}

/// Writes (or replaces) the record, durably: when this returns, a crash leaves this record.
pub fn write(workdir: &Path, intent: &Intent) -> Result<(), StoreError> {
    let dir = intents_dir(workdir);
    std::fs::create_dir_all(&dir).map_err(|e| StoreError::io("create the directory", &dir, e))?;
    write_kv_file(&intent_path(workdir, intent.txn), &pairs(intent))
}

/// Removes the record (the commit is complete or undone); a missing record is fine.
pub fn remove(workdir: &Path, txn: Uuid) -> Result<(), StoreError> {
    let path = intent_path(workdir, txn);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("remove", &path, e)),
    }
    let dir = intents_dir(workdir);
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("sync the directory", &dir, e))
}

/// Every record left under `workdir`, oldest name first; an unreadable one is an error naming
/// it (it is never skipped: an intent nobody finishes is a half-made change).
pub fn list(workdir: &Path) -> Result<Vec<Intent>, StoreError> {
    let dir = intents_dir(workdir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("read the directory", &dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("read the directory", &dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            // A record that was being written: the write did not finish, so the change it
            // announces never started.
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        names.push(name);
    }
    names.sort();
    names.iter().map(|n| read(&dir.join(n), n)).collect()
}

fn read(path: &Path, name: &str) -> Result<Intent, StoreError> {
    let bad = |problem: String| StoreError::Inconsistent {
        path: path.to_path_buf(),
        problem,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| StoreError::io("stat", path, e))?
        .len();
    if size > INTENT_BYTES_MAX {
        return Err(bad(format!(
            "{size} bytes; an intent record has at most {INTENT_BYTES_MAX}"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| StoreError::io("read", path, e))?;
    let file = kv::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    let txn = Uuid::parse(name).map_err(|_| bad("the file name is not a UUID".into()))?;
    let get = |key: &str| -> Result<String, StoreError> {
        file.get(key)
            .map(|e| e.value.clone())
            .ok_or_else(|| bad(format!("no {key}=")))
    };
    let volume_id =
        Uuid::parse(&get("volume-id")?).map_err(|_| bad("volume-id is not a UUID".into()))?;
    let head = ["op", "volname", "volume-id", "stage"];
    Ok(Intent {
        txn,
        op: get("op")?,
        volname: get("volname")?,
        volume_id,
        stage: get("stage")?,
        pairs: file
            .entries
            .iter()
            .filter(|e| !head.contains(&e.key.as_str()))
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(stage: &str) -> Intent {
        Intent {
            txn: Uuid::from_bytes([7; 16]),
            op: "create".into(),
            volname: "v1".into(),
            volume_id: Uuid::from_bytes([8; 16]),
            stage: stage.into(),
            pairs: vec![
                ("brick-0".into(), "/b/one".into()),
                ("step-0.kind".into(), "set-volume-id".into()),
            ],
        }
    }

    #[test]
    fn write_replace_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        write(dir.path(), &intent("begun")).unwrap();
        write(dir.path(), &intent("claimed")).unwrap();
        let found = list(dir.path()).unwrap();
        assert_eq!(found, [intent("claimed")]);
        remove(dir.path(), found[0].txn).unwrap();
        remove(dir.path(), found[0].txn).unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_half_written_record_is_dropped_and_a_damaged_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let intents = intents_dir(dir.path());
        std::fs::create_dir_all(&intents).unwrap();
        std::fs::write(intents.join("x.tmp"), b"op=cre").unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        assert!(!intents.join("x.tmp").exists());
        std::fs::write(intents.join("not-a-uuid"), b"op=create\n").unwrap();
        let err = list(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not-a-uuid"), "{err}");
    }
}
