// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2005 FUJITA Tomonori <tomof@acm.org>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's configuration: the port of `iscsi-scst/usr/config.c` — the configuration
//! file (`/etc/iscsi-scstd.conf`, scst-reference.md §8.10), the CHAP accounts (global ones for
//! discovery, per-target ones), the per-target parameters as `iscsi-scst-adm` changes them, and
//! the `/etc/initiators.allow` / `/etc/initiators.deny` access rules, re-read at every check.
//!
//! # The configuration file
//!
//! [`config_parse_main`] splits the text into lines at `\n` or `;` (and at 4095 bytes, as C's
//! line buffer does), each line into words at white space and `=`. A line whose first word
//! starts with `#` is a comment. Before the first `Target NAME` line the global section takes
//! `IncomingUser NAME SECRET` / `OutgoingUser NAME SECRET` (discovery accounts) and
//! `iSNSServer` / `iSNSAccessControl` (read by [`config_load`]'s iSNS pass); after it, the
//! target takes accounts, session keys, target keys and `Alias` (ignored). A target is handed to
//! the driver (`ADD_TARGET`) when the next `Target` line or the end of the text is reached.
//!
//! # Deliberate deviation: strict parsing of files given with `-c`
//!
//! C logs a bad line and goes on without it: an unknown keyword, a missing target name, an
//! extra word, a value the key cannot parse or a number outside the key's range (so
//! `DefaultTime2Wait 2` quietly leaves 0), a bad account, a duplicate target. An operator who
//! names a configuration file explicitly should not get a daemon that silently runs with less
//! than the file says, so by default (`lenient == false`) such a line is an error instead:
//! [`ConfigError::Line`] carries the file, the line number and C's message as the reason
//! (displayed `FILE:LINE: reason`; the daemon exits with status 2), and **nothing** of the file
//! is applied — the whole text is checked before anything is done, and should the driver still
//! refuse a target while applying, the targets already added are deleted again and the
//! discovery accounts restored. A line longer than C's 4095-byte buffer is an error too (C
//! would cut it, drop one byte and read the rest as a new line). `lenient == true` keeps C's
//! log-and-skip behaviour exactly; [`config_load`] uses it for the default file, which C
//! reads when no `-c` is given.
//!
//! # Other adaptations
//!
//! - The `cookie` parameters and everything under `#ifndef CONFIG_SCST_PROC` (sysfs
//!   attributes for accounts, `stop_on_errors` of a sysfs `add_target`) are left out: in the
//!   procfs build the cookie is always 0.
//! - Functions C gives a `struct target *` for account lists take the discovery lists and an
//!   optional `&mut Target` (the target being configured is not in the target list yet); those
//!   C gives a tid take the [`Daemon`] and the tid (0 for the discovery accounts).
//! - The access rules are matched against the peer address the caller passes
//!   (`getpeername()` in C). Addresses are parsed as glibc's numeric `getaddrinfo()` does
//!   (IPv4 also in the `inet_aton()` short forms; an IPv6 `%scope` is ignored). A rule of one
//!   address family never matches a peer of the other (C compares unrelated bytes of the
//!   socket address then).
//! - iSNS is not ported: the `iSNSServer` setting is read and stored, and its start-up is
//!   reported as failed, as C reports a failing `isns_init()`.
#![doc(alias = "config.c")]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use iscsi_scst::abi::{key_session, session_key_last, target_key_last, ISCSI_NAME_LEN};
use kemu::Errno;

use crate::ctldev::{kernel_params_get, kernel_params_set, kernel_target_destroy};
use crate::iscsid::{
    truncate_str, Daemon, IscsiAttr, Target, ISCSI_USER_DIR_INCOMING, ISCSI_USER_DIR_OUTGOING,
    ISCSI_USER_NAME, ISCSI_USER_PASS,
};
use crate::param::{
    params_check_val, params_index_by_name, params_index_by_name_numwild, params_str_to_val,
    strtol, user_keys, IscsiParam, ISCSI_ISNS_ACCESS_CONTROL_ATTR_NAME,
    ISCSI_ISNS_SERVER_ATTR_NAME,
};
use crate::target::{
    target_add, target_create, target_del, target_find_by_id, target_find_by_id_mut,
    target_find_by_name, target_find_id_by_name, target_free,
};

/// C `BUFSIZE`: the line buffer of the configuration and access files.
const BUFSIZE: usize = 4096;
/// C `CONFIG_FILE`: the configuration file read when no `-c` is given.
pub const CONFIG_FILE: &str = "/etc/iscsi-scstd.conf";
/// The deny rules of `config_initiator_access_allowed()`.
pub const INITIATORS_DENY: &str = "/etc/initiators.deny";
/// The allow rules of `config_initiator_access_allowed()`.
pub const INITIATORS_ALLOW: &str = "/etc/initiators.allow";
/// C `sizeof(((struct iscsi_attr *)0)->sysfs_name) - 1`.
const SYSFS_NAME_MAX: usize = 63;

/// Why configuration could not be loaded: the port's error type for `config_load()` /
/// `config_parse_main()` (C returns `-errno` and only logs bad lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be opened or read (C `config_load()` returns `-errno`; the daemon
    /// exits with status 1).
    Io {
        /// The file.
        file: String,
        /// The error.
        errno: Errno,
    },
    /// Strict mode: a line C would log and skip (see the module doc; the daemon exits with
    /// status 2). Nothing of the file was applied.
    Line {
        /// The file.
        file: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong, in C's words.
        reason: String,
    },
}

impl ConfigError {
    /// The exit status of the daemon for this error: 1 as C for an unreadable file, 2 for a
    /// bad line.
    pub fn exit_status(&self) -> u8 {
        match self {
            ConfigError::Io { .. } => 1,
            ConfigError::Line { .. } => 2,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { file, errno } => write!(f, "{file}: {}", errno.desc()),
            ConfigError::Line { file, line, reason } => write!(f, "{file}:{line}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A failure with the message C logs for it.
#[derive(Debug)]
struct CfgFail {
    err: Errno,
    msg: String,
}

impl CfgFail {
    fn new(err: Errno, msg: String) -> Self {
        CfgFail { err, msg }
    }

    /// Logs the message (as C does at the point of failure) and gives the errno.
    fn log(self) -> Errno {
        log::error!("{}", self.msg);
        self.err
    }
}

// ---------------------------------------------------------------------------------------------
// Attribute lists
// ---------------------------------------------------------------------------------------------

/// C: config.c iscsi_attr_lookup_by_sysfs_name(): the attribute whose sysfs name is
/// `sysfs_name`.
pub fn iscsi_attr_lookup_by_sysfs_name<'a>(
    attrs_list: &'a [IscsiAttr],
    sysfs_name: &str,
) -> Option<&'a IscsiAttr> {
    attrs_list.iter().find(|a| a.sysfs_name == sysfs_name)
}

/// C: config.c iscsi_attr_lookup_by_key(): the attribute whose key is `key` (case matters).
pub fn iscsi_attr_lookup_by_key<'a>(
    attrs_list: &'a [IscsiAttr],
    key: &str,
) -> Option<&'a IscsiAttr> {
    attrs_list.iter().find(|a| a.attr_key == key)
}

/// C: config.c iscsi_attr_destroy(): removes the attribute with key `key` from its list.
pub fn iscsi_attr_destroy(attrs_list: &mut Vec<IscsiAttr>, key: &str) {
    if let Some(pos) = attrs_list.iter().position(|a| a.attr_key == key) {
        attrs_list.remove(pos);
    }
}

/// C: config.c iscsi_attrs_free(): empties an attribute list.
pub fn iscsi_attrs_free(attrs_list: &mut Vec<IscsiAttr>) {
    attrs_list.clear();
}

/// C: config.c iscsi_attr_create(), returning C's log message on failure.
fn __iscsi_attr_create<'a>(
    attrs_list: &'a mut Vec<IscsiAttr>,
    sysfs_name_tmpl: Option<&str>,
    key: &str,
    val: Option<&str>,
    mode: u32,
) -> Result<&'a mut IscsiAttr, CfgFail> {
    if iscsi_attr_lookup_by_key(attrs_list, key).is_some() {
        return Err(CfgFail::new(
            Errno::EINVAL,
            format!("Attribute {key} already exists"),
        ));
    }

    let mut attr = IscsiAttr {
        attr_key: key.to_owned(),
        attr_value: val.filter(|v| !v.is_empty()).map(str::to_owned),
        sysfs_mode: mode,
        sysfs_name: String::new(),
    };

    if let Some(tmpl) = sysfs_name_tmpl {
        attr.sysfs_name = truncate_str(tmpl, SYSFS_NAME_MAX).to_owned();
        // Taken: try the template with 1, 2, … appended.
        let mut num = 1u32;
        while iscsi_attr_lookup_by_sysfs_name(attrs_list, &attr.sysfs_name).is_some() {
            let name = format!("{tmpl}{num}");
            if name.len() > SYSFS_NAME_MAX {
                // C cuts the number off and loops forever.
                return Err(CfgFail::new(
                    Errno::EINVAL,
                    format!("Attribute name {tmpl} is too long"),
                ));
            }
            attr.sysfs_name = name;
            num += 1;
        }
    }

    attrs_list.push(attr);
    let last = attrs_list.len() - 1;
    Ok(&mut attrs_list[last])
}

