// SPDX-License-Identifier: GPL-2.0-only
//! `jiffies`, `HZ`, the `time_after()` family, `msleep()`, and `struct timer_list`.
//!
//! `HZ` is 1000, so a jiffy is a millisecond (as in the usermode adaptation). Like the kernel,
//! `jiffies` starts five minutes before wrapping around (`INITIAL_JIFFIES`), so code that
//! compares jiffies without `time_after()` breaks early instead of after 49 days.
//!
//! All timers run on one thread, `ktimersoftd`, which stands for the kernel's timer softirq:
//! handlers of different timers never run at the same time, a handler may re-arm its own timer
//! with `mod_timer()`, and `del_timer_sync()` waits for a running handler to return.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// C `HZ`: jiffies per second.
pub const HZ: u64 = 1000;

/// C `INITIAL_JIFFIES`: the value of `jiffies` at start-up, 300 s before it wraps.
pub const INITIAL_JIFFIES: u64 = 0u64.wrapping_sub(300 * HZ);

fn boot() -> Instant {
    static BOOT: OnceLock<Instant> = OnceLock::new();
    *BOOT.get_or_init(Instant::now)
}

/// C `jiffies`: milliseconds since start-up, counted from [`INITIAL_JIFFIES`].
pub fn jiffies() -> u64 {
    let ms = u64::try_from(boot().elapsed().as_millis()).unwrap_or(u64::MAX);
    INITIAL_JIFFIES.wrapping_add(ms)
}

/// C `time_after(a, b)`: true if `a` is later than `b`, correct across the wrap.
pub fn time_after(a: u64, b: u64) -> bool {
    b.wrapping_sub(a).cast_signed() < 0
}
/// C `time_before(a, b)`: true if `a` is earlier than `b`.
pub fn time_before(a: u64, b: u64) -> bool {
    time_after(b, a)
}
/// C `time_after_eq(a, b)`.
pub fn time_after_eq(a: u64, b: u64) -> bool {
    a.wrapping_sub(b).cast_signed() >= 0
}
/// C `time_before_eq(a, b)`.
pub fn time_before_eq(a: u64, b: u64) -> bool {
    time_after_eq(b, a)
}

/// C `msecs_to_jiffies()` (with `HZ` = 1000 the value is unchanged).
pub const fn msecs_to_jiffies(ms: u64) -> u64 {
    ms * HZ / 1000
}
/// C `jiffies_to_msecs()`.
pub const fn jiffies_to_msecs(j: u64) -> u64 {
    j * 1000 / HZ
}
/// C `usecs_to_jiffies()`: rounds up, so a non-zero delay is at least one jiffy.
pub const fn usecs_to_jiffies(us: u64) -> u64 {
    us.div_ceil(1_000_000 / HZ)
}
/// A jiffies interval as a `Duration` (C `jiffies_to_timespec64()`, for the emulation's own
/// sleeps).
pub const fn jiffies_to_duration(j: u64) -> Duration {
    Duration::from_millis(jiffies_to_msecs(j))
}

/// C `msleep(ms)`.
pub fn msleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms))
}
/// C `msleep_interruptible(ms)`: no signals reach kernel threads here, so it sleeps the whole
/// time and returns 0 (the milliseconds left).
pub fn msleep_interruptible(ms: u64) -> u64 {
    msleep(ms);
    0
}

struct TimerInner {
    id: u64,
    function: Box<dyn Fn() + Send + Sync>,
    /// Protected by the base lock.
    expires: AtomicU64,
    /// Protected by the base lock: the timer is in the queue.
    pending: AtomicBool,
}

#[derive(Default)]
struct BaseState {
    queue: BTreeMap<(u64, u64), Arc<TimerInner>>,
    /// The id of the timer whose handler runs now.
    running: Option<u64>,
    thread_started: bool,
}

struct TimerBase {
    state: parking_lot::Mutex<BaseState>,
    /// Wakes the timer thread when the earliest expiry changes.
    kick: parking_lot::Condvar,
    /// Wakes `del_timer_sync()` callers when a handler returns.
    done: parking_lot::Condvar,
}

const TIMER_THREAD: &str = "ktimersoftd";

fn base() -> &'static TimerBase {
    static BASE: OnceLock<TimerBase> = OnceLock::new();
    BASE.get_or_init(|| TimerBase {
        state: parking_lot::Mutex::new(BaseState::default()),
        kick: parking_lot::Condvar::new(),
        done: parking_lot::Condvar::new(),
    })
}

/// The queue key: time since start-up, which does not wrap, then creation order.
fn key(expires: u64, id: u64) -> (u64, u64) {
    (expires.wrapping_sub(INITIAL_JIFFIES), id)
}

