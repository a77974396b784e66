//! Passwords that appear in breached-password lists, as NIST SP 800-63B-4 asks a verifier to refuse.
//!
//! The lists are public corpora that a package registry serves (`xtask/src/corpus.rs` says which, pins
//! them by SHA-256 and builds this filter from them): about 4.4 million distinct passwords of at least
//! [`MIN_ENTRY_CHARS`] characters, lowercased. They are kept as a binary fuse filter (`xorf`) of 16-bit
//! fingerprints: about 2.25 bytes a password, and a false positive for 1 password in 65,536, which only
//! ever refuses a password (there are no false negatives). The signup and reset binaries embed the filter
//! (through the `breached` crate), and lookups read it where it lies ([`Breached::from_bytes`] copies
//! nothing), so it costs a cold start no work.
//!
//! A password is looked up as typed (lowercased), without its spaces and punctuation, and without the
//! digits around what remains, so that `Correct Horse Battery Staple`, `Password1234567!` and
//! `123welcome123456789` are found as the listed `correcthorsebatterystaple`, `password1234567` and
//! `welcome123456789`.
//!
//! The file: 64 bytes of header (the magic `AUTHBPF1`, the number of passwords and of fingerprints as
//! little-endian u64s, the filter's descriptor, zeros), then the fingerprints as little-endian u16s.

use xorf::{BinaryFuse16, BinaryFuse16Ref, Descriptor, DmaSerializable as _, Filter as _, FilterRef as _};

/// The file's first bytes.
const MAGIC: &[u8; 8] = b"AUTHBPF1";
/// Where the fingerprints start: the header's length, a multiple of their alignment.
const HEADER_BYTES: usize = 64;
/// The shortest password kept: a stage's minimum can be no lower (the policy's floor, which asserts that it
/// is this), so a shorter one is refused before it is looked up.
pub const MIN_ENTRY_CHARS: usize = 8;
/// What a filter key's hash starts with, so that the keys are this filter's own.
const KEY_LABEL: &[u8] = b"auth breached password v1\0";
/// What a filter file must have been built with to be read by this code: the format and the keys. A
/// builder records it beside the file and builds again when it changes (`xtask/src/corpus.rs`).
pub const FORMAT: &str = "AUTHBPF1 (passwords, fingerprints, descriptor) keys: labelled SHA-256 v1 of NFKC-lowercased passwords of 8 characters or more";

/// Why the filter could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreachedError {
    #[error("the breached-password filter is not one: {0}")]
    Malformed(&'static str),
    #[error("the breached-password filter could not be built: {0}")]
    Build(&'static str),
}

/// The breached-password filter over bytes in the file format above.
#[derive(Debug, Clone)]
pub struct Breached<'a> {
    filter: BinaryFuse16Ref<'a>,
    entries: u64,
}

impl<'a> Breached<'a> {
    /// The filter in `bytes`, which must start at an address aligned for u16 (the signup binary embeds
    /// it aligned); nothing is copied.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Breached<'a>, BreachedError> {
        if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
            return Err(BreachedError::Malformed("it does not start with AUTHBPF1"));
        }
        if cfg!(target_endian = "big") {
            return Err(BreachedError::Malformed("its fingerprints are little-endian"));
        }
        let fingerprints = &bytes[HEADER_BYTES..];
        let fingerprint_count =
            u64::from_le_bytes(bytes[16..24].try_into().map_err(|_| BreachedError::Malformed("no header"))?);
        // A truncated (or padded) file would index past its fingerprints on a lookup: refused here.
        if fingerprints.is_empty() || fingerprints.len() as u64 != fingerprint_count.saturating_mul(2) {
            return Err(BreachedError::Malformed("its length is not its fingerprints'"));
        }
        if fingerprints.as_ptr().align_offset(std::mem::align_of::<u16>()) != 0 {
            return Err(BreachedError::Malformed("it is not aligned for u16"));
        }
        let mut count = [0u8; 8];
        count.copy_from_slice(&bytes[8..16]);
        let descriptor = &bytes[24..24 + Descriptor::DMA_LEN];
        Ok(Breached { filter: BinaryFuse16Ref::from_dma(descriptor, fingerprints), entries: u64::from_le_bytes(count) })
    }

    /// How many passwords the filter was built from.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Whether `password` (NFKC-normalized, as the policy has it) or one of its bare forms is listed.
    pub fn contains(&self, password: &str) -> bool {
        candidates(password).iter().any(|candidate| self.filter.contains(&key(candidate)))
    }
}

/// The filter's key of a listed password (lowercased): the first 8 bytes of a labelled SHA-256.
pub fn key(listed: &str) -> u64 {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(KEY_LABEL);
    context.update(listed.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&context.finish().as_ref()[..8]);
    u64::from_le_bytes(first)
}

/// What a password is looked up as: lowercased; then without anything but letters and digits; then that
/// without the digits around it. Forms shorter than [`MIN_ENTRY_CHARS`] are not looked up.
pub fn candidates(password: &str) -> Vec<String> {
    let lower = password.to_lowercase();
    let bare: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    let core = bare.trim_matches(|c: char| c.is_ascii_digit()).to_owned();
    let mut out = Vec::with_capacity(3);
    for form in [lower, bare, core] {
        if form.chars().count() >= MIN_ENTRY_CHARS && !out.contains(&form) {
            out.push(form);
        }
    }
    out
}

