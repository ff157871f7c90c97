// SPDX-License-Identifier: GPL-2.0-only
//! Wait queues: `wait_queue_head_t`, `prepare_to_wait()`/`finish_wait()`, `wake_up()`, and the
//! `wait_event*()` macros as functions taking the condition as a closure.
//!
//! The semantics are the kernel's:
//! - a waiter puts itself on the queue *before* it checks its condition, and a waker changes
//!   the condition *before* it calls `wake_up()`, so a wake-up is never lost;
//! - non-exclusive waiters and `prepare_to_wait_exclusive_head()` waiters are added at the head,
//!   `prepare_to_wait_exclusive()` waiters at the tail;
//! - `wake_up()` walks from the head and wakes every non-exclusive waiter and the first
//!   exclusive one (`wake_up_nr(n)`: the first `n`; `wake_up_all()`: all); a woken waiter is
//!   taken off the queue (`autoremove_wake_function`) and re-queues itself if it must sleep
//!   again;
//! - a waiter re-checks its condition after every wake-up, also spurious ones, and after
//!   [`crate::kthread::kthread_stop`] wakes it, which is how SCST's thread loops notice
//!   `kthread_should_stop()`.
//!
//! A sleeping task is a parked thread; waking it is `Thread::unpark()`, whose token makes a
//! wake-up that arrives between the condition check and the sleep harmless.

use crate::sync::SpinLockGuard;
use crate::timer::{jiffies, jiffies_to_duration};
use crate::Errno;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::Thread;

#[derive(Debug)]
struct WaiterInner {
    thread: Thread,
    /// C `WQ_FLAG_EXCLUSIVE`; changed only under the queue lock.
    exclusive: AtomicBool,
    /// The entry is on a queue (C `!list_empty(&wait->entry)`); changed only under the lock.
    queued: AtomicBool,
}

/// C `wait_queue_entry_t` (`wait_queue_t` in older kernels), as made by `DEFINE_WAIT()`:
/// belongs to the thread that created it.
#[derive(Debug)]
#[doc(alias = "wait_queue_t")]
pub struct WaitQueueEntry {
    inner: Arc<WaiterInner>,
}

impl Default for WaitQueueEntry {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitQueueEntry {
    /// C `DEFINE_WAIT(name)` / `init_wait()`: an entry for the calling thread.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(WaiterInner {
                thread: std::thread::current(),
                exclusive: AtomicBool::new(false),
                queued: AtomicBool::new(false),
            }),
        }
    }
}

/// C `wait_queue_head_t` (`init_waitqueue_head()` is [`WaitQueueHead::new`]).
#[derive(Debug, Default)]
#[doc(alias = "wait_queue_head_t")]
pub struct WaitQueueHead {
    list: parking_lot::Mutex<VecDeque<Arc<WaiterInner>>>,
}

impl WaitQueueHead {
    /// C `init_waitqueue_head()` / `DECLARE_WAIT_QUEUE_HEAD()`.
    pub const fn new() -> Self {
        Self {
            list: parking_lot::Mutex::new(VecDeque::new()),
        }
    }
}

enum Place {
    Head,
    Tail,
}

fn add(wq: &WaitQueueHead, e: &WaitQueueEntry, exclusive: bool, place: Place) {
    let mut l = wq.list.lock();
    e.inner.exclusive.store(exclusive, SeqCst);
    if !e.inner.queued.swap(true, SeqCst) {
        match place {
            Place::Head => l.push_front(e.inner.clone()),
            Place::Tail => l.push_back(e.inner.clone()),
        }
    }
}

/// C `prepare_to_wait(wq, wait, state)`: queues a non-exclusive entry at the head (if not
/// queued yet). The caller then checks its condition and calls [`schedule`] if it is false.
pub fn prepare_to_wait(wq: &WaitQueueHead, e: &WaitQueueEntry) {
    add(wq, e, false, Place::Head)
}

/// C `prepare_to_wait_exclusive(wq, wait, state)`: queues an exclusive entry at the tail.
pub fn prepare_to_wait_exclusive(wq: &WaitQueueHead, e: &WaitQueueEntry) {
    add(wq, e, true, Place::Tail)
}

