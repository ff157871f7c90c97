// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2026 The scst-rs authors
//! The SGV buffer cache (`scst/src/scst_mem.c`, `scst_mem.h`, `scst/include/scst_sgv.h`):
//! pools of scatterlists with their pages, kept after a command is done so that the next
//! command of the same size class gets them back without allocating.
//!
//! As in C, an [`SgvPool`] has [`SGV_POOL_ELEMENTS`] caches, one per power-of-two number of
//! pages (4 KiB … 4 MiB; or a single cache of `single_alloc_pages` pages). A freed object
//! ([`SgvPoolObj`]) goes to the head of its cache's recycling list and to the tail of the
//! pool's time-sorted list; the pool's purge work ([`SGV_DEFAULT_PURGE_INTERVAL`] unless the
//! pool says otherwise) frees objects unused for a whole interval. Buffers larger than the
//! largest cache ("big") and `SGV_POOL_ALLOC_NO_CACHED` ones ("other", C's `cmd->no_sgv`)
//! are allocated and freed each time. All pages the pools hold are counted in
//! `sgv_pages_total` against the high watermark `sgv_hi_wmk` (`scst_max_cmd_mem`); above it
//! idle cached objects are released first (`sgv_hiwmk_check()`); each device's budget
//! (`scst_max_dev_cmd_mem`, [`ScstMemLim`]) is checked per allocation.
//!
//! Usermode differences (documented at each place):
//! - The scatterlist is `Vec<Scatterlist>` whose entries own their kemu pages. The object
//!   *lends* the first `count` entries to the command ([`sgv_pool_alloc`] returns them) and
//!   gets them back in [`sgv_pool_free`]; no entry or page is allocated on a cache hit.
//! - No clustering: kemu pages are separate heap buffers, never physically adjacent, and an
//!   entry holds exactly one page, so C's `sgv_check_full_clustering()` /
//!   `sgv_check_tail_clustering()` would never merge. Clustered pools (`sgv-clust`) keep their
//!   type (and C's recycling order by `sg_count`) but their `merged` counters stay 0, and
//!   the translation table `trans_tbl` (identity without merging) is not kept.
//! - Per-CPU pools (`sgv-<cpu>`…) are not created: user threads migrate between CPUs and
//!   kemu has no `raw_smp_processor_id()`; every nexus uses the global pools, which is C's
//!   behaviour with `scst_force_global_sgv_pool` set.
//! - `sgv_dma_pool` (`sgv-dma`) is created as in C but there is no ISA DMA zone in user
//!   space: it is an ordinary non-clustered pool, and `GFP_DMA` is not a kemu flag.
//! - No shrinker: user space gets no memory-pressure callbacks. The shrink code C runs from
//!   the shrinker (`__sgv_shrink()`) runs from `sgv_hiwmk_check()` as in C;
//!   [`__sgv_can_be_shrunk`] is kept for the statistics.
//! - The object's `kmem_cache` per size class is not needed (objects are boxes recycled
//!   through the recycling lists; a miss allocates one box, as a slab miss would).

#![allow(non_upper_case_globals)] // C's names for C's globals

use crate::scst::{ScstMemLim, ScstTgtDev};
use crate::scst_main::scst_trace_flag as TRACE_FLAG;
use kemu::atomic::{
    atomic_add, atomic_add_return, atomic_inc, atomic_read, atomic_set, atomic_sub,
};
use kemu::atomic::{atomic_dec_and_test, AtomicT};
use kemu::list::{AtomicListHandle, List, ListHandle};
use kemu::mm::{alloc_pages, get_order, Gfp, PAGE_SHIFT, PAGE_SIZE};
use kemu::printk::TRACE_OUT_OF_MEM;
use kemu::scatterlist::{sg_init_table, sg_page, sg_set_page, sg_take_page, Scatterlist};
use kemu::sync::{Mutex, SpinLock};
use kemu::timer::{jiffies, time_after_eq, HZ};
use kemu::workqueue::{cancel_delayed_work_sync, schedule_delayed_work, DelayedWork};
use kemu::{PRINT_ERROR, TRACE, TRACE_MEM};
use std::fmt;
use std::fmt::Write as _;
use std::sync::{Arc, Weak};

/// C scst_mem.h `SGV_POOL_ELEMENTS`: caches per pool (1 … 1024 pages).
pub const SGV_POOL_ELEMENTS: usize = 11;

/// C `SGV_DEFAULT_PURGE_INTERVAL`: an unused cached object is freed after 60 s to 120 s.
pub const SGV_DEFAULT_PURGE_INTERVAL: i32 = 60 * HZ as i32;
/// C `SGV_MIN_SHRINK_INTERVAL`: the shrinker frees only objects unused for 1 s.
pub const SGV_MIN_SHRINK_INTERVAL: i32 = HZ as i32;
/// C `MAX_PAGES_PER_POOL`: pages freed from one pool per shrinking iteration.
const MAX_PAGES_PER_POOL: i32 = 50;

/// C scst_sgv.h `SGV_POOL_ALLOC_NO_CACHED`: allocate a buffer that is not cached.
pub const SGV_POOL_ALLOC_NO_CACHED: i32 = 1;
/// C `SGV_POOL_NO_ALLOC_ON_CACHE_MISS`: fail instead of allocating pages on a cache miss
/// (atomic context).
pub const SGV_POOL_NO_ALLOC_ON_CACHE_MISS: i32 = 2;
/// C `SGV_POOL_RETURN_OBJ_ON_ALLOC_FAIL`: on failure, return the (empty) object anyway.
pub const SGV_POOL_RETURN_OBJ_ON_ALLOC_FAIL: i32 = 4;
/// C `SGV_POOL_ALLOC_GET_NEW`: take a new object even if a cached one exists
/// (preallocation).
pub const SGV_POOL_ALLOC_GET_NEW: i32 = 8;

/// C scst_sgv.h `enum sgv_clustering_types`.
#[doc(alias = "sgv_clustering_types")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SgvClusteringType {
    /// C `sgv_no_clustering`.
    NoClustering,
    /// C `sgv_tail_clustering`: a page may be merged only with the previous one.
    TailClustering,
    /// C `sgv_full_clustering`: pages may be merged anywhere in the list.
    FullClustering,
}

/// C `struct sgv_pool_alloc_fns`: how a pool gets and frees the pages of one entry (C
/// `sgv_pool_set_allocator()`, used by scst_user; the default is the page allocator).
/// The C `priv` argument is not carried (no user of it is ported).
#[derive(Debug, Clone, Copy)]
pub struct SgvPoolAllocFns {
    /// C `alloc_pages_fn`: fills one entry with a page; false: no memory.
    pub alloc_pages_fn: fn(&mut Scatterlist, Gfp) -> bool,
    /// C `free_pages_fn`: frees the pages of the first `sg_count` entries.
    pub free_pages_fn: fn(&mut [Scatterlist], usize),
}

/// C `struct sgv_pool_cache_acc`: the statistics of one cache.
#[doc(alias = "sgv_pool_cache_acc")]
#[derive(Debug, Default)]
pub struct SgvPoolCacheAcc {
    /// C `total_alloc`: allocations from this cache.
    pub total_alloc: AtomicT,
    /// C `hit_alloc`: those served by a cached object.
    pub hit_alloc: AtomicT,
    /// C `merged`: entries saved by clustering (always 0 here, see the module doc).
    pub merged: AtomicT,
}

/// C `struct sgv_pool_obj`: one cached scatterlist with its pages.
#[doc(alias = "sgv_pool_obj")]
pub struct SgvPoolObj {
    /// C `cache_num`: the cache (-1: a big or not-cached object).
    cache_num: i32,
    /// C `pages`: pages of the object (the cache's size).
    pages: i32,
    /// C `time_stamp`: jiffies of the last free (under `sgv_pool_lock`).
    time_stamp: u64,
    /// C `owner_pool`.
    owner_pool: Arc<SgvPool>,
    /// C `orig_sg`: the entry whose length was cut for the command.
    orig_sg: usize,
    /// C `orig_length`: its length before.
    orig_length: u32,
    /// C `sg_count`: entries with pages (0: none allocated).
    sg_count: i32,
    /// C `sg_entries`: all entries while the object is cached; while lent, the command
    /// holds the first `count` of them (the `Vec` itself, so its capacity is kept).
    sg_entries: Vec<Scatterlist>,
    /// While lent: the entries beyond the command's count (its capacity is kept too).
    spare: Vec<Scatterlist>,
    /// C: `recycling_list_entry.next != NULL`: the object has been cached before.
    was_cached: bool,
    /// C `sorted_recycling_list_entry` (under `sgv_pool_lock`).
    sorted_recycling_list_entry: Option<ListHandle>,
}

impl fmt::Debug for SgvPoolObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SgvPoolObj")
            .field("pool", &self.owner_pool.name)
            .field("cache_num", &self.cache_num)
            .field("pages", &self.pages)
            .field("sg_count", &self.sg_count)
            .finish_non_exhaustive()
    }
}

impl SgvPoolObj {
    /// C `obj->pages`: the pages of the object.
    pub fn pages(&self) -> i32 {
        self.pages
    }
    /// C `obj->cache_num` (-1: big or not cached).
    pub fn cache_num(&self) -> i32 {
        self.cache_num
    }
    /// C `obj->owner_pool`.
    pub fn owner_pool(&self) -> &Arc<SgvPool> {
        &self.owner_pool
    }
}

