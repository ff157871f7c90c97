// SPDX-License-Identifier: GPL-2.0-only
//! `atomic_t`, `atomic64_t`, bit operations on `unsigned long` flag words, and memory barriers.
//!
//! The kernel's value-returning atomics (`atomic_dec_and_test`, `atomic_inc_return`,
//! `test_and_set_bit`, …) are fully ordered; the void ones (`atomic_inc`, `set_bit`) are not
//! ordered at all. Here every operation is `SeqCst`, which is at least as strong, so code that
//! relied on the kernel's ordering keeps working; `smp_mb__before_atomic()` and friends are
//! therefore plain fences.

use std::sync::atomic::{fence, AtomicI32, AtomicI64, AtomicUsize, Ordering::SeqCst};

/// C `atomic_t`: a 32-bit signed counter.
#[derive(Debug, Default)]
#[doc(alias = "atomic_t")]
pub struct AtomicT(AtomicI32);

impl AtomicT {
    /// C `ATOMIC_INIT(i)`.
    pub const fn new(i: i32) -> Self {
        Self(AtomicI32::new(i))
    }
}

/// C `atomic_read()`.
pub fn atomic_read(v: &AtomicT) -> i32 {
    v.0.load(SeqCst)
}
/// C `atomic_set()`.
pub fn atomic_set(v: &AtomicT, i: i32) {
    v.0.store(i, SeqCst)
}
/// C `atomic_add()`.
pub fn atomic_add(i: i32, v: &AtomicT) {
    v.0.fetch_add(i, SeqCst);
}
/// C `atomic_sub()`.
pub fn atomic_sub(i: i32, v: &AtomicT) {
    v.0.fetch_sub(i, SeqCst);
}
/// C `atomic_inc()`.
pub fn atomic_inc(v: &AtomicT) {
    v.0.fetch_add(1, SeqCst);
}
/// C `atomic_dec()`.
pub fn atomic_dec(v: &AtomicT) {
    v.0.fetch_sub(1, SeqCst);
}
/// C `atomic_add_return()`: the new value.
pub fn atomic_add_return(i: i32, v: &AtomicT) -> i32 {
    v.0.fetch_add(i, SeqCst).wrapping_add(i)
}
/// C `atomic_sub_return()`: the new value.
pub fn atomic_sub_return(i: i32, v: &AtomicT) -> i32 {
    v.0.fetch_sub(i, SeqCst).wrapping_sub(i)
}
/// C `atomic_inc_return()`: the new value.
pub fn atomic_inc_return(v: &AtomicT) -> i32 {
    atomic_add_return(1, v)
}
/// C `atomic_dec_return()`: the new value.
pub fn atomic_dec_return(v: &AtomicT) -> i32 {
    atomic_sub_return(1, v)
}
/// C `atomic_dec_and_test()`: true when the counter reached zero.
pub fn atomic_dec_and_test(v: &AtomicT) -> bool {
    atomic_dec_return(v) == 0
}
/// C `atomic_inc_and_test()`: true when the counter reached zero.
pub fn atomic_inc_and_test(v: &AtomicT) -> bool {
    atomic_inc_return(v) == 0
}
/// C `atomic_sub_and_test()`: true when the counter reached zero.
pub fn atomic_sub_and_test(i: i32, v: &AtomicT) -> bool {
    atomic_sub_return(i, v) == 0
}
/// C `atomic_xchg()`: stores `new` and returns the old value.
pub fn atomic_xchg(v: &AtomicT, new: i32) -> i32 {
    v.0.swap(new, SeqCst)
}
/// C `atomic_cmpxchg()`: stores `new` if the value is `old`; returns the value seen.
pub fn atomic_cmpxchg(v: &AtomicT, old: i32, new: i32) -> i32 {
    match v.0.compare_exchange(old, new, SeqCst, SeqCst) {
        Ok(x) | Err(x) => x,
    }
}
/// C `atomic_add_unless()`: adds `a` unless the value is `u`; true if it added.
pub fn atomic_add_unless(v: &AtomicT, a: i32, u: i32) -> bool {
    v.0.fetch_update(SeqCst, SeqCst, |x| (x != u).then(|| x.wrapping_add(a)))
        .is_ok()
}
/// C `atomic_inc_not_zero()`: increments unless zero; true if it incremented.
pub fn atomic_inc_not_zero(v: &AtomicT) -> bool {
    atomic_add_unless(v, 1, 0)
}

/// C `atomic64_t`: a 64-bit signed counter.
#[derive(Debug, Default)]
#[doc(alias = "atomic64_t")]
pub struct Atomic64(AtomicI64);

