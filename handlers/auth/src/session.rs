//! Sessions: what a sign-in begins, refresh tokens continue, and sign-out ends.
//!
//! A refresh token is `base64url(version ‖ session id ‖ generation ‖ tag)`: a random 128-bit session
//! id, the session's rotation count, and a 256-bit HMAC-SHA256 tag over both and the session's own
//! 256-bit random seed, under a key derived from the stage's signing secret
//! ([`crate::token::KeyRing::refresh_tag`]). Making a token takes both the key (which only signin and
//! refresh read) and the seed (which only the table holds): neither a copy of the table nor the key with
//! the logs (which name session ids) is enough. The table keeps the SHA-256 of the current and the
//! previous token, never a token, so that sign-out checks a token without the key. Because the tag is a
//! keyed MAC of the generation, the service can say again what it answered for a rotation (the same
//! successor token) without storing it: that is how a retry or a second tab inside the grace window
//! converges on one chain.
//!
//! The rules are pure ([`judge`]): a token of the current generation rotates (one conditional write
//! decides among concurrent callers); the immediate predecessor within the grace window gets the
//! current token again; any other spent token is reuse and ends the session (RFC 9700 §4.14.2); a
//! session past its absolute lifetime or idle timeout, signed out, or begun before its user signed out
//! everywhere is refused. Every refusal gets the same answer.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom as _, SystemRandom};

use crate::token::KeyRing;

pub mod dynamo;
pub mod memory;

/// The first byte of every refresh token: its format.
const VERSION: u8 = 1;
/// The bytes of a session id: an access token's `sid`.
pub const ID_BYTES: usize = crate::token::ID_BYTES;
const TAG_BYTES: usize = 32;
/// A session's random seed, which every tag of its tokens covers.
pub const SEED_BYTES: usize = 32;
const TOKEN_BYTES: usize = 1 + ID_BYTES + 8 + TAG_BYTES;
/// A refresh token's length in characters: 57 bytes in unpadded base64url.
pub const TOKEN_CHARS: usize = 76;

/// A session's id: 128 random bits, shown as 32 hex digits (in logs too: it grants nothing alone).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; ID_BYTES]);

impl SessionId {
    /// A new id from the operating system's random source.
    pub fn random() -> Result<SessionId, SessionError> {
        let mut id = [0u8; ID_BYTES];
        SystemRandom::new().fill(&mut id).map_err(|_| SessionError::Random)?;
        Ok(SessionId(id))
    }

    pub fn from_bytes(bytes: [u8; ID_BYTES]) -> SessionId {
        SessionId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; ID_BYTES] {
        &self.0
    }

    /// The session a verified access token was issued in (its `sid`, which verification checked is 32
    /// hex digits).
    pub fn of(claims: &crate::token::Claims) -> Option<SessionId> {
        from_hex::<ID_BYTES>(&claims.sid).map(SessionId)
    }
}

/// Exactly `N` bytes from their hex (ids, seeds and hashes are stored as lowercase hex); `None` for anything else (a sign, a space, a wrong length).
pub fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// A refresh token as presented: which session and generation it claims. Whether it is ours is
/// [`RefreshToken::authentic`]. Its `Debug` never shows the tag.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub session: SessionId,
    pub generation: u64,
    tag: [u8; TAG_BYTES],
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken").field("session", &self.session).field("generation", &self.generation).finish()
    }
}

/// The bytes a token's tag covers: the token's visible part, then the session's seed.
fn signed(session: &SessionId, generation: u64, seed: &[u8; SEED_BYTES]) -> [u8; 1 + ID_BYTES + 8 + SEED_BYTES] {
    let mut out = [0u8; 1 + ID_BYTES + 8 + SEED_BYTES];
    out[0] = VERSION;
    out[1..=ID_BYTES].copy_from_slice(session.as_bytes());
    out[1 + ID_BYTES..1 + ID_BYTES + 8].copy_from_slice(&generation.to_be_bytes());
    out[1 + ID_BYTES + 8..].copy_from_slice(seed);
    out
}

/// A new session seed from the operating system's random source.
pub fn random_seed() -> Result<[u8; SEED_BYTES], SessionError> {
    let mut seed = [0u8; SEED_BYTES];
    SystemRandom::new().fill(&mut seed).map_err(|_| SessionError::Random)?;
    Ok(seed)
}