fn timer_thread() {
    let b = base();
    let mut st = b.state.lock();
    loop {
        let Some((&(k, id), t)) = st.queue.first_key_value() else {
            b.kick.wait(&mut st);
            continue;
        };
        let now = jiffies().wrapping_sub(INITIAL_JIFFIES);
        if k > now {
            // `k` counts milliseconds since start-up, like `boot()`.
            b.kick
                .wait_until(&mut st, boot() + Duration::from_millis(k));
            continue;
        }
        let t = t.clone();
        st.queue.remove(&(k, id));
        t.pending.store(false, SeqCst);
        st.running = Some(t.id);
        drop(st);
        (t.function)();
        st = b.state.lock();
        st.running = None;
        b.done.notify_all();
    }
}

/// C `struct timer_list`. Created by [`TimerList::new`] (C `timer_setup()`); armed with
/// [`add_timer`] or [`mod_timer`]; dropping a pending timer deletes it.
#[doc(alias = "timer_list")]
pub struct TimerList {
    inner: Arc<TimerInner>,
}

impl std::fmt::Debug for TimerList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerList")
            .field("id", &self.inner.id)
            .field("expires", &self.expires())
            .field("pending", &timer_pending(self))
            .finish()
    }
}

impl TimerList {
    /// C `timer_setup(timer, function, flags)` (also `setup_timer()`/`init_timer()`): a
    /// timer that runs `function` on the timer thread when it expires.
    pub fn new(function: impl Fn() + Send + Sync + 'static) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            inner: Arc::new(TimerInner {
                id: NEXT_ID.fetch_add(1, SeqCst),
                function: Box::new(function),
                expires: AtomicU64::new(0),
                pending: AtomicBool::new(false),
            }),
        }
    }

    /// C `timer->expires`.
    pub fn expires(&self) -> u64 {
        self.inner.expires.load(SeqCst)
    }

    /// C `timer->expires = j` before [`add_timer`]; has no effect on a pending timer's
    /// place in the queue (use [`mod_timer`] for that, as in the kernel).
    pub fn set_expires(&self, j: u64) {
        let _g = base().state.lock();
        self.inner.expires.store(j, SeqCst);
    }
}

impl Drop for TimerList {
    fn drop(&mut self) {
        del_timer(self);
    }
}

/// Queues or re-queues the timer at `expires`; returns whether it was pending.
fn __mod_timer(t: &TimerList, expires: u64) -> bool {
    let b = base();
    let mut st = b.state.lock();
    let inner = &t.inner;
    let was_pending = inner.pending.load(SeqCst);
    if was_pending {
        st.queue.remove(&key(inner.expires.load(SeqCst), inner.id));
    }
    inner.expires.store(expires, SeqCst);
    inner.pending.store(true, SeqCst);
    st.queue.insert(key(expires, inner.id), inner.clone());
    if !st.thread_started {
        st.thread_started = true;
        // If the thread cannot be created the timer stays queued and the next arming retries.
        if std::thread::Builder::new()
            .name(TIMER_THREAD.into())
            .spawn(timer_thread)
            .is_err()
        {
            st.thread_started = false;
            crate::PRINT_ERROR!("cannot start the {TIMER_THREAD} thread");
        }
    }
    b.kick.notify_one();
    was_pending
}

/// C `add_timer(timer)`: arms a timer that is not pending at `timer->expires`.
pub fn add_timer(t: &TimerList) {
    debug_assert!(!timer_pending(t), "add_timer() on a pending timer");
    __mod_timer(t, t.expires());
}

/// C `mod_timer(timer, expires)`: (re)arms the timer at `expires`. Returns true if it was
/// pending. Callable from the timer's own handler to re-arm it.
pub fn mod_timer(t: &TimerList, expires: u64) -> bool {
    __mod_timer(t, expires)
}

/// C `timer_pending(timer)`: armed and not yet fired.
pub fn timer_pending(t: &TimerList) -> bool {
    t.inner.pending.load(SeqCst)
}

/// C `del_timer(timer)`: disarms the timer; true if it was pending. A handler already running
/// keeps running.
pub fn del_timer(t: &TimerList) -> bool {
    let mut st = base().state.lock();
    let inner = &t.inner;
    if inner.pending.swap(false, SeqCst) {
        st.queue.remove(&key(inner.expires.load(SeqCst), inner.id));
        true
    } else {
        false
    }
}

