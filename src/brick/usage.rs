//! What `volume status VOL detail` shows of a brick's file system: sizes and inode counts
//! (`statvfs`), the mount it lives on (device, type, options, as `/proc/self/mounts` lists
//! them, which is what glusterd's `getmntent` reads), and the inode size, read from the file
//! system's own superblock for XFS and ext2/3/4 (glusterd runs `xfs_info` or `tune2fs -l` for
//! it; other file systems show N/A, as with glusterd).
//!
//! Blocking (statvfs, reading a block device): call [`detail`] from a thread of its own.

use super::mounts::unescape;
use std::io::{self, Read};
use std::path::Path;

/// One brick's file-system details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// `f_bsize`.
    pub block_size: u64,
    /// Free bytes (`f_bfree * f_bsize`).
    pub free: u64,
    /// Total bytes (`f_blocks * f_bsize`).
    pub total: u64,
    /// `f_files`.
    pub total_inodes: u64,
    /// `f_ffree`.
    pub free_inodes: u64,
    /// The mount's source (`/dev/loop0`).
    pub device: String,
    /// The file-system type (`xfs`).
    pub fs_name: String,
    /// The mount options as /proc/self/mounts lists them.
    pub mnt_options: String,
    /// Bytes of an inode, for XFS and ext2/3/4.
    pub inode_size: Option<u32>,
}

/// One line of /proc/self/mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Source.
    pub device: String,
    /// Mount point.
    pub dir: String,
    /// Type.
    pub fs_type: String,
    /// Options.
    pub options: String,
}

/// Parses the text of /proc/self/mounts; malformed lines are skipped.
pub fn parse_mounts(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            Some(MountEntry {
                device: unescape(fields.next()?),
                dir: unescape(fields.next()?),
                fs_type: unescape(fields.next()?),
                options: unescape(fields.next()?),
            })
        })
        .collect()
}

/// The mount `path` lives on: the longest mount point that contains it (the last such line
/// when mounts are stacked).
pub fn mount_of<'a>(path: &Path, mounts: &'a [MountEntry]) -> Option<&'a MountEntry> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.dir))
        .fold(None, |best: Option<&MountEntry>, m| match best {
            Some(b) if b.dir.len() > m.dir.len() => Some(b),
            _ => Some(m),
        })
}

/// The inode size in an XFS primary superblock (`XFSB`, `sb_inodesize` at byte 104, big
/// endian) or an ext2/3/4 superblock (at byte 1024: magic 0xEF53 at 56, `s_inode_size` at 88,
/// little endian; revision 0 file systems have 128-byte inodes).
pub fn inode_size_from_superblock(head: &[u8]) -> Option<u32> {
    if head.len() >= 106 && &head[..4] == b"XFSB" {
        return Some(u32::from(u16::from_be_bytes([head[104], head[105]])));
    }
    let sb = head.get(1024..1024 + 92)?;
    if u16::from_le_bytes([sb[56], sb[57]]) != 0xEF53 {
        return None;
    }
    let revision = u32::from_le_bytes([sb[76], sb[77], sb[78], sb[79]]);
    if revision == 0 {
        return Some(128);
    }
    Some(u32::from(u16::from_le_bytes([sb[88], sb[89]])))
}

/// The details of the file system brick `path` lives on.
pub fn detail(path: &Path) -> io::Result<Detail> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a zeroed statvfs is a valid out-parameter; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mounts = parse_mounts(&std::fs::read_to_string("/proc/self/mounts")?);
    let mount = mount_of(path, &mounts).cloned();
    let inode_size = match &mount {
        Some(m) if matches!(m.fs_type.as_str(), "xfs" | "ext2" | "ext3" | "ext4") => {
            let mut head = vec![0u8; 2048];
            std::fs::File::open(&m.device)
                .and_then(|mut f| f.read_exact(&mut head))
                .ok()
                .and_then(|()| inode_size_from_superblock(&head))
        }
        _ => None,
    };
    let bsize = st.f_bsize as u64;
    Ok(Detail {
        block_size: bsize,
        free: (st.f_bfree as u64).saturating_mul(bsize),
        total: (st.f_blocks as u64).saturating_mul(bsize),
        total_inodes: st.f_files as u64,
        free_inodes: st.f_ffree as u64,
        device: mount.as_ref().map(|m| m.device.clone()).unwrap_or_default(),
        fs_name: mount
            .as_ref()
            .map(|m| m.fs_type.clone())
            .unwrap_or_default(),
        mnt_options: mount.map(|m| m.options).unwrap_or_default(),
        inode_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_parse_with_escapes_and_the_longest_mount_point_wins() {
        let mounts = parse_mounts(
            "/dev/vda / ext4 rw,relatime 0 0\n\
             /dev/loop0 /tmp/a\\040b xfs rw,relatime,inode64,logbufs=8,logbsize=32k,noquota 0 0\n\
             /dev/loop1 /tmp/a\\040b/c xfs rw,noatime 0 0\n\
             garbage\n",
        );
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[1].dir, "/tmp/a b");
        let m = mount_of(Path::new("/tmp/a b/data"), &mounts).unwrap();
        assert_eq!(
            (m.device.as_str(), m.options.as_str()),
            (
                "/dev/loop0",
                "rw,relatime,inode64,logbufs=8,logbsize=32k,noquota"
            )
        );
        assert_eq!(
            mount_of(Path::new("/tmp/a b/c/d"), &mounts).unwrap().device,
            "/dev/loop1"
        );
        assert_eq!(mount_of(Path::new("/srv"), &mounts).unwrap().dir, "/");
        assert_eq!(unescape("a\\0"), "a\\0");
        assert_eq!(unescape("\\134x"), "\\x");
    }

    #[test]
    fn inode_sizes_are_read_from_xfs_and_ext_superblocks() {
        let mut xfs = vec![0u8; 2048];
        xfs[..4].copy_from_slice(b"XFSB");
        xfs[104..106].copy_from_slice(&512u16.to_be_bytes());
        assert_eq!(inode_size_from_superblock(&xfs), Some(512));
        let mut ext = vec![0u8; 2048];
        ext[1024 + 56..1024 + 58].copy_from_slice(&0xEF53u16.to_le_bytes());
        ext[1024 + 76..1024 + 80].copy_from_slice(&1u32.to_le_bytes());
        ext[1024 + 88..1024 + 90].copy_from_slice(&256u16.to_le_bytes());
        assert_eq!(inode_size_from_superblock(&ext), Some(256));
        ext[1024 + 76..1024 + 80].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(inode_size_from_superblock(&ext), Some(128));
        assert_eq!(inode_size_from_superblock(&[0u8; 2048]), None);
        assert_eq!(inode_size_from_superblock(b"XFSB"), None);
        assert_eq!(inode_size_from_superblock(&[]), None);
    }

    #[test]
    fn detail_of_the_root_file_system_has_sizes() {
        let d = detail(Path::new("/")).unwrap();
        assert!(
            d.total >= d.free && d.total > 0 && d.block_size > 0,
            "{d:?}"
        );
        assert!(!d.fs_name.is_empty(), "{d:?}");
    }
}
