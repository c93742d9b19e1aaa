//! Cluster-wide coordination: lock leases and the transaction engine. Knows nothing of the
//! operations it runs (they implement [`txn::Operation`]) or of sockets.

pub mod locks;
pub mod txn;
