// SPDX-License-Identifier: GPL-2.0-only
//! Kernel threads and `current`: `kthread_create()`, `kthread_run()`, `wake_up_process()`,
//! `kthread_should_stop()`, `kthread_stop()`.
//!
//! Every kernel thread is an OS thread whose name is the `comm` SCST gives it (`scstd0`,
//! `scst_initd`, `iscsird0_0` …), so `ps -L` shows the same names as on a kernel with SCST
//! loaded (Linux keeps the first 15 bytes). Every thread, kernel thread or not, has a
//! [`TaskStruct`] reachable through [`current`].
//!
//! `kthread_stop()` sets the stop flag, wakes the thread out of whatever wait it is in (as
//! `wake_up_process()` does in the kernel: the waits of [`crate::wait`] then re-check their
//! condition, which in SCST's thread loops includes `kthread_should_stop()`), and joins it.

use crate::Errno;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};

/// C `struct task_struct`, the parts SCST uses: the name, the thread id and the kthread
/// stop flag.
#[derive(Debug)]
#[doc(alias = "task_struct")]
pub struct TaskStruct {
    comm: String,
    pid: AtomicI32,
    thread: Thread,
    should_stop: AtomicBool,
    started: AtomicBool,
    is_kthread: bool,
    join: parking_lot::Mutex<Option<JoinHandle<i32>>>,
}

impl TaskStruct {
    /// C `task->comm`: the thread's name.
    pub fn comm(&self) -> &str {
        &self.comm
    }

    /// C `task_pid_vnr(task)`: the thread id (TID), as `ps -L` shows it. For a kernel thread
    /// that has not started running yet, 0.
    pub fn pid(&self) -> i32 {
        self.pid.load(SeqCst)
    }

    /// True if this task was created by [`kthread_create`]/[`kthread_run`] (C: `PF_KTHREAD`).
    pub fn is_kthread(&self) -> bool {
        self.is_kthread
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<TaskStruct>>> = const { RefCell::new(None) };
}

fn gettid() -> i32 {
    nix::unistd::gettid().as_raw()
}

/// C `current`: the task of the calling thread. Threads not made by [`kthread_create`] (the
/// main thread, test threads) get a task on first use, named after the thread.
pub fn current() -> Arc<TaskStruct> {
    CURRENT.with(|c| {
        c.borrow_mut()
            .get_or_insert_with(|| {
                let t = std::thread::current();
                Arc::new(TaskStruct {
                    comm: t.name().unwrap_or("").to_owned(),
                    pid: AtomicI32::new(gettid()),
                    thread: t,
                    should_stop: AtomicBool::new(false),
                    started: AtomicBool::new(true),
                    is_kthread: false,
                    join: parking_lot::Mutex::new(None),
                })
            })
            .clone()
    })
}

/// C `kthread_create(threadfn, data, namefmt, …)`: creates a kernel thread named `name` that
/// runs `threadfn` once [`wake_up_process`] is called on it. The thread's return value is what
/// [`kthread_stop`] returns. Fails with `EAGAIN` if the OS cannot create a thread.
pub fn kthread_create<F>(threadfn: F, name: &str) -> Result<Arc<TaskStruct>, Errno>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<TaskStruct>>(1);
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let Ok(task) = rx.recv() else { return 0 };
            task.pid.store(gettid(), SeqCst);
            CURRENT.with(|c| *c.borrow_mut() = Some(task.clone()));
            // Like a new kthread, sleep until woken for the first time; a stop before that
            // means the thread function never runs.
            while !task.started.load(SeqCst) && !task.should_stop.load(SeqCst) {
                std::thread::park();
            }
            if !task.started.load(SeqCst) {
                return crate::errno_neg(Errno::EINTR);
            }
            threadfn()
        })
        .map_err(|_| Errno::EAGAIN)?;
    let task = Arc::new(TaskStruct {
        comm: name.to_owned(),
        pid: AtomicI32::new(0),
        thread: handle.thread().clone(),
        should_stop: AtomicBool::new(false),
        started: AtomicBool::new(false),
        is_kthread: true,
        join: parking_lot::Mutex::new(Some(handle)),
    });
    // The receiver is alive until it receives; a failed send means the thread already died.
    tx.send(task.clone()).map_err(|_| Errno::EAGAIN)?;
    Ok(task)
}

/// C `kthread_run(threadfn, data, namefmt, …)`: [`kthread_create`] and [`wake_up_process`].
pub fn kthread_run<F>(threadfn: F, name: &str) -> Result<Arc<TaskStruct>, Errno>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    let t = kthread_create(threadfn, name)?;
    wake_up_process(&t);
    Ok(t)
}

/// C `wake_up_process(task)`: starts a created kernel thread, or wakes a sleeping one so that
/// it re-checks what it waits for. Returns true (the kernel returns whether the state changed;
/// no SCST caller uses it).
pub fn wake_up_process(task: &TaskStruct) -> bool {
    task.started.store(true, SeqCst);
    task.thread.unpark();
    true
}

