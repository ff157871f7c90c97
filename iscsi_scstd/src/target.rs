// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2002 - 2003 Ardis Technolgies <roman@ardistech.com>
// Copyright (C) 2007 - 2016 Vladislav Bolkhovitin
// Copyright (C) 2007 - 2016 SanDisk Corporation
// Copyright (C) 2026 The scst-rs authors
//! The daemon's targets: the port of `iscsi-scst/usr/target.c`.
//!
//! The target list is [`Daemon::targets_list`]. A target is created detached with
//! [`target_create`] (which gives it the current default key values), configured, and made
//! known to the driver and the list with [`target_add`] (`ADD_TARGET`); [`target_del`] removes
//! it again once its sessions are gone.
//!
//! Adapted for the port: [`target_add`] takes the target by value and drops it on failure,
//! which is what every C caller does with `target_free()` after a failed `target_add()`;
//! [`target_redirected`] takes the local address instead of the connection and returns the
//! `TargetAddress` value for the caller to add (`login_start()` does). [`target_list_build`]
//! (SendTargets) takes the listen addresses from [`Daemon::listen_addrs`] and the interface
//! addresses from the [`Daemon::getifaddrs`] hook, which stand for C's listen sockets and
//! `getifaddrs()`. iSNS is not ported, so the `isns_target_register()` /
//! `isns_target_deregister()` calls are left out, and its access checks always allow.
#![doc(alias = "target.c")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use iscsi_scst::abi::ISCSI_NAME_LEN;
use kemu::Errno;

use crate::ctldev::{kernel_initiator_allowed, kernel_target_create, kernel_target_destroy};
use crate::iscsid::{
    conn_initiator_access_allowed, text_key_add, truncate_str, Connection, Daemon, RedirectAddr,
    Target, LISTEN_MAX,
};
use crate::param::params_set_defaults;

/// C: target.c iscsi_make_full_initiator_name(): the name the driver's ACLs know the
/// initiator by — `initiator#portal` when the target has per-portal ACLs, else the initiator
/// name. (C writes into the caller's buffer, truncating; the ABI setters truncate here.)
pub fn iscsi_make_full_initiator_name(
    per_portal_acl: bool,
    initiator_name: &str,
    target_portal: &str,
) -> String {
    if per_portal_acl {
        format!("{initiator_name}#{target_portal}")
    } else {
        initiator_name.to_owned()
    }
}

/// C: target.c __wildcmp(): DOS-style matching of `string` against `wild` without regard to
/// ASCII case: `*` matches any run of characters, `?` any one character. At the outermost level
/// (`recursion_level` 0) a `!` inverts the result of matching the rest of the pattern; further
/// `!`s are ordinary characters. (SCST core has a copy of the same matcher.)
fn __wildcmp(wild: &[u8], string: &[u8], recursion_level: i32) -> bool {
    // C walks NUL-terminated strings; reading past the end gives the terminator.
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut w, mut s) = (0usize, 0usize);
    let (mut cp, mut mp) = (0usize, 0usize);

    while at(string, s) != 0 && at(wild, w) != b'*' {
        if at(wild, w) == b'!' && recursion_level == 0 {
            return !__wildcmp(wild.get(w + 1..).unwrap_or_default(), &string[s..], 1);
        }
        if !at(wild, w).eq_ignore_ascii_case(&at(string, s)) && at(wild, w) != b'?' {
            return false;
        }
        w += 1;
        s += 1;
    }

    while at(string, s) != 0 {
        if at(wild, w) == b'!' && recursion_level == 0 {
            return !__wildcmp(wild.get(w + 1..).unwrap_or_default(), &string[s..], 1);
        }
        if at(wild, w) == b'*' {
            w += 1;
            if at(wild, w) == 0 {
                return true;
            }
            mp = w;
            cp = s + 1;
        } else if at(wild, w).eq_ignore_ascii_case(&at(string, s)) || at(wild, w) == b'?' {
            w += 1;
            s += 1;
        } else {
            w = mp;
            s = cp;
            cp += 1;
        }
    }

    while at(wild, w) == b'*' {
        w += 1;
    }
    at(wild, w) == 0
}

