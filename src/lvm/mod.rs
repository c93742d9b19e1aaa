//! LVM volume-group tags through liblvm2cmd, run in the isolated `brickd lvm-helper` process.

pub mod helper;
