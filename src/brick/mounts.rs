//! The mount table (`/proc/self/mountinfo`), parsed, so a brick's mount point, file system,
//! source device and read-only flag can be found from the mount id `statx` reports.
//!
//! Reading mountinfo is a procfs read: it never waits on a disk, so it runs inline on the caller's
//! thread. Parsing is pure and bounded. Even so it costs ~0.1 ms with two dozen mounts (the
//! kernel formats every line), so [`MountTable::current`] keeps the last table per thread and
//! reads again when the kernel says the mount namespace changed (an open mountinfo file polls
//! with `POLLPRI` once after each mount or unmount) or when it is [`TABLE_MAX_AGE`] old: a
//! file system the kernel turns read-only after an error raises no mount event.

use std::cell::RefCell;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

/// How long a thread's cached table is used without a mount event: the bound on how late a
/// change without one (an error remounting a file system read-only) is seen.
pub const TABLE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// The most mountinfo bytes brickd reads (a host with thousands of mounts fits).
pub const MOUNTINFO_BYTES_MAX: usize = 16 << 20;

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The mount id (`statx`'s `stx_mnt_id`).
    pub id: u64,
    /// The device, `major:minor`.
    pub dev_major: u32,
    /// See `dev_major`.
    pub dev_minor: u32,
    /// The directory of the file system mounted here (`/` unless a bind mount of a subtree).
    pub root: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// Per-mount options (`rw`, `ro`, `noatime`, …).
    pub options: String,
    /// File-system type (`xfs`, `ext4`, …).
    pub fs_type: String,
    /// Mount source (`/dev/loop3`, `tmpfs`, …).
    pub source: String,
    /// Per-superblock options.
    pub super_options: String,
}

impl Mount {
    /// Whether the mount is read-only (per mount or per superblock).
    pub fn read_only(&self) -> bool {
        let has_ro = |opts: &str| opts.split(',').any(|o| o == "ro");
        has_ro(&self.options) || has_ro(&self.super_options)
    }
}

/// The whole table.
#[derive(Clone, Debug, Default)]
pub struct MountTable {
    /// Every mount, in file order.
    pub mounts: Vec<Mount>,
}

impl MountTable {
    /// Reads and parses `/proc/self/mountinfo`.
    pub fn read() -> io::Result<MountTable> {
        use std::io::Read;
        let file = std::fs::File::open("/proc/self/mountinfo")?;
        let mut text = String::new();
        file.take(MOUNTINFO_BYTES_MAX as u64)
            .read_to_string(&mut text)?;
        Ok(MountTable::parse(&text))
    }

    /// The table as it is now: the thread's cached copy when no mount or unmount happened since
    /// it was read and it is younger than [`TABLE_MAX_AGE`], else a fresh read. The check is
    /// one `poll` on a mountinfo file kept open (the kernel flags it after every change to the
    /// mount namespace).
    pub fn current() -> io::Result<Rc<MountTable>> {
        type Cached = (std::fs::File, std::time::Instant, Rc<MountTable>);
        thread_local! {
            static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
        }
        CACHE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some((watch, read_at, table)) = cache.as_ref() {
                // Polled every time, so that an event is consumed by the read that covers it.
                let changed = changed(watch);
                if !changed && read_at.elapsed() < TABLE_MAX_AGE {
                    return Ok(table.clone());
                }
            }
            // The watch is opened (or polled, above) before the read, so any change after
            // the read is flagged on the next call.
            let watch = match cache.take() {
                Some((watch, _, _)) => watch,
                None => std::fs::File::open("/proc/self/mountinfo")?,
            };
            let read_at = std::time::Instant::now();
            let table = Rc::new(MountTable::read()?);
            *cache = Some((watch, read_at, table.clone()));
            Ok(table)
        })
    }

    /// Parses mountinfo text; malformed lines are skipped.
    pub fn parse(text: &str) -> MountTable {
        MountTable {
            mounts: text.lines().filter_map(parse_line).collect(),
        }
    }

    /// The mount with this id (the last one wins, as later mounts shadow earlier ones).
    pub fn by_id(&self, id: u64) -> Option<&Mount> {
        self.mounts.iter().rev().find(|m| m.id == id)
    }
}

