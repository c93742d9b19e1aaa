//! A throw-away LVM volume group on a loop device, for `tests/lvm.rs` and `benches/lvm.rs`.
//!
//! [`ScratchVg::create`] makes a sparse file, attaches it with `losetup -f --show`, and runs
//! `pvcreate` and `vgcreate` with a unique name (`brickdtest_<pid>_<n>`). Drop removes all of
//! it (`vgremove -f`, `pvremove`, `lvmdevices --deldev` when a devices file is in use,
//! `losetup -d`, the file), also when the test panics. Only LVM metadata is touched: no LV is
//! created or activated, so no device-mapper is needed.
#![allow(dead_code)] // each includer uses a different part

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Size of each sparse backing file: a few 4 MiB extents.
const IMAGE_BYTES: u64 = 32 * 1024 * 1024;

static NEXT: AtomicU32 = AtomicU32::new(0);
/// losetup -f and LVM's own scans race when tests set up VGs in parallel.
static SETUP: Mutex<()> = Mutex::new(());

/// Why LVM tests cannot run here, if they cannot (not root, tools missing).
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (loop devices, pvcreate, vgcreate)".into());
    }
    for tool in ["losetup", "pvcreate", "vgcreate", "vgs"] {
        let found = Command::new(tool).arg("--version").output().is_ok();
        if !found {
            return Some(format!("`{tool}` not found (install util-linux and lvm2)"));
        }
    }
    if !std::path::Path::new("/dev/loop-control").exists() {
        return Some("no /dev/loop-control (loop driver missing)".into());
    }
    None
}

/// Runs an LVM or util-linux tool; panics with its output if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {program}: {err}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn run_quietly(program: &str, args: &[&str]) {
    let _ = Command::new(program)
        .args(args)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .output();
}

/// A volume group on one loop device, removed on drop.
pub struct ScratchVg {
    /// The VG name.
    pub name: String,
    loop_device: Option<String>,
    pv_created: bool,
    image: PathBuf,
}

impl ScratchVg {
    /// Creates the VG; panics (after cleaning up what was made) if a step fails.
    pub fn create() -> ScratchVg {
        let _serial = SETUP
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("brickdtest_{}_{n}", std::process::id());
        let image = std::env::temp_dir().join(format!("{name}.img"));
        let file = std::fs::File::create(&image).expect("create the backing file");
        file.set_len(IMAGE_BYTES).expect("size the backing file");
        drop(file);
        let mut vg = ScratchVg {
            name,
            loop_device: None,
            pv_created: false,
            image,
        };
        let image_path = vg.image.to_str().expect("temp paths are UTF-8").to_owned();
        let device = run("losetup", &["-f", "--show", &image_path]);
        vg.loop_device = Some(device.trim().to_owned());
        let device = vg.loop_device.clone().unwrap_or_default();
        run("pvcreate", &["-q", &device]);
        vg.pv_created = true;
        run("vgcreate", &["-q", &vg.name, &device]);
        vg
    }

    /// `vgs --noheadings -o <field> <vg>`, trimmed.
    pub fn field(&self, field: &str) -> String {
        run(
            "vgs",
            &[
                "--noheadings",
                "--units",
                "b",
                "--nosuffix",
                "-o",
                field,
                &self.name,
            ],
        )
        .trim()
        .to_owned()
    }

    /// The VG's tags as `vgs -o tags` shows them, sorted.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .field("vg_tags")
            .split(',')
            .filter(|tag| !tag.is_empty())
            .map(str::to_owned)
            .collect();
        tags.sort();
        tags
    }

    /// Adds tags with the `vgchange` command (not through brickd).
    pub fn add_tags_with_cli(&self, tags: &[&str]) {
        let mut args = Vec::new();
        for tag in tags {
            args.extend(["--addtag", tag]);
        }
        args.push(&self.name);
        run("vgchange", &args);
    }
}

impl Drop for ScratchVg {
    fn drop(&mut self) {
        run_quietly("vgremove", &["-f", "-q", &self.name]);
        if let Some(device) = self.loop_device.take() {
            if self.pv_created {
                run_quietly("pvremove", &["-ff", "-y", "-q", &device]);
                // Only does something when the system uses an LVM devices file.
                run_quietly("lvmdevices", &["--deldev", &device]);
            }
            run_quietly("losetup", &["-d", &device]);
        }
        let _ = std::fs::remove_file(&self.image);
    }
}
