//! Outstanding calls of one connection: xid allocation and send times.
//!
//! xids start at 2 and count up, as a libgfrpc client's do (reference §1). Replies are matched
//! by xid in a fixed table twice the size of the in-flight cap, so a server answering out of
//! order is handled, nothing is allocated per call, and a lookup is one index.

use std::time::Instant;

/// The first xid a libgfrpc client puts on a connection.
pub const FIRST_XID: u32 = 2;

#[derive(Debug, Clone, Copy)]
struct Slot {
    xid: u32,
    sent: Option<Instant>,
}

/// The calls in flight on one connection.
#[derive(Debug)]
pub struct InflightTable {
    slots: Vec<Slot>,
    mask: usize,
    len: usize,
    len_max: usize,
    next_xid: u32,
}

impl InflightTable {
    /// A table for at most `len_max` outstanding calls (at least 1).
    pub fn new(len_max: usize) -> Self {
        let len_max = len_max.max(1);
        let capacity = (len_max * 2).next_power_of_two();
        InflightTable {
            slots: vec![Slot { xid: 0, sent: None }; capacity],
            mask: capacity - 1,
            len: 0,
            len_max,
            next_xid: FIRST_XID,
        }
    }

    /// Calls in flight.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when another call may be started.
    pub fn has_room(&self) -> bool {
        self.len < self.len_max
    }

    /// Starts a call sent (or due) at `sent` and returns its xid, or `None` at the cap.
    pub fn start(&mut self, sent: Instant) -> Option<u32> {
        if !self.has_room() {
            return None;
        }
        // Fewer than half the slots are busy, so a free one turns up within a few probes even
        // when some old call is still waiting for its answer.
        loop {
            let xid = self.next_xid;
            self.next_xid = self.next_xid.wrapping_add(1);
            let slot = &mut self.slots[xid as usize & self.mask];
            if slot.sent.is_none() {
                *slot = Slot {
                    xid,
                    sent: Some(sent),
                };
                self.len += 1;
                return Some(xid);
            }
        }
    }

    /// Retires the call with `xid`; returns when it was sent, or `None` if no such call is out.
    pub fn finish(&mut self, xid: u32) -> Option<Instant> {
        let slot = &mut self.slots[xid as usize & self.mask];
        if slot.xid != xid {
            return None;
        }
        let sent = slot.sent.take()?;
        self.len -= 1;
        Some(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn xids_start_at_two_and_count_up() {
        let now = Instant::now();
        let mut table = InflightTable::new(4);
        let xids: Vec<u32> = (0..4).map(|_| table.start(now).unwrap()).collect();
        assert_eq!(xids, [2, 3, 4, 5]);
        assert_eq!(table.start(now), None);
        assert_eq!(table.len(), 4);
    }

    #[test]
    fn out_of_order_answers_are_matched() {
        let t0 = Instant::now();
        let mut table = InflightTable::new(2);
        let a = table.start(t0).unwrap();
        let b = table.start(t0 + Duration::from_micros(5)).unwrap();
        assert_eq!(table.finish(b), Some(t0 + Duration::from_micros(5)));
        // a stays out while many later calls come and go around it.
        for _ in 0..100 {
            let c = table.start(t0).unwrap();
            assert_ne!(c, a);
            assert_eq!(table.finish(c), Some(t0));
        }
        assert_eq!(table.finish(a), Some(t0));
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn unknown_and_repeated_xids_are_not_matched() {
        let now = Instant::now();
        let mut table = InflightTable::new(1);
        let xid = table.start(now).unwrap();
        assert_eq!(table.finish(xid + 8), None);
        assert_eq!(table.finish(0), None);
        assert_eq!(table.finish(xid), Some(now));
        assert_eq!(table.finish(xid), None);
    }
}