/// C: config.c iscsi_attr_create(): appends an attribute `key` = `val` (`None` or empty: no
/// value) with sysfs `mode` to `attrs_list`; its sysfs name is `sysfs_name_tmpl` (cut to 63
/// bytes) or, when an attribute of the list has that name, the template with the smallest
/// number from 1 up appended that is free. `EINVAL` if `key` is already there (or, where C
/// would loop forever, when a numbered name does not fit in 63 bytes).
pub fn iscsi_attr_create<'a>(
    attrs_list: &'a mut Vec<IscsiAttr>,
    sysfs_name_tmpl: Option<&str>,
    key: &str,
    val: Option<&str>,
    mode: u32,
) -> Result<&'a mut IscsiAttr, Errno> {
    __iscsi_attr_create(attrs_list, sysfs_name_tmpl, key, val, mode).map_err(CfgFail::log)
}

/// C: config.c iscsi_attr_replace(): gives the attribute with sysfs name `sysfs_name` the key
/// and value of `raw_value` (`"KEY VALUE"`). `EINVAL` if there is no such attribute, `EEXIST`
/// if another attribute has that key.
pub fn iscsi_attr_replace(
    attrs_list: &mut [IscsiAttr],
    sysfs_name: &str,
    raw_value: &str,
) -> Result<(), Errno> {
    let mut raw = raw_value.as_bytes();
    let key = lossy(config_sep_string(&mut raw));
    let val = lossy(config_sep_string(&mut raw));

    let Some(pos) = attrs_list.iter().position(|a| a.sysfs_name == sysfs_name) else {
        log::error!("Unknown parameter {sysfs_name}");
        return Err(Errno::EINVAL);
    };

    if let Some(a) = attrs_list
        .iter()
        .enumerate()
        .find(|(i, a)| a.attr_key == key && *i != pos)
    {
        log::error!("Attr {key} (sysfs_name {}) already exists", a.1.sysfs_name);
        return Err(Errno::EEXIST);
    }

    let attr = &mut attrs_list[pos];
    attr.attr_key = key;
    attr.attr_value = (!val.is_empty()).then_some(val);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------------------------

/// C: config.c account_list_get(): the account list of direction `dir` — the target's when
/// there is one, else the discovery list.
fn account_list_get<'a>(
    discovery_users_in: &'a mut Vec<IscsiAttr>,
    discovery_users_out: &'a mut Vec<IscsiAttr>,
    target: Option<&'a mut Target>,
    dir: i32,
) -> &'a mut Vec<IscsiAttr> {
    match target {
        Some(t) if dir == ISCSI_USER_DIR_INCOMING => &mut t.target_in_accounts,
        Some(t) => &mut t.target_out_accounts,
        None if dir == ISCSI_USER_DIR_INCOMING => discovery_users_in,
        None => discovery_users_out,
    }
}

/// [`account_list_get`] for reading.
fn account_list_get_ref<'a>(
    d: &'a Daemon,
    target: Option<&'a Target>,
    dir: i32,
) -> &'a [IscsiAttr] {
    match target {
        Some(t) if dir == ISCSI_USER_DIR_INCOMING => &t.target_in_accounts,
        Some(t) => &t.target_out_accounts,
        None if dir == ISCSI_USER_DIR_INCOMING => &d.discovery_users_in,
        None => &d.discovery_users_out,
    }
}

/// The target `tid` names, or `Some(None)` for tid 0 (the discovery accounts); `None` for an
/// unknown target. (C repeats this lookup at the top of each account function, each with its
/// own answer for an unknown target.)
fn target_or_discovery(d: &Daemon, tid: u32) -> Option<Option<&Target>> {
    if tid == 0 {
        Some(None)
    } else {
        target_find_by_id(d, tid).map(Some)
    }
}

/// The mutable view of [`target_or_discovery`]: the target (or `None` for tid 0) together with
/// the discovery account lists, borrowed apart so that [`account_list_get`] can pick one.
#[allow(clippy::type_complexity)]
fn target_or_discovery_mut(
    d: &mut Daemon,
    tid: u32,
) -> Option<(
    Option<&mut Target>,
    &mut Vec<IscsiAttr>,
    &mut Vec<IscsiAttr>,
)> {
    let Daemon {
        targets_list,
        discovery_users_in,
        discovery_users_out,
        ..
    } = d;
    let target = if tid == 0 {
        None
    } else {
        Some(targets_list.iter_mut().find(|t| t.tid == tid)?)
    };
    Some((target, discovery_users_in, discovery_users_out))
}

/// The C locale's `isspace()`.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The C locale's `isblank()`.
fn is_c_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t')
}

/// A word of the configuration text as a string (names are ASCII in practice; other bytes
/// are replaced).
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// C: config.c config_sep_string(): the next word of `*pp` — skipping white space and `=`,
/// up to the next white space or `=` — and advances `*pp` past it and one separator. An
/// exhausted text gives the empty word.
pub fn config_sep_string<'a>(pp: &mut &'a [u8]) -> &'a [u8] {
    let s = *pp;
    let start = s
        .iter()
        .position(|&c| !(is_c_space(c) || c == b'='))
        .unwrap_or(s.len());
    let len = s[start..]
        .iter()
        .position(|&c| is_c_space(c) || c == b'=')
        .unwrap_or(s.len() - start);
    let end = start + len;
    // The separator after the word is consumed (C overwrites it with the terminator).
    *pp = s.get(end + 1..).unwrap_or_default();
    &s[start..end]
}

/// C: config.c config_gets(): the next line of `data` from `*offset`: up to a `\n` or `;`
/// (consumed) or the end, at most `BUFSIZE - 1` bytes. A line that fills the buffer loses the
/// byte after it, which C steps over as if it were the separator. `None` at the end.
fn config_gets<'a>(data: &'a [u8], offset: &mut usize) -> Option<&'a [u8]> {
    let offs = *offset;
    let rest = data.get(offs..).unwrap_or_default();
    let i = rest
        .iter()
        .take(BUFSIZE - 1)
        .position(|&c| c == b'\n' || c == b';')
        .unwrap_or_else(|| rest.len().min(BUFSIZE - 1));

    if i == 0 && rest.is_empty() {
        return None;
    }

    let mut end = offs + i;
    if end < data.len() {
        end += 1;
    }
    *offset = end;

    Some(&rest[..i])
}

/// C: config.c accounts_empty(): whether target `tid` (0: discovery) has no account of
/// direction `dir`. An unknown target counts as having accounts, as in C.
pub fn accounts_empty(d: &Daemon, tid: u32, dir: i32) -> bool {
    let Some(target) = target_or_discovery(d, tid) else {
        return false;
    };

    account_list_get_ref(d, target, dir).is_empty()
}

/// C: config.c __account_lookup_by_name(): the account `name` of `target` (or discovery).
fn __account_lookup_by_name<'a>(
    d: &'a Daemon,
    target: Option<&'a Target>,
    dir: i32,
    name: &str,
) -> Option<&'a IscsiAttr> {
    iscsi_attr_lookup_by_key(account_list_get_ref(d, target, dir), name)
}

/// C: config.c account_lookup_by_name(): the account `name` of target `tid` (0: discovery).
fn account_lookup_by_name<'a>(
    d: &'a Daemon,
    tid: u32,
    dir: i32,
    name: &str,
) -> Option<&'a IscsiAttr> {
    let target = target_or_discovery(d, tid)?;

    __account_lookup_by_name(d, target, dir, name)
}

/// C: config.c account_get_first(): the first account of direction `dir` of target `tid`
/// (0: discovery).
pub fn account_get_first(d: &Daemon, tid: u32, dir: i32) -> Option<&IscsiAttr> {
    let target = target_or_discovery(d, tid)?;

    account_list_get_ref(d, target, dir).first()
}

/// C: config.c account_lookup_by_sysfs_name(): the account of `target` (or discovery) whose
/// sysfs name is `sysfs_name`.
pub fn account_lookup_by_sysfs_name<'a>(
    d: &'a Daemon,
    target: Option<&'a Target>,
    dir: i32,
    sysfs_name: &str,
) -> Option<&'a IscsiAttr> {
    iscsi_attr_lookup_by_sysfs_name(account_list_get_ref(d, target, dir), sysfs_name)
}

/// C: config.c config_account_query(): the secret of account `name` of target `tid` (0:
/// discovery), cut to `ISCSI_NAME_LEN - 1` bytes; `ENOENT` if there is no such account.
pub fn config_account_query(d: &Daemon, tid: u32, dir: i32, name: &str) -> Result<String, Errno> {
    let user = account_lookup_by_name(d, tid, dir, name).ok_or(Errno::ENOENT)?;

    Ok(truncate_str(ISCSI_USER_PASS(user), ISCSI_NAME_LEN - 1).to_owned())
}

/// C: config.c config_account_list(): the user names of target `tid`'s (0: discovery)
/// accounts of direction `dir`, NUL-terminated in consecutive `ISCSI_NAME_LEN`-byte slots of
/// `buf` (the reply layout of `iscsi-scst-adm`). Returns `(cnt, overflow)`: the names written
/// and those that did not fit. `ENOENT` for an unknown target.
pub fn config_account_list(
    d: &Daemon,
    tid: u32,
    dir: i32,
    buf: &mut [u8],
) -> Result<(u32, u32), Errno> {
    let (mut cnt, mut overflow) = (0u32, 0u32);

    let target = target_or_discovery(d, tid).ok_or(Errno::ENOENT)?;

    let mut slots = buf.chunks_exact_mut(ISCSI_NAME_LEN);
    for user in account_list_get_ref(d, target, dir) {
        match slots.next() {
            Some(slot) => {
                iscsi_scst::abi::set_cstr(slot, ISCSI_USER_NAME(user).as_bytes());
                cnt += 1;
            }
            None => overflow += 1,
        }
    }

    Ok((cnt, overflow))
}