/// What the table keeps of a token: the hex SHA-256 of its text.
pub fn token_hash(text: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

impl RefreshToken {
    /// The token of `generation` of the session `session` with `seed`, tagged with the ring's current key.
    pub fn mint(keys: &KeyRing, session: &SessionId, generation: u64, seed: &[u8; SEED_BYTES]) -> String {
        let covered = signed(session, generation, seed);
        let visible = &covered[..1 + ID_BYTES + 8];
        let tag = keys.refresh_tag(&covered);
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..visible.len()].copy_from_slice(visible);
        bytes[visible.len()..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a token's parts; `None` for anything that is not a well-formed token of this format.
    pub fn parse(text: &str) -> Option<RefreshToken> {
        if text.len() != TOKEN_CHARS {
            return None;
        }
        let mut bytes = [0u8; TOKEN_BYTES + 1];
        let len = URL_SAFE_NO_PAD.decode_slice(text, &mut bytes).ok()?;
        if len != TOKEN_BYTES || bytes[0] != VERSION {
            return None;
        }
        let mut id = [0u8; ID_BYTES];
        id.copy_from_slice(&bytes[1..=ID_BYTES]);
        let mut generation = [0u8; 8];
        generation.copy_from_slice(&bytes[1 + ID_BYTES..1 + ID_BYTES + 8]);
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&bytes[1 + ID_BYTES + 8..TOKEN_BYTES]);
        Some(RefreshToken { session: SessionId(id), generation: u64::from_be_bytes(generation), tag })
    }

    /// Whether the service made this token for the session whose seed is `seed`: its tag verifies, in
    /// constant time, under the current or the previous signing secret.
    pub fn authentic(&self, keys: &KeyRing, seed: &[u8; SEED_BYTES]) -> bool {
        keys.verify_refresh_tag(&signed(&self.session, self.generation, seed), &self.tag)
    }
}

/// How long a session lives (`session` in stages.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// From sign-in; refreshing never extends it.
    pub absolute_seconds: u64,
    /// From the last refresh (or the sign-in).
    pub idle_seconds: u64,
}

/// What refresh decides with: the lifetimes and the grace window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    pub lifetimes: Lifetimes,
    /// After a rotation, how long the spent token still gets the same answer; 0 turns it off.
    pub grace_seconds: u64,
}

impl SessionSettings {
    /// The defaults: 30 days, 7 days idle, 10 seconds of grace.
    pub const DEFAULT: SessionSettings = SessionSettings {
        lifetimes: Lifetimes { absolute_seconds: 30 * 86_400, idle_seconds: 7 * 86_400 },
        grace_seconds: 10,
    };
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    /// The normalized email.
    pub user: String,
    /// The generation of the one refresh token that may rotate; the first is 1.
    pub generation: u64,
    pub created_at: u64,
    pub last_used: u64,
    pub rotated_at: u64,
    pub revoked: bool,
    /// The session's random seed: every token's tag covers it.
    pub seed: [u8; SEED_BYTES],
    /// [`token_hash`] of the current token, and of the one it replaced.
    pub token_hash: String,
    pub previous_hash: Option<String>,
}

impl Session {
    /// A session begun by signing in at `now`, and its first refresh token.
    pub fn begin(id: SessionId, user: &str, now: u64, seed: [u8; SEED_BYTES], keys: &KeyRing) -> (Session, String) {
        let token = RefreshToken::mint(keys, &id, 1, &seed);
        let session = Session {
            id,
            user: user.to_owned(),
            generation: 1,
            created_at: now,
            last_used: now,
            rotated_at: now,
            revoked: false,
            seed,
            token_hash: token_hash(&token),
            previous_hash: None,
        };
        (session, token)
    }

    /// Whether `text` is this session's current token, or the one it replaced (sign-out takes either).
    pub fn holds(&self, text: &str) -> bool {
        let hash = token_hash(text);
        hash == self.token_hash || self.previous_hash.as_deref() == Some(hash.as_str())
    }

