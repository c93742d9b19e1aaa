//! brickd's patched glommio (vendor/README.md) parks without a process-wide membarrier: an
//! executor about to sleep and a thread that sends to it meet at two SeqCst fences instead. A
//! mistake there loses a wake-up, and the receiver sleeps with a message waiting. These tests
//! send many messages that each find the receiver parked or about to park; a lost wake-up
//! hangs, and the deadline turns the hang into a failure (checked: with the eventfd write in
//! `SleepNotifier::notify` removed, both fail). On x86 the fence pairing itself cannot be
//! caught this way: the channel's and the flag's locked instructions are full barriers already,
//! and the tests pass with both fences removed; the fences are for weaker memory models.

#[path = "common/skip.rs"]
mod skip;

use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use std::time::Duration;

/// Round trips per test: each side parks between messages.
const ROUND_TRIPS: u32 = 20_000;
/// Only catches a hang: the round trips take well under a second here.
const DEADLINE: Duration = Duration::from_secs(120);

fn executor(name: &str, cpu: Option<usize>) -> LocalExecutorBuilder {
    LocalExecutorBuilder::new(match cpu {
        Some(cpu) => Placement::Fixed(cpu),
        None => Placement::Unbound,
    })
    .name(name)
    .io_memory(1 << 20)
}

/// Two executors ping-pong ROUND_TRIPS numbers over a pair of shared channels.
fn ping_pong(cpus: [Option<usize>; 2]) {
    let (to_b, from_a) = shared_channel::new_bounded::<u32>(1);
    let (to_a, from_b) = shared_channel::new_bounded::<u32>(1);
    let (done, finished) = std::sync::mpsc::channel();
    let a_done = done.clone();
    let a = executor("wake-a", cpus[0])
        .spawn(move || async move {
            let tx = to_b.connect().await;
            let rx = from_b.connect().await;
            for i in 0..ROUND_TRIPS {
                tx.send(i).await.expect("b is there");
                assert_eq!(rx.recv().await, Some(i), "a got the echo of {i}");
            }
            a_done.send("a").unwrap();
        })
        .expect("start executor a");
    let b = executor("wake-b", cpus[1])
        .spawn(move || async move {
            let rx = from_a.connect().await;
            let tx = to_a.connect().await;
            for i in 0..ROUND_TRIPS {
                let got = rx.recv().await;
                assert_eq!(got, Some(i), "b got {i}");
                tx.send(i).await.expect("a is there");
            }
            done.send("b").unwrap();
        })
        .expect("start executor b");
    for _ in 0..2 {
        finished.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!("a cross-executor wake-up was lost: no progress within {DEADLINE:?}")
        });
    }
    a.join().expect("executor a");
    b.join().expect("executor b");
}

#[test]
fn no_wake_up_is_lost_between_executors_on_two_cpus() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        skip::missing(
            "no_wake_up_is_lost_between_executors_on_two_cpus",
            "needs two CPUs",
        );
        return;
    }
    ping_pong([Some(0), Some(1)]);
}

#[test]
fn no_wake_up_is_lost_between_unbound_executors() {
    ping_pong([None, None]);
}
