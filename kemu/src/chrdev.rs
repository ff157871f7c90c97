// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2026 The scst-rs authors
//! Character devices and `ioctl`, in-process.
//!
//! In SCST, iscsi-scstd finds the major of `iscsi-scst-ctl` in `/proc/devices`, opens the device
//! node and talks to the kernel module with `ioctl(2)` on `#[repr(C)]` structs; the module's
//! `file_operations.unlocked_ioctl` handler moves the structs with `copy_from_user()` and
//! `copy_to_user()`. In the usermode port both sides live in one process, so this module keeps
//! the shape of that interface while turning the system call into a direct call:
//!
//! * the kernel side registers a [`FileOperations`] implementation with [`register_chrdev`]
//!   (C `register_chrdev()`), and [`proc_devices`] renders the "Character devices:" part of
//!   `/proc/devices` so that the daemon can look the major up by name exactly as C does;
//! * the daemon side opens the device with [`chrdev_open`] and calls [`CharDevFile::ioctl`] with
//!   the same command numbers ([`_IOW`], [`_IOWR`], … with the Linux x86_64 encoding) and the same
//!   byte layouts;
//! * user pointers embedded in the structs (a version string, an array of attributes) are
//!   emulated by [`UserMemory`]: the daemon maps byte slices and receives fake user addresses,
//!   which the kernel side dereferences through [`IoctlArg::strncpy_from_user`] and
//!   [`IoctlArg::copy_from_user_addr`].
//!
//! Deviations from the kernel, all deliberate: [`register_chrdev`] returns the major for a fixed
//! major too (the kernel returns 0 there), refuses a name that is already registered (the kernel
//! does not check names, but the daemon looks devices up by name), and refuses names that could
//! not be parsed back out of `/proc/devices`; [`chrdev_open`] reports a major without a driver as
//! `ENODEV` (opening such a device node fails with `ENXIO` on Linux).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use nix::errno::Errno;
use parking_lot::Mutex;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

// ---------------------------------------------------------------------------------------------
// ioctl command encoding (include/uapi/asm-generic/ioctl.h, as used on x86_64)
// ---------------------------------------------------------------------------------------------

/// C `_IOC_NRBITS`: width of the command-number field.
pub const _IOC_NRBITS: u32 = 8;
/// C `_IOC_TYPEBITS`: width of the type ("magic") field.
pub const _IOC_TYPEBITS: u32 = 8;
/// C `_IOC_SIZEBITS`: width of the argument-size field.
pub const _IOC_SIZEBITS: u32 = 14;
/// C `_IOC_DIRBITS`: width of the direction field.
pub const _IOC_DIRBITS: u32 = 2;

/// C `_IOC_NRMASK`.
pub const _IOC_NRMASK: u32 = (1 << _IOC_NRBITS) - 1;
/// C `_IOC_TYPEMASK`.
pub const _IOC_TYPEMASK: u32 = (1 << _IOC_TYPEBITS) - 1;
/// C `_IOC_SIZEMASK`.
pub const _IOC_SIZEMASK: u32 = (1 << _IOC_SIZEBITS) - 1;
/// C `_IOC_DIRMASK`.
pub const _IOC_DIRMASK: u32 = (1 << _IOC_DIRBITS) - 1;

/// C `_IOC_NRSHIFT`: the command number occupies bits 0..7.
pub const _IOC_NRSHIFT: u32 = 0;
/// C `_IOC_TYPESHIFT`: the type occupies bits 8..15.
pub const _IOC_TYPESHIFT: u32 = _IOC_NRSHIFT + _IOC_NRBITS;
/// C `_IOC_SIZESHIFT`: the size occupies bits 16..29.
pub const _IOC_SIZESHIFT: u32 = _IOC_TYPESHIFT + _IOC_TYPEBITS;
/// C `_IOC_DIRSHIFT`: the direction occupies bits 30..31.
pub const _IOC_DIRSHIFT: u32 = _IOC_SIZESHIFT + _IOC_SIZEBITS;

/// C `_IOC_NONE`: no data transfer.
pub const _IOC_NONE: u32 = 0;
/// C `_IOC_WRITE`: user space writes, the kernel reads (`copy_from_user`).
pub const _IOC_WRITE: u32 = 1;
/// C `_IOC_READ`: the kernel writes, user space reads (`copy_to_user`).
pub const _IOC_READ: u32 = 2;

/// C `_IOC(dir, type, nr, size)`: builds an ioctl command number.
///
/// # Panics
///
/// If `dir` or `size` do not fit their fields. In a `const` item this is a compile-time error,
/// the counterpart of the kernel's build-time `_IOC_TYPECHECK`.
#[allow(non_snake_case)]
pub const fn _IOC(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(dir <= _IOC_DIRMASK, "ioctl direction out of range");
    assert!(
        size <= _IOC_SIZEMASK as usize,
        "ioctl argument size out of range"
    );
    // The fields are disjoint, so adding them is the kernel's OR; `nr` sits at bit 0
    // (`_IOC_NRSHIFT` is 0).
    (dir << _IOC_DIRSHIFT)
        + ((size as u32) << _IOC_SIZESHIFT)
        + ((ty as u32) << _IOC_TYPESHIFT)
        + nr as u32
}

/// C `_IO(type, nr)`: a command without an argument.
#[allow(non_snake_case)]
pub const fn _IO(ty: u8, nr: u8) -> u32 {
    _IOC(_IOC_NONE, ty, nr, 0)
}

/// C `_IOR(type, nr, argtype)`: the kernel copies `size` bytes to user space.
#[allow(non_snake_case)]
pub const fn _IOR(ty: u8, nr: u8, size: usize) -> u32 {
    _IOC(_IOC_READ, ty, nr, size)
}

