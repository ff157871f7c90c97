// SPDX-License-Identifier: GPL-2.0-only
//! **kemu** — the kernel services that the usermode SCST port calls, under the kernel's names.
//!
//! SCST, iscsi-scst and the vdisk handler were written against the Linux kernel API. This crate
//! gives the Rust port of that code the same services in a normal process: locks, atomics and
//! bit operations, reference counts, wait queues, completions, kernel threads, work queues,
//! `timer_list` with jiffies, kernel lists, pages and scatterlists, sockets whose
//! `sk_data_ready`/`sk_write_space`/`sk_state_change` callbacks are driven by an event loop, the
//! character-device **ioctl** path the daemon uses on `/dev/iscsi-scst-ctl`, and the **netlink**
//! channel the kernel part uses to send events to the daemon. Logging follows SCST's
//! `PRINT_*`/`TRACE_*` macros and trace masks.
//!
//! This is the only crate of the workspace that contains `unsafe` code; each `unsafe` block
//! carries a `// SAFETY:` comment.

#![warn(missing_docs)]

pub mod atomic;
pub mod chrdev;
pub mod completion;
pub mod kref;
pub mod kthread;
pub mod list;
pub mod mm;
pub mod net;
pub mod netlink;
pub mod printk;
pub mod scatterlist;
pub mod sync;
pub mod timer;
pub mod wait;
pub mod workqueue;

#[doc(hidden)]
pub use log as __log;

/// Kernel error numbers (`-EINVAL` and friends). Functions that return `int res = -E…` in C
/// return `Result<_, Errno>` here; [`errno_neg`] gives back the C `-errno` value.
pub use nix::errno::Errno;

/// C: the kernel convention of returning `-errno` as an `int`: `errno_neg(Errno::EINVAL) == -22`.
pub fn errno_neg(e: Errno) -> i32 {
    -(e as i32)
}

/// Helpers for tests of kemu and of the crates built on it (no kernel counterpart).
pub mod testutil {
    use std::time::{Duration, Instant};

    /// Polls `f` every millisecond until it is true; false after 5 s.
    pub fn wait_until(mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !f() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errno_neg_is_the_c_return_value() {
        assert_eq!(super::errno_neg(super::Errno::EINVAL), -22);
        assert_eq!(super::errno_neg(super::Errno::EBUSY), -16);
    }
}
