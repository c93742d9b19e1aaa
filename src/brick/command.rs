//! The `brickd brick …` operator commands: `inspect` and `release`.
//!
//! They run outside the daemon, as root, on this node's bricks: they start their own brick
//! engine (and the LVM helper when a volume group is involved) and read the workdir only if it
//! holds a node identity already (they never create one).

use super::claim::{release, ReleaseRequest};
use super::engine::{Engine, EngineConfig};
use super::host::HostMap;
use super::inspect;
use super::validate::{self, Env, GroupKind, Request};
use crate::lvm::{LvmClient, LvmConfig};
use crate::model::Uuid;
use futures_lite::future::block_on;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `brickd brick …`.
#[derive(Debug, clap::Args)]
pub struct BrickArgs {
    #[command(subcommand)]
    command: BrickCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BrickCommand {
    /// What `volume create` validation would say about bricks, and what it read.
    Inspect(InspectArgs),
    /// Remove a volume's claim from a brick, only if the brick carries that volume's id.
    Release(ReleaseArgs),
}

/// `brickd brick inspect`.
#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// Bricks: `/path`, `host:/path`, optionally with `?VG` naming a volume group.
    #[arg(required = true, value_name = "BRICK")]
    bricks: Vec<String>,
    /// The workdir whose volumes' bricks count as existing bricks.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/brickd")]
    workdir: PathBuf,
    /// Validate as for this volume name.
    #[arg(long, value_name = "NAME", default_value = "inspect")]
    volume: String,
    /// Validate as `create … force` would.
    #[arg(long)]
    force: bool,
    /// Also run the brick order check for replica sets of this size.
    #[arg(long, value_name = "N")]
    replica: Option<usize>,
    /// Also run the brick order check for disperse sets of this size.
    #[arg(long, value_name = "N", conflicts_with = "replica")]
    disperse: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `brickd brick release`.
#[derive(Debug, clap::Args)]
struct ReleaseArgs {
    /// The brick directory.
    #[arg(value_name = "PATH")]
    path: String,
    /// The volume-id the brick must carry.
    #[arg(long, value_name = "UUID")]
    volume_id: String,
    /// Also remove trusted.gfid and the .glusterfs directory (the brick's files stay).
    #[arg(long)]
    gfid: bool,
    /// Also remove this volume's tag from the volume group.
    #[arg(long, value_name = "VG")]
    vg: Option<String>,
    /// Do it; without this, only show what would be done.
    #[arg(long)]
    yes: bool,
    /// Where the audit log (`brick-release.log`) is appended, if the directory exists.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/brickd")]
    workdir: PathBuf,
}

/// Runs a `brickd brick` command.
pub fn run(args: BrickArgs) -> ExitCode {
    match args.command {
        BrickCommand::Inspect(a) => inspect_command(a),
        BrickCommand::Release(a) => release_command(a),
    }
}

fn start_engine() -> Result<Engine, ExitCode> {
    Engine::start(EngineConfig::default()).map_err(|e| {
        eprintln!("brickd: cannot start the brick engine: {e}");
        ExitCode::FAILURE
    })
}

fn start_lvm() -> Option<LvmClient> {
    match LvmClient::start(LvmConfig::default()) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("brickd: LVM helper unavailable: {e}");
            None
        }
    }
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn inspect_command(a: InspectArgs) -> ExitCode {
    let engine = match start_engine() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let (peers, existing) = if a.workdir.join("glusterd.info").exists() {
        match crate::store::Store::load(&a.workdir) {
            Ok(w) => {
                let me = w.node.uuid;
                let existing: BTreeSet<String> = w
                    .volumes
                    .iter()
                    .flat_map(|v| v.bricks.iter())
                    .filter(|b| b.uuid == me)
                    .map(|b| b.real_path.clone())
                    .collect();
                (w.peers, existing)
            }
            Err(e) => {
                eprintln!("brickd: cannot load workdir {}: {e}", a.workdir.display());
                return ExitCode::FAILURE;
            }
        }
    } else {
        (Vec::new(), BTreeSet::new())
    };
    let host = local_host_name();
    let bricks: Vec<String> = a
        .bricks
        .iter()
        .map(|b| {
            if b.starts_with('/') {
                format!("{host}:{b}")
            } else {
                b.clone()
            }
        })
        .collect();
    let lvm = if bricks.iter().any(|b| b.contains('?')) {
        start_lvm()
    } else {
        None
    };
    let hosts = HostMap::from_system(&peers);
    let group = match (a.replica, a.disperse) {
        (Some(n), _) => Some((GroupKind::Replicate, n)),
        (_, Some(n)) => Some((GroupKind::Disperse, n)),
        _ => None,
    };
    let req = Request {
        volname: a.volume.clone(),
        volume_id: Uuid::NIL,
        bricks,
        group,
        force: a.force,
        check_order: true,
    };
    let env = Env {
        engine: &engine,
        lvm: lvm.as_ref(),
        hosts: &hosts,
        peers: &peers,
        connected: &[],
        workdir: &a.workdir,
        existing: &existing,
    };
    let report = block_on(validate::validate(env, &req));
    if a.json {
        println!("{:#}", inspect::to_json(&report));
    } else {
        print!("{}", inspect::to_text(&report));
    }
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn release_command(a: ReleaseArgs) -> ExitCode {
    let volume_id = match Uuid::parse(&a.volume_id) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("brickd: --volume-id {}: {e}", a.volume_id);
            return ExitCode::from(2);
        }
    };
    let path = super::spec::canonicalize(&a.path);
    if !path.starts_with('/') || a.path.is_empty() {
        eprintln!("brickd: the brick path must be absolute");
        return ExitCode::from(2);
    }
    let engine = match start_engine() {
        Ok(e) => e,
        Err(code) => return code,
    };
    let lvm = if a.vg.is_some() { start_lvm() } else { None };
    if !a.yes {
        // Show what is there and what would go.
        let report = block_on(validate::validate(
            Env {
                engine: &engine,
                lvm: lvm.as_ref(),
                hosts: &HostMap::from_system(&[]),
                peers: &[],
                connected: &[],
                workdir: &a.workdir,
                existing: &BTreeSet::new(),
            },
            &Request {
                volname: "release".into(),
                volume_id,
                bricks: vec![format!(
                    "localhost:{path}{}",
                    a.vg.as_ref().map(|v| format!("?{v}")).unwrap_or_default()
                )],
                group: None,
                force: true,
                check_order: false,
            },
        ));
        print!("{}", inspect::to_text(&report));
        println!(
            "dry run: would remove trusted.glusterfs.volume-id{}{} from {path} if it is {volume_id}; \
             run again with --yes to do it",
            if a.gfid { ", trusted.gfid and .glusterfs" } else { "" },
            a.vg.as_ref().map(|v| format!(" and the tag on volume group {v}")).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let req = ReleaseRequest {
        path: path.clone(),
        volume_id,
        remove_gfid: a.gfid,
        vg: a.vg.clone(),
        sync: true,
    };
    let result = block_on(release(&engine, lvm.as_ref(), &req));
    let (line, code) = match &result {
        Ok(r) => {
            print!("{}", inspect::release_text(&path, r));
            (
                format!(
                    "released path={path} volume-id={volume_id} volume-id-removed={} gfid-removed={} glusterfs-removed={} vg-tag-removed={}",
                    r.removed_volume_id, r.removed_gfid, r.removed_glusterfs_dir, r.removed_vg_tag
                ),
                ExitCode::SUCCESS,
            )
        }
        Err(e) => {
            eprintln!("brickd: {e}");
            (
                format!("refused path={path} volume-id={volume_id}: {e}"),
                ExitCode::FAILURE,
            )
        }
    };
    audit(&a.workdir, &line);
    code
}

/// Appends one line to `<workdir>/brick-release.log` (if the workdir exists) and to the log.
fn audit(workdir: &std::path::Path, line: &str) {
    tracing::info!("{line}");
    if !workdir.is_dir() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let uid = unsafe_free_uid();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(workdir.join("brick-release.log"))
    {
        let _ = writeln!(f, "{now} uid={uid} {line}");
    }
}

fn unsafe_free_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|u| u.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}
