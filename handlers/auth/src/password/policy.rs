//! What signup accepts as a new password: NIST SP 800-63B rev. 4 for a password that is the only
//! factor. No composition rules; at least [`DEFAULT_MIN_CHARS`] characters (per stage, never fewer
//! than [`FLOOR_MIN_CHARS`]) and at most [`crate::validate::MAX_PASSWORD_CHARS`], counted after
//! Unicode NFKC normalization (so `Ａ` and `A`, or a composed and a decomposed `é`, are the same
//! password, however a keyboard typed it); no control characters; and not a password that is commonly
//! used or easy to guess.
//!
//! The last check is zxcvbn's: its dictionaries of common passwords, names and English words, and its
//! patterns (repeats, sequences, keyboard walks, dates, the user's own email), estimate how many
//! guesses a password takes; below [`MIN_SCORE`] it is refused with zxcvbn's reason. A bundled list of
//! the most common passwords would catch `password1234567`, but not `aaaaaaaaaaaaaaa`,
//! `qwertyuiopasdfg` or the email's own name padded to length, which an attacker tries as early.
//!
//! Existing users keep signing in with what they have: only passwords set under this policy are
//! normalized, and the user row says so ([`crate::store::StoredUser::normalized`]).

use crate::validate::{Email, MAX_PASSWORD_CHARS, Password};

/// The fewest characters when a stage sets none: NIST's minimum for a single-factor password.
pub const DEFAULT_MIN_CHARS: usize = 15;
/// The fewest a stage may set: NIST's absolute floor.
pub const FLOOR_MIN_CHARS: usize = 8;
/// zxcvbn's score a new password must reach: 3 is "safely unguessable" (about 10^8 guesses at least).
pub const MIN_SCORE: u8 = 3;

/// The stage's rules for a new password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> PasswordPolicy {
        PasswordPolicy { min_chars: DEFAULT_MIN_CHARS }
    }
}

/// Why a new password was refused: each says why and what to do, never the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Weak {
    #[error("password must be at least {0} characters; a few unrelated words make a long password easy to remember")]
    TooShort(usize),
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("password must not contain control characters")]
    ControlCharacters,
    #[error("password is too easy to guess ({0}); choose a passphrase of unrelated words")]
    Guessable(String),
}

/// `text` in Unicode NFKC.
pub fn nfkc(text: &str) -> String {
    icu_normalizer::ComposingNormalizerBorrowed::new_nfkc().normalize(text).into_owned()
}

impl PasswordPolicy {
    /// The password to hash, normalized, or why it is refused.
    pub fn check(&self, password: &Password, email: &Email) -> Result<Password, Weak> {
        let normalized = nfkc(password.expose());
        let chars = normalized.chars().count();
        if chars < self.min_chars {
            return Err(Weak::TooShort(self.min_chars));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(Weak::TooLong);
        }
        if normalized.chars().any(char::is_control) {
            return Err(Weak::ControlCharacters);
        }
        // The email's parts are words an attacker who knows it tries first.
        let (local, domain) = email.as_str().split_once('@').unwrap_or((email.as_str(), ""));
        let inputs: Vec<&str> = [local, domain].into_iter().chain(domain.split('.')).collect();
        let estimate = zxcvbn::zxcvbn(&normalized, &inputs);
        if u8::from(estimate.score()) < MIN_SCORE {
            let why = estimate
                .feedback()
                .and_then(|f| f.warning())
                .map_or_else(|| "it would be found early by a guesser".to_owned(), |w| w.to_string().to_lowercase());
            return Err(Weak::Guessable(why.trim_end_matches('.').to_owned()));
        }
        Password::parse(normalized).map_err(|_| Weak::TooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str) -> Result<Password, Weak> {
        let email = Email::parse("alice.smith@example.com").unwrap_or_else(|e| panic!("{e}"));
        let raw = Password::parse(password.to_owned()).unwrap_or_else(|e| panic!("{e}"));
        PasswordPolicy::default().check(&raw, &email)
    }

    #[test]
    fn the_passwords_an_outside_test_got_accepted_are_refused_with_the_reason() {
        for (password, why) in [
            ("12345678", "at least 15 characters"),
            ("password", "at least 15 characters"),
            ("        ", "at least 15 characters"),
            ("\0\0\0\0\0\0\0\0", "at least 15 characters"),
            ("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", "control characters"),
            ("                ", "too easy to guess"),
            ("aaaaaaaaaaaaaaaa", "too easy to guess"),
            ("123456789012345", "too easy to guess"),
            ("passwordpassword", "too easy to guess"),
            ("qwertyuiopasdfgh", "too easy to guess"),
            ("alicesmithalicesmith", "too easy to guess"),
        ] {
            let refused = check(password).err().unwrap_or_else(|| panic!("{password:?} accepted"));
            assert!(refused.to_string().contains(why), "{password:?}: {refused}");
            // The reason never repeats the password (the word "password" in a message is not an echo).
            let long = password.chars().count() >= 15 && !password.trim().is_empty();
            assert!(!long || !refused.to_string().contains(password), "{password:?} echoed: {refused}");
        }
    }

    #[test]
    fn long_unrelated_words_pass_and_are_normalized() {
        assert!(check("correct horse battery staple").is_ok());
        assert!(check("velvet tractor orbit lemonade").is_ok());
        // Fullwidth letters are the same password as their ASCII forms once normalized.
        let fullwidth = check("ｖｅｌｖｅｔ tractor orbit lemonade").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fullwidth.expose(), "velvet tractor orbit lemonade");
        let composed = check("caf\u{e9} tractor orbit lemonade").unwrap_or_else(|e| panic!("{e}"));
        let decomposed = check("cafe\u{301} tractor orbit lemonade").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn a_stage_may_lower_the_minimum_to_the_floor_only() {
        let email = Email::parse("a@example.com").unwrap_or_else(|e| panic!("{e}"));
        let raw = Password::parse("tq8#Vd2!mZ".to_owned()).unwrap_or_else(|e| panic!("{e}"));
        assert!(PasswordPolicy { min_chars: 10 }.check(&raw, &email).is_ok());
        assert_eq!(PasswordPolicy::default().check(&raw, &email), Err(Weak::TooShort(15)));
    }
}
