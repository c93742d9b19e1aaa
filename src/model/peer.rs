//! Other nodes of the trusted pool (`peers/<uuid>`).

use super::{Extra, Uuid};

/// The friend state-machine state of a peer that is fully part of the cluster
/// (`GD_FRIEND_STATE_BEFRIENDED`, printed "Peer in Cluster").
pub const PEER_STATE_BEFRIENDED: u32 = 3;

/// A peer as `peers/<uuid>` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer's node UUID (`uuid=`); the file is named after it.
    pub uuid: Uuid,
    /// The friend state-machine state (`state=`), a `glusterd_friend_sm_state_t` number; see
    /// [`peer_state_name`].
    pub state: u32,
    /// The names and addresses the peer is known by (`hostname1=`, `hostname2=`, …), in order;
    /// the first is the one glusterd connects to and prints.
    pub hostnames: Vec<String>,
    /// Keys brickd does not know, in file order.
    pub extra: Extra,
}

/// The text the CLI prints for a friend state (`peer status` "State:"), glusterd 10.3's
/// `glusterd_friend_sm_state_name_get` table. Numbers past the table print as
/// "Invalid State".
pub fn peer_state_name(state: u32) -> &'static str {
    match state {
        0 => "Establishing Connection",
        1 => "Probe Sent to Peer",
        2 => "Probe Received from Peer",
        3 => "Peer in Cluster",
        4 => "Accepted peer request",
        5 => "Sent and Received peer request",
        6 => "Peer Rejected",
        7 => "Peer detach in progress",
        8 => "Probe Received from peer",
        9 => "Connected to Peer",
        10 => "Peer is connected and Accepted",
        _ => "Invalid State",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_follow_glusterd() {
        assert_eq!(peer_state_name(PEER_STATE_BEFRIENDED), "Peer in Cluster");
        assert_eq!(peer_state_name(0), "Establishing Connection");
        assert_eq!(peer_state_name(6), "Peer Rejected");
        assert_eq!(peer_state_name(11), "Invalid State");
        assert_eq!(peer_state_name(u32::MAX), "Invalid State");
    }
}
