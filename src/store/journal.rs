//! The commit journal: what a commit is about to change, made durable before it changes
//! anything, so that a commit cut short (a crash, kill -9, power loss) is finished at start-up
//! instead of leaving a half-made volume or a brick "already part of a volume".
//!
//! A record carries everything needed to redo its commit: the operation, the volume, the
//! bricks, and for a create every store file with its bytes. The commit appends the record and
//! waits for one `fdatasync`; after that the claim, the store files and the release are done
//! without waiting for the disk, and the journal is cleared once a background pass has synced
//! them. At start-up every record still in the journal is redone in sequence order (`ops::
//! recover`); redoing is idempotent, so a record whose changes were already durable costs
//! nothing but time.
//!
//! Files: `<workdir>/brickd/journal/<shard>-<n>.log`, a shard's current one and those being
//! retired, each an append-only sequence of frames (then, in a spare file, zeros). A frame is
//! `BJR1`, the payload length (u32 LE), the CRC-32 of the payload (u32 LE), then the payload. Reading stops at the first frame that is short or does not check:
//! that is the tail a crash cut off, and its commit never went further than the append.
//! glusterd never looks under `brickd/`.
//!
//! Payload: `seq` u64, `txn` 16 bytes, `op`, `volname`, `volume_id` 16 bytes, the pairs
//! (count u32, then key and value), the files (count u32, then workdir-relative path and
//! bytes). Strings and byte strings are a u32 LE length and the bytes; integers are LE.

use crate::model::Uuid;
use std::path::{Path, PathBuf};

/// The frame's magic.
pub const MAGIC: &[u8; 4] = b"BJR1";
/// Bytes of a frame head (magic, length, CRC).
pub const HEAD_BYTES: usize = 12;
/// Most bytes one record's payload may have (a create of thousands of bricks is tens of MiB).
pub const RECORD_BYTES_MAX: usize = 128 << 20;
/// Most pairs one record may have.
pub const PAIRS_MAX: usize = 1 << 20;
/// Most files one record may have.
pub const FILES_MAX: usize = 1 << 20;
/// Most bytes of one journal file that start-up reads.
pub const JOURNAL_BYTES_MAX: u64 = 1 << 32;

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Order across all shards' journals (one counter per node).
    pub seq: u64,
    /// The transaction.
    pub txn: Uuid,
    /// `create`, `delete`, `abort` (the create of the same `txn` failed and was undone) or
    /// `abort-delete` (the delete of the same `txn` failed before changing anything).
    pub op: String,
    /// The volume.
    pub volname: String,
    /// The volume's id.
    pub volume_id: Uuid,
    /// The op's own pairs, in order (bricks and what they were before).
    pub pairs: Vec<(String, String)>,
    /// Files the commit writes: path relative to the workdir, bytes.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Record {
    /// The value of `key` among the pairs.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the frame needs (a cut-off tail).
    #[error("truncated frame: {0}")]
    Truncated(&'static str),
    /// Not a frame.
    #[error("bad magic")]
    Magic,
    /// The payload is longer than [`RECORD_BYTES_MAX`].
    #[error("payload of {0} bytes; at most {RECORD_BYTES_MAX}")]
    TooLong(u64),
    /// The payload does not check.
    #[error("CRC mismatch")]
    Crc,
    /// The payload checks but does not decode (a bug or a foreign file).
    #[error("damaged payload: {0}")]
    Payload(String),
}

/// The journal directory under `workdir`.
pub fn journal_dir(workdir: &Path) -> PathBuf {
    workdir.join("brickd").join("journal")
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The record as one frame.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut payload = Vec::with_capacity(
        256 + record
            .files
            .iter()
            .map(|(p, d)| p.len() + d.len() + 8)
            .sum::<usize>(),
    );
    payload.extend_from_slice(&record.seq.to_le_bytes());
    payload.extend_from_slice(record.txn.as_bytes());
    put_bytes(&mut payload, record.op.as_bytes());
    put_bytes(&mut payload, record.volname.as_bytes());
    payload.extend_from_slice(record.volume_id.as_bytes());
    payload.extend_from_slice(&(record.pairs.len() as u32).to_le_bytes());
    for (k, v) in &record.pairs {
        put_bytes(&mut payload, k.as_bytes());
        put_bytes(&mut payload, v.as_bytes());
    }
    payload.extend_from_slice(&(record.files.len() as u32).to_le_bytes());
    for (path, data) in &record.files {
        put_bytes(&mut payload, path.as_bytes());
        put_bytes(&mut payload, data);
    }
    let mut frame = Vec::with_capacity(HEAD_BYTES + payload.len());
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err(format!(
                "{what}: {n} bytes wanted, {} left",
                self.bytes.len()
            ));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn uuid(&mut self, what: &str) -> Result<Uuid, String> {
        let b = self.take(16, what)?;
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        Ok(Uuid::from_bytes(a))
    }
    fn bytes(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    fn string(&mut self, what: &str) -> Result<String, String> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| format!("{what} is not UTF-8"))
    }
    /// A count of items each at least `min_bytes` long, checked against what is left.
    fn count(&mut self, what: &str, max: usize, min_bytes: usize) -> Result<usize, String> {
        let n = self.u32(what)? as usize;
        if n > max || n.saturating_mul(min_bytes) > self.bytes.len() {
            return Err(format!("{what}: {n} is more than the payload can hold"));
        }
        Ok(n)
    }
}

