// SPDX-License-Identifier: GPL-2.0-only
// Copyright (C) 2026 The scst-rs authors
//! The SCST start-up configuration of `iscsi-scstd --scst-conf FILE`: a procfs-era
//! `/etc/scst.conf` (the format procfs `scstadmin -config` reads and `-WriteConfig` writes;
//! docs/scst-reference.md §2.4), applied through the same functions the `/proc/scsi_tgt`
//! writes use: `vdisk/vdisk` `open`/`set_t10_dev_id`
//! ([`vdisk::scst_vdisk::vdisk_write_proc_cmd`]), `scsi_tgt` `add_group`, `groups/<G>/names`
//! `add` and `groups/<G>/devices` `add` ([`scst_core::scst_proc`]).
//!
//! A port addition (scstadmin is a Perl tool, not part of the port). The file is parsed
//! completely before anything is applied ([`parse_scst_conf`]); every error names its line as
//! `FILE:LINE: reason`.
//!
//! Syntax (one item per line; leading and trailing whitespace ignored; `#` starts a comment;
//! section and key words are matched without regard to case):
//!
//! ```text
//! [OPTIONS]
//! KEEP_CONFIG TRUE|FALSE          # accepted, no effect
//! ISSUE_LIP TRUE|FALSE            # accepted, no effect
//!
//! [HANDLER vdisk]
//! DEVICE name,path[,options[,block size[,t10 device id]]]
//! # options: WRITE_THROUGH|WT, NV_CACHE|NV, READ_ONLY|RO, O_DIRECT|DR, NULLIO|NIO,
//! #          BLOCKIO|BIO, REMOVABLE|RM, separated by '|', '+' or whitespace
//! # path: absolute; for NULLIO any word (conventionally /dev/zero) or empty
//!
//! [GROUP name]                    # Default always exists; others are created
//! USER initiator-name-or-pattern
//!
//! [ASSIGNMENT name]               # the group's LUNs
//! DEVICE device,lun[,READ_ONLY|RO]
//!
//! [TARGETS enable|disable]
//! HOST wwn                        # FC only: accepted, no effect
//! ```
//!
//! `[HANDLER vcdrom]` is not supported yet (its procfs `open` is not ported).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use scst_core::scst_const::{SCST_DEFAULT_ACG_NAME, SCST_MAX_LUN};

/// The longest device name vdisk's `open` accepts (C: `sizeof name - 1`).
const MAX_DEVICE_NAME: usize = 64;

/// An error of an scst.conf file, at a line (1-based; 0 when the file could not be read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScstConfError {
    /// The file's name, as given on the command line.
    pub file: String,
    /// The line the error is about; 0 for the file as a whole.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ScstConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.reason)
        }
    }
}

impl std::error::Error for ScstConfError {}

/// A `[HANDLER vdisk]` `DEVICE` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfDevice {
    /// Line number.
    pub line: usize,
    /// Device name.
    pub name: String,
    /// Backing file (for NULLIO: the word given, or `/dev/zero` if none).
    pub path: String,
    /// Block size, if given.
    pub block_size: Option<u32>,
    /// The open flags, full names, in file order.
    pub flags: Vec<String>,
    /// The T10 device id, if given.
    pub t10_dev_id: Option<String>,
}

impl ConfDevice {
    /// Whether the device is a NULLIO device.
    pub fn is_nullio(&self) -> bool {
        self.flags.iter().any(|f| f == "NULLIO")
    }

    /// The `vdisk/vdisk` command that creates the device:
    /// `open NAME PATH [BLOCKSIZE] [FLAGS…]`.
    pub fn open_cmd(&self) -> String {
        let mut s = format!("open {} {}", self.name, self.path);
        if let Some(bs) = self.block_size {
            s.push_str(&format!(" {bs}"));
        }
        for f in &self.flags {
            s.push(' ');
            s.push_str(f);
        }
        s
    }
}

/// A `[GROUP g]` `USER` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfUser {
    /// Line number.
    pub line: usize,
    /// The group.
    pub group: String,
    /// Initiator name or pattern.
    pub name: String,
}

/// An `[ASSIGNMENT g]` `DEVICE` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfLun {
    /// Line number.
    pub line: usize,
    /// The group.
    pub group: String,
    /// The device's name.
    pub device: String,
    /// The LUN.
    pub lun: u64,
    /// `READ_ONLY`.
    pub read_only: bool,
}

