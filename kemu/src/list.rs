// SPDX-License-Identifier: GPL-2.0-only
//! `struct list_head` lists, without intrusive pointers.
//!
//! SCST keeps most objects on several kernel lists at once and removes an object from the
//! middle of a list in O(1) with `list_del(&obj->entry)`. [`List`] gives the same operations
//! over owned values: adding returns a [`ListHandle`] (the object's "entry"), which the
//! object's owner keeps to delete or move the element later in O(1). Handles carry a
//! generation, so a stale handle (an element already deleted) is detected instead of
//! removing a stranger — the kernel's `LIST_POISON` check, made reliable.
//!
//! The list is a plain data structure: it lives inside whatever lock protects it in SCST
//! (e.g. `SpinLock<List<Arc<ScstCmd>>>` for `active_cmd_list` under `cmd_list_lock`).

/// The place of an element in a [`List`]: C `struct list_head` embedded in the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListHandle {
    idx: u32,
    gen: u32,
}

#[derive(Debug)]
struct Node<T> {
    val: Option<T>,
    prev: u32,
    next: u32,
    gen: u32,
}

const NIL: u32 = u32::MAX;

/// A doubly linked list in the manner of C `struct list_head` (`LIST_HEAD()`).
#[derive(Debug)]
#[doc(alias = "list_head")]
pub struct List<T> {
    nodes: Vec<Node<T>>,
    head: u32,
    tail: u32,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> List<T> {
    /// C `LIST_HEAD(name)` / `INIT_LIST_HEAD()`: an empty list.
    pub const fn new() -> Self {
        Self {
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
            free: Vec::new(),
            len: 0,
        }
    }

    /// C `list_empty()`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of elements (the kernel counts with `list_for_each`).
    pub fn len(&self) -> usize {
        self.len
    }

    fn node(&self, h: ListHandle) -> Option<&Node<T>> {
        self.nodes
            .get(h.idx as usize)
            .filter(|n| n.gen == h.gen && n.val.is_some())
    }

    fn alloc(&mut self, val: T) -> u32 {
        if let Some(i) = self.free.pop() {
            let n = &mut self.nodes[i as usize];
            n.val = Some(val);
            i
        } else {
            let i = u32::try_from(self.nodes.len()).unwrap_or(NIL);
            assert!(i != NIL, "list too long");
            self.nodes.push(Node {
                val: Some(val),
                prev: NIL,
                next: NIL,
                gen: 0,
            });
            i
        }
    }

    fn link_after(&mut self, i: u32, prev: u32) {
        let next = if prev == NIL {
            self.head
        } else {
            self.nodes[prev as usize].next
        };
        self.nodes[i as usize].prev = prev;
        self.nodes[i as usize].next = next;
        if prev == NIL {
            self.head = i;
        } else {
            self.nodes[prev as usize].next = i;
        }
        if next == NIL {
            self.tail = i;
        } else {
            self.nodes[next as usize].prev = i;
        }
        self.len += 1;
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = (self.nodes[i as usize].prev, self.nodes[i as usize].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.nodes[i as usize].prev = NIL;
        self.nodes[i as usize].next = NIL;
        self.len -= 1;
    }

    fn handle(&self, i: u32) -> ListHandle {
        ListHandle {
            idx: i,
            gen: self.nodes[i as usize].gen,
        }
    }

    /// C `list_add(new, head)`: inserts at the front.
    pub fn add(&mut self, val: T) -> ListHandle {
        let i = self.alloc(val);
        self.link_after(i, NIL);
        self.handle(i)
    }

    /// C `list_add_tail(new, head)`: inserts at the back.
    pub fn add_tail(&mut self, val: T) -> ListHandle {
        let i = self.alloc(val);
        let tail = self.tail;
        self.link_after(i, tail);
        self.handle(i)
    }

    /// C `list_add(new, pos)` with `pos` an element: inserts right after `pos`. `None` if
    /// `pos` is not in the list.
    pub fn add_after(&mut self, pos: ListHandle, val: T) -> Option<ListHandle> {
        self.node(pos)?;
        let i = self.alloc(val);
        self.link_after(i, pos.idx);
        Some(self.handle(i))
    }

    /// C `list_add_tail(new, pos)` with `pos` an element: inserts right before `pos`. `None`
    /// if `pos` is not in the list.
    pub fn add_before(&mut self, pos: ListHandle, val: T) -> Option<ListHandle> {
        let prev = self.node(pos)?.prev;
        let i = self.alloc(val);
        self.link_after(i, prev);
        Some(self.handle(i))
    }

    /// C `list_del(entry)`: removes the element and returns it; `None` for a stale handle.
    pub fn del(&mut self, h: ListHandle) -> Option<T> {
        self.node(h)?;
        self.unlink(h.idx);
        let n = &mut self.nodes[h.idx as usize];
        n.gen = n.gen.wrapping_add(1);
        self.free.push(h.idx);
        n.val.take()
    }

    /// True if `h` names an element of this list (C `!list_empty(&obj->entry)` after
    /// `list_del_init()`).
    pub fn contains(&self, h: ListHandle) -> bool {
        self.node(h).is_some()
    }

    /// The element `h` names (C `list_entry(ptr, type, member)`).
    pub fn get(&self, h: ListHandle) -> Option<&T> {
        self.node(h)?.val.as_ref()
    }

    /// The element `h` names, mutably (C `list_entry()`).
    pub fn get_mut(&mut self, h: ListHandle) -> Option<&mut T> {
        self.node(h)?;
        self.nodes[h.idx as usize].val.as_mut()
    }

    /// C `list_first_entry()`: the first element and its handle.
    pub fn first(&self) -> Option<(ListHandle, &T)> {
        (self.head != NIL).then(|| (self.handle(self.head), self.entry(self.head)))
    }

    /// C `list_last_entry()`: the last element and its handle.
    pub fn last(&self) -> Option<(ListHandle, &T)> {
        (self.tail != NIL).then(|| (self.handle(self.tail), self.entry(self.tail)))
    }

    fn entry(&self, i: u32) -> &T {
        match &self.nodes[i as usize].val {
            Some(v) => v,
            None => unreachable!("linked node without a value"),
        }
    }

    /// The element after `h`: C `list_next_entry()` with `list_is_last()` giving `None`.
    pub fn next(&self, h: ListHandle) -> Option<(ListHandle, &T)> {
        let n = self.node(h)?.next;
        (n != NIL).then(|| (self.handle(n), self.entry(n)))
    }

    /// C `list_is_last(entry, head)`.
    pub fn is_last(&self, h: ListHandle) -> bool {
        self.contains(h) && self.tail == h.idx
    }

    /// Removes and returns the first element (C `list_first_entry()` + `list_del()`).
    pub fn pop_front(&mut self) -> Option<T> {
        let (h, _) = self.first()?;
        self.del(h)
    }

    /// C `list_move(entry, head)`: moves the element to the front. False for a stale handle.
    pub fn move_to_front(&mut self, h: ListHandle) -> bool {
        if self.node(h).is_none() {
            return false;
        }
        self.unlink(h.idx);
        self.link_after(h.idx, NIL);
        true
    }

    /// C `list_move_tail(entry, head)`: moves the element to the back. False for a stale
    /// handle.
    pub fn move_to_tail(&mut self, h: ListHandle) -> bool {
        if self.node(h).is_none() {
            return false;
        }
        self.unlink(h.idx);
        let tail = self.tail;
        self.link_after(h.idx, tail);
        true
    }

    /// C `list_for_each_entry()`: the elements with their handles, front to back.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            list: self,
            cur: self.head,
        }
    }