fn decode_payload(payload: &[u8]) -> Result<Record, String> {
    let mut r = Reader { bytes: payload };
    let seq = r.u64("seq")?;
    let txn = r.uuid("txn")?;
    let op = r.string("op")?;
    let volname = r.string("volname")?;
    let volume_id = r.uuid("volume-id")?;
    let n = r.count("pairs", PAIRS_MAX, 8)?;
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        pairs.push((r.string("pair key")?, r.string("pair value")?));
    }
    let n = r.count("files", FILES_MAX, 8)?;
    let mut files = Vec::with_capacity(n);
    for _ in 0..n {
        let path = r.string("file path")?;
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(format!("file path {path:?} is not inside the workdir"));
        }
        files.push((path, r.bytes("file bytes")?.to_vec()));
    }
    if !r.bytes.is_empty() {
        return Err(format!("{} bytes after the record", r.bytes.len()));
    }
    Ok(Record {
        seq,
        txn,
        op,
        volname,
        volume_id,
        pairs,
        files,
    })
}

/// Reads the frame at the start of `bytes`: the record and the frame's length.
pub fn decode(bytes: &[u8]) -> Result<(Record, usize), FrameError> {
    if bytes.len() < HEAD_BYTES {
        return Err(FrameError::Truncated("head"));
    }
    if &bytes[..4] != MAGIC {
        return Err(FrameError::Magic);
    }
    let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    if len > RECORD_BYTES_MAX {
        return Err(FrameError::TooLong(len as u64));
    }
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let Some(payload) = bytes.get(HEAD_BYTES..HEAD_BYTES + len) else {
        return Err(FrameError::Truncated("payload"));
    };
    if crc32fast::hash(payload) != crc {
        return Err(FrameError::Crc);
    }
    let record = decode_payload(payload).map_err(FrameError::Payload)?;
    Ok((record, HEAD_BYTES + len))
}

/// What one journal file holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Contents {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Why reading stopped before the end (a cut-off tail), with its offset.
    pub tail: Option<(usize, FrameError)>,
    /// A whole frame follows the one that did not read: not a cut-off tail but damage, and
    /// the records after it would be lost.
    pub damaged: bool,
}

/// Does a frame that reads start anywhere after the first byte of `bytes`?
fn whole_frame_after(bytes: &[u8]) -> bool {
    (1..bytes.len().saturating_sub(HEAD_BYTES - 1))
        .filter(|&i| &bytes[i..i + 4] == MAGIC)
        .any(|i| decode(&bytes[i..]).is_ok())
}

/// Every record of a journal file's bytes, up to the first frame that does not read.
pub fn decode_all(bytes: &[u8]) -> Contents {
    let mut contents = Contents::default();
    let mut at = 0;
    while at < bytes.len() {
        // A spare file's zeros after the last record: a clean end.
        if bytes[at..].iter().take(HEAD_BYTES).all(|&b| b == 0) {
            break;
        }
        match decode(&bytes[at..]) {
            Ok((record, len)) => {
                contents.records.push(record);
                at += len;
            }
            Err(e) => {
                // Only the last batch can be torn (each is flushed before the next is
                // written): a whole frame further on means damage in the middle.
                contents.damaged = whole_frame_after(&bytes[at..]);
                contents.tail = Some((at, e));
                break;
            }
        }
    }
    contents
}

/// A journal file's cut-off tail: the file, the offset, why the frame there did not read.
pub type Tail = (PathBuf, usize, FrameError);

/// Every record of every journal under `workdir`, in `seq` order, with each file's cut-off
/// tail (logged by the caller).
pub fn read_all(workdir: &Path) -> std::io::Result<(Vec<Record>, Vec<Tail>)> {
    let dir = journal_dir(workdir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    let mut tails = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("log") {
            continue;
        }
        // A file removed since the listing (a running brickd retiring it) has nothing to redo.
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if size > JOURNAL_BYTES_MAX {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: {size} bytes; a journal has at most {JOURNAL_BYTES_MAX}",
                    path.display()
                ),
            ));
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let contents = decode_all(&bytes);
        if contents.damaged {
            let at = contents.tail.as_ref().map_or(0, |(at, _)| *at);
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: damaged at offset {at}, with whole records after it; move the file \
                     aside (its records after the damage would be lost) to start",
                    path.display()
                ),
            ));
        }
        records.extend(contents.records);
        if let Some((at, e)) = contents.tail {
            tails.push((path, at, e));
        }
    }
    records.sort_by_key(|r| r.seq);
    Ok((records, tails))
}

