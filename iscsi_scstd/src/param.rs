// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2005 FUJITA Tomonori <tomof@acm.org>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The iSCSI keys the daemon knows and how each is converted, checked and negotiated: the port
//! of `iscsi-scst/usr/param.c` and `param.h`.
//!
//! Three tables describe the keys: [`session_keys`] (the RFC 3720 login keys, plus the iSER
//! ones, indexed by the session key indices of [`iscsi_scst::abi`]), [`target_keys`] (the
//! per-target settings QueuedCommands … MaxSessions, indexed by the target key indices) and
//! [`user_keys`] (IncomingUser, OutgoingUser; C defines that table in `config.c`). Each key has an
//! RFC default, the target's local default, a range and a set of operations ([`IscsiKeyOps`]),
//! one of six kinds as in C:
//!
//! | ops | text form | range check | negotiated result |
//! |---|---|---|---|
//! | `minimum` | decimal (`strtol` base 0 when parsing) | clamp to `min..=max` | the smaller value |
//! | `maximum` | same | same | the larger value |
//! | `or` | `Yes`/`No` | none | logical or |
//! | `and` | `Yes`/`No` | none | logical and |
//! | `digest` | `None`, `CRC32C`, lists like `CRC32C,None` | none | CRC32C when both sides allow it, else None |
//! | `marker` | `Irrelevant`/`Reject` (no parser) | none | `Irrelevant` once the marker key is done, else `Reject` |
//!
//! Values are C `unsigned int`s (`u32`); "no upper limit" is C's `-1` in that unsigned field,
//! `u32::MAX`. The daemon's start-up (`init_max_params()` in `iscsi_scstd.c`) and iSER detection
//! change some limits of the tables; in C they are mutable globals, here the statics are the
//! initial tables and the daemon keeps its working copy (`IscsiKey` is `Copy`). Every `params_*`
//! function takes the table as a slice for that reason.
//!
//! Differences from C, all in cases C does not handle: C dereferences a key's `ops` without a
//! NULL check, so calling `params_val_to_str()` and friends on [`user_keys`] would crash; here a
//! key without ops behaves like a key whose op is missing (nothing done, success). An index
//! outside the table (C reads past the array) gives `EINVAL`. A C string ends at its first NUL;
//! the `&str` arguments here are taken whole.
#![doc(alias = "param.c")]
#![doc(alias = "param.h")]
// The tables and the op tables keep their lowercase C names.
#![allow(non_upper_case_globals)]

use iscsi_scst::abi::{self, session_key_last, target_key_last};
use kemu::Errno;

// ---------------------------------------------------------------------------------------------
// param.h
// ---------------------------------------------------------------------------------------------

/// C `ISCSI_ISNS_SERVER_ATTR_NAME`: the iSNS server attribute / config keyword.
pub const ISCSI_ISNS_SERVER_ATTR_NAME: &str = "iSNSServer";
/// C `ISCSI_ISNS_ACCESS_CONTROL_ATTR_NAME`: the iSNS access control config keyword.
pub const ISCSI_ISNS_ACCESS_CONTROL_ATTR_NAME: &str = "iSNSAccessControl";
/// C `ISCSI_ENABLED_ATTR_NAME`: the global and per-target `enabled` attribute.
pub const ISCSI_ENABLED_ATTR_NAME: &str = "enabled";
/// C `ISCSI_ISNS_ENTITY_ATTR_NAME`: the iSNS entity name attribute.
pub const ISCSI_ISNS_ENTITY_ATTR_NAME: &str = "isns_entity_name";
/// C `ISCSI_ALLOWED_PORTAL_ATTR_NAME`: the per-target allowed portal patterns.
pub const ISCSI_ALLOWED_PORTAL_ATTR_NAME: &str = "allowed_portal";
/// C `ISCSI_PER_PORTAL_ACL_ATTR_NAME`: the per-target switch for `initiator#portal` ACL names.
pub const ISCSI_PER_PORTAL_ACL_ATTR_NAME: &str = "per_portal_acl";
/// C `ISCSI_TARGET_REDIRECTION_ATTR_NAME`: the per-target login redirection.
pub const ISCSI_TARGET_REDIRECTION_ATTR_NAME: &str = "redirect";
/// C `ISCSI_TARGET_REDIRECTION_VALUE_TEMP`: redirect type "temporary" (status 0x0101).
pub const ISCSI_TARGET_REDIRECTION_VALUE_TEMP: &str = "temp";
/// C `ISCSI_TARGET_REDIRECTION_VALUE_PERM`: redirect type "permanent" (status 0x0102).
pub const ISCSI_TARGET_REDIRECTION_VALUE_PERM: &str = "perm";

/// C `KEY_STATE_START` (`iscsid.h`): the key has not been seen in this login yet.
pub const KEY_STATE_START: i32 = 0;
/// C `KEY_STATE_REQUEST` (`iscsid.h`): the target has offered its value and waits for the
/// initiator's answer.
pub const KEY_STATE_REQUEST: i32 = 1;
/// C `KEY_STATE_DONE_ADDED` (`iscsid.h`): the initiator offered the key and the target's answer
/// has been added to the response.
pub const KEY_STATE_DONE_ADDED: i32 = 2;
/// C `KEY_STATE_DONE` (`iscsid.h`): negotiation of the key is complete.
pub const KEY_STATE_DONE: i32 = 3;

/// C `struct iscsi_param`: one key's negotiation state in a connection.
#[doc(alias = "iscsi_param")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IscsiParam {
    /// [`KEY_STATE_START`] … [`KEY_STATE_DONE`].
    pub key_state: i32,
    /// The current value (starts as the target's value, ends as the negotiated one).
    pub val: u32,
}

/// C `iscsi_key_ops.val_to_str`: value → text. C writes into a `char` buffer of a given
/// length and truncates there (like `snprintf`/`strlcpy`); the port returns the whole text.
pub type ValToStrFn = fn(u32) -> Result<String, Errno>;
/// C `iscsi_key_ops.str_to_val`: text → value. On error `val` may or may not have been
/// written (see each op).
pub type StrToValFn = fn(&str, &mut u32) -> Result<(), Errno>;
/// C `iscsi_key_ops.check_val`: range check of a value for a key; on error the value has been
/// clamped into the range.
pub type CheckValFn = fn(&IscsiKey, &mut u32) -> Result<(), Errno>;
/// C `iscsi_key_ops.set_val`: negotiation; combines the offered value with `param[idx].val`
/// and stores the result in both.
pub type SetValFn = fn(&mut [IscsiParam], usize, &mut u32) -> Result<(), Errno>;

/// C `struct iscsi_key_ops`: the operations of one kind of key; a missing operation is
/// skipped by the `params_*` dispatchers, which then report success.
#[doc(alias = "iscsi_key_ops")]
#[derive(Clone, Copy, Debug)]
pub struct IscsiKeyOps {
    /// Value → text.
    pub val_to_str: Option<ValToStrFn>,
    /// Text → value.
    pub str_to_val: Option<StrToValFn>,
    /// Range check.
    pub check_val: Option<CheckValFn>,
    /// Negotiation.
    pub set_val: Option<SetValFn>,
}

/// C `struct iscsi_key`: one key of a table.
#[doc(alias = "iscsi_key")]
#[derive(Clone, Copy, Debug)]
pub struct IscsiKey {
    /// The key name as it appears in text PDUs and config files.
    pub name: &'static str,
    /// The value RFC 3720 defines when the key is not negotiated.
    pub rfc_def: u32,
    /// The target's own default.
    pub local_def: u32,
    /// Smallest accepted value (checked by `minimum`/`maximum` keys only).
    pub min: u32,
    /// Largest accepted value; `u32::MAX` (C `-1`) for no limit.
    pub max: u32,
    /// Whether the key is a target attribute in sysfs (C `int`, used as a flag).
    pub show_in_sysfs: bool,
    /// The key's operations; `None` for the name-only tables (C: a NULL `ops`).
    pub ops: Option<&'static IscsiKeyOps>,
}

// ---------------------------------------------------------------------------------------------
// param.c
// ---------------------------------------------------------------------------------------------