/// C `_IOW(type, nr, argtype)`: the kernel copies `size` bytes from user space.
#[allow(non_snake_case)]
pub const fn _IOW(ty: u8, nr: u8, size: usize) -> u32 {
    _IOC(_IOC_WRITE, ty, nr, size)
}

/// C `_IOWR(type, nr, argtype)`: data moves in both directions.
#[allow(non_snake_case)]
pub const fn _IOWR(ty: u8, nr: u8, size: usize) -> u32 {
    _IOC(_IOC_READ + _IOC_WRITE, ty, nr, size)
}

/// C `_IOC_DIR(nr)`: the direction bits of a command.
#[allow(non_snake_case)]
pub const fn _IOC_DIR(cmd: u32) -> u32 {
    (cmd >> _IOC_DIRSHIFT) & _IOC_DIRMASK
}

/// C `_IOC_TYPE(nr)`: the type ("magic") of a command.
#[allow(non_snake_case)]
pub const fn _IOC_TYPE(cmd: u32) -> u32 {
    (cmd >> _IOC_TYPESHIFT) & _IOC_TYPEMASK
}

/// C `_IOC_NR(nr)`: the command number within its type.
#[allow(non_snake_case)]
pub const fn _IOC_NR(cmd: u32) -> u32 {
    // `_IOC_NRSHIFT` is 0.
    cmd & _IOC_NRMASK
}

/// C `_IOC_SIZE(nr)`: the argument size encoded in a command.
#[allow(non_snake_case)]
pub const fn _IOC_SIZE(cmd: u32) -> u32 {
    (cmd >> _IOC_SIZESHIFT) & _IOC_SIZEMASK
}

// ---------------------------------------------------------------------------------------------
// User memory emulation
// ---------------------------------------------------------------------------------------------

/// Where the first [`UserMemory`] mapping starts: page aligned, far from 0.
const USER_MEMORY_BASE: u64 = 0x0000_7f00_0000_0000;
/// Mappings are page aligned and separated by at least one unmapped page, so an access that runs
/// off the end of one mapping faults instead of reading the next one.
const USER_PAGE_SIZE: u64 = 4096;

/// The daemon's address space as the kernel sees it through `copy_from_user()` (C `__user`
/// pointers).
///
/// Some ioctl structs carry user pointers (`iscsi_kern_register_info.version`,
/// `iscsi_kern_target_info.attrs_ptr`). The daemon maps the byte slices those pointers refer to
/// with [`UserMemory::map`] and stores the returned fake addresses in the struct; the kernel side
/// reads them back through [`IoctlArg`]. Addresses are non-zero, distinct, page aligned and
/// separated by unmapped guard pages. Mappings are read-only, like the `const` data they model.
#[derive(Debug, Clone)]
pub struct UserMemory<'a> {
    maps: Vec<(u64, &'a [u8])>,
    next: u64,
}

