//! The queue that feeds a script lane's thread (and brickd's other plain worker threads): a
//! FIFO whose receiver sleeps in the kernel as soon as it finds the queue empty.
//!
//! Why not crossbeam's or std's channel: their blocking `recv` backs off before it sleeps,
//! spinning and then calling `sched_yield` several times. On an idle machine that costs a few
//! microseconds. When other work holds every CPU, each `sched_yield` hands the CPU to that work
//! for the rest of its slice, and the thread stays runnable rather than asleep: a script queued
//! meanwhile wakes nobody and waits for the next scheduler tick (4 ms at HZ=250) before its
//! thread runs. A receiver asleep on a futex is woken by the send instead, and the scheduler
//! weighs at once whether it preempts the running task. A lane thread wakes for every script of
//! every change, so this decides a change's latency on a busy machine.
//!
//! No lock either: the items go through crossbeam's lock-free unbounded list (only its
//! non-blocking `try_recv` is used), and the receiver sleeps on a futex word of its own. A send
//! wakes it only when it is asleep (one `futex` wake per sleep, none while it is busy). The
//! list itself still backs off in two rare moments, briefly: a send while another sender
//! installs the list's next block (once every 31 items), and a receive of an item whose sender
//! has reserved its slot but not yet written it.

use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::Arc;

/// The receiver's futex word: [`AWAKE`] or [`ASLEEP`].
struct Bell(AtomicU32);

const AWAKE: u32 = 0;
const ASLEEP: u32 = 1;

impl Bell {
    /// Says the receiver is about to sleep. It must look at the queue once more after this
    /// (a send in between saw it awake and rang nobody).
    fn going_to_sleep(&self) {
        self.0.store(ASLEEP, Ordering::SeqCst);
        // Pairs with the fence in `ring`: either the receiver's next look finds the item, or
        // the sender finds the word ASLEEP.
        fence(Ordering::SeqCst);
    }

    /// Sleeps while the word is still ASLEEP (returns at once if a sender rang meanwhile;
    /// a signal or a spurious wake-up also returns: the caller looks again).
    fn sleep(&self) {
        // SAFETY: the word is a live, aligned u32 for the duration of the call; FUTEX_WAIT
        // only reads it. A null timeout waits without limit.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.0.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                ASLEEP,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }

    /// The receiver is awake again.
    fn awake(&self) {
        self.0.store(AWAKE, Ordering::Relaxed);
    }

    /// Wakes the receiver if it is asleep (after the caller queued an item or left).
    fn ring(&self) {
        fence(Ordering::SeqCst);
        if self.0.swap(AWAKE, Ordering::SeqCst) == ASLEEP {
            // SAFETY: as in `sleep`; FUTEX_WAKE wakes at most one waiter (the receiver).
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.0.as_ptr(),
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    1,
                );
            }
        }
    }
}

/// The sending side; clones send to the same receiver.
pub(crate) struct Sender<T> {
    /// `None` only while dropping.
    items: Option<crossbeam_channel::Sender<T>>,
    bell: Arc<Bell>,
}

/// The receiving side (one per queue, used by one thread at a time: the bell has room for one
/// sleeper, so the receiver is not `Sync`).
pub(crate) struct Receiver<T> {
    items: crossbeam_channel::Receiver<T>,
    bell: Arc<Bell>,
    _one_thread: std::marker::PhantomData<std::cell::Cell<()>>,
}

/// A new unbounded queue. Its bound is the callers': each item is a request someone awaits.
pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let bell = Arc::new(Bell(AtomicU32::new(AWAKE)));
    (
        Sender {
            items: Some(tx),
            bell: bell.clone(),
        },
        Receiver {
            items: rx,
            bell,
            _one_thread: std::marker::PhantomData,
        },
    )
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back when the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let Some(items) = &self.items else {
            return Err(item);
        };
        // An unbounded list's send never blocks; it fails only once the receiver is gone.
        items.send(item).map_err(|e| e.into_inner())?;
        self.bell.ring();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            items: self.items.clone(),
            bell: self.bell.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // Gone first, so that a receiver woken by the last sender sees the end.
        drop(self.items.take());
        self.bell.ring();
    }
}

