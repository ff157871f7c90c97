// SPDX-License-Identifier: GPL-2.0-only
//! Work queues: `struct work_struct`, `struct delayed_work`, `struct workqueue_struct` and
//! `queue_work()`, `schedule_work()`, `flush_work()`, `cancel_work_sync()`,
//! `flush_workqueue()`, `destroy_workqueue()`, the delayed variants and the system queue.
//!
//! Kernel semantics kept:
//! - a work item is *pending* from queueing until its function starts; queueing a pending item
//!   does nothing and returns false;
//! - an item is never run by two workers at once: queued again while it runs, it runs once
//!   more after the current run returns (the kernel's non-reentrancy guarantee);
//! - `flush_work()` waits for the last queueing of the item to finish running; `flush_workqueue()`
//!   for everything queued before the call; `cancel_work_sync()` removes a pending item and
//!   waits for a running one;
//! - an ordered (single-threaded) queue runs its items one at a time in queueing order;
//!   `create_workqueue()` runs up to one item per CPU at a time;
//! - a delayed item is pending while its timer runs; the timer (on the timer thread, as the
//!   kernel's timer softirq) queues it.
//!
//! Each queue has its own named worker threads, so `ps -L` shows e.g. `scst_release_acg`;
//! the system queue behind `schedule_work()` is `events`.

use crate::timer::{del_timer_sync, jiffies, mod_timer, TimerList};
use crate::Errno;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock, Weak};
use std::thread::{JoinHandle, ThreadId};

#[derive(Default)]
struct WorkState {
    /// C `WORK_STRUCT_PENDING`: queued (or its delay timer armed) and not started yet.
    pending: bool,
    /// Pending on a delay timer rather than on a queue.
    delayed: bool,
    /// The function runs now, on this thread.
    running: Option<ThreadId>,
    /// Counts successful queueings.
    seq: u64,
    /// The `seq` of the last run that finished.
    done: u64,
    /// Where the item is (or will be) queued.
    target: Option<Arc<WqInner>>,
}

/// C `struct work_struct`, made by [`WorkStruct::new`] (C `INIT_WORK()`), shared as
/// `Arc<WorkStruct>`. The function captures what it works on (C: `container_of()` on the
/// work pointer).
#[doc(alias = "work_struct")]
pub struct WorkStruct {
    func: Box<dyn Fn() + Send + Sync>,
    state: parking_lot::Mutex<WorkState>,
    /// Signalled whenever a run finishes or the item is cancelled.
    idle: parking_lot::Condvar,
}

impl std::fmt::Debug for WorkStruct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("WorkStruct")
            .field("pending", &st.pending)
            .field("running", &st.running.is_some())
            .finish()
    }
}

impl WorkStruct {
    /// C `INIT_WORK(work, func)`.
    pub fn new(func: impl Fn() + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            func: Box::new(func),
            state: parking_lot::Mutex::new(WorkState::default()),
            idle: parking_lot::Condvar::new(),
        })
    }
}

/// C `work_pending(work)`: queued (or delayed) and not started yet.
pub fn work_pending(work: &WorkStruct) -> bool {
    work.state.lock().pending
}

struct WqInner {
    name: String,
    list: parking_lot::Mutex<WqList>,
    more: parking_lot::Condvar,
    threads: parking_lot::Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Default)]
struct WqList {
    queue: VecDeque<Arc<WorkStruct>>,
    /// Items taken off `queue` whose run has not finished.
    active: Vec<Arc<WorkStruct>>,
    stopping: bool,
}

/// C `struct workqueue_struct *`.
#[derive(Clone)]
#[doc(alias = "workqueue_struct")]
pub struct Workqueue(Arc<WqInner>);

impl std::fmt::Debug for Workqueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workqueue")
            .field("name", &self.0.name)
            .finish()
    }
}

impl Workqueue {
    /// The queue's name (C `wq->name`).
    pub fn name(&self) -> &str {
        &self.0.name
    }
}

