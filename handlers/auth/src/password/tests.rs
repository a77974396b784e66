//! Tests of the Argon2id scheme, the dummy hash and the fake cipher's context binding.

use super::fake::FakeCipher;
use super::*;

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn password(raw: &str) -> Password {
    Password::parse(raw.to_owned()).unwrap_or_else(|e| panic!("{e}"))
}

/// Small parameters: the rules under test do not depend on the cost, and debug builds are slow.
fn cheap() -> PasswordScheme {
    PasswordScheme::with_params(256, 1, 1).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn owasp_scheme_uses_the_documented_parameters() {
    assert_eq!(PasswordScheme::owasp().params(), (19_456, 2, 1));
    assert_eq!((MEMORY_KIB, ITERATIONS, PARALLELISM), (19_456, 2, 1));
    assert!(Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_BYTES)).is_ok());
}

#[test]
fn dummy_hash_is_argon2id_with_the_current_parameters() {
    let parsed = PasswordHash::new(DUMMY_PHC).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    assert_eq!(parsed.version, Some(0x13));
    let params = Params::try_from(&parsed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (params.m_cost(), params.t_cost(), params.p_cost()),
        (MEMORY_KIB, ITERATIONS, PARALLELISM),
        "the parameters changed: regenerate DUMMY_PHC with them"
    );
    assert_eq!(parsed.hash.map(|h| h.len()), Some(OUTPUT_BYTES));
}

#[test]
fn hash_is_a_salted_argon2id_phc_string() {
    let scheme = cheap();
    let secret = password("correct horse battery");
    let first = scheme.hash(&secret).unwrap_or_else(|e| panic!("{e}"));
    let second = scheme.hash(&secret).unwrap_or_else(|e| panic!("{e}"));
    assert!(first.as_str().starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{}", first.as_str());
    assert_ne!(first, second, "two hashes of one password share a salt");
    assert!(!first.as_str().contains("correct horse"));
}

#[test]
fn verify_accepts_the_password_and_refuses_others() {
    let scheme = cheap();
    let phc = scheme.hash(&password("correct horse battery")).unwrap_or_else(|e| panic!("{e}"));
    assert!(scheme.verify(&password("correct horse battery"), &phc));
    assert!(!scheme.verify(&password("correct horse batterY"), &phc));
    assert!(!scheme.verify(&password("correct horse battery "), &phc));
}

#[test]
fn verify_uses_the_parameters_stored_in_the_hash() {
    // A hash made under older (here: other) parameters still verifies after they change.
    let old = PasswordScheme::with_params(128, 2, 1).unwrap_or_else(|e| panic!("{e}"));
    let phc = old.hash(&password("long enough")).unwrap_or_else(|e| panic!("{e}"));
    assert!(cheap().verify(&password("long enough"), &phc));
}

#[test]
fn owasp_hash_round_trips_and_the_dummy_matches_nothing() {
    // The one test that pays the production cost: it proves the real parameters work end to end.
    let scheme = PasswordScheme::owasp();
    let phc = scheme.hash(&password("correct horse battery")).unwrap_or_else(|e| panic!("{e}"));
    assert!(phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(scheme.verify(&password("correct horse battery"), &phc));
    assert!(!scheme.verify(&password("password"), &PhcString(DUMMY_PHC.to_owned())));
}

#[test]
fn verify_dummy_does_the_work_of_a_verification() {
    let scheme = cheap();
    // The dummy is a real hash of the scheme's parameters, not a string that fails to parse fast.
    assert!(PasswordHash::new(scheme.dummy.as_str()).is_ok());
    assert!(scheme.dummy.as_str().starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
    scheme.verify_dummy(&password("any password at all"));
}

#[test]
fn phc_strings_are_checked_when_read_back() {
    assert_eq!(PhcString::from_bytes(vec![0xff, 0xfe]), Err(PasswordError::MalformedHash));
    assert_eq!(PhcString::from_bytes(b"not a phc string".to_vec()), Err(PasswordError::MalformedHash));
    assert!(PhcString::from_bytes(DUMMY_PHC.as_bytes().to_vec()).is_ok());
}

#[test]
fn a_malformed_hash_never_verifies() {
    assert!(!cheap().verify(&password("whatever123"), &PhcString("$argon2id$garbage".into())));
}

#[test]
fn debug_output_hides_hashes() {
    let phc = PhcString(DUMMY_PHC.to_owned());
    assert!(!format!("{phc:?}").contains("argon2"));
    assert!(!format!("{:?}", cheap()).contains("argon2id$"));
}

#[test]
fn invalid_parameters_are_an_error() {
    assert!(matches!(PasswordScheme::with_params(1, 1, 1), Err(PasswordError::Params(_))));
}

fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}")).block_on(future)
}

#[test]
fn fake_cipher_round_trips_under_the_same_email() {
    block_on(async {
        let cipher = FakeCipher::new();
        let alice = email("alice@example.com");
        let ciphertext = cipher.encrypt(b"secret phc", &alice).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(!ciphertext.windows(6).any(|w| w == b"secret"), "the plaintext shows in the ciphertext");
        assert_eq!(cipher.decrypt(&ciphertext, &alice).await, Ok(b"secret phc".to_vec()));
    });
}

#[test]
fn ciphertext_moved_to_another_user_does_not_decrypt() {
    block_on(async {
        let cipher = FakeCipher::new();
        let scheme = cheap();
        let (alice, mallory) = (email("alice@example.com"), email("mallory@example.com"));
        // Mallory knows her own password; copying her encrypted hash to Alice's row must not let her
        // sign in as Alice.
        let mallory_phc = scheme.hash(&password("mallory keeps an orbit lemonade")).unwrap_or_else(|e| panic!("{e}"));
        let mallory_ciphertext =
            cipher.encrypt(mallory_phc.as_bytes(), &mallory).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cipher.decrypt(&mallory_ciphertext, &alice).await, Err(CipherError::Rejected));
        assert!(cipher.decrypt(&mallory_ciphertext, &mallory).await.is_ok());
    });
}

#[test]
fn fake_cipher_refuses_ciphertexts_it_did_not_make() {
    block_on(async {
        let cipher = FakeCipher::new();
        let alice = email("alice@example.com");
        let made = cipher.encrypt(b"x", &alice).await.unwrap_or_else(|e| panic!("{e}"));
        let mut forged = made.clone();
        if let Some(last) = forged.last_mut() {
            *last += 1;
        }
        for ciphertext in [Vec::new(), b"garbage".to_vec(), forged, [made.as_slice(), b"!"].concat()] {
            assert_eq!(cipher.decrypt(&ciphertext, &alice).await, Err(CipherError::Rejected));
        }
    });
}

#[test]
fn fake_cipher_can_fail_like_an_outage() {
    block_on(async {
        let cipher = FakeCipher::new();
        let alice = email("alice@example.com");
        cipher.set_unavailable(true);
        assert!(matches!(cipher.encrypt(b"x", &alice).await, Err(CipherError::Unavailable(_))));
        cipher.set_unavailable(false);
        assert!(cipher.encrypt(b"x", &alice).await.is_ok());
    });
}
