//! Cluster-wide coordination: the pool of peers, lock leases, the transaction engine, and the
//! volume export peers exchange. Knows nothing of the operations it runs (they implement
//! [`txn::Operation`]) or of sockets.

pub mod export;
pub mod locks;
pub mod pool;
#[cfg(test)]
mod sim;
pub mod txn;