/// C `DIGEST_NONE` as the unsigned key value.
const DIGEST_NONE: u32 = abi::DIGEST_NONE as u32;
/// C `DIGEST_CRC32C` as the unsigned key value.
const DIGEST_CRC32C: u32 = abi::DIGEST_CRC32C as u32;
/// C `DIGEST_ALL` as the unsigned key value.
const DIGEST_ALL: u32 = abi::DIGEST_ALL as u32;
/// C `-1` stored in an unsigned limit: no limit.
const NO_LIMIT: u32 = u32::MAX;

/// C: param.c params_index_by_name(): the index of the key called `name`, compared without
/// regard to ASCII case (C `strcasecmp`); `ENOENT` if there is none.
pub fn params_index_by_name(name: &str, keys: &[IscsiKey]) -> Result<usize, Errno> {
    keys.iter()
        .position(|k| k.name.eq_ignore_ascii_case(name))
        .ok_or(Errno::ENOENT)
}

/// C: param.c params_index_by_name_numwild(): like [`params_index_by_name`], but the name may
/// carry a decimal suffix (`IncomingUser3` finds `IncomingUser`); anything else after the key
/// name means no match.
pub fn params_index_by_name_numwild(name: &str, keys: &[IscsiKey]) -> Result<usize, Errno> {
    let name = name.as_bytes();
    keys.iter()
        .position(|k| {
            let kn = k.name.as_bytes();
            name.len() >= kn.len()
                && name[..kn.len()].eq_ignore_ascii_case(kn)
                && name[kn.len()..].iter().all(u8::is_ascii_digit)
        })
        .ok_or(Errno::ENOENT)
}

/// C: param.c params_set_defaults(): each key's `local_def` into the value at the same index
/// (C writes as many values as the table has keys; here at most `params.len()`).
pub fn params_set_defaults(params: &mut [u32], keys: &[IscsiKey]) {
    for (p, k) in params.iter_mut().zip(keys) {
        *p = k.local_def;
    }
}

/// C: param.c range_val_to_str(): the number in decimal.
fn range_val_to_str(val: u32) -> Result<String, Errno> {
    Ok(val.to_string())
}

/// The C locale's `isspace()`: space, `\t`, `\n`, `\v`, `\f`, `\r` (Rust's
/// `u8::is_ascii_whitespace` leaves out `\v`).
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C library `strtol()` without an end pointer (glibc, C locale) on a 64-bit `long`: leading
/// white space is skipped, then an optional `+`/`-`, then digits of `base`, as many as there
/// are. Base 0 chooses 16 after a `0x`/`0X` prefix, 8 after a leading `0`, else 10; base 16
/// also accepts the prefix. No digits gives 0, as does a base outside 2..=36. A magnitude that
/// does not fit gives `i64::MAX` (or `i64::MIN` when negative), C's `LONG_MAX`/`LONG_MIN` with
/// `ERANGE`.
pub fn strtol(nptr: &str, base: u32) -> i64 {
    let b = nptr.as_bytes();
    if base == 1 || base > 36 {
        return 0;
    }
    let mut i = 0;
    while b.get(i).copied().is_some_and(is_c_space) {
        i += 1;
    }
    let neg = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let has_hex_prefix = b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x' | b'X'));
    let base = match base {
        0 if has_hex_prefix => 16,
        0 if b.get(i) == Some(&b'0') => 8,
        0 => 10,
        b => b,
    };
    if base == 16 && has_hex_prefix {
        // "0x" with no hex digit after it parses as the "0" alone; the value is 0 either way.
        i += 2;
    }
    // The magnitude may reach 2^63 for a negative number (LONG_MIN).
    let limit: u64 = if neg {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX.unsigned_abs()
    };
    let mut acc: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).and_then(|&c| char::from(c).to_digit(base)) {
        match acc
            .checked_mul(u64::from(base))
            .and_then(|a| a.checked_add(u64::from(d)))
        {
            Some(a) if a <= limit => acc = a,
            _ => overflow = true,
        }
        i += 1;
    }
    if overflow {
        return if neg { i64::MIN } else { i64::MAX };
    }
    if neg {
        i64::try_from(acc).map_or(i64::MIN, |v| -v)
    } else {
        i64::try_from(acc).unwrap_or(i64::MAX)
    }
}

/// C: param.c range_str_to_val(): [`strtol`] with base 0, stored into the unsigned value, so
/// `0x10` is 16, `010` is 8, `junk` is 0, `12abc` is 12, `-1` is 0xffffffff and a number
/// beyond 32 bits keeps its low 32 bits (`LONG_MAX` from an overflow becomes 0xffffffff,
/// `LONG_MIN` becomes 0). It never fails.
fn range_str_to_val(str: &str, val: &mut u32) -> Result<(), Errno> {
    // Truncation to the low 32 bits is the C conversion from `long` to `unsigned int`.
    *val = strtol(str, 0) as u32;
    Ok(())
}

/// C: param.c bool_val_to_str(): 0 → `No`, 1 → `Yes`, anything else `EINVAL`.
fn bool_val_to_str(val: u32) -> Result<String, Errno> {
    match val {
        0 => Ok("No".to_owned()),
        1 => Ok("Yes".to_owned()),
        _ => Err(Errno::EINVAL),
    }
}

/// C: param.c bool_str_to_val(): exactly `Yes` → 1 or `No` → 0 (case matters); anything else
/// is `EINVAL` and leaves `val` unchanged.
fn bool_str_to_val(str: &str, val: &mut u32) -> Result<(), Errno> {
    match str {
        "Yes" => *val = 1,
        "No" => *val = 0,
        _ => return Err(Errno::EINVAL),
    }
    Ok(())
}

/// C: param.c or_set_val(): the offer ORed with the current value.
fn or_set_val(param: &mut [IscsiParam], idx: usize, val: &mut u32) -> Result<(), Errno> {
    let p = param.get_mut(idx).ok_or(Errno::EINVAL)?;
    *val |= p.val;
    p.val = *val;
    Ok(())
}

/// C: param.c and_set_val(): the offer ANDed with the current value.
fn and_set_val(param: &mut [IscsiParam], idx: usize, val: &mut u32) -> Result<(), Errno> {
    let p = param.get_mut(idx).ok_or(Errno::EINVAL)?;
    *val &= p.val;
    p.val = *val;
    Ok(())
}

/// C: param.c num_check_val(): a value below `min` becomes `min`, above `max` becomes `max`,
/// and both are `EINVAL` (with `val` already clamped).
fn num_check_val(key: &IscsiKey, val: &mut u32) -> Result<(), Errno> {
    if *val < key.min {
        *val = key.min;
        Err(Errno::EINVAL)
    } else if *val > key.max {
        *val = key.max;
        Err(Errno::EINVAL)
    } else {
        Ok(())
    }
}

/// C: param.c minimum_set_val(): the smaller of the offer and the current value.
fn minimum_set_val(param: &mut [IscsiParam], idx: usize, val: &mut u32) -> Result<(), Errno> {
    let p = param.get_mut(idx).ok_or(Errno::EINVAL)?;
    if *val > p.val {
        *val = p.val;
    }
    p.val = *val;
    Ok(())
}

/// C: param.c maximum_set_val(): the larger of the offer and the current value.
fn maximum_set_val(param: &mut [IscsiParam], idx: usize, val: &mut u32) -> Result<(), Errno> {
    let p = param.get_mut(idx).ok_or(Errno::EINVAL)?;
    if p.val > *val {
        *val = p.val;
    }
    p.val = *val;
    Ok(())
}

/// C: param.c digest_val_to_str(): `None` for the None bit, `CRC32C` for the CRC32C bit, both
/// as `None,CRC32C`, `Unknown` when neither bit is set; other bits are ignored. It never
/// fails. (C's truncation to the buffer length gives the first `len - 1` bytes of this text.)
fn digest_val_to_str(val: u32) -> Result<String, Errno> {
    let mut s = String::new();
    if val & DIGEST_NONE != 0 {
        s.push_str("None");
    }
    if val & DIGEST_CRC32C != 0 {
        if !s.is_empty() {
            s.push(',');
        }
        s.push_str("CRC32C");
    }
    if s.is_empty() {
        s.push_str("Unknown");
    }
    Ok(s)
}

