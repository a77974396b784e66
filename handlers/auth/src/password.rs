//! Password storage: an Argon2id PHC string, then encrypted with KMS under the user's email.
//!
//! The PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) carries its own parameters, so hashes
//! made under older parameters keep verifying after the parameters are raised. The string is then
//! encrypted by a [`Cipher`] whose encryption context is `{"email": <normalized email>}`: a ciphertext
//! copied into another user's row does not decrypt, so write access to the table alone cannot plant
//! a known password on someone else's account.

pub mod breached;
pub mod fake;
pub mod kms;
pub mod policy;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};

use crate::validate::{Email, Password};

/// `text` in Unicode NFKC: how a new password is kept, and how a breached one is listed.
pub fn nfkc(text: &str) -> String {
    icu_normalizer::ComposingNormalizerBorrowed::new_nfkc().normalize(text).into_owned()
}

// With these parameters one hash or one verification costs about 12 ms on one core of the development
// machine (`cargo bench -p auth --bench password`).

/// Argon2id memory cost in KiB: OWASP's 19 MiB.
pub const MEMORY_KIB: u32 = 19_456;
/// Argon2id passes over memory.
pub const ITERATIONS: u32 = 2;
/// Argon2id lanes.
pub const PARALLELISM: u32 = 1;
/// Salt length in bytes (the PHC recommendation).
const SALT_BYTES: usize = 16;
/// Hash output length in bytes.
const OUTPUT_BYTES: usize = 32;

/// The hash signin verifies against when the email has no account, so that an unknown email costs
/// the same Argon2id work as a wrong password. It was made with [`MEMORY_KIB`], [`ITERATIONS`] and
/// [`PARALLELISM`] from a random throwaway password that was never written down: nothing verifies
/// against it. A test fails if the parameters above change without this string.
pub const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ujV5/N50YWOFFxtDtLXGTA$gzNB+QNGK9kLXJ5AHrGJb7DerxJdQW2lBvChcGQJ1xQ";

/// Why hashing failed. Verification does not fail: it answers yes or no.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("argon2 parameters are invalid: {0}")]
    Params(String),
    #[error("the system random number generator failed")]
    Random,
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("stored password hash is not a valid PHC string")]
    MalformedHash,
}

/// A PHC string. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PhcString(String);

impl PhcString {
    /// Reads a decrypted PHC string, checking that it parses.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<PhcString, PasswordError> {
        let text = String::from_utf8(bytes).map_err(|_| PasswordError::MalformedHash)?;
        PasswordHash::new(&text).map_err(|_| PasswordError::MalformedHash)?;
        Ok(PhcString(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PhcString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhcString(<redacted>)")
    }
}

/// Argon2id hashing and constant-time verification with a fixed set of parameters.
pub struct PasswordScheme {
    argon2: Argon2<'static>,
    dummy: PhcString,
    rng: SystemRandom,
    /// How many Argon2id verifications ran, real or dummy: lets tests check that every signin path
    /// pays one, without timing anything.
    #[cfg(test)]
    pub(crate) verifications: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for PasswordScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params = self.argon2.params();
        f.debug_struct("PasswordScheme")
            .field("m_cost", &params.m_cost())
            .field("t_cost", &params.t_cost())
            .field("p_cost", &params.p_cost())
            .finish_non_exhaustive()
    }
}

