// SPDX-License-Identifier: GPL-2.0-only
//! Rules of the workspace that the compiler does not check: only kemu may hold `unsafe`, every
//! crate is GPL-2.0-only, and docs/PORTING.md names every module of the port.

#![allow(clippy::unwrap_used)]

use scst_tests::{workspace_root, CRATES};
use std::fs;
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn only_kemu_may_use_unsafe() {
    let root = workspace_root();
    for c in CRATES.iter().filter(|c| **c != "kemu") {
        let src = root.join(c).join("src");
        for top in ["lib.rs", "main.rs"] {
            let f = src.join(top);
            if f.exists() {
                let text = fs::read_to_string(&f).unwrap();
                assert!(
                    text.contains("#![forbid(unsafe_code)]"),
                    "{} lacks #![forbid(unsafe_code)]",
                    f.display()
                );
            }
        }
    }
    let text = fs::read_to_string(root.join("tests/lib.rs")).unwrap();
    assert!(text.contains("#![forbid(unsafe_code)]"));
}

#[test]
fn every_unsafe_in_kemu_has_a_safety_comment() {
    let mut files = Vec::new();
    rust_files(&workspace_root().join("kemu/src"), &mut files);
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let code = l.split("//").next().unwrap_or("");
            if code.contains("unsafe {") || code.contains("unsafe impl") {
                let window = &lines[i.saturating_sub(6)..i];
                assert!(
                    window.iter().any(|w| w.contains("SAFETY:")) || l.contains("SAFETY:"),
                    "{}:{}: unsafe without a // SAFETY: comment",
                    f.display(),
                    i + 1
                );
            }
        }
    }
}

#[test]
fn every_crate_is_gpl2_only() {
    let root = workspace_root();
    let top = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(top.contains("license = \"GPL-2.0-only\""));
    for c in CRATES.iter().chain(["tests"].iter()) {
        let m = fs::read_to_string(root.join(c).join("Cargo.toml")).unwrap();
        assert!(
            m.contains("license.workspace = true") || m.contains("license = \"GPL-2.0-only\""),
            "{c}/Cargo.toml does not declare GPL-2.0-only"
        );
    }
    assert!(fs::read_to_string(root.join("LICENSE"))
        .unwrap()
        .contains("GNU GENERAL PUBLIC LICENSE"));
}

#[test]
fn porting_map_names_every_module() {
    let root = workspace_root();
    let map = fs::read_to_string(root.join("docs/PORTING.md")).unwrap();
    for c in CRATES {
        let mut files = Vec::new();
        rust_files(&root.join(c).join("src"), &mut files);
        for f in files {
            let stem = f.file_stem().unwrap().to_string_lossy().to_string();
            if ["lib", "main", "mod"].contains(&stem.as_str()) {
                continue;
            }
            let name = format!("{c}::{stem}");
            assert!(
                map.contains(&name),
                "docs/PORTING.md does not mention {name}"
            );
        }
    }
}