    /// C `list_for_each_entry_safe()` + `list_del()` on a condition: removes every element
    /// for which `f` returns false, keeping the order of the others.
    pub fn retain(&mut self, mut f: impl FnMut(&T) -> bool) {
        let mut cur = self.head;
        while cur != NIL {
            let next = self.nodes[cur as usize].next;
            if !f(self.entry(cur)) {
                let h = self.handle(cur);
                self.del(h);
            }
            cur = next;
        }
    }

    /// C `list_splice_tail_init(list, head)`: moves every element of `other` to the back of
    /// this list, in order. Handles into `other` become stale.
    pub fn splice_tail(&mut self, other: &mut List<T>) {
        while let Some(v) = other.pop_front() {
            self.add_tail(v);
        }
    }
}

/// A [`ListHandle`] slot inside a shared object: the object's "list entry" (C
/// `struct list_head cmd_list_entry` inside `struct scst_cmd`). It is written and read only
/// while holding the lock of the list the handle belongs to, like the C entry; being atomic
/// lets it sit in an `Arc`-shared object without a lock of its own.
#[derive(Debug)]
pub struct AtomicListHandle(std::sync::atomic::AtomicU64);

const NO_HANDLE: u64 = u64::MAX;

impl Default for AtomicListHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl AtomicListHandle {
    /// An empty slot (C `INIT_LIST_HEAD(&obj->entry)`: on no list).
    pub const fn new() -> Self {
        Self(std::sync::atomic::AtomicU64::new(NO_HANDLE))
    }