/// What C's `sgv_pool_lock` protects in a pool.
#[derive(Debug)]
struct SgvPoolLocked {
    /// C `purge_work_scheduled`.
    purge_work_scheduled: bool,
    /// C `sorted_recycling_list`: the cached objects, oldest free first, as
    /// `(cache_num, handle in recycling_lists[cache_num])`.
    sorted_recycling_list: List<(usize, ListHandle)>,
    /// C `recycling_lists[]`: the cached objects of each cache, preferred first.
    recycling_lists: Vec<List<Box<SgvPoolObj>>>,
}

/// C `struct sgv_pool`.
#[doc(alias = "sgv_pool")]
pub struct SgvPool {
    /// C `clustering_type`.
    pub clustering_type: SgvClusteringType,
    /// C `single_alloc_pages` (0: power-of-two caches).
    pub single_alloc_pages: i32,
    /// C `max_cached_pages`: larger buffers are "big" and not cached.
    pub max_cached_pages: i32,
    /// C `alloc_fns`.
    alloc_fns: SpinLock<SgvPoolAllocFns>,
    /// C `sgv_pool_lock` (the outer lock of `sgv_pools_lock`).
    sgv_pool_lock: SpinLock<SgvPoolLocked>,
    /// C `purge_interval` (jiffies; < 0: never purged).
    pub purge_interval: i32,
    /// C `inactive_cached_pages`: pages of cached (free) objects; written under
    /// `sgv_pool_lock`, read without it by the statistics.
    pub inactive_cached_pages: AtomicT,
    /// C `cached_pages`: pages of all objects of the caches (cached or lent).
    pub cached_pages: AtomicT,
    /// C `cached_entries`: objects of the caches (cached or lent).
    pub cached_entries: AtomicT,
    /// C `cache_acc[]`.
    pub cache_acc: [SgvPoolCacheAcc; SGV_POOL_ELEMENTS],
    /// C `sgv_purge_work`.
    sgv_purge_work: Arc<DelayedWork>,
    /// C `big_alloc`: buffers larger than the largest cache.
    pub big_alloc: AtomicT,
    /// C `big_pages`.
    pub big_pages: AtomicT,
    /// C `big_merged`.
    pub big_merged: AtomicT,
    /// C `other_alloc`: `SGV_POOL_ALLOC_NO_CACHED` buffers (`cmd->no_sgv`).
    pub other_alloc: AtomicT,
    /// C `other_pages`.
    pub other_pages: AtomicT,
    /// C `other_merged`.
    pub other_merged: AtomicT,
    /// C `sgv_pool_ref`: [`sgv_pool_get`] / [`sgv_pool_put`]; the last put destroys.
    pub sgv_pool_ref: AtomicT,
    /// C `max_caches`.
    pub max_caches: usize,
    /// C `cache_names[]`: `<pool>-<KiB>K`.
    pub cache_names: Vec<String>,
    /// C `name`.
    pub name: String,
    /// C `sgv_pools_list_entry` (in `sgv_pools_list`).
    sgv_pools_list_entry: AtomicListHandle,
}

impl fmt::Debug for SgvPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SgvPool")
            .field("name", &self.name)
            .field("clustering_type", &self.clustering_type)
            .field("cached_entries", &atomic_read(&self.cached_entries))
            .finish_non_exhaustive()
    }
}

/// C `sgv_pool_clustered()`.
fn sgv_pool_clustered(pool: &SgvPool) -> bool {
    pool.clustering_type != SgvClusteringType::NoClustering
}

// ---------------------------------------------------------------------------------------------
// Globals (C statics of scst_mem.c)

/// C `sgv_norm_pool`: the non-clustered pool ("sgv").
pub static sgv_norm_pool: SpinLock<Option<Arc<SgvPool>>> = SpinLock::new(None);
/// C `sgv_norm_clust_pool`: the clustered pool ("sgv-clust").
pub static sgv_norm_clust_pool: SpinLock<Option<Arc<SgvPool>>> = SpinLock::new(None);
/// C `sgv_dma_pool` ("sgv-dma"): an ordinary pool here (no ISA DMA zone in user space).
pub static sgv_dma_pool: SpinLock<Option<Arc<SgvPool>>> = SpinLock::new(None);

/// C `scst_force_global_sgv_pool`. The port has no per-CPU pools, so every nexus uses the
/// global pools whatever this says (see the module doc).
pub static scst_force_global_sgv_pool: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// C `sgv_pages_total`: pages held by all pools (cached and lent) and by `scst_alloc_sg()`.
pub static sgv_pages_total: AtomicT = AtomicT::new(0);
/// C `sgv_hi_wmk` (pages): `scst_max_cmd_mem`; set by [`scst_sgv_pools_init`].
pub static sgv_hi_wmk: AtomicT = AtomicT::new(0);
/// C `sgv_lo_wmk` (pages): shrinking stops here.
pub static sgv_lo_wmk: AtomicT = AtomicT::new(0);
/// C `sgv_releases_on_hiwmk`: allocations that had to release cached objects.
pub static sgv_releases_on_hiwmk: AtomicT = AtomicT::new(0);
/// C `sgv_releases_on_hiwmk_failed`: allocations refused at the high watermark.
pub static sgv_releases_on_hiwmk_failed: AtomicT = AtomicT::new(0);
/// C `sgv_other_total_alloc`: `scst_alloc_sg()` calls.
pub static sgv_other_total_alloc: AtomicT = AtomicT::new(0);

/// C `sgv_pools_mutex`: taken with `sgv_pools_lock` to change `sgv_pools_list`; either one
/// suffices to read it.
pub static sgv_pools_mutex: Mutex<()> = Mutex::new(());
/// C `sgv_pools_lock` with `sgv_pools_list` (creation order).
static sgv_pools_lock: SpinLock<List<Arc<SgvPool>>> = SpinLock::new(List::new());

