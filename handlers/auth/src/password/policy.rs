//! What signup accepts as a new password: NIST SP 800-63B rev. 4 for a password that is the only
//! factor. No composition rules; at least [`DEFAULT_MIN_CHARS`] characters (per stage, never fewer
//! than [`FLOOR_MIN_CHARS`]) and at most [`crate::validate::MAX_PASSWORD_CHARS`], counted after
//! Unicode NFKC normalization (so `Ａ` and `A`, or a composed and a decomposed `é`, are the same
//! password, however a keyboard typed it); no control characters; and not a password that is commonly
//! used or easy to guess.
//!
//! Then NIST's blocklist, each rule with its own reason: a password that contains the account's email,
//! its name part or a word of it, or the service's name (context words, compared without case, spaces
//! or punctuation); one that appears in breached-password lists ([`super::breached`]); one that is
//! mostly one part typed twice (`mypasswordismypassword`). Last, zxcvbn's dictionaries of common
//! passwords, names and English words, and its patterns (repeats, sequences, keyboard walks, dates)
//! estimate how many guesses a password takes; below [`MIN_SCORE`] it is refused with zxcvbn's reason.
//! The rules decide; the estimate only adds what they cannot list (`aaaaaaaaaaaaaaa`,
//! `qwertyuiopasdfg`).
//!
//! Existing users keep signing in with what they have: only passwords set under this policy are
//! normalized, and the user row says so ([`crate::store::StoredUser::normalized`]).

use super::breached::Breached;
use crate::validate::{Email, MAX_PASSWORD_CHARS, Password};

/// A context word shorter than this is not looked for: too many passwords contain two or three letters.
pub const MIN_CONTEXT_CHARS: usize = 4;

/// What a new password is checked against besides its own shape: the breached-password lists and the
/// service's names (the stage's `AUTH_SERVICE_NAMES`).
#[derive(Debug, Clone)]
pub struct Blocklist {
    pub breached: Breached<'static>,
    pub service_names: Vec<String>,
}

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
    /// U+FFFD stands where a byte that was not UTF-8 was sent (API Gateway puts it there): two passwords
    /// typed with different wrong bytes would be one. Only new passwords are refused: a user who set one
    /// before still signs in with it.
    #[error("password must not contain U+FFFD, the mark of a byte that was not UTF-8; send the password as UTF-8")]
    NotUtf8,
    #[error("password must not contain your email address or a part of it; choose a passphrase of unrelated words")]
    ContainsEmail,
    #[error("password must not contain the service's name ({0}); choose a passphrase of unrelated words")]
    ContainsServiceName(String),
    #[error(
        "password appears in breached password lists, which attackers try first; choose a passphrase of unrelated words"
    )]
    Breached,
    #[error("password repeats itself; choose a passphrase of unrelated words")]
    Repeats,
    #[error("password is too easy to guess ({0}); choose a passphrase of unrelated words")]
    Guessable(String),
}

pub use super::nfkc;

// The breached-password filter keeps no password shorter than the floor; a stage may not go below it.
const _: () = assert!(FLOOR_MIN_CHARS == super::breached::MIN_ENTRY_CHARS);

