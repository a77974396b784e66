//! The functions must run on Lambda's `provided.al2023`, whose glibc is 2.34: no binary may need a
//! newer symbol version. `cargo xtask build` refuses to package one that does; this test checks the
//! binaries built here (debug builds, which link the same C library calls as release ones) so that a
//! dependency that pulls in a newer symbol fails the test suite, not a deploy.

use xtask::package::{MAX_GLIBC, Profile, max_glibc};

#[test]
fn no_function_needs_glibc_newer_than_lambdas() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let functions = xtask::functions(&devenv::workspace_root().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir =
        runtime.block_on(xtask::local::build_functions(&functions, Profile::Debug)).unwrap_or_else(|e| panic!("{e:#}"));
    for f in functions {
        let path = dir.join(f.name());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let needed = max_glibc(&bytes).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let needed = needed.unwrap_or_else(|| panic!("{f} links no glibc symbol at all, which a dynamic binary does"));
        assert!(
            needed <= MAX_GLIBC,
            "{f} needs GLIBC_{}.{}, newer than Lambda's {}.{}",
            needed.0,
            needed.1,
            MAX_GLIBC.0,
            MAX_GLIBC.1
        );
    }
}