/// A parsed scst.conf, in the order it is applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScstConf {
    /// The file's name (for messages).
    pub file: String,
    /// vdisk devices, in file order.
    pub devices: Vec<ConfDevice>,
    /// Groups to create (everything named in `[GROUP]`/`[ASSIGNMENT]` but `Default`), in order
    /// of first appearance, with the line that named them first.
    pub groups: Vec<(usize, String)>,
    /// Initiator names, in file order.
    pub users: Vec<ConfUser>,
    /// LUN assignments, in file order.
    pub luns: Vec<ConfLun>,
}

/// The section a line belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Section {
    None,
    Options,
    Vdisk,
    Group(String),
    Assignment(String),
    Targets,
}

/// scstadmin's OPEN option words and their abbreviations → the vdisk flag.
fn open_flag(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_uppercase().as_str() {
        "WRITE_THROUGH" | "WT" => "WRITE_THROUGH",
        "NV_CACHE" | "NV" => "NV_CACHE",
        "READ_ONLY" | "RO" => "READ_ONLY",
        "O_DIRECT" | "DR" => "O_DIRECT",
        "NULLIO" | "NIO" => "NULLIO",
        "BLOCKIO" | "BIO" => "BLOCKIO",
        "REMOVABLE" | "RM" => "REMOVABLE",
        _ => return None,
    })
}

/// A decimal number with no sign and no junk.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn has_space(s: &str) -> bool {
    s.chars().any(char::is_whitespace)
}

/// Parses the text of an scst.conf completely; `file` names it in errors.
pub fn parse_scst_conf(file: &str, text: &str) -> Result<ScstConf, ScstConfError> {
    let mut conf = ScstConf {
        file: file.to_owned(),
        ..ScstConf::default()
    };
    let mut section = Section::None;
    let mut device_names = BTreeSet::new();
    let mut group_names = BTreeSet::new();
    let mut used_luns: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut users = BTreeSet::new();

    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |reason: String| ScstConfError {
            file: file.to_owned(),
            line,
            reason,
        };
        let l = raw.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }

        if let Some(inner) = l.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| err(format!("unterminated section header \"{l}\"")))?
                .trim();
            let (kind, arg) = inner
                .split_once(char::is_whitespace)
                .map_or((inner, ""), |(k, a)| (k, a.trim()));
            let kind = kind.to_ascii_uppercase();
            section = match (kind.as_str(), arg) {
                ("OPTIONS", "") => Section::Options,
                ("HANDLER", h) if h.eq_ignore_ascii_case("vdisk") => Section::Vdisk,
                ("HANDLER", h) if h.eq_ignore_ascii_case("vcdrom") => {
                    return Err(err("[HANDLER vcdrom] is not supported yet".to_owned()))
                }
                ("HANDLER", h) => return Err(err(format!("unknown handler \"{h}\""))),
                ("GROUP" | "ASSIGNMENT", "") => {
                    return Err(err(format!("[{kind}] needs a group name")))
                }
                ("GROUP" | "ASSIGNMENT", g) => {
                    if has_space(g) {
                        return Err(err(format!("bad group name \"{g}\"")));
                    }
                    if g != SCST_DEFAULT_ACG_NAME && group_names.insert(g.to_owned()) {
                        conf.groups.push((line, g.to_owned()));
                    }
                    if kind == "GROUP" {
                        Section::Group(g.to_owned())
                    } else {
                        Section::Assignment(g.to_owned())
                    }
                }
                ("TARGETS", t)
                    if t.eq_ignore_ascii_case("enable") || t.eq_ignore_ascii_case("disable") =>
                {
                    Section::Targets
                }
                _ => return Err(err(format!("unknown section \"[{inner}]\""))),
            };
            continue;
        }

        let (key, value) = l
            .split_once(char::is_whitespace)
            .map_or((l, ""), |(k, v)| (k, v.trim()));
        let key = key.to_ascii_uppercase();
        match (&section, key.as_str()) {
            (Section::None, _) => {
                return Err(err(format!("\"{key}\" outside of a section")));
            }
            (Section::Options, "KEEP_CONFIG" | "ISSUE_LIP") => {
                if !value.eq_ignore_ascii_case("TRUE") && !value.eq_ignore_ascii_case("FALSE") {
                    return Err(err(format!("{key} wants TRUE or FALSE, not \"{value}\"")));
                }
            }
            (Section::Vdisk, "DEVICE") => {
                let dev = parse_vdisk_device(line, value).map_err(err)?;
                if !device_names.insert(dev.name.clone()) {
                    return Err(err(format!("device {} defined twice", dev.name)));
                }
                conf.devices.push(dev);
            }
            (Section::Group(g), "USER") => {
                if value.is_empty() || has_space(value) {
                    return Err(err(format!("bad initiator name \"{value}\"")));
                }
                if !users.insert((g.clone(), value.to_owned())) {
                    return Err(err(format!("user {value} twice in group {g}")));
                }
                conf.users.push(ConfUser {
                    line,
                    group: g.clone(),
                    name: value.to_owned(),
                });
            }
            (Section::Assignment(g), "DEVICE") => {
                let lun = parse_assignment(line, g, value).map_err(err)?;
                if !device_names.contains(&lun.device) {
                    return Err(err(format!(
                        "device {} is not defined in a [HANDLER vdisk] section above",
                        lun.device
                    )));
                }
                if let Some(first) = used_luns.insert((g.clone(), lun.lun), line) {
                    return Err(err(format!(
                        "LUN {} of group {g} already assigned at line {first}",
                        lun.lun
                    )));
                }
                conf.luns.push(lun);
            }
            (Section::Targets, "HOST") => {}
            _ => return Err(err(format!("unexpected \"{key}\" in this section"))),
        }
    }
    Ok(conf)
}

