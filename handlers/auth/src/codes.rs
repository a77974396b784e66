//! One-time codes, for email verification and password reset: what is mailed, what is stored, the pure
//! rule that judges a code a user types back ([`check`]), and its redemption over a [`CodeStore`].
//!
//! - A code is [`DIGITS`] decimal digits drawn uniformly from the operating system's random source
//!   (rejection sampling, so no digit string is likelier than another).
//! - It is never stored. The store keeps an HMAC-SHA256 tag over the purpose, the email and the code,
//!   under a key derived from the stage's code secret ([`KeyRing::code_tag`]; not the JWT signing
//!   secret, which the functions that handle codes never read): a copy of the table is
//!   not a list of codes, and eight digits cannot be searched offline without the key. The tag
//!   binds the code to its address and its purpose, so a code mailed to one address, or for a reset, is
//!   nothing for another address or for a verification.
//! - A code lives [`LIFETIME_SECONDS`], allows [`TRIES`] wrong guesses and is spent by the first right
//!   one: a guesser has [`TRIES`] in 10^[`DIGITS`] per code mailed, and mails per address are limited.
//! - Every refusal is the same [`Check::Refused`]: wrong, expired, spent and unknown alike. Whether the
//!   refused guess spends a try is for the store, not the caller's answer.
//! - [`redeem`] puts the rule and a [`CodeStore`] together: a right code is consumed by one conditional
//!   delete, so of any number of concurrent callers with it exactly one gets what it unlocks; a wrong
//!   guess takes a try off the code it was aimed at, and never off a newer one.

use std::fmt;
use std::future::Future;

use ring::rand::SystemRandom;

use crate::token::KeyRing;

pub mod dynamo;
pub mod memory;
pub mod quota;

/// The digits of a code.
pub const DIGITS: usize = 8;
/// How long a code may be used: minutes, as a mail takes to arrive and be read.
pub const LIFETIME_SECONDS: u64 = 15 * 60;
/// Wrong guesses a code allows before it is spent.
pub const TRIES: u32 = 5;

/// 10^DIGITS.
const SPACE: u64 = 100_000_000;

/// What a code is for; part of what its tag covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    Verify,
    Reset,
}

impl Purpose {
    /// Its name: in the tag, and in the store's key.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
        }
    }
}

/// A code as mailed and as typed back. Its `Debug` never shows the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

/// The random source failed: no code could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the system's random source failed")]
pub struct RandomError;

impl Code {
    /// A new code, uniform over every string of [`DIGITS`] digits.
    pub fn generate() -> Result<Code, RandomError> {
        Code::from_source(&SystemRandom::new())
    }

    fn from_source(random: &dyn ring::rand::SecureRandom) -> Result<Code, RandomError> {
        // The largest multiple of SPACE a u64 holds: values at or above it would favour the low codes.
        let limit = u64::MAX - u64::MAX % SPACE;
        loop {
            let mut bytes = [0u8; 8];
            random.fill(&mut bytes).map_err(|_| RandomError)?;
            let value = u64::from_le_bytes(bytes);
            if value < limit {
                return Ok(Code(format!("{:0width$}", value % SPACE, width = DIGITS)));
            }
        }
    }

    /// A code as a user typed it: exactly [`DIGITS`] ASCII digits once spaces and hyphens (which mail
    /// clients and people add for reading) are taken out; `None` otherwise.
    pub fn parse(typed: &str) -> Option<Code> {
        let digits: String = typed.chars().filter(|c| *c != ' ' && *c != '-').collect();
        (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Code(digits))
    }

    /// The digits, for the mail.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What the store keeps of a code it mailed: never the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub purpose: Purpose,
    pub tag: [u8; 32],
    /// Unix seconds from which the code is refused.
    pub expires_at: u64,
    /// Wrong guesses left; 0 means spent.
    pub tries_left: u32,
}

/// The bytes a code's tag covers: purpose, email and code, each length-prefixed so that no two
/// triples share them.
fn tagged(purpose: Purpose, email: &str, code: &Code) -> Vec<u8> {
    let mut data = Vec::with_capacity(64);
    for part in [purpose.as_str().as_bytes(), email.as_bytes(), code.0.as_bytes()] {
        data.extend_from_slice(&(part.len() as u32).to_be_bytes());
        data.extend_from_slice(part);
    }
    data
}

/// A new code for `email` (normalized) and what to store of it.
pub fn issue(keys: &KeyRing, purpose: Purpose, email: &str, now: u64) -> Result<(Code, Issued), RandomError> {
    let code = Code::generate()?;
    let issued = Issued {
        purpose,
        tag: keys.code_tag(&tagged(purpose, email, &code)),
        expires_at: now + LIFETIME_SECONDS,
        tries_left: TRIES,
    };
    Ok((code, issued))
}