impl Default for UserMemory<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> UserMemory<'a> {
    /// An empty address space: every address faults (C `access_ok()` failing).
    pub fn new() -> Self {
        UserMemory {
            maps: Vec::new(),
            next: USER_MEMORY_BASE,
        }
    }

    /// Maps `data` and returns its user address (the value C stores as `(uintptr_t)ptr`).
    ///
    /// A C string must be mapped together with its terminating NUL, as it lies in C memory.
    pub fn map(&mut self, data: &'a [u8]) -> u64 {
        let addr = self.next;
        let len = data.len() as u64;
        let pages = len.div_ceil(USER_PAGE_SIZE).max(1);
        self.next = addr + (pages + 1) * USER_PAGE_SIZE;
        self.maps.push((addr, data));
        addr
    }

    /// The mapping that contains `addr`, from `addr` to the end of that mapping.
    fn tail(&self, addr: u64) -> Option<&'a [u8]> {
        self.maps.iter().find_map(|&(start, data)| {
            let off = usize::try_from(addr.checked_sub(start)?).ok()?;
            data.get(off..)
                .filter(|_| off < data.len() || data.is_empty())
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The ioctl argument, as seen by the kernel side
// ---------------------------------------------------------------------------------------------

/// The `unsigned long arg` of an `unlocked_ioctl` call: the daemon's argument bytes (what the
/// C argument pointer points to) plus the daemon's [`UserMemory`], if it mapped any.
///
/// The methods carry the kernel names of the accessors a handler uses (`copy_from_user`,
/// `copy_to_user`, `strncpy_from_user`).
#[derive(Debug)]
pub struct IoctlArg<'a> {
    arg: &'a mut [u8],
    mem: Option<&'a UserMemory<'a>>,
}

impl<'a> IoctlArg<'a> {
    /// Wraps the argument bytes of one ioctl call (the C `(void __user *)arg`).
    pub fn new(arg: &'a mut [u8], mem: Option<&'a UserMemory<'a>>) -> Self {
        IoctlArg { arg, mem }
    }

    /// Length of the argument buffer: how many bytes at `arg` the daemon made accessible
    /// (C: the `access_ok()` range of the user pointer).
    pub fn len(&self) -> usize {
        self.arg.len()
    }

    /// Whether the argument buffer is empty (C: a NULL or zero-sized `arg`).
    pub fn is_empty(&self) -> bool {
        self.arg.is_empty()
    }

    /// C `copy_from_user(&val, arg, sizeof(val))`: reads a `T` from the start of the argument.
    ///
    /// `EFAULT` if the argument is shorter than `size_of::<T>()`.
    pub fn copy_from_user<T: FromBytes>(&self) -> Result<T, Errno> {
        T::read_from_prefix(self.arg)
            .map(|(val, _)| val)
            .map_err(|_| Errno::EFAULT)
    }

    /// C `copy_to_user(arg, &val, sizeof(val))`: writes `val` over the start of the argument.
    ///
    /// `EFAULT`, with nothing written, if the argument is shorter than `size_of::<T>()`.
    pub fn copy_to_user<T: IntoBytes + Immutable>(&mut self, val: &T) -> Result<(), Errno> {
        let src = val.as_bytes();
        let dst = self.arg.get_mut(..src.len()).ok_or(Errno::EFAULT)?;
        dst.copy_from_slice(src);
        Ok(())
    }

    /// C `copy_from_user(buf, (void __user *)addr, len)` for a user pointer found inside the
    /// argument struct: `len` bytes at `addr` in the daemon's [`UserMemory`].
    ///
    /// `EFAULT` unless all `len` bytes are mapped; a zero-length copy always succeeds.
    pub fn copy_from_user_addr(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let tail = self.mem.and_then(|m| m.tail(addr)).ok_or(Errno::EFAULT)?;
        tail.get(..len).map(<[u8]>::to_vec).ok_or(Errno::EFAULT)
    }

    /// C `copy_from_user(&val, (void __user *)addr, sizeof(val))`: reads one `T` at a user
    /// address (e.g. one element of an array the struct points to).
    pub fn copy_from_user_ptr<T: FromBytes>(&self, addr: u64) -> Result<T, Errno> {
        let bytes = self.copy_from_user_addr(addr, size_of::<T>())?;
        T::read_from_bytes(&bytes).map_err(|_| Errno::EFAULT)
    }

    /// C `strncpy_from_user(dst, (const char __user *)addr, max)`: the bytes of the C string at
    /// `addr`, without its NUL.
    ///
    /// As in the kernel, at most `max` bytes are read: a string with no NUL among them comes back
    /// as exactly `max` bytes (the caller detects truncation by `len() == max`). `EFAULT` if
    /// `addr` is unmapped or the mapping ends before a NUL or `max` bytes.
    pub fn strncpy_from_user(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let tail = self.mem.and_then(|m| m.tail(addr)).ok_or(Errno::EFAULT)?;
        let window = &tail[..tail.len().min(max)];
        match window.iter().position(|&b| b == 0) {
            Some(nul) => Ok(window[..nul].to_vec()),
            None if window.len() == max => Ok(window.to_vec()),
            None => Err(Errno::EFAULT),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// File operations and the char-device registry
// ---------------------------------------------------------------------------------------------

/// C `struct file_operations`: the driver callbacks of a character device.
///
/// The defaults stand for a NULL entry in the C table: `open` and `release` succeed and do
/// nothing, `unlocked_ioctl` fails with `ENOTTY` as `vfs_ioctl()` does.
pub trait FileOperations: Send + Sync {
    /// C `.open`: called by [`chrdev_open`]; an error (e.g. `EBUSY` for a second opener) is
    /// returned to the opener and no file is created.
    fn open(&self) -> Result<(), Errno> {
        Ok(())
    }

    /// C `.release`: called once when the [`CharDevFile`] is closed or dropped.
    fn release(&self) {}

    /// C `.unlocked_ioctl` (and `.compat_ioctl`): handles one command; `Ok(n)` is the ioctl's
    /// non-negative return value, `Err(e)` becomes `-1` with `errno = e` in C.
    fn unlocked_ioctl(&self, cmd: u32, arg: &mut IoctlArg<'_>) -> Result<i32, Errno> {
        let _ = (cmd, arg);
        Err(Errno::ENOTTY)
    }
}

/// C `CHRDEV_MAJOR_MAX`: majors are below this value.
pub const CHRDEV_MAJOR_MAX: u32 = 512;
/// C `CHRDEV_MAJOR_HASH_SIZE - 1`: where the dynamic major search starts (counting down).
pub const CHRDEV_MAJOR_DYN_START: u32 = 254;
/// C `CHRDEV_MAJOR_DYN_END`: the lowest major of the classic dynamic range.
pub const CHRDEV_MAJOR_DYN_END: u32 = 234;
/// C `CHRDEV_MAJOR_DYN_EXT_START`: where the extended dynamic range starts (counting down).
pub const CHRDEV_MAJOR_DYN_EXT_START: u32 = 511;
/// C `CHRDEV_MAJOR_DYN_EXT_END`: the lowest major of the extended dynamic range.
pub const CHRDEV_MAJOR_DYN_EXT_END: u32 = 384;

/// One registered character device (C `struct char_device_struct` + its `cdev`).
struct ChrDev {
    name: String,
    fops: Arc<dyn FileOperations>,
}

/// C `chrdevs[]` in `fs/char_dev.c`, keyed by major.
struct Registry {
    devs: BTreeMap<u32, ChrDev>,
}

impl Registry {
    const fn new() -> Self {
        Registry {
            devs: BTreeMap::new(),
        }
    }

    /// C `find_dynamic_major()`: the highest free major of 254..=234, then of 511..=384.
    fn find_dynamic_major(&self) -> Result<u32, Errno> {
        (CHRDEV_MAJOR_DYN_END..=CHRDEV_MAJOR_DYN_START)
            .rev()
            .chain((CHRDEV_MAJOR_DYN_EXT_END..=CHRDEV_MAJOR_DYN_EXT_START).rev())
            .find(|m| !self.devs.contains_key(m))
            .ok_or(Errno::EBUSY)
    }

    fn register(
        &mut self,
        major: u32,
        name: &str,
        fops: Arc<dyn FileOperations>,
    ) -> Result<u32, Errno> {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(Errno::EINVAL);
        }
        if major >= CHRDEV_MAJOR_MAX {
            return Err(Errno::EINVAL);
        }
        if self.devs.values().any(|d| d.name == name) {
            return Err(Errno::EBUSY);
        }
        let major = if major == 0 {
            self.find_dynamic_major()?
        } else {
            major
        };
        if self.devs.contains_key(&major) {
            return Err(Errno::EBUSY);
        }
        self.devs.insert(
            major,
            ChrDev {
                name: name.to_owned(),
                fops,
            },
        );
        Ok(major)
    }

    fn unregister(&mut self, major: u32, name: &str) -> bool {
        if self.devs.get(&major).is_some_and(|d| d.name == name) {
            self.devs.remove(&major);
            true
        } else {
            false
        }
    }

    fn lookup(&self, major: u32) -> Option<(String, Arc<dyn FileOperations>)> {
        self.devs
            .get(&major)
            .map(|d| (d.name.clone(), Arc::clone(&d.fops)))
    }

    fn proc_devices(&self) -> String {
        let mut s = String::from("Character devices:\n");
        for (major, dev) in &self.devs {
            s.push_str(&format!("{major:3} {}\n", dev.name));
        }
        s
    }
}

/// The process-wide registry (C `chrdevs[]` under `chrdevs_lock`).
static CHRDEVS: Mutex<Registry> = parking_lot::const_mutex(Registry::new());

/// C `register_chrdev(major, name, fops)`: registers a character device.
///
/// `major == 0` allocates a dynamic major like the kernel: the highest free one of 254..=234,
/// then of 511..=384. Returns the major (for a fixed major too, unlike the kernel's 0).
/// `EBUSY` if the major or the name is taken or no dynamic major is left; `EINVAL` for a major
/// ≥ [`CHRDEV_MAJOR_MAX`] or a name that is empty or contains whitespace.
pub fn register_chrdev(
    major: u32,
    name: &str,
    fops: Arc<dyn FileOperations>,
) -> Result<u32, Errno> {
    CHRDEVS.lock().register(major, name, fops)
}

/// C `unregister_chrdev(major, name)`: removes the device if `major` is registered under `name`.
///
/// Files that are open stay usable until closed (in the kernel the module reference keeps the
/// `file_operations` alive); new opens fail. Returns whether a device was removed (the kernel
/// returns nothing and silently ignores a mismatch).
pub fn unregister_chrdev(major: u32, name: &str) -> bool {
    CHRDEVS.lock().unregister(major, name)
}

/// The "Character devices:" section of C `/proc/devices` (`chrdev_show()`): a header line, then
/// `"%3d %s\n"` per registered device in ascending major order.
pub fn proc_devices() -> String {
    CHRDEVS.lock().proc_devices()
}

// ---------------------------------------------------------------------------------------------
// The daemon side: an open device
// ---------------------------------------------------------------------------------------------

/// An open character device: C `struct file` for `open("/dev/<name>", O_RDWR)`.
///
/// Closing it (with [`CharDevFile::close`] or by dropping it) calls the driver's `release`
/// exactly once.
pub struct CharDevFile {
    major: u32,
    name: String,
    fops: Arc<dyn FileOperations>,
}

impl fmt::Debug for CharDevFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CharDevFile")
            .field("major", &self.major)
            .field("name", &self.name)
            .finish()
    }
}

/// C `open(2)` of a character device node with major `major` (`chrdev_open()` in the kernel).
///
/// `ENODEV` if no driver is registered for `major`; otherwise the driver's `open` decides, and
/// its error (e.g. `EBUSY` for a second opener) is returned.
pub fn chrdev_open(major: u32) -> Result<CharDevFile, Errno> {
    // The registry lock is not held while the driver runs: its open may register devices.
    let (name, fops) = CHRDEVS.lock().lookup(major).ok_or(Errno::ENODEV)?;
    fops.open()?;
    Ok(CharDevFile { major, name, fops })
}

impl CharDevFile {
    /// The major number the file was opened with (C `imajor(file_inode(file))`).
    pub fn major(&self) -> u32 {
        self.major
    }

    /// C `ioctl(fd, cmd, arg)` where `arg` points to `arg`'s bytes and no user pointers are
    /// involved. Returns the handler's non-negative result or its error.
    pub fn ioctl(&self, cmd: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        self.fops.unlocked_ioctl(cmd, &mut IoctlArg::new(arg, None))
    }

    /// C `ioctl(fd, cmd, arg)` where the argument struct holds user pointers into `mem`.
    pub fn ioctl_with_mem(
        &self,
        cmd: u32,
        arg: &mut [u8],
        mem: &UserMemory<'_>,
    ) -> Result<i32, Errno> {
        self.fops
            .unlocked_ioctl(cmd, &mut IoctlArg::new(arg, Some(mem)))
    }

    /// C `ioctl(fd, cmd, &info)` for a `#[repr(C)]` struct: the handler reads and may rewrite
    /// `*arg` in place.
    pub fn ioctl_struct<T>(&self, cmd: u32, arg: &mut T) -> Result<i32, Errno>
    where
        T: IntoBytes + FromBytes + KnownLayout + Immutable,
    {
        self.ioctl(cmd, arg.as_mut_bytes())
    }

    /// C `ioctl(fd, cmd, &info)` for a `#[repr(C)]` struct holding user pointers into `mem`.
    pub fn ioctl_struct_with_mem<T>(
        &self,
        cmd: u32,
        arg: &mut T,
        mem: &UserMemory<'_>,
    ) -> Result<i32, Errno>
    where
        T: IntoBytes + FromBytes + KnownLayout + Immutable,
    {
        self.ioctl_with_mem(cmd, arg.as_mut_bytes(), mem)
    }

    /// C `close(fd)`: releases the file (the driver's `release` runs once).
    pub fn close(self) {}
}

impl Drop for CharDevFile {
    fn drop(&mut self) {
        self.fops.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Command numbers of the test driver (type `'t'`).
    const T_ADD_ONE: u32 = _IOWR(b't', 1, 8);
    const T_READ_VERSION: u32 = _IOW(b't', 2, 16);

    /// A driver that counts its calls and, like iscsi-scst's control device, admits one opener.
    #[derive(Default)]
    struct CountingFops {
        opens: AtomicUsize,
        releases: AtomicUsize,
        ioctls: AtomicUsize,
        is_open: AtomicBool,
    }

    impl FileOperations for CountingFops {
        fn open(&self) -> Result<(), Errno> {
            self.opens.fetch_add(1, Ordering::SeqCst);
            if self.is_open.swap(true, Ordering::SeqCst) {
                return Err(Errno::EBUSY);
            }
            Ok(())
        }

        fn release(&self) {
            self.releases.fetch_add(1, Ordering::SeqCst);
            self.is_open.store(false, Ordering::SeqCst);
        }

        fn unlocked_ioctl(&self, cmd: u32, arg: &mut IoctlArg<'_>) -> Result<i32, Errno> {
            self.ioctls.fetch_add(1, Ordering::SeqCst);
            match cmd {
                T_ADD_ONE => {
                    let v: u64 = arg.copy_from_user()?;
                    arg.copy_to_user(&(v + 1))?;
                    Ok(7)
                }
                T_READ_VERSION => {
                    let ptrs: [u64; 2] = arg.copy_from_user()?;
                    let s = arg.strncpy_from_user(ptrs[0], 64)?;
                    i32::try_from(s.len()).map_err(|_| Errno::EINVAL)
                }
                _ => Err(Errno::EINVAL),
            }
        }
    }

    /// A driver that keeps every default of [`FileOperations`].
    struct NullFops;
    impl FileOperations for NullFops {}

    fn registry_with(majors: &[u32]) -> Registry {
        let mut r = Registry::new();
        for &m in majors {
            r.register(m, &format!("dev{m}"), Arc::new(NullFops))
                .unwrap();
        }
        r
    }

    #[test]
    fn ioc_encodings_match_linux() {
        assert_eq!(_IOWR(b's', 0, 8), 0xc008_7300);
        assert_eq!(_IOW(b's', 1, 280), 0x4118_7301);
        assert_eq!(_IOW(b's', 3, 976), 0x43d0_7303);
        assert_eq!(_IOWR(b's', 8, 152), 0xc098_7308);
        // Values of well-known Linux ioctls (linux/fs.h).
        assert_eq!(_IO(0x12, 96), 0x0000_1260); // BLKGETSIZE
        assert_eq!(_IO(0x12, 97), 0x0000_1261); // BLKFLSBUF
        assert_eq!(_IOR(0x12, 114, 8), 0x8008_1272); // BLKGETSIZE64
        assert_eq!(_IOW(b'f', 2, 8), 0x4008_6602); // FS_IOC_SETFLAGS
        assert_eq!(_IOC(_IOC_NONE, 0, 0, 0), 0);
        assert_eq!(_IOC(3, 0xff, 0xff, 0x3fff), 0xffff_ffff);
    }

    #[test]
    fn ioc_field_constants() {
        assert_eq!(
            (_IOC_NRSHIFT, _IOC_TYPESHIFT, _IOC_SIZESHIFT, _IOC_DIRSHIFT),
            (0, 8, 16, 30)
        );
        assert_eq!(
            (_IOC_NRMASK, _IOC_TYPEMASK, _IOC_SIZEMASK, _IOC_DIRMASK),
            (0xff, 0xff, 0x3fff, 3)
        );
        assert_eq!((_IOC_NONE, _IOC_WRITE, _IOC_READ), (0, 1, 2));
    }

    #[test]
    fn ioc_decoding() {
        let cmd = 0x43d0_7303;
        assert_eq!(_IOC_DIR(cmd), _IOC_WRITE);
        assert_eq!(_IOC_TYPE(cmd), u32::from(b's'));
        assert_eq!(_IOC_NR(cmd), 3);
        assert_eq!(_IOC_SIZE(cmd), 976);
        let cmd = _IOWR(0xa5, 0x5a, 0x2c3c);
        assert_eq!(cmd, 0xec3c_a55a);
        assert_eq!(_IOC_DIR(cmd), 3);
        assert_eq!(_IOC_TYPE(cmd), 0xa5);
        assert_eq!(_IOC_NR(cmd), 0x5a);
        assert_eq!(_IOC_SIZE(cmd), 0x2c3c);
        assert_eq!(_IOC_DIR(_IOR(1, 2, 3)), _IOC_READ);
        assert_eq!(_IOC_DIR(_IO(1, 2)), _IOC_NONE);
        assert_eq!(_IOC_SIZE(0xffff_ffff), 0x3fff);
        assert_eq!(_IOC_NR(0xffff_ffff), 0xff);
        assert_eq!(_IOC_TYPE(0xffff_ffff), 0xff);
        assert_eq!(_IOC_DIR(0xffff_ffff), 3);
    }

    #[test]
    #[should_panic(expected = "ioctl argument size out of range")]
    fn ioc_size_too_large_panics() {
        let size = std::hint::black_box(0x4000);
        let _ = _IOW(b's', 0, size);
    }

    #[test]
    #[should_panic(expected = "ioctl direction out of range")]
    fn ioc_dir_too_large_panics() {
        let dir = std::hint::black_box(4);
        let _ = _IOC(dir, b's', 0, 0);
    }

    #[test]
    fn dynamic_majors_count_down_from_254_then_511() {
        let mut r = Registry::new();
        assert_eq!(r.register(0, "a", Arc::new(NullFops)), Ok(254));
        assert_eq!(r.register(0, "b", Arc::new(NullFops)), Ok(253));
        // A fixed major inside the range is skipped by the search.
        assert_eq!(r.register(252, "c", Arc::new(NullFops)), Ok(252));
        assert_eq!(r.register(0, "d", Arc::new(NullFops)), Ok(251));
        // A freed major is reused first.
        assert!(r.unregister(253, "b"));
        assert_eq!(r.register(0, "e", Arc::new(NullFops)), Ok(253));

        let full: Vec<u32> = (CHRDEV_MAJOR_DYN_END..=CHRDEV_MAJOR_DYN_START).collect();
        let mut r = registry_with(&full);
        assert_eq!(r.find_dynamic_major(), Ok(511));
        r.register(511, "x", Arc::new(NullFops)).unwrap();
        assert_eq!(r.find_dynamic_major(), Ok(510));

        let all: Vec<u32> = full.into_iter().chain(384..=511).collect();
        let mut r = registry_with(&all);
        assert_eq!(r.find_dynamic_major(), Err(Errno::EBUSY));
        assert_eq!(r.register(0, "y", Arc::new(NullFops)), Err(Errno::EBUSY));
        // Outside both dynamic ranges nothing is handed out.
        assert!(!r.devs.contains_key(&233));
        assert!(!r.devs.contains_key(&383));
        assert_eq!(r.devs.len(), 21 + 128);
    }

    #[test]
    fn registry_rejects_clashes_and_bad_arguments() {
        let mut r = Registry::new();
        assert_eq!(r.register(10, "ten", Arc::new(NullFops)), Ok(10));
        assert_eq!(
            r.register(10, "other", Arc::new(NullFops)),
            Err(Errno::EBUSY)
        );
        assert_eq!(r.register(11, "ten", Arc::new(NullFops)), Err(Errno::EBUSY));
        assert_eq!(r.register(0, "ten", Arc::new(NullFops)), Err(Errno::EBUSY));
        assert_eq!(
            r.register(512, "big", Arc::new(NullFops)),
            Err(Errno::EINVAL)
        );
        assert_eq!(r.register(511, "max", Arc::new(NullFops)), Ok(511));
        assert_eq!(r.register(12, "", Arc::new(NullFops)), Err(Errno::EINVAL));
        assert_eq!(
            r.register(12, "a b", Arc::new(NullFops)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            r.register(12, "a\n", Arc::new(NullFops)),
            Err(Errno::EINVAL)
        );
        // Unregistering needs both the major and the name.
        assert!(!r.unregister(10, "other"));
        assert!(!r.unregister(13, "ten"));
        assert!(r.unregister(10, "ten"));
        assert!(!r.unregister(10, "ten"));
        assert!(r.lookup(10).is_none());
        assert_eq!(r.lookup(511).map(|(n, _)| n).as_deref(), Some("max"));
    }

    #[test]
    fn registry_proc_devices_text() {
        let mut r = Registry::new();
        assert_eq!(r.proc_devices(), "Character devices:\n");
        r.register(7, "seven", Arc::new(NullFops)).unwrap();
        r.register(254, "iscsi-scst-ctl", Arc::new(NullFops))
            .unwrap();
        r.register(1000 % 512, "big", Arc::new(NullFops)).unwrap();
        assert_eq!(
            r.proc_devices(),
            "Character devices:\n  7 seven\n254 iscsi-scst-ctl\n488 big\n"
        );
    }

    #[test]
    fn global_register_unregister_and_proc_devices() {
        let a = register_chrdev(0, "kemu-test-glob-a", Arc::new(NullFops)).unwrap();
        let b = register_chrdev(0, "kemu-test-glob-b", Arc::new(NullFops)).unwrap();
        assert_ne!(a, b);
        for m in [a, b] {
            assert!((CHRDEV_MAJOR_DYN_END..=CHRDEV_MAJOR_DYN_START).contains(&m));
        }
        assert_eq!(
            register_chrdev(0, "kemu-test-glob-a", Arc::new(NullFops)),
            Err(Errno::EBUSY)
        );
        assert_eq!(
            register_chrdev(a, "kemu-test-glob-c", Arc::new(NullFops)),
            Err(Errno::EBUSY)
        );
        let text = proc_devices();
        assert!(text.starts_with("Character devices:\n"));
        assert!(text.contains(&format!("\n{a:3} kemu-test-glob-a\n")));
        assert!(text.contains(&format!("\n{b:3} kemu-test-glob-b\n")));

        assert!(!unregister_chrdev(a, "kemu-test-glob-b")); // wrong name: no effect
        assert!(proc_devices().contains("kemu-test-glob-a"));
        assert!(unregister_chrdev(a, "kemu-test-glob-a"));
        assert!(unregister_chrdev(b, "kemu-test-glob-b"));
        assert!(!unregister_chrdev(b, "kemu-test-glob-b"));
        let text = proc_devices();
        assert!(!text.contains("kemu-test-glob-a"));
        assert!(!text.contains("kemu-test-glob-b"));
    }

    #[test]
    fn fixed_major_register_open_unregister() {
        // 300 lies outside both dynamic ranges, so no parallel test can be handed it.
        assert_eq!(
            register_chrdev(300, "kemu-test-fixed", Arc::new(NullFops)),
            Ok(300)
        );
        assert!(proc_devices().contains("\n300 kemu-test-fixed\n"));
        chrdev_open(300).unwrap().close();
        unregister_chrdev(300, "kemu-test-fixed");
        assert!(!proc_devices().contains("kemu-test-fixed"));
        assert_eq!(chrdev_open(300).map(|_| ()), Err(Errno::ENODEV));
    }

    #[test]
    fn open_ioctl_release_counts() {
        let fops = Arc::new(CountingFops::default());
        let major = register_chrdev(0, "kemu-test-counts", fops.clone()).unwrap();
        let file = chrdev_open(major).unwrap();
        assert_eq!(file.major(), major);
        assert_eq!(fops.opens.load(Ordering::SeqCst), 1);
        assert_eq!(fops.releases.load(Ordering::SeqCst), 0);

        let mut v: u64 = 41;
        assert_eq!(file.ioctl_struct(T_ADD_ONE, &mut v), Ok(7));
        assert_eq!(v, 42);
        let mut raw = 100u64.to_ne_bytes();
        assert_eq!(file.ioctl(T_ADD_ONE, &mut raw), Ok(7));
        assert_eq!(u64::from_ne_bytes(raw), 101);
        assert_eq!(file.ioctl(0x1234, &mut raw), Err(Errno::EINVAL));
        assert_eq!(fops.ioctls.load(Ordering::SeqCst), 3);
        assert_eq!(
            format!("{file:?}"),
            format!("CharDevFile {{ major: {major}, name: \"kemu-test-counts\" }}")
        );

        file.close();
        assert_eq!(fops.releases.load(Ordering::SeqCst), 1);

        // Dropping releases too, exactly once.
        let file = chrdev_open(major).unwrap();
        drop(file);
        assert_eq!(fops.opens.load(Ordering::SeqCst), 2);
        assert_eq!(fops.releases.load(Ordering::SeqCst), 2);
        unregister_chrdev(major, "kemu-test-counts");
    }

    #[test]
    fn second_opener_gets_ebusy() {
        let fops = Arc::new(CountingFops::default());
        let major = register_chrdev(0, "kemu-test-ebusy", fops.clone()).unwrap();
        let first = chrdev_open(major).unwrap();
        assert_eq!(chrdev_open(major).map(|_| ()), Err(Errno::EBUSY));
        assert_eq!(fops.opens.load(Ordering::SeqCst), 2);
        // A refused open creates no file, so nothing is released for it.
        assert_eq!(fops.releases.load(Ordering::SeqCst), 0);
        drop(first);
        assert_eq!(fops.releases.load(Ordering::SeqCst), 1);
        let again = chrdev_open(major).unwrap();
        drop(again);
        assert_eq!(fops.releases.load(Ordering::SeqCst), 2);
        unregister_chrdev(major, "kemu-test-ebusy");
    }

    #[test]
    fn open_file_survives_unregister() {
        let fops = Arc::new(CountingFops::default());
        let major = register_chrdev(0, "kemu-test-survive", fops.clone()).unwrap();
        let file = chrdev_open(major).unwrap();
        unregister_chrdev(major, "kemu-test-survive");
        let mut v: u64 = 1;
        assert_eq!(file.ioctl_struct(T_ADD_ONE, &mut v), Ok(7));
        assert_eq!(v, 2);
        drop(file);
        assert_eq!(fops.releases.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn unregistered_major_is_enodev() {
        // 233 is never handed out dynamically and no test registers it.
        assert_eq!(chrdev_open(233).map(|_| ()), Err(Errno::ENODEV));
    }

    #[test]
    fn default_file_operations() {
        let major = register_chrdev(0, "kemu-test-null", Arc::new(NullFops)).unwrap();
        let file = chrdev_open(major).unwrap();
        let mut v = 0u64;
        assert_eq!(file.ioctl_struct(T_ADD_ONE, &mut v), Err(Errno::ENOTTY));
        file.close();
        unregister_chrdev(major, "kemu-test-null");
    }

    #[test]
    fn copy_from_user_short_buffer_is_efault() {
        let mut buf = [1u8, 2, 3, 4, 5, 6, 7];
        let arg = IoctlArg::new(&mut buf, None);
        assert_eq!(arg.len(), 7);
        assert!(!arg.is_empty());
        assert_eq!(arg.copy_from_user::<u64>(), Err(Errno::EFAULT));
        assert_eq!(
            arg.copy_from_user::<u32>(),
            Ok(u32::from_ne_bytes([1, 2, 3, 4]))
        );
        let mut empty = [0u8; 0];
        let arg = IoctlArg::new(&mut empty, None);
        assert!(arg.is_empty());
        assert_eq!(arg.copy_from_user::<u8>(), Err(Errno::EFAULT));
    }

    #[test]
    fn copy_from_user_via_ioctl_short_buffer_is_efault() {
        let major =
            register_chrdev(0, "kemu-test-short", Arc::new(CountingFops::default())).unwrap();
        let file = chrdev_open(major).unwrap();
        let mut short = [0u8; 4];
        assert_eq!(file.ioctl(T_ADD_ONE, &mut short), Err(Errno::EFAULT));
        assert_eq!(short, [0; 4]);
        drop(file);
        unregister_chrdev(major, "kemu-test-short");
    }

    #[test]
    fn copy_to_user_writes_back() {
        let mut buf = [0xaau8; 10];
        let mut arg = IoctlArg::new(&mut buf, None);
        assert_eq!(arg.copy_to_user(&0x0102_0304u32), Ok(()));
        assert_eq!(arg.copy_to_user(&[0u8; 11]), Err(Errno::EFAULT));
        let mut expected = [0xaau8; 10];
        expected[..4].copy_from_slice(&0x0102_0304u32.to_ne_bytes());
        assert_eq!(buf, expected);
        let mut buf = [0u8; 2];
        let mut arg = IoctlArg::new(&mut buf, None);
        assert_eq!(arg.copy_to_user(&0xffff_ffffu32), Err(Errno::EFAULT));
        assert_eq!(buf, [0, 0]);
    }

    #[test]
    fn user_memory_addresses() {
        let a = [1u8; 5000];
        let b = [2u8; 1];
        let c: [u8; 0] = [];
        let mut mem = UserMemory::default();
        let pa = mem.map(&a);
        let pb = mem.map(&b);
        let pc = mem.map(&c);
        let pd = mem.map(&b);
        assert_eq!(pa, USER_MEMORY_BASE);
        assert_eq!(pb, USER_MEMORY_BASE + 3 * 4096);
        assert_eq!(pc, USER_MEMORY_BASE + 5 * 4096);
        assert_eq!(pd, USER_MEMORY_BASE + 7 * 4096);
        assert_eq!(pa % 4096, 0);
        assert_eq!(mem.tail(pa).map(<[u8]>::len), Some(5000));
        assert_eq!(mem.tail(pa + 4999).map(<[u8]>::len), Some(1));
        assert_eq!(mem.tail(pa + 5000), None);
        assert_eq!(mem.tail(pa - 1), None);
        assert_eq!(mem.tail(pb), Some(&b[..]));
        assert_eq!(mem.tail(pb + 1), None);
        assert_eq!(mem.tail(pc), Some(&c[..]));
        assert_eq!(mem.tail(pc + 1), None);
        assert_eq!(mem.tail(0), None);
        assert_eq!(UserMemory::new().tail(USER_MEMORY_BASE), None);
    }

    #[test]
    fn copy_from_user_addr_bounds() {
        let data = *b"0123456789";
        let mut mem = UserMemory::new();
        let p = mem.map(&data);
        let mut buf = [0u8; 0];
        let arg = IoctlArg::new(&mut buf, Some(&mem));
        assert_eq!(arg.copy_from_user_addr(p, 10), Ok(b"0123456789".to_vec()));
        assert_eq!(arg.copy_from_user_addr(p + 3, 7), Ok(b"3456789".to_vec()));
        assert_eq!(arg.copy_from_user_addr(p + 3, 8), Err(Errno::EFAULT));
        assert_eq!(arg.copy_from_user_addr(p + 10, 1), Err(Errno::EFAULT));
        assert_eq!(arg.copy_from_user_addr(0, 1), Err(Errno::EFAULT));
        assert_eq!(arg.copy_from_user_addr(0, 0), Ok(Vec::new()));
        assert_eq!(
            arg.copy_from_user_ptr::<u32>(p + 2),
            Ok(u32::from_ne_bytes(*b"2345"))
        );
        assert_eq!(arg.copy_from_user_ptr::<u64>(p + 4), Err(Errno::EFAULT));
        // Without any user memory every non-empty access faults.
        let arg = IoctlArg::new(&mut buf, None);
        assert_eq!(arg.copy_from_user_addr(p, 1), Err(Errno::EFAULT));
        assert_eq!(arg.strncpy_from_user(p, 1), Err(Errno::EFAULT));
    }

    #[test]
    fn strncpy_from_user_semantics() {
        let with_nul = b"abc\0def\0";
        let without_nul = b"xyz";
        let mut mem = UserMemory::new();
        let p1 = mem.map(with_nul);
        let p2 = mem.map(without_nul);
        let mut buf = [0u8; 0];
        let arg = IoctlArg::new(&mut buf, Some(&mem));
        assert_eq!(arg.strncpy_from_user(p1, 64), Ok(b"abc".to_vec()));
        assert_eq!(arg.strncpy_from_user(p1 + 4, 64), Ok(b"def".to_vec()));
        assert_eq!(arg.strncpy_from_user(p1 + 3, 64), Ok(Vec::new()));
        // Limit reached before the NUL: exactly `max` bytes, like the kernel.
        assert_eq!(arg.strncpy_from_user(p1, 2), Ok(b"ab".to_vec()));
        assert_eq!(arg.strncpy_from_user(p1, 3), Ok(b"abc".to_vec()));
        assert_eq!(arg.strncpy_from_user(p1, 4), Ok(b"abc".to_vec()));
        assert_eq!(arg.strncpy_from_user(p1, 0), Ok(Vec::new()));
        assert_eq!(arg.strncpy_from_user(0, 0), Ok(Vec::new()));
        // No NUL: fine within the limit, a fault when the mapping ends first.
        assert_eq!(arg.strncpy_from_user(p2, 3), Ok(b"xyz".to_vec()));
        assert_eq!(arg.strncpy_from_user(p2, 2), Ok(b"xy".to_vec()));
        assert_eq!(arg.strncpy_from_user(p2, 4), Err(Errno::EFAULT));
        // Unmapped.
        assert_eq!(arg.strncpy_from_user(0, 4), Err(Errno::EFAULT));
        assert_eq!(arg.strncpy_from_user(p2 + 3, 4), Err(Errno::EFAULT));
        assert_eq!(arg.strncpy_from_user(p2 + 4096, 4), Err(Errno::EFAULT));
    }

    #[test]
    fn ioctl_with_user_memory() {
        let fops = Arc::new(CountingFops::default());
        let major = register_chrdev(0, "kemu-test-usermem", fops.clone()).unwrap();
        let file = chrdev_open(major).unwrap();
        let version = b"1.2.3-test\0";
        let mut mem = UserMemory::new();
        let mut ptrs = [mem.map(version), 0u64];
        assert_eq!(
            file.ioctl_struct_with_mem(T_READ_VERSION, &mut ptrs, &mem),
            Ok(10)
        );
        let mut raw = [0u8; 16];
        raw[..8].copy_from_slice(&ptrs[0].to_ne_bytes());
        assert_eq!(file.ioctl_with_mem(T_READ_VERSION, &mut raw, &mem), Ok(10));
        // Without the memory the pointer is dangling.
        assert_eq!(
            file.ioctl_struct(T_READ_VERSION, &mut ptrs),
            Err(Errno::EFAULT)
        );
        assert_eq!(fops.ioctls.load(Ordering::SeqCst), 3);
        drop(file);
        unregister_chrdev(major, "kemu-test-usermem");
    }
}