/// C: config.c account_destroy(): removes account `name` from its list.
fn account_destroy(list: &mut Vec<IscsiAttr>, name: &str) {
    iscsi_attr_destroy(list, name);
}

/// C: config.c accounts_free(): empties an account list.
pub fn accounts_free(accounts_list: &mut Vec<IscsiAttr>) {
    iscsi_attrs_free(accounts_list);
}

/// C: config.c config_account_del(): removes account `name` of direction `dir` from target
/// `tid` (0: discovery). `ESRCH` for an unknown target, `ENOENT` for an unknown account.
pub fn config_account_del(d: &mut Daemon, tid: u32, dir: i32, name: &str) -> Result<(), Errno> {
    let Some((target, discovery_users_in, discovery_users_out)) = target_or_discovery_mut(d, tid)
    else {
        log::error!("Target {tid} not found");
        return Err(Errno::ESRCH);
    };
    let target_name = target
        .as_ref()
        .map_or_else(|| "discovery".to_owned(), |t| t.name.clone());

    let list = account_list_get(discovery_users_in, discovery_users_out, target, dir);
    let Some(user) = iscsi_attr_lookup_by_key(list, name) else {
        log::error!("User {name} not found");
        return Err(Errno::ENOENT);
    };

    log::debug!(
        "Deleting {} user {} (target {target_name}, sysfs name {})",
        if dir == ISCSI_USER_DIR_OUTGOING {
            "outgoing"
        } else {
            "incoming"
        },
        ISCSI_USER_NAME(user),
        user.sysfs_name
    );

    account_destroy(list, name);
    Ok(())
}

/// C: config.c account_create(): a new account with sysfs mode 0600.
fn account_create<'a>(
    list: &'a mut Vec<IscsiAttr>,
    sysfs_name: &str,
    name: &str,
    pass: &str,
) -> Result<&'a mut IscsiAttr, CfgFail> {
    __iscsi_attr_create(list, Some(sysfs_name), name, Some(pass), 0o600)
}

/// C: config.c account_replace(): [`iscsi_attr_replace`] on the account list of direction
/// `direction` of target `tid` (0: discovery); `ENOENT` for an unknown target.
pub fn account_replace(
    d: &mut Daemon,
    tid: u32,
    direction: i32,
    sysfs_name: &str,
    value: &str,
) -> Result<(), Errno> {
    let (target, discovery_users_in, discovery_users_out) =
        target_or_discovery_mut(d, tid).ok_or(Errno::ENOENT)?;

    let list = account_list_get(discovery_users_in, discovery_users_out, target, direction);
    iscsi_attr_replace(list, sysfs_name, value)
}

/// C: config.c __config_account_add() on the chosen list, with C's message on failure;
/// `verbose` controls the warning about a replaced outgoing account.
fn __config_account_add_to(
    list: &mut Vec<IscsiAttr>,
    target_name: Option<&str>,
    dir: i32,
    name: &str,
    pass: &str,
    sysfs_name: Option<&str>,
    verbose: bool,
) -> Result<(), CfgFail> {
    if name.is_empty() || pass.is_empty() {
        return Err(CfgFail::new(
            Errno::EINVAL,
            "Name or password is NULL".to_owned(),
        ));
    }

    // RFC 3720 asks for secrets of at least 12 bytes.
    if pass.len() < 12 {
        return Err(CfgFail::new(
            Errno::EINVAL,
            format!("Secret for user {name} is too short. At least 12 bytes are required"),
        ));
    }

    if dir > ISCSI_USER_DIR_OUTGOING {
        return Err(CfgFail::new(
            Errno::EINVAL,
            format!("Wrong direction {dir}"),
        ));
    }

    let sysfs_name = sysfs_name.unwrap_or(if dir == ISCSI_USER_DIR_OUTGOING {
        user_keys[1].name
    } else {
        user_keys[0].name
    });

    if dir == ISCSI_USER_DIR_OUTGOING && !list.is_empty() {
        let old = list[0].attr_key.clone();
        if verbose {
            log::warn!(
                "Only one outgoing {} account is supported. Replacing the old one.",
                if target_name.is_some() {
                    "target"
                } else {
                    "discovery"
                }
            );
        }
        account_destroy(list, &old);
    }

    let user = account_create(list, sysfs_name, name, pass)?;

    log::debug!(
        "User {} (sysfs name {}) added to target {} (direction {})",
        ISCSI_USER_NAME(user),
        user.sysfs_name,
        target_name.unwrap_or("discovery"),
        if dir == ISCSI_USER_DIR_OUTGOING {
            "outgoing"
        } else {
            "incoming"
        }
    );

    Ok(())
}

/// C: config.c __config_account_add(): adds account `name`/`pass` of direction `dir` to
/// `target`, or to the discovery lists when `target` is `None`, under sysfs name `sysfs_name`
/// (default: the keyword, `IncomingUser` / `OutgoingUser`). `EINVAL` for an empty name or
/// secret, a secret under 12 bytes, a bad direction or a user already there. A new outgoing
/// account replaces the old one (with a warning): only one is supported.
pub fn __config_account_add(
    discovery_users_in: &mut Vec<IscsiAttr>,
    discovery_users_out: &mut Vec<IscsiAttr>,
    target: Option<&mut Target>,
    dir: i32,
    name: &str,
    pass: &str,
    sysfs_name: Option<&str>,
) -> Result<(), Errno> {
    let target_name = target.as_ref().map(|t| t.name.clone());
    let list = account_list_get(discovery_users_in, discovery_users_out, target, dir);
    __config_account_add_to(
        list,
        target_name.as_deref(),
        dir,
        name,
        pass,
        sysfs_name,
        true,
    )
    .map_err(CfgFail::log)
}

/// C: config.c config_account_add(): [`__config_account_add`] for target `tid` (0:
/// discovery); `ENOENT` for an unknown target.
pub fn config_account_add(
    d: &mut Daemon,
    tid: u32,
    dir: i32,
    name: &str,
    pass: &str,
    sysfs_name: Option<&str>,
) -> Result<(), Errno> {
    let (target, discovery_users_in, discovery_users_out) =
        target_or_discovery_mut(d, tid).ok_or(Errno::ENOENT)?;

    __config_account_add(
        discovery_users_in,
        discovery_users_out,
        target,
        dir,
        name,
        pass,
        sysfs_name,
    )
}

// ---------------------------------------------------------------------------------------------
// Access control: /etc/initiators.allow and /etc/initiators.deny
// ---------------------------------------------------------------------------------------------

/// C: config.c netmask_match_v6(): whether the first `mbit` bits of the two addresses agree.
fn netmask_match_v6(sa1: &Ipv6Addr, sa2: &Ipv6Addr, mbit: u32) -> bool {
    let a1 = sa1.segments();
    let a2 = sa2.segments();
    let full = (mbit / 16) as usize;

    if a1.iter().zip(&a2).take(full).any(|(x, y)| x ^ y != 0) {
        return false;
    }

    if !mbit.is_multiple_of(16) {
        let mask: u16 = !((1u16 << (16 - mbit % 16)) - 1);
        if (mask & a1[full]) ^ (mask & a2[full]) != 0 {
            return false;
        }
    }

    true
}

/// C: config.c netmask_match_v4(): whether `sa2` is in the network `sa1`/`mbit`. The rule's
/// address must have no host bits set, or nothing matches. For `mbit` 0, C shifts a 32-bit
/// 1 by 32 — undefined; x86 uses the count modulo 32, so `/0` acts as `/32` — and this is
/// reproduced.
fn netmask_match_v4(sa1: &Ipv4Addr, sa2: &Ipv4Addr, mbit: u32) -> bool {
    let mask: u32 = !(1u32.wrapping_shl(32 - mbit).wrapping_sub(1));
    let s1 = u32::from(*sa1);
    let s2 = u32::from(*sa2);

    if !mask & s1 != 0 {
        return false;
    }

    (mask & s2) ^ (mask & s1) == 0
}

/// C: config.c netmask_match(): `rule/buf` against the peer; the prefix length `buf` is read
/// with `strtoul(…, 0)` and must be at most 31 (IPv4) or 127 (IPv6).
fn netmask_match(rule: &IpAddr, peer: &IpAddr, buf: &[u8]) -> bool {
    // strtoul wraps a negative number around; strtol's value read unsigned decides alike
    // for the limits checked here.
    let mbit = strtol(&lossy(buf), 0).cast_unsigned();
    if mbit == u64::MAX {
        return false;
    }

    match (rule, peer) {
        (IpAddr::V4(r), IpAddr::V4(p)) if mbit <= 31 => netmask_match_v4(r, p, mbit as u32),
        (IpAddr::V6(r), IpAddr::V6(p)) if mbit <= 127 => netmask_match_v6(r, p, mbit as u32),
        _ => false,
    }
}

