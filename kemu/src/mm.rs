// SPDX-License-Identifier: GPL-2.0-only
//! Memory: pages (`alloc_pages()`, `__free_pages()`, `page_address()`), GFP flags, and slab
//! caches (`kmem_cache_create()`, `kmem_cache_alloc()`, `kmem_cache_free()`).
//!
//! Pages are `PAGE_SIZE << order` byte buffers. Like the kernel's per-CPU page lists, freed
//! pages go to a per-order free list and the next allocation of that order takes one from
//! there, so a steady I/O load allocates nothing from the heap after warm-up; the counters of
//! [`page_pool_stats`] show it. The free lists are capped ([`PAGE_POOL_MAX_BYTES`] per order);
//! beyond that freed pages go back to the heap. A page freed by dropping it is recycled the
//! same way as one passed to `__free_pages()`.
//!
//! `PAGE_SIZE` is the kernel's 4096 (not the usermode adaptation's 64 KiB), so the limits SCST
//! derives from it stay the kernel's.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// C `PAGE_SHIFT`.
pub const PAGE_SHIFT: u32 = 12;
/// C `PAGE_SIZE`.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// The largest page order served (C `MAX_ORDER - 1` on x86_64 is 10).
pub const MAX_ORDER: u32 = 10;
/// How many bytes of free pages of one order are kept for reuse (the role of the kernel's
/// per-CPU page lists' high watermark).
pub const PAGE_POOL_MAX_BYTES: usize = 64 << 20;

/// C `gfp_t`: allocation flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Gfp(pub u32);

/// C `__GFP_ZERO`: return zeroed memory.
pub const __GFP_ZERO: Gfp = Gfp(0x100);
/// C `GFP_KERNEL`: may sleep (every allocation here may).
pub const GFP_KERNEL: Gfp = Gfp(0x1);
/// C `GFP_ATOMIC`: must not sleep (no different here).
pub const GFP_ATOMIC: Gfp = Gfp(0x2);
/// C `GFP_NOIO`: no I/O to reclaim memory (no different here).
pub const GFP_NOIO: Gfp = Gfp(0x4);

impl std::ops::BitOr for Gfp {
    type Output = Gfp;
    fn bitor(self, rhs: Gfp) -> Gfp {
        Gfp(self.0 | rhs.0)
    }
}

impl Gfp {
    /// True if the flags include C `__GFP_ZERO`.
    pub fn zero(self) -> bool {
        self.0 & __GFP_ZERO.0 != 0
    }
}

/// C `struct page` (of some order): `PAGE_SIZE << order` bytes.
#[doc(alias = "page")]
pub struct Page {
    buf: Box<[u8]>,
    order: u32,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("order", &self.order)
            .field("addr", &self.buf.as_ptr())
            .finish()
    }
}

impl Page {
    /// The page order (0 = one page; C `compound_order(page)`).
    pub fn order(&self) -> u32 {
        self.order
    }
}

/// C `page_address(page)`: the page's bytes.
pub fn page_address(page: &Page) -> &[u8] {
    &page.buf
}

/// C `page_address(page)` for writing.
pub fn page_address_mut(page: &mut Page) -> &mut [u8] {
    &mut page.buf
}

/// Counters of the page allocator (C: the `pgalloc`/`pgfree` lines of `/proc/vmstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PagePoolStats {
    /// Pages taken from the heap.
    pub heap_allocs: u64,
    /// Allocations served from the free lists.
    pub pool_hits: u64,
    /// Frees that went to the free lists.
    pub pool_frees: u64,
    /// Frees that went back to the heap (free list full).
    pub heap_frees: u64,
}

struct PagePool {
    free: [parking_lot::Mutex<Vec<Box<[u8]>>>; MAX_ORDER as usize + 1],
    heap_allocs: AtomicU64,
    pool_hits: AtomicU64,
    pool_frees: AtomicU64,
    heap_frees: AtomicU64,
}

static POOL: PagePool = PagePool {
    free: [const { parking_lot::Mutex::new(Vec::new()) }; MAX_ORDER as usize + 1],
    heap_allocs: AtomicU64::new(0),
    pool_hits: AtomicU64::new(0),
    pool_frees: AtomicU64::new(0),
    heap_frees: AtomicU64::new(0),
};

/// The page allocator's counters, process-wide (C: `/proc/vmstat`).
pub fn page_pool_stats() -> PagePoolStats {
    PagePoolStats {
        heap_allocs: POOL.heap_allocs.load(Relaxed),
        pool_hits: POOL.pool_hits.load(Relaxed),
        pool_frees: POOL.pool_frees.load(Relaxed),
        heap_frees: POOL.heap_frees.load(Relaxed),
    }
}