/// `name,path[,options[,block size[,t10 device id]]]`.
fn parse_vdisk_device(line: usize, value: &str) -> Result<ConfDevice, String> {
    let fields: Vec<&str> = value.split(',').map(str::trim).collect();
    if fields.len() > 5 {
        return Err(format!("too many fields in \"DEVICE {value}\""));
    }
    let name = fields[0];
    if name.is_empty() {
        return Err("DEVICE needs a name".to_owned());
    }
    if has_space(name) || name.len() > MAX_DEVICE_NAME {
        return Err(format!(
            "bad device name \"{name}\" (no spaces, at most {MAX_DEVICE_NAME} characters)"
        ));
    }
    let mut flags: Vec<String> = Vec::new();
    if let Some(opts) = fields.get(2) {
        for w in opts
            .split(|c: char| c == '|' || c == '+' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            let f = open_flag(w).ok_or_else(|| format!("unknown option \"{w}\""))?;
            if !flags.iter().any(|x| x == f) {
                flags.push(f.to_owned());
            }
        }
    }
    let nullio = flags.iter().any(|f| f == "NULLIO");
    let path = fields.get(1).copied().unwrap_or("");
    let path = if path.is_empty() && nullio {
        "/dev/zero"
    } else {
        path
    };
    if path.is_empty() {
        return Err(format!("device {name} needs a file name"));
    }
    if has_space(path) {
        return Err(format!("bad file name \"{path}\" (no spaces)"));
    }
    if !nullio && !path.starts_with('/') {
        return Err(format!("file name \"{path}\" is not absolute"));
    }
    let block_size = match fields.get(3).copied().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let bs = parse_decimal(s)
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v >= 512 && v.is_power_of_two())
                .ok_or_else(|| format!("bad block size \"{s}\" (a power of two, at least 512)"))?;
            Some(bs)
        }
    };
    let t10_dev_id = fields
        .get(4)
        .copied()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Ok(ConfDevice {
        line,
        name: name.to_owned(),
        path: path.to_owned(),
        block_size,
        flags,
        t10_dev_id,
    })
}

/// `device,lun[,READ_ONLY|RO]`.
fn parse_assignment(line: usize, group: &str, value: &str) -> Result<ConfLun, String> {
    let fields: Vec<&str> = value.split(',').map(str::trim).collect();
    if fields.len() < 2 || fields[0].is_empty() {
        return Err(format!(
            "DEVICE wants \"device,lun[,options]\", not \"{value}\""
        ));
    }
    if fields.len() > 3 {
        return Err(format!("too many fields in \"DEVICE {value}\""));
    }
    let lun = parse_decimal(fields[1])
        .filter(|l| *l <= SCST_MAX_LUN)
        .ok_or_else(|| format!("bad LUN \"{}\" (0 to {SCST_MAX_LUN})", fields[1]))?;
    let mut read_only = false;
    if let Some(opts) = fields.get(2) {
        for w in opts
            .split(|c: char| c == '|' || c == '+' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            match w.to_ascii_uppercase().as_str() {
                "READ_ONLY" | "RO" => read_only = true,
                _ => return Err(format!("unknown LUN option \"{w}\"")),
            }
        }
    }
    Ok(ConfLun {
        line,
        group: group.to_owned(),
        device: fields[0].to_owned(),
        lun,
        read_only,
    })
}