/// Whether `s` starts with `prefix`, ignoring ASCII case (C compares only the prefix's length
/// with `strncasecmp`).
fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// C: param.c digest_str_to_val(): a comma-separated list of `None` and `CRC32C` as a
/// `DIGEST_*` mask. Each item may have leading white space, is compared without regard to
/// case, and only its beginning counts (`nonesuch` reads as `None`; what follows up to the next
/// comma is ignored). The first item that is neither ends the scan with `EINVAL`, keeping the
/// bits found so far. An empty result, also on error, becomes `DIGEST_NONE`.
fn digest_str_to_val(str: &str, val: &mut u32) -> Result<(), Errno> {
    let b = str.as_bytes();
    let mut res = Ok(());
    let mut p = 0;
    *val = 0;
    loop {
        while b.get(p).copied().is_some_and(is_c_space) {
            p += 1;
        }
        let item = b.get(p..).unwrap_or_default();
        if starts_with_ignore_case(item, b"None") {
            *val |= DIGEST_NONE;
        } else if starts_with_ignore_case(item, b"CRC32C") {
            *val |= DIGEST_CRC32C;
        } else {
            res = Err(Errno::EINVAL);
            break;
        }
        match item.iter().position(|&c| c == b',') {
            Some(q) => p += q + 1,
            None => break,
        }
    }
    if *val == 0 {
        *val = DIGEST_NONE;
    }
    res
}

/// C: param.c digest_set_val(): CRC32C when both the offer and the current value contain the
/// CRC32C bit, otherwise None. The order of the initiator's list does not matter (an offer of
/// `None,CRC32C` gets CRC32C), and None is chosen even when the target does not allow it.
fn digest_set_val(param: &mut [IscsiParam], idx: usize, val: &mut u32) -> Result<(), Errno> {
    let p = param.get_mut(idx).ok_or(Errno::EINVAL)?;
    *val = if *val & DIGEST_CRC32C != 0 && p.val & DIGEST_CRC32C != 0 {
        DIGEST_CRC32C
    } else {
        DIGEST_NONE
    };
    p.val = *val;
    Ok(())
}

/// C: param.c marker_val_to_str(): 0 → `Irrelevant`, anything else → `Reject`.
fn marker_val_to_str(val: u32) -> Result<String, Errno> {
    Ok(if val == 0 { "Irrelevant" } else { "Reject" }.to_owned())
}

/// C: param.c marker_set_val(): the offered interval is ignored. OFMarkInt (IFMarkInt) becomes
/// 0, shown as `Irrelevant`, when OFMarker (IFMarker) is in state [`KEY_STATE_DONE`], and 1,
/// shown as `Reject`, otherwise. An initiator-offered OFMarker ends in
/// [`KEY_STATE_DONE_ADDED`], not DONE, so after `OFMarker=No` the answer is still `Reject`.
fn marker_set_val(params: &mut [IscsiParam], idx: usize, val: &mut u32) -> Result<(), Errno> {
    let done = |key: usize| {
        params
            .get(key)
            .is_some_and(|p| p.key_state == KEY_STATE_DONE)
    };
    *val = if (idx == abi::key_ofmarkint && done(abi::key_ofmarker))
        || (idx == abi::key_ifmarkint && done(abi::key_ifmarker))
    {
        0
    } else {
        1
    };
    params.get_mut(idx).ok_or(Errno::EINVAL)?.val = *val;
    Ok(())
}

/// The operations of `keys[idx]`: `Err` for an index outside the table, `Ok(None)` for a key
/// without operations.
fn key_ops(keys: &[IscsiKey], idx: usize) -> Result<Option<&'static IscsiKeyOps>, Errno> {
    keys.get(idx).map(|k| k.ops).ok_or(Errno::EINVAL)
}

/// C: param.c params_val_to_str(): `keys[idx]`'s text for `val`. A key without a `val_to_str`
/// gives an empty string (C leaves the caller's zeroed buffer as it is).
pub fn params_val_to_str(keys: &[IscsiKey], idx: usize, val: u32) -> Result<String, Errno> {
    match key_ops(keys, idx)?.and_then(|o| o.val_to_str) {
        Some(f) => f(val),
        None => Ok(String::new()),
    }
}

/// C: param.c params_str_to_val(): parses `str` as a value of `keys[idx]` into `val`. A key
/// without a `str_to_val` (the marker intervals) leaves `val` untouched and succeeds.
pub fn params_str_to_val(
    keys: &[IscsiKey],
    idx: usize,
    str: &str,
    val: &mut u32,
) -> Result<(), Errno> {
    match key_ops(keys, idx)?.and_then(|o| o.str_to_val) {
        Some(f) => f(str, val),
        None => Ok(()),
    }
}

/// C: param.c params_check_val(): range check of `val` for `keys[idx]`, clamping it (and
/// failing with `EINVAL`) when outside. Only `minimum`/`maximum` keys have a check; the others
/// accept anything.
pub fn params_check_val(keys: &[IscsiKey], idx: usize, val: &mut u32) -> Result<(), Errno> {
    let Some(key) = keys.get(idx) else {
        return Err(Errno::EINVAL);
    };
    match key.ops.and_then(|o| o.check_val) {
        Some(f) => f(key, val),
        None => Ok(()),
    }
}

/// C: param.c params_set_val(): negotiates `keys[idx]`: combines the offered `val` with
/// `param[idx].val` by the key's rule and stores the result in both.
pub fn params_set_val(
    keys: &[IscsiKey],
    param: &mut [IscsiParam],
    idx: usize,
    val: &mut u32,
) -> Result<(), Errno> {
    match key_ops(keys, idx)?.and_then(|o| o.set_val) {
        Some(f) => f(param, idx, val),
        None => Ok(()),
    }
}

/// C: param.c minimum_ops: numbers, negotiated to the smaller value.
static minimum_ops: IscsiKeyOps = IscsiKeyOps {
    val_to_str: Some(range_val_to_str),
    str_to_val: Some(range_str_to_val),
    check_val: Some(num_check_val),
    set_val: Some(minimum_set_val),
};

/// C: param.c maximum_ops: numbers, negotiated to the larger value.
static maximum_ops: IscsiKeyOps = IscsiKeyOps {
    val_to_str: Some(range_val_to_str),
    str_to_val: Some(range_str_to_val),
    check_val: Some(num_check_val),
    set_val: Some(maximum_set_val),
};

/// C: param.c or_ops: booleans, negotiated by OR.
static or_ops: IscsiKeyOps = IscsiKeyOps {
    val_to_str: Some(bool_val_to_str),
    str_to_val: Some(bool_str_to_val),
    check_val: None,
    set_val: Some(or_set_val),
};

/// C: param.c and_ops: booleans, negotiated by AND.
static and_ops: IscsiKeyOps = IscsiKeyOps {
    val_to_str: Some(bool_val_to_str),
    str_to_val: Some(bool_str_to_val),
    check_val: None,
    set_val: Some(and_set_val),
};

/// C: param.c digest_ops: digest lists.
static digest_ops: IscsiKeyOps = IscsiKeyOps {
    val_to_str: Some(digest_val_to_str),
    str_to_val: Some(digest_str_to_val),
    check_val: None,
    set_val: Some(digest_set_val),
};

/// C: param.c marker_ops: the marker intervals, answered but never parsed.
static marker_ops: IscsiKeyOps = IscsiKeyOps {
    val_to_str: Some(marker_val_to_str),
    str_to_val: None,
    check_val: None,
    set_val: Some(marker_set_val),
};

/// A table entry (the C aggregate initialisers of `session_keys[]` and `target_keys[]`).
const fn key(
    name: &'static str,
    rfc_def: u32,
    local_def: u32,
    min: u32,
    max: u32,
    show_in_sysfs: bool,
    ops: &'static IscsiKeyOps,
) -> IscsiKey {
    IscsiKey {
        name,
        rfc_def,
        local_def,
        min,
        max,
        show_in_sysfs,
        ops: Some(ops),
    }
}

/// A name-only table entry (C initialises only the name; the rest is zero, `ops` NULL).
const fn name_only(name: &'static str) -> IscsiKey {
    IscsiKey {
        name,
        rfc_def: 0,
        local_def: 0,
        min: 0,
        max: 0,
        show_in_sysfs: false,
        ops: None,
    }
}

/// Whether every entry of a table has been filled in (the tables are built by index).
const fn all_named(keys: &[IscsiKey]) -> bool {
    let mut i = 0;
    while i < keys.len() {
        if keys[i].name.is_empty() {
            return false;
        }
        i += 1;
    }
    true
}