/// C `alloc_pages(gfp_mask, order)`: `PAGE_SIZE << order` bytes, or `None` for an order above
/// [`MAX_ORDER`]. Contents are undefined unless `__GFP_ZERO` is given, as in the kernel.
pub fn alloc_pages(gfp: Gfp, order: u32) -> Option<Page> {
    if order > MAX_ORDER {
        return None;
    }
    let reused = POOL.free[order as usize].lock().pop();
    let buf = match reused {
        Some(mut b) => {
            POOL.pool_hits.fetch_add(1, Relaxed);
            if gfp.zero() {
                b.fill(0);
            }
            b
        }
        None => {
            POOL.heap_allocs.fetch_add(1, Relaxed);
            vec![0u8; PAGE_SIZE << order].into_boxed_slice()
        }
    };
    Some(Page { buf, order })
}

/// C `alloc_page(gfp_mask)`: one page.
pub fn alloc_page(gfp: Gfp) -> Option<Page> {
    alloc_pages(gfp, 0)
}

/// C `__free_pages(page, order)`: gives the page back (the order is the page's own).
pub fn __free_pages(_page: Page) {}

/// C `__free_page(page)`.
pub fn __free_page(_page: Page) {}

impl Drop for Page {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        if buf.is_empty() {
            return;
        }
        let mut free = POOL.free[self.order as usize].lock();
        if (free.len() + 1) * (PAGE_SIZE << self.order) <= PAGE_POOL_MAX_BYTES {
            free.push(buf);
            POOL.pool_frees.fetch_add(1, Relaxed);
        } else {
            POOL.heap_frees.fetch_add(1, Relaxed);
        }
    }
}

/// C `get_order(size)`: the smallest order whose pages hold `size` bytes.
pub fn get_order(size: usize) -> u32 {
    let pages = size.max(1).div_ceil(PAGE_SIZE);
    pages.next_power_of_two().trailing_zeros()
}

/// C `struct kmem_cache`: a cache of objects of one type; freed objects are kept for the next
/// allocation instead of going back to the heap.
#[doc(alias = "kmem_cache")]
pub struct KmemCache<T> {
    name: String,
    free: parking_lot::Mutex<Vec<Box<T>>>,
    max_free: usize,
    heap_allocs: AtomicU64,
    hits: AtomicU64,
}

impl<T> std::fmt::Debug for KmemCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmemCache")
            .field("name", &self.name)
            .field("free", &self.free.lock().len())
            .finish()
    }
}

/// C `kmem_cache_create(name, size, align, flags, ctor)`: keeps up to `max_free` freed
/// objects.
pub fn kmem_cache_create<T>(name: &str, max_free: usize) -> KmemCache<T> {
    KmemCache {
        name: name.to_owned(),
        free: parking_lot::Mutex::new(Vec::new()),
        max_free,
        heap_allocs: AtomicU64::new(0),
        hits: AtomicU64::new(0),
    }
}

impl<T> KmemCache<T> {
    /// The cache's name (`/proc/slabinfo` in the kernel).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Allocations that came from the heap (C: `/proc/slabinfo` `num_objs` growth).
    pub fn heap_allocs(&self) -> u64 {
        self.heap_allocs.load(Relaxed)
    }
    /// Allocations served from freed objects (C: slab hits).
    pub fn hits(&self) -> u64 {
        self.hits.load(Relaxed)
    }
}

/// C `kmem_cache_alloc(cache, gfp)`: an object whose contents are what the last user left
/// (or `init()` for a new one), as with a slab cache without a constructor.
pub fn kmem_cache_alloc<T>(cache: &KmemCache<T>, init: impl FnOnce() -> T) -> Box<T> {
    let reused = cache.free.lock().pop();
    match reused {
        Some(b) => {
            cache.hits.fetch_add(1, Relaxed);
            b
        }
        None => {
            cache.heap_allocs.fetch_add(1, Relaxed);
            Box::new(init())
        }
    }
}

/// C `kmem_cache_zalloc(cache, gfp)`: an object reset to its default ("zeroed") value.
pub fn kmem_cache_zalloc<T: Default>(cache: &KmemCache<T>) -> Box<T> {
    let mut b = kmem_cache_alloc(cache, T::default);
    *b = T::default();
    b
}

/// C `kmem_cache_free(cache, obj)`.
pub fn kmem_cache_free<T>(cache: &KmemCache<T>, obj: Box<T>) {
    let mut free = cache.free.lock();
    if free.len() < cache.max_free {
        free.push(obj);
    }
}

/// C `kmem_cache_destroy(cache)`: frees the cached objects.
pub fn kmem_cache_destroy<T>(_cache: KmemCache<T>) {}

#[cfg(test)]
mod tests {
    use super::*;

    // The page pool is process-wide and other tests allocate pages too, so each test here
    // uses an order no other test uses and checks what it can attribute to itself.