impl Atomic64 {
    /// C `ATOMIC64_INIT(i)`.
    pub const fn new(i: i64) -> Self {
        Self(AtomicI64::new(i))
    }
}
/// C `atomic64_read()`.
pub fn atomic64_read(v: &Atomic64) -> i64 {
    v.0.load(SeqCst)
}
/// C `atomic64_set()`.
pub fn atomic64_set(v: &Atomic64, i: i64) {
    v.0.store(i, SeqCst)
}
/// C `atomic64_add()`.
pub fn atomic64_add(i: i64, v: &Atomic64) {
    v.0.fetch_add(i, SeqCst);
}
/// C `atomic64_inc()`.
pub fn atomic64_inc(v: &Atomic64) {
    v.0.fetch_add(1, SeqCst);
}
/// C `atomic64_dec()`.
pub fn atomic64_dec(v: &Atomic64) {
    v.0.fetch_sub(1, SeqCst);
}
/// C `atomic64_inc_return()`: the new value.
pub fn atomic64_inc_return(v: &Atomic64) -> i64 {
    v.0.fetch_add(1, SeqCst).wrapping_add(1)
}

/// An `unsigned long` word of flag bits, as used with the kernel's bit operations
/// (`cmd->cmd_flags`, `conn->conn_aflags`, `dev->dev_flags` …).
#[derive(Debug, Default)]
pub struct BitWord(AtomicUsize);

impl BitWord {
    /// C: an `unsigned long` flags field initialised to `bits`.
    pub const fn new(bits: usize) -> Self {
        Self(AtomicUsize::new(bits))
    }
    /// The whole word (C: reading the `unsigned long` directly).
    pub fn bits(&self) -> usize {
        self.0.load(SeqCst)
    }
}

/// C `BITS_PER_LONG` on x86_64.
pub const BITS_PER_LONG: u32 = usize::BITS;

fn bit_mask(nr: u32) -> usize {
    debug_assert!(nr < BITS_PER_LONG, "bit {nr} beyond one unsigned long");
    1usize << (nr % BITS_PER_LONG)
}

/// C `set_bit(nr, addr)`.
pub fn set_bit(nr: u32, addr: &BitWord) {
    addr.0.fetch_or(bit_mask(nr), SeqCst);
}
/// C `clear_bit(nr, addr)`.
pub fn clear_bit(nr: u32, addr: &BitWord) {
    addr.0.fetch_and(!bit_mask(nr), SeqCst);
}
/// C `change_bit(nr, addr)`.
pub fn change_bit(nr: u32, addr: &BitWord) {
    addr.0.fetch_xor(bit_mask(nr), SeqCst);
}
/// C `test_bit(nr, addr)`.
pub fn test_bit(nr: u32, addr: &BitWord) -> bool {
    addr.0.load(SeqCst) & bit_mask(nr) != 0
}
/// C `test_and_set_bit(nr, addr)`: the old value of the bit.
pub fn test_and_set_bit(nr: u32, addr: &BitWord) -> bool {
    addr.0.fetch_or(bit_mask(nr), SeqCst) & bit_mask(nr) != 0
}
/// C `test_and_clear_bit(nr, addr)`: the old value of the bit.
pub fn test_and_clear_bit(nr: u32, addr: &BitWord) -> bool {
    addr.0.fetch_and(!bit_mask(nr), SeqCst) & bit_mask(nr) != 0
}