/// Reads and parses the file `path` completely.
pub fn read_scst_conf(path: &Path) -> Result<ScstConf, ScstConfError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScstConfError {
        file: file.clone(),
        line: 0,
        reason: format!("cannot read: {e}"),
    })?;
    parse_scst_conf(&file, &text)
}

impl ScstConf {
    /// Applies the configuration to the loaded SCST core and vdisk handler, in scstadmin's
    /// order: devices (`open`, then `set_t10_dev_id`), groups (`add_group`), initiator names
    /// (`add`), LUNs (`add DEV LUN [READ_ONLY]`). Stops at the first failure and names its
    /// line; what was applied before stays (the caller unloads the modules).
    pub fn apply(&self) -> Result<(), ScstConfError> {
        let err = |line: usize, what: &str, e: kemu::Errno| ScstConfError {
            file: self.file.clone(),
            line,
            reason: format!("{what}: {e}"),
        };
        for d in &self.devices {
            let cmd = d.open_cmd();
            vdisk::scst_vdisk::vdisk_write_proc_cmd(&cmd)
                .map_err(|e| err(d.line, &format!("vdisk: {cmd}"), e))?;
            if let Some(id) = &d.t10_dev_id {
                let cmd = format!("set_t10_dev_id {} {id}", d.name);
                vdisk::scst_vdisk::vdisk_write_proc_cmd(&cmd)
                    .map_err(|e| err(d.line, &format!("vdisk: {cmd}"), e))?;
            }
        }
        for (line, g) in &self.groups {
            let cmd = format!("add_group {g}\n");
            scst_core::scst_proc::scst_proc_scsi_tgt_gen_write(&cmd)
                .map_err(|e| err(*line, &format!("scsi_tgt: add_group {g}"), e))?;
        }
        for u in &self.users {
            let cmd = format!("add {}\n", u.name);
            scst_core::scst_proc::scst_proc_groups_names_write(&u.group, &cmd).map_err(|e| {
                err(
                    u.line,
                    &format!("groups/{}/names: add {}", u.group, u.name),
                    e,
                )
            })?;
        }
        for l in &self.luns {
            let cmd = format!(
                "add {} {}{}\n",
                l.device,
                l.lun,
                if l.read_only { " READ_ONLY" } else { "" }
            );
            scst_core::scst_proc::scst_proc_groups_devices_write(&l.group, &cmd).map_err(|e| {
                err(
                    l.line,
                    &format!("groups/{}/devices: {}", l.group, cmd.trim_end()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// The LUNs of the `Default` group, sorted, as `(LUN, device)`.
    pub fn default_luns(&self) -> Vec<(u64, String)> {
        let mut v: Vec<_> = self
            .luns
            .iter()
            .filter(|l| l.group == SCST_DEFAULT_ACG_NAME)
            .map(|l| (l.lun, l.device.clone()))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# procfs-era scst.conf
[OPTIONS]
KEEP_CONFIG FALSE

[HANDLER vdisk]
DEVICE disk1,/srv/disk1.img,NV_CACHE,512,d1
DEVICE disk2, /srv/disk2.img , WT|RO , 4096
DEVICE null1,/dev/zero,NULLIO,512,n1   # trailing comment

[GROUP Default]
USER iqn.1993-08.org.debian:*

[GROUP g1]
USER iqn.x

[ASSIGNMENT Default]
DEVICE disk1,0
DEVICE disk2,1,READ_ONLY
DEVICE null1,2

[ASSIGNMENT g2]
DEVICE disk1,0

[TARGETS enable]
HOST 50:06:01:60:3b:a0:3c:4d
";

    #[test]
    fn good_file() {
        let c = parse_scst_conf("scst.conf", GOOD).unwrap();
        assert_eq!(c.devices.len(), 3);
        assert_eq!(
            c.devices[0].open_cmd(),
            "open disk1 /srv/disk1.img 512 NV_CACHE"
        );
        assert_eq!(c.devices[0].t10_dev_id.as_deref(), Some("d1"));
        assert_eq!(c.devices[0].line, 6);
        assert_eq!(
            c.devices[1].open_cmd(),
            "open disk2 /srv/disk2.img 4096 WRITE_THROUGH READ_ONLY"
        );
        assert_eq!(c.devices[1].t10_dev_id, None);
        assert!(c.devices[2].is_nullio());
        assert_eq!(c.devices[2].open_cmd(), "open null1 /dev/zero 512 NULLIO");
        assert_eq!(c.groups, vec![(13, "g1".to_owned()), (21, "g2".to_owned())]);
        assert_eq!(c.users.len(), 2);
        assert_eq!(c.users[0].group, "Default");
        assert_eq!(c.users[1].name, "iqn.x");
        assert_eq!(
            c.default_luns(),
            vec![
                (0, "disk1".to_owned()),
                (1, "disk2".to_owned()),
                (2, "null1".to_owned())
            ]
        );
        assert!(c.luns[1].read_only);
        assert_eq!(c.luns[3].group, "g2");
    }

    #[test]
    fn nullio_without_path() {
        let c = parse_scst_conf("f", "[HANDLER vdisk]\nDEVICE n,,NULLIO\n").unwrap();
        assert_eq!(c.devices[0].open_cmd(), "open n /dev/zero NULLIO");
    }

    fn bad(text: &str) -> String {
        parse_scst_conf("/etc/scst.conf", text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn bad_lines() {
        let v = "[HANDLER vdisk]\nDEVICE d,/f\n";
        for (text, want) in [
            (
                "DEVICE d,/f\n",
                "/etc/scst.conf:1: \"DEVICE\" outside of a section",
            ),
            (
                "[HANDLER vdisk\n",
                "/etc/scst.conf:1: unterminated section header \"[HANDLER vdisk\"",
            ),
            (
                "[HANDLER dev_disk]\n",
                "/etc/scst.conf:1: unknown handler \"dev_disk\"",
            ),
            ("[FOO]\n", "/etc/scst.conf:1: unknown section \"[FOO]\""),
            ("[GROUP]\n", "/etc/scst.conf:1: [GROUP] needs a group name"),
            (
                "\n[HANDLER vdisk]\nDEVICE d,rel/f\n",
                "/etc/scst.conf:3: file name \"rel/f\" is not absolute",
            ),
            (
                "[HANDLER vdisk]\nDEVICE d\n",
                "/etc/scst.conf:2: device d needs a file name",
            ),
            (
                "[HANDLER vdisk]\nDEVICE d,/f,FAST\n",
                "/etc/scst.conf:2: unknown option \"FAST\"",
            ),
            (
                "[HANDLER vdisk]\nDEVICE d,/f,,1000\n",
                "/etc/scst.conf:2: bad block size \"1000\" (a power of two, at least 512)",
            ),
            (
                "[HANDLER vdisk]\nDEVICE d,/f\nDEVICE d,/g\n",
                "/etc/scst.conf:3: device d defined twice",
            ),
            (
                "[HANDLER vdisk]\nDEVICE d,/f,,,,x\n",
                "/etc/scst.conf:2: too many fields in \"DEVICE d,/f,,,,x\"",
            ),
            (
                &format!("{v}[ASSIGNMENT Default]\nDEVICE e,0\n"),
                "/etc/scst.conf:4: device e is not defined in a [HANDLER vdisk] section above",
            ),
            (
                &format!("{v}[ASSIGNMENT Default]\nDEVICE d,16384\n"),
                "/etc/scst.conf:4: bad LUN \"16384\" (0 to 16383)",
            ),
            (
                &format!("{v}[ASSIGNMENT Default]\nDEVICE d,x\n"),
                "/etc/scst.conf:4: bad LUN \"x\" (0 to 16383)",
            ),
            (
                &format!("{v}[ASSIGNMENT Default]\nDEVICE d\n"),
                "/etc/scst.conf:4: DEVICE wants \"device,lun[,options]\", not \"d\"",
            ),
            (
                &format!("{v}[ASSIGNMENT Default]\nDEVICE d,0\nDEVICE d,0\n"),
                "/etc/scst.conf:5: LUN 0 of group Default already assigned at line 4",
            ),
            (
                &format!("{v}[ASSIGNMENT Default]\nDEVICE d,0,WT\n"),
                "/etc/scst.conf:4: unknown LUN option \"WT\"",
            ),
            (
                "[GROUP g]\nUSER\n",
                "/etc/scst.conf:2: bad initiator name \"\"",
            ),
            (
                "[GROUP g]\nUSER a\nUSER a\n",
                "/etc/scst.conf:3: user a twice in group g",
            ),
            (
                "[GROUP g]\nLUN 0 d\n",
                "/etc/scst.conf:2: unexpected \"LUN\" in this section",
            ),
            (
                "[OPTIONS]\nKEEP_CONFIG maybe\n",
                "/etc/scst.conf:2: KEEP_CONFIG wants TRUE or FALSE, not \"maybe\"",
            ),
            (
                "[HANDLER vcdrom]\n",
                "/etc/scst.conf:1: [HANDLER vcdrom] is not supported yet",
            ),
        ] {
            assert_eq!(bad(text), want, "{text:?}");
        }
    }

    #[test]
    fn unreadable_file() {
        let e = read_scst_conf(Path::new("/nonexistent/scst.conf")).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e
            .to_string()
            .starts_with("/nonexistent/scst.conf: cannot read: "));
    }

    /// Applies a file with two fileio devices, a NULLIO device and three LUNs in `Default`
    /// (plus a group with a user and a LUN) to SCST and vdisk loaded in this process.
    #[test]
    fn apply_creates_devices_and_luns() {
        let dir = std::env::temp_dir().join(format!("scst-conf-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.img"), dir.join("b.img"));
        std::fs::File::create(&a).unwrap().set_len(8 << 20).unwrap();
        std::fs::File::create(&b).unwrap().set_len(1 << 20).unwrap();
        let text = format!(
            "[HANDLER vdisk]\nDEVICE a,{},,4096,tid-a\nDEVICE b,{},RO\nDEVICE n,,NULLIO\n\
             [GROUP g1]\nUSER iqn.x*\n[ASSIGNMENT g1]\nDEVICE n,5\n\
             [ASSIGNMENT Default]\nDEVICE a,0\nDEVICE b,1,READ_ONLY\nDEVICE n,2\n",
            a.display(),
            b.display()
        );
        let conf = parse_scst_conf("t.conf", &text).unwrap();

        scst_core::scst_main::init_scst().unwrap();
        vdisk::scst_vdisk::init_scst_vdisk_driver().unwrap();
        let applied = conf.apply();
        let (devs, luns, g1) = {
            let g = scst_core::scst_main::scst_mutex.lock();
            let mut devs: Vec<String> = g
                .scst_dev_list
                .iter()
                .map(|(_, d)| d.virt_name.clone())
                .collect();
            devs.sort();
            let lun_list = |name: &str| -> Vec<(u64, String, bool)> {
                let acg = g
                    .scst_acg_list
                    .iter()
                    .find(|(_, a)| a.acg_name == name)
                    .map(|(_, a)| a.clone())
                    .unwrap();
                let mut v: Vec<_> = acg
                    .acg_dev_list
                    .access(&g)
                    .iter()
                    .map(|(_, d)| (d.lun, d.dev.virt_name.clone(), d.acg_dev_rd_only))
                    .collect();
                v.sort();
                v
            };
            (devs, lun_list("Default"), lun_list("g1"))
        };
        // A second apply fails at the first device, which exists (EEXIST), naming its line.
        let again = conf.apply().unwrap_err().to_string();
        vdisk::scst_vdisk::exit_scst_vdisk_driver();
        scst_core::scst_main::exit_scst();
        let _ = std::fs::remove_dir_all(&dir);

        applied.unwrap();
        assert_eq!(devs, vec!["a", "b", "n"]);
        assert_eq!(
            luns,
            vec![
                (0, "a".to_owned(), false),
                (1, "b".to_owned(), true),
                (2, "n".to_owned(), false)
            ]
        );
        assert_eq!(g1, vec![(5, "n".to_owned(), false)]);
        assert!(again.starts_with("t.conf:2: vdisk: open a "), "{again}");
        assert!(again.ends_with("EEXIST: File exists"), "{again}");
    }
}