/// C `del_timer_sync(timer)`: disarms the timer and waits until its handler is not running.
/// On return the handler neither runs nor will run, unless something re-arms the timer. From
/// the timer's own handler (a deadlock in the kernel) it does not wait.
pub fn del_timer_sync(t: &TimerList) -> bool {
    let b = base();
    let mut st = b.state.lock();
    let inner = &t.inner;
    let was_pending = inner.pending.swap(false, SeqCst);
    if was_pending {
        st.queue.remove(&key(inner.expires.load(SeqCst), inner.id));
    }
    let on_timer_thread = std::thread::current().name() == Some(TIMER_THREAD);
    while st.running == Some(inner.id) && !on_timer_thread {
        b.done.wait(&mut st);
        // The handler may have re-armed itself before returning.
        if inner.pending.swap(false, SeqCst) {
            st.queue.remove(&key(inner.expires.load(SeqCst), inner.id));
        }
    }
    was_pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;

    #[test]
    fn jiffies_start_near_wrap_and_advance() {
        let j0 = jiffies();
        let since_boot = j0.wrapping_sub(INITIAL_JIFFIES);
        assert!(since_boot < 600_000, "{since_boot}");
        assert_eq!(INITIAL_JIFFIES, u64::MAX - 300_000 + 1);
        msleep(20);
        let j1 = jiffies();
        assert!(time_after_eq(j1, j0 + 20), "{j0} {j1}");
        assert!(j1.wrapping_sub(j0) < 5000);
        let t = Instant::now();
        assert_eq!(msleep_interruptible(15), 0);
        assert!(t.elapsed() >= Duration::from_millis(15));
    }

    #[test]
    fn time_comparisons_across_the_wrap() {
        let before_wrap = u64::MAX - 5;
        let after_wrap = 10u64;
        assert!(time_after(after_wrap, before_wrap));
        assert!(!time_after(before_wrap, after_wrap));
        assert!(time_before(before_wrap, after_wrap));
        assert!(!time_before(after_wrap, before_wrap));
        assert!(time_after_eq(after_wrap, before_wrap));
        assert!(time_after_eq(7, 7));
        assert!(!time_after(7, 7));
        assert!(!time_before(7, 7));
        assert!(time_before_eq(7, 7));
        assert!(time_before_eq(before_wrap, after_wrap));
        assert!(!time_before_eq(after_wrap, before_wrap));
        assert!(!time_after_eq(before_wrap, after_wrap));
        assert!(time_after(8, 7) && !time_after(6, 7));
    }

    #[test]
    fn unit_conversions() {
        assert_eq!(msecs_to_jiffies(1500), 1500);
        assert_eq!(jiffies_to_msecs(2 * HZ), 2000);
        assert_eq!(usecs_to_jiffies(1), 1);
        assert_eq!(usecs_to_jiffies(1000), 1);
        assert_eq!(usecs_to_jiffies(1001), 2);
        assert_eq!(usecs_to_jiffies(0), 0);
        assert_eq!(jiffies_to_duration(250), Duration::from_millis(250));
    }

    #[test]
    fn timer_fires_once_after_expiry_on_the_timer_thread() {
        let (tx, rx) = mpsc::channel();
        let tx = parking_lot::Mutex::new(tx);
        let t = TimerList::new(move || {
            let _ = tx
                .lock()
                .send((jiffies(), std::thread::current().name().map(str::to_owned)));
        });
        assert!(!timer_pending(&t));
        let start = jiffies();
        t.set_expires(start + 30);
        assert_eq!(t.expires(), start + 30);
        add_timer(&t);
        assert!(timer_pending(&t));
        let (fired_at, name) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(time_after_eq(fired_at, start + 30), "fired early");
        assert_eq!(name.as_deref(), Some(TIMER_THREAD));
        assert!(!timer_pending(&t));
        assert!(
            rx.recv_timeout(Duration::from_millis(60)).is_err(),
            "fired twice"
        );
        assert!(!del_timer(&t));
        assert!(format!("{t:?}").contains("pending: false"));
    }

    #[test]
    fn mod_timer_reports_pending_and_moves_expiry() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let t = TimerList::new(move || {
            c.fetch_add(1, SeqCst);
        });
        assert!(!mod_timer(&t, jiffies() + 10_000));
        assert!(mod_timer(&t, jiffies() + 10_000));
        // Move it earlier: it must fire soon although first armed far in the future.
        assert!(mod_timer(&t, jiffies() + 10));
        let deadline = Instant::now() + Duration::from_secs(5);
        while count.load(SeqCst) == 0 && Instant::now() < deadline {
            msleep(2);
        }
        assert_eq!(count.load(SeqCst), 1);
        // Move it later: it must not fire in the old slot.
        mod_timer(&t, jiffies() + 20);
        assert!(mod_timer(&t, jiffies() + 10_000));
        msleep(80);
        assert_eq!(count.load(SeqCst), 1);
        assert!(del_timer(&t));
        assert!(!timer_pending(&t));
        assert!(!del_timer(&t));
    }

    #[test]
    fn deleted_timer_never_fires() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let t = TimerList::new(move || {
            c.fetch_add(1, SeqCst);
        });
        mod_timer(&t, jiffies() + 30);
        assert!(del_timer(&t));
        msleep(80);
        assert_eq!(count.load(SeqCst), 0);
        // Dropping a pending timer deletes it.
        let c = count.clone();
        let t2 = TimerList::new(move || {
            c.fetch_add(1, SeqCst);
        });
        mod_timer(&t2, jiffies() + 20);
        drop(t2);
        msleep(60);
        assert_eq!(count.load(SeqCst), 0);
    }

    #[test]
    fn timers_fire_in_expiry_order() {
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let now = jiffies();
        let timers: Vec<TimerList> = [40u64, 10, 25]
            .iter()
            .map(|&d| {
                let o = order.clone();
                let t = TimerList::new(move || o.lock().push(d));
                mod_timer(&t, now + d);
                t
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while order.lock().len() < 3 && Instant::now() < deadline {
            msleep(2);
        }
        assert_eq!(*order.lock(), vec![10, 25, 40]);
        drop(timers);
    }

    #[test]
    fn timer_rearmed_from_its_own_handler() {
        let count = Arc::new(AtomicUsize::new(0));
        let slot: Arc<OnceLock<TimerList>> = Arc::new(OnceLock::new());
        let (c, s) = (count.clone(), Arc::downgrade(&slot));
        let t = TimerList::new(move || {
            let n = c.fetch_add(1, SeqCst) + 1;
            if n < 5 {
                if let Some(slot) = s.upgrade() {
                    if let Some(t) = slot.get() {
                        mod_timer(t, jiffies() + 1);
                    }
                }
            }
        });
        slot.set(t).unwrap();
        let t = slot.get().unwrap();
        mod_timer(t, jiffies() + 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        while count.load(SeqCst) < 5 && Instant::now() < deadline {
            msleep(2);
        }
        msleep(30);
        assert_eq!(count.load(SeqCst), 5);
        assert!(!timer_pending(t));
    }

    #[test]
    fn del_timer_sync_waits_for_a_running_handler() {
        let started = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let (s, f) = (started.clone(), finished.clone());
        let t = TimerList::new(move || {
            s.store(true, SeqCst);
            msleep(100);
            f.store(true, SeqCst);
        });
        mod_timer(&t, jiffies());
        let deadline = Instant::now() + Duration::from_secs(5);
        while !started.load(SeqCst) && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(started.load(SeqCst));
        assert!(!del_timer_sync(&t), "was not pending any more");
        assert!(finished.load(SeqCst), "returned while the handler ran");
    }

    #[test]
    fn del_timer_sync_from_own_handler_does_not_deadlock() {
        let (tx, rx) = mpsc::channel();
        let tx = parking_lot::Mutex::new(tx);
        let slot: Arc<OnceLock<TimerList>> = Arc::new(OnceLock::new());
        let s = Arc::downgrade(&slot);
        let t = TimerList::new(move || {
            if let Some(slot) = s.upgrade() {
                if let Some(t) = slot.get() {
                    mod_timer(t, jiffies() + 10_000);
                    let r = del_timer_sync(t);
                    let _ = tx.lock().send(r);
                }
            }
        });
        slot.set(t).unwrap();
        mod_timer(slot.get().unwrap(), jiffies());
        assert!(rx.recv_timeout(Duration::from_secs(5)).unwrap());
    }

    #[test]
    fn del_timer_sync_races_a_firing_timer() {
        let count = Arc::new(AtomicUsize::new(0));
        let in_handler = Arc::new(AtomicBool::new(false));
        for i in 0..50u64 {
            let (c, ih) = (count.clone(), in_handler.clone());
            let t = TimerList::new(move || {
                ih.store(true, SeqCst);
                std::thread::yield_now();
                c.fetch_add(1, SeqCst);
                ih.store(false, SeqCst);
            });
            mod_timer(&t, jiffies() + (i % 2));
            if i % 3 == 0 {
                msleep(1);
            }
            del_timer_sync(&t);
            assert!(
                !in_handler.load(SeqCst),
                "handler still running after del_timer_sync"
            );
            let seen = count.load(SeqCst);
            msleep(3);
            assert_eq!(count.load(SeqCst), seen, "handler ran after del_timer_sync");
            assert!(!timer_pending(&t));
        }
    }

    #[test]
    fn del_timer_sync_of_a_pending_timer() {
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let t = TimerList::new(move || {
            c.fetch_add(1, SeqCst);
        });
        mod_timer(&t, jiffies() + 50);
        assert!(del_timer_sync(&t));
        assert!(!timer_pending(&t));
        msleep(80);
        assert_eq!(count.load(SeqCst), 0);
    }
}