/// C: target.c wildcmp(): whether `string` matches the pattern `wild` (see `__wildcmp`).
fn wildcmp(wild: &str, string: &str) -> bool {
    __wildcmp(wild.as_bytes(), string.as_bytes(), 0)
}

/// C: target.c target_portal_allowed(): whether an initiator may log in to `target` through
/// `target_portal`.
///
/// First the target's `allowed_portals` patterns, if any: with positive patterns only, one
/// must match; with negative (`!…`) patterns only, none may match; with both, one positive must
/// match and no negative. Then the driver decides whether the initiator has LUNs there
/// (`ISCSI_INITIATOR_ALLOWED`); a failed ioctl counts as "no".
pub fn target_portal_allowed(
    d: &Daemon,
    target: &Target,
    target_portal: &str,
    initiator_name: &str,
) -> bool {
    if !target.allowed_portals.is_empty() {
        let mut any_pos_cond = false;
        let mut pos_match = false;
        let mut neg_match = true;

        for attr in &target.allowed_portals {
            let m = wildcmp(&attr.attr_key, target_portal);
            if !attr.attr_key.starts_with('!') {
                any_pos_cond = true;
                pos_match = pos_match || m;
            } else {
                neg_match = neg_match && m;
            }
        }
        if !((!any_pos_cond || pos_match) && neg_match) {
            return false;
        }
    }

    let full_initiator_name =
        iscsi_make_full_initiator_name(target.per_portal_acl, initiator_name, target_portal);
    kernel_initiator_allowed(d, target.tid, &full_initiator_name).unwrap_or(false)
}

/// C: target.c is_addr_loopback(): whether the numeric address `addr` is a loopback one
/// (IPv4: starting with `127.`; IPv6: `::1`). Anything that is not a numeric address is not.
fn is_addr_loopback(addr: &str) -> bool {
    if addr.parse::<Ipv4Addr>().is_ok() {
        return addr.starts_with("127.");
    }
    if let Ok(a) = addr.parse::<Ipv6Addr>() {
        return a.is_loopback();
    }
    false
}

/// C: target.c is_addr_unspecified(): whether the numeric address `addr` is the wildcard
/// address (`0.0.0.0` or `::`).
fn is_addr_unspecified(addr: &str) -> bool {
    if let Ok(a) = addr.parse::<Ipv4Addr>() {
        return a.is_unspecified();
    }
    if let Ok(a) = addr.parse::<Ipv6Addr>() {
        return a.is_unspecified();
    }
    false
}

/// An address family as `target_list_build()` compares them (C `AF_INET`, `AF_INET6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// C `AF_INET`.
    Inet,
    /// C `AF_INET6`.
    Inet6,
}