impl PasswordScheme {
    /// The production scheme: OWASP's Argon2id parameters, with [`DUMMY_PHC`] for unknown users.
    pub fn owasp() -> PasswordScheme {
        // These constants are valid Argon2 parameters (a test proves it); the default is the same
        // OWASP set, so the fallback can never change behaviour.
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_BYTES)).unwrap_or_default();
        PasswordScheme {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: PhcString(DUMMY_PHC.to_owned()),
            rng: SystemRandom::new(),
            #[cfg(test)]
            verifications: Default::default(),
        }
    }

    /// A scheme with other parameters. Its dummy hash is made now, from a random password, so that it
    /// costs what a real hash costs. Tests use it with small parameters to stay fast in debug builds.
    pub fn with_params(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<PasswordScheme, PasswordError> {
        let params = Params::new(memory_kib, iterations, parallelism, Some(OUTPUT_BYTES))
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        let mut scheme = PasswordScheme {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: PhcString(String::new()),
            rng: SystemRandom::new(),
            #[cfg(test)]
            verifications: Default::default(),
        };
        let mut throwaway = [0u8; 32];
        scheme.rng.fill(&mut throwaway).map_err(|_| PasswordError::Random)?;
        scheme.dummy = scheme.hash_bytes(&throwaway)?;
        Ok(scheme)
    }

    /// The parameters new hashes are made with: (memory KiB, iterations, parallelism).
    pub fn params(&self) -> (u32, u32, u32) {
        let params = self.argon2.params();
        (params.m_cost(), params.t_cost(), params.p_cost())
    }

    /// Hashes a password with a fresh random salt.
    pub fn hash(&self, password: &Password) -> Result<PhcString, PasswordError> {
        self.hash_bytes(password.expose().as_bytes())
    }

    fn hash_bytes(&self, password: &[u8]) -> Result<PhcString, PasswordError> {
        let mut salt = [0u8; SALT_BYTES];
        self.rng.fill(&mut salt).map_err(|_| PasswordError::Random)?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let hash = self.argon2.hash_password(password, &salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
        Ok(PhcString(hash.to_string()))
    }

    /// Whether `password` matches `phc`. The comparison of hash outputs is constant-time (argon2's
    /// `verify_password`); the work done depends only on the parameters stored in `phc`.
    pub fn verify(&self, password: &Password, phc: &PhcString) -> bool {
        #[cfg(test)]
        self.verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match PasswordHash::new(phc.as_str()) {
            Ok(parsed) => self.argon2.verify_password(password.expose().as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }

    /// Does the work of one verification against the dummy hash and discards the answer, so that an
    /// unknown email takes as long as a known one with a wrong password.
    pub fn verify_dummy(&self, password: &Password) {
        let matched = self.verify(password, &self.dummy);
        // The dummy's password was never kept; a match would mean the scheme is broken.
        debug_assert!(!matched, "a password matched the dummy hash");
    }
}

/// Why a [`Cipher`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The ciphertext does not decrypt under this email's context: it was altered, or moved from
    /// another user's row. KMS reports both as `InvalidCiphertextException`.
    #[error("the ciphertext does not decrypt under this email's encryption context")]
    Rejected,
    /// The key service failed; the request may be retried.
    #[error("the key service failed: {0}")]
    Unavailable(String),
}

/// Encryption bound to a user: what `encrypt` made for one email, `decrypt` opens only for the same
/// email. The binding is KMS's encryption context `{contract::kms::CONTEXT_KEY: email}`.
pub trait Cipher: Send + Sync {
    fn encrypt(&self, plaintext: &[u8], email: &Email) -> impl Future<Output = Result<Vec<u8>, CipherError>> + Send;
    fn decrypt(&self, ciphertext: &[u8], email: &Email) -> impl Future<Output = Result<Vec<u8>, CipherError>> + Send;

    /// The round trip a [`Cipher::decrypt`] of a user's hash costs, for an email with no hash: a request
    /// the key service refuses. `Ok` whenever the service answered, whatever it answered;
    /// [`CipherError::Unavailable`] only when it could not be reached, as a real decrypt would then fail.
    fn decoy(&self, email: &Email) -> impl Future<Output = Result<(), CipherError>> + Send;
}

/// A shared cipher is a cipher, so one key can serve several handlers' dependencies.
impl<T: Cipher + ?Sized> Cipher for Arc<T> {
    fn encrypt(&self, plaintext: &[u8], email: &Email) -> impl Future<Output = Result<Vec<u8>, CipherError>> + Send {
        (**self).encrypt(plaintext, email)
    }

    fn decrypt(&self, ciphertext: &[u8], email: &Email) -> impl Future<Output = Result<Vec<u8>, CipherError>> + Send {
        (**self).decrypt(ciphertext, email)
    }

    fn decoy(&self, email: &Email) -> impl Future<Output = Result<(), CipherError>> + Send {
        (**self).decoy(email)
    }
}

#[cfg(test)]
mod tests;
