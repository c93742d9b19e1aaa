//! What glusterd 10.3 calls a brick process's files and volfile: the names a `glusterfsd` it
//! starts gets on its command line (observed in docs/glusterd-volume-start.md, "Facts for
//! brickd" 1-2), so that brickd starts bricks a glusterd can adopt, and adopts bricks a
//! glusterd started. Pure: strings in, strings out; nothing here starts a process.
//!
//! For brick `HOST:/data/b1` of volume `v1`:
//! - the volfile id (GETSPEC key) is `v1.HOST.data-b1`;
//! - the pid file is `<rundir>/vols/v1/HOST-data-b1.pid`;
//! - the log is `<logdir>/bricks/data-b1.log`;
//! - the unix socket is `/var/run/gluster/<16 hex>.socket`, the hex being XXH64 (seed 0) of
//!   `<rundir>/vols/v1/run/HOST-data-b1`. The directory is fixed whatever the run directory:
//!   glusterd compiles it in.

use std::path::{Path, PathBuf};

/// Where glusterd puts every brick's unix socket, whatever its run directory.
pub const SOCKET_DIR: &str = "/var/run/gluster";

/// A brick path as glusterd writes it into file names: the leading `/` dropped, every other
/// `/` a `-` (`/data/b1` → `data-b1`).
pub fn dashed_path(brick_path: &str) -> String {
    brick_path
        .strip_prefix('/')
        .unwrap_or(brick_path)
        .replace('/', "-")
}

/// The volfile id a brick process asks GETSPEC for: `<volume>.<host>.<dashed path>`.
pub fn volfile_id(volume: &str, host: &str, brick_path: &str) -> String {
    format!("{volume}.{host}.{}", dashed_path(brick_path))
}

/// The brick process's pid file: `<rundir>/vols/<volume>/<host>-<dashed path>.pid`.
pub fn pid_file(run_dir: &Path, volume: &str, host: &str, brick_path: &str) -> PathBuf {
    run_dir
        .join("vols")
        .join(volume)
        .join(format!("{host}-{}.pid", dashed_path(brick_path)))
}

/// The brick process's log: `<logdir>/bricks/<dashed path>.log`.
pub fn log_file(log_dir: &Path, brick_path: &str) -> PathBuf {
    log_dir
        .join("bricks")
        .join(format!("{}.log", dashed_path(brick_path)))
}

/// The brick process's unix socket: `/var/run/gluster/<xxh64 hex>.socket`, the hash taken of
/// `<rundir>/vols/<volume>/run/<host>-<dashed path>`.
pub fn socket_file(run_dir: &Path, volume: &str, host: &str, brick_path: &str) -> PathBuf {
    socket_file_in(Path::new(SOCKET_DIR), run_dir, volume, host, brick_path)
}

/// [`socket_file`] under `socket_dir` instead of glusterd's fixed directory.
pub fn socket_file_in(
    socket_dir: &Path,
    run_dir: &Path,
    volume: &str,
    host: &str,
    brick_path: &str,
) -> PathBuf {
    let key = run_dir
        .join("vols")
        .join(volume)
        .join("run")
        .join(format!("{host}-{}", dashed_path(brick_path)));
    let hash = xxh64(key.as_os_str().as_encoded_bytes(), 0);
    socket_dir.join(format!("{hash:016x}.socket"))
}

const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME_5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, lane: u64) -> u64 {
    acc.wrapping_add(lane.wrapping_mul(PRIME_2))
        .rotate_left(31)
        .wrapping_mul(PRIME_1)
}

fn merge_round(acc: u64, lane: u64) -> u64 {
    (acc ^ round(0, lane))
        .wrapping_mul(PRIME_1)
        .wrapping_add(PRIME_4)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn u32_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(word))
}