/// The pools of `sgv_pools_list`, in order (a snapshot; the caller holds `sgv_pools_mutex`
/// where C walks the list under it).
fn sgv_pools_list_snapshot() -> Vec<Arc<SgvPool>> {
    sgv_pools_lock
        .lock_bh()
        .iter()
        .map(|(_, p)| p.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The tgt_dev's pool choice

/// C `scst_sgv_pool_use_norm()`: the nexus takes its buffers from `sgv_norm_pool`.
pub fn scst_sgv_pool_use_norm(tgt_dev: &mut ScstTgtDev) {
    tgt_dev.tgt_dev_gfp_mask = Gfp::default();
    tgt_dev.pools = sgv_norm_pool.lock().clone();
    tgt_dev.tgt_dev_clust_pool = false;
}

/// C `scst_sgv_pool_use_norm_clust()`: from `sgv_norm_clust_pool`.
pub fn scst_sgv_pool_use_norm_clust(tgt_dev: &mut ScstTgtDev) {
    TRACE_MEM!("Use clustering");
    tgt_dev.tgt_dev_gfp_mask = Gfp::default();
    tgt_dev.pools = sgv_norm_clust_pool.lock().clone();
    tgt_dev.tgt_dev_clust_pool = true;
}

/// C `scst_sgv_pool_use_dma()`: from `sgv_dma_pool` (C adds `GFP_DMA`, which kemu does
/// not have).
pub fn scst_sgv_pool_use_dma(tgt_dev: &mut ScstTgtDev) {
    TRACE_MEM!("Use ISA DMA memory");
    tgt_dev.tgt_dev_gfp_mask = Gfp::default();
    tgt_dev.pools = sgv_dma_pool.lock().clone();
    tgt_dev.tgt_dev_clust_pool = false;
}

// ---------------------------------------------------------------------------------------------
// Freeing and purging

/// C `sgv_dtor_and_free()`: frees the object's pages and the object. No locks.
fn sgv_dtor_and_free(mut obj: Box<SgvPoolObj>) {
    TRACE_MEM!("Destroying sgv obj {:?}", obj);
    if obj.sg_count != 0 {
        let free = obj.owner_pool.alloc_fns.lock().free_pages_fn;
        let n = usize::try_from(obj.sg_count).unwrap_or(0);
        free(&mut obj.sg_entries, n);
    }
}

/// C `sgv_dec_cached_entries()`. Under `sgv_pool_lock`.
fn sgv_dec_cached_entries(pool: &SgvPool, pages: i32) {
    atomic_sub(1, &pool.cached_entries);
    atomic_sub(pages, &pool.cached_pages);
}

/// C `__sgv_purge_from_cache()`: takes the cached object out of both lists. Under
/// `sgv_pool_lock`.
fn __sgv_purge_from_cache(
    pool: &SgvPool,
    l: &mut SgvPoolLocked,
    cache_num: usize,
    h: ListHandle,
) -> Option<Box<SgvPoolObj>> {
    let mut obj = l.recycling_lists.get_mut(cache_num)?.del(h)?;
    if let Some(sh) = obj.sorted_recycling_list_entry.take() {
        l.sorted_recycling_list.del(sh);
    }
    let pages = obj.pages;
    TRACE_MEM!(
        "Purging sgv obj {:?} from pool {} (new cached_entries {})",
        obj,
        pool.name,
        atomic_read(&pool.cached_entries) - 1
    );
    atomic_sub(pages, &pool.inactive_cached_pages);
    sgv_dec_cached_entries(pool, pages);
    atomic_sub(pages, &sgv_pages_total);
    Some(obj)
}

/// C `sgv_purge_from_cache()`: purges the oldest cached object if it has been unused for
/// `min_interval` jiffies. Under `sgv_pool_lock`.
fn sgv_purge_from_cache(
    pool: &SgvPool,
    l: &mut SgvPoolLocked,
    min_interval: i32,
    cur_time: u64,
) -> Option<Box<SgvPoolObj>> {
    let (_, &(cache_num, h)) = l.sorted_recycling_list.first()?;
    let ts = l.recycling_lists.get(cache_num)?.get(h)?.time_stamp;
    let min_interval = u64::try_from(min_interval).unwrap_or(0);
    TRACE_MEM!(
        "Checking if sgv obj should be purged (cur time {}, obj time {}, time to purge {})",
        cur_time,
        ts,
        ts.wrapping_add(min_interval)
    );
    if time_after_eq(cur_time, ts.wrapping_add(min_interval)) {
        __sgv_purge_from_cache(pool, l, cache_num, h)
    } else {
        None
    }
}

/// C `sgv_shrink_pool()`: frees up to `nr` pages (at most `MAX_PAGES_PER_POOL`) of objects
/// unused for `min_interval`, while the total is above the low watermark; returns what is
/// left of `nr`. No locks.
fn sgv_shrink_pool(
    pool: &SgvPool,
    mut nr: i32,
    min_interval: i32,
    cur_time: u64,
    out_freed: &mut i32,
) -> i32 {
    let mut freed = 0;
    TRACE_MEM!(
        "Trying to shrink pool {} (nr {}, min_interval {})",
        pool.name,
        nr,
        min_interval
    );
    if pool.purge_interval < 0 {
        TRACE_MEM!("Not shrinkable pool {}, skipping", pool.name);
        *out_freed += freed;
        return nr;
    }
    let mut l = pool.sgv_pool_lock.lock_bh();
    while !l.sorted_recycling_list.is_empty()
        && atomic_read(&sgv_pages_total) > atomic_read(&sgv_lo_wmk)
    {
        let Some(obj) = sgv_purge_from_cache(pool, &mut l, min_interval, cur_time) else {
            break;
        };
        let pages = obj.pages;
        freed += pages;
        nr -= pages;
        TRACE_MEM!(
            "{} pages purged from pool {} (nr left {}, total freed {})",
            pages,
            pool.name,
            nr,
            freed
        );
        drop(l);
        sgv_dtor_and_free(obj);
        l = pool.sgv_pool_lock.lock_bh();
        if nr <= 0 || freed >= MAX_PAGES_PER_POOL {
            break;
        }
    }
    drop(l);
    *out_freed += freed;
    nr
}

/// C `__sgv_shrink()`: shrinks all pools by `nr` pages of objects unused for
/// `min_interval`; returns what could not be freed. No locks.
fn __sgv_shrink(mut nr: i32, min_interval: i32, out_freed: &mut i32) -> i32 {
    let cur_time = jiffies();
    let mut prev_nr = nr + 1;
    TRACE_MEM!(
        "Trying to shrink {} pages from all sgv pools (min_interval {})",
        nr,
        min_interval
    );
    while prev_nr > nr && nr > 0 {
        prev_nr = nr;
        let _m = sgv_pools_mutex.lock();
        for pool in sgv_pools_list_snapshot() {
            if atomic_read(&pool.cached_entries) != 0 {
                nr = sgv_shrink_pool(&pool, nr, min_interval, cur_time, out_freed);
            }
        }
    }
    nr
}

/// C `__sgv_can_be_shrunk()` (the shrinker's count; no shrinker in user space): the
/// inactive pages of purgeable pools above the low watermark.
pub fn __sgv_can_be_shrunk() -> i32 {
    let inactive: i32 = sgv_pools_lock
        .lock_bh()
        .iter()
        .filter(|(_, p)| p.purge_interval > 0)
        .map(|(_, p)| atomic_read(&p.inactive_cached_pages))
        .sum();
    let res = (inactive - atomic_read(&sgv_lo_wmk)).max(0);
    TRACE_MEM!("Can free {} (total {})", res, atomic_read(&sgv_pages_total));
    res
}

/// C `sgv_purge_work_fn()`: frees the objects unused for `purge_interval`; if some remain,
/// runs again a full interval later.
fn sgv_purge_work_fn(pool: &SgvPool) {
    let cur_time = jiffies();
    TRACE_MEM!("Purge work for pool {}", pool.name);
    let mut l = pool.sgv_pool_lock.lock_bh();
    l.purge_work_scheduled = false;
    while !l.sorted_recycling_list.is_empty() {
        if let Some(obj) = sgv_purge_from_cache(pool, &mut l, pool.purge_interval, cur_time) {
            drop(l);
            sgv_dtor_and_free(obj);
            l = pool.sgv_pool_lock.lock_bh();
        } else {
            // Not to come here too often: a full period; the watermark check reclaims
            // more quickly if needed.
            TRACE_MEM!(
                "Rescheduling purge work for pool {} (delay {} HZ/{} sec)",
                pool.name,
                pool.purge_interval,
                pool.purge_interval / HZ as i32
            );
            schedule_delayed_work(
                &pool.sgv_purge_work,
                u64::try_from(pool.purge_interval).unwrap_or(0),
            );
            l.purge_work_scheduled = true;
            break;
        }
    }
    drop(l);
    TRACE_MEM!("Leaving purge work for pool {}", pool.name);
}

// ---------------------------------------------------------------------------------------------
// Pages

/// C `sgv_free_sys_sg_entries()`: frees the pages of the first `sg_count` entries (they go
/// back to kemu's page pool).
fn sgv_free_sys_sg_entries(sg: &mut [Scatterlist], sg_count: usize) {
    TRACE_MEM!("sg_count={}", sg_count);
    for e in sg.iter_mut().take(sg_count) {
        drop(sg_take_page(e));
    }
}

/// C `sgv_alloc_sys_pages()`: one page for one entry.
fn sgv_alloc_sys_pages(sg: &mut Scatterlist, gfp_mask: Gfp) -> bool {
    match alloc_pages(gfp_mask, 0) {
        Some(page) => {
            sg_set_page(sg, page, PAGE_SIZE as u32, 0);
            true
        }
        None => {
            TRACE!(TRACE_OUT_OF_MEM, "Allocation of sg page failed");
            false
        }
    }
}

/// The default page allocator of a pool (C `sgv_alloc_sys_pages` /
/// `sgv_free_sys_sg_entries`).
pub const SGV_SYS_ALLOC_FNS: SgvPoolAllocFns = SgvPoolAllocFns {
    alloc_pages_fn: sgv_alloc_sys_pages,
    free_pages_fn: sgv_free_sys_sg_entries,
};

/// C `sgv_alloc_sg_entries()`: fills `pages` entries; returns the entries used (0: no
/// memory, the pages taken are freed). Without clustering (see the module doc) this is
/// `pages`.
fn sgv_alloc_sg_entries(
    sg: &mut [Scatterlist],
    pages: usize,
    gfp_mask: Gfp,
    clustering_type: SgvClusteringType,
    alloc_fns: &SgvPoolAllocFns,
) -> i32 {
    TRACE_MEM!("pages={}, clustering_type={:?}", pages, clustering_type);
    let mut sg_count = 0usize;
    for _pg in 0..pages {
        let Some(e) = sg.get_mut(sg_count) else {
            break;
        };
        if !(alloc_fns.alloc_pages_fn)(e, gfp_mask) {
            (alloc_fns.free_pages_fn)(sg, sg_count);
            return 0;
        }
        // C: sgv_check_full_clustering() / sgv_check_tail_clustering() here; kemu pages
        // are never adjacent, so "merged" is always -1.
        sg_count += 1;
    }
    i32::try_from(sg_count).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Objects

/// C `sgv_get_obj()`: a cached object of `cache_num` (its pages still in it), or a new
/// empty one (counted in the pool's cached entries). None only if a box could not be had.
fn sgv_get_obj(
    pool: &Arc<SgvPool>,
    cache_num: usize,
    pages: i32,
    get_new: bool,
) -> Option<Box<SgvPoolObj>> {
    let mut l = pool.sgv_pool_lock.lock_bh();
    if !get_new {
        if let Some(mut obj) = l
            .recycling_lists
            .get_mut(cache_num)
            .and_then(|r| r.pop_front())
        {
            if let Some(sh) = obj.sorted_recycling_list_entry.take() {
                l.sorted_recycling_list.del(sh);
            }
            atomic_sub(pages, &pool.inactive_cached_pages);
            return Some(obj);
        }
    }
    // get_new: used only for buffers preallocation.
    atomic_inc(&pool.cached_entries);
    atomic_add(pages, &pool.cached_pages);
    drop(l);
    TRACE_MEM!(
        "New cached entries {} (pool {})",
        atomic_read(&pool.cached_entries),
        pool.name
    );
    Some(Box::new(SgvPoolObj {
        cache_num: i32::try_from(cache_num).unwrap_or(0),
        pages,
        time_stamp: 0,
        owner_pool: pool.clone(),
        orig_sg: 0,
        orig_length: 0,
        sg_count: 0,
        sg_entries: Vec::new(),
        spare: Vec::new(),
        was_cached: false,
        sorted_recycling_list_entry: None,
    }))
}

/// C `sgv_put_obj()`: the object goes back to its cache (clustered pools: before the
/// first object with at least as many entries; otherwise at the head) and to the tail of
/// the time-sorted list; the purge work is scheduled if it is not.
fn sgv_put_obj(mut obj: Box<SgvPoolObj>) {
    let pool = obj.owner_pool.clone();
    let cache_num = usize::try_from(obj.cache_num).unwrap_or(0);
    let pages = obj.pages;
    let mut l = pool.sgv_pool_lock.lock_bh();
    TRACE_MEM!(
        "sgv {:?}, cache num {}, pages {}, sg_count {}",
        obj,
        cache_num,
        pages,
        obj.sg_count
    );
    obj.time_stamp = jiffies();
    obj.was_cached = true;
    let l = &mut *l;
    let Some(list) = l.recycling_lists.get_mut(cache_num) else {
        return;
    };
    // Make objects with fewer entries preferred (C walks the list for the first object
    // with at least as many entries and adds before it; at the tail if there is none).
    let h = if sgv_pool_clustered(&pool) {
        let mut before = None;
        let mut cur = list.first();
        while let Some((h, tmp)) = cur {
            if obj.sg_count <= tmp.sg_count {
                before = Some(h);
                break;
            }
            cur = list.next(h);
        }
        match before {
            Some(b) => list.add_before(b, obj),
            None => Some(list.add_tail(obj)),
        }
    } else {
        Some(list.add(obj))
    };
    let Some(h) = h else {
        return;
    };
    let sh = l.sorted_recycling_list.add_tail((cache_num, h));
    if let Some(o) = l
        .recycling_lists
        .get_mut(cache_num)
        .and_then(|r| r.get_mut(h))
    {
        o.sorted_recycling_list_entry = Some(sh);
    }
    atomic_add(pages, &pool.inactive_cached_pages);
    if !l.purge_work_scheduled {
        TRACE_MEM!("Scheduling purge work for pool {}", pool.name);
        l.purge_work_scheduled = true;
        schedule_delayed_work(
            &pool.sgv_purge_work,
            u64::try_from(pool.purge_interval).unwrap_or(0),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Memory accounting

/// C `sgv_hiwmk_check()`: adds `pages_to_alloc` to `sgv_pages_total`; above the high
/// watermark, cached objects are released first (whatever their age), and if that is not
/// enough the allocation is refused (`ENOMEM`). No locks.
fn sgv_hiwmk_check(pages_to_alloc: i32) -> Result<(), kemu::Errno> {
    let mut pages = pages_to_alloc + atomic_read(&sgv_pages_total);
    let hi = atomic_read(&sgv_hi_wmk);
    if pages > hi {
        let mut freed = 0;
        pages -= hi;
        atomic_inc(&sgv_releases_on_hiwmk);
        pages = __sgv_shrink(pages, 0, &mut freed);
        if pages > 0 {
            TRACE!(
                TRACE_OUT_OF_MEM,
                "Requested amount of memory ({} pages) for being executed commands together \
                 with the already allocated memory exceeds the allowed maximum {}. Should you \
                 increase scst_max_cmd_mem?",
                pages_to_alloc,
                hi
            );
            atomic_inc(&sgv_releases_on_hiwmk_failed);
            return Err(kemu::Errno::ENOMEM);
        }
    }
    atomic_add(pages_to_alloc, &sgv_pages_total);
    TRACE_MEM!(
        "pages_to_alloc {}, new total {}",
        pages_to_alloc,
        atomic_read(&sgv_pages_total)
    );
    Ok(())
}

/// C `sgv_hiwmk_uncheck()`. No locks.
fn sgv_hiwmk_uncheck(pages: i32) {
    atomic_sub(pages, &sgv_pages_total);
    TRACE_MEM!(
        "pages {}, new total {}",
        pages,
        atomic_read(&sgv_pages_total)
    );
}

/// C `sgv_check_allowed_mem()`: reserves `pages` of the device's budget; false (nothing
/// reserved) if that would exceed it (`scst_max_dev_cmd_mem`). No locks.
pub(crate) fn sgv_check_allowed_mem(mem_lim: &ScstMemLim, pages: i32) -> bool {
    let alloced = atomic_add_return(pages, &mem_lim.alloced_pages);
    let max = atomic_read(&mem_lim.max_allowed_pages);
    if alloced > max || alloced < 0 {
        TRACE!(
            TRACE_OUT_OF_MEM,
            "Requested amount of memory ({} pages) for being executed commands on a device \
             together with the already allocated memory exceeds the allowed maximum {}. \
             Should you increase scst_max_dev_cmd_mem?",
            pages,
            max
        );
        atomic_sub(pages, &mem_lim.alloced_pages);
        return false;
    }
    TRACE_MEM!(
        "pages {}, new alloced {}",
        pages,
        atomic_read(&mem_lim.alloced_pages)
    );
    true
}

/// C `sgv_uncheck_allowed_mem()`. No locks.
pub(crate) fn sgv_uncheck_allowed_mem(mem_lim: &ScstMemLim, pages: i32) {
    atomic_sub(pages, &mem_lim.alloced_pages);
    TRACE_MEM!(
        "pages {}, new alloced {}",
        pages,
        atomic_read(&mem_lim.alloced_pages)
    );
}

// ---------------------------------------------------------------------------------------------
// Allocation

/// The failure exits of C `sgv_pool_alloc()` (`out_fail_free_sg_entries`, `out_fail_free`,
/// `out_fail`, `out_uncheck`): the object (if any) is freed, the reservations undone.
fn sgv_alloc_fail(
    obj: Option<Box<SgvPoolObj>>,
    pages_to_alloc: i32,
    hiwmk_checked: bool,
    allowed_mem_checked: bool,
    mem_lim: &ScstMemLim,
) {
    if let Some(obj) = obj {
        if obj.cache_num >= 0 {
            let pool = obj.owner_pool.clone();
            let _l = pool.sgv_pool_lock.lock_bh();
            sgv_dec_cached_entries(&pool, pages_to_alloc);
        }
        drop(obj);
    }
    TRACE_MEM!("Allocation failed");
    if hiwmk_checked {
        sgv_hiwmk_uncheck(pages_to_alloc);
    }
    if allowed_mem_checked {
        sgv_uncheck_allowed_mem(mem_lim, pages_to_alloc);
    }
}

/// C `sgv_pool_alloc()`: a scatterlist of `size` bytes from `pool`, charged to `mem_lim`.
/// Returns the entries (`*count` of them, the last one cut to `size`) and sets `*sgv` to the
/// object that must be given back with [`sgv_pool_free`] together with those entries.
/// None on failure (`*count` 0 and `*sgv` None), for 0 bytes, or, with
/// `SGV_POOL_NO_ALLOC_ON_CACHE_MISS`, on a cache miss (with
/// `SGV_POOL_RETURN_OBJ_ON_ALLOC_FAIL` the empty object is returned in `*sgv` and
/// `*count` is the pages it needs). A `*sgv` given in must be an empty object from such a
/// failure; it is filled.
#[allow(clippy::too_many_arguments)]
pub fn sgv_pool_alloc(
    pool: &Arc<SgvPool>,
    size: u32,
    gfp_mask: Gfp,
    flags: i32,
    count: &mut i32,
    sgv: &mut Option<Box<SgvPoolObj>>,
    mem_lim: &ScstMemLim,
) -> Option<Vec<Scatterlist>> {
    if size == 0 {
        return None;
    }
    let no_cached = flags & SGV_POOL_ALLOC_NO_CACHED != 0;
    let size_us = usize::try_from(size).unwrap_or(usize::MAX);
    let pages = i32::try_from(size_us.div_ceil(PAGE_SIZE)).unwrap_or(i32::MAX);
    let (mut cache_num, mut pages_to_alloc) = if pool.single_alloc_pages == 0 {
        let order = get_order(size_us);
        (
            i32::try_from(order).unwrap_or(i32::MAX),
            1i32 << order.min(30),
        )
    } else {
        (0, pool.single_alloc_pages.max(pages))
    };
    TRACE_MEM!(
        "size={}, pages={}, pages_to_alloc={}, cache num={}, flags={:x}, no_cached={}",
        size,
        pages,
        pages_to_alloc,
        cache_num,
        flags,
        no_cached
    );

    let mut obj;
    let hit;
    if let Some(supplied) = sgv.take() {
        TRACE_MEM!("Supplied obj {:?}", supplied);
        if supplied.sg_count != 0 {
            // C: EXTRACHECKS_BUG_ON(obj->sg_count != 0): a lent object given in again.
            kemu::PRINT_CRIT_ERROR!("Supplied sgv obj {:?} still has pages", supplied);
            *sgv = Some(supplied);
            *count = 0;
            return None;
        }
        obj = supplied;
        if !sgv_check_allowed_mem(mem_lim, pages_to_alloc) {
            sgv_alloc_fail(Some(obj), pages_to_alloc, false, false, mem_lim);
            *count = 0;
            return None;
        }
        if sgv_hiwmk_check(pages_to_alloc).is_err() {
            sgv_alloc_fail(Some(obj), pages_to_alloc, false, true, mem_lim);
            *count = 0;
            return None;
        }
        if obj.sg_entries.len() != usize::try_from(pages_to_alloc).unwrap_or(0) {
            obj.sg_entries = sg_init_table(usize::try_from(pages_to_alloc).unwrap_or(0));
        }
        hit = false;
    } else if pages_to_alloc <= pool.max_cached_pages && !no_cached {
        if !sgv_check_allowed_mem(mem_lim, pages_to_alloc) {
            *count = 0;
            return None;
        }
        let cn = usize::try_from(cache_num).unwrap_or(0);
        let Some(o) = sgv_get_obj(
            pool,
            cn,
            pages_to_alloc,
            flags & SGV_POOL_ALLOC_GET_NEW != 0,
        ) else {
            TRACE!(
                TRACE_OUT_OF_MEM,
                "Allocation of sgv_pool_obj failed (size {})",
                size
            );
            sgv_alloc_fail(None, pages_to_alloc, false, true, mem_lim);
            *count = 0;
            return None;
        };
        obj = o;
        if obj.sg_count != 0 {
            TRACE_MEM!("Cached obj {:?}", obj);
            if let Some(acc) = pool.cache_acc.get(cn) {
                atomic_inc(&acc.hit_alloc);
            }
            hit = true;
        } else {
            if flags & SGV_POOL_NO_ALLOC_ON_CACHE_MISS != 0
                && flags & SGV_POOL_RETURN_OBJ_ON_ALLOC_FAIL == 0
            {
                sgv_alloc_fail(Some(obj), pages_to_alloc, false, true, mem_lim);
                *count = 0;
                return None;
            }
            if !obj.was_cached {
                TRACE_MEM!("Brand new obj {:?}", obj);
            } else {
                TRACE_MEM!("Cached obj {:?} with sg_count == 0", obj);
            }
            let n = usize::try_from(pages_to_alloc).unwrap_or(0);
            obj.sg_entries = sg_init_table(n);
            obj.spare = Vec::with_capacity(n);
            if flags & SGV_POOL_NO_ALLOC_ON_CACHE_MISS != 0
                && flags & SGV_POOL_RETURN_OBJ_ON_ALLOC_FAIL != 0
            {
                // C out_return: the empty object goes back to the caller.
                *sgv = Some(obj);
                *count = pages_to_alloc;
                sgv_uncheck_allowed_mem(mem_lim, pages_to_alloc);
                return None;
            }
            if sgv_hiwmk_check(pages_to_alloc).is_err() {
                sgv_alloc_fail(Some(obj), pages_to_alloc, false, true, mem_lim);
                *count = 0;
                return None;
            }
            hit = false;
        }
    } else {
        pages_to_alloc = pages;
        if !sgv_check_allowed_mem(mem_lim, pages_to_alloc) {
            *count = 0;
            return None;
        }
        if flags & SGV_POOL_NO_ALLOC_ON_CACHE_MISS != 0 {
            // C out_return2.
            *count = pages_to_alloc;
            sgv_uncheck_allowed_mem(mem_lim, pages_to_alloc);
            return None;
        }
        cache_num = -1;
        let n = usize::try_from(pages).unwrap_or(0);
        obj = Box::new(SgvPoolObj {
            cache_num,
            pages: pages_to_alloc,
            time_stamp: 0,
            owner_pool: pool.clone(),
            orig_sg: 0,
            orig_length: 0,
            sg_count: 0,
            sg_entries: sg_init_table(n),
            spare: Vec::new(),
            was_cached: false,
            sorted_recycling_list_entry: None,
        });
        if sgv_hiwmk_check(pages_to_alloc).is_err() {
            sgv_alloc_fail(Some(obj), pages_to_alloc, false, true, mem_lim);
            *count = 0;
            return None;
        }
        TRACE_MEM!("Big or no_cached obj {:?} (size {})", obj, size);
        hit = false;
    }

    if !hit {
        let alloc_fns = *pool.alloc_fns.lock();
        let n = usize::try_from(pages_to_alloc).unwrap_or(0);
        obj.sg_count = sgv_alloc_sg_entries(
            &mut obj.sg_entries,
            n,
            gfp_mask,
            pool.clustering_type,
            &alloc_fns,
        );
        if obj.sg_count <= 0 {
            obj.sg_count = 0;
            if flags & SGV_POOL_RETURN_OBJ_ON_ALLOC_FAIL != 0 && cache_num >= 0 {
                // C out_return1.
                *sgv = Some(obj);
                *count = pages_to_alloc;
                sgv_hiwmk_uncheck(pages_to_alloc);
                sgv_uncheck_allowed_mem(mem_lim, pages_to_alloc);
                return None;
            }
            sgv_alloc_fail(Some(obj), pages_to_alloc, true, true, mem_lim);
            *count = 0;
            return None;
        }
        let merged = pages_to_alloc - obj.sg_count;
        if cache_num >= 0 {
            if let Some(acc) = pool.cache_acc.get(usize::try_from(cache_num).unwrap_or(0)) {
                atomic_add(merged, &acc.merged);
            }
        } else if no_cached {
            atomic_add(pages_to_alloc, &pool.other_pages);
            atomic_add(merged, &pool.other_merged);
        } else {
            atomic_add(pages_to_alloc, &pool.big_pages);
            atomic_add(merged, &pool.big_merged);
        }
    }

    // success:
    let cnt = if cache_num >= 0 {
        if let Some(acc) = pool.cache_acc.get(usize::try_from(cache_num).unwrap_or(0)) {
            atomic_inc(&acc.total_alloc);
        }
        // C: trans_tbl[pages - 1].sg_num for clustered pools, which is `pages` without
        // merging.
        let cnt = usize::try_from(pages).unwrap_or(0);
        let sg = cnt - 1;
        obj.orig_sg = sg;
        obj.orig_length = obj.sg_entries.get(sg).map_or(0, |e| e.length);
        cnt
    } else {
        if no_cached {
            atomic_inc(&pool.other_alloc);
        } else {
            atomic_inc(&pool.big_alloc);
        }
        usize::try_from(obj.sg_count).unwrap_or(0)
    };
    let cut = u32::try_from(size_us.div_ceil(PAGE_SIZE) * PAGE_SIZE - size_us).unwrap_or(0);
    if let Some(last) = obj.sg_entries.get_mut(cnt - 1) {
        last.length -= cut.min(last.length);
    }
    // Lend the first `cnt` entries; the rest wait in `spare`.
    let rest = obj.sg_entries.drain(cnt..);
    obj.spare.extend(rest);
    let sg = std::mem::take(&mut obj.sg_entries);
    TRACE_MEM!(
        "obj={:?} (size={}, pages={}, count={})",
        obj,
        size,
        pages,
        cnt
    );
    *count = i32::try_from(cnt).unwrap_or(i32::MAX);
    *sgv = Some(obj);
    Some(sg)
}

/// C `sgv_pool_free()`: gives back an object and the entries [`sgv_pool_alloc`] lent with
/// it; a cached one goes back to its cache, a big or not-cached one is freed. The pages are
/// uncharged from `mem_lim`. Entries that come back without their pages (a caller that
/// replaced them) make the object be freed instead of cached.
pub fn sgv_pool_free(mut obj: Box<SgvPoolObj>, sg: Vec<Scatterlist>, mem_lim: &ScstMemLim) {
    let pages = if obj.sg_count != 0 { obj.pages } else { 0 };
    TRACE_MEM!(
        "Freeing obj {:?}, cache num {}, pages {}, sg_count {}",
        obj,
        obj.cache_num,
        pages,
        obj.sg_count
    );
    obj.sg_entries = sg;
    let rest = obj.spare.drain(..);
    obj.sg_entries.extend(rest);
    if obj.cache_num >= 0 {
        let n = usize::try_from(obj.sg_count).unwrap_or(0);
        let intact = obj.sg_count == 0
            || (obj.sg_entries.len() == usize::try_from(obj.pages).unwrap_or(0)
                && obj.sg_entries.iter().take(n).all(|e| sg_page(e).is_some()));
        if intact {
            let (i, len) = (obj.orig_sg, obj.orig_length);
            if let Some(e) = obj.sg_entries.get_mut(i) {
                e.length = len;
            }
            sgv_put_obj(obj);
        } else {
            PRINT_ERROR!("SGV obj {:?} came back without its pages, freeing it", obj);
            let pool = obj.owner_pool.clone();
            {
                let _l = pool.sgv_pool_lock.lock_bh();
                sgv_dec_cached_entries(&pool, obj.pages);
            }
            atomic_sub(obj.pages, &sgv_pages_total);
            sgv_dtor_and_free(obj);
        }
    } else {
        let free = obj.owner_pool.alloc_fns.lock().free_pages_fn;
        let n = usize::try_from(obj.sg_count).unwrap_or(0);
        free(&mut obj.sg_entries, n);
        drop(obj);
        sgv_hiwmk_uncheck(pages);
    }
    sgv_uncheck_allowed_mem(mem_lim, pages);
}

/// C `scst_alloc_sg()`: a scatterlist of `size` bytes straight from the page allocator, one
/// page per entry, not cached and not charged to a device (only to `sgv_pages_total`);
/// None for 0 bytes or no memory. Free it with [`scst_free_sg`]. (Unlike C, the pages are
/// zeroed: the callers of this port build responses in them.)
pub fn scst_alloc_sg(size: usize) -> Option<Vec<Scatterlist>> {
    if size == 0 {
        return None;
    }
    let pages = size.div_ceil(PAGE_SIZE);
    let pages_i = i32::try_from(pages).unwrap_or(i32::MAX);
    atomic_inc(&sgv_other_total_alloc);
    if sgv_hiwmk_check(pages_i).is_err() {
        return None;
    }
    let mut sg = sg_init_table(pages);
    let gfp = kemu::mm::GFP_KERNEL | kemu::mm::__GFP_ZERO;
    let cnt = sgv_alloc_sg_entries(
        &mut sg,
        pages,
        gfp,
        SgvClusteringType::NoClustering,
        &SGV_SYS_ALLOC_FNS,
    );
    if cnt <= 0 {
        sgv_hiwmk_uncheck(pages_i);
        return None;
    }
    let cut = u32::try_from(pages * PAGE_SIZE - size).unwrap_or(0);
    if let Some(last) = sg.last_mut() {
        last.length -= cut.min(last.length);
    }
    TRACE_MEM!("Alloced sg (count {})", cnt);
    Some(sg)
}

/// C `scst_free_sg()`: frees a scatterlist of [`scst_alloc_sg`]; its pages go back to the
/// page allocator.
pub fn scst_free_sg(mut sg: Vec<Scatterlist>) {
    let count = sg.len();
    TRACE_MEM!("Freeing sg (count {})", count);
    sgv_hiwmk_uncheck(i32::try_from(count).unwrap_or(i32::MAX));
    sgv_free_sys_sg_entries(&mut sg, count);
}

// ---------------------------------------------------------------------------------------------
// Pools

/// C `sgv_pool_init()` (with `sgv_pool_init_cache()` for each cache): a pool, added to
/// `sgv_pools_list`. Called under `sgv_pools_mutex`.
fn sgv_pool_init(
    name: &str,
    clustering_type: SgvClusteringType,
    single_alloc_pages: i32,
    purge_interval: i32,
) -> Result<Arc<SgvPool>, kemu::Errno> {
    if single_alloc_pages < 0 {
        PRINT_ERROR!("Wrong single_alloc_pages value {}", single_alloc_pages);
        return Err(kemu::Errno::EINVAL);
    }
    let purge_interval = if purge_interval != 0 {
        purge_interval
    } else {
        SGV_DEFAULT_PURGE_INTERVAL
    };
    // A pool that is never purged pretends its work is always scheduled.
    let purge_work_scheduled = purge_interval < 0;
    let (max_caches, max_cached_pages) = if single_alloc_pages == 0 {
        (SGV_POOL_ELEMENTS, 1 << (SGV_POOL_ELEMENTS - 1))
    } else {
        (1, single_alloc_pages)
    };
    TRACE_MEM!(
        "name {}, clustering_type={:?}, single_alloc_pages={}, max_caches={}, \
         max_cached_pages={}",
        name,
        clustering_type,
        single_alloc_pages,
        max_caches,
        max_cached_pages
    );
    // C sgv_pool_init_cache(): the cache names (C also creates the object's kmem_cache).
    let cache_names = (0..max_caches)
        .map(|i| {
            let pages = if single_alloc_pages == 0 {
                1usize << i
            } else {
                usize::try_from(single_alloc_pages).unwrap_or(0)
            };
            format!("{}-{}K", name, (pages << PAGE_SHIFT) >> 10)
        })
        .collect();
    let pool = Arc::new_cyclic(|weak: &Weak<SgvPool>| {
        let w = weak.clone();
        SgvPool {
            clustering_type,
            single_alloc_pages,
            max_cached_pages,
            alloc_fns: SpinLock::new(SGV_SYS_ALLOC_FNS),
            sgv_pool_lock: SpinLock::new(SgvPoolLocked {
                purge_work_scheduled,
                sorted_recycling_list: List::new(),
                recycling_lists: (0..max_caches).map(|_| List::new()).collect(),
            }),
            purge_interval,
            inactive_cached_pages: AtomicT::new(0),
            cached_pages: AtomicT::new(0),
            cached_entries: AtomicT::new(0),
            cache_acc: Default::default(),
            sgv_purge_work: DelayedWork::new(move || {
                if let Some(pool) = w.upgrade() {
                    sgv_purge_work_fn(&pool);
                }
            }),
            big_alloc: AtomicT::new(0),
            big_pages: AtomicT::new(0),
            big_merged: AtomicT::new(0),
            other_alloc: AtomicT::new(0),
            other_pages: AtomicT::new(0),
            other_merged: AtomicT::new(0),
            sgv_pool_ref: AtomicT::new(1),
            max_caches,
            cache_names,
            name: name.to_owned(),
            sgv_pools_list_entry: AtomicListHandle::new(),
        }
    });
    let h = sgv_pools_lock.lock_bh().add_tail(pool.clone());
    pool.sgv_pools_list_entry.set(h);
    Ok(pool)
}

/// C `sgv_pool_flush()`: frees all cached objects of the pool.
pub fn sgv_pool_flush(pool: &SgvPool) {
    for i in 0..pool.max_caches {
        let mut l = pool.sgv_pool_lock.lock_bh();
        while let Some((h, _)) = l.recycling_lists.get(i).and_then(|r| r.first()) {
            let obj = __sgv_purge_from_cache(pool, &mut l, i, h);
            drop(l);
            if let Some(obj) = obj {
                sgv_dtor_and_free(obj);
            }
            l = pool.sgv_pool_lock.lock_bh();
        }
    }
}

/// C `sgv_pool_destroy()`: flushes the pool, takes it off `sgv_pools_list` and stops its
/// purge work. Objects still lent keep the pool's memory alive until they are freed.
fn sgv_pool_destroy(pool: &Arc<SgvPool>) {
    sgv_pool_flush(pool);
    {
        let _m = sgv_pools_mutex.lock();
        let mut list = sgv_pools_lock.lock_bh();
        if let Some(h) = pool.sgv_pools_list_entry.take() {
            list.del(h);
        }
    }
    cancel_delayed_work_sync(&pool.sgv_purge_work);
}

/// C `sgv_pool_set_allocator()`: a custom page allocator for the pool.
pub fn sgv_pool_set_allocator(pool: &SgvPool, fns: SgvPoolAllocFns) {
    *pool.alloc_fns.lock() = fns;
}

/// C `sgv_pool_create()` (`sgv_pool_create_node()` without a NUMA node): a new pool named
/// `name`; with `shared`, an existing pool of that name is returned with one more reference
/// (C also requires the same address space, always true here). `single_alloc_pages` 0:
/// power-of-two caches, otherwise one cache of buffers of that many pages.
/// `purge_interval` in jiffies: 0 the default (60 s), < 0 never purged. None if a pool of
/// that name exists and `shared` is false, or on a bad argument.
pub fn sgv_pool_create(
    name: &str,
    clustering_type: SgvClusteringType,
    single_alloc_pages: i32,
    shared: bool,
    purge_interval: i32,
) -> Option<Arc<SgvPool>> {
    TRACE_MEM!(
        "Creating pool {} (clustering_type {:?}, single_alloc_pages {}, shared {}, \
         purge_interval {})",
        name,
        clustering_type,
        single_alloc_pages,
        shared,
        purge_interval
    );
    let _m = sgv_pools_mutex.lock();
    let existing = sgv_pools_lock
        .lock_bh()
        .iter()
        .find(|(_, p)| p.name == name)
        .map(|(_, p)| p.clone());
    if let Some(pool) = existing {
        if shared {
            sgv_pool_get(&pool);
            return Some(pool);
        }
        PRINT_ERROR!("SGV pool {} already exists", name);
        return None;
    }
    sgv_pool_init(name, clustering_type, single_alloc_pages, purge_interval).ok()
}

/// C `sgv_pool_get()`.
pub fn sgv_pool_get(pool: &SgvPool) {
    atomic_inc(&pool.sgv_pool_ref);
    TRACE_MEM!(
        "Incrementing sgv pool {} ref (new value {})",
        pool.name,
        atomic_read(&pool.sgv_pool_ref)
    );
}

/// C `sgv_pool_put()`: the last reference destroys the pool.
pub fn sgv_pool_put(pool: &Arc<SgvPool>) {
    TRACE_MEM!(
        "Decrementing sgv pool {} ref (new value {})",
        pool.name,
        atomic_read(&pool.sgv_pool_ref) - 1
    );
    if atomic_dec_and_test(&pool.sgv_pool_ref) {
        sgv_pool_destroy(pool);
    }
}

/// C `sgv_pool_del()`: [`sgv_pool_put`].
pub fn sgv_pool_del(pool: &Arc<SgvPool>) {
    sgv_pool_put(pool);
}

/// C `scst_sgv_pools_init()`: the watermarks (pages) and the global pools `sgv`,
/// `sgv-clust` and `sgv-dma` (no per-CPU pools, no shrinker: see the module doc).
pub fn scst_sgv_pools_init(mem_hwmark: i32, mem_lwmark: i32) -> Result<(), kemu::Errno> {
    atomic_set(&sgv_hi_wmk, mem_hwmark);
    atomic_set(&sgv_lo_wmk, mem_lwmark);
    let norm = sgv_pool_create("sgv", SgvClusteringType::NoClustering, 0, false, 0)
        .ok_or(kemu::Errno::ENOMEM)?;
    let Some(clust) = sgv_pool_create("sgv-clust", SgvClusteringType::FullClustering, 0, false, 0)
    else {
        sgv_pool_destroy(&norm);
        return Err(kemu::Errno::ENOMEM);
    };
    let Some(dma) = sgv_pool_create("sgv-dma", SgvClusteringType::NoClustering, 0, false, 0) else {
        sgv_pool_destroy(&clust);
        sgv_pool_destroy(&norm);
        return Err(kemu::Errno::ENOMEM);
    };
    *sgv_norm_pool.lock() = Some(norm);
    *sgv_norm_clust_pool.lock() = Some(clust);
    *sgv_dma_pool.lock() = Some(dma);
    Ok(())
}

/// C `scst_sgv_pools_deinit()`: destroys the global pools.
pub fn scst_sgv_pools_deinit() {
    for p in [&sgv_dma_pool, &sgv_norm_pool, &sgv_norm_clust_pool] {
        let pool = p.lock().take();
        if let Some(pool) = pool {
            sgv_pool_destroy(&pool);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// One cache's counters, as [`sgv_pool_stats`] reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SgvCacheStats {
    /// C `cache_names[i]`.
    pub name: String,
    /// C `cache_acc[i].hit_alloc`.
    pub hit_alloc: i32,
    /// C `cache_acc[i].total_alloc`.
    pub total_alloc: i32,
    /// C `cache_acc[i].merged`.
    pub merged: i32,
}

/// A pool's counters (C: what `sgv_do_proc_read()` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SgvPoolStats {
    /// C `name`.
    pub name: String,
    /// The caches, smallest first.
    pub caches: Vec<SgvCacheStats>,
    /// C `cached_pages`.
    pub cached_pages: i32,
    /// C `inactive_cached_pages`.
    pub inactive_cached_pages: i32,
    /// C `cached_entries`.
    pub cached_entries: i32,
    /// C `big_alloc`, `big_pages`, `big_merged`.
    pub big_alloc: i32,
    /// C `big_pages`.
    pub big_pages: i32,
    /// C `big_merged`.
    pub big_merged: i32,
    /// C `other_alloc`, `other_pages`, `other_merged`.
    pub other_alloc: i32,
    /// C `other_pages`.
    pub other_pages: i32,
    /// C `other_merged`.
    pub other_merged: i32,
}

impl SgvPoolStats {
    /// The sum of `hit_alloc` over the caches.
    pub fn hit_alloc(&self) -> i32 {
        self.caches.iter().map(|c| c.hit_alloc).sum()
    }
    /// The sum of `total_alloc` over the caches.
    pub fn total_alloc(&self) -> i32 {
        self.caches.iter().map(|c| c.total_alloc).sum()
    }
    /// Allocations that were not hits (new pages), over the caches.
    pub fn miss_alloc(&self) -> i32 {
        self.total_alloc() - self.hit_alloc()
    }
}

/// The counters of `pool` (C `cache_acc[]`, `big_*`, `other_*`, the cached pages).
pub fn sgv_pool_stats(pool: &SgvPool) -> SgvPoolStats {
    SgvPoolStats {
        name: pool.name.clone(),
        caches: pool
            .cache_names
            .iter()
            .zip(pool.cache_acc.iter())
            .map(|(n, a)| SgvCacheStats {
                name: n.clone(),
                hit_alloc: atomic_read(&a.hit_alloc),
                total_alloc: atomic_read(&a.total_alloc),
                merged: atomic_read(&a.merged),
            })
            .collect(),
        cached_pages: atomic_read(&pool.cached_pages),
        inactive_cached_pages: atomic_read(&pool.inactive_cached_pages),
        cached_entries: atomic_read(&pool.cached_entries),
        big_alloc: atomic_read(&pool.big_alloc),
        big_pages: atomic_read(&pool.big_pages),
        big_merged: atomic_read(&pool.big_merged),
        other_alloc: atomic_read(&pool.other_alloc),
        other_pages: atomic_read(&pool.other_pages),
        other_merged: atomic_read(&pool.other_merged),
    }
}

/// The global counters of scst_mem.c.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SgvGlobalStats {
    /// C `sgv_pages_total`.
    pub sgv_pages_total: i32,
    /// The sum of the pools' `inactive_cached_pages`.
    pub inactive_pages: i32,
    /// C `sgv_hi_wmk`.
    pub sgv_hi_wmk: i32,
    /// C `sgv_lo_wmk`.
    pub sgv_lo_wmk: i32,
    /// C `sgv_releases_on_hiwmk`.
    pub sgv_releases_on_hiwmk: i32,
    /// C `sgv_releases_on_hiwmk_failed`.
    pub sgv_releases_on_hiwmk_failed: i32,
    /// C `sgv_other_total_alloc`.
    pub sgv_other_total_alloc: i32,
}

/// The global counters (C: the head of `sgv_procinfo_show()`).
pub fn sgv_global_stats() -> SgvGlobalStats {
    let inactive_pages = sgv_pools_lock
        .lock_bh()
        .iter()
        .map(|(_, p)| atomic_read(&p.inactive_cached_pages))
        .sum();
    SgvGlobalStats {
        sgv_pages_total: atomic_read(&sgv_pages_total),
        inactive_pages,
        sgv_hi_wmk: atomic_read(&sgv_hi_wmk),
        sgv_lo_wmk: atomic_read(&sgv_lo_wmk),
        sgv_releases_on_hiwmk: atomic_read(&sgv_releases_on_hiwmk),
        sgv_releases_on_hiwmk_failed: atomic_read(&sgv_releases_on_hiwmk_failed),
        sgv_other_total_alloc: atomic_read(&sgv_other_total_alloc),
    }
}

/// The pools of `sgv_pools_list`, in creation order.
pub fn sgv_pools() -> Vec<Arc<SgvPool>> {
    let _m = sgv_pools_mutex.lock();
    sgv_pools_list_snapshot()
}

/// C `sgv_do_proc_read()`: one pool's lines of the `sgv` proc file.
fn sgv_do_proc_read(seq: &mut String, pool: &SgvPool) {
    let s = sgv_pool_stats(pool);
    let cache_pages = |i: usize| -> i32 {
        if pool.single_alloc_pages == 0 {
            1 << i
        } else {
            pool.single_alloc_pages
        }
    };
    let (mut hit, mut total, mut merged, mut allocated) = (0, 0, 0, 0);
    for (i, c) in s.caches.iter().enumerate() {
        hit += c.hit_alloc;
        total += c.total_alloc;
        allocated += (c.total_alloc - c.hit_alloc) * cache_pages(i);
        merged += c.merged;
    }
    let _ = write!(
        seq,
        "\n{:<30} {:<11} {:<11} {:<11} {}/{}/{}\n",
        s.name,
        hit,
        total,
        if allocated != 0 {
            merged * 100 / allocated
        } else {
            0
        },
        s.cached_pages,
        s.inactive_cached_pages,
        s.cached_entries
    );
    for (i, c) in s.caches.iter().enumerate() {
        let allocated = (c.total_alloc - c.hit_alloc) * cache_pages(i);
        let _ = writeln!(
            seq,
            "  {:<28} {:<11} {:<11} {}",
            c.name,
            c.hit_alloc,
            c.total_alloc,
            if allocated != 0 {
                c.merged * 100 / allocated
            } else {
                0
            }
        );
    }
    let _ = writeln!(
        seq,
        "  {:<40} {}/{:<9} {}/{}",
        "big/other",
        s.big_alloc,
        s.other_alloc,
        if s.big_pages != 0 {
            s.big_merged * 100 / s.big_pages
        } else {
            0
        },
        if s.other_pages != 0 {
            s.other_merged / s.other_pages
        } else {
            0
        }
    );
}

/// C `sgv_procinfo_show()`: the text of `/proc/scsi_tgt/sgv`.
pub fn sgv_procinfo_show() -> String {
    let g = sgv_global_stats();
    let mut seq = String::new();
    let _ = write!(
        seq,
        "{:<42} {}/{}\n{:<42} {}/{}\n{:<42} {}/{}\n\n",
        "Inactive/active pages",
        g.inactive_pages,
        g.sgv_pages_total - g.inactive_pages,
        "Hi/lo watermarks [pages]",
        g.sgv_hi_wmk,
        g.sgv_lo_wmk,
        "Hi watermark releases/failures",
        g.sgv_releases_on_hiwmk,
        g.sgv_releases_on_hiwmk_failed
    );
    let _ = write!(
        seq,
        "{:<30} {:<11} {:<11} {:<11} {:<11}",
        "Name", "Hit", "Total", "% merged", "Cached (P/I/O)"
    );
    {
        let _m = sgv_pools_mutex.lock();
        for pool in sgv_pools_list_snapshot() {
            sgv_do_proc_read(&mut seq, &pool);
        }
    }
    let _ = write!(seq, "\n{:<42} {:<11}\n", "other", g.sgv_other_total_alloc);
    seq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{wait_until, Loaded};
    use kemu::mm::GFP_KERNEL;
    use kemu::scatterlist::sg_total_len;

    /// One allocation from `pool`: (entries, count, object).
    fn alloc(
        pool: &Arc<SgvPool>,
        size: u32,
        flags: i32,
        lim: &ScstMemLim,
    ) -> Option<(Vec<Scatterlist>, i32, Box<SgvPoolObj>)> {
        let mut cnt = 0;
        let mut sgv = None;
        let sg = sgv_pool_alloc(pool, size, GFP_KERNEL, flags, &mut cnt, &mut sgv, lim)?;
        Some((sg, cnt, sgv?))
    }

    #[test]
    fn sizes_map_to_power_of_two_caches_and_are_reused() {
        let _l = Loaded::new();
        let lim = ScstMemLim::new();
        let pool =
            sgv_pool_create("t-sizes", SgvClusteringType::NoClustering, 0, false, 0).unwrap();
        assert_eq!(pool.cache_names[0], "t-sizes-4K");
        assert_eq!(pool.cache_names[10], "t-sizes-4096K");
        assert!(sgv_pool_create("t-sizes", SgvClusteringType::NoClustering, 0, false, 0).is_none());

        let (sg, cnt, obj) = alloc(&pool, 4096, 0, &lim).unwrap();
        assert_eq!((cnt, sg.len(), obj.pages(), obj.cache_num()), (1, 1, 1, 0));
        let addr = kemu::scatterlist::sg_virt(&sg[0]).as_ptr();
        sgv_pool_free(obj, sg, &lim);
        let (sg, _, obj) = alloc(&pool, 4096, 0, &lim).unwrap();
        assert_eq!(
            kemu::scatterlist::sg_virt(&sg[0]).as_ptr(),
            addr,
            "same pages"
        );
        sgv_pool_free(obj, sg, &lim);

        // 12 KiB + 100 bytes: the 16 KiB cache, 4 entries, the last one cut.
        let (sg, cnt, obj) = alloc(&pool, 3 * 4096 + 100, 0, &lim).unwrap();
        assert_eq!((cnt, obj.pages(), obj.cache_num()), (4, 4, 2));
        assert_eq!(sg_total_len(&sg), 3 * 4096 + 100);
        assert_eq!(sg[3].length, 100);
        assert_eq!(atomic_read(&lim.alloced_pages), 4);
        sgv_pool_free(obj, sg, &lim);
        assert_eq!(atomic_read(&lim.alloced_pages), 0);
        // 9 KiB reuses that object (3 of its 4 entries; the last one full again).
        let (sg, cnt, obj) = alloc(&pool, 9 * 1024, 0, &lim).unwrap();
        assert_eq!((cnt, sg.len()), (3, 3));
        assert_eq!(sg_total_len(&sg), 9 * 1024);
        sgv_pool_free(obj, sg, &lim);
        let (sg, cnt, obj) = alloc(&pool, 4 * 4096, 0, &lim).unwrap();
        assert_eq!((cnt, sg_total_len(&sg)), (4, 4 * 4096));
        sgv_pool_free(obj, sg, &lim);

        let s = sgv_pool_stats(&pool);
        assert_eq!((s.caches[0].total_alloc, s.caches[0].hit_alloc), (2, 1));
        assert_eq!((s.caches[2].total_alloc, s.caches[2].hit_alloc), (3, 2));
        assert_eq!(s.caches[1].total_alloc, 0);
        assert_eq!(
            (s.cached_entries, s.cached_pages, s.inactive_cached_pages),
            (2, 5, 5)
        );

        // Larger than the largest cache: "big", never cached.
        let total = atomic_read(&sgv_pages_total);
        let (sg, cnt, obj) = alloc(&pool, 1025 * 4096, 0, &lim).unwrap();
        assert_eq!((cnt, obj.cache_num()), (1025, -1));
        assert_eq!(atomic_read(&sgv_pages_total), total + 1025);
        sgv_pool_free(obj, sg, &lim);
        assert_eq!(atomic_read(&sgv_pages_total), total);
        let s = sgv_pool_stats(&pool);
        assert_eq!((s.big_alloc, s.big_pages, s.cached_entries), (1, 1025, 2));
        assert!(sgv_procinfo_show().contains("t-sizes-16K"));

        sgv_pool_flush(&pool);
        let s = sgv_pool_stats(&pool);
        assert_eq!(
            (s.cached_entries, s.cached_pages, s.inactive_cached_pages),
            (0, 0, 0)
        );
        sgv_pool_del(&pool);
        assert!(!sgv_pools().iter().any(|p| p.name == "t-sizes"));
    }

    #[test]
    fn no_cached_and_atomic_allocations() {
        let _l = Loaded::new();
        let lim = ScstMemLim::new();
        let pool =
            sgv_pool_create("t-flags", SgvClusteringType::NoClustering, 0, false, 0).unwrap();
        // SGV_POOL_ALLOC_NO_CACHED (cmd->no_sgv): "other", not cached.
        let (sg, cnt, obj) = alloc(&pool, 8192, SGV_POOL_ALLOC_NO_CACHED, &lim).unwrap();
        assert_eq!((cnt, obj.cache_num()), (2, -1));
        sgv_pool_free(obj, sg, &lim);
        let s = sgv_pool_stats(&pool);
        assert_eq!((s.other_alloc, s.other_pages, s.total_alloc()), (1, 2, 0));
        assert_eq!(s.cached_entries, 0);
        // Atomic: a miss fails, a hit succeeds.
        assert!(alloc(&pool, 8192, SGV_POOL_NO_ALLOC_ON_CACHE_MISS, &lim).is_none());
        assert_eq!(sgv_pool_stats(&pool).cached_entries, 0);
        assert_eq!(atomic_read(&lim.alloced_pages), 0);
        let (sg, _, obj) = alloc(&pool, 8192, 0, &lim).unwrap();
        sgv_pool_free(obj, sg, &lim);
        let (sg, _, obj) = alloc(&pool, 8192, SGV_POOL_NO_ALLOC_ON_CACHE_MISS, &lim).unwrap();
        sgv_pool_free(obj, sg, &lim);
        assert_eq!(sgv_pool_stats(&pool).caches[1].hit_alloc, 1);
        // Shared pools: one more reference, destroyed by the last put.
        let again =
            sgv_pool_create("t-flags", SgvClusteringType::NoClustering, 0, true, 0).unwrap();
        assert!(Arc::ptr_eq(&again, &pool));
        sgv_pool_put(&again);
        assert!(sgv_pools().iter().any(|p| p.name == "t-flags"));
        sgv_pool_put(&pool);
        assert!(!sgv_pools().iter().any(|p| p.name == "t-flags"));
    }

    #[test]
    fn purge_frees_idle_objects() {
        let _l = Loaded::new();
        let lim = ScstMemLim::new();
        let total = atomic_read(&sgv_pages_total);
        let pool =
            sgv_pool_create("t-purge", SgvClusteringType::FullClustering, 0, false, 20).unwrap();
        let a = alloc(&pool, 4096, 0, &lim).unwrap();
        let b = alloc(&pool, 16384, 0, &lim).unwrap();
        sgv_pool_free(a.2, a.0, &lim);
        sgv_pool_free(b.2, b.0, &lim);
        assert_eq!(sgv_pool_stats(&pool).cached_entries, 2);
        assert_eq!(atomic_read(&sgv_pages_total), total + 5);
        let p = pool.clone();
        assert!(wait_until(|| sgv_pool_stats(&p).cached_entries == 0));
        let s = sgv_pool_stats(&pool);
        assert_eq!((s.cached_pages, s.inactive_cached_pages), (0, 0));
        assert_eq!(atomic_read(&sgv_pages_total), total);
        // A pool with purging disabled keeps its objects.
        let keep =
            sgv_pool_create("t-keep", SgvClusteringType::NoClustering, 0, false, -1).unwrap();
        let a = alloc(&keep, 4096, 0, &lim).unwrap();
        sgv_pool_free(a.2, a.0, &lim);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(sgv_pool_stats(&keep).cached_entries, 1);
        sgv_pool_del(&keep);
        sgv_pool_del(&pool);
        assert_eq!(atomic_read(&sgv_pages_total), total);
    }

    #[test]
    fn high_watermark_releases_cached_objects() {
        let _l = Loaded::new();
        let lim = ScstMemLim::new();
        let pool = sgv_pool_create("t-wmk", SgvClusteringType::NoClustering, 0, false, 0).unwrap();
        let a = alloc(&pool, 4 * 4096, 0, &lim).unwrap();
        sgv_pool_free(a.2, a.0, &lim);
        let hi = atomic_read(&sgv_hi_wmk);
        let base = atomic_read(&sgv_releases_on_hiwmk);
        let failed = atomic_read(&sgv_releases_on_hiwmk_failed);
        atomic_set(&sgv_hi_wmk, atomic_read(&sgv_pages_total) + 1);
        // 2 pages do not fit: the idle 4-page object is released for them.
        let b = alloc(&pool, 2 * 4096, 0, &lim).unwrap();
        assert_eq!(atomic_read(&sgv_releases_on_hiwmk), base + 1);
        assert_eq!(sgv_pool_stats(&pool).caches[2].total_alloc, 1);
        assert_eq!(sgv_pool_stats(&pool).cached_entries, 1);
        // Nothing idle is left to release: refused.
        assert!(alloc(&pool, 8 * 4096, 0, &lim).is_none());
        assert_eq!(atomic_read(&sgv_releases_on_hiwmk_failed), failed + 1);
        atomic_set(&sgv_hi_wmk, hi);
        sgv_pool_free(b.2, b.0, &lim);
        assert_eq!(atomic_read(&lim.alloced_pages), 0);
        sgv_pool_del(&pool);
    }

    #[test]
    fn entries_coming_back_without_pages_free_the_object() {
        let _l = Loaded::new();
        let lim = ScstMemLim::new();
        let pool = sgv_pool_create("t-lost", SgvClusteringType::NoClustering, 0, false, 0).unwrap();
        let (mut sg, _, obj) = alloc(&pool, 4096, 0, &lim).unwrap();
        drop(sg_take_page(&mut sg[0]));
        sgv_pool_free(obj, sg, &lim);
        let s = sgv_pool_stats(&pool);
        assert_eq!((s.cached_entries, s.cached_pages), (0, 0));
        assert_eq!(atomic_read(&lim.alloced_pages), 0);
        sgv_pool_del(&pool);
    }
}
