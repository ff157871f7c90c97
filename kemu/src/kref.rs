// SPDX-License-Identifier: GPL-2.0-only
//! `struct kref`: a reference count whose last put runs a release function.
//!
//! Memory in the port is owned by `Arc`; a `Kref` is kept where SCST's C code makes the last
//! put *do* something (unregister a session, finish a command), so that action happens at the
//! same point as in C.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

/// C `struct kref`.
#[derive(Debug)]
#[doc(alias = "kref")]
pub struct Kref {
    refcount: AtomicU32,
}

impl Default for Kref {
    fn default() -> Self {
        Self::new()
    }
}

impl Kref {
    /// C `kref_init()`: the count starts at 1.
    pub const fn new() -> Self {
        Self {
            refcount: AtomicU32::new(1),
        }
    }
}

/// C `kref_init()`: (re)sets the count to 1.
pub fn kref_init(k: &Kref) {
    k.refcount.store(1, SeqCst);
}

/// C `kref_read()`.
pub fn kref_read(k: &Kref) -> u32 {
    k.refcount.load(SeqCst)
}

/// C `kref_get()`. Getting a reference on a count that already dropped to zero is a bug, as
/// in the kernel (which WARNs); here it panics in debug builds.
pub fn kref_get(k: &Kref) {
    let old = k.refcount.fetch_add(1, SeqCst);
    debug_assert!(old != 0, "kref_get() on a released kref");
}

/// C `kref_get_unless_zero()`: takes a reference unless the count is zero; true if it did.
pub fn kref_get_unless_zero(k: &Kref) -> bool {
    k.refcount
        .fetch_update(SeqCst, SeqCst, |c| (c != 0).then(|| c + 1))
        .is_ok()
}

/// C `kref_put(kref, release)`: drops a reference; the put that drops the count to zero calls
/// `release` and returns true.
pub fn kref_put(k: &Kref, release: impl FnOnce()) -> bool {
    let old = k.refcount.fetch_sub(1, SeqCst);
    debug_assert!(old != 0, "kref_put() on a released kref");
    if old == 1 {
        release();
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn last_put_releases_once() {
        let k = Kref::default();
        assert_eq!(kref_read(&k), 1);
        kref_get(&k);
        kref_get(&k);
        assert_eq!(kref_read(&k), 3);
        let released = AtomicUsize::new(0);
        let rel = || {
            released.fetch_add(1, SeqCst);
        };
        assert!(!kref_put(&k, rel));
        assert!(!kref_put(&k, rel));
        assert_eq!(released.load(SeqCst), 0);
        assert!(kref_put(&k, rel));
        assert_eq!(released.load(SeqCst), 1);
        assert_eq!(kref_read(&k), 0);
        assert!(!kref_get_unless_zero(&k));
        assert_eq!(kref_read(&k), 0);
        kref_init(&k);
        assert_eq!(kref_read(&k), 1);
        assert!(kref_get_unless_zero(&k));
        assert_eq!(kref_read(&k), 2);
    }

    #[test]
    fn concurrent_puts_release_exactly_once() {
        let k = Arc::new(Kref::new());
        for _ in 0..3999 {
            kref_get(&k);
        }
        let released = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (k, released) = (k.clone(), released.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        kref_put(&k, || {
                            released.fetch_add(1, SeqCst);
                        });
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(released.load(SeqCst), 1);
        assert_eq!(kref_read(&k), 0);
    }
}