impl Family {
    fn of(ip: &IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

/// C: target.c target_print_addr(): answers `TargetAddress=<addr>:<port>,1` (`[addr]` for
/// IPv6); the port is the daemon's listen port (C `server_port`, passed in) and the portal
/// group tag is always 1.
fn target_print_addr(conn: &mut Connection, addr: &str, family: Family, server_port: u16) {
    let taddr = match family {
        Family::Inet => format!("{addr}:{server_port},1"),
        Family::Inet6 => format!("[{addr}]:{server_port},1"),
    };

    text_key_add(conn, "TargetAddress", taddr);
}

/// C: target.c target_list_build_ifaddrs(): for a wildcard listen socket, one
/// `TargetAddress` per interface address of `family` (the daemon's `getifaddrs` hook), except
/// `exclude_addr` (the portal already listed), loopback addresses and portals the target does
/// not allow to the initiator.
///
/// C ignores a failing `getifaddrs()` (and then walks an unset list); here it lists nothing.
/// IPv6 addresses are written without a `%scope` suffix.
fn target_list_build_ifaddrs(
    d: &Daemon,
    conn: &mut Connection,
    target: &Target,
    exclude_addr: &str,
    family: Family,
) {
    let ifaddrs = match d.getifaddrs.map(|f| f()) {
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            log::error!("getifaddrs() failed: {}", e.desc());
            return;
        }
        None => return,
    };
    let initiator = conn.initiator.clone().unwrap_or_default();

    for ifa in ifaddrs.iter().filter(|a| Family::of(a) == family) {
        let if_addr = ifa.to_string();

        if exclude_addr != if_addr
            && !is_addr_loopback(&if_addr)
            && target_portal_allowed(d, target, &if_addr, &initiator)
        {
            target_print_addr(conn, &if_addr, family, d.server_port);
        }
    }
}

/// C: target.c target_list_build(): the SendTargets answer: for each enabled target the
/// initiator may see (`target_name`: only the target of exactly that name), `TargetName=`,
/// then `TargetAddress=` for the portal the connection arrived on, then one for each other
/// listen address ([`Daemon::listen_addrs`], C's listen sockets) of the same address family
/// that the target allows — a wildcard listen address stands for all interface addresses
/// (`target_list_build_ifaddrs()`); loopback addresses are left out.
///
/// The family is that of the connection's local address (its `getsockname` hook); without
/// one nothing is listed. iSNS is not ported, so its access check always allows.
pub fn target_list_build(d: &Daemon, conn: &mut Connection, target_name: Option<&[u8]>) {
    let ss1 = match conn.getsockname.map(|f| f(conn.fd)) {
        Some(Ok(ss1)) => ss1,
        Some(Err(e)) => {
            log::error!("getsockname failed: {}", e.desc());
            return;
        }
        None => {
            log::error!("getsockname failed: no socket");
            return;
        }
    };

    let family = Family::of(&ss1.ip());
    let portal = conn.target_portal.clone().unwrap_or_default();
    let initiator = conn.initiator.clone().unwrap_or_default();

    for target in &d.targets_list {
        if target_name.is_some_and(|n| target.name.as_bytes() != n) {
            continue;
        }

        if !target.tgt_enabled
            || !conn_initiator_access_allowed(d, conn, target.tid)
            || !target_portal_allowed(d, target, &portal, &initiator)
        {
            continue;
        }

        text_key_add(conn, "TargetName", &target.name);
        target_print_addr(conn, &portal, family, d.server_port);

        for ss2 in d.listen_addrs.iter().take(LISTEN_MAX) {
            if Family::of(&ss2.ip()) != family {
                continue;
            }
            let listen_portal = ss2.ip().to_string();

            if is_addr_unspecified(&listen_portal) {
                target_list_build_ifaddrs(d, conn, target, &portal, family);
            } else if portal != listen_portal
                && !is_addr_loopback(&listen_portal)
                && target_portal_allowed(d, target, &listen_portal, &initiator)
            {
                target_print_addr(conn, &listen_portal, family, d.server_port);
            }
        }
    }
}

/// C: target.c target_find_id_by_name(): the tid of the target called `name` (compared
/// without regard to ASCII case), 0 if there is none.
pub fn target_find_id_by_name(d: &Daemon, name: &str) -> u32 {
    target_find_by_name(d, name).map_or(0, |t| t.tid)
}

/// C: target.c target_find_by_name(): the target called `name`, compared without regard to
/// ASCII case (C `strcasecmp`).
pub fn target_find_by_name<'a>(d: &'a Daemon, name: &str) -> Option<&'a Target> {
    d.targets_list
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
}

/// C: target.c target_find_by_id(): the target with id `tid`.
pub fn target_find_by_id(d: &Daemon, tid: u32) -> Option<&Target> {
    d.targets_list.iter().find(|t| t.tid == tid)
}

/// C: target.c target_find_by_id(), for changing the target.
pub fn target_find_by_id_mut(d: &mut Daemon, tid: u32) -> Option<&mut Target> {
    d.targets_list.iter_mut().find(|t| t.tid == tid)
}