/// C: param.c target_keys[]: the per-target keys, indexed by `abi::key_queued_cmnds` …
/// `abi::key_max_sessions`. The RFC and local defaults are both the driver's `DEFAULT_*`
/// value. Any change must be mirrored in the driver's check of target parameters.
pub static target_keys: [IscsiKey; target_key_last] = {
    use abi::*;
    let mut k = [name_only(""); target_key_last];
    k[key_queued_cmnds] = key(
        "QueuedCommands",
        DEFAULT_NR_QUEUED_CMNDS as u32,
        DEFAULT_NR_QUEUED_CMNDS as u32,
        MIN_NR_QUEUED_CMNDS as u32,
        MAX_NR_QUEUED_CMNDS as u32,
        true,
        &minimum_ops,
    );
    k[key_rsp_timeout] = key(
        "RspTimeout",
        DEFAULT_RSP_TIMEOUT as u32,
        DEFAULT_RSP_TIMEOUT as u32,
        MIN_RSP_TIMEOUT as u32,
        MAX_RSP_TIMEOUT as u32,
        true,
        &minimum_ops,
    );
    k[key_nop_in_interval] = key(
        "NopInInterval",
        DEFAULT_NOP_IN_INTERVAL as u32,
        DEFAULT_NOP_IN_INTERVAL as u32,
        MIN_NOP_IN_INTERVAL as u32,
        MAX_NOP_IN_INTERVAL as u32,
        true,
        &minimum_ops,
    );
    k[key_nop_in_timeout] = key(
        "NopInTimeout",
        DEFAULT_NOP_IN_TIMEOUT as u32,
        DEFAULT_NOP_IN_TIMEOUT as u32,
        MIN_NOP_IN_TIMEOUT as u32,
        MAX_NOP_IN_TIMEOUT as u32,
        true,
        &minimum_ops,
    );
    k[key_max_sessions] = key("MaxSessions", 0, 0, 0, 65535, true, &minimum_ops);
    assert!(all_named(&k));
    k
};

/// C: param.c session_keys[]: the RFC 3720 (and iSER) session keys, indexed by
/// `abi::key_initial_r2t` … `abi::key_max_outstanding_unexpected_pdus`; listed here in the C
/// order, each placed at its ABI index. Any change must be mirrored in the driver's check of
/// session parameters.
pub static session_keys: [IscsiKey; session_key_last] = {
    // The key indices; the DIGEST_* values are this module's unsigned ones (`self::`).
    use abi::*;
    let mut k = [name_only(""); session_key_last];
    // name, rfc_def, local_def, min, max, show_in_sysfs, ops
    k[key_initial_r2t] = key("InitialR2T", 1, 0, 0, 1, true, &or_ops);
    k[key_immediate_data] = key("ImmediateData", 1, 1, 0, 1, true, &and_ops);
    k[key_max_connections] = key("MaxConnections", 1, 1, 1, 1, false, &minimum_ops);
    k[key_max_recv_data_length] = key(
        "MaxRecvDataSegmentLength",
        8192,
        NO_LIMIT,
        512,
        NO_LIMIT,
        true,
        &minimum_ops,
    );
    k[key_max_xmit_data_length] = key(
        "MaxXmitDataSegmentLength",
        8192,
        NO_LIMIT,
        512,
        NO_LIMIT,
        true,
        &minimum_ops,
    );
    k[key_max_burst_length] = key(
        "MaxBurstLength",
        262144,
        NO_LIMIT,
        512,
        NO_LIMIT,
        true,
        &minimum_ops,
    );
    k[key_first_burst_length] = key(
        "FirstBurstLength",
        65536,
        65536,
        512,
        NO_LIMIT,
        true,
        &minimum_ops,
    );
    k[key_default_wait_time] = key("DefaultTime2Wait", 2, 0, 0, 0, false, &maximum_ops);
    k[key_default_retain_time] = key("DefaultTime2Retain", 20, 0, 0, 0, false, &minimum_ops);
    k[key_max_outstanding_r2t] = key("MaxOutstandingR2T", 1, 32, 1, 65535, true, &minimum_ops);
    k[key_data_pdu_inorder] = key("DataPDUInOrder", 1, 0, 0, 1, false, &or_ops);
    k[key_data_sequence_inorder] = key("DataSequenceInOrder", 1, 0, 0, 1, false, &or_ops);
    k[key_error_recovery_level] = key("ErrorRecoveryLevel", 0, 0, 0, 0, false, &minimum_ops);
    k[key_header_digest] = key(
        "HeaderDigest",
        self::DIGEST_NONE,
        self::DIGEST_NONE,
        self::DIGEST_NONE,
        self::DIGEST_ALL,
        true,
        &digest_ops,
    );
    k[key_data_digest] = key(
        "DataDigest",
        self::DIGEST_NONE,
        self::DIGEST_NONE,
        self::DIGEST_NONE,
        self::DIGEST_ALL,
        true,
        &digest_ops,
    );
    k[key_ofmarker] = key("OFMarker", 0, 0, 0, 0, false, &and_ops);
    k[key_ifmarker] = key("IFMarker", 0, 0, 0, 0, false, &and_ops);
    k[key_ofmarkint] = key("OFMarkInt", 2048, 2048, 1, 65535, false, &marker_ops);
    k[key_ifmarkint] = key("IFMarkInt", 2048, 2048, 1, 65535, false, &marker_ops);
    k[key_rdma_extensions] = key("RDMAExtensions", 0, 0, 0, 0, true, &and_ops);
    k[key_target_recv_data_length] = key(
        "TargetRecvDataSegmentLength",
        8192,
        512,
        512,
        NO_LIMIT,
        false,
        &minimum_ops,
    );
    k[key_initiator_recv_data_length] = key(
        "InitiatorRecvDataSegmentLength",
        8192,
        NO_LIMIT,
        512,
        NO_LIMIT,
        false,
        &minimum_ops,
    );
    k[key_max_ahs_length] = key("MaxAHSLength", 256, 0, 0, NO_LIMIT, false, &minimum_ops);
    k[key_tagged_buffer_for_solicited_data_only] = key(
        "TaggedBufferForSolicitedDataOnly",
        0,
        0,
        0,
        0,
        false,
        &and_ops,
    );
    k[key_iser_hello_required] = key("iSERHelloRequired", 0, 0, 0, 0, false, &and_ops);
    k[key_max_outstanding_unexpected_pdus] = key(
        "MaxOutstandingUnexpectedPDUs",
        0,
        0,
        0,
        NO_LIMIT,
        false,
        &minimum_ops,
    );
    assert!(all_named(&k));
    k
};