/// What a corpus entry is kept as: NFKC-normalized and lowercased, as a password is when looked up;
/// `None` when it is shorter than [`MIN_ENTRY_CHARS`].
pub fn entry(listed: &str) -> Option<String> {
    let normalized = if listed.is_ascii() { listed.to_ascii_lowercase() } else { super::nfkc(listed).to_lowercase() };
    (normalized.chars().count() >= MIN_ENTRY_CHARS).then_some(normalized)
}

/// The filter file of the passwords whose [`key`]s are `keys` (duplicates allowed), from `entries`
/// distinct passwords.
pub fn build(mut keys: Vec<u64>) -> Result<Vec<u8>, BreachedError> {
    keys.sort_unstable();
    keys.dedup();
    let filter = BinaryFuse16::try_from(&keys).map_err(BreachedError::Build)?;
    let mut out = Vec::with_capacity(HEADER_BYTES + filter.fingerprints.len() * 2);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
    out.extend_from_slice(&(filter.fingerprints.len() as u64).to_le_bytes());
    let mut descriptor = [0u8; Descriptor::DMA_LEN];
    filter.dma_copy_descriptor_to(&mut descriptor);
    out.extend_from_slice(&descriptor);
    out.resize(HEADER_BYTES, 0);
    for fingerprint in filter.fingerprints.iter() {
        out.extend_from_slice(&fingerprint.to_le_bytes());
    }
    Ok(out)
}

/// A filter of `listed` built in memory, its buffer leaked to live as long as an embedded one: for tests
/// and tools that stand a short list in for the corpus.
pub fn leaked(listed: &[&str]) -> Result<Breached<'static>, BreachedError> {
    copied(&build(listed.iter().filter_map(|p| entry(p)).map(|p| key(&p)).collect())?)
}

/// The filter file `bytes` (read from disk, say) copied into a leaked, aligned buffer.
pub fn copied(bytes: &[u8]) -> Result<Breached<'static>, BreachedError> {
    let buffer: &'static mut [u8] = Vec::leak(vec![0u8; bytes.len() + 1]);
    let offset = buffer.as_ptr().align_offset(std::mem::align_of::<u16>());
    buffer[offset..offset + bytes.len()].copy_from_slice(bytes);
    Breached::from_bytes(&buffer[offset..offset + bytes.len()])
}

/// A buffer aligned for the filter's fingerprints, as the signup binary embeds the file.
#[derive(Debug)]
#[repr(C, align(8))]
pub struct Aligned<T: ?Sized>(pub T);

#[cfg(test)]
mod tests {
    use super::*;

    /// The filter file of `listed`, placed in a buffer at an offset aligned for u16: (buffer, offset, length).
    fn filter_of(listed: &[&str]) -> (Vec<u8>, usize, usize) {
        let keys = listed.iter().filter_map(|p| entry(p)).map(|p| key(&p)).collect();
        let bytes = build(keys).unwrap_or_else(|e| panic!("{e}"));
        let mut buffer = vec![0u8; bytes.len() + 1];
        let offset = buffer.as_ptr().align_offset(2);
        buffer[offset..offset + bytes.len()].copy_from_slice(&bytes);
        (buffer, offset, bytes.len())
    }

    fn as_bytes((buffer, offset, len): &(Vec<u8>, usize, usize)) -> &[u8] {
        &buffer[*offset..*offset + *len]
    }

    #[test]
    fn listed_passwords_and_their_bare_forms_are_found_and_others_are_not() {
        let words = filter_of(&["password1234567", "correcthorsebatterystaple", "Welcome123456789", "short"]);
        let breached = Breached::from_bytes(as_bytes(&words)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(breached.entries(), 3, "the short one is not kept");
        for found in [
            "password1234567",
            "PASSWORD1234567",
            "Password1234567!",
            "correct horse battery staple",
            "Correct-Horse-Battery-Staple",
            "welcome123456789",
            "Welcome123456789!",
        ] {
            assert!(breached.contains(found), "{found:?} not found");
        }
        for absent in ["velvet tractor orbit lemonade", "password123456", "correct horse battery"] {
            assert!(!breached.contains(absent), "{absent:?} found");
        }
    }

    #[test]
    fn a_file_that_is_not_a_filter_is_refused() {
        assert!(Breached::from_bytes(b"not a filter").is_err());
        let words = filter_of(&["password1234567"]);
        let bytes = as_bytes(&words);
        assert!(Breached::from_bytes(&bytes[..HEADER_BYTES]).is_err(), "no fingerprints");
        let mut wrong = bytes.to_vec();
        wrong[0] = b'X';
        assert!(Breached::from_bytes(&wrong).is_err(), "bad magic");
        assert!(Breached::from_bytes(&bytes[..bytes.len() - 2]).is_err(), "truncated");
    }

    #[test]
    fn bare_forms_drop_separators_and_surrounding_digits_but_not_below_the_floor() {
        assert_eq!(candidates("Pass Word!"), ["pass word!", "password"]);
        assert_eq!(candidates("12dragon34"), ["12dragon34"], "dragon is shorter than the floor");
        assert_eq!(candidates("abc"), Vec::<String>::new());
    }
}