/// Puts a pending item on `wq` (the caller set `pending` under the state lock it holds).
fn __queue_work(work: &Arc<WorkStruct>, st: &mut WorkState, wq: &Arc<WqInner>) {
    st.target = Some(wq.clone());
    st.delayed = false;
    if st.running.is_some() {
        // Non-reentrancy: the worker running it queues it again when the run returns.
        return;
    }
    let mut l = wq.list.lock();
    l.queue.push_back(work.clone());
    wq.more.notify_one();
}

fn worker_thread(wq: Arc<WqInner>) {
    loop {
        let work = {
            let mut l = wq.list.lock();
            loop {
                if let Some(w) = l.queue.pop_front() {
                    l.active.push(w.clone());
                    break w;
                }
                if l.stopping {
                    return;
                }
                wq.more.wait(&mut l);
            }
        };
        let mut st = work.state.lock();
        let run = st.pending && !st.delayed;
        let seq = st.seq;
        if run {
            st.pending = false;
            st.running = Some(std::thread::current().id());
        }
        drop(st);
        if run {
            (work.func)();
        }
        let mut st = work.state.lock();
        if run {
            st.running = None;
            st.done = seq;
            if st.pending && !st.delayed {
                if let Some(target) = st.target.clone() {
                    let mut l = target.list.lock();
                    l.queue.push_back(work.clone());
                    target.more.notify_one();
                }
            }
        }
        {
            let mut l = wq.list.lock();
            if let Some(i) = l.active.iter().position(|w| Arc::ptr_eq(w, &work)) {
                l.active.swap_remove(i);
            }
        }
        work.idle.notify_all();
        // Flushers of the whole queue wait on `more` too.
        wq.more.notify_all();
    }
}

fn new_workqueue(name: &str, nr_threads: usize) -> Result<Workqueue, Errno> {
    let wq = Arc::new(WqInner {
        name: name.to_owned(),
        list: parking_lot::Mutex::new(WqList::default()),
        more: parking_lot::Condvar::new(),
        threads: parking_lot::Mutex::new(Vec::new()),
    });
    let n = nr_threads.max(1);
    for i in 0..n {
        let tname = if n == 1 {
            name.to_owned()
        } else {
            format!("{name}/{i}")
        };
        let w = wq.clone();
        match std::thread::Builder::new()
            .name(tname)
            .spawn(move || worker_thread(w))
        {
            Ok(h) => wq.threads.lock().push(h),
            Err(_) => {
                destroy_workqueue(&Workqueue(wq));
                return Err(Errno::ENOMEM);
            }
        }
    }
    Ok(Workqueue(wq))
}

/// C `create_workqueue(name)`: a queue that runs up to one item per online CPU at a time.
pub fn create_workqueue(name: &str) -> Result<Workqueue, Errno> {
    new_workqueue(name, crate::kthread::num_online_cpus())
}

/// C `create_singlethread_workqueue(name)`: one worker, items in queueing order.
pub fn create_singlethread_workqueue(name: &str) -> Result<Workqueue, Errno> {
    new_workqueue(name, 1)
}

/// C `alloc_ordered_workqueue(name, flags)`: one item at a time, in queueing order.
pub fn alloc_ordered_workqueue(name: &str) -> Result<Workqueue, Errno> {
    new_workqueue(name, 1)
}

/// C `alloc_workqueue(name, flags, max_active)`: up to `max_active` items at a time (0 = the
/// default, one per CPU). The flags (`WQ_UNBOUND`, `WQ_MEM_RECLAIM` …) have no meaning here.
pub fn alloc_workqueue(name: &str, max_active: usize) -> Result<Workqueue, Errno> {
    let n = if max_active == 0 {
        crate::kthread::num_online_cpus()
    } else {
        max_active
    };
    new_workqueue(name, n)
}

/// C `queue_work(wq, work)`: queues the item unless it is pending; true if it queued it.
pub fn queue_work(wq: &Workqueue, work: &Arc<WorkStruct>) -> bool {
    let mut st = work.state.lock();
    if st.pending {
        return false;
    }
    st.pending = true;
    st.seq += 1;
    __queue_work(work, &mut st, &wq.0);
    true
}

