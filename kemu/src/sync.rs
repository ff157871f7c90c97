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

/// Data protected by a lock that lives in another object (Rust-for-Linux's
/// `kernel::sync::LockedBy`): the Rust form of C's "protected by `scst_mutex`" comment on a
/// field of a per-object struct (`tgt_list` of a target template, `sess_list` of a target …).
///
/// The data stays inside its own object, but the lock is the owner's, so the lock granularity
/// of the C code is kept: one global `scst_mutex`, not one lock per object. [`LockedBy::new`]
/// records which lock protects the data; [`LockedBy::access`] and [`LockedBy::access_mut`]
/// take a guard of a lock and check, always (not only in debug builds), that it is a guard of
/// that lock. A guard of another lock is a programming error and panics, like C's `BUG_ON()`.
///
/// # Invariants
///
/// `owner` is the address of the `parking_lot::Mutex` inside the [`Mutex`] or [`SpinLock`]
/// given to the constructor; the data is only reached through a guard of the lock that sits at
/// that address while the guard is alive.
pub struct LockedBy<T> {
    owner: *const (),
    data: std::cell::UnsafeCell<T>,
}

// SAFETY: `LockedBy<T>` owns a `T`; moving it to another thread moves the `T`, which is fine
// when `T: Send`. The `owner` pointer is only compared, never dereferenced.
unsafe impl<T: Send> Send for LockedBy<T> {}

// SAFETY: every access goes through a guard of the owner lock. `access_mut` needs a unique
// borrow of that guard, and only one guard of a lock exists at a time, so at most one thread
// has `&mut T` and nobody has `&T` meanwhile; the thread that gets `&mut T` may be another one
// than the one that created the data, hence `T: Send`. `access` hands out `&T` to whoever can
// borrow the guard (a `&MutexGuard` may be shared with scoped threads), so it requires
// `T: Sync` itself.
unsafe impl<T: Send> Sync for LockedBy<T> {}

impl<T> LockedBy<T> {
    /// Wraps `data`, to be protected by the [`Mutex`] `owner` (C: a field documented as
    /// "protected by" that mutex).
    pub fn new<U>(owner: &Mutex<U>, data: T) -> Self {
        Self {
            owner: std::ptr::from_ref(&owner.0).cast(),
            data: std::cell::UnsafeCell::new(data),
        }
    }

    /// Wraps `data`, to be protected by the [`SpinLock`] `owner`.
    pub fn new_spinlock<U>(owner: &SpinLock<U>, data: T) -> Self {
        Self {
            owner: std::ptr::from_ref(&owner.0).cast(),
            data: std::cell::UnsafeCell::new(data),
        }
    }

    fn check<U>(&self, guard: &MutexGuard<'_, U>) {
        let m: *const () = std::ptr::from_ref(parking_lot::MutexGuard::mutex(guard)).cast();
        assert!(
            std::ptr::eq(m, self.owner),
            "LockedBy: the guard does not belong to the lock that protects this data"
        );
    }

    /// Shared access to the data while the owner lock is held. Panics if `guard` is a guard
    /// of another lock.
    pub fn access<'a, U>(&'a self, guard: &'a MutexGuard<'_, U>) -> &'a T
    where
        T: Sync,
    {
        self.check(guard);
        // SAFETY: `check` proved that `guard` guards the lock recorded at construction, which
        // is alive at that address for as long as `guard` is borrowed. While that borrow lasts
        // nobody can get a unique borrow of the (only) guard of that lock, so no `&mut T`
        // from `access_mut` can coexist with the returned reference.
        unsafe { &*self.data.get() }
    }

    /// Unique access to the data while the owner lock is held. Panics if `guard` is a guard
    /// of another lock.
    #[allow(clippy::mut_from_ref)]
    pub fn access_mut<'a, U>(&'a self, guard: &'a mut MutexGuard<'_, U>) -> &'a mut T {
        self.check(guard);
        // SAFETY: `check` proved that `guard` guards the owner lock. The guard is borrowed
        // uniquely for `'a` and a lock has only one guard at a time, so no other `&T` or
        // `&mut T` obtained through `access`/`access_mut` can exist during `'a`.
        unsafe { &mut *self.data.get() }
    }

    /// Access through a unique reference, without the lock (C: initialising or freeing an
    /// object nobody else can see).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Consumes the wrapper and returns the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T> std::fmt::Debug for LockedBy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockedBy")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
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
    #[test]
    fn locked_by_access_with_owner_guard() {
        struct Obj {
            list: LockedBy<Vec<u32>>,
        }
        let owner = Mutex::new(0u32);
        let spin = SpinLock::new(());
        let o = Arc::new(Obj {
            list: LockedBy::new(&owner, vec![1]),
        });
        let s = LockedBy::new_spinlock(&spin, 5u8);
        {
            let mut g = owner.lock();
            o.list.access_mut(&mut g).push(2);
            *g += 1;
            assert_eq!(o.list.access(&g), &[1, 2]);
        }
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let o = o.clone();
                let owner = &owner;
                std::thread::scope(|sc| {
                    sc.spawn(move || {
                        let mut g = owner.lock();
                        o.list.access_mut(&mut g).push(10 + i);
                    })
                    .join()
                    .unwrap()
                })
            })
            .collect();
        assert_eq!(hs.len(), 4);
        assert_eq!(o.list.access(&owner.lock()).len(), 6);
        assert_eq!(*s.access(&spin.lock()), 5);
        let mut s = s;
        *s.get_mut() = 6;
        assert_eq!(s.into_inner(), 6);
        assert!(format!("{:?}", o.list).starts_with("LockedBy"));
    }

    #[test]
    #[should_panic(expected = "does not belong")]
    fn locked_by_wrong_guard_panics() {
        let owner = Mutex::new(());
        let other = Mutex::new(());
        let d = LockedBy::new(&owner, 1u32);
        let mut g = other.lock();
        *d.access_mut(&mut g) += 1;
    }

    #[test]
    #[should_panic(expected = "does not belong")]
    fn locked_by_wrong_guard_panics_shared() {
        let owner = Mutex::new(1u8);
        let other = Mutex::new(1u8);
        let d = LockedBy::new(&owner, 1u32);
        let _ = d.access(&other.lock());
    }
}
