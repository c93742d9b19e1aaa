//! One brick of a volume (`vols/<volume>/bricks/<host>:<path-with-dashes>`).

use super::{Extra, Uuid};

/// A brick as glusterd keeps it in its bricks file.
///
/// The string fields are kept as written; an empty string stands for "not written" where
/// glusterd writes a key only when it is set (`device_path`, `mount_dir`, `fs-type`,
/// `mnt-opts`, `vg`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Brick {
    /// UUID of the node that owns the brick (`uuid=`); nil for an unresolved thin-arbiter
    /// brick.
    pub uuid: Uuid,
    /// Host name as given at create time (`hostname=`).
    pub hostname: String,
    /// Brick directory as given at create time (`path=`).
    pub path: String,
    /// `real_path=`; glusterd 10.3 writes `path` here, not the resolved path.
    pub real_path: String,
    /// TCP port of the running brick process, 0 if it never ran (`listen-port=`).
    pub listen_port: u32,
    /// RDMA port, 0 without RDMA (`rdma.listen-port=`).
    pub rdma_listen_port: u32,
    /// Non-zero while the brick is being removed (`decommissioned=`).
    pub decommissioned: u32,
    /// `<volume>-client-<index>`, or `<volume>-ta-<index>` for a thin arbiter (`brick-id=`).
    pub brick_id: String,
    /// Block device of a snapshot brick (`device_path=`), empty if not written.
    pub device_path: String,
    /// The brick path relative to its mount point, e.g. `/data` (`mount_dir=`), empty if not
    /// written.
    pub mount_dir: String,
    /// File-system type of a snapshot brick (`fs-type=`), empty if not written.
    pub fs_type: String,
    /// Mount options of a snapshot brick (`mnt-opts=`), empty if not written.
    pub mnt_opts: String,
    /// Snapshot status (`snap-status=`).
    pub snap_status: i32,
    /// `statvfs` `f_fsid` of the brick's file system, decimal (`brick-fsid=`); glusterd uses it
    /// to count bricks sharing a file system.
    pub brick_fsid: u64,
    /// LVM volume group (`vg=`), empty if not written.
    pub vg: String,
    /// Keys brickd does not know, in file order.
    pub extra: Extra,
}

impl Brick {
    /// `host:path`, the form the CLI prints and sends.
    pub fn name(&self) -> String {
        format!("{}:{}", self.hostname, self.path)
    }

    /// The name of this brick's file under `vols/<volume>/bricks/`; see [`brick_file_name`].
    pub fn file_name(&self) -> String {
        brick_file_name(&self.hostname, &self.path)
    }
}

/// The bricks file name glusterd uses for a brick, which is also the value of `brick-N` in
/// `info`: `<host>:<path>` with every `/` of the path replaced by `-`
/// (`node-a:/srv/d0/v` → `node-a:-srv-d0-v`). The host is kept as it is.
pub fn brick_file_name(hostname: &str, path: &str) -> String {
    format!("{hostname}:{}", path.replace('/', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_replaces_every_slash_of_the_path_only() {
        assert_eq!(
            brick_file_name("vm", "/bricks/b1/data"),
            "vm:-bricks-b1-data"
        );
        assert_eq!(brick_file_name("node-a", "/srv/d0/v/"), "node-a:-srv-d0-v-");
        assert_eq!(brick_file_name("a/b", "/x"), "a/b:-x");
    }

    #[test]
    fn name_joins_host_and_path() {
        let brick = Brick {
            hostname: "node-a".into(),
            path: "/srv/d0/v".into(),
            ..Brick::default()
        };
        assert_eq!(brick.name(), "node-a:/srv/d0/v");
        assert_eq!(brick.file_name(), "node-a:-srv-d0-v");
    }
}