/// C `prepare_to_wait_exclusive_head()` (scst.h): an exclusive entry at the **head**, so idle
/// threads are woken in LIFO order and the ones that are not needed stay asleep.
pub fn prepare_to_wait_exclusive_head(wq: &WaitQueueHead, e: &WaitQueueEntry) {
    add(wq, e, true, Place::Head)
}

/// C `add_wait_queue(wq, wait)`.
pub fn add_wait_queue(wq: &WaitQueueHead, e: &WaitQueueEntry) {
    add(wq, e, false, Place::Head)
}

/// C `add_wait_queue_exclusive(wq, wait)`.
pub fn add_wait_queue_exclusive(wq: &WaitQueueHead, e: &WaitQueueEntry) {
    add(wq, e, true, Place::Tail)
}

/// C `finish_wait(wq, wait)` / `remove_wait_queue()`: takes the entry off the queue if a
/// wake-up has not already done so.
pub fn finish_wait(wq: &WaitQueueHead, e: &WaitQueueEntry) {
    let mut l = wq.list.lock();
    if e.inner.queued.swap(false, SeqCst) {
        l.retain(|w| !Arc::ptr_eq(w, &e.inner));
    }
}

/// C `remove_wait_queue(wq, wait)`.
pub fn remove_wait_queue(wq: &WaitQueueHead, e: &WaitQueueEntry) {
    finish_wait(wq, e)
}

/// C `waitqueue_active(wq)`: true if something waits on the queue.
pub fn waitqueue_active(wq: &WaitQueueHead) -> bool {
    !wq.list.lock().is_empty()
}

/// C `__wake_up(wq, mode, nr_exclusive)`: wakes the non-exclusive waiters met from the head
/// and at most `nr_exclusive` exclusive ones (0 = all).
fn __wake_up(wq: &WaitQueueHead, nr_exclusive: usize) {
    let mut l = wq.list.lock();
    let mut left = nr_exclusive;
    while let Some(w) = l.pop_front() {
        w.queued.store(false, SeqCst);
        w.thread.unpark();
        if w.exclusive.load(SeqCst) && nr_exclusive != 0 {
            left -= 1;
            if left == 0 {
                break;
            }
        }
    }
}

/// C `wake_up(wq)`: all non-exclusive waiters and one exclusive waiter.
pub fn wake_up(wq: &WaitQueueHead) {
    __wake_up(wq, 1)
}

/// C `wake_up_nr(wq, nr)`: all non-exclusive waiters and `nr` exclusive ones (0 = all).
pub fn wake_up_nr(wq: &WaitQueueHead, nr: usize) {
    __wake_up(wq, nr)
}

/// C `wake_up_all(wq)`.
pub fn wake_up_all(wq: &WaitQueueHead) {
    __wake_up(wq, 0)
}

/// C `wake_up_interruptible(wq)`: the same as [`wake_up`] (all sleeps here are interruptible
/// in the kernel's sense).
pub fn wake_up_interruptible(wq: &WaitQueueHead) {
    __wake_up(wq, 1)
}

/// C `schedule()` after `prepare_to_wait()`: sleeps until woken (or spuriously; callers loop).
pub fn schedule() {
    std::thread::park()
}

/// C `wait_event(wq, condition)`: sleeps until `condition()` is true.
pub fn wait_event(wq: &WaitQueueHead, mut condition: impl FnMut() -> bool) {
    if condition() {
        return;
    }
    let e = WaitQueueEntry::new();
    loop {
        prepare_to_wait(wq, &e);
        if condition() {
            break;
        }
        schedule();
    }
    finish_wait(wq, &e);
}

/// C `wait_event_interruptible(wq, condition)`. Kernel threads here get no signals, so the
/// wait ends only when the condition is true and the result is `Ok` (C: 0); the `Result`
/// keeps the C `-ERESTARTSYS` path visible in the port.
pub fn wait_event_interruptible(
    wq: &WaitQueueHead,
    condition: impl FnMut() -> bool,
) -> Result<(), Errno> {
    wait_event(wq, condition);
    Ok(())
}