/// Removes every journal file under `workdir`, durably (after recovery redid them).
pub fn clear(workdir: &Path) -> std::io::Result<()> {
    let dir = journal_dir(workdir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        std::fs::remove_file(entry?.path())?;
    }
    std::fs::File::open(&dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Record {
        Record {
            seq,
            txn: Uuid::from_bytes([7; 16]),
            op: "create".into(),
            volname: "v1".into(),
            volume_id: Uuid::from_bytes([8; 16]),
            pairs: vec![
                ("brick-0".into(), "/b/one".into()),
                ("brick-0.existed".into(), "0".into()),
            ],
            files: vec![
                ("vols/v1/info".into(), b"type=0\n".to_vec()),
                ("vols/v1/bricks/h:-b-one".into(), Vec::new()),
            ],
        }
    }

    #[test]
    fn records_round_trip_and_a_cut_tail_stops_reading() {
        let mut bytes = encode(&record(1));
        bytes.extend(encode(&record(2)));
        let whole = decode_all(&bytes);
        assert_eq!(whole.records, [record(1), record(2)]);
        assert_eq!(whole.tail, None);
        let first = encode(&record(1)).len();
        for cut in [first + 1, first + HEAD_BYTES, bytes.len() - 1] {
            let c = decode_all(&bytes[..cut]);
            assert_eq!(c.records, [record(1)], "cut at {cut}");
            assert!(matches!(c.tail, Some((at, FrameError::Truncated(_))) if at == first));
        }
    }

    #[test]
    fn damage_in_the_middle_is_told_from_a_cut_tail() {
        let mut bytes = encode(&record(1));
        let first = bytes.len();
        bytes.extend(encode(&record(2)));
        bytes.extend(encode(&record(3)));
        // The second frame's payload damaged: the third still reads.
        let mut middle = bytes.clone();
        middle[first + HEAD_BYTES + 3] ^= 0xff;
        let c = decode_all(&middle);
        assert_eq!(c.records, [record(1)]);
        assert!(c.damaged);
        // A cut-off last frame is not damage.
        let c = decode_all(&bytes[..bytes.len() - 5]);
        assert_eq!(c.records.len(), 2);
        assert!(!c.damaged);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(journal_dir(dir.path())).unwrap();
        std::fs::write(journal_dir(dir.path()).join("0-1.log"), &middle).unwrap();
        let err = read_all(dir.path()).unwrap_err();
        assert!(err.to_string().contains("damaged at offset"), "{err}");
    }

    #[test]
    fn damage_is_refused_not_misread() {
        let good = encode(&record(3));
        // A flipped payload byte: the CRC catches it.
        let mut bad = good.clone();
        bad[HEAD_BYTES + 9] ^= 1;
        assert_eq!(decode(&bad).unwrap_err(), FrameError::Crc);
        // Not a frame.
        assert_eq!(decode(&[0u8; 40]).unwrap_err(), FrameError::Magic);
        // A length past the cap (negative as i32).
        let mut long = good.clone();
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&long).unwrap_err(),
            FrameError::TooLong(u32::MAX as u64)
        );
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        f.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn payloads_that_check_but_lie_are_errors() {
        let good = encode(&record(4));
        let payload = &good[HEAD_BYTES..];
        // Every truncation of a checked payload.
        for cut in 0..payload.len() {
            assert!(
                matches!(decode(&frame(&payload[..cut])), Err(FrameError::Payload(_))),
                "cut {cut}"
            );
        }
        // A huge (or negative) pair count.
        let mut p = payload.to_vec();
        let pairs_at = 8 + 16 + 4 + 6 + 4 + 2 + 16;
        p[pairs_at..pairs_at + 4].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(matches!(decode(&frame(&p)), Err(FrameError::Payload(_))));
        // A path that leaves the workdir.
        let mut r = record(5);
        r.files[0].0 = "../etc/passwd".into();
        let mut f = encode(&r);
        // encode does not judge; decode does.
        assert!(matches!(decode(&f), Err(FrameError::Payload(_))));
        r.files[0].0 = "/etc/passwd".into();
        f = encode(&r);
        assert!(matches!(decode(&f), Err(FrameError::Payload(_))));
        // Trailing bytes.
        let mut p = payload.to_vec();
        p.push(0);
        assert!(matches!(decode(&frame(&p)), Err(FrameError::Payload(_))));
    }

    #[test]
    fn read_all_orders_by_seq_across_files_and_clear_empties() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(journal_dir(dir.path())).unwrap();
        let mut zero = encode(&record(3));
        zero.extend(encode(&record(1)));
        zero.extend_from_slice(b"BJR1\x05");
        // Zeros after the records (a spare file's) end a file cleanly.
        let mut one = encode(&record(2));
        one.extend_from_slice(&[0u8; 4096]);
        std::fs::write(journal_dir(dir.path()).join("0-1.log"), zero).unwrap();
        std::fs::write(journal_dir(dir.path()).join("1-1.log"), one).unwrap();
        let (records, tails) = read_all(dir.path()).unwrap();
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(tails.len(), 1);
        clear(dir.path()).unwrap();
        assert!(read_all(dir.path()).unwrap().0.is_empty());
    }
}
