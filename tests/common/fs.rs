//! Real file systems for brick tests: XFS on loop devices mounted under a temp dir, and a
//! snapshot of a directory tree (entries, modes, xattrs) to prove that something changed
//! nothing. Fixtures clean up in Drop, so a failing test leaves no mount or loop device.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why brick tests cannot run here, or None if they can (root, loop devices, mkfs.xfs).
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("brick tests need root (loop devices, mount, trusted.* xattrs)".into());
    }
    for tool in ["losetup", "mkfs.xfs", "mount", "umount"] {
        let found = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        if !found {
            return Some(format!(
                "{tool} is not installed (apt-get install xfsprogs util-linux)"
            ));
        }
    }
    None
}

/// Prints why and returns true if the brick tests must skip.
pub fn must_skip(test: &str) -> bool {
    match skip_reason() {
        Some(why) => {
            super::skip::missing(test, &why);
            true
        }
        None => false,
    }
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// An XFS file system on a loop device, mounted at `mount`.
pub struct Xfs {
    pub dir: tempfile::TempDir,
    pub mount: PathBuf,
    pub device: String,
    mounted: bool,
}

/// mkfs.xfs refuses file systems under 300 MiB.
pub const XFS_BYTES: u64 = 320 << 20;

impl Xfs {
    /// Makes and mounts a fresh XFS.
    pub fn new() -> Xfs {
        let dir = tempfile::Builder::new()
            .prefix("brickd-xfs-")
            .tempdir()
            .expect("temp dir");
        let image = dir.path().join("image");
        let f = std::fs::File::create(&image).expect("image file");
        f.set_len(XFS_BYTES).expect("size image");
        drop(f);
        // losetup -f can race with another test taking the same device: retry.
        let mut device = None;
        let mut last = String::new();
        for _ in 0..10 {
            match run(Command::new("losetup").args(["-f", "--show"]).arg(&image)) {
                Ok(d) => {
                    device = Some(d);
                    break;
                }
                Err(e) => {
                    last = e;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
        let device = device.unwrap_or_else(|| panic!("losetup: {last}"));
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        let mut xfs = Xfs {
            dir,
            mount,
            device,
            mounted: false,
        };
        run(Command::new("mkfs.xfs").args(["-q", "-f"]).arg(&xfs.device)).expect("mkfs.xfs");
        run(Command::new("mount").arg(&xfs.device).arg(&xfs.mount)).expect("mount");
        xfs.mounted = true;
        xfs
    }

    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.mount.join(rel)
    }

    /// The mount point as text.
    pub fn root(&self) -> String {
        self.mount.to_string_lossy().into_owned()
    }

    /// Remounts read-only (or back).
    pub fn remount(&self, read_only: bool) {
        let opt = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        run(Command::new("mount").args(["-o", opt]).arg(&self.mount)).expect("remount");
    }
}

impl Drop for Xfs {
    fn drop(&mut self) {
        if self.mounted && run(Command::new("umount").arg(&self.mount)).is_err() {
            let _ = run(Command::new("umount").arg("-l").arg(&self.mount));
        }
        let _ = run(Command::new("losetup").arg("-d").arg(&self.device));
    }
}

fn cpath(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in test paths")
}

/// Sets an xattr on a path (not following a final symlink), like `setfattr`.
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    let p = cpath(path);
    let n = CString::new(name).unwrap();
    // SAFETY: valid C strings and a buffer of the given length.
    let rc = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "lsetxattr {name} on {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Removes an xattr from a path (not following a final symlink), like `setfattr -x`.
pub fn remove_xattr(path: &Path, name: &str) {
    let p = cpath(path);
    let n = CString::new(name).unwrap();
    // SAFETY: valid C strings.
    let rc = unsafe { libc::lremovexattr(p.as_ptr(), n.as_ptr()) };
    assert_eq!(
        rc,
        0,
        "lremovexattr {name} on {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Reads an xattr, None if absent.
pub fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = cpath(path);
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the given length.
    let rc = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        return None;
    }
    buf.truncate(rc as usize);
    Some(buf)
}

fn list_xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let p = cpath(path);
    let mut buf = vec![0u8; 65536];
    // SAFETY: valid C string and a buffer of the given length.
    let rc = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let mut out = BTreeMap::new();
    if rc <= 0 {
        return out;
    }
    for name in buf[..rc as usize]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
    {
        let name = String::from_utf8_lossy(name).into_owned();
        if let Some(v) = get_xattr(path, &name) {
            out.insert(name, v);
        }
    }
    out
}

/// One entry of a snapshot.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Every entry under `root` (and `root` itself): type+mode and xattrs. Also the xattrs of each
/// ancestor of `root` up to `/` (the path-in-use walk reads those).
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    fn walk(p: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        let Ok(meta) = std::fs::symlink_metadata(p) else {
            return;
        };
        out.insert(
            p.to_path_buf(),
            Entry {
                mode: meta.mode(),
                xattrs: list_xattrs(p),
            },
        );
        if meta.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(p)
                .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            names.sort();
            for n in names {
                walk(&n, out);
            }
        }
    }
    walk(root, &mut out);
    let mut anc = root.parent();
    while let Some(a) = anc {
        let meta = std::fs::symlink_metadata(a).unwrap();
        out.insert(
            a.to_path_buf(),
            Entry {
                mode: meta.mode(),
                xattrs: list_xattrs(a),
            },
        );
        anc = a.parent();
    }
    out
}