/// How a typed code fares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The code is the one mailed, alive and unspent: the store spends it and the action goes ahead.
    Accepted,
    /// Anything else, with one answer. `spends_try` when it was a wrong guess at a live code: the store
    /// takes a try off.
    Refused { spends_try: bool },
}

/// Judges `typed` (as parsed: `None` when it was not a code at all) for `email` against what the store
/// holds for it and `purpose`.
pub fn check(
    keys: &KeyRing,
    issued: Option<&Issued>,
    (purpose, email): (Purpose, &str),
    typed: Option<&Code>,
    now: u64,
) -> Check {
    let Some(issued) = issued else { return Check::Refused { spends_try: false } };
    if issued.purpose != purpose || now >= issued.expires_at || issued.tries_left == 0 {
        return Check::Refused { spends_try: false };
    }
    match typed {
        Some(code) if keys.verify_code_tag(&tagged(purpose, email, code), &issued.tag) => Check::Accepted,
        _ => Check::Refused { spends_try: true },
    }
}

/// What the store keeps for a purpose and an address: the newest code's [`Issued`], and what the code
/// unlocks (a pending account's password hash), if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub issued: Issued,
    pub payload: Option<Vec<u8>>,
}

/// The store could not be reached or held something it cannot read: the route answers 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored code is unreadable: {0}")]
    Corrupt(String),
}

/// Where codes are kept: one per purpose and address, the newest.
pub trait CodeStore: Send + Sync {
    /// Keeps `issued` for `email`, replacing any code before it (which then never works).
    fn put(
        &self,
        email: &str,
        issued: &Issued,
        payload: Option<&[u8]>,
    ) -> impl Future<Output = Result<(), CodeError>> + Send;

    /// What is kept for `email` and `purpose`, read consistently.
    fn get(&self, email: &str, purpose: Purpose) -> impl Future<Output = Result<Option<Kept>, CodeError>> + Send;

    /// Takes a try off the code whose tag is `tag`, if it is still the one kept and has a try left.
    fn spend_try(
        &self,
        email: &str,
        purpose: Purpose,
        tag: &[u8; 32],
    ) -> impl Future<Output = Result<bool, CodeError>> + Send;

    /// Removes the code whose tag is `tag` if it is still the one kept, alive at `now` and unspent, and
    /// answers what it unlocked (`Some(payload)`); `None` when it was not, or another caller got there first.
    fn consume(
        &self,
        email: &str,
        purpose: Purpose,
        tag: &[u8; 32],
        now: u64,
    ) -> impl Future<Output = Result<Option<Option<Vec<u8>>>, CodeError>> + Send;
}

/// A shared store is a store, so one table can serve several handlers' dependencies.
impl<T: CodeStore + ?Sized> CodeStore for std::sync::Arc<T> {
    fn put(
        &self,
        email: &str,
        issued: &Issued,
        payload: Option<&[u8]>,
    ) -> impl Future<Output = Result<(), CodeError>> + Send {
        (**self).put(email, issued, payload)
    }

    fn get(&self, email: &str, purpose: Purpose) -> impl Future<Output = Result<Option<Kept>, CodeError>> + Send {
        (**self).get(email, purpose)
    }

    fn spend_try(
        &self,
        email: &str,
        purpose: Purpose,
        tag: &[u8; 32],
    ) -> impl Future<Output = Result<bool, CodeError>> + Send {
        (**self).spend_try(email, purpose, tag)
    }

    fn consume(
        &self,
        email: &str,
        purpose: Purpose,
        tag: &[u8; 32],
        now: u64,
    ) -> impl Future<Output = Result<Option<Option<Vec<u8>>>, CodeError>> + Send {
        (**self).consume(email, purpose, tag, now)
    }
}

/// A typed code judged against what is kept, before anything is spent: a route that must check more
/// than the code (verify checks the password the pending account was made with) does so between
/// [`judge`] and [`Judged::consume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    kept: Option<Kept>,
    accepted: bool,
}

/// Reads what is kept for `email` and `purpose` and judges `typed` (as parsed: `None` when it was not a
/// code at all) against it.
pub async fn judge(
    store: &impl CodeStore,
    keys: &KeyRing,
    (purpose, email): (Purpose, &str),
    typed: Option<&Code>,
    now: u64,
) -> Result<Judged, CodeError> {
    let kept = store.get(email, purpose).await?;
    let accepted = check(keys, kept.as_ref().map(|k| &k.issued), (purpose, email), typed, now) == Check::Accepted;
    Ok(Judged { kept, accepted })
}

/// The tag no code has: a refusal with nothing kept spends a try of it, which changes nothing, so
/// that every refusal makes the same call.
const NO_TAG: [u8; 32] = [0; 32];