impl PasswordPolicy {
    /// The password to hash, normalized, or why it is refused.
    pub fn check(&self, password: &Password, email: &Email, blocklist: &Blocklist) -> Result<Password, Weak> {
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
        if normalized.contains(char::REPLACEMENT_CHARACTER) {
            return Err(Weak::NotUtf8);
        }
        let bare = bare(&normalized);
        if email_words(email).iter().any(|word| bare.contains(word.as_str())) {
            return Err(Weak::ContainsEmail);
        }
        if let Some(name) = blocklist.service_names.iter().find(|name| {
            let word = bare_word(name);
            word.chars().count() >= MIN_CONTEXT_CHARS && bare.contains(word.as_str())
        }) {
            return Err(Weak::ContainsServiceName(name.clone()));
        }
        if blocklist.breached.contains(&normalized) {
            return Err(Weak::Breached);
        }
        if repeats(&bare) {
            return Err(Weak::Repeats);
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

/// `text` lowercased, without anything but letters and digits: how context words are compared.
fn bare(text: &str) -> String {
    text.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect()
}

fn bare_word(word: &str) -> String {
    bare(&nfkc(word))
}

/// The words of an email a password must not contain: the whole address, its name part, and each piece
/// of the name part between separators and between letters and digits (`grace.hopper` gives
/// `gracehopper`, `grace` and `hopper`; `alice1990` gives `alice` and `1990`), those of at least
/// [`MIN_CONTEXT_CHARS`] characters.
fn email_words(email: &Email) -> Vec<String> {
    let address = email.as_str();
    let local = address.split_once('@').map_or(address, |(local, _)| local);
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in local.chars() {
        let boundary = current.chars().last().is_some_and(|last| last.is_ascii_digit() != c.is_ascii_digit());
        if !c.is_alphanumeric() || boundary {
            pieces.push(std::mem::take(&mut current));
        }
        if c.is_alphanumeric() {
            current.push(c);
        }
    }
    pieces.push(current);
    let pieces = pieces.iter().map(String::as_str);
    let mut words: Vec<String> = [address, local].into_iter().chain(pieces).map(bare_word).collect();
    words.retain(|w| w.chars().count() >= MIN_CONTEXT_CHARS);
    words.sort();
    words.dedup();
    words
}

/// Whether a part of at least a third of `bare` appears in it twice, apart (`mypasswordismypassword`).
/// Passwords over 64 characters are not searched: a third of one is a long password by itself.
fn repeats(bare: &str) -> bool {
    let chars: Vec<char> = bare.chars().collect();
    let n = chars.len();
    if n > 64 {
        return false;
    }
    let shortest = n.div_ceil(3).max(MIN_CONTEXT_CHARS);
    (shortest..=n / 2)
        .any(|len| (0..=n - 2 * len).any(|i| (i + len..=n - len).any(|j| chars[i..i + len] == chars[j..j + len])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str) -> Result<Password, Weak> {
        let email = Email::parse("alice.smith@example.com").unwrap_or_else(|e| panic!("{e}"));
        let raw = Password::parse(password.to_owned()).unwrap_or_else(|e| panic!("{e}"));
        PasswordPolicy::default().check(&raw, &email, &crate::testing::blocklist())
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
            ("aaaaaaaaaaaaaaaa", "repeats itself"),
            ("123456789012345", "repeats itself"),
            ("passwordpassword", "repeats itself"),
            ("qwertyuiopasdfgh", "too easy to guess"),
            ("alicesmithalicesmith", "contain your email"),
        ] {
            let refused = check(password).err().unwrap_or_else(|| panic!("{password:?} accepted"));
            assert!(refused.to_string().contains(why), "{password:?}: {refused}");
            // The reason never repeats the password (the word "password" in a message is not an echo).
            let long = password.chars().count() >= 15 && !password.trim().is_empty();
            assert!(!long || !refused.to_string().contains(password), "{password:?} echoed: {refused}");
        }
    }

    /// Issue 25's red team: the account's email as its password, and variants of it, answered 201.
    #[test]
    fn attack_the_email_or_a_part_of_it_as_the_password_is_refused() {
        let refused = |email: &str, password: &str| {
            let email = Email::parse(email).unwrap_or_else(|e| panic!("{e}"));
            let raw = Password::parse(password.to_owned()).unwrap_or_else(|e| panic!("{e}"));
            PasswordPolicy { min_chars: 8 }.check(&raw, &email, &crate::testing::blocklist()).err()
        };
        for (email, password) in [
            ("grace.hopper@navy.example.org", "grace.hopper@navy.example.org"),
            ("grace.hopper@navy.example.org", "GRACE.HOPPER@NAVY.EXAMPLE.ORG"),
            ("grace.hopper@navy.example.org", "gracehopper-navy-example-org"),
            ("grace.hopper@navy.example.org", "Grace Hopper 1906-1992!"),
            ("grace.hopper@navy.example.org", "my friend hopper rocks"),
            ("frank@example.com", "frank@example.com"),
            ("frank@example.com", "frank@example.com!"),
            ("frank@example.com", "!!Frank@Example.com!!"),
            ("frank@example.com", "\u{ff26}rank is my first name"),
            ("alice1990@example.com", "wonderland alice forever"),
        ] {
            assert_eq!(refused(email, password), Some(Weak::ContainsEmail), "{email}: {password:?}");
        }
        // A name part of fewer than four letters is not looked for: too many passwords contain "al".
        assert_eq!(refused("al@example.com", "velvet tractor orbit lemonade"), None);
    }

    #[test]
    fn attack_the_service_name_breached_passwords_and_repeats_are_refused_with_their_reason() {
        for (password, weak) in [
            ("my auth service password", Weak::ContainsServiceName("auth".into())),
            ("AUTH-DEV lemonade tractor", Weak::ContainsServiceName("auth".into())),
            ("correct horse battery staple", Weak::Breached),
            ("Password1234567!", Weak::Breached),
            ("Welcome123456789!", Weak::Breached),
            ("the quick brown fox jumps over the lazy dog", Weak::Breached),
            ("mypasswordismypassword", Weak::Repeats),
        ] {
            assert_eq!(check(password).err(), Some(weak), "{password:?}");
        }
        assert!(Weak::Breached.to_string().contains("appears in breached password lists"));
        assert!(Weak::ContainsEmail.to_string().contains("contain your email"));
    }

    #[test]
    fn attack_a_new_password_with_a_byte_that_was_not_utf8_is_refused() {
        // Where API Gateway put U+FFFD for a byte that was not UTF-8.
        assert_eq!(check("velvet tractor \u{fffd} orbit lemonade").err(), Some(Weak::NotUtf8));
    }

    #[test]
    fn repeats_are_a_third_of_the_password_typed_twice() {
        assert!(repeats("mypasswordismypassword"));
        assert!(repeats("abcdefabcdef"));
        assert!(!repeats("velvettractorvelvetorbit"), "one word again is not a third");
        assert!(!repeats("velvettractororbitlemonade"));
    }

    #[test]
    fn long_unrelated_words_pass_and_are_normalized() {
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
        let blocklist = crate::testing::blocklist();
        assert!(PasswordPolicy { min_chars: 10 }.check(&raw, &email, &blocklist).is_ok());
        assert_eq!(PasswordPolicy::default().check(&raw, &email, &blocklist), Err(Weak::TooShort(15)));
    }
}