/// C: config.c address_match(): whether the two addresses are the same.
fn address_match(rule: &IpAddr, peer: &IpAddr) -> bool {
    rule == peer
}

/// The C locale's `strtoul()` on one part of an `inet_aton()` address: digits in base 8
/// (leading `0`), 16 (`0x`) or 10. Returns the value, the bytes used and whether there was a
/// digit.
fn inet_aton_part(s: &[u8]) -> Option<(u64, usize, bool)> {
    let (base, mut i, mut digit) = match s {
        [b'0', b'x' | b'X', ..] => (16, 2, false),
        [b'0', ..] => (8, 1, true),
        _ => (10, 0, false),
    };
    let mut val: u64 = 0;
    while let Some(&c) = s.get(i) {
        let v = match c {
            b'0'..=b'9' => u64::from(c - b'0'),
            b'a'..=b'f' if base == 16 => u64::from(c - b'a' + 10),
            b'A'..=b'F' if base == 16 => u64::from(c - b'A' + 10),
            _ => break,
        };
        if v >= base {
            return None;
        }
        val = val.checked_mul(base)?.checked_add(v)?;
        if val > u64::from(u32::MAX) {
            return None;
        }
        digit = true;
        i += 1;
    }
    Some((val, i, digit))
}

/// glibc `inet_aton_exact()`: dotted IPv4 in 1 to 4 parts (`a`, `a.b`, `a.b.c`, `a.b.c.d`, the
/// last part filling the remaining bytes), each part decimal, octal or hexadecimal, nothing
/// after it.
fn inet_aton_exact(s: &[u8]) -> Option<Ipv4Addr> {
    let mut parts: Vec<u64> = Vec::new();
    let mut rest = s;
    loop {
        if !rest.first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (val, used, digit) = inet_aton_part(rest)?;
        if !digit {
            return None;
        }
        rest = &rest[used..];
        match rest.first() {
            Some(b'.') => {
                if parts.len() >= 3 || val > 0xff {
                    return None;
                }
                parts.push(val);
                rest = &rest[1..];
            }
            None => {
                parts.push(val);
                break;
            }
            Some(_) => return None,
        }
    }

    let (last, head) = parts.split_last()?;
    let limit: u64 = match head.len() {
        0 => 0xffff_ffff,
        1 => 0xff_ffff,
        2 => 0xffff,
        _ => 0xff,
    };
    if *last > limit {
        return None;
    }
    let mut val = *last;
    for (i, p) in head.iter().enumerate() {
        val |= p << (24 - 8 * i);
    }
    u32::try_from(val).ok().map(Ipv4Addr::from)
}