/// C: target.c target_del(): deletes target `tid` from the driver (`DEL_TARGET`) and, once
/// its sessions are gone, from the daemon.
///
/// The driver closes the target's sessions; the daemon learns of each closed connection from
/// a netlink event. `handle_iscsi_events` stands for C's `handle_iscsi_events(nl_fd, false)`
/// (`event.c`, not ported yet): it handles one pending event and returns `Ok`, or returns an
/// error when none is pending. It is drained, then the target's session list is checked, and
/// this repeats every 50 ms until the list is empty (or an event handler freed the target).
///
/// `ENOENT` from the driver is fine when the daemon knows the target (and success when neither
/// does: a leftover driver object was removed); other driver errors are returned.
pub fn target_del(
    d: &mut Daemon,
    tid: u32,
    cookie: u32,
    handle_iscsi_events: &mut dyn FnMut(&mut Daemon) -> Result<(), Errno>,
) -> Result<(), Errno> {
    let err = kernel_target_destroy(d, tid, cookie);

    if let Err(e) = err {
        if e != Errno::ENOENT {
            return Err(e);
        }
    }

    let known = target_find_by_id(d, tid).is_some();
    if err.is_ok() && !known {
        // The driver had a leftover target the daemon did not know: nothing to complain about.
        return Ok(());
    }
    if !known {
        return Err(Errno::ENOENT);
    }

    loop {
        // Closing the sessions produces events; handle whatever has arrived.
        while handle_iscsi_events(d).is_ok() {}

        // An event handler may have freed the target meanwhile.
        let Some(target) = target_find_by_id(d, tid) else {
            log::info!("target_del: the target with tid = {tid} was already freed");
            return Ok(());
        };

        if target.sessions_list.is_empty() {
            break;
        }

        log::debug!("Target {tid} has sessions, keep waiting");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The target leaves the list only now: the session removal above looks it up there.
    if let Some(pos) = d.targets_list.iter().position(|t| t.tid == tid) {
        let target = d.targets_list.remove(pos);
        target_free(target);
    }

    Ok(())
}

/// C: target.c target_free(): frees a target with its account and portal lists (dropping it).
pub fn target_free(target: Target) {
    drop(target);
}

/// C: target.c target_create(): a new target called `name` (cut to `ISCSI_NAME_LEN - 1`
/// bytes), not yet in the list, with the default target and session key values of `d`'s key
/// tables.
///
/// C copies `sizeof(name) - 1` bytes whatever the source length (a read past short names,
/// fixed upstream later by a `strncpy`), and fails with a positive `EINVAL` for a NULL name;
/// neither applies here, so this cannot fail.
pub fn target_create(d: &Daemon, name: &str) -> Target {
    let mut target = Target {
        sessions_list: Vec::new(),
        tgt_enabled: false,
        per_portal_acl: false,
        target_params: [0; iscsi_scst::abi::target_key_last],
        session_params: [0; iscsi_scst::abi::session_key_last],
        tid: 0,
        name: truncate_str(name, ISCSI_NAME_LEN - 1).to_owned(),
        alias: None,
        sessions_count: 0,
        redirect: RedirectAddr::default(),
        target_in_accounts: Vec::new(),
        target_out_accounts: Vec::new(),
        allowed_portals: Vec::new(),
    };

    params_set_defaults(&mut target.target_params, &d.target_keys);
    params_set_defaults(&mut target.session_params, &d.session_keys);

    target
}

/// C: target.c target_add(): registers `target` with the driver (`ADD_TARGET`, asking for
/// `tid`, 0 to let the driver choose) and appends it to the list; returns the tid.
///
/// A name already in the list (compared without regard to case) is `EEXIST`. In the procfs
/// build the target is enabled right away. On failure the target is dropped (C's callers
/// `target_free()` it).
pub fn target_add(d: &mut Daemon, mut target: Target, tid: u32, cookie: u32) -> Result<u32, Errno> {
    if target_find_by_name(d, &target.name).is_some() {
        log::error!("duplicated target {}", target.name);
        return Err(Errno::EEXIST);
    }

    let tid = kernel_target_create(d, &mut target, tid, cookie)?;

    target.tgt_enabled = true;
    d.targets_list.push(target);

    Ok(tid)
}

/// C: target.c target_redirected(): whether logins to `target` arriving at the local address
/// `local` are to be redirected; if so, the `TargetAddress` value (`addr:port`) to send.
///
/// Nothing is redirected without a redirect address or when the redirect address is the
/// address the login arrived at (IPv6 addresses in brackets, without a `%scope`). C adds the
/// `TargetAddress` key itself and gets the local address with `getsockname()` on the
/// connection; here the caller does both.
pub fn target_redirected(target: &Target, local: &SocketAddr) -> Option<String> {
    if target.redirect.addr.is_empty() {
        return None;
    }

    let addr = match local {
        SocketAddr::V6(sa) => format!("[{}]", sa.ip()),
        SocketAddr::V4(sa) => sa.ip().to_string(),
    };

    let redirect = format!("{}:{}", target.redirect.addr, target.redirect.port);

    (target.redirect.addr != addr).then_some(redirect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctldev::fake::{daemon_with_fake, Call};
    use crate::iscsid::{IscsiAttr, Session};

    #[test]
    fn wildcmp_matches_like_c() {
        assert!(wildcmp("bl?h.*", "blah.jpg"));
        assert!(!wildcmp("bl!?h.*", "blah.jpg"));
        assert!(wildcmp("10.0.0.*", "10.0.0.5"));
        assert!(!wildcmp("10.0.0.*", "10.0.1.5"));
        assert!(wildcmp("*", ""));
        assert!(wildcmp("", ""));
        assert!(!wildcmp("", "a"));
        assert!(wildcmp("IQN.*", "iqn.2026-01.x"));
        assert!(wildcmp("!10.*", "192.168.0.1"));
        assert!(!wildcmp("!10.*", "10.1.1.1"));
        assert!(wildcmp("a*b*c", "aXXbYYc"));
        assert!(!wildcmp("a*b*c", "aXXbYY"));
        // Only the first '!' inverts; a later one is an ordinary character.
        assert!(wildcmp("!a!b", "xyz"));
        assert!(!wildcmp("!a!b", "a!b"));
    }

    #[test]
    fn full_initiator_name() {
        assert_eq!(
            iscsi_make_full_initiator_name(false, "iqn.i", "10.0.0.1"),
            "iqn.i"
        );
        assert_eq!(
            iscsi_make_full_initiator_name(true, "iqn.i", "10.0.0.1"),
            "iqn.i#10.0.0.1"
        );
    }

    #[test]
    fn target_create_defaults_and_name_cut() {
        let mut d = Daemon::new();
        d.target_keys[iscsi_scst::abi::key_queued_cmnds].local_def = 7;
        let long = "x".repeat(300);
        let t = target_create(&d, &long);
        assert_eq!(t.name.len(), 255);
        assert_eq!(t.target_params, [7, 90, 30, 30, 0]);
        assert_eq!(
            t.session_params[iscsi_scst::abi::key_first_burst_length],
            65536
        );
        assert_eq!(
            t.session_params[iscsi_scst::abi::key_max_outstanding_r2t],
            32
        );
        assert!(!t.tgt_enabled);
    }

    #[test]
    fn target_add_find_and_duplicate() {
        let (mut d, fake) = daemon_with_fake("tgt-add-find");
        let t = target_create(&d, "iqn.2026-01.test:a");
        let tid = target_add(&mut d, t, 0, 0).unwrap();
        assert_eq!(tid, 1);
        assert!(d.targets_list[0].tgt_enabled);
        assert_eq!(target_find_id_by_name(&d, "IQN.2026-01.TEST:A"), 1);
        assert_eq!(target_find_id_by_name(&d, "iqn.other"), 0);
        assert_eq!(target_find_by_id(&d, 1).unwrap().name, "iqn.2026-01.test:a");
        assert!(target_find_by_id(&d, 2).is_none());

        fake.calls.lock().unwrap().clear();
        let dup = target_create(&d, "iqn.2026-01.TEST:a");
        assert_eq!(target_add(&mut d, dup, 0, 0), Err(Errno::EEXIST));
        assert!(
            fake.calls.lock().unwrap().is_empty(),
            "no ioctl for a duplicate"
        );
        assert_eq!(d.targets_list.len(), 1);

        // A tid asked for is passed on.
        let t = target_create(&d, "iqn.b");
        assert_eq!(target_add(&mut d, t, 9, 0), Ok(9));
        assert_eq!(d.targets_list[1].tid, 9);
    }

    #[test]
    fn target_add_failure_drops_target() {
        let (mut d, _fake) = daemon_with_fake("tgt-add-fail");
        let t = target_create(&d, "iqn.refuse");
        assert_eq!(target_add(&mut d, t, 0, 0), Err(Errno::ENOSPC));
        assert!(d.targets_list.is_empty());
    }

    #[test]
    fn target_del_waits_for_sessions() {
        let (mut d, fake) = daemon_with_fake("tgt-del-wait");
        let t = target_create(&d, "iqn.a");
        let tid = target_add(&mut d, t, 0, 0).unwrap();
        target_find_by_id_mut(&mut d, tid)
            .unwrap()
            .sessions_list
            .push(Session {
                target: tid,
                ..Session::default()
            });

        // The "event handler" removes the session on its second call.
        let mut calls = 0;
        let mut handler = |d: &mut Daemon| {
            calls += 1;
            if calls == 2 {
                target_find_by_id_mut(d, tid).unwrap().sessions_list.clear();
                Ok(())
            } else {
                Err(Errno::EAGAIN)
            }
        };
        assert_eq!(target_del(&mut d, tid, 0, &mut handler), Ok(()));
        assert_eq!(calls, 3);
        assert!(d.targets_list.is_empty());
        assert!(fake
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| matches!(c, Call::DelTarget(i) if i.tid == tid)));
    }

    #[test]
    fn target_del_unknown_targets() {
        let (mut d, _fake) = daemon_with_fake("tgt-del-unknown");
        let mut none = |_: &mut Daemon| Err(Errno::EAGAIN);
        // The fake driver knows tid 5 only: a leftover, removed without complaint.
        assert_eq!(target_del(&mut d, 5, 0, &mut none), Ok(()));
        // Unknown to both.
        assert_eq!(target_del(&mut d, 6, 0, &mut none), Err(Errno::ENOENT));
        // Other driver errors are returned.
        assert_eq!(target_del(&mut d, 7, 0, &mut none), Err(Errno::EBUSY));
    }

    #[test]
    fn portal_patterns_then_driver() {
        let (mut d, _fake) = daemon_with_fake("tgt-portal");
        let t = target_create(&d, "iqn.a");
        target_add(&mut d, t, 0, 0).unwrap();
        let pat = |k: &str| IscsiAttr {
            attr_key: k.to_owned(),
            ..IscsiAttr::default()
        };

        let mut t = d.targets_list[0].clone();
        assert!(target_portal_allowed(&d, &t, "10.0.0.1", "iqn.ini"));
        // The fake driver refuses initiator names containing "deny".
        assert!(!target_portal_allowed(&d, &t, "10.0.0.1", "iqn.deny"));

        t.allowed_portals = vec![pat("10.0.0.*")];
        assert!(target_portal_allowed(&d, &t, "10.0.0.1", "iqn.ini"));
        assert!(!target_portal_allowed(&d, &t, "10.0.1.1", "iqn.ini"));

        t.allowed_portals = vec![pat("!10.0.0.*")];
        assert!(!target_portal_allowed(&d, &t, "10.0.0.1", "iqn.ini"));
        assert!(target_portal_allowed(&d, &t, "10.0.1.1", "iqn.ini"));

        t.allowed_portals = vec![pat("10.*"), pat("!10.0.0.*")];
        assert!(target_portal_allowed(&d, &t, "10.1.0.1", "iqn.ini"));
        assert!(!target_portal_allowed(&d, &t, "10.0.0.1", "iqn.ini"));
        assert!(!target_portal_allowed(&d, &t, "11.0.0.1", "iqn.ini"));
    }

    #[test]
    fn redirection() {
        let d = Daemon::new();
        let mut t = target_create(&d, "iqn.a");
        let v4: SocketAddr = "10.0.0.1:3260".parse().unwrap();
        let v6: SocketAddr = "[fe80::1%2]:3260".parse().unwrap();
        assert_eq!(target_redirected(&t, &v4), None);

        t.redirect.addr = "10.0.0.2".to_owned();
        t.redirect.port = 3261;
        assert_eq!(target_redirected(&t, &v4).as_deref(), Some("10.0.0.2:3261"));
        t.redirect.addr = "10.0.0.1".to_owned();
        assert_eq!(target_redirected(&t, &v4), None);
        t.redirect.addr = "[fe80::1]".to_owned();
        assert_eq!(target_redirected(&t, &v6), None);
        assert_eq!(
            target_redirected(&t, &v4).as_deref(),
            Some("[fe80::1]:3261")
        );
    }
}
