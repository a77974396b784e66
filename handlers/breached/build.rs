//! Embeds the breached-password filter (`auth::password::breached`) that `cargo xtask` builds from the
//! pinned public lists into `<target>/corpus/breached-passwords.bin` (`xtask/src/corpus.rs`): every
//! `cargo xtask build`, `local` and `test` builds it first. A plain `cargo build` on a fresh clone stops
//! here, with what to run, rather than building a signup or reset function that refuses no breached password.

use std::path::PathBuf;

const FILE: &str = "breached-passwords.bin";
const MAGIC: &[u8] = b"AUTHBPF1";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is inside the target directory (`<target>/[<triple>/]<profile>/build/...`), whose root cargo
    // marks with CACHEDIR.TAG: the filter is looked for there and nowhere above it.
    let target = out.ancestors().find(|dir| dir.join("CACHEDIR.TAG").is_file()).expect("OUT_DIR is in a target dir");
    let filter = target.join("corpus").join(FILE);
    println!("cargo:rerun-if-changed={}", filter.display());
    let bytes = std::fs::read(&filter).unwrap_or_else(|_| {
        panic!(
            "the breached-password filter {} is not built yet: run `cargo xtask test`, `cargo xtask local` or \
             `cargo xtask build` once (each downloads the pinned lists and builds it), then build again",
            filter.display()
        )
    });
    assert!(
        bytes.starts_with(MAGIC),
        "{} is not a breached-password filter: remove it and run `cargo xtask build` again",
        filter.display()
    );
    std::fs::write(out.join(FILE), bytes).expect("copying the breached-password filter into OUT_DIR");
}