/// XXH64, the 64-bit xxHash of `bytes` with `seed` (the published algorithm).
pub fn xxh64(bytes: &[u8], seed: u64) -> u64 {
    let len = bytes.len();
    let mut at = 0;
    let mut hash = if len >= 32 {
        let mut lanes = [
            seed.wrapping_add(PRIME_1).wrapping_add(PRIME_2),
            seed.wrapping_add(PRIME_2),
            seed,
            seed.wrapping_sub(PRIME_1),
        ];
        while at + 32 <= len {
            for (i, lane) in lanes.iter_mut().enumerate() {
                *lane = round(*lane, u64_at(bytes, at + 8 * i));
            }
            at += 32;
        }
        let mut hash = lanes[0]
            .rotate_left(1)
            .wrapping_add(lanes[1].rotate_left(7))
            .wrapping_add(lanes[2].rotate_left(12))
            .wrapping_add(lanes[3].rotate_left(18));
        for lane in lanes {
            hash = merge_round(hash, lane);
        }
        hash
    } else {
        seed.wrapping_add(PRIME_5)
    };
    hash = hash.wrapping_add(len as u64);
    while at + 8 <= len {
        hash = (hash ^ round(0, u64_at(bytes, at)))
            .rotate_left(27)
            .wrapping_mul(PRIME_1)
            .wrapping_add(PRIME_4);
        at += 8;
    }
    if at + 4 <= len {
        hash = (hash ^ u32_at(bytes, at).wrapping_mul(PRIME_1))
            .rotate_left(23)
            .wrapping_mul(PRIME_2)
            .wrapping_add(PRIME_3);
        at += 4;
    }
    for &byte in &bytes[at..] {
        hash = (hash ^ u64::from(byte).wrapping_mul(PRIME_5))
            .rotate_left(11)
            .wrapping_mul(PRIME_1);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(PRIME_2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(PRIME_3);
    hash ^ (hash >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_the_published_values() {
        assert_eq!(xxh64(b"", 0), 0xef46_db37_51d8_e999);
        assert_eq!(xxh64(b"abc", 0), 0x44bc_2cf5_ad77_0999);
    }

    /// The three bricks a real glusterd 10.3 started (docs/glusterd-volume-start.md): run
    /// directory /tmp/obs/r, host 127.5.5.5; the names are copied from its glusterfsd command
    /// lines.
    #[test]
    fn names_are_the_ones_glusterd_gave_its_bricks() {
        let run = Path::new("/tmp/obs/r");
        let host = "127.5.5.5";
        let cases = [
            ("v1", "/tmp/obs/mnt/b1/data", "a2f298633e3ff581"),
            ("v2", "/tmp/obs/mnt/b1/r2", "96c671751d9845d5"),
            ("v2", "/tmp/obs/mnt/b2/r2", "6e4b9669134c7ca7"),
        ];
        for (volume, path, hash) in cases {
            assert_eq!(
                socket_file(run, volume, host, path),
                PathBuf::from(format!("/var/run/gluster/{hash}.socket")),
                "{volume} {path}"
            );
        }
        assert_eq!(
            volfile_id("v1", host, "/tmp/obs/mnt/b1/data"),
            "v1.127.5.5.5.tmp-obs-mnt-b1-data"
        );
        assert_eq!(
            pid_file(run, "v1", host, "/tmp/obs/mnt/b1/data"),
            PathBuf::from("/tmp/obs/r/vols/v1/127.5.5.5-tmp-obs-mnt-b1-data.pid")
        );
        assert_eq!(
            log_file(Path::new("/var/log/glusterfs"), "/tmp/obs/mnt/b1/data"),
            PathBuf::from("/var/log/glusterfs/bricks/tmp-obs-mnt-b1-data.log")
        );
    }

    #[test]
    fn xxh64_reads_every_tail_length() {
        // Every length from 0 to 72 passes through the 32-byte stripes and each tail step;
        // no input may panic, and a changed byte changes the hash.
        let bytes: Vec<u8> = (0..72u8).collect();
        for len in 0..bytes.len() {
            let a = xxh64(&bytes[..len], 0);
            if len > 0 {
                let mut other = bytes[..len].to_vec();
                other[len - 1] ^= 1;
                assert_ne!(a, xxh64(&other, 0), "length {len}");
            }
        }
    }
}