impl<T> Receiver<T> {
    /// The next item, sleeping until there is one; `None` once every sender is gone and the
    /// queue is empty.
    pub(crate) fn recv(&self) -> Option<T> {
        use crossbeam_channel::TryRecvError;
        loop {
            match self.items.try_recv() {
                Ok(item) => return Some(item),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            self.bell.going_to_sleep();
            match self.items.try_recv() {
                Ok(item) => {
                    self.bell.awake();
                    return Some(item);
                }
                Err(TryRecvError::Disconnected) => {
                    self.bell.awake();
                    return None;
                }
                Err(TryRecvError::Empty) => {}
            }
            self.bell.sleep();
            self.bell.awake();
        }
    }
}

// Items left when the receiver goes are dropped by the list (a script's reply sender among
// them, so its caller hears that the engine is gone), and later sends fail.

impl<T> Iterator for &Receiver<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.recv()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn items_arrive_in_order_and_the_end_is_seen_after_them() {
        let (tx, rx) = queue();
        let tx2 = tx.clone();
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        tx2.send(3).unwrap();
        drop(tx);
        drop(tx2);
        assert_eq!(rx.into_iter_for_test(), vec![0, 1, 2, 3]);
    }

    /// Far beyond any real delay: it only turns a lost wake-up (a hang) into a failure.
    const HANG_DEADLINE: Duration = Duration::from_secs(30);

    /// Whether thread `tid` of this process is asleep in the kernel (state `S`).
    fn thread_sleeps(tid: libc::pid_t) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
            .expect("the receiver thread is alive");
        // `pid (comm) state ...`: the name may hold spaces and parentheses, the state follows
        // the last ')'.
        let after_name = &stat[stat.rfind(')').expect("a stat line") + 1..];
        after_name.split_whitespace().next() == Some("S")
    }

    /// Waits until the receiver has said it sleeps (its bell reads ASLEEP) and its thread
    /// `tid` is asleep in the kernel: nothing but the bell's futex puts it there meanwhile,
    /// so only a ring can wake it.
    fn wait_until_asleep(bell: &Bell, tid: libc::pid_t, what: &str) {
        let deadline = std::time::Instant::now() + HANG_DEADLINE;
        while !(bell.0.load(Ordering::SeqCst) == ASLEEP && thread_sleeps(tid)) {
            assert!(
                std::time::Instant::now() < deadline,
                "the receiver never went to sleep {what}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_sleeping_receiver_is_woken_by_a_send_and_by_the_last_sender_leaving() {
        let (tx, rx) = queue::<u32>();
        let bell = rx.bell.clone();
        let (tid_tx, tid) = std::sync::mpsc::channel();
        let (seen_tx, seen) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            let _ = tid_tx.send(unsafe { libc::gettid() });
            let _ = seen_tx.send(rx.recv());
            let _ = seen_tx.send(rx.recv());
        });
        let tid = tid
            .recv_timeout(HANG_DEADLINE)
            .expect("the receiver thread started");
        wait_until_asleep(&bell, tid, "on an empty queue");
        tx.send(7).unwrap();
        assert_eq!(
            seen.recv_timeout(HANG_DEADLINE),
            Ok(Some(7)),
            "not woken by the send"
        );
        wait_until_asleep(&bell, tid, "after the first item");
        drop(tx);
        assert_eq!(
            seen.recv_timeout(HANG_DEADLINE),
            Ok(None),
            "not woken by the last sender leaving"
        );
        thread.join().unwrap();
    }

    #[test]
    fn a_send_after_the_receiver_left_gives_the_item_back() {
        let (tx, rx) = queue();
        tx.send(1).unwrap();
        drop(rx);
        assert_eq!(tx.send(2), Err(2));
    }

    #[test]
    fn many_senders_on_many_threads_lose_nothing() {
        let (tx, rx) = queue();
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u32 {
                        tx.send(t * 100_000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let received = rx.into_iter_for_test();
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(received.len(), 40_000);
        for t in 0..4 {
            let mine: Vec<u32> = received
                .iter()
                .copied()
                .filter(|v| v / 100_000 == t)
                .collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "sender {t} out of order"
            );
        }
    }

    #[test]
    fn items_left_go_with_the_receiver() {
        let item = Arc::new(());
        let (tx, rx) = queue();
        tx.send(item.clone()).unwrap();
        assert_eq!(Arc::strong_count(&item), 2);
        drop(rx);
        assert_eq!(Arc::strong_count(&item), 1, "dropped with the receiver");
    }

    #[test]
    fn no_wake_up_is_lost_when_each_item_finds_the_receiver_going_to_sleep() {
        // Ping-pong: the receiver empties its queue after every item, so each send races its
        // going to sleep. A lost wake-up hangs a round, which the deadline catches.
        let (tx, rx) = queue::<u32>();
        let (back_tx, back_rx) = std::sync::mpsc::channel();
        let echo = std::thread::spawn(move || {
            for i in &rx {
                back_tx.send(i).unwrap();
            }
        });
        for i in 0..20_000 {
            tx.send(i).unwrap();
            let got = back_rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("round {i}: the receiver was never woken"));
            assert_eq!(got, i);
        }
        drop(tx);
        echo.join().unwrap();
    }

    impl<T> Receiver<T> {
        fn into_iter_for_test(self) -> Vec<T> {
            (&self).collect()
        }
    }
}