/// Whether the mount namespace changed since `watch` was opened or last polled (an error
/// counts as a change: the caller reads the table again).
fn changed(watch: &std::fs::File) -> bool {
    let mut fds = libc::pollfd {
        fd: watch.as_raw_fd(),
        events: libc::POLLPRI,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut fds, 1, 0) };
    n != 0 || fds.revents & (libc::POLLPRI | libc::POLLERR) != 0
}

fn parse_line(line: &str) -> Option<Mount> {
    let (head, tail) = line.split_once(" - ")?;
    let mut h = head.split(' ');
    let id = h.next()?.parse().ok()?;
    let _parent = h.next()?;
    let (major, minor) = h.next()?.split_once(':')?;
    let root = unescape(h.next()?);
    let mount_point = unescape(h.next()?);
    let options = h.next()?.to_string();
    let mut t = tail.split(' ');
    let fs_type = unescape(t.next()?);
    let source = unescape(t.next()?);
    let super_options = t.next().unwrap_or("").to_string();
    Some(Mount {
        id,
        dev_major: major.parse().ok()?,
        dev_minor: minor.parse().ok()?,
        root,
        mount_point,
        options,
        fs_type,
        source,
        super_options,
    })
}

/// mountinfo (and /proc/self/mounts) escape space, tab, newline and backslash as `\ooo`.
pub(crate) fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = &bytes[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let value = (oct[0] - b'0') as u32 * 64
                    + (oct[1] - b'0') as u32 * 8
                    + (oct[2] - b'0') as u32;
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
98 22 7:3 / /tmp/x\\040y/b1 rw,relatime shared:50 - xfs /dev/loop3 rw,attr2,inode64
99 22 7:4 /sub /mnt/bind ro,relatime - xfs /dev/loop4 rw
garbage line
";

    #[test]
    fn parses_lines_and_escapes() {
        let t = MountTable::parse(SAMPLE);
        assert_eq!(t.mounts.len(), 3);
        let m = t.by_id(98).unwrap();
        assert_eq!(m.mount_point, "/tmp/x y/b1");
        assert_eq!(m.fs_type, "xfs");
        assert_eq!(m.source, "/dev/loop3");
        assert_eq!((m.dev_major, m.dev_minor), (7, 3));
        assert!(!m.read_only());
        let b = t.by_id(99).unwrap();
        assert_eq!(b.root, "/sub");
        assert!(b.read_only());
        assert!(t.by_id(5).is_none());
    }

    #[test]
    fn truncated_lines_are_skipped() {
        for cut in 0..SAMPLE.len() {
            let _ = MountTable::parse(&SAMPLE[..cut]);
        }
        assert_eq!(unescape("a\\04"), "a\\04");
        assert_eq!(unescape("a\\999"), "a\\999");
        assert_eq!(unescape("\\134"), "\\");
    }

    #[test]
    fn reads_this_machines_table() {
        let t = MountTable::read().unwrap();
        assert!(t.mounts.iter().any(|m| m.mount_point == "/"));
    }

    #[test]
    fn the_cached_table_is_read_again_after_a_mount() {
        // Needs CAP_SYS_ADMIN for the tmpfs mount (CI runs as root); the cached half runs always.
        let first = MountTable::current().unwrap();
        let again = MountTable::current().unwrap();
        assert!(Rc::ptr_eq(&first, &again), "no change: the same table");
        std::thread::sleep(TABLE_MAX_AGE);
        let aged = MountTable::current().unwrap();
        assert!(!Rc::ptr_eq(&first, &aged), "read again once old");
        let dir = std::env::temp_dir().join(format!("brickd-mounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let fs = std::ffi::CString::new("tmpfs").unwrap();
        // SAFETY: valid C strings, no data.
        let mounted =
            unsafe { libc::mount(fs.as_ptr(), c.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) } == 0;
        if !mounted {
            crate::test_skip::missing(
                "brick::mounts (mount half)",
                &format!(
                    "mount(2) refused ({}); run as root",
                    io::Error::last_os_error()
                ),
            );
            let _ = std::fs::remove_dir(&dir);
            return;
        }
        let after = MountTable::current().unwrap();
        let target = dir.to_str().unwrap();
        assert!(after.mounts.iter().any(|m| m.mount_point == target));
        // SAFETY: a valid C string.
        unsafe { libc::umount(c.as_ptr()) };
        let gone = MountTable::current().unwrap();
        assert!(!gone.mounts.iter().any(|m| m.mount_point == target));
        let _ = std::fs::remove_dir(&dir);
    }
}