    /// When it ends whatever the refreshes: its absolute lifetime after sign-in.
    pub fn absolute_end(&self, lifetimes: &Lifetimes) -> u64 {
        self.created_at.saturating_add(lifetimes.absolute_seconds)
    }

    /// When it ends unless refreshed: its idle timeout, never past its absolute lifetime.
    pub fn ends_at(&self, lifetimes: &Lifetimes) -> u64 {
        self.absolute_end(lifetimes).min(self.last_used.saturating_add(lifetimes.idle_seconds))
    }
}

/// What the authorizer reads of a session to decide whether its access tokens still work: never its
/// seed or token hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The normalized email: a token naming this session must be this user's.
    pub user: String,
    pub revoked: bool,
    /// When the session ends unless refreshed (its idle timeout, capped by its absolute lifetime): the
    /// item's time to live, which every sign-in and rotation sets.
    pub expires_at: u64,
}

/// Why an access token's session no longer stands; logged, never told to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// No such session: never begun, or expired and deleted.
    Unknown,
    /// Signed out, or ended when a spent refresh token came back.
    Revoked,
    /// Past its idle timeout or absolute lifetime, not yet deleted.
    Expired,
    /// The session is another user's: the token was not issued in it.
    OtherUser,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ended::Unknown => "the token's session does not exist",
            Ended::Revoked => "the token's session was ended",
            Ended::Expired => "the token's session expired",
            Ended::OtherUser => "the token's session is another user's",
        })
    }
}

/// Whether the session an access token of `user` names still stands at `now`: the authorizer's rule.
pub fn standing(session: Option<&Standing>, user: &str, now: u64) -> Result<(), Ended> {
    let session = session.ok_or(Ended::Unknown)?;
    if session.user != user {
        return Err(Ended::OtherUser);
    }
    if session.revoked {
        return Err(Ended::Revoked);
    }
    if now >= session.expires_at {
        return Err(Ended::Expired);
    }
    Ok(())
}

/// How long a user's "signed out everywhere" time must be kept: until every session and access token it
/// could refuse has expired by itself.
pub fn keep_signed_out_seconds(absolute_seconds: u64, token_lifetime_seconds: u64) -> u64 {
    absolute_seconds.saturating_add(token_lifetime_seconds)
}

/// Why a refresh token was refused; logged, never told to the client (every refusal is one 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token of this format, or its tag does not verify.
    NotOurs,
    /// No such session (never was, or expired and deleted).
    Unknown,
    Revoked,
    /// Begun at or before its user signed out everywhere.
    SignedOutEverywhere,
    /// Past its absolute lifetime.
    Expired,
    /// Not refreshed within the idle timeout.
    Idle,
    /// A generation the session never reached: no token of it was issued.
    NotIssued,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::NotOurs => "not a refresh token of this service",
            Refusal::Unknown => "no such session",
            Refusal::Revoked => "the session was ended",
            Refusal::SignedOutEverywhere => "the user signed out everywhere after the session began",
            Refusal::Expired => "the session reached its absolute lifetime",
            Refusal::Idle => "the session was idle too long",
            Refusal::NotIssued => "a generation the session never reached",
        })
    }
}

/// What to do with an authentic refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The current token: rotate from this generation to the next.
    Rotate {
        from: u64,
    },
    /// The immediate predecessor within the grace window: answer the current token again.
    Replay {
        current: u64,
    },
    /// An older token, or the predecessor after the grace window: end the session.
    Reuse,
    Refuse(Refusal),
}

/// The rules, on the session as read, its user's "signed out everywhere" time, and the clock.
pub fn judge(
    presented: u64,
    session: Option<&Session>,
    valid_after: Option<u64>,
    now: u64,
    settings: &SessionSettings,
) -> Verdict {
    let Some(session) = session else { return Verdict::Refuse(Refusal::Unknown) };
    if session.revoked {
        return Verdict::Refuse(Refusal::Revoked);
    }
    if valid_after.is_some_and(|at| session.created_at <= at) {
        return Verdict::Refuse(Refusal::SignedOutEverywhere);
    }
    if now >= session.absolute_end(&settings.lifetimes) {
        return Verdict::Refuse(Refusal::Expired);
    }
    if now >= session.last_used.saturating_add(settings.lifetimes.idle_seconds) {
        return Verdict::Refuse(Refusal::Idle);
    }
    if presented == session.generation {
        return Verdict::Rotate { from: presented };
    }
    if presented > session.generation {
        return Verdict::Refuse(Refusal::NotIssued);
    }
    let within_grace = settings.grace_seconds > 0 && now <= session.rotated_at.saturating_add(settings.grace_seconds);
    if presented + 1 == session.generation && within_grace {
        Verdict::Replay { current: session.generation }
    } else {
        Verdict::Reuse
    }
}

