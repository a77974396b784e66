//! Embeds the breached-password filter (`auth::password::breached`) that `cargo xtask` builds from the
//! pinned public lists into `<target>/corpus/breached-passwords.bin` (`xtask/src/corpus.rs`): every
//! `cargo xtask build`, `local` and `test` builds it first. A plain `cargo build` on a fresh clone stops
//! here, with what to run, rather than building a signup function that refuses no breached password.

use std::path::PathBuf;

const FILE: &str = "breached-passwords.bin";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is inside the target directory (`<target>/[<triple>/]<profile>/build/...`).
    let Some(filter) = out.ancestors().map(|dir| dir.join("corpus").join(FILE)).find(|path| path.is_file()) else {
        panic!(
            "the breached-password filter (target/corpus/{FILE}) is not built yet: run `cargo xtask test`, \
             `cargo xtask local` or `cargo xtask build` once (each downloads the pinned lists and builds it), then \
             build again"
        );
    };
    println!("cargo:rerun-if-changed={}", filter.display());
    std::fs::copy(&filter, out.join(FILE)).expect("copying the breached-password filter into OUT_DIR");
}