/// C `kthread_should_stop()`: true in a kernel thread once [`kthread_stop`] was called on it.
pub fn kthread_should_stop() -> bool {
    current().should_stop.load(SeqCst)
}

/// C `kthread_stop(task)`: tells the thread to stop, wakes it and waits for it to exit.
/// Returns the thread function's result, or `-EINTR` if the thread was stopped before it was
/// ever woken. A second call returns `-EINTR` too (the kernel forbids it; nothing is left to
/// join).
pub fn kthread_stop(task: &TaskStruct) -> i32 {
    task.should_stop.store(true, SeqCst);
    task.thread.unpark();
    let handle = task.join.lock().take();
    match handle {
        Some(h) => h.join().unwrap_or_else(|_| crate::errno_neg(Errno::EINTR)),
        None => crate::errno_neg(Errno::EINTR),
    }
}

/// C `set_user_nice(task, nice)`. SCST raises the priority of its threads; an unprivileged
/// process may not, and a kernel would not fail here, so the call succeeds without effect.
pub fn set_user_nice(_task: &TaskStruct, _nice: i32) {}

/// C `num_online_cpus()`: the CPUs this process may run on.
pub fn num_online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// C `schedule()` for a task that set itself to sleep: blocks until woken by
/// [`wake_up_process`], a wait-queue wake-up or [`kthread_stop`]. May return early (callers
/// re-check their condition, as in the kernel).
pub fn schedule() {
    std::thread::park();
}

/// C `schedule_timeout(timeout)`: like [`schedule`] but for at most `timeout` jiffies. Returns
/// the jiffies left (0 when the time ran out).
pub fn schedule_timeout(timeout: u64) -> u64 {
    let start = crate::timer::jiffies();
    std::thread::park_timeout(crate::timer::jiffies_to_duration(timeout));
    let spent = crate::timer::jiffies().wrapping_sub(start);
    timeout.saturating_sub(spent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn kthread_runs_with_its_name_and_stop_joins() {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = kthread_run(
            move || {
                let me = current();
                tx.send((
                    std::thread::current().name().map(str::to_owned),
                    me.comm().to_owned(),
                    me.is_kthread(),
                    me.pid(),
                ))
                .unwrap();
                while !kthread_should_stop() {
                    schedule();
                }
                42
            },
            "scst_test0",
        )
        .unwrap();
        let (name, comm, is_k, pid) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(name.as_deref(), Some("scst_test0"));
        assert_eq!(comm, "scst_test0");
        assert_eq!(t.comm(), "scst_test0");
        assert!(is_k && t.is_kthread());
        assert!(pid > 0);
        assert_ne!(pid, gettid());
        assert_eq!(kthread_stop(&t), 42);
        assert_eq!(kthread_stop(&t), -(Errno::EINTR as i32));
    }

    #[test]
    fn created_thread_waits_for_wake_up_process() {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let t = kthread_create(
            move || {
                r2.store(true, SeqCst);
                7
            },
            "kt_create",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!ran.load(SeqCst), "ran before wake_up_process");
        assert!(wake_up_process(&t));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ran.load(SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(ran.load(SeqCst));
        assert_eq!(kthread_stop(&t), 7);
    }

    #[test]
    fn stop_before_start_never_runs_the_function() {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let t = kthread_create(
            move || {
                r2.store(true, SeqCst);
                0
            },
            "kt_never",
        )
        .unwrap();
        assert_eq!(kthread_stop(&t), -(Errno::EINTR as i32));
        assert!(!ran.load(SeqCst));
    }

    #[test]
    fn current_of_a_plain_thread() {
        let c = std::thread::Builder::new()
            .name("plain-thread".into())
            .spawn(|| {
                let c = current();
                assert!(Arc::ptr_eq(&c, &current()));
                (
                    c.comm().to_owned(),
                    c.is_kthread(),
                    kthread_should_stop(),
                    c.pid() == gettid(),
                )
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(c, ("plain-thread".to_owned(), false, false, true));
        set_user_nice(&current(), -5);
        assert_eq!(
            num_online_cpus(),
            std::thread::available_parallelism().unwrap().get()
        );
    }

    #[test]
    fn schedule_sleeps_until_woken() {
        let woke = Arc::new(AtomicBool::new(false));
        let w2 = woke.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            tx.send(current()).unwrap();
            schedule();
            w2.store(true, SeqCst);
        });
        let task = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!woke.load(SeqCst), "schedule() returned without a wake-up");
        wake_up_process(&task);
        h.join().unwrap();
        assert!(woke.load(SeqCst));
    }

    #[test]
    fn schedule_timeout_returns_remaining_or_zero() {
        let start = Instant::now();
        assert_eq!(schedule_timeout(30), 0);
        assert!(start.elapsed() >= Duration::from_millis(30));
        // A wake-up before the timeout leaves time.
        let me = current();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            wake_up_process(&me);
        });
        let mut left = 0;
        for _ in 0..10 {
            left = schedule_timeout(5000);
            if left > 0 && left < 5000 {
                break;
            }
        }
        h.join().unwrap();
        assert!(left > 0 && left <= 5000, "left {left}");
    }
}
