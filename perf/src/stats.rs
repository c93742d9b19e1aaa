//! What one client thread measured: counters and a latency histogram, merged at the end.
//!
//! Everything here is preallocated when a thread starts; recording a reply is a few counter
//! increments and one histogram bucket, never an allocation.

use brickd::proto::rpc::ReplyStatus;
use hdrhistogram::Histogram;

/// Highest latency the histogram tracks exactly (60 s, in nanoseconds); longer ones saturate.
pub const LATENCY_NS_MAX: u64 = 60_000_000_000;
/// Significant decimal digits the histogram keeps.
const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Reply status names, indexed by [`status_index`].
pub const STATUS_NAMES: [&str; 8] = [
    "SUCCESS",
    "PROG_UNAVAIL",
    "PROG_MISMATCH",
    "PROC_UNAVAIL",
    "GARBAGE_ARGS",
    "SYSTEM_ERR",
    "RPC_MISMATCH",
    "AUTH_ERROR",
];

/// Index of `status` in [`STATUS_NAMES`].
pub fn status_index(status: ReplyStatus) -> usize {
    match status {
        ReplyStatus::Success => 0,
        ReplyStatus::ProgUnavail => 1,
        ReplyStatus::ProgMismatch { .. } => 2,
        ReplyStatus::ProcUnavail => 3,
        ReplyStatus::GarbageArgs => 4,
        ReplyStatus::SystemErr => 5,
        ReplyStatus::RpcMismatch { .. } => 6,
        ReplyStatus::AuthError(_) => 7,
    }
}

/// Errors by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// Replies whose status the workload does not accept.
    pub status: u64,
    /// SUCCESS replies whose results are wrong.
    pub bad_results: u64,
    /// Records that are not well-formed replies.
    pub malformed: u64,
    /// Replies to no outstanding call.
    pub unknown_xid: u64,
    /// Connections closed by the server or failed (counted at any time, warm-up included).
    pub connections_lost: u64,
}

impl ErrorCounts {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.status + self.bad_results + self.malformed + self.unknown_xid + self.connections_lost
    }

    /// (name, count) pairs for reports.
    pub fn named(&self) -> [(&'static str, u64); 5] {
        [
            ("status", self.status),
            ("bad_results", self.bad_results),
            ("malformed", self.malformed),
            ("unknown_xid", self.unknown_xid),
            ("connections_lost", self.connections_lost),
        ]
    }

    fn add(&mut self, other: &ErrorCounts) {
        self.status += other.status;
        self.bad_results += other.bad_results;
        self.malformed += other.malformed;
        self.unknown_xid += other.unknown_xid;
        self.connections_lost += other.connections_lost;
    }
}

/// Measurements of the measured window.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latency of successful round trips, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// Replies matched to a call, whatever their verdict.
    pub replies: u64,
    /// Successful round trips.
    pub ok: u64,
    /// Replies per status, indexed like [`STATUS_NAMES`].
    pub statuses: [u64; STATUS_NAMES.len()],
    /// Errors by kind.
    pub errors: ErrorCounts,
    /// Calls still unanswered when the run ended (not an error: the run stops mid-flight).
    pub unanswered: u64,
}

impl Stats {
    /// Empty measurements.
    pub fn new() -> Self {
        let latency_ns = Histogram::new_with_bounds(1, LATENCY_NS_MAX, LATENCY_SIGNIFICANT_DIGITS)
            .expect("constant histogram bounds are valid");
        Stats {
            latency_ns,
            replies: 0,
            ok: 0,
            statuses: [0; STATUS_NAMES.len()],
            errors: ErrorCounts::default(),
            unanswered: 0,
        }
    }

    /// Adds another thread's measurements.
    pub fn merge(&mut self, other: &Stats) {
        // Same bounds on both sides, and saturating records keep every value in range, so
        // adding cannot fail.
        let _ = self.latency_ns.add(&other.latency_ns);
        self.replies += other.replies;
        self.ok += other.ok;
        for (mine, theirs) in self.statuses.iter_mut().zip(other.statuses) {
            *mine += theirs;
        }
        self.errors.add(&other.errors);
        self.unanswered += other.unanswered;
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brickd::proto::rpc::AuthStat;

    #[test]
    fn status_index_matches_proto_names() {
        for status in [
            ReplyStatus::Success,
            ReplyStatus::ProgUnavail,
            ReplyStatus::ProgMismatch { low: 0, high: 0 },
            ReplyStatus::ProcUnavail,
            ReplyStatus::GarbageArgs,
            ReplyStatus::SystemErr,
            ReplyStatus::RpcMismatch { low: 2, high: 2 },
            ReplyStatus::AuthError(AuthStat::Ok),
        ] {
            assert_eq!(STATUS_NAMES[status_index(status)], status.name());
        }
    }

    #[test]
    fn merge_adds_counts_and_latencies() {
        let mut a = Stats::new();
        a.ok = 2;
        a.replies = 3;
        a.statuses[0] = 2;
        a.errors.status = 1;
        a.latency_ns.saturating_record(1_000);
        let mut b = Stats::new();
        b.ok = 5;
        b.replies = 5;
        b.errors.connections_lost = 1;
        b.latency_ns.saturating_record(LATENCY_NS_MAX * 2);
        a.merge(&b);
        assert_eq!((a.ok, a.replies, a.errors.total()), (7, 8, 2));
        assert_eq!(a.latency_ns.len(), 2);
        assert!(a.latency_ns.max() >= LATENCY_NS_MAX / 2);
    }
}