/// C `flush_work(work)`: waits until the last queueing of the item has finished running.
/// Returns true if it had to wait (the item was pending or running).
pub fn flush_work(work: &WorkStruct) -> bool {
    let mut st = work.state.lock();
    if !st.pending && st.running.is_none() {
        return false;
    }
    if st.running == Some(std::thread::current().id()) {
        // Flushing itself from its own function would deadlock the kernel; do not wait.
        return true;
    }
    let target = st.seq;
    while st.done < target && (st.pending || st.running.is_some()) {
        work.idle.wait(&mut st);
    }
    true
}

/// C `cancel_work_sync(work)`: removes a pending item and waits until it does not run.
/// Returns true if it was pending.
pub fn cancel_work_sync(work: &Arc<WorkStruct>) -> bool {
    let mut st = work.state.lock();
    let was_pending = st.pending;
    if was_pending {
        st.pending = false;
        st.delayed = false;
        if let Some(wq) = st.target.clone() {
            wq.list.lock().queue.retain(|w| !Arc::ptr_eq(w, work));
        }
    }
    let me = std::thread::current().id();
    while st.running.is_some() && st.running != Some(me) {
        work.idle.wait(&mut st);
    }
    drop(st);
    work.idle.notify_all();
    was_pending
}

/// C `flush_workqueue(wq)`: waits until every item queued on `wq` before the call has run.
pub fn flush_workqueue(wq: &Workqueue) {
    let snapshot: Vec<Arc<WorkStruct>> = {
        let l = wq.0.list.lock();
        l.queue.iter().chain(l.active.iter()).cloned().collect()
    };
    for w in snapshot {
        flush_work(&w);
    }
}

/// C `drain_workqueue(wq)`: flushes until the queue is empty, including items that queued
/// further items while being flushed.
pub fn drain_workqueue(wq: &Workqueue) {
    loop {
        flush_workqueue(wq);
        let l = wq.0.list.lock();
        if l.queue.is_empty() && l.active.is_empty() {
            return;
        }
    }
}

/// C `destroy_workqueue(wq)`: drains the queue, then stops and joins its worker threads.
pub fn destroy_workqueue(wq: &Workqueue) {
    drain_workqueue(wq);
    wq.0.list.lock().stopping = true;
    wq.0.more.notify_all();
    let threads = std::mem::take(&mut *wq.0.threads.lock());
    let me = std::thread::current().id();
    for h in threads {
        if h.thread().id() != me {
            let _ = h.join();
        }
    }
}

/// The kernel's `system_wq`, behind [`schedule_work`]; its thread is named `events`.
pub fn system_wq() -> Option<&'static Workqueue> {
    static SYSTEM_WQ: OnceLock<Option<Workqueue>> = OnceLock::new();
    SYSTEM_WQ
        .get_or_init(|| create_singlethread_workqueue("events").ok())
        .as_ref()
}

/// C `schedule_work(work)`: [`queue_work`] on the system queue.
pub fn schedule_work(work: &Arc<WorkStruct>) -> bool {
    match system_wq() {
        Some(wq) => queue_work(wq, work),
        None => {
            crate::PRINT_CRIT_ERROR!("no system workqueue: work not queued");
            false
        }
    }
}

/// C `flush_scheduled_work()`: flushes the system queue.
pub fn flush_scheduled_work() {
    if let Some(wq) = system_wq() {
        flush_workqueue(wq)
    }
}

/// C `struct delayed_work`: a work item and the timer that queues it.
#[doc(alias = "delayed_work")]
pub struct DelayedWork {
    /// C `dwork->work`.
    pub work: Arc<WorkStruct>,
    timer: TimerList,
}

impl std::fmt::Debug for DelayedWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayedWork")
            .field("work", &self.work)
            .field("timer", &self.timer)
            .finish()
    }
}

impl DelayedWork {
    /// C `INIT_DELAYED_WORK(dwork, func)`.
    pub fn new(func: impl Fn() + Send + Sync + 'static) -> Arc<Self> {
        let work = WorkStruct::new(func);
        let weak: Weak<WorkStruct> = Arc::downgrade(&work);
        let timer = TimerList::new(move || {
            if let Some(work) = weak.upgrade() {
                delayed_work_timer_fn(&work);
            }
        });
        Arc::new(Self { work, timer })
    }
}