/// C `wait_event_timeout(wq, condition, timeout)`: sleeps until `condition()` is true or
/// `timeout` jiffies passed. Returns 0 if the time ran out with the condition false, else the
/// jiffies left (at least 1).
pub fn wait_event_timeout(
    wq: &WaitQueueHead,
    mut condition: impl FnMut() -> bool,
    timeout: u64,
) -> u64 {
    let start = jiffies();
    let left = |now: u64| timeout.saturating_sub(now.wrapping_sub(start));
    if condition() {
        return left(start).max(1);
    }
    let e = WaitQueueEntry::new();
    let res = loop {
        prepare_to_wait(wq, &e);
        let remaining = left(jiffies());
        if condition() {
            break remaining.max(1);
        }
        if remaining == 0 {
            break 0;
        }
        std::thread::park_timeout(jiffies_to_duration(remaining));
    };
    finish_wait(wq, &e);
    res
}

/// C `wait_event_locked(wq, condition, lock_type, lock)` (scst.h): the caller holds the
/// spinlock `guard`; the condition is evaluated with it held; while sleeping the lock is
/// released; on return it is held again. The waiter is exclusive and queued at the head
/// (`prepare_to_wait_exclusive_head()`), so `wake_up()` wakes the most recent sleeper.
pub fn wait_event_locked<T>(
    wq: &WaitQueueHead,
    guard: &mut SpinLockGuard<'_, T>,
    mut condition: impl FnMut(&mut T) -> bool,
) {
    if condition(guard) {
        return;
    }
    let e = WaitQueueEntry::new();
    loop {
        prepare_to_wait_exclusive_head(wq, &e);
        if condition(guard) {
            break;
        }
        SpinLockGuard::unlocked(guard, schedule);
        if condition(guard) {
            break;
        }
    }
    finish_wait(wq, &e);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::SpinLock;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::{Duration, Instant};

    use crate::testutil::wait_until;

    fn queue_len(wq: &WaitQueueHead) -> usize {
        wq.list.lock().len()
    }

    /// The classic lost-wakeup race: a waker that sets the condition and calls wake_up()
    /// between the waiter's check and its sleep must still wake it. Many rounds, bounded.
    #[test]
    fn no_lost_wakeup() {
        let wq = Arc::new(WaitQueueHead::new());
        let flag = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let (wq2, flag2, done2) = (wq.clone(), flag.clone(), done.clone());
        let waiter = std::thread::spawn(move || {
            for round in 1..=2000 {
                wait_event(&wq2, || flag2.load(SeqCst) >= round);
                done2.store(round, SeqCst);
            }
        });
        for round in 1..=2000 {
            flag.store(round, SeqCst);
            wake_up(&wq);
            // Spin (not sleep) so the rounds race the waiter's check-then-sleep window.
            let deadline = Instant::now() + Duration::from_secs(5);
            while done.load(SeqCst) < round {
                assert!(Instant::now() < deadline, "lost wake-up in round {round}");
                std::thread::yield_now();
            }
        }
        waiter.join().unwrap();
        assert_eq!(queue_len(&wq), 0);
        assert!(!waitqueue_active(&wq));
    }

    #[test]
    fn wait_event_returns_at_once_when_true() {
        let wq = WaitQueueHead::default();
        wait_event(&wq, || true);
        wait_event_interruptible(&wq, || true).unwrap();
        assert!(!waitqueue_active(&wq));
    }

    #[test]
    fn waiter_is_queued_while_sleeping_and_removed_after() {
        let wq = Arc::new(WaitQueueHead::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (wq2, flag2) = (wq.clone(), flag.clone());
        let h = std::thread::spawn(move || {
            wait_event_interruptible(&wq2, || flag2.load(SeqCst)).unwrap();
        });
        assert!(wait_until(|| waitqueue_active(&wq)));
        // A wake-up without the condition puts it back to sleep, queued again.
        wake_up(&wq);
        assert!(wait_until(|| waitqueue_active(&wq)));
        assert!(!h.is_finished());
        flag.store(true, SeqCst);
        wake_up_interruptible(&wq);
        h.join().unwrap();
        assert_eq!(queue_len(&wq), 0);
    }

    fn spawn_exclusive_waiters(
        n: usize,
        head: bool,
    ) -> (
        Arc<WaitQueueHead>,
        Arc<AtomicUsize>,
        Arc<AtomicBool>,
        Vec<std::thread::JoinHandle<usize>>,
    ) {
        let wq = Arc::new(WaitQueueHead::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut hs = Vec::new();
        for i in 0..n {
            let (wq2, woken2, stop2) = (wq.clone(), woken.clone(), stop.clone());
            hs.push(std::thread::spawn(move || {
                let e = WaitQueueEntry::new();
                if head {
                    prepare_to_wait_exclusive_head(&wq2, &e);
                } else {
                    prepare_to_wait_exclusive(&wq2, &e);
                }
                // Sleep until a wake-up took us off the queue (or we are told to stop).
                while e.inner.queued.load(SeqCst) && !stop2.load(SeqCst) {
                    schedule();
                }
                finish_wait(&wq2, &e);
                woken2.fetch_add(1, SeqCst);
                i
            }));
            assert!(wait_until(|| queue_len(&wq) == i + 1));
        }
        (wq, woken, stop, hs)
    }

    #[test]
    fn wake_up_wakes_one_exclusive_waiter_in_fifo_order() {
        let (wq, woken, stop, hs) = spawn_exclusive_waiters(3, false);
        wake_up(&wq);
        assert!(wait_until(|| woken.load(SeqCst) == 1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(woken.load(SeqCst), 1);
        assert_eq!(queue_len(&wq), 2);
        let mut hs = hs.into_iter();
        let first = hs.next().unwrap();
        assert!(
            first.is_finished(),
            "the first queued exclusive waiter must wake first"
        );
        assert_eq!(first.join().unwrap(), 0);
        wake_up_nr(&wq, 2);
        assert!(wait_until(|| woken.load(SeqCst) == 3));
        stop.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
    }

    #[test]
    fn exclusive_head_waiters_wake_lifo() {
        let (wq, woken, stop, hs) = spawn_exclusive_waiters(3, true);
        wake_up(&wq);
        assert!(wait_until(|| woken.load(SeqCst) == 1));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(woken.load(SeqCst), 1);
        let hs: Vec<_> = hs.into_iter().collect();
        assert!(hs[2].is_finished(), "the last sleeper must wake first");
        assert!(!hs[0].is_finished() && !hs[1].is_finished());
        wake_up_all(&wq);
        assert!(wait_until(|| woken.load(SeqCst) == 3));
        stop.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        assert!(!waitqueue_active(&wq));
    }

    #[test]
    fn wake_up_wakes_all_non_exclusive_and_one_exclusive() {
        let wq = Arc::new(WaitQueueHead::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut hs = Vec::new();
        for i in 0..4 {
            let (wq2, woken2, stop2) = (wq.clone(), woken.clone(), stop.clone());
            hs.push(std::thread::spawn(move || {
                let e = WaitQueueEntry::new();
                if i < 2 {
                    add_wait_queue_exclusive(&wq2, &e);
                } else {
                    add_wait_queue(&wq2, &e);
                }
                while e.inner.queued.load(SeqCst) && !stop2.load(SeqCst) {
                    schedule();
                }
                remove_wait_queue(&wq2, &e);
                woken2.fetch_add(1, SeqCst);
            }));
            assert!(wait_until(|| queue_len(&wq) == i + 1));
        }
        // Two non-exclusive at the head, then two exclusive: one wake_up wakes three.
        wake_up(&wq);
        assert!(wait_until(|| woken.load(SeqCst) == 3));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(woken.load(SeqCst), 3);
        assert_eq!(queue_len(&wq), 1);
        wake_up(&wq);
        assert!(wait_until(|| woken.load(SeqCst) == 4));
        stop.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
    }

    #[test]
    fn add_and_remove_without_a_wake_up() {
        let wq = WaitQueueHead::new();
        let e = WaitQueueEntry::new();
        add_wait_queue(&wq, &e);
        add_wait_queue(&wq, &e);
        assert_eq!(queue_len(&wq), 1, "an entry is queued once");
        remove_wait_queue(&wq, &e);
        assert!(!waitqueue_active(&wq));
        let e2 = WaitQueueEntry::default();
        prepare_to_wait_exclusive(&wq, &e);
        prepare_to_wait(&wq, &e2);
        assert_eq!(queue_len(&wq), 2);
        finish_wait(&wq, &e);
        assert_eq!(queue_len(&wq), 1);
        finish_wait(&wq, &e2);
        assert!(!waitqueue_active(&wq));
    }

    #[test]
    fn schedule_sleeps_until_woken() {
        let wq = Arc::new(WaitQueueHead::new());
        let woke = Arc::new(AtomicBool::new(false));
        let (wq2, w2) = (wq.clone(), woke.clone());
        let h = std::thread::spawn(move || {
            let e = WaitQueueEntry::new();
            prepare_to_wait(&wq2, &e);
            schedule();
            w2.store(true, SeqCst);
            finish_wait(&wq2, &e);
        });
        assert!(wait_until(|| waitqueue_active(&wq)));
        std::thread::sleep(Duration::from_millis(50));
        assert!(!woke.load(SeqCst), "schedule() returned without a wake-up");
        wake_up(&wq);
        h.join().unwrap();
        assert!(woke.load(SeqCst));
    }

    #[test]
    fn wait_event_timeout_values() {
        let wq = WaitQueueHead::new();
        let start = Instant::now();
        assert_eq!(wait_event_timeout(&wq, || false, 40), 0);
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert!(!waitqueue_active(&wq));
        assert_eq!(wait_event_timeout(&wq, || true, 40), 40);
        assert_eq!(wait_event_timeout(&wq, || true, 0), 1);

        let wq = Arc::new(WaitQueueHead::new());
        let flag = Arc::new(AtomicBool::new(false));
        let (wq2, flag2) = (wq.clone(), flag.clone());
        let h = std::thread::spawn(move || wait_event_timeout(&wq2, || flag2.load(SeqCst), 5000));
        assert!(wait_until(|| waitqueue_active(&wq)));
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, SeqCst);
        wake_up(&wq);
        let left = h.join().unwrap();
        assert!(left > 0 && left < 5000, "{left}");
    }

    #[test]
    fn wait_event_locked_releases_and_retakes_the_lock() {
        let lock = Arc::new(SpinLock::new(0u32));
        let wq = Arc::new(WaitQueueHead::new());
        let (lock2, wq2) = (lock.clone(), wq.clone());
        let h = std::thread::spawn(move || {
            let mut g = lock2.lock_bh();
            wait_event_locked(&wq2, &mut g, |v| *v >= 3);
            // Held again on return: nobody else can change it now.
            let seen = *g;
            *g = 100;
            seen
        });
        for _ in 0..3 {
            assert!(wait_until(|| waitqueue_active(&wq)));
            // The waiter sleeps without the lock, so we can take it.
            let mut g = lock.lock_bh();
            *g += 1;
            drop(g);
            wake_up(&wq);
        }
        assert_eq!(h.join().unwrap(), 3);
        assert_eq!(*lock.lock(), 100);
        assert!(!waitqueue_active(&wq));
        // True at once: no queueing.
        let mut g = lock.lock();
        wait_event_locked(&wq, &mut g, |v| *v == 100);
        assert!(!waitqueue_active(&wq));
    }

    #[test]
    fn kthread_stop_wakes_a_wait_event() {
        let wq = Arc::new(WaitQueueHead::new());
        let wq2 = wq.clone();
        let t = crate::kthread::kthread_run(
            move || {
                wait_event(&wq2, crate::kthread::kthread_should_stop);
                5
            },
            "wq_stop_test",
        )
        .unwrap();
        assert!(wait_until(|| waitqueue_active(&wq)));
        assert_eq!(crate::kthread::kthread_stop(&t), 5);
    }
}
