//! `cmd_history.log` against the real glusterd: the same CLI commands on brickd and on a
//! private glusterd leave the same lines (time stamps and brick paths aside) in each one's
//! log directory; read-only commands (`volume info`, `volume get`, `volume list`, `peer
//! status`) leave none.
//!
//! Needs root and the glusterfs packages (glusterd, the CLI).

mod common;

use common::node::{skip, wait_until, Pair};
use std::path::Path;

/// glusterd's log directory: its `cmd_history.log` goes there whatever `--log-file` says.
const GLUSTERD_LOG: &str = "/var/log/glusterfs/cmd_history.log";

/// The lines of a `cmd_history.log` from byte `from`, without their time stamps, that name
/// `token` (glusterd's file is shared by every glusterd of the machine), `prefix` made
/// `BRICK`.
fn lines(path: &Path, from: usize, token: &str, prefix: &str) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[from.min(text.len())..]).into_owned();
    text.lines()
        .filter(|l| l.contains(token))
        .map(|l| {
            let rest = l.split_once("] ").map_or(l, |(_, r)| r);
            rest.replace(prefix, "BRICK")
        })
        .collect()
}

fn length(path: &Path) -> usize {
    std::fs::metadata(path).map_or(0, |m| m.len() as usize)
}

#[test]
fn commands_are_logged_as_glusterd_logs_them() {
    let test = "commands_are_logged_as_glusterd_logs_them";
    if skip(test) {
        return;
    }
    let pair = Pair::start();
    let (node, glusterd) = (&pair.node, &pair.glusterd);
    let (ours_prefix, theirs_prefix) = (pair.ours.clone(), pair.theirs.clone());
    let ours_log = node.dirs.path().join("log").join("cmd_history.log");
    let theirs_log = Path::new(GLUSTERD_LOG);
    let theirs_from = length(theirs_log);
    // A name no other test uses: glusterd's log is the machine's.
    let vol = format!("hist{}", std::process::id());
    let script: Vec<Vec<String>> = [
        "volume create VOL PREFIX1 force",
        "volume create VOL PREFIX2 force",
        "volume info VOL",
        "volume get VOL performance.cache-size",
        "volume set VOL performance.cache-size 64MB",
        "volume set VOL bogus.key 1",
        "volume status VOL",
        "volume start VOL",
        "volume status VOL",
        "volume stop VOL",
        "volume reset VOL",
        "volume list",
        "peer status",
        "volume delete VOL",
        "volume status VOL",
    ]
    .iter()
    .map(|line| line.split(' ').map(str::to_owned).collect())
    .collect();
    type Cli<'a> = dyn Fn(&[&str]) -> (i32, String, String) + 'a;
    let run = |prefix: &str, cli: &Cli<'_>| {
        for words in &script {
            let args: Vec<String> = words
                .iter()
                .map(|w| w.replace("VOL", &vol).replace("PREFIX", prefix))
                .collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = cli(&args);
        }
    };
    run(&ours_prefix, &|a| node.cli(a));
    run(&theirs_prefix, &|a| glusterd.cli(a));
    let theirs = lines(theirs_log, theirs_from, &vol, &theirs_prefix);
    assert!(
        theirs.len() >= 10,
        "glusterd logged only {theirs:?} in {GLUSTERD_LOG}"
    );
    // The writer thread follows the replies.
    wait_until(
        || lines(&ours_log, 0, &vol, &ours_prefix) == theirs,
        &format!(
            "brickd's cmd_history.log to read as glusterd's:\n--- brickd\n{}\n--- glusterd\n{}",
            lines(&ours_log, 0, &vol, &ours_prefix).join("\n"),
            theirs.join("\n")
        ),
    );
    // Each entry starts with glusterd's time stamp (a message of several lines, such as a
    // "Did you mean" hint, goes on on the next line, as in glusterd's).
    let text = std::fs::read_to_string(&ours_log).unwrap();
    for line in text.lines().filter(|l| l.contains(&vol)) {
        let stamp = line
            .strip_prefix('[')
            .and_then(|l| l.split_once(']'))
            .map(|(s, _)| s);
        let stamp = stamp.unwrap_or_else(|| panic!("no time stamp: {line}"));
        assert_eq!(
            stamp.len(),
            "2026-12-07 03:47:28.804656 +0000".len(),
            "{line}"
        );
        assert!(stamp.ends_with(" +0000"), "{line}");
    }
    println!("{test}: {} lines the same as glusterd's", theirs.len());
}