/// C `delayed_work_timer_fn()`: the delay is over, queue the item where it was aimed.
fn delayed_work_timer_fn(work: &Arc<WorkStruct>) {
    let mut st = work.state.lock();
    if st.pending && st.delayed {
        if let Some(wq) = st.target.clone() {
            __queue_work(work, &mut st, &wq);
        }
    }
}

/// C `queue_delayed_work(wq, dwork, delay)`: queues the item on `wq` after `delay` jiffies
/// (at once for 0). False if it was already pending.
pub fn queue_delayed_work(wq: &Workqueue, dwork: &DelayedWork, delay: u64) -> bool {
    let mut st = dwork.work.state.lock();
    if st.pending {
        return false;
    }
    st.pending = true;
    st.seq += 1;
    if delay == 0 {
        __queue_work(&dwork.work, &mut st, &wq.0);
    } else {
        st.target = Some(wq.0.clone());
        st.delayed = true;
        mod_timer(&dwork.timer, jiffies().wrapping_add(delay));
    }
    true
}

/// C `schedule_delayed_work(dwork, delay)`: [`queue_delayed_work`] on the system queue.
pub fn schedule_delayed_work(dwork: &DelayedWork, delay: u64) -> bool {
    match system_wq() {
        Some(wq) => queue_delayed_work(wq, dwork, delay),
        None => {
            crate::PRINT_CRIT_ERROR!("no system workqueue: delayed work not queued");
            false
        }
    }
}

/// C `cancel_delayed_work(dwork)`: cancels a pending item (timer or queue) without waiting
/// for a running one. True if it was pending.
pub fn cancel_delayed_work(dwork: &DelayedWork) -> bool {
    let mut st = dwork.work.state.lock();
    if !st.pending {
        return false;
    }
    st.pending = false;
    st.delayed = false;
    if let Some(wq) = st.target.clone() {
        wq.list
            .lock()
            .queue
            .retain(|w| !Arc::ptr_eq(w, &dwork.work));
    }
    drop(st);
    crate::timer::del_timer(&dwork.timer);
    dwork.work.idle.notify_all();
    true
}

/// C `cancel_delayed_work_sync(dwork)`: cancels the timer and the item and waits until the
/// item does not run. True if it was pending.
pub fn cancel_delayed_work_sync(dwork: &DelayedWork) -> bool {
    let was_pending = cancel_work_sync(&dwork.work);
    del_timer_sync(&dwork.timer);
    was_pending
}

/// C `flush_delayed_work(dwork)`: queues a delayed item at once and waits for it to run.
/// True if it had to wait.
pub fn flush_delayed_work(dwork: &DelayedWork) -> bool {
    {
        let mut st = dwork.work.state.lock();
        if st.pending && st.delayed {
            crate::timer::del_timer(&dwork.timer);
            if let Some(wq) = st.target.clone() {
                __queue_work(&dwork.work, &mut st, &wq);
            }
        }
    }
    flush_work(&dwork.work)
}

