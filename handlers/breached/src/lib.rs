//! The breached-password filter, built by `cargo xtask` from the pinned lists (`build.rs`) and embedded
//! once here for every function that sets a password (signup, reset), aligned so that lookups read it in
//! place.

use auth::password::breached::{Aligned, Breached, BreachedError};

static BREACHED: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/breached-passwords.bin")));

/// The embedded filter.
pub fn filter() -> Result<Breached<'static>, BreachedError> {
    Breached::from_bytes(&BREACHED.0)
}

#[cfg(test)]
mod tests {
    /// The filter embedded is one this code reads, built from the whole corpus.
    #[test]
    fn the_embedded_breached_password_filter_is_read_and_finds_the_corpus() {
        let breached = super::filter().unwrap_or_else(|e| panic!("{e}"));
        assert!(breached.entries() > 4_000_000, "{} passwords", breached.entries());
        assert!(breached.contains("Password1234567!"));
    }
}
