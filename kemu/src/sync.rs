// SPDX-License-Identifier: GPL-2.0-only
//! Locks: `spinlock_t`, `struct mutex`, `rwlock_t`.
//!
//! SCST's lock granularity is kept by giving every C lock its own Rust lock object that owns
//! exactly the data the C code documents as "protected by" it. All three are `parking_lot`
//! locks underneath: usermode has no interrupts or bottom halves, so the `_bh`, `_irq` and
//! `_irqsave` variants take the same lock as the plain one (the usermode adaptation does the
//! same). The variants are kept so the ported code still says which context the C code
//! protected against.
//!
//! Unlocking is dropping the guard; the `spin_unlock*`/`mutex_unlock`/`*_unlock` functions take
//! the guard by value so a port can keep the C call where it helps reading.

use crate::Errno;

/// A guard of a [`SpinLock`]; dropping it is C `spin_unlock()`.
pub type SpinLockGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
/// A guard of a [`Mutex`]; dropping it is C `mutex_unlock()`.
pub type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
/// A read guard of a [`RwLock`]; dropping it is C `read_unlock()`.
pub type RwLockReadGuard<'a, T> = parking_lot::RwLockReadGuard<'a, T>;
/// A write guard of a [`RwLock`]; dropping it is C `write_unlock()`.
pub type RwLockWriteGuard<'a, T> = parking_lot::RwLockWriteGuard<'a, T>;

/// C `spinlock_t` together with the data it protects (`spin_lock_init()` is [`SpinLock::new`]).
#[derive(Debug, Default)]
#[doc(alias = "spinlock_t")]
pub struct SpinLock<T>(parking_lot::Mutex<T>);

impl<T> SpinLock<T> {
    /// C `spin_lock_init()` / `DEFINE_SPINLOCK()`.
    pub const fn new(data: T) -> Self {
        Self(parking_lot::Mutex::new(data))
    }

    /// C `spin_lock()`.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        self.0.lock()
    }

    /// C `spin_lock_bh()`: there are no bottom halves in usermode, so this is [`Self::lock`].
    pub fn lock_bh(&self) -> SpinLockGuard<'_, T> {
        self.0.lock()
    }

    /// C `spin_lock_irq()`: there are no interrupts in usermode, so this is [`Self::lock`].
    pub fn lock_irq(&self) -> SpinLockGuard<'_, T> {
        self.0.lock()
    }

    /// C `spin_lock_irqsave()`: there are no interrupts in usermode, so this is [`Self::lock`].
    pub fn lock_irqsave(&self) -> SpinLockGuard<'_, T> {
        self.0.lock()
    }

    /// C `spin_trylock()`.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        self.0.try_lock()
    }

    /// C `spin_is_locked()` (for assertions only, as in the kernel).
    pub fn is_locked(&self) -> bool {
        self.0.is_locked()
    }

    /// Access without locking through a unique reference (no C counterpart is needed: the
    /// kernel initialises objects before publishing them).
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }

    /// Consumes the lock and returns the data (C: the object is freed with its lock).
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

