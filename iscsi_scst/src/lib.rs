#![forbid(unsafe_code)]
//! stub

/// The daemon ↔ driver ABI: the port of `iscsi-scst/include/iscsi_scst.h` (ioctl structs and
/// numbers, parameter indices, the netlink event struct).
pub mod abi;