/// C `smp_mb()`: full memory barrier.
pub fn smp_mb() {
    fence(SeqCst)
}
/// C `smp_rmb()`: read barrier (a full fence here).
pub fn smp_rmb() {
    fence(SeqCst)
}
/// C `smp_wmb()`: write barrier (a full fence here).
pub fn smp_wmb() {
    fence(SeqCst)
}
#[allow(non_snake_case)]
/// C `smp_mb__before_atomic()` (and the older `smp_mb__before_atomic_dec()`/`_clear_bit()`).
pub fn smp_mb__before_atomic() {
    fence(SeqCst)
}
#[allow(non_snake_case)]
/// C `smp_mb__after_atomic()` (and the older `smp_mb__after_atomic_inc()`/`_set_bit()`).
pub fn smp_mb__after_atomic() {
    fence(SeqCst)
}
/// C `cpu_relax()`: a spin-wait hint.
pub fn cpu_relax() {
    std::hint::spin_loop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    #[test]
    fn atomic_t_arithmetic() {
        let v = AtomicT::new(5);
        assert_eq!(atomic_read(&v), 5);
        atomic_inc(&v);
        assert_eq!(atomic_read(&v), 6);
        atomic_dec(&v);
        atomic_add(10, &v);
        assert_eq!(atomic_read(&v), 15);
        atomic_sub(3, &v);
        assert_eq!(atomic_read(&v), 12);
        assert_eq!(atomic_add_return(3, &v), 15);
        assert_eq!(atomic_sub_return(5, &v), 10);
        assert_eq!(atomic_inc_return(&v), 11);
        assert_eq!(atomic_dec_return(&v), 10);
        atomic_set(&v, 2);
        assert!(!atomic_dec_and_test(&v));
        assert!(atomic_dec_and_test(&v));
        assert_eq!(atomic_read(&v), 0);
        atomic_set(&v, -2);
        assert!(!atomic_inc_and_test(&v));
        assert!(atomic_inc_and_test(&v));
        atomic_set(&v, 7);
        assert!(!atomic_sub_and_test(6, &v));
        assert!(atomic_sub_and_test(1, &v));
        assert_eq!(atomic_xchg(&v, 4), 0);
        assert_eq!(atomic_cmpxchg(&v, 3, 9), 4);
        assert_eq!(atomic_read(&v), 4);
        assert_eq!(atomic_cmpxchg(&v, 4, 9), 4);
        assert_eq!(atomic_read(&v), 9);
        assert!(!atomic_add_unless(&v, 1, 9));
        assert_eq!(atomic_read(&v), 9);
        assert!(atomic_add_unless(&v, 2, 8));
        assert_eq!(atomic_read(&v), 11);
        atomic_set(&v, 0);
        assert!(!atomic_inc_not_zero(&v));
        assert_eq!(atomic_read(&v), 0);
        atomic_set(&v, 1);
        assert!(atomic_inc_not_zero(&v));
        assert_eq!(atomic_read(&v), 2);
    }

    #[test]
    fn atomic64_arithmetic() {
        let v = Atomic64::new(1 << 40);
        atomic64_inc(&v);
        assert_eq!(atomic64_read(&v), (1 << 40) + 1);
        atomic64_dec(&v);
        atomic64_add(5, &v);
        assert_eq!(atomic64_read(&v), (1 << 40) + 5);
        assert_eq!(atomic64_inc_return(&v), (1 << 40) + 6);
        atomic64_set(&v, -1);
        assert_eq!(atomic64_read(&v), -1);
    }

    #[test]
    fn dec_and_test_reaches_zero_exactly_once_across_threads() {
        let v = Arc::new(AtomicT::new(8000));
        let zeros = Arc::new(AtomicT::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (v, zeros) = (v.clone(), zeros.clone());
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        if atomic_dec_and_test(&v) {
                            atomic_inc(&zeros);
                        }
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(atomic_read(&v), 0);
        assert_eq!(atomic_read(&zeros), 1);
    }

    #[test]
    fn bitops() {
        let w = BitWord::new(0);
        set_bit(3, &w);
        assert!(test_bit(3, &w));
        assert!(!test_bit(2, &w));
        assert_eq!(w.bits(), 8);
        set_bit(63, &w);
        assert_eq!(w.bits(), 8 | (1 << 63));
        clear_bit(3, &w);
        assert_eq!(w.bits(), 1 << 63);
        assert!(!test_and_set_bit(0, &w));
        assert!(test_and_set_bit(0, &w));
        assert!(test_and_clear_bit(0, &w));
        assert!(!test_and_clear_bit(0, &w));
        assert_eq!(w.bits(), 1 << 63);
        change_bit(1, &w);
        assert_eq!(w.bits(), 2 | (1 << 63));
        change_bit(1, &w);
        assert_eq!(w.bits(), 1 << 63);
        assert_eq!(BITS_PER_LONG, 64);
        let w = BitWord::new(0b101);
        assert!(test_bit(0, &w) && test_bit(2, &w) && !test_bit(1, &w));
    }

    #[test]
    fn test_and_set_bit_has_one_winner() {
        let w = Arc::new(BitWord::new(0));
        let wins = Arc::new(AtomicT::new(0));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let (w, wins) = (w.clone(), wins.clone());
                std::thread::spawn(move || {
                    if !test_and_set_bit(5, &w) {
                        atomic_inc(&wins);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(atomic_read(&wins), 1);
    }

    #[test]
    fn barriers_are_callable() {
        smp_mb();
        smp_rmb();
        smp_wmb();
        smp_mb__before_atomic();
        smp_mb__after_atomic();
        cpu_relax();
    }

    proptest! {
        #[test]
        fn bit_ops_match_a_model(ops in proptest::collection::vec((0u8..4, 0u32..64), 0..64)) {
            let w = BitWord::new(0);
            let mut model: u64 = 0;
            for (op, nr) in ops {
                let m = 1u64 << nr;
                match op {
                    0 => { set_bit(nr, &w); model |= m; }
                    1 => { clear_bit(nr, &w); model &= !m; }
                    2 => { prop_assert_eq!(test_and_set_bit(nr, &w), model & m != 0); model |= m; }
                    _ => { prop_assert_eq!(test_and_clear_bit(nr, &w), model & m != 0); model &= !m; }
                }
                prop_assert_eq!(w.bits() as u64, model);
                prop_assert_eq!(test_bit(nr, &w), model & m != 0);
            }
        }
    }
}