/// C `spin_lock(&l)`; returns the guard.
pub fn spin_lock<T>(l: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    l.lock()
}
/// C `spin_lock_bh(&l)`.
pub fn spin_lock_bh<T>(l: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    l.lock_bh()
}
/// C `spin_lock_irq(&l)`.
pub fn spin_lock_irq<T>(l: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    l.lock_irq()
}
/// C `spin_lock_irqsave(&l, flags)`.
pub fn spin_lock_irqsave<T>(l: &SpinLock<T>) -> SpinLockGuard<'_, T> {
    l.lock_irqsave()
}
/// C `spin_unlock()`: releases the guard.
pub fn spin_unlock<T>(_guard: SpinLockGuard<'_, T>) {}
/// C `spin_unlock_bh()`: releases the guard.
pub fn spin_unlock_bh<T>(_guard: SpinLockGuard<'_, T>) {}
/// C `spin_unlock_irq()`: releases the guard.
pub fn spin_unlock_irq<T>(_guard: SpinLockGuard<'_, T>) {}
/// C `spin_unlock_irqrestore()`: releases the guard.
pub fn spin_unlock_irqrestore<T>(_guard: SpinLockGuard<'_, T>) {}

/// C `struct mutex` together with the data it protects (`mutex_init()` is [`Mutex::new`]).
#[derive(Debug, Default)]
#[doc(alias = "mutex")]
pub struct Mutex<T>(parking_lot::Mutex<T>);

impl<T> Mutex<T> {
    /// C `mutex_init()` / `DEFINE_MUTEX()`.
    pub const fn new(data: T) -> Self {
        Self(parking_lot::Mutex::new(data))
    }

    /// C `mutex_lock()`.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock()
    }

    /// C `mutex_lock_interruptible()`. Kernel threads of the port never receive signals, so
    /// the wait is never interrupted and the result is always `Ok`; the `Result` keeps the C
    /// error path (`-EINTR`) visible in the ported code.
    pub fn lock_interruptible(&self) -> Result<MutexGuard<'_, T>, Errno> {
        Ok(self.0.lock())
    }

    /// C `mutex_trylock()`.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.0.try_lock()
    }

    /// C `mutex_is_locked()`.
    pub fn is_locked(&self) -> bool {
        self.0.is_locked()
    }

    /// Access through a unique reference, without locking (C: initialising a private object).
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }

    /// Consumes the mutex and returns the data (C: `mutex_destroy()`).
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

/// C `mutex_lock(&m)`.
pub fn mutex_lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
}
/// C `mutex_lock_interruptible(&m)`; see [`Mutex::lock_interruptible`].
pub fn mutex_lock_interruptible<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, Errno> {
    m.lock_interruptible()
}
/// C `mutex_unlock()`: releases the guard.
pub fn mutex_unlock<T>(_guard: MutexGuard<'_, T>) {}

/// C `rwlock_t` together with the data it protects (`rwlock_init()` is [`RwLock::new`]).
#[derive(Debug, Default)]
#[doc(alias = "rwlock_t")]
pub struct RwLock<T>(parking_lot::RwLock<T>);

impl<T> RwLock<T> {
    /// C `rwlock_init()` / `DEFINE_RWLOCK()`.
    pub const fn new(data: T) -> Self {
        Self(parking_lot::RwLock::new(data))
    }

    /// C `read_lock()` (and `read_lock_bh()`/`read_lock_irqsave()`).
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read()
    }

    /// C `write_lock()` (and `write_lock_bh()`/`write_lock_irqsave()`).
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write()
    }

    /// Access through a unique reference, without locking (C: initialising a private object).
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

/// C `read_lock(&l)`.
pub fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read()
}
/// C `read_lock_bh(&l)`.
pub fn read_lock_bh<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read()
}
/// C `write_lock(&l)`.
pub fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write()
}
/// C `write_lock_bh(&l)`.
pub fn write_lock_bh<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn spinlock_variants_share_one_lock() {
        let l = SpinLock::new(0u32);
        let g = spin_lock_bh(&l);
        assert!(l.is_locked());
        assert!(l.try_lock().is_none());
        spin_unlock_bh(g);
        assert!(!l.is_locked());
        assert!(l.try_lock().is_some());
        for get in [
            spin_lock::<u32> as fn(&SpinLock<u32>) -> SpinLockGuard<'_, u32>,
            spin_lock_irq,
            spin_lock_irqsave,
            SpinLock::lock_irq,
            SpinLock::lock_irqsave,
            SpinLock::lock_bh,
        ] {
            let mut g = get(&l);
            *g += 1;
            assert!(l.try_lock().is_none());
            drop(g);
        }
        let g = spin_lock_irq(&l);
        spin_unlock_irq(g);
        let g = spin_lock_irqsave(&l);
        spin_unlock_irqrestore(g);
        let g = spin_lock(&l);
        spin_unlock(g);
        assert_eq!(*l.lock(), 6);
        let mut l = l;
        *l.get_mut() = 9;
        assert_eq!(l.into_inner(), 9);
    }

    #[test]
    fn spinlock_excludes_across_threads() {
        let l = Arc::new(SpinLock::new(0u64));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let mut g = l.lock_bh();
                        let v = *g;
                        *g = v + 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*l.lock(), 40_000);
    }

    #[test]
    fn mutex_and_interruptible() {
        let m = Mutex::new(String::from("a"));
        {
            let mut g = mutex_lock_interruptible(&m).unwrap();
            g.push('b');
            assert!(m.is_locked());
            assert!(m.try_lock().is_none());
        }
        let g = mutex_lock(&m);
        assert_eq!(&*g, "ab");
        mutex_unlock(g);
        assert!(!m.is_locked());
        assert!(m.try_lock().is_some());
        let mut m = m;
        m.get_mut().push('c');
        assert_eq!(m.into_inner(), "abc");
    }

    #[test]
    fn rwlock_readers_share_writers_exclude() {
        let l = RwLock::new(1);
        let r1 = read_lock(&l);
        let r2 = read_lock_bh(&l);
        assert_eq!(*r1 + *r2, 2);
        drop((r1, r2));
        *write_lock(&l) += 1;
        *write_lock_bh(&l) += 1;
        let mut l = l;
        *l.get_mut() += 1;
        assert_eq!(*l.read(), 4);
        let w = l.write();
        assert_eq!(*w, 4);
    }
}