impl Judged {
    /// The code was right, alive and unspent when read.
    pub fn accepted(&self) -> bool {
        self.accepted
    }

    /// What an accepted code unlocks, as read (before it is consumed).
    pub fn payload(&self) -> Option<&[u8]> {
        self.kept.as_ref().filter(|_| self.accepted).and_then(|k| k.payload.as_deref())
    }

    /// Spends an accepted code: `Accepted(payload)` for exactly one of any number of concurrent callers,
    /// `Refused` for the others and for a code that was not accepted (without spending anything).
    pub async fn consume(
        &self,
        store: &impl CodeStore,
        (purpose, email): (Purpose, &str),
        now: u64,
    ) -> Result<Redeemed, CodeError> {
        let Some(kept) = self.kept.as_ref().filter(|_| self.accepted) else { return Ok(Redeemed::Refused) };
        Ok(match store.consume(email, purpose, &kept.issued.tag, now).await? {
            Some(payload) => Redeemed::Accepted(payload),
            None => Redeemed::Refused,
        })
    }

    /// Refuses: a try off the code judged (a wrong guess, or a right code whose other check failed). Every
    /// refusal makes this one call, so that a refusal for an address with no code, or with a dead one,
    /// takes the same work as a wrong guess at a live one.
    pub async fn refuse(&self, store: &impl CodeStore, (purpose, email): (Purpose, &str)) -> Result<(), CodeError> {
        let tag = self.kept.as_ref().map_or(&NO_TAG, |k| &k.issued.tag);
        store.spend_try(email, purpose, tag).await?;
        Ok(())
    }
}

/// How a typed code was redeemed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The code was right and is now spent: what it unlocked.
    Accepted(Option<Vec<u8>>),
    /// One answer for every other case.
    Refused,
}

