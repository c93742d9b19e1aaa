//! Program numbers, versions and names of glusterd's RPC programs (reference §3).
//!
//! The names are the ones glusterd reports in its DUMP reply; peers and tools compare them.

/// GF-DUMP.
pub const DUMP: u32 = super::dump::PROGRAM;
/// GlusterD svc peer (friend), v2.
pub const PEER: u32 = 1_238_437;
/// GlusterD svc cli (full table on the unix socket, read-only subset on TCP), v2.
pub const CLI: u32 = 1_238_463;
/// GlusterD svc mgmt: v2 (op-sm/syncop) and v3 share the number.
pub const MGMT: u32 = 1_238_433;
/// Gluster Portmap, v1.
pub const PORTMAP: u32 = 34_123_456;
/// Gluster Handshake, v2 (GETSPEC and friends).
pub const HANDSHAKE: u32 = 14_398_633;
/// Gluster MGMT Handshake, v1 (op-version exchange between peers).
pub const MGMT_HANDSHAKE: u32 = 1_239_873;
/// Gluster Callback (glusterd → clients), v1.
pub const CALLBACK: u32 = 52_743_234;

/// DUMP names of each (program, version) glusterd registers.
pub mod names {
    /// GF-DUMP 123451501 v1.
    pub const DUMP: &str = "GF-DUMP";
    /// 1238437 v2.
    pub const PEER: &str = "GlusterD svc peer";
    /// 1238463 v2 on TCP.
    pub const CLI_READ_ONLY: &str = "GlusterD svc cli read-only";
    /// 1238463 v2 on the unix socket.
    pub const CLI: &str = "GlusterD svc cli";
    /// 1238433 v2.
    pub const MGMT: &str = "GlusterD svc mgmt";
    /// 1238433 v3.
    pub const MGMT_V3: &str = "GlusterD svc mgmt v3";
    /// 34123456 v1.
    pub const PORTMAP: &str = "Gluster Portmap";
    /// 14398633 v2 on TCP.
    pub const HANDSHAKE: &str = "Gluster Handshake";
    /// 14398633 v2 on the unix socket (GETSPEC only).
    pub const HANDSHAKE_CLI_GETSPEC: &str = "Gluster Handshake (CLI Getspec)";
    /// 1239873 v1.
    pub const MGMT_HANDSHAKE: &str = "Gluster MGMT Handshake";
}