/// C: config.c user_keys[]: the account keywords, indexed by the daemon's `ISCSI_USER_DIR_*`
/// (incoming 0, outgoing 1; outgoing must stay last). Names only, looked up with
/// [`params_index_by_name_numwild`] (`IncomingUser1 …`).
pub static user_keys: [IscsiKey; 2] = [name_only("IncomingUser"), name_only("OutgoingUser")];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// "max" of scst-reference.md §8.6: the table value -1 in an unsigned field.
    const MAX: u32 = 0xFFFF_FFFF;

    type Row = (&'static str, u32, u32, u32, u32, bool, &'static str);

    /// scst-reference.md §8.6, row by row: name, rfc_def, local_def, min, max, sysfs, op.
    /// Digest values: None = 1, None|CRC32C = 3 (§5.4).
    const SPEC_SESSION_KEYS: [Row; 26] = [
        ("InitialR2T", 1, 0, 0, 1, true, "or"),
        ("ImmediateData", 1, 1, 0, 1, true, "and"),
        ("MaxConnections", 1, 1, 1, 1, false, "minimum"),
        (
            "MaxRecvDataSegmentLength",
            8192,
            MAX,
            512,
            MAX,
            true,
            "minimum",
        ),
        (
            "MaxXmitDataSegmentLength",
            8192,
            MAX,
            512,
            MAX,
            true,
            "minimum",
        ),
        ("MaxBurstLength", 262144, MAX, 512, MAX, true, "minimum"),
        ("FirstBurstLength", 65536, 65536, 512, MAX, true, "minimum"),
        ("DefaultTime2Wait", 2, 0, 0, 0, false, "maximum"),
        ("DefaultTime2Retain", 20, 0, 0, 0, false, "minimum"),
        ("MaxOutstandingR2T", 1, 32, 1, 65535, true, "minimum"),
        ("DataPDUInOrder", 1, 0, 0, 1, false, "or"),
        ("DataSequenceInOrder", 1, 0, 0, 1, false, "or"),
        ("ErrorRecoveryLevel", 0, 0, 0, 0, false, "minimum"),
        ("HeaderDigest", 1, 1, 1, 3, true, "digest"),
        ("DataDigest", 1, 1, 1, 3, true, "digest"),
        ("OFMarker", 0, 0, 0, 0, false, "and"),
        ("IFMarker", 0, 0, 0, 0, false, "and"),
        ("OFMarkInt", 2048, 2048, 1, 65535, false, "marker"),
        ("IFMarkInt", 2048, 2048, 1, 65535, false, "marker"),
        ("RDMAExtensions", 0, 0, 0, 0, true, "and"),
        (
            "TargetRecvDataSegmentLength",
            8192,
            512,
            512,
            MAX,
            false,
            "minimum",
        ),
        (
            "InitiatorRecvDataSegmentLength",
            8192,
            MAX,
            512,
            MAX,
            false,
            "minimum",
        ),
        ("MaxAHSLength", 256, 0, 0, MAX, false, "minimum"),
        ("TaggedBufferForSolicitedDataOnly", 0, 0, 0, 0, false, "and"),
        ("iSERHelloRequired", 0, 0, 0, 0, false, "and"),
        (
            "MaxOutstandingUnexpectedPDUs",
            0,
            0,
            0,
            MAX,
            false,
            "minimum",
        ),
    ];

    /// scst-reference.md §5.4 and §8.6: defaults and ranges of the target keys (rfc_def and
    /// local_def are both the default), op minimum, all in sysfs.
    const SPEC_TARGET_KEYS: [Row; 5] = [
        ("QueuedCommands", 32, 32, 1, 2048, true, "minimum"),
        ("RspTimeout", 90, 90, 2, 65535, true, "minimum"),
        ("NopInInterval", 30, 30, 0, 65535, true, "minimum"),
        ("NopInTimeout", 30, 30, 2, 65535, true, "minimum"),
        ("MaxSessions", 0, 0, 0, 65535, true, "minimum"),
    ];

    fn ops_named(op: &str) -> &'static IscsiKeyOps {
        match op {
            "minimum" => &minimum_ops,
            "maximum" => &maximum_ops,
            "or" => &or_ops,
            "and" => &and_ops,
            "digest" => &digest_ops,
            "marker" => &marker_ops,
            _ => panic!("no op {op}"),
        }
    }

    fn check_table(keys: &[IscsiKey], spec: &[Row]) {
        assert_eq!(keys.len(), spec.len());
        for (k, &(name, rfc_def, local_def, min, max, sysfs, op)) in keys.iter().zip(spec) {
            assert_eq!(k.name, name);
            assert_eq!(k.rfc_def, rfc_def, "{name} rfc_def");
            assert_eq!(k.local_def, local_def, "{name} local_def");
            assert_eq!(k.min, min, "{name} min");
            assert_eq!(k.max, max, "{name} max");
            assert_eq!(k.show_in_sysfs, sysfs, "{name} show_in_sysfs");
            let ops = k.ops.unwrap();
            assert!(core::ptr::eq(ops, ops_named(op)), "{name} ops");
        }
    }

    #[test]
    fn session_keys_match_spec_table() {
        check_table(&session_keys, &SPEC_SESSION_KEYS);
    }

    #[test]
    fn target_keys_match_spec_table() {
        check_table(&target_keys, &SPEC_TARGET_KEYS);
    }

    #[test]
    fn user_keys_are_names_only() {
        assert_eq!(user_keys.len(), 2);
        assert_eq!(user_keys[0].name, "IncomingUser");
        assert_eq!(user_keys[1].name, "OutgoingUser");
        for k in &user_keys {
            assert!(k.ops.is_none());
            assert_eq!((k.rfc_def, k.local_def, k.min, k.max), (0, 0, 0, 0));
            assert!(!k.show_in_sysfs);
        }
    }

    #[test]
    fn op_kinds_have_the_c_members() {
        for (op, to_str, from_str, check) in [
            ("minimum", true, true, true),
            ("maximum", true, true, true),
            ("or", true, true, false),
            ("and", true, true, false),
            ("digest", true, true, false),
            ("marker", true, false, false),
        ] {
            let o = ops_named(op);
            assert_eq!(o.val_to_str.is_some(), to_str, "{op}");
            assert_eq!(o.str_to_val.is_some(), from_str, "{op}");
            assert_eq!(o.check_val.is_some(), check, "{op}");
            assert!(o.set_val.is_some(), "{op}");
        }
    }

    #[test]
    fn table_order_is_abi_order() {
        let session = [
            ("InitialR2T", abi::key_initial_r2t),
            ("ImmediateData", abi::key_immediate_data),
            ("MaxConnections", abi::key_max_connections),
            ("MaxRecvDataSegmentLength", abi::key_max_recv_data_length),
            ("MaxXmitDataSegmentLength", abi::key_max_xmit_data_length),
            ("MaxBurstLength", abi::key_max_burst_length),
            ("FirstBurstLength", abi::key_first_burst_length),
            ("DefaultTime2Wait", abi::key_default_wait_time),
            ("DefaultTime2Retain", abi::key_default_retain_time),
            ("MaxOutstandingR2T", abi::key_max_outstanding_r2t),
            ("DataPDUInOrder", abi::key_data_pdu_inorder),
            ("DataSequenceInOrder", abi::key_data_sequence_inorder),
            ("ErrorRecoveryLevel", abi::key_error_recovery_level),
            ("HeaderDigest", abi::key_header_digest),
            ("DataDigest", abi::key_data_digest),
            ("OFMarker", abi::key_ofmarker),
            ("IFMarker", abi::key_ifmarker),
            ("OFMarkInt", abi::key_ofmarkint),
            ("IFMarkInt", abi::key_ifmarkint),
            ("RDMAExtensions", abi::key_rdma_extensions),
            (
                "TargetRecvDataSegmentLength",
                abi::key_target_recv_data_length,
            ),
            (
                "InitiatorRecvDataSegmentLength",
                abi::key_initiator_recv_data_length,
            ),
            ("MaxAHSLength", abi::key_max_ahs_length),
            (
                "TaggedBufferForSolicitedDataOnly",
                abi::key_tagged_buffer_for_solicited_data_only,
            ),
            ("iSERHelloRequired", abi::key_iser_hello_required),
            (
                "MaxOutstandingUnexpectedPDUs",
                abi::key_max_outstanding_unexpected_pdus,
            ),
        ];
        assert_eq!(session.len(), abi::session_key_last);
        for (i, (name, idx)) in session.into_iter().enumerate() {
            assert_eq!(idx, i);
            assert_eq!(params_index_by_name(name, &session_keys), Ok(idx));
        }
        let target = [
            ("QueuedCommands", abi::key_queued_cmnds),
            ("RspTimeout", abi::key_rsp_timeout),
            ("NopInInterval", abi::key_nop_in_interval),
            ("NopInTimeout", abi::key_nop_in_timeout),
            ("MaxSessions", abi::key_max_sessions),
        ];
        assert_eq!(target.len(), abi::target_key_last);
        for (i, (name, idx)) in target.into_iter().enumerate() {
            assert_eq!(idx, i);
            assert_eq!(params_index_by_name(name, &target_keys), Ok(idx));
        }
    }

    #[test]
    fn index_by_name() {
        assert_eq!(params_index_by_name("initialr2t", &session_keys), Ok(0));
        assert_eq!(params_index_by_name("HEADERDIGEST", &session_keys), Ok(13));
        assert_eq!(params_index_by_name("MaxSessions", &target_keys), Ok(4));
        assert_eq!(
            params_index_by_name("iserhellorequired", &session_keys),
            Ok(24)
        );
        assert_eq!(
            params_index_by_name("InitialR2", &session_keys),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            params_index_by_name("InitialR2T ", &session_keys),
            Err(Errno::ENOENT)
        );
        assert_eq!(params_index_by_name("", &session_keys), Err(Errno::ENOENT));
        assert_eq!(
            params_index_by_name("QueuedCommands", &session_keys),
            Err(Errno::ENOENT)
        );
        assert_eq!(params_index_by_name("IncomingUser", &user_keys), Ok(0));
        assert_eq!(
            params_index_by_name("IncomingUser1", &user_keys),
            Err(Errno::ENOENT)
        );
    }

    #[test]
    fn index_by_name_numwild() {
        let f = |n| params_index_by_name_numwild(n, &user_keys);
        assert_eq!(f("IncomingUser"), Ok(0));
        assert_eq!(f("IncomingUser1"), Ok(0));
        assert_eq!(f("incominguser42"), Ok(0));
        assert_eq!(f("OutgoingUser"), Ok(1));
        assert_eq!(f("OUTGOINGUSER07"), Ok(1));
        assert_eq!(f("IncomingUserX"), Err(Errno::ENOENT));
        assert_eq!(f("IncomingUser1a"), Err(Errno::ENOENT));
        assert_eq!(f("IncomingUse"), Err(Errno::ENOENT));
        assert_eq!(f("Incoming"), Err(Errno::ENOENT));
        assert_eq!(f(""), Err(Errno::ENOENT));
        assert_eq!(f("XIncomingUser"), Err(Errno::ENOENT));
        assert_eq!(
            params_index_by_name_numwild("NopInTimeout3", &target_keys),
            Ok(3)
        );
    }

    #[test]
    fn set_defaults_copies_local_def() {
        let mut p = [7u32; 26];
        params_set_defaults(&mut p, &session_keys);
        assert_eq!(
            p,
            [
                0, 1, 1, MAX, MAX, MAX, 65536, 0, 0, 32, 0, 0, 0, 1, 1, 0, 0, 2048, 2048, 0, 512,
                MAX, 0, 0, 0, 0
            ]
        );
        let mut t = [0u32; 5];
        params_set_defaults(&mut t, &target_keys);
        assert_eq!(t, [32, 90, 30, 30, 0]);
        // A shorter array gets as many values as fit.
        let mut short = [9u32; 2];
        params_set_defaults(&mut short, &target_keys);
        assert_eq!(short, [32, 90]);
    }

    fn str_to_val(idx: usize, s: &str) -> (Result<(), Errno>, u32) {
        let mut v = 0xdead_beef;
        let r = params_str_to_val(&session_keys, idx, s, &mut v);
        (r, v)
    }

    #[test]
    fn range_str_to_val_is_strtol_base_0() {
        let idx = abi::key_max_burst_length;
        for (s, want) in [
            ("0x10", 16),
            ("0X1f", 31),
            ("010", 8),
            ("077", 63),
            ("08", 0),
            ("junk", 0),
            ("", 0),
            ("12abc", 12),
            ("1e3", 1),
            ("0x", 0),
            ("0xg", 0),
            ("0x10junk", 16),
            ("  \t\n\x0b\x0c\r42", 42),
            ("+7", 7),
            ("- 5", 0),
            ("-", 0),
            ("-1", 0xFFFF_FFFF),
            ("-0x10", 0xFFFF_FFF0),
            ("8192", 8192),
            ("4294967295", 0xFFFF_FFFF),
            ("4294967296", 0),
            ("4294967297", 1),
            ("9223372036854775807", 0xFFFF_FFFF),
            ("99999999999999999999", 0xFFFF_FFFF),
            ("-9223372036854775808", 0),
            ("-99999999999999999999", 0),
        ] {
            assert_eq!(str_to_val(idx, s), (Ok(()), want), "{s:?}");
        }
    }

    #[test]
    fn strtol_bases() {
        assert_eq!(strtol("123", 10), 123);
        assert_eq!(strtol("0123", 10), 123);
        assert_eq!(strtol("0x1A", 16), 26);
        assert_eq!(strtol("1A", 16), 26);
        assert_eq!(strtol("0x1A", 10), 0);
        assert_eq!(strtol("zz", 36), 36 * 35 + 35);
        assert_eq!(strtol("102", 2), 2);
        assert_eq!(strtol("5", 1), 0);
        assert_eq!(strtol("5", 37), 0);
        assert_eq!(strtol("9223372036854775807", 0), i64::MAX);
        assert_eq!(strtol("9223372036854775808", 0), i64::MAX);
        assert_eq!(strtol("-9223372036854775808", 0), i64::MIN);
        assert_eq!(strtol("-9223372036854775809", 0), i64::MIN);
        assert_eq!(strtol("-9223372036854775807", 0), -i64::MAX);
        assert_eq!(strtol("0x7fffffffffffffff", 0), i64::MAX);
        assert_eq!(strtol("0x8000000000000000", 0), i64::MAX);
        assert_eq!(strtol("-0x8000000000000000", 0), i64::MIN);
        assert_eq!(strtol("0777777777777777777777", 0), i64::MAX);
        assert_eq!(strtol("01000000000000000000000", 0), i64::MAX);
    }

    #[test]
    fn bool_str_to_val_exact() {
        let idx = abi::key_initial_r2t;
        assert_eq!(str_to_val(idx, "Yes"), (Ok(()), 1));
        assert_eq!(str_to_val(idx, "No"), (Ok(()), 0));
        for bad in ["yes", "NO", "Yes ", " No", "1", "", "Y"] {
            assert_eq!(
                str_to_val(idx, bad),
                (Err(Errno::EINVAL), 0xdead_beef),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn digest_str_to_val_lists() {
        let idx = abi::key_header_digest;
        for (s, want) in [
            ("None", (Ok(()), 1)),
            ("CRC32C", (Ok(()), 2)),
            ("CRC32C,None", (Ok(()), 3)),
            ("None,CRC32C", (Ok(()), 3)),
            ("crc32c", (Ok(()), 2)),
            ("NONE", (Ok(()), 1)),
            (" crc32c , none", (Ok(()), 3)),
            ("Nonesuch", (Ok(()), 1)),
            ("None junk,CRC32C", (Ok(()), 3)),
            ("CRC32C,CRC32C", (Ok(()), 2)),
            ("", (Err(Errno::EINVAL), 1)),
            ("junk", (Err(Errno::EINVAL), 1)),
            ("None,", (Err(Errno::EINVAL), 1)),
            ("CRC32C,bogus", (Err(Errno::EINVAL), 2)),
            ("bogus,CRC32C", (Err(Errno::EINVAL), 1)),
            ("None,,CRC32C", (Err(Errno::EINVAL), 1)),
            ("CRC32", (Err(Errno::EINVAL), 1)),
        ] {
            assert_eq!(str_to_val(idx, s), want, "{s:?}");
        }
    }

    #[test]
    fn marker_has_no_parser() {
        assert_eq!(
            str_to_val(abi::key_ofmarkint, "2048"),
            (Ok(()), 0xdead_beef)
        );
        assert_eq!(
            str_to_val(abi::key_ifmarkint, "junk"),
            (Ok(()), 0xdead_beef)
        );
    }

    #[test]
    fn val_to_str_forms() {
        let s = |idx, v| params_val_to_str(&session_keys, idx, v);
        assert_eq!(s(abi::key_max_burst_length, 0), Ok("0".to_owned()));
        assert_eq!(
            s(abi::key_max_burst_length, 262144),
            Ok("262144".to_owned())
        );
        assert_eq!(
            s(abi::key_max_burst_length, MAX),
            Ok("4294967295".to_owned())
        );
        assert_eq!(s(abi::key_default_wait_time, 2), Ok("2".to_owned()));
        assert_eq!(s(abi::key_initial_r2t, 0), Ok("No".to_owned()));
        assert_eq!(s(abi::key_initial_r2t, 1), Ok("Yes".to_owned()));
        assert_eq!(s(abi::key_immediate_data, 2), Err(Errno::EINVAL));
        assert_eq!(s(abi::key_header_digest, 0), Ok("Unknown".to_owned()));
        assert_eq!(s(abi::key_header_digest, 1), Ok("None".to_owned()));
        assert_eq!(s(abi::key_header_digest, 2), Ok("CRC32C".to_owned()));
        assert_eq!(s(abi::key_data_digest, 3), Ok("None,CRC32C".to_owned()));
        assert_eq!(s(abi::key_data_digest, 4), Ok("Unknown".to_owned()));
        assert_eq!(s(abi::key_data_digest, 5), Ok("None".to_owned()));
        assert_eq!(s(abi::key_data_digest, 6), Ok("CRC32C".to_owned()));
        assert_eq!(s(abi::key_ofmarkint, 0), Ok("Irrelevant".to_owned()));
        assert_eq!(s(abi::key_ifmarkint, 1), Ok("Reject".to_owned()));
        assert_eq!(s(abi::key_ifmarkint, 2048), Ok("Reject".to_owned()));
        assert_eq!(
            params_val_to_str(&target_keys, abi::key_rsp_timeout, 90),
            Ok("90".to_owned())
        );
    }

    #[test]
    fn check_val_clamps_and_rejects() {
        let c = |keys: &[IscsiKey], idx, v| {
            let mut v = v;
            let r = params_check_val(keys, idx, &mut v);
            (r, v)
        };
        let e = Err(Errno::EINVAL);
        let mol = abi::key_max_outstanding_r2t;
        assert_eq!(c(&session_keys, mol, 0), (e, 1));
        assert_eq!(c(&session_keys, mol, 1), (Ok(()), 1));
        assert_eq!(c(&session_keys, mol, 65535), (Ok(()), 65535));
        assert_eq!(c(&session_keys, mol, 65536), (e, 65535));
        let mrdsl = abi::key_max_recv_data_length;
        assert_eq!(c(&session_keys, mrdsl, 511), (e, 512));
        assert_eq!(c(&session_keys, mrdsl, 512), (Ok(()), 512));
        assert_eq!(c(&session_keys, mrdsl, MAX), (Ok(()), MAX));
        assert_eq!(c(&session_keys, abi::key_default_wait_time, 2), (e, 0));
        assert_eq!(c(&session_keys, abi::key_error_recovery_level, 1), (e, 0));
        assert_eq!(c(&session_keys, abi::key_max_connections, 0), (e, 1));
        assert_eq!(c(&session_keys, abi::key_max_connections, 4), (e, 1));
        // Keys without a check accept anything as it is.
        assert_eq!(c(&session_keys, abi::key_initial_r2t, 7), (Ok(()), 7));
        assert_eq!(c(&session_keys, abi::key_header_digest, 0), (Ok(()), 0));
        assert_eq!(c(&session_keys, abi::key_ofmarker, 5), (Ok(()), 5));
        assert_eq!(c(&session_keys, abi::key_ofmarkint, 0), (Ok(()), 0));
        // Target keys.
        assert_eq!(c(&target_keys, abi::key_queued_cmnds, 0), (e, 1));
        assert_eq!(c(&target_keys, abi::key_queued_cmnds, 2049), (e, 2048));
        assert_eq!(c(&target_keys, abi::key_queued_cmnds, 2048), (Ok(()), 2048));
        assert_eq!(c(&target_keys, abi::key_rsp_timeout, 1), (e, 2));
        assert_eq!(c(&target_keys, abi::key_nop_in_interval, 0), (Ok(()), 0));
        assert_eq!(c(&target_keys, abi::key_nop_in_timeout, 65536), (e, 65535));
        assert_eq!(c(&target_keys, abi::key_max_sessions, 70000), (e, 65535));
    }

    #[test]
    fn keys_without_ops_and_bad_indices() {
        let mut v = 5;
        assert_eq!(params_val_to_str(&user_keys, 0, 1), Ok(String::new()));
        assert_eq!(params_str_to_val(&user_keys, 1, "x", &mut v), Ok(()));
        assert_eq!(params_check_val(&user_keys, 0, &mut v), Ok(()));
        let mut p = [IscsiParam::default(); 2];
        assert_eq!(params_set_val(&user_keys, &mut p, 0, &mut v), Ok(()));
        assert_eq!(v, 5);
        assert_eq!(p, [IscsiParam::default(); 2]);

        assert_eq!(params_val_to_str(&target_keys, 5, 1), Err(Errno::EINVAL));
        assert_eq!(
            params_str_to_val(&target_keys, 5, "1", &mut v),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            params_check_val(&target_keys, 5, &mut v),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            params_set_val(&target_keys, &mut p, 5, &mut v),
            Err(Errno::EINVAL)
        );
        // A param array too short for the index.
        assert_eq!(
            params_set_val(&session_keys, &mut p, abi::key_max_burst_length, &mut v),
            Err(Errno::EINVAL)
        );
        assert_eq!(v, 5);
    }

    /// The connection's params as `conn_alloc()` starts them, with local values overridden.
    fn conn_params(local: &[(usize, u32)]) -> [IscsiParam; session_key_last] {
        let mut vals = [0u32; session_key_last];
        params_set_defaults(&mut vals, &session_keys);
        for &(i, v) in local {
            vals[i] = v;
        }
        vals.map(|val| IscsiParam {
            key_state: KEY_STATE_START,
            val,
        })
    }

    /// One offered key as iscsid.c `text_scan_login()` handles it for a TCP connection:
    /// parse, range-check (result ignored), negotiate, then the answer text.
    fn negotiate(params: &mut [IscsiParam], idx: usize, offer: &str) -> (String, u32) {
        let mut val = 0;
        params_str_to_val(&session_keys, idx, offer, &mut val).unwrap();
        let _ = params_check_val(&session_keys, idx, &mut val);
        params_set_val(&session_keys, params, idx, &mut val).unwrap();
        assert_eq!(params[idx].val, val);
        (params_val_to_str(&session_keys, idx, val).unwrap(), val)
    }

    fn answer(local: &[(usize, u32)], idx: usize, offer: &str) -> String {
        negotiate(&mut conn_params(local), idx, offer).0
    }

    #[test]
    fn negotiate_or_keys() {
        let k = abi::key_initial_r2t;
        assert_eq!(answer(&[], k, "Yes"), "Yes");
        assert_eq!(answer(&[], k, "No"), "No");
        assert_eq!(answer(&[(k, 1)], k, "No"), "Yes");
        assert_eq!(answer(&[(k, 1)], k, "Yes"), "Yes");
        let k = abi::key_data_pdu_inorder;
        assert_eq!(answer(&[], k, "No"), "No");
        assert_eq!(answer(&[], k, "Yes"), "Yes");
        let k = abi::key_data_sequence_inorder;
        assert_eq!(answer(&[(k, 1)], k, "No"), "Yes");
    }

    #[test]
    fn negotiate_and_keys() {
        let k = abi::key_immediate_data;
        assert_eq!(answer(&[], k, "Yes"), "Yes");
        assert_eq!(answer(&[], k, "No"), "No");
        assert_eq!(answer(&[(k, 0)], k, "Yes"), "No");
        assert_eq!(answer(&[(k, 0)], k, "No"), "No");
        assert_eq!(answer(&[], abi::key_ofmarker, "Yes"), "No");
        assert_eq!(answer(&[], abi::key_ifmarker, "No"), "No");
        assert_eq!(answer(&[], abi::key_rdma_extensions, "Yes"), "No");
        assert_eq!(
            answer(
                &[(abi::key_rdma_extensions, 1)],
                abi::key_rdma_extensions,
                "Yes"
            ),
            "Yes"
        );
    }

    #[test]
    fn negotiate_minimum_keys() {
        let k = abi::key_max_recv_data_length;
        assert_eq!(answer(&[], k, "8192"), "8192");
        assert_eq!(answer(&[], k, "100"), "512");
        assert_eq!(answer(&[(k, 65536)], k, "262144"), "65536");
        assert_eq!(answer(&[(k, 65536)], k, "0x4000"), "16384");
        assert_eq!(answer(&[(k, 1 << 20)], k, "junk"), "512");
        let k = abi::key_max_burst_length;
        assert_eq!(answer(&[(k, 1 << 20)], k, "16776192"), "1048576");
        let k = abi::key_first_burst_length;
        assert_eq!(answer(&[], k, "262144"), "65536");
        assert_eq!(answer(&[], k, "4096"), "4096");
        let k = abi::key_max_outstanding_r2t;
        assert_eq!(answer(&[], k, "1"), "1");
        assert_eq!(answer(&[], k, "100"), "32");
        assert_eq!(answer(&[], k, "0"), "1");
        assert_eq!(answer(&[], abi::key_max_connections, "4"), "1");
        assert_eq!(answer(&[], abi::key_error_recovery_level, "2"), "0");
        assert_eq!(answer(&[], abi::key_default_retain_time, "20"), "0");
        assert_eq!(answer(&[], abi::key_max_ahs_length, "256"), "0");
        let k = abi::key_target_recv_data_length;
        assert_eq!(answer(&[], k, "8192"), "512");
    }

    #[test]
    fn negotiate_maximum_key() {
        let k = abi::key_default_wait_time;
        // The range 0..=0 clamps the offer before the maximum is taken.
        assert_eq!(answer(&[], k, "2"), "0");
        assert_eq!(answer(&[], k, "0"), "0");
        // The maximum itself, on values a range check would not touch.
        let mut p = conn_params(&[(k, 5)]);
        let mut v = 2;
        params_set_val(&session_keys, &mut p, k, &mut v).unwrap();
        assert_eq!((v, p[k].val), (5, 5));
        let mut v = 9;
        params_set_val(&session_keys, &mut p, k, &mut v).unwrap();
        assert_eq!((v, p[k].val), (9, 9));
    }

    #[test]
    fn negotiate_digest_keys() {
        let k = abi::key_header_digest;
        let none = &[(k, 1)];
        let all = &[(k, 3)];
        let crc = &[(k, 2)];
        assert_eq!(answer(none, k, "CRC32C,None"), "None");
        assert_eq!(answer(none, k, "CRC32C"), "None");
        assert_eq!(answer(none, k, "None"), "None");
        assert_eq!(answer(all, k, "CRC32C,None"), "CRC32C");
        // The initiator's preference order is not looked at.
        assert_eq!(answer(all, k, "None,CRC32C"), "CRC32C");
        assert_eq!(answer(all, k, "None"), "None");
        assert_eq!(answer(crc, k, "CRC32C"), "CRC32C");
        // None is answered although the target allows only CRC32C.
        assert_eq!(answer(crc, k, "None"), "None");
        let k = abi::key_data_digest;
        assert_eq!(answer(&[(k, 3)], k, "crc32c,none"), "CRC32C");
        assert_eq!(answer(&[], k, "CRC32C,None"), "None");
    }

    #[test]
    fn negotiate_marker_intervals() {
        let (of, ofi) = (abi::key_ofmarker, abi::key_ofmarkint);
        let (iff, ifi) = (abi::key_ifmarker, abi::key_ifmarkint);
        let mut p = conn_params(&[]);
        assert_eq!(negotiate(&mut p, ofi, "2048"), ("Reject".to_owned(), 1));
        p[of].key_state = KEY_STATE_DONE_ADDED;
        assert_eq!(negotiate(&mut p, ofi, "2048"), ("Reject".to_owned(), 1));
        p[of].key_state = KEY_STATE_REQUEST;
        assert_eq!(negotiate(&mut p, ofi, "2048"), ("Reject".to_owned(), 1));
        p[of].key_state = KEY_STATE_DONE;
        assert_eq!(negotiate(&mut p, ofi, "2048"), ("Irrelevant".to_owned(), 0));
        // OFMarker's state does not decide IFMarkInt, and the other way round.
        assert_eq!(negotiate(&mut p, ifi, "1-65535"), ("Reject".to_owned(), 1));
        p[of].key_state = KEY_STATE_START;
        p[iff].key_state = KEY_STATE_DONE;
        assert_eq!(negotiate(&mut p, ifi, "junk"), ("Irrelevant".to_owned(), 0));
        assert_eq!(negotiate(&mut p, ofi, "junk"), ("Reject".to_owned(), 1));
        assert_eq!(p[ofi].val, 1);
        assert_eq!(p[ifi].val, 0);
    }

    #[test]
    fn negotiation_writes_only_its_key() {
        let mut p = conn_params(&[]);
        let before = p;
        negotiate(&mut p, abi::key_max_burst_length, "65536");
        for (i, (a, b)) in p.iter().zip(&before).enumerate() {
            if i == abi::key_max_burst_length {
                assert_eq!(a.val, 65536);
            } else {
                assert_eq!(a, b);
            }
            assert_eq!(a.key_state, KEY_STATE_START);
        }
    }

    #[test]
    fn attr_names_and_key_states() {
        assert_eq!(ISCSI_ISNS_SERVER_ATTR_NAME, "iSNSServer");
        assert_eq!(ISCSI_ISNS_ACCESS_CONTROL_ATTR_NAME, "iSNSAccessControl");
        assert_eq!(ISCSI_ENABLED_ATTR_NAME, "enabled");
        assert_eq!(ISCSI_ISNS_ENTITY_ATTR_NAME, "isns_entity_name");
        assert_eq!(ISCSI_ALLOWED_PORTAL_ATTR_NAME, "allowed_portal");
        assert_eq!(ISCSI_PER_PORTAL_ACL_ATTR_NAME, "per_portal_acl");
        assert_eq!(ISCSI_TARGET_REDIRECTION_ATTR_NAME, "redirect");
        assert_eq!(ISCSI_TARGET_REDIRECTION_VALUE_TEMP, "temp");
        assert_eq!(ISCSI_TARGET_REDIRECTION_VALUE_PERM, "perm");
        assert_eq!(
            [
                KEY_STATE_START,
                KEY_STATE_REQUEST,
                KEY_STATE_DONE_ADDED,
                KEY_STATE_DONE
            ],
            [0, 1, 2, 3]
        );
    }

    proptest! {
        #[test]
        fn range_round_trip(v: u32) {
            let idx = abi::key_max_burst_length;
            let s = params_val_to_str(&session_keys, idx, v).unwrap();
            prop_assert_eq!(&s, &v.to_string());
            let mut back = !v;
            params_str_to_val(&session_keys, idx, &s, &mut back).unwrap();
            prop_assert_eq!(back, v);
            // The hex and octal spellings strtol understands.
            params_str_to_val(&session_keys, idx, &format!("{v:#x}"), &mut back).unwrap();
            prop_assert_eq!(back, v);
            params_str_to_val(&session_keys, idx, &format!("0{v:o}"), &mut back).unwrap();
            prop_assert_eq!(back, v);
        }

        #[test]
        fn strtol_matches_rust_parse(v: i64) {
            prop_assert_eq!(strtol(&v.to_string(), 0), v);
            prop_assert_eq!(strtol(&format!(" {v}xyz"), 10), v);
            prop_assert_eq!(
                range_str_to_val_of(&v.to_string()),
                u32::try_from(v.rem_euclid(1 << 32)).unwrap()
            );
        }

        #[test]
        fn bool_and_digest_round_trip(b in 0u32..2, d in 1u32..4) {
            let mut back = 9;
            let s = params_val_to_str(&session_keys, abi::key_initial_r2t, b).unwrap();
            params_str_to_val(&session_keys, abi::key_initial_r2t, &s, &mut back).unwrap();
            prop_assert_eq!(back, b);
            let s = params_val_to_str(&session_keys, abi::key_data_digest, d).unwrap();
            params_str_to_val(&session_keys, abi::key_data_digest, &s, &mut back).unwrap();
            prop_assert_eq!(back, d);
        }

        #[test]
        fn set_val_rules(ours: u32, offer: u32, b1 in 0u32..2, b2 in 0u32..2, d1 in 1u32..4, d2 in 1u32..4) {
            let run = |idx: usize, ours: u32, offer: u32| {
                let mut p = conn_params(&[(idx, ours)]);
                let mut v = offer;
                params_set_val(&session_keys, &mut p, idx, &mut v).unwrap();
                assert_eq!(p[idx].val, v);
                v
            };
            prop_assert_eq!(run(abi::key_max_burst_length, ours, offer), ours.min(offer));
            prop_assert_eq!(run(abi::key_default_wait_time, ours, offer), ours.max(offer));
            prop_assert_eq!(run(abi::key_initial_r2t, b1, b2), b1 | b2);
            prop_assert_eq!(run(abi::key_immediate_data, b1, b2), b1 & b2);
            let want = if d1 & d2 & 2 != 0 { 2 } else { 1 };
            prop_assert_eq!(run(abi::key_header_digest, d1, d2), want);
        }

        #[test]
        fn check_val_rule(v: u32, idx in 0usize..session_key_last) {
            let k = session_keys[idx];
            let mut got = v;
            let r = params_check_val(&session_keys, idx, &mut got);
            if k.ops.unwrap().check_val.is_none() {
                prop_assert_eq!((r, got), (Ok(()), v));
            } else if v < k.min {
                prop_assert_eq!((r, got), (Err(Errno::EINVAL), k.min));
            } else if v > k.max {
                prop_assert_eq!((r, got), (Err(Errno::EINVAL), k.max));
            } else {
                prop_assert_eq!((r, got), (Ok(()), v));
            }
        }
    }

    fn range_str_to_val_of(s: &str) -> u32 {
        let mut v = 0;
        range_str_to_val(s, &mut v).unwrap();
        v
    }
}