/// A pseudonymous, stable id of a user for security logs, which never name an email: the first 16
/// hex digits of SHA-256 of `auth user <normalized email>` (`printf 'auth user %s' EMAIL | sha256sum`).
pub fn user_ref(email: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("auth user {email}").as_bytes());
    hex::encode(&digest.as_ref()[..8])
}

/// Why the session store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the system's random source failed")]
    Random,
    #[error("the sessions table could not be reached: {0}")]
    Unavailable(String),
    #[error("a sessions item is malformed: {0}")]
    Corrupt(String),
    #[error("a session with this id already exists")]
    Exists,
}

/// Sessions and users' "signed out everywhere" times.
pub trait SessionStore: Send + Sync {
    /// Stores a new session, refusing an id that exists.
    fn create(&self, session: &Session, expires_at: u64) -> impl Future<Output = Result<(), SessionError>> + Send;

    /// The session, read consistently.
    fn get(&self, id: &SessionId) -> impl Future<Output = Result<Option<Session>, SessionError>> + Send;

    /// Moves the session from generation `from` to `from + 1` at `now`, the current token's hash to
    /// `next_hash` (the old one kept as the previous), if it is still at `from` and not revoked:
    /// `Ok(false)` when another request got there first.
    fn rotate(
        &self,
        id: &SessionId,
        from: u64,
        next_hash: &str,
        now: u64,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, SessionError>> + Send;

    /// Ends the session; `Ok(false)` when there is none.
    fn revoke(&self, id: &SessionId) -> impl Future<Output = Result<bool, SessionError>> + Send;

    /// Whether the session stands, read consistently, without its secrets (the authorizer's read).
    fn standing(&self, id: &SessionId) -> impl Future<Output = Result<Option<Standing>, SessionError>> + Send;

    /// When `user` last signed out everywhere, if ever (and not yet expired).
    fn valid_after(&self, user: &str) -> impl Future<Output = Result<Option<u64>, SessionError>> + Send;

    /// Ends every session of `user` begun at or before `now`, and every access token issued to them by
    /// then. The time only moves forward: a slower, earlier sign-out never undoes a later one.
    fn end_all(&self, user: &str, now: u64, expires_at: u64) -> impl Future<Output = Result<(), SessionError>> + Send;
}

impl<T: SessionStore + ?Sized> SessionStore for Arc<T> {
    fn create(&self, session: &Session, expires_at: u64) -> impl Future<Output = Result<(), SessionError>> + Send {
        (**self).create(session, expires_at)
    }

    fn get(&self, id: &SessionId) -> impl Future<Output = Result<Option<Session>, SessionError>> + Send {
        (**self).get(id)
    }

    fn rotate(
        &self,
        id: &SessionId,
        from: u64,
        next_hash: &str,
        now: u64,
        expires_at: u64,
    ) -> impl Future<Output = Result<bool, SessionError>> + Send {
        (**self).rotate(id, from, next_hash, now, expires_at)
    }

    fn revoke(&self, id: &SessionId) -> impl Future<Output = Result<bool, SessionError>> + Send {
        (**self).revoke(id)
    }

    fn standing(&self, id: &SessionId) -> impl Future<Output = Result<Option<Standing>, SessionError>> + Send {
        (**self).standing(id)
    }

    fn valid_after(&self, user: &str) -> impl Future<Output = Result<Option<u64>, SessionError>> + Send {
        (**self).valid_after(user)
    }

    fn end_all(&self, user: &str, now: u64, expires_at: u64) -> impl Future<Output = Result<(), SessionError>> + Send {
        (**self).end_all(user, now, expires_at)
    }
}

#[cfg(test)]
mod tests;
