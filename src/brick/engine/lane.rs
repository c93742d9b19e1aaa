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
//! The receiver is the only waiter; a send wakes it only when it is asleep (one `futex` wake
//! per sleep, none while it is busy).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receiver: bool,
    asleep: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock; a poisoned lock still holds a sound queue.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side; clones send to the same receiver.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side (one per queue).
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A new unbounded queue. Its bound is the callers': each item is a request someone awaits.
pub(crate) fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receiver: true,
            asleep: false,
        }),
        ready: Condvar::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back when the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let mut state = self.shared.lock();
        if !state.receiver {
            return Err(item);
        }
        state.items.push_back(item);
        let wake = std::mem::replace(&mut state.asleep, false);
        drop(state);
        if wake {
            self.shared.ready.notify_one();
        }
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let wake = state.senders == 0 && std::mem::replace(&mut state.asleep, false);
        drop(state);
        if wake {
            self.shared.ready.notify_one();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item, sleeping until there is one; `None` once every sender is gone and the
    /// queue is empty.
    pub(crate) fn recv(&self) -> Option<T> {
        let mut state = self.shared.lock();
        loop {
            if let Some(item) = state.items.pop_front() {
                return Some(item);
            }
            if state.senders == 0 {
                return None;
            }
            state.asleep = true;
            state = self
                .shared
                .ready
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver = false;
        // Items left are dropped with the receiver (a script's reply sender among them, so
        // its caller hears that the engine is gone).
        let left = std::mem::take(&mut state.items);
        drop(state);
        drop(left);
    }
}

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

    #[test]
    fn a_sleeping_receiver_is_woken_by_a_send_and_by_the_last_sender_leaving() {
        let (tx, rx) = queue::<u32>();
        let thread = std::thread::spawn(move || {
            let first = rx.recv();
            let end = rx.recv();
            (first, end)
        });
        // Long enough for the receiver to be asleep when the send comes (and if it is not,
        // the send finds it awake: either way it must receive).
        std::thread::sleep(Duration::from_millis(50));
        tx.send(7).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(tx);
        assert_eq!(thread.join().unwrap(), (Some(7), None));
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

    impl<T> Receiver<T> {
        fn into_iter_for_test(self) -> Vec<T> {
            (&self).collect()
        }
    }
}