/// glibc `getaddrinfo(s, NULL, AI_NUMERICHOST)`: an IPv4 address in `inet_aton()` form or an
/// IPv6 address (a `%scope` suffix is accepted and ignored).
fn getaddrinfo_numeric(s: &[u8]) -> Option<IpAddr> {
    if let Some(a) = inet_aton_exact(s) {
        return Some(IpAddr::V4(a));
    }
    let s = std::str::from_utf8(s).ok()?;
    let addr = s.split_once('%').map_or(s, |(a, _)| a);
    addr.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// C: config.c __initiator_match(): whether `peer` matches one of the comma-separated
/// entries of `str`: `ALL`, an address, `[ipv6]`, either with `/prefix`. An entry that is not
/// a numeric address ends the scan with no match.
fn __initiator_match(peer: &IpAddr, str: &[u8]) -> bool {
    let mut err = false;

    for item in str.split(|&c| c == b',') {
        let start = item
            .iter()
            .position(|&c| !is_c_blank(c))
            .unwrap_or(item.len());
        let p = &item[start..];

        if p == b"ALL" {
            return true;
        }

        // `[ipv6]`, or a plain address; a '/' after the address (after the ']' in the first
        // form) starts the prefix length.
        let (addr, mask) = if let Some(inner) = p.strip_prefix(b"[") {
            let Some(close) = inner.iter().position(|&c| c == b']') else {
                return false;
            };
            let after = &inner[close + 1..];
            let mask = after
                .iter()
                .position(|&c| c == b'/')
                .map(|s| &after[s + 1..]);
            (&inner[..close], mask)
        } else {
            match p.iter().position(|&c| c == b'/') {
                Some(s) => (&p[..s], Some(&p[s + 1..])),
                None => (p, None),
            }
        };

        let Some(rule) = getaddrinfo_numeric(addr) else {
            return false;
        };

        err = match mask {
            Some(m) => netmask_match(&rule, peer, m),
            None => address_match(&rule, peer),
        };

        if err {
            break;
        }
    }

    err
}

/// C: config.c initiator_match(): whether the rules file `filename` has a rule for target
/// `tid` that `peer` matches. Each line is `TARGET ADDRESSES`, where `TARGET` is a target
/// name or `ALL`; lines starting with `#` and lines without a blank are skipped. Only the
/// **first** line for the target (or `ALL`) counts. As C reads with `fgets()` into a 4096-byte
/// buffer and skips what does not end in a newline, a last line without a newline is ignored,
/// and a longer line is read in pieces of which only the last one (if it has a blank) counts.
/// A file that cannot be read has no rules. The file is read at every call.
fn initiator_match(d: &Daemon, tid: u32, peer: &IpAddr, filename: &str) -> bool {
    let Ok(content) = std::fs::read(filename) else {
        return false;
    };

    let mut rest: &[u8] = &content;
    while !rest.is_empty() {
        // One fgets(): through the newline, or BUFSIZE - 1 bytes.
        let n = rest
            .iter()
            .take(BUFSIZE - 1)
            .position(|&c| c == b'\n')
            .map_or_else(|| rest.len().min(BUFSIZE - 1), |i| i + 1);
        let (chunk, tail) = rest.split_at(n);
        rest = tail;

        // C works on the string up to its first NUL.
        let buf = chunk.split(|&c| c == 0).next().unwrap_or_default();
        if buf.first() == Some(&b'#') {
            continue;
        }
        let Some(buf) = buf.strip_suffix(b"\n") else {
            continue;
        };

        let Some(blank) = buf.iter().position(|&c| is_c_blank(c)) else {
            continue;
        };
        let (name, addrs) = (&buf[..blank], &buf[blank + 1..]);

        if target_find_id_by_name(d, &lossy(name)) != tid && name != b"ALL" {
            continue;
        }

        return __initiator_match(peer, addrs);
    }

    false
}

/// C: config.c config_initiator_access_allowed(): whether an initiator at `peer` may see /
/// log in to target `tid`: not if a rule of `/etc/initiators.deny` matches and no rule of
/// `/etc/initiators.allow` does.
pub fn config_initiator_access_allowed(d: &Daemon, tid: u32, peer: &IpAddr) -> bool {
    initiator_access_allowed_files(d, tid, peer, INITIATORS_DENY, INITIATORS_ALLOW)
}

/// [`config_initiator_access_allowed`] with the two rules files named.
fn initiator_access_allowed_files(
    d: &Daemon,
    tid: u32,
    peer: &IpAddr,
    deny: &str,
    allow: &str,
) -> bool {
    // Refused when a deny rule matches and no allow rule does.
    !initiator_match(d, tid, peer, deny) || initiator_match(d, tid, peer, allow)
}

// ---------------------------------------------------------------------------------------------
// Targets and parameters
// ---------------------------------------------------------------------------------------------

/// C: config.c config_target_create(): creates and adds target `name`, asking the driver for
/// id `tid` (0: any); returns the tid.
pub fn config_target_create(d: &mut Daemon, tid: u32, name: &str) -> Result<u32, Errno> {
    let target = target_create(d, name);
    target_add(d, target, tid, 0)
}

/// C: config.c config_target_destroy(): [`target_del`] of target `tid`.
pub fn config_target_destroy(
    d: &mut Daemon,
    tid: u32,
    handle_iscsi_events: &mut dyn FnMut(&mut Daemon) -> Result<(), Errno>,
) -> Result<(), Errno> {
    target_del(d, tid, 0, handle_iscsi_events)
}

/// C: config.c config_params_get(): the session (`type` = `key_session`) or target
/// parameters — of the live session `sid` from the driver, or for `sid` 0 the target's own
/// values. `EINVAL` for an unknown target.
pub fn config_params_get(
    d: &Daemon,
    tid: u32,
    sid: u64,
    r#type: u32,
    params: &mut [IscsiParam],
) -> Result<(), Errno> {
    if sid != 0 {
        return kernel_params_get(d, tid, sid, r#type, params);
    }

    let Some(target) = target_find_by_id(d, tid) else {
        log::error!("target {tid} not found");
        return Err(Errno::EINVAL);
    };

    let src: &[u32] = if r#type == key_session {
        &target.session_params[..session_key_last]
    } else {
        &target.target_params[..target_key_last]
    };
    for (p, v) in params.iter_mut().zip(src) {
        p.val = *v;
    }

    Ok(())
}

/// C: config.c config_params_set(): changes the session or target parameters selected by the
/// bit mask `partial` (0: all) — of the live session `sid` in the driver, or for `sid` 0 the
/// target's own values. The values are range-checked first (and clamped in `params`); one
/// out of range is `EINVAL` and nothing is changed. `EINVAL` for an unknown target.
pub fn config_params_set(
    d: &mut Daemon,
    tid: u32,
    sid: u64,
    r#type: u32,
    partial: u32,
    params: &mut [IscsiParam],
) -> Result<(), Errno> {
    if sid != 0 {
        return kernel_params_set(d, tid, sid, r#type, partial, params);
    }

    let (session_keys, target_keys) = (d.session_keys, d.target_keys);
    let Some(target) = target_find_by_id_mut(d, tid) else {
        log::error!("target {tid} not found");
        return Err(Errno::EINVAL);
    };

    let partial = if partial == 0 { u32::MAX } else { partial };

    let (keys, dst): (&[_], &mut [u32]) = if r#type == key_session {
        (&session_keys, &mut target.session_params)
    } else {
        (&target_keys, &mut target.target_params)
    };

    let selected = |i: usize| i < 32 && partial & (1u32 << i) != 0;
    for (i, p) in params.iter_mut().enumerate().take(dst.len()) {
        if selected(i) && params_check_val(keys, i, &mut p.val).is_err() {
            log::error!("Wrong value {} for parameter {}", p.val, keys[i].name);
            return Err(Errno::EINVAL);
        }
    }
    for (i, (v, p)) in dst.iter_mut().zip(params.iter()).enumerate() {
        if selected(i) {
            *v = p.val;
        }
    }

    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The configuration file
// ---------------------------------------------------------------------------------------------

/// How a run over the configuration text treats its lines.
enum Pass<'a> {
    /// C: log each bad line and go on.
    Lenient,
    /// Strict, first run: stop at the first bad line, change nothing lasting; collects the
    /// names of the targets the text would add.
    Check(&'a mut Vec<String>),
    /// Strict, second run: apply; collects the tids added, to undo them on failure.
    Apply(&'a mut Vec<u32>),
}

/// A bad line: its number and C's message.
type LineFail = (usize, String);

/// Reports a bad line: logged (lenient) or returned (strict).
fn config_fail(strict: bool, line: usize, msg: String) -> Result<(), LineFail> {
    if strict {
        Err((line, msg))
    } else {
        log::error!("{msg}");
        Ok(())
    }
}

/// The `target_add()` of a completed target of the text, declared on line `line`.
fn config_target_add(
    d: &mut Daemon,
    target: Target,
    line: usize,
    pass: &mut Pass<'_>,
) -> Result<(), LineFail> {
    let name = target.name.clone();
    match pass {
        Pass::Check(names) => {
            if target_find_by_name(d, &name).is_some()
                || names.iter().any(|n| n.eq_ignore_ascii_case(&name))
            {
                return Err((line, format!("duplicated target {name}")));
            }
            names.push(name);
            target_free(target);
            Ok(())
        }
        // target_add() has logged why; C frees the target and goes on.
        Pass::Lenient => target_add(d, target, 0, 0).map(drop).or(Ok(())),
        Pass::Apply(tids) => match target_add(d, target, 0, 0) {
            Ok(tid) => {
                tids.push(tid);
                Ok(())
            }
            Err(Errno::EEXIST) => Err((line, format!("duplicated target {name}"))),
            Err(e) => Err((line, format!("Can't create target {name}: {}", e.desc()))),
        },
    }
}

/// The loop of C's `config_parse_main()` over `data` in the way `pass` says.
fn config_parse_pass(d: &mut Daemon, data: &[u8], pass: &mut Pass<'_>) -> Result<(), LineFail> {
    let strict = !matches!(pass, Pass::Lenient);
    // C reads the text as a C string.
    let data = data.split(|&c| c == 0).next().unwrap_or_default();

    let mut offset = 0usize;
    let mut line = 1usize;
    let mut target: Option<(Target, usize)> = None;
    let mut global_section = true;
    // C's `val` lives across lines: a marker interval key, whose text C never parses, stores
    // whatever the previous numeric line left there (C: uninitialised before the first).
    let mut val: u32 = 0;

    loop {
        let start = offset;
        let Some(buf) = config_gets(data, &mut offset) else {
            break;
        };
        let this_line = line;
        line += data[start..offset].iter().filter(|&&c| c == b'\n').count();

        if strict
            && buf.len() == BUFSIZE - 1
            && !matches!(data.get(start + buf.len()), None | Some(b'\n' | b';'))
        {
            config_fail(
                strict,
                this_line,
                format!("Line longer than {} bytes", BUFSIZE - 1),
            )?;
        }

        let mut q = buf;
        let p_bytes = config_sep_string(&mut q);
        if p_bytes.first() == Some(&b'#') || p_bytes.is_empty() {
            continue;
        }
        let p = lossy(p_bytes);

        if p.eq_ignore_ascii_case("Target") {
            global_section = false;

            if let Some((t, tline)) = target.take() {
                config_target_add(d, t, tline, pass)?;
            }

            let name = config_sep_string(&mut q);
            if name.is_empty() {
                config_fail(strict, this_line, "Target name required".to_owned())?;
                continue;
            }

            let n = config_sep_string(&mut q);
            if !n.is_empty() {
                config_fail(
                    strict,
                    this_line,
                    format!("Unexpected parameter value {}", lossy(n)),
                )?;
                continue;
            }

            let name = lossy(name);
            log::debug!("Creating target {name}");
            target = Some((target_create(d, &name), this_line));
            continue;
        }

        if p.eq_ignore_ascii_case("Alias") && target.is_some() {
            continue;
        }

        // Target keys, then session keys: both only inside a target.
        let tkey = params_index_by_name(&p, &d.target_keys).ok();
        let skey = params_index_by_name(&p, &d.session_keys).ok();
        let keyed = match (&mut target, tkey, skey) {
            (Some((t, _)), Some(idx), _) => {
                Some((&d.target_keys[..], &mut t.target_params[..], idx))
            }
            (Some((t, _)), None, Some(idx)) => {
                Some((&d.session_keys[..], &mut t.session_params[..], idx))
            }
            _ => None,
        };
        if let Some((keys, values, idx)) = keyed {
            let str = lossy(config_sep_string(&mut q));

            let n = config_sep_string(&mut q);
            if !n.is_empty() {
                config_fail(
                    strict,
                    this_line,
                    format!("Unexpected parameter value {}", lossy(n)),
                )?;
                continue;
            }

            if params_str_to_val(keys, idx, &str, &mut val).is_err() {
                config_fail(
                    strict,
                    this_line,
                    format!("Wrong value {str} for parameter {}", keys[idx].name),
                )?;
                continue;
            }

            if params_check_val(keys, idx, &mut val).is_err() {
                config_fail(
                    strict,
                    this_line,
                    format!("Wrong value {val} for parameter {}", keys[idx].name),
                )?;
                continue;
            }
            values[idx] = val;
            continue;
        }

        if let Ok(idx) = params_index_by_name_numwild(&p, &user_keys) {
            if target.is_some() || global_section {
                let name = lossy(config_sep_string(&mut q));
                let pass_word = lossy(config_sep_string(&mut q));

                let n = config_sep_string(&mut q);
                if !n.is_empty() {
                    config_fail(
                        strict,
                        this_line,
                        format!("Unexpected parameter value {}", lossy(n)),
                    )?;
                    continue;
                }

                let dir = i32::try_from(idx).unwrap_or(i32::MAX);
                let Daemon {
                    discovery_users_in,
                    discovery_users_out,
                    ..
                } = d;
                let t = target.as_mut().map(|(t, _)| t);
                let target_name = t.as_ref().map(|t| t.name.clone());
                let list = account_list_get(discovery_users_in, discovery_users_out, t, dir);
                if let Err(f) = __config_account_add_to(
                    list,
                    target_name.as_deref(),
                    dir,
                    &name,
                    &pass_word,
                    Some(&p),
                    !matches!(pass, Pass::Check(_)),
                ) {
                    config_fail(strict, this_line, f.msg)?;
                }
                continue;
            }
        }

        if global_section
            && (p.eq_ignore_ascii_case(ISCSI_ISNS_SERVER_ATTR_NAME)
                || p.eq_ignore_ascii_case(ISCSI_ISNS_ACCESS_CONTROL_ATTR_NAME))
        {
            continue;
        }

        config_fail(
            strict,
            this_line,
            format!("Unknown or unexpected param: {p}"),
        )?;
    }

    if let Some((t, tline)) = target.take() {
        config_target_add(d, t, tline, pass)?;
    }

    Ok(())
}

/// Strict mode's first run over `data`: the first bad line, with nothing changed.
fn config_check(d: &mut Daemon, data: &[u8]) -> Result<(), LineFail> {
    let saved = (d.discovery_users_in.clone(), d.discovery_users_out.clone());
    let mut names = Vec::new();
    let res = config_parse_pass(d, data, &mut Pass::Check(&mut names));
    (d.discovery_users_in, d.discovery_users_out) = saved;
    res
}

/// C: config.c config_parse_main(): applies the configuration text `data` (see the module
/// doc): discovery accounts, targets with their keys and accounts, each target handed to the
/// driver.
///
/// `file` names the text's origin in errors. With `lenient`, bad lines are logged and skipped
/// as in C, and this cannot fail. Otherwise (the default for a file given with `-c`) the
/// first bad line is returned as [`ConfigError::Line`] and nothing is applied; if the driver
/// refuses a target while applying, the targets added so far are deleted again and the
/// discovery accounts restored, and the error names the `Target` line.
pub fn config_parse_main(
    d: &mut Daemon,
    data: &[u8],
    file: &str,
    lenient: bool,
) -> Result<(), ConfigError> {
    let line_err = |(line, reason): LineFail| ConfigError::Line {
        file: file.to_owned(),
        line,
        reason,
    };

    if lenient {
        return config_parse_pass(d, data, &mut Pass::Lenient).map_err(line_err);
    }

    config_check(d, data).map_err(line_err)?;

    let saved = (d.discovery_users_in.clone(), d.discovery_users_out.clone());
    let mut added = Vec::new();
    if let Err(e) = config_parse_pass(d, data, &mut Pass::Apply(&mut added)) {
        for tid in added {
            let _ = kernel_target_destroy(d, tid, 0);
            if let Some(pos) = d.targets_list.iter().position(|t| t.tid == tid) {
                target_free(d.targets_list.remove(pos));
            }
        }
        (d.discovery_users_in, d.discovery_users_out) = saved;
        return Err(line_err(e));
    }

    Ok(())
}

/// C: config.c config_isns_load(): the `iSNSServer` and `iSNSAccessControl` settings of the
/// text (anywhere in it; the last one wins). Access control is on for any value but `No`.
fn config_isns_load(d: &mut Daemon, config: &[u8]) {
    let config = config.split(|&c| c == 0).next().unwrap_or_default();
    let mut offset = 0;

    while let Some(buf) = config_gets(config, &mut offset) {
        let mut q = buf;
        let p = config_sep_string(&mut q);
        if p.is_empty() || p[0] == b'#' {
            continue;
        }
        let p = lossy(p);
        if p.eq_ignore_ascii_case(ISCSI_ISNS_SERVER_ATTR_NAME) {
            d.isns_server = Some(lossy(config_sep_string(&mut q)));
        } else if p.eq_ignore_ascii_case(ISCSI_ISNS_ACCESS_CONTROL_ATTR_NAME) {
            let str = config_sep_string(&mut q);
            d.isns_access_control = !str.eq_ignore_ascii_case(b"No");
        }
    }
}

/// C: config.c config_load(): reads the configuration file `config_name` (`-c`; `None`:
/// [`CONFIG_FILE`], which may be missing) and applies it: the iSNS settings, then
/// [`config_parse_main`].
///
/// A file given with `-c` is parsed strictly unless `lenient` (see the module doc); the
/// default file is parsed as C does. An unreadable file is [`ConfigError::Io`].
pub fn config_load(
    d: &mut Daemon,
    config_name: Option<&str>,
    lenient: bool,
) -> Result<(), ConfigError> {
    let cname = config_name.unwrap_or(CONFIG_FILE);

    let buf = match std::fs::read(cname) {
        Ok(buf) => buf,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config_name.is_none() => {
            log::debug!("Default config file {CONFIG_FILE} not found");
            return Ok(());
        }
        Err(e) => {
            let errno = e.raw_os_error().map_or(Errno::EIO, Errno::from_raw);
            log::error!("Open config file {cname} failed: {e}");
            return Err(ConfigError::Io {
                file: cname.to_owned(),
                errno,
            });
        }
    };

    let strict = config_name.is_some() && !lenient;
    if strict {
        // Nothing, not even the iSNS settings, is taken from a file with a bad line.
        config_check(d, &buf).map_err(|(line, reason)| ConfigError::Line {
            file: cname.to_owned(),
            line,
            reason,
        })?;
    }

    config_isns_load(d, &buf);
    if let Some(server) = &d.isns_server {
        log::error!("iSNS server {server} init failed: iSNS is not supported by this port");
    }

    config_parse_main(d, &buf, cname, !strict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctldev::fake::{daemon_with_fake, Call};
    use iscsi_scst::abi::*;

    fn tmp_path(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("iscsi_scstd-config-{}-{tag}", std::process::id()))
    }

    /// Writes `content` to a fresh temporary file and returns its path.
    fn tmp_file(tag: &str, content: &[u8]) -> String {
        let p = tmp_path(tag);
        std::fs::write(&p, content).unwrap();
        p.to_string_lossy().into_owned()
    }

    const GOOD: &str = "\
# iscsi-scstd.conf for two targets
IncomingUser disc-user disc-secret-123
OutgoingUser disc-out disc-out-secret1

Target iqn.2026-01.test:one
\tAlias first   # the rest of an Alias line is not read
\tIncomingUser joe joe-secret-1234
\tIncomingUser ann ann-secret-1234
\tOutgoingUser tgt tgt-secret-1234
\tInitialR2T No
\tImmediateData Yes
\tMaxRecvDataSegmentLength 65536
\tMaxOutstandingR2T=20
\tHeaderDigest CRC32C,None
\tDataDigest None
\tQueuedCommands 64
\tNopInInterval 0x10
\tMaxSessions 4
Target iqn.2026-01.test:two; InitialR2T Yes; FirstBurstLength 1024;RspTimeout 60
";

    #[test]
    fn good_file_two_targets() {
        let (mut d, fake) = daemon_with_fake("cfg-good");
        config_parse_main(&mut d, GOOD.as_bytes(), "good.conf", false).unwrap();

        assert_eq!(d.targets_list.len(), 2);
        let one = &d.targets_list[0];
        assert_eq!((one.name.as_str(), one.tid), ("iqn.2026-01.test:one", 1));
        assert!(one.tgt_enabled);
        assert_eq!(one.alias, None);
        let sp = &one.session_params;
        assert_eq!(sp[key_initial_r2t], 0);
        assert_eq!(sp[key_immediate_data], 1);
        assert_eq!(sp[key_max_recv_data_length], 65536);
        assert_eq!(sp[key_max_outstanding_r2t], 20);
        assert_eq!(sp[key_header_digest], 3);
        assert_eq!(sp[key_data_digest], 1);
        // Untouched keys keep the local defaults.
        assert_eq!(sp[key_first_burst_length], 65536);
        assert_eq!(sp[key_max_xmit_data_length], u32::MAX);
        assert_eq!(one.target_params, [64, 90, 16, 30, 4]);
        let users: Vec<_> = one
            .target_in_accounts
            .iter()
            .map(|a| {
                (
                    a.attr_key.as_str(),
                    ISCSI_USER_PASS(a),
                    a.sysfs_name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            users,
            [
                ("joe", "joe-secret-1234", "IncomingUser"),
                ("ann", "ann-secret-1234", "IncomingUser1")
            ]
        );
        assert_eq!(one.target_out_accounts[0].attr_key, "tgt");

        let two = &d.targets_list[1];
        assert_eq!((two.name.as_str(), two.tid), ("iqn.2026-01.test:two", 2));
        assert_eq!(two.session_params[key_initial_r2t], 1);
        assert_eq!(two.session_params[key_first_burst_length], 1024);
        assert_eq!(two.target_params, [32, 60, 30, 30, 0]);
        assert!(two.target_in_accounts.is_empty());

        assert_eq!(d.discovery_users_in[0].attr_key, "disc-user");
        assert_eq!(d.discovery_users_out[0].attr_key, "disc-out");

        // Exactly two ADD_TARGETs, in file order (the first at the second Target line).
        let names: Vec<_> = fake
            .take()
            .iter()
            .map(|c| match c {
                Call::AddTarget { info, .. } => cstr(&info.name).to_vec(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                b"iqn.2026-01.test:one".to_vec(),
                b"iqn.2026-01.test:two".to_vec()
            ]
        );
    }

    /// Each kind of line C logs and skips, the line it is on, and the exact reason.
    const BAD: &[(&str, usize, &str)] = &[
        ("Target\n", 1, "Target name required"),
        (
            "Target iqn.a extra\n",
            1,
            "Unexpected parameter value extra",
        ),
        (
            "# c\nTarget iqn.a\nMaxSessions 5 6\n",
            3,
            "Unexpected parameter value 6",
        ),
        (
            "Target iqn.a\nInitialR2T Maybe\n",
            2,
            "Wrong value Maybe for parameter InitialR2T",
        ),
        (
            "Target iqn.a\nHeaderDigest MD5\n",
            2,
            "Wrong value MD5 for parameter HeaderDigest",
        ),
        (
            "Target iqn.a\nDefaultTime2Wait 2\n",
            2,
            "Wrong value 0 for parameter DefaultTime2Wait",
        ),
        (
            "Target iqn.a\nQueuedCommands junk\n",
            2,
            "Wrong value 1 for parameter QueuedCommands",
        ),
        (
            "Target iqn.a\nRspTimeout 70000\n",
            2,
            "Wrong value 65535 for parameter RspTimeout",
        ),
        (
            "Target iqn.a; MaxOutstandingR2T 0\n",
            1,
            "Wrong value 1 for parameter MaxOutstandingR2T",
        ),
        ("Foo 1\n", 1, "Unknown or unexpected param: Foo"),
        (
            "MaxConnections 1\n",
            1,
            "Unknown or unexpected param: MaxConnections",
        ),
        ("Alias x\n", 1, "Unknown or unexpected param: Alias"),
        (
            "Target iqn.a\niSNSServer 10.0.0.1\n",
            2,
            "Unknown or unexpected param: iSNSServer",
        ),
        (
            "IncomingUser joe short\n",
            1,
            "Secret for user joe is too short. At least 12 bytes are required",
        ),
        ("IncomingUser joe\n", 1, "Name or password is NULL"),
        ("IncomingUser a b c d\n", 1, "Unexpected parameter value c"),
        (
            "Target iqn.a\nIncomingUser joe 123456789012\nIncomingUser joe 123456789013\n",
            3,
            "Attribute joe already exists",
        ),
        (
            "Target\nIncomingUser joe 123456789012\n",
            1,
            "Target name required",
        ),
        (
            "Target iqn.a\n\nTarget IQN.A\n",
            3,
            "duplicated target IQN.A",
        ),
        (
            "IncomingUser ok 123456789012\nTarget iqn.a\nInitialR2T Yes\nTarget iqn.b\nBogus\n",
            5,
            "Unknown or unexpected param: Bogus",
        ),
    ];

    #[test]
    fn strict_bad_lines_report_file_line_reason() {
        let (mut d, fake) = daemon_with_fake("cfg-strict-bad");
        for &(text, line, reason) in BAD {
            let err =
                config_parse_main(&mut d, text.as_bytes(), "/etc/x.conf", false).expect_err(text);
            assert_eq!(
                err,
                ConfigError::Line {
                    file: "/etc/x.conf".into(),
                    line,
                    reason: reason.into()
                },
                "{text:?}"
            );
            assert_eq!(err.to_string(), format!("/etc/x.conf:{line}: {reason}"));
            assert_eq!(err.exit_status(), 2);
            // Nothing applied.
            assert!(d.targets_list.is_empty(), "{text:?}");
            assert!(d.discovery_users_in.is_empty(), "{text:?}");
            assert!(fake.take().is_empty(), "{text:?}");
        }
    }

    #[test]
    fn strict_rejects_a_target_already_in_the_daemon() {
        let (mut d, fake) = daemon_with_fake("cfg-strict-dup");
        config_target_create(&mut d, 0, "iqn.a").unwrap();
        fake.take();
        let err = config_parse_main(&mut d, b"Target iqn.b\nTarget iqn.A\n", "f", false);
        assert_eq!(err.unwrap_err().to_string(), "f:2: duplicated target iqn.A");
        assert_eq!(d.targets_list.len(), 1);
        assert!(fake.take().is_empty());
    }

    #[test]
    fn strict_driver_refusal_rolls_back() {
        let (mut d, fake) = daemon_with_fake("cfg-strict-rollback");
        let text = "IncomingUser u 123456789012\nTarget iqn.a\nTarget iqn.refuse\nTarget iqn.c\n";
        let err = config_parse_main(&mut d, text.as_bytes(), "f", false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "f:3: Can't create target iqn.refuse: {}",
                Errno::ENOSPC.desc()
            )
        );
        assert!(d.targets_list.is_empty());
        assert!(d.discovery_users_in.is_empty());
        let calls = fake.take();
        assert!(matches!(&calls[..], [
            Call::AddTarget { .. },
            Call::AddTarget { .. },
            Call::DelTarget(i),
        ] if i.tid == 1));
    }

    #[test]
    fn lenient_logs_and_skips_like_c() {
        let (mut d, _fake) = daemon_with_fake("cfg-lenient");
        let text = "\
Foo bar
IncomingUser joe short
Target iqn.a
DefaultTime2Wait 2
DefaultTime2Retain 20
QueuedCommands junk
QueuedCommands 0x40x
MaxSessions 3 4
InitialR2T Maybe
ImmediateData No
NopInTimeout 5
Target
MaxSessions 9
Target iqn.b
Target iqn.A
";
        config_parse_main(&mut d, text.as_bytes(), "f", true).unwrap();
        let names: Vec<_> = d.targets_list.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["iqn.a", "iqn.b"]);
        let a = &d.targets_list[0];
        // Rejected by the range check: the previous value stays.
        assert_eq!(a.session_params[key_default_wait_time], 0);
        assert_eq!(a.session_params[key_default_retain_time], 0);
        // "junk" parses as 0, clamped to 1 and rejected; "0x40x" parses as 64.
        assert_eq!(a.target_params[key_queued_cmnds], 64);
        assert_eq!(a.target_params[key_max_sessions], 0);
        assert_eq!(a.target_params[key_nop_in_timeout], 5);
        assert_eq!(a.session_params[key_initial_r2t], 0);
        assert_eq!(a.session_params[key_immediate_data], 0);
        assert!(d.discovery_users_in.is_empty());
    }

    #[test]
    fn lenient_quirks() {
        let (mut d, _fake) = daemon_with_fake("cfg-quirks");
        // A marker interval is never parsed: it takes the value of the previous numeric line.
        // A key without a value parses as 0.
        let text = "Target iqn.a\nMaxSessions 7\nOFMarkInt 100\nNopInInterval\n";
        config_parse_main(&mut d, text.as_bytes(), "f", true).unwrap();
        let a = &d.targets_list[0];
        assert_eq!(a.session_params[key_ofmarkint], 7);
        assert_eq!(a.target_params[key_nop_in_interval], 0);
    }

    #[test]
    fn long_lines() {
        let long = format!("Target iqn.a\nNopInInterval {}5 junk\n", " ".repeat(4081));
        // C: the line is cut after 4095 bytes, the 4096th (the '5') is lost, " junk" follows
        // as a line of its own.
        let (mut d, _fake) = daemon_with_fake("cfg-long");
        config_parse_main(&mut d, long.as_bytes(), "f", true).unwrap();
        assert_eq!(d.targets_list[0].target_params[key_nop_in_interval], 0);

        let mut d2 = Daemon::new();
        let err = config_parse_main(&mut d2, long.as_bytes(), "f", false).unwrap_err();
        assert_eq!(err.to_string(), "f:2: Line longer than 4095 bytes");
    }

    #[test]
    fn sep_string_and_gets() {
        let mut q: &[u8] = b"  MaxSessions = 5\tx";
        assert_eq!(config_sep_string(&mut q), b"MaxSessions");
        assert_eq!(config_sep_string(&mut q), b"5");
        assert_eq!(config_sep_string(&mut q), b"x");
        assert_eq!(config_sep_string(&mut q), b"");
        assert_eq!(config_sep_string(&mut q), b"");

        let data = b"a;b\n\nc";
        let mut off = 0;
        let mut lines = Vec::new();
        while let Some(l) = config_gets(data, &mut off) {
            lines.push(l.to_vec());
        }
        assert_eq!(
            lines,
            [b"a".to_vec(), b"b".to_vec(), b"".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn config_load_reads_files() {
        let (mut d, _fake) = daemon_with_fake("cfg-load");
        let good = tmp_file(
            "good",
            b"iSNSServer 10.1.1.1\niSNSAccessControl No\nTarget iqn.a\n",
        );
        config_load(&mut d, Some(&good), false).unwrap();
        assert_eq!(d.targets_list.len(), 1);
        assert_eq!(d.isns_server.as_deref(), Some("10.1.1.1"));
        assert!(!d.isns_access_control);

        let bad = tmp_file(
            "bad",
            b"iSNSServer 10.2.2.2\nTarget iqn.b\nMaxSessions x y\n",
        );
        let err = config_load(&mut d, Some(&bad), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{bad}:3: Unexpected parameter value y")
        );
        assert_eq!(d.targets_list.len(), 1);
        assert_eq!(d.isns_server.as_deref(), Some("10.1.1.1"));

        // Lenient: C's behaviour.
        config_load(&mut d, Some(&bad), true).unwrap();
        assert_eq!(d.targets_list.len(), 2);
        assert_eq!(d.isns_server.as_deref(), Some("10.2.2.2"));
        // Only changed by an iSNSAccessControl line.
        assert!(!d.isns_access_control);

        let missing = tmp_path("missing").to_string_lossy().into_owned();
        let err = config_load(&mut d, Some(&missing), false).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Io {
                file: missing.clone(),
                errno: Errno::ENOENT
            }
        );
        assert_eq!(err.exit_status(), 1);
        for p in [good, bad] {
            std::fs::remove_file(p).unwrap();
        }
    }

    #[test]
    fn accounts() {
        let (mut d, _fake) = daemon_with_fake("cfg-accounts");
        let tid = config_target_create(&mut d, 0, "iqn.a").unwrap();
        let inc = ISCSI_USER_DIR_INCOMING;
        let out = ISCSI_USER_DIR_OUTGOING;

        assert!(accounts_empty(&d, tid, inc));
        assert!(accounts_empty(&d, 0, inc));
        // An unknown target counts as having accounts.
        assert!(!accounts_empty(&d, 99, inc));

        config_account_add(&mut d, tid, inc, "joe", "joe-secret-12", None).unwrap();
        config_account_add(&mut d, tid, inc, "ann", "ann-secret-12", None).unwrap();
        config_account_add(
            &mut d,
            tid,
            inc,
            "bob",
            "bob-secret-12",
            Some("IncomingUser"),
        )
        .unwrap();
        assert_eq!(
            config_account_add(&mut d, tid, inc, "joe", "other-secret", None),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            config_account_add(&mut d, tid, inc, "x", "short", None),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            config_account_add(&mut d, 99, inc, "x", "long-enough-secret", None),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            config_account_add(&mut d, tid, 2, "x", "long-enough-secret", None),
            Err(Errno::EINVAL)
        );
        let sysfs: Vec<_> = d.targets_list[0]
            .target_in_accounts
            .iter()
            .map(|a| a.sysfs_name.as_str())
            .collect();
        assert_eq!(sysfs, ["IncomingUser", "IncomingUser1", "IncomingUser2"]);
        assert!(!accounts_empty(&d, tid, inc));

        assert_eq!(
            config_account_query(&d, tid, inc, "ann").unwrap(),
            "ann-secret-12"
        );
        assert_eq!(
            config_account_query(&d, tid, inc, "zed"),
            Err(Errno::ENOENT)
        );
        assert_eq!(config_account_query(&d, 0, inc, "ann"), Err(Errno::ENOENT));
        assert_eq!(account_get_first(&d, tid, inc).unwrap().attr_key, "joe");
        assert!(account_get_first(&d, 0, inc).is_none());
        assert_eq!(
            account_lookup_by_sysfs_name(&d, Some(&d.targets_list[0]), inc, "IncomingUser2")
                .unwrap()
                .attr_key,
            "bob"
        );

        let mut buf = vec![0u8; 2 * ISCSI_NAME_LEN];
        assert_eq!(config_account_list(&d, tid, inc, &mut buf), Ok((2, 1)));
        assert_eq!(cstr(&buf[..ISCSI_NAME_LEN]), b"joe");
        assert_eq!(cstr(&buf[ISCSI_NAME_LEN..]), b"ann");
        assert_eq!(
            config_account_list(&d, 99, inc, &mut buf),
            Err(Errno::ENOENT)
        );

        // One outgoing account only: a second replaces the first.
        config_account_add(&mut d, 0, out, "o1", "o1-secret-123", None).unwrap();
        config_account_add(&mut d, 0, out, "o2", "o2-secret-123", None).unwrap();
        let outs: Vec<_> = d
            .discovery_users_out
            .iter()
            .map(|a| a.attr_key.as_str())
            .collect();
        assert_eq!(outs, ["o2"]);
        assert_eq!(d.discovery_users_out[0].sysfs_name, "OutgoingUser");

        assert_eq!(config_account_del(&mut d, tid, inc, "ann"), Ok(()));
        assert_eq!(
            config_account_del(&mut d, tid, inc, "ann"),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            config_account_del(&mut d, 99, inc, "joe"),
            Err(Errno::ESRCH)
        );
        assert_eq!(config_account_del(&mut d, 0, out, "o2"), Ok(()));
        assert!(accounts_empty(&d, 0, out));

        // Replacing through the sysfs name.
        account_replace(&mut d, tid, inc, "IncomingUser", "jim jim-secret-12").unwrap();
        assert_eq!(
            config_account_query(&d, tid, inc, "jim").unwrap(),
            "jim-secret-12"
        );
        assert_eq!(
            account_replace(&mut d, tid, inc, "IncomingUser", "bob x"),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            account_replace(&mut d, tid, inc, "Nope", "a b"),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn attr_create_sysfs_names() {
        let mut l = Vec::new();
        iscsi_attr_create(&mut l, Some("P"), "a", Some(""), 0o644).unwrap();
        iscsi_attr_create(&mut l, Some("P"), "b", Some("v"), 0o644).unwrap();
        iscsi_attr_create(&mut l, None, "c", None, 0o644).unwrap();
        assert_eq!(l[0].attr_value, None);
        assert_eq!(l[1].attr_value.as_deref(), Some("v"));
        assert_eq!(
            l.iter().map(|a| a.sysfs_name.as_str()).collect::<Vec<_>>(),
            ["P", "P1", ""]
        );
        // A template that leaves no room for a number: C loops forever, here EINVAL.
        let long = "N".repeat(63);
        iscsi_attr_create(&mut l, Some(&long), "d", None, 0).unwrap();
        assert_eq!(
            iscsi_attr_create(&mut l, Some(&long), "e", None, 0).unwrap_err(),
            Errno::EINVAL
        );
        iscsi_attr_destroy(&mut l, "b");
        assert_eq!(l.len(), 3);
        iscsi_attrs_free(&mut l);
        assert!(l.is_empty());
    }

    #[test]
    fn params_get_and_set() {
        let (mut d, fake) = daemon_with_fake("cfg-params");
        let tid = config_target_create(&mut d, 0, "iqn.a").unwrap();
        fake.take();

        let mut sp = [IscsiParam::default(); session_key_last];
        config_params_get(&d, tid, 0, key_session, &mut sp).unwrap();
        assert_eq!(sp[key_first_burst_length].val, 65536);
        assert_eq!(
            config_params_get(&d, 99, 0, key_session, &mut sp),
            Err(Errno::EINVAL)
        );

        let mut tp = [IscsiParam::default(); target_key_last];
        config_params_get(&d, tid, 0, key_target, &mut tp).unwrap();
        tp[key_max_sessions].val = 8;
        tp[key_rsp_timeout].val = 1; // out of range, but not selected
        config_params_set(&mut d, tid, 0, key_target, 1 << key_max_sessions, &mut tp).unwrap();
        assert_eq!(d.targets_list[0].target_params, [32, 90, 30, 30, 8]);

        // All selected: one bad value refuses everything and is clamped in place.
        tp[key_queued_cmnds].val = 5;
        assert_eq!(
            config_params_set(&mut d, tid, 0, key_target, 0, &mut tp),
            Err(Errno::EINVAL)
        );
        assert_eq!(tp[key_rsp_timeout].val, 2);
        assert_eq!(d.targets_list[0].target_params, [32, 90, 30, 30, 8]);

        // A live session goes to the driver.
        config_params_set(&mut d, tid, 0x77, key_target, 0, &mut tp).unwrap();
        config_params_get(&d, tid, 0x77, key_session, &mut sp).unwrap();
        assert_eq!(sp[0].val, 100);
        let calls = fake.take();
        assert!(matches!(&calls[..], [Call::ParamSet(_), Call::ParamGet(_)]));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn initiator_entries_match() {
        let peer = ip("192.168.1.20");
        let m = |s: &str| __initiator_match(&peer, s.as_bytes());
        assert!(m("ALL"));
        assert!(m("10.0.0.1, ALL"));
        assert!(m("192.168.1.20"));
        assert!(m("10.0.0.1,192.168.1.20"));
        assert!(m("192.168.1.0/24"));
        assert!(m("192.168.0.0/16"));
        assert!(!m("192.168.2.0/24"));
        // Host bits in the rule: never matches.
        assert!(!m("192.168.1.1/24"));
        // /0 acts as /32 (C's shift by 32 on x86); /32 is out of range.
        assert!(!m("0.0.0.0/0"));
        assert!(m("192.168.1.20/0"));
        assert!(!m("192.168.1.20/32"));
        assert!(!m("192.168.1.0/-1"));
        // inet_aton forms.
        assert!(m("0xc0.0250.1.20"));
        assert!(m("192.168.276"));
        // A bad entry ends the scan.
        assert!(!m("bogus, 192.168.1.20"));
        assert!(!m("192.168.1.20 "));
        assert!(m("192.168.1.20, bogus"));
        // The other family never matches.
        assert!(!m("[::ffff:192.168.1.20]"));

        let peer6 = ip("fe80::1:2");
        let m6 = |s: &str| __initiator_match(&peer6, s.as_bytes());
        assert!(m6("[fe80::1:2]"));
        assert!(m6("fe80::1:2"));
        assert!(m6("[fe80::]/64"));
        assert!(m6("[fe80::1:0]/120"));
        assert!(!m6("[fe80::1:0]/127"));
        assert!(m6("[::]/0"));
        assert!(m6("[fe80::1:2%eth0]"));
        assert!(!m6("[fe80::1:2"));
        assert!(!m6("192.168.1.20"));
    }

    #[test]
    fn initiators_allow_deny_files() {
        let (mut d, _fake) = daemon_with_fake("cfg-initiators");
        let a = config_target_create(&mut d, 0, "iqn.a").unwrap();
        let b = config_target_create(&mut d, 0, "iqn.b").unwrap();
        let peer = ip("10.0.0.5");
        let other = ip("10.0.1.5");

        let deny = tmp_file("deny", b"# comment\niqn.a 10.0.0.0/24\nALL ALL\n");
        let allow = tmp_file("allow", b"iqn.A 10.0.0.5\niqn.a 10.0.0.6\n");
        let allowed = |tid, p: &IpAddr| initiator_access_allowed_files(&d, tid, p, &deny, &allow);
        // Denied by the first iqn.a line, but allowed by the first allow line for it.
        assert!(allowed(a, &peer));
        // The second allow line for iqn.a is never read.
        assert!(!allowed(a, &ip("10.0.0.6")));
        // Neither is the ALL line of the deny file: iqn.a's own line came first.
        assert!(allowed(a, &other));
        // iqn.b: denied by ALL ALL, no allow line.
        assert!(!allowed(b, &peer));

        // No files: everything is allowed.
        let none = tmp_path("none").to_string_lossy().into_owned();
        assert!(initiator_access_allowed_files(&d, b, &peer, &none, &none));

        // A last line without a newline is ignored.
        std::fs::write(&deny, b"iqn.b 10.0.0.5").unwrap();
        assert!(allowed(b, &peer));
        // A line without a blank is skipped, so the next counts.
        std::fs::write(&deny, b"iqn.b\niqn.b\t10.0.0.5\n").unwrap();
        assert!(!allowed(b, &peer));
        for p in [deny, allow] {
            std::fs::remove_file(p).unwrap();
        }
    }
}