/// C `delayed_work_pending(dwork)`.
pub fn delayed_work_pending(dwork: &DelayedWork) -> bool {
    work_pending(&dwork.work)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timer::msleep;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::time::{Duration, Instant};

    use crate::testutil::wait_until;

    fn counter_work() -> (Arc<WorkStruct>, Arc<AtomicUsize>) {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        (
            WorkStruct::new(move || {
                n2.fetch_add(1, SeqCst);
            }),
            n,
        )
    }

    #[test]
    fn queue_work_runs_once_on_the_named_thread() {
        let wq = create_singlethread_workqueue("kemu_test_wq").unwrap();
        assert_eq!(wq.name(), "kemu_test_wq");
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = parking_lot::Mutex::new(tx);
        let gate = Arc::new(crate::completion::Completion::new());
        let g2 = gate.clone();
        let w = WorkStruct::new(move || {
            crate::completion::wait_for_completion(&g2);
            let _ = tx
                .lock()
                .send(std::thread::current().name().map(str::to_owned));
        });
        let blocker = WorkStruct::new(|| {});
        assert!(queue_work(&wq, &w));
        // While it is pending or running but not yet sent, a second queueing before it starts
        // is refused; let it start first, then it can be queued again.
        assert!(wait_until(|| !work_pending(&w)));
        assert!(queue_work(&wq, &w), "a running item can be queued again");
        assert!(
            !queue_work(&wq, &w),
            "a pending item cannot be queued twice"
        );
        assert!(work_pending(&w));
        crate::completion::complete_all(&gate);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap().as_deref(),
            Some("kemu_test_wq")
        );
        assert!(
            rx.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the re-queued run"
        );
        assert!(
            rx.recv_timeout(Duration::from_millis(50)).is_err(),
            "ran three times"
        );
        assert!(queue_work(&wq, &blocker));
        destroy_workqueue(&wq);
        assert!(!work_pending(&blocker));
        assert!(format!("{wq:?} {w:?}").contains("kemu_test_wq"));
    }

    #[test]
    fn ordered_queue_runs_fifo_one_at_a_time() {
        let wq = alloc_ordered_workqueue("kemu_ordered").unwrap();
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let works: Vec<_> = (0..20)
            .map(|i| {
                let (o, ins, mx) = (order.clone(), inside.clone(), max_inside.clone());
                WorkStruct::new(move || {
                    let now = ins.fetch_add(1, SeqCst) + 1;
                    mx.fetch_max(now, SeqCst);
                    std::thread::yield_now();
                    o.lock().push(i);
                    ins.fetch_sub(1, SeqCst);
                })
            })
            .collect();
        for w in &works {
            assert!(queue_work(&wq, w));
        }
        flush_workqueue(&wq);
        assert_eq!(*order.lock(), (0..20).collect::<Vec<_>>());
        assert_eq!(max_inside.load(SeqCst), 1);
        destroy_workqueue(&wq);
    }

    #[test]
    fn flush_work_waits_for_the_run() {
        let wq = create_workqueue("kemu_flush").unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let d2 = done.clone();
        let w = WorkStruct::new(move || {
            msleep(50);
            d2.store(true, SeqCst);
        });
        assert!(!flush_work(&w), "idle item: nothing to wait for");
        queue_work(&wq, &w);
        assert!(flush_work(&w));
        assert!(
            done.load(SeqCst),
            "flush_work returned before the run finished"
        );
        assert!(!flush_work(&w));
        destroy_workqueue(&wq);
    }

    #[test]
    fn requeued_while_running_never_runs_concurrently() {
        let wq = alloc_workqueue("kemu_reent", 4).unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let runs = Arc::new(AtomicUsize::new(0));
        let (ins, mx, r) = (inside.clone(), max_inside.clone(), runs.clone());
        let w = WorkStruct::new(move || {
            let now = ins.fetch_add(1, SeqCst) + 1;
            mx.fetch_max(now, SeqCst);
            std::thread::sleep(Duration::from_micros(200));
            r.fetch_add(1, SeqCst);
            ins.fetch_sub(1, SeqCst);
        });
        let mut queued = 0;
        for _ in 0..200 {
            if queue_work(&wq, &w) {
                queued += 1;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        flush_work(&w);
        assert_eq!(max_inside.load(SeqCst), 1);
        assert_eq!(
            runs.load(SeqCst),
            queued,
            "every successful queueing runs exactly once"
        );
        destroy_workqueue(&wq);
    }

    #[test]
    fn multithreaded_queue_runs_items_in_parallel() {
        let wq = alloc_workqueue("kemu_par", 2).unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let passed = Arc::new(AtomicUsize::new(0));
        let works: Vec<_> = (0..2)
            .map(|_| {
                let (b, p) = (barrier.clone(), passed.clone());
                WorkStruct::new(move || {
                    b.wait();
                    p.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for w in &works {
            queue_work(&wq, w);
        }
        assert!(
            wait_until(|| passed.load(SeqCst) == 2),
            "items did not run in parallel"
        );
        destroy_workqueue(&wq);
        let wq = alloc_workqueue("kemu_par0", 0).unwrap();
        destroy_workqueue(&wq);
        let wq = create_workqueue("kemu_par1").unwrap();
        destroy_workqueue(&wq);
    }

    #[test]
    fn cancel_work_sync_removes_pending_and_waits_for_running() {
        let wq = create_singlethread_workqueue("kemu_cancel").unwrap();
        let gate = Arc::new(crate::completion::Completion::new());
        let started = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let (g, s, f) = (gate.clone(), started.clone(), finished.clone());
        let slow = WorkStruct::new(move || {
            s.store(true, SeqCst);
            crate::completion::wait_for_completion(&g);
            msleep(30);
            f.store(true, SeqCst);
        });
        let (victim, victim_runs) = counter_work();
        queue_work(&wq, &slow);
        assert!(wait_until(|| started.load(SeqCst)));
        assert!(queue_work(&wq, &victim));
        assert!(cancel_work_sync(&victim), "was pending");
        assert!(!work_pending(&victim));
        assert!(!cancel_work_sync(&victim));
        crate::completion::complete(&gate);
        assert!(!cancel_work_sync(&slow), "running, not pending");
        assert!(
            finished.load(SeqCst),
            "cancel_work_sync returned while it ran"
        );
        flush_workqueue(&wq);
        assert_eq!(victim_runs.load(SeqCst), 0, "a cancelled item ran");
        destroy_workqueue(&wq);
    }

    /// Names of this process's threads (`/proc/self/task/*/comm`).
    fn thread_names() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
            .map(|s| s.trim_end().to_owned())
            .collect()
    }

    #[test]
    fn thread_counts_follow_max_active() {
        let wq = alloc_workqueue("kemu_n3", 3).unwrap();
        assert_eq!(wq.0.threads.lock().len(), 3);
        destroy_workqueue(&wq);
        let wq = alloc_workqueue("kemu_n0", 0).unwrap();
        assert_eq!(wq.0.threads.lock().len(), crate::kthread::num_online_cpus());
        destroy_workqueue(&wq);
        let wq = create_workqueue("kemu_ncpu").unwrap();
        assert_eq!(wq.0.threads.lock().len(), crate::kthread::num_online_cpus());
        destroy_workqueue(&wq);
        let wq = create_singlethread_workqueue("kemu_n1").unwrap();
        assert_eq!(wq.0.threads.lock().len(), 1);
        destroy_workqueue(&wq);
    }

    #[test]
    fn workers_are_named_after_their_queue() {
        let wq = alloc_workqueue("kemu_named", 2).unwrap();
        assert!(wait_until(|| {
            let names = thread_names();
            names.iter().any(|n| n == "kemu_named/0") && names.iter().any(|n| n == "kemu_named/1")
        }));
        destroy_workqueue(&wq);
        assert!(wq.0.threads.lock().is_empty());
    }

    #[test]
    fn drain_workqueue_waits_for_running_and_queued_items() {
        let wq = create_singlethread_workqueue("kemu_drain").unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        let works: Vec<_> = (0..3)
            .map(|_| {
                let d = done.clone();
                WorkStruct::new(move || {
                    msleep(20);
                    d.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for w in &works {
            queue_work(&wq, w);
        }
        drain_workqueue(&wq);
        assert_eq!(done.load(SeqCst), 3);
        destroy_workqueue(&wq);
    }

    #[test]
    fn flush_work_does_not_wait_for_a_later_queueing() {
        let wq = create_singlethread_workqueue("kemu_flush2").unwrap();
        let gate = Arc::new(crate::completion::Completion::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let slot: Arc<OnceLock<Arc<WorkStruct>>> = Arc::new(OnceLock::new());
        let (g, r, s, q) = (
            gate.clone(),
            runs.clone(),
            Arc::downgrade(&slot),
            wq.clone(),
        );
        let w = WorkStruct::new(move || {
            let n = r.fetch_add(1, SeqCst);
            if n == 0 {
                // The first run queues the item again; the second run blocks.
                if let Some(slot) = s.upgrade() {
                    if let Some(me) = slot.get() {
                        queue_work(&q, me);
                    }
                }
            } else {
                crate::completion::wait_for_completion(&g);
            }
        });
        slot.set(w.clone()).unwrap();
        // A blocker ahead of it keeps the item pending until flush_work has looked at it.
        let gate0 = Arc::new(crate::completion::Completion::new());
        let g0 = gate0.clone();
        let blocker = WorkStruct::new(move || crate::completion::wait_for_completion(&g0));
        queue_work(&wq, &blocker);
        queue_work(&wq, &w);
        let (tx, rx) = std::sync::mpsc::channel();
        let w2 = w.clone();
        std::thread::spawn(move || {
            flush_work(&w2);
            let _ = tx.send(());
        });
        msleep(50);
        crate::completion::complete(&gate0);
        // flush_work must return once the first queueing has run, while the second run is
        // still blocked.
        let returned = rx.recv_timeout(Duration::from_secs(5)).is_ok();
        crate::completion::complete_all(&gate);
        assert!(
            returned,
            "flush_work waited for a queueing made after it was called"
        );
        destroy_workqueue(&wq);
        assert_eq!(runs.load(SeqCst), 2);
    }

    #[test]
    fn cancel_removes_only_its_own_item() {
        let wq = create_singlethread_workqueue("kemu_cancel2").unwrap();
        let gate = Arc::new(crate::completion::Completion::new());
        let g = gate.clone();
        let blocker = WorkStruct::new(move || crate::completion::wait_for_completion(&g));
        let (victim, victim_runs) = counter_work();
        let (other, other_runs) = counter_work();
        queue_work(&wq, &blocker);
        queue_work(&wq, &victim);
        queue_work(&wq, &other);
        assert!(cancel_work_sync(&victim));
        crate::completion::complete(&gate);
        flush_workqueue(&wq);
        assert_eq!(victim_runs.load(SeqCst), 0);
        assert_eq!(
            other_runs.load(SeqCst),
            1,
            "cancelling one item dropped another"
        );
        destroy_workqueue(&wq);
    }

    #[test]
    fn cancel_delayed_work_leaves_other_items_queued() {
        let wq = create_singlethread_workqueue("kemu_dcancel2").unwrap();
        let gate = Arc::new(crate::completion::Completion::new());
        let g = gate.clone();
        let blocker = WorkStruct::new(move || crate::completion::wait_for_completion(&g));
        let (other, other_runs) = counter_work();
        let dw = DelayedWork::new(|| {});
        queue_work(&wq, &blocker);
        queue_work(&wq, &other);
        queue_delayed_work(&wq, &dw, 10_000);
        assert!(cancel_delayed_work(&dw));
        crate::completion::complete(&gate);
        flush_workqueue(&wq);
        assert_eq!(
            other_runs.load(SeqCst),
            1,
            "cancelling a delayed item dropped another"
        );
        destroy_workqueue(&wq);
    }

    #[test]
    fn delayed_requeue_while_running_waits_for_its_timer() {
        let wq = create_singlethread_workqueue("kemu_dreq").unwrap();
        let gate = Arc::new(crate::completion::Completion::new());
        let started = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(AtomicUsize::new(0));
        let (g, st, r) = (gate.clone(), started.clone(), runs.clone());
        let dw = DelayedWork::new(move || {
            st.store(true, SeqCst);
            r.fetch_add(1, SeqCst);
            crate::completion::wait_for_completion(&g);
        });
        queue_delayed_work(&wq, &dw, 0);
        assert!(wait_until(|| started.load(SeqCst)));
        // Queued again with a long delay while it runs: it must not run when this run ends.
        assert!(queue_delayed_work(&wq, &dw, 10_000));
        crate::completion::complete_all(&gate);
        msleep(60);
        assert_eq!(runs.load(SeqCst), 1);
        assert!(delayed_work_pending(&dw));
        assert!(cancel_delayed_work_sync(&dw));
        destroy_workqueue(&wq);
    }

    #[test]
    fn flush_workqueue_waits_for_everything_queued_before() {
        let wq = alloc_workqueue("kemu_flushwq", 2).unwrap();
        let total = Arc::new(AtomicUsize::new(0));
        let works: Vec<_> = (0..10)
            .map(|i| {
                let t = total.clone();
                WorkStruct::new(move || {
                    msleep(i % 3);
                    t.fetch_add(1, SeqCst);
                })
            })
            .collect();
        for w in &works {
            queue_work(&wq, w);
        }
        flush_workqueue(&wq);
        assert_eq!(total.load(SeqCst), 10);
        destroy_workqueue(&wq);
    }

    #[test]
    fn destroy_drains_chained_items_and_stops_threads() {
        let wq = create_singlethread_workqueue("kemu_destroy").unwrap();
        let (second, second_runs) = counter_work();
        let wq2 = wq.clone();
        let s2 = second.clone();
        let first = WorkStruct::new(move || {
            msleep(20);
            queue_work(&wq2, &s2);
        });
        queue_work(&wq, &first);
        destroy_workqueue(&wq);
        assert_eq!(second_runs.load(SeqCst), 1, "chained item not drained");
        assert!(wq.0.threads.lock().is_empty());
        assert!(wq.0.list.lock().stopping);
    }

    #[test]
    fn delayed_work_runs_after_its_delay() {
        let wq = create_singlethread_workqueue("kemu_delayed").unwrap();
        let ran_at = Arc::new(parking_lot::Mutex::new(None));
        let r = ran_at.clone();
        let dw = DelayedWork::new(move || {
            *r.lock() = Some(jiffies());
        });
        let start = jiffies();
        assert!(queue_delayed_work(&wq, &dw, 40));
        assert!(delayed_work_pending(&dw));
        assert!(!queue_delayed_work(&wq, &dw, 40));
        assert!(wait_until(|| ran_at.lock().is_some()));
        let at = ran_at.lock().unwrap();
        assert!(crate::timer::time_after_eq(at, start + 40), "ran early");
        assert!(!delayed_work_pending(&dw));
        // Zero delay queues at once.
        *ran_at.lock() = None;
        assert!(queue_delayed_work(&wq, &dw, 0));
        assert!(wait_until(|| ran_at.lock().is_some()));
        assert!(format!("{dw:?}").contains("DelayedWork"));
        destroy_workqueue(&wq);
    }

    #[test]
    fn cancel_delayed_work_sync_prevents_the_run() {
        let wq = create_singlethread_workqueue("kemu_dcancel").unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let dw = DelayedWork::new(move || {
            r.fetch_add(1, SeqCst);
        });
        assert!(!cancel_delayed_work_sync(&dw));
        queue_delayed_work(&wq, &dw, 30);
        assert!(cancel_delayed_work_sync(&dw));
        assert!(!delayed_work_pending(&dw));
        msleep(60);
        assert_eq!(runs.load(SeqCst), 0);
        queue_delayed_work(&wq, &dw, 30);
        assert!(cancel_delayed_work(&dw));
        assert!(!cancel_delayed_work(&dw));
        msleep(60);
        assert_eq!(runs.load(SeqCst), 0);
        // It can be queued again after a cancel.
        assert!(queue_delayed_work(&wq, &dw, 1));
        assert!(wait_until(|| runs.load(SeqCst) == 1));
        destroy_workqueue(&wq);
    }

    #[test]
    fn flush_delayed_work_runs_it_now() {
        let wq = create_singlethread_workqueue("kemu_dflush").unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let dw = DelayedWork::new(move || {
            r.fetch_add(1, SeqCst);
        });
        queue_delayed_work(&wq, &dw, 10_000);
        let start = Instant::now();
        assert!(flush_delayed_work(&dw));
        assert_eq!(runs.load(SeqCst), 1);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(!flush_delayed_work(&dw));
        destroy_workqueue(&wq);
    }

    #[test]
    fn system_queue() {
        let (w, n) = counter_work();
        assert!(schedule_work(&w));
        flush_scheduled_work();
        assert_eq!(n.load(SeqCst), 1);
        assert_eq!(system_wq().unwrap().name(), "events");
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let dw = DelayedWork::new(move || {
            r.fetch_add(1, SeqCst);
        });
        assert!(schedule_delayed_work(&dw, 5));
        assert!(wait_until(|| runs.load(SeqCst) == 1));
    }
}