    #[test]
    fn pages_are_recycled_and_zeroed_on_request() {
        let mut p = alloc_pages(GFP_KERNEL, 3).unwrap();
        assert_eq!(p.order(), 3);
        assert_eq!(page_address(&p).len(), PAGE_SIZE << 3);
        page_address_mut(&mut p).fill(0xab);
        let addr = page_address(&p).as_ptr();
        let before = page_pool_stats();
        __free_pages(p);
        let mid = page_pool_stats();
        assert!(mid.pool_frees > before.pool_frees);
        let p = alloc_pages(GFP_KERNEL, 3).unwrap();
        assert_eq!(
            page_address(&p).as_ptr(),
            addr,
            "the freed page was not reused"
        );
        assert!(page_pool_stats().pool_hits > mid.pool_hits);
        assert_eq!(
            page_address(&p)[0],
            0xab,
            "contents are kept without __GFP_ZERO"
        );
        drop(p);
        let p = alloc_pages(GFP_KERNEL | __GFP_ZERO, 3).unwrap();
        assert_eq!(page_address(&p).as_ptr(), addr);
        assert!(page_address(&p).iter().all(|&b| b == 0));
        assert!(format!("{p:?}").contains("order: 3"));
    }

    #[test]
    fn steady_state_allocates_nothing_from_the_heap() {
        // Warm up with 8 pages of order 5, then cycle: no heap allocation of that order.
        let warm: Vec<Page> = (0..8)
            .map(|_| alloc_pages(GFP_ATOMIC, 5).unwrap())
            .collect();
        let addrs: Vec<*const u8> = warm.iter().map(|p| page_address(p).as_ptr()).collect();
        drop(warm);
        for _ in 0..100 {
            let cycle: Vec<Page> = (0..8).map(|_| alloc_pages(GFP_NOIO, 5).unwrap()).collect();
            for p in &cycle {
                assert!(addrs.contains(&page_address(p).as_ptr()));
            }
        }
    }

    #[test]
    fn order_limits_and_single_pages() {
        assert!(alloc_pages(GFP_KERNEL, MAX_ORDER + 1).is_none());
        let p = alloc_page(GFP_KERNEL | __GFP_ZERO).unwrap();
        assert_eq!(page_address(&p).len(), PAGE_SIZE);
        assert!(page_address(&p).iter().all(|&b| b == 0));
        __free_page(p);
        assert_eq!(PAGE_SIZE, 4096);
        assert_eq!(get_order(1), 0);
        assert_eq!(get_order(4096), 0);
        assert_eq!(get_order(4097), 1);
        assert_eq!(get_order(8192), 1);
        assert_eq!(get_order(3 * 4096), 2);
        assert_eq!(get_order(1 << 20), 8);
        assert_eq!(get_order(0), 0);
        assert!(!GFP_KERNEL.zero() && (GFP_KERNEL | __GFP_ZERO).zero());
        assert_eq!(GFP_KERNEL | GFP_KERNEL, GFP_KERNEL);
        assert_eq!((GFP_ATOMIC | __GFP_ZERO).0, 0x102);
    }

    #[test]
    fn free_list_is_capped() {
        // Order 10 pages are 4 MiB: the cap keeps 16 of them.
        let keep = PAGE_POOL_MAX_BYTES / (PAGE_SIZE << MAX_ORDER);
        assert_eq!(keep, 16);
        let pages: Vec<Page> = (0..keep + 2)
            .map(|_| alloc_pages(GFP_KERNEL, MAX_ORDER).unwrap())
            .collect();
        let before = page_pool_stats();
        drop(pages);
        let after = page_pool_stats();
        assert!(
            after.heap_frees >= before.heap_frees + 2,
            "{before:?} {after:?}"
        );
        assert!(POOL.free[MAX_ORDER as usize].lock().len() <= keep);
    }

    #[test]
    fn kmem_cache_reuses_objects() {
        let c: KmemCache<[u32; 4]> = kmem_cache_create("test_cache", 2);
        assert_eq!(c.name(), "test_cache");
        let mut a = kmem_cache_alloc(&c, || [1; 4]);
        assert_eq!(*a, [1; 4]);
        a[0] = 9;
        let ptr: *const [u32; 4] = &*a;
        kmem_cache_free(&c, a);
        assert_eq!((c.heap_allocs(), c.hits()), (1, 0));
        let b = kmem_cache_alloc(&c, || [2; 4]);
        assert_eq!(&*b as *const _, ptr);
        assert_eq!(b[0], 9, "no constructor: contents kept");
        assert_eq!((c.heap_allocs(), c.hits()), (1, 1));
        kmem_cache_free(&c, b);
        let z = kmem_cache_zalloc(&c);
        assert_eq!(*z, [0; 4]);
        assert_eq!(c.hits(), 2);
        // Only max_free objects are kept.
        let objs: Vec<_> = (0..4).map(|_| kmem_cache_alloc(&c, || [0; 4])).collect();
        for o in objs {
            kmem_cache_free(&c, o);
        }
        kmem_cache_free(&c, z);
        assert_eq!(c.free.lock().len(), 2);
        assert_eq!((c.heap_allocs(), c.hits()), (5, 2));
        assert!(format!("{c:?}").contains("test_cache"));
        kmem_cache_destroy(c);
    }
}