    fn unpack(v: u64) -> Option<ListHandle> {
        (v != NO_HANDLE).then_some(ListHandle {
            idx: (v >> 32) as u32,
            gen: (v & 0xffff_ffff) as u32,
        })
    }

    /// The handle stored, if the object is on a list (C `!list_empty(&obj->entry)`).
    pub fn get(&self) -> Option<ListHandle> {
        Self::unpack(self.0.load(std::sync::atomic::Ordering::Acquire))
    }

    /// Stores the handle `add_tail` returned (C: the entry is now linked).
    pub fn set(&self, h: ListHandle) {
        let v = (u64::from(h.idx) << 32) + u64::from(h.gen);
        self.0.store(v, std::sync::atomic::Ordering::Release);
    }

    /// Empties the slot and returns what it held (C `list_del_init(&obj->entry)`).
    pub fn take(&self) -> Option<ListHandle> {
        Self::unpack(self.0.swap(NO_HANDLE, std::sync::atomic::Ordering::AcqRel))
    }
}

/// Iterator of [`List::iter`] (C `list_for_each_entry()`).
#[derive(Debug)]
pub struct Iter<'a, T> {
    list: &'a List<T>,
    cur: u32,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (ListHandle, &'a T);
    fn next(&mut self) -> Option<Self::Item> {
        if self.cur == NIL {
            return None;
        }
        let i = self.cur;
        self.cur = self.list.nodes[i as usize].next;
        Some((self.list.handle(i), self.list.entry(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn items<T: Clone>(l: &List<T>) -> Vec<T> {
        l.iter().map(|(_, v)| v.clone()).collect()
    }

    #[test]
    fn basic_operations() {
        let mut l = List::new();
        assert!(l.is_empty());
        assert!(l.first().is_none() && l.last().is_none());
        let a = l.add_tail("a");
        let b = l.add_tail("b");
        let z = l.add("z");
        assert_eq!(items(&l), ["z", "a", "b"]);
        assert_eq!(l.len(), 3);
        assert_eq!(l.first().map(|(h, v)| (h, *v)), Some((z, "z")));
        assert_eq!(l.last().map(|(h, v)| (h, *v)), Some((b, "b")));
        assert!(l.is_last(b) && !l.is_last(a));
        assert_eq!(l.next(z).map(|(h, _)| h), Some(a));
        assert!(l.next(b).is_none());
        let c = l.add_after(a, "c").unwrap();
        assert_eq!(items(&l), ["z", "a", "c", "b"]);
        let y = l.add_before(z, "y").unwrap();
        let w = l.add_before(b, "w").unwrap();
        assert_eq!(items(&l), ["y", "z", "a", "c", "w", "b"]);
        assert_eq!(l.del(y), Some("y"));
        assert_eq!(l.del(w), Some("w"));
        assert!(l.add_before(y, "x").is_none(), "stale handle");
        assert_eq!(l.del(a), Some("a"));
        assert_eq!(l.del(a), None, "stale handle");
        assert!(!l.contains(a) && l.contains(c));
        assert!(l.get(a).is_none());
        assert!(l.add_after(a, "x").is_none());
        assert!(!l.move_to_tail(a) && !l.move_to_front(a));
        assert!(l.next(a).is_none());
        // The freed slot is reused, but the old handle stays stale.
        let d = l.add_tail("d");
        assert_eq!(d.idx, a.idx);
        assert_ne!(d, a);
        assert!(!l.contains(a));
        assert_eq!(items(&l), ["z", "c", "b", "d"]);
        assert!(l.move_to_tail(z));
        assert_eq!(items(&l), ["c", "b", "d", "z"]);
        assert!(l.move_to_front(d));
        assert_eq!(items(&l), ["d", "c", "b", "z"]);
        *l.get_mut(c).unwrap() = "C";
        assert_eq!(l.get(c), Some(&"C"));
        assert!(l.get_mut(a).is_none());
        l.retain(|v| *v != "b");
        assert_eq!(items(&l), ["d", "C", "z"]);
        assert_eq!(l.pop_front(), Some("d"));
        let mut other = List::default();
        other.add_tail("o1");
        other.add_tail("o2");
        l.splice_tail(&mut other);
        assert!(other.is_empty());
        assert_eq!(items(&l), ["C", "z", "o1", "o2"]);
        assert_eq!(l.len(), 4);
        while l.pop_front().is_some() {}
        assert!(l.is_empty() && l.first().is_none());
        assert_eq!(l.pop_front(), None);
    }

    #[test]
    fn atomic_handle_slot() {
        let mut l = List::new();
        let _ = l.add_tail(1u8);
        let h = l.add_tail(2u8);
        let slot = AtomicListHandle::default();
        assert_eq!(slot.get(), None);
        slot.set(h);
        assert_eq!(slot.get(), Some(h));
        assert_eq!(l.del(slot.take().unwrap()), Some(2));
        assert_eq!(slot.get(), None);
        assert_eq!(slot.take(), None);
        let big = ListHandle {
            idx: 0xdead_beef,
            gen: 0x1234_5678,
        };
        slot.set(big);
        assert_eq!(slot.get(), Some(big));
        let h2 = l.add_tail(3u8);
        assert_eq!(
            (h2.idx, h2.gen),
            (1, 1),
            "slot reused with a new generation"
        );
        slot.set(h2);
        assert_eq!(slot.get(), Some(h2));
    }

    #[derive(Debug, Clone)]
    enum Op {
        AddTail(u8),
        Add(u8),
        Del(usize),
        MoveTail(usize),
        MoveFront(usize),
        AddAfter(usize, u8),
        Pop,
        RetainOdd,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            any::<u8>().prop_map(Op::AddTail),
            any::<u8>().prop_map(Op::Add),
            any::<usize>().prop_map(Op::Del),
            any::<usize>().prop_map(Op::MoveTail),
            any::<usize>().prop_map(Op::MoveFront),
            (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Op::AddAfter(i, v)),
            Just(Op::Pop),
            Just(Op::RetainOdd),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The list behaves like a VecDeque of (handle, value) under every operation.
        #[test]
        fn matches_a_model(ops in proptest::collection::vec(op(), 0..120)) {
            let mut l = List::new();
            let mut m: VecDeque<(ListHandle, u8)> = VecDeque::new();
            let mut dead: Vec<ListHandle> = Vec::new();
            for op in ops {
                match op {
                    Op::AddTail(v) => { let h = l.add_tail(v); m.push_back((h, v)); }
                    Op::Add(v) => { let h = l.add(v); m.push_front((h, v)); }
                    Op::Del(i) if !m.is_empty() => {
                        let (h, v) = m.remove(i % m.len()).unwrap();
                        prop_assert_eq!(l.del(h), Some(v));
                        dead.push(h);
                    }
                    Op::MoveTail(i) if !m.is_empty() => {
                        let e = m.remove(i % m.len()).unwrap();
                        prop_assert!(l.move_to_tail(e.0));
                        m.push_back(e);
                    }
                    Op::MoveFront(i) if !m.is_empty() => {
                        let e = m.remove(i % m.len()).unwrap();
                        prop_assert!(l.move_to_front(e.0));
                        m.push_front(e);
                    }
                    Op::AddAfter(i, v) if !m.is_empty() => {
                        let at = i % m.len();
                        let h = l.add_after(m[at].0, v).unwrap();
                        m.insert(at + 1, (h, v));
                    }
                    Op::Pop => {
                        let e = m.pop_front();
                        prop_assert_eq!(l.pop_front(), e.map(|e| e.1));
                        if let Some(e) = e { dead.push(e.0); }
                    }
                    Op::RetainOdd => {
                        l.retain(|v| v % 2 == 1);
                        m.retain(|e| { if e.1 % 2 == 0 { dead.push(e.0); } e.1 % 2 == 1 });
                    }
                    _ => {}
                }
                let got: Vec<(ListHandle, u8)> = l.iter().map(|(h, v)| (h, *v)).collect();
                let want: Vec<(ListHandle, u8)> = m.iter().copied().collect();
                prop_assert_eq!(&got, &want);
                prop_assert_eq!(l.len(), m.len());
                prop_assert_eq!(l.is_empty(), m.is_empty());
                prop_assert_eq!(l.first().map(|(h, _)| h), m.front().map(|e| e.0));
                prop_assert_eq!(l.last().map(|(h, _)| h), m.back().map(|e| e.0));
                for w in want.windows(2) {
                    prop_assert_eq!(l.next(w[0].0).map(|(h, _)| h), Some(w[1].0));
                }
                for d in &dead {
                    prop_assert!(!l.contains(*d));
                }
            }
        }
    }
}