/// Judges `typed` for `email` and `purpose` and spends the code accordingly: the right code once, a try
/// per wrong guess.
pub async fn redeem(
    store: &impl CodeStore,
    keys: &KeyRing,
    at: (Purpose, &str),
    typed: Option<&Code>,
    now: u64,
) -> Result<Redeemed, CodeError> {
    let judged = judge(store, keys, at, typed, now).await?;
    if judged.accepted() {
        judged.consume(store, at, now).await
    } else {
        judged.refuse(store, at).await?;
        Ok(Redeemed::Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretVersion;

    const NOW: u64 = 1_800_000_000;

    fn keys(value: &[u8]) -> KeyRing {
        let version = SecretVersion { version_id: "v1".into(), value: value.to_vec() };
        KeyRing::new(&version, None).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ring() -> KeyRing {
        keys(&[7u8; 64])
    }

    fn issued(email: &str) -> (Code, Issued) {
        issue(&ring(), Purpose::Verify, email, NOW).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_code_mailed_is_accepted_once_alive() {
        let (code, stored) = issued("ann@example.com");
        assert_eq!(code.expose().len(), DIGITS);
        assert_eq!(
            check(&ring(), Some(&stored), (Purpose::Verify, "ann@example.com"), Some(&code), NOW),
            Check::Accepted
        );
        let typed = Code::parse(&format!("{}-{} ", &code.expose()[..4], &code.expose()[4..]));
        assert_eq!(typed.as_ref(), Some(&code), "spaces and hyphens are for reading");
    }

    #[test]
    fn wrong_expired_spent_and_unknown_codes_get_one_refusal() {
        let ring = ring();
        let (code, stored) = issued("ann@example.com");
        let at = (Purpose::Verify, "ann@example.com");
        let wrong = Code::parse(if code.expose() == "00000000" { "00000001" } else { "00000000" });
        assert_eq!(check(&ring, Some(&stored), at, wrong.as_ref(), NOW), Check::Refused { spends_try: true });
        assert_eq!(
            check(&ring, Some(&stored), at, None, NOW),
            Check::Refused { spends_try: true },
            "not a code at all"
        );
        let expired = stored.expires_at;
        assert_eq!(check(&ring, Some(&stored), at, Some(&code), expired), Check::Refused { spends_try: false });
        let spent = Issued { tries_left: 0, ..stored.clone() };
        assert_eq!(check(&ring, Some(&spent), at, Some(&code), NOW), Check::Refused { spends_try: false });
        assert_eq!(check(&ring, None, at, Some(&code), NOW), Check::Refused { spends_try: false });
    }

    /// The attack: a code mailed to one's own address, tried on another's; a verification code tried as
    /// a reset code; a code under another stage's secret.
    #[test]
    fn a_code_is_nothing_for_another_address_purpose_or_stage() {
        let (code, stored) = issued("mallory@example.com");
        let ring = ring();
        // The victim's record holds a tag over the victim's address: the attacker's code does not match it.
        let (_, victims) = issued("victim@example.com");
        let at_victim = (Purpose::Verify, "victim@example.com");
        assert_eq!(check(&ring, Some(&victims), at_victim, Some(&code), NOW), Check::Refused { spends_try: true });
        // Even a record copied across addresses is bound to the address it was issued for.
        assert_eq!(check(&ring, Some(&stored), at_victim, Some(&code), NOW), Check::Refused { spends_try: true });
        let as_reset = Issued { purpose: Purpose::Reset, ..stored.clone() };
        assert_eq!(
            check(&ring, Some(&as_reset), (Purpose::Reset, "mallory@example.com"), Some(&code), NOW),
            Check::Refused { spends_try: true }
        );
        let other_stage = keys(&[8u8; 64]);
        assert_eq!(
            check(&other_stage, Some(&stored), (Purpose::Verify, "mallory@example.com"), Some(&code), NOW),
            Check::Refused { spends_try: true }
        );
    }

    #[test]
    fn codes_are_digits_drawn_uniformly_and_never_shown_by_debug() {
        let mut first = [0usize; 10];
        for _ in 0..2000 {
            let code = Code::generate().unwrap_or_else(|e| panic!("{e}"));
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()) && code.expose().len() == DIGITS);
            first[usize::from(code.expose().as_bytes()[0] - b'0')] += 1;
            assert_eq!(format!("{code:?}"), "Code(<redacted>)");
        }
        // 200 expected per leading digit; 120 is over five standard deviations below.
        assert!(first.iter().all(|n| *n > 120), "{first:?}");
        for typed in ["1234567", "123456789", "1234567a", "", "１２３４５６７８"] {
            assert_eq!(Code::parse(typed), None, "{typed:?}");
        }
    }

    #[test]
    fn the_stored_tag_is_not_the_code() {
        let (code, stored) = issued("ann@example.com");
        assert!(!stored.tag.windows(DIGITS).any(|w| w == code.expose().as_bytes()));
        assert_eq!(stored.tries_left, TRIES);
        assert_eq!(stored.expires_at, NOW + LIFETIME_SECONDS);
    }

    #[tokio::test]
    async fn a_code_is_spent_by_its_first_right_use_and_by_its_last_wrong_guess() {
        let (store, ring) = (memory::MemoryCodes::new(), ring());
        let at = (Purpose::Verify, "ann@example.com");
        let (code, stored) = issued("ann@example.com");
        store.put("ann@example.com", &stored, Some(b"hash")).await.unwrap_or_else(|e| panic!("{e}"));
        let redeem = |typed: Option<Code>| {
            let (store, ring) = (&store, &ring);
            async move { redeem(store, ring, at, typed.as_ref(), NOW).await.unwrap_or_else(|e| panic!("{e}")) }
        };
        assert_eq!(redeem(Some(code.clone())).await, Redeemed::Accepted(Some(b"hash".to_vec())));
        assert_eq!(redeem(Some(code.clone())).await, Redeemed::Refused, "used once");

        // Guessing: TRIES wrong guesses spend the code, and the right one then fails too.
        let (code, stored) = issued("ann@example.com");
        store.put("ann@example.com", &stored, None).await.unwrap_or_else(|e| panic!("{e}"));
        let wrong = Code::parse(if code.expose() == "00000000" { "00000001" } else { "00000000" });
        for _ in 0..TRIES {
            assert_eq!(redeem(wrong.clone()).await, Redeemed::Refused);
        }
        assert_eq!(redeem(Some(code)).await, Redeemed::Refused, "spent by guessing");
    }

    #[tokio::test]
    async fn a_new_code_replaces_the_old_and_guesses_at_the_old_spend_nothing_of_it() {
        let (store, ring) = (memory::MemoryCodes::new(), ring());
        let (old, first) = issued("ann@example.com");
        store.put("ann@example.com", &first, None).await.unwrap_or_else(|e| panic!("{e}"));
        let (new, second) = issued("ann@example.com");
        store.put("ann@example.com", &second, None).await.unwrap_or_else(|e| panic!("{e}"));
        // A guess judged against the first code lands after the second was kept: it spends no try of it.
        assert!(!store.spend_try("ann@example.com", Purpose::Verify, &first.tag).await.unwrap_or_default());
        let at = (Purpose::Verify, "ann@example.com");
        assert_eq!(redeem(&store, &ring, at, Some(&old), NOW).await, Ok(Redeemed::Refused), "the old code is dead");
        let kept = store.get("ann@example.com", Purpose::Verify).await.unwrap_or_default();
        assert_eq!(kept.map(|k| k.issued.tries_left), Some(TRIES - 1), "one wrong guess at the new code");
        assert_eq!(redeem(&store, &ring, at, Some(&new), NOW).await, Ok(Redeemed::Accepted(None)));
    }
}
