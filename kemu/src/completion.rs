// SPDX-License-Identifier: GPL-2.0-only
//! `struct completion`: `init_completion()`, `complete()`, `complete_all()`,
//! `wait_for_completion()` and its timeout variant, `try_wait_for_completion()`,
//! `completion_done()`, `reinit_completion()`.
//!
//! As in the kernel, `done` counts `complete()` calls not yet consumed: each
//! `complete()` lets exactly one waiter (present or future) through, and `complete_all()` lets
//! every waiter through until `reinit_completion()`.

use crate::timer::jiffies_to_duration;

/// The "done forever" value `complete_all()` stores (C `UINT_MAX`).
const COMPLETE_ALL: u32 = u32::MAX;

/// C `struct completion`.
#[derive(Debug, Default)]
#[doc(alias = "completion")]
pub struct Completion {
    done: parking_lot::Mutex<u32>,
    wait: parking_lot::Condvar,
}

impl Completion {
    /// C `init_completion()` / `DECLARE_COMPLETION()`.
    pub const fn new() -> Self {
        Self {
            done: parking_lot::Mutex::new(0),
            wait: parking_lot::Condvar::new(),
        }
    }
}

/// C `reinit_completion(x)`: back to not done.
pub fn reinit_completion(x: &Completion) {
    *x.done.lock() = 0;
}

/// C `complete(x)`: lets one waiter through.
pub fn complete(x: &Completion) {
    let mut d = x.done.lock();
    if *d != COMPLETE_ALL {
        *d += 1;
    }
    x.wait.notify_one();
}

/// C `complete_all(x)`: lets every current and future waiter through.
pub fn complete_all(x: &Completion) {
    *x.done.lock() = COMPLETE_ALL;
    x.wait.notify_all();
}

fn consume(d: &mut u32) {
    if *d != COMPLETE_ALL {
        *d -= 1;
    }
}

/// C `wait_for_completion(x)`: sleeps until completed, consuming one `complete()`.
pub fn wait_for_completion(x: &Completion) {
    let mut d = x.done.lock();
    while *d == 0 {
        x.wait.wait(&mut d);
    }
    consume(&mut d);
}

/// C `wait_for_completion_interruptible(x)`: as [`wait_for_completion`]; no signals reach
/// kernel threads here, so the result is always `Ok` (C: 0).
pub fn wait_for_completion_interruptible(x: &Completion) -> Result<(), crate::Errno> {
    wait_for_completion(x);
    Ok(())
}

/// C `wait_for_completion_timeout(x, timeout)`: 0 if `timeout` jiffies passed without a
/// completion, else the jiffies left (at least 1).
pub fn wait_for_completion_timeout(x: &Completion, timeout: u64) -> u64 {
    let start = crate::timer::jiffies();
    let deadline = std::time::Instant::now() + jiffies_to_duration(timeout);
    let mut d = x.done.lock();
    while *d == 0 {
        if x.wait.wait_until(&mut d, deadline).timed_out() {
            break;
        }
    }
    if *d == 0 {
        return 0;
    }
    consume(&mut d);
    let spent = crate::timer::jiffies().wrapping_sub(start);
    timeout.saturating_sub(spent).max(1)
}

/// C `try_wait_for_completion(x)`: consumes a completion if one is there, without sleeping.
pub fn try_wait_for_completion(x: &Completion) -> bool {
    let mut d = x.done.lock();
    if *d == 0 {
        return false;
    }
    consume(&mut d);
    true
}

/// C `completion_done(x)`: true if a wait would not sleep.
pub fn completion_done(x: &Completion) -> bool {
    *x.done.lock() != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn complete_before_wait_is_not_lost() {
        let c = Completion::new();
        assert!(!completion_done(&c));
        complete(&c);
        complete(&c);
        assert!(completion_done(&c));
        wait_for_completion(&c);
        assert!(completion_done(&c));
        assert!(try_wait_for_completion(&c));
        assert!(!try_wait_for_completion(&c));
        assert!(!completion_done(&c));
    }

    #[test]
    fn each_complete_releases_one_waiter() {
        let c = Arc::new(Completion::new());
        let passed = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (c, p) = (c.clone(), passed.clone());
                std::thread::spawn(move || {
                    wait_for_completion_interruptible(&c).unwrap();
                    p.fetch_add(1, SeqCst);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(passed.load(SeqCst), 0);
        complete(&c);
        let deadline = Instant::now() + Duration::from_secs(5);
        while passed.load(SeqCst) < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(passed.load(SeqCst), 1);
        complete(&c);
        complete(&c);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(passed.load(SeqCst), 3);
        assert!(!completion_done(&c));
    }

    #[test]
    fn complete_all_releases_everyone_until_reinit() {
        let c = Arc::new(Completion::new());
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || wait_for_completion(&c))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        complete_all(&c);
        for h in hs {
            h.join().unwrap();
        }
        // Still done for later waiters, and a complete() does not overflow it.
        complete(&c);
        wait_for_completion(&c);
        assert!(try_wait_for_completion(&c));
        assert_eq!(wait_for_completion_timeout(&c, 10), 10);
        assert!(completion_done(&c));
        reinit_completion(&c);
        assert!(!completion_done(&c));
        assert!(!try_wait_for_completion(&c));
    }

    #[test]
    fn timeout_variant() {
        let c = Arc::new(Completion::default());
        let start = Instant::now();
        assert_eq!(wait_for_completion_timeout(&c, 30), 0);
        assert!(start.elapsed() >= Duration::from_millis(30));
        let c2 = c.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            complete(&c2);
        });
        let left = wait_for_completion_timeout(&c, 5000);
        assert!(left > 0 && left < 5000, "{left}");
        assert!(!completion_done(&c));
        h.join().unwrap();
        complete(&c);
        assert_eq!(wait_for_completion_timeout(&c, 0), 1);
    }
}
