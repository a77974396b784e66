//! The Argon2id cost per signup (hash) and per signin (verify) with the production parameters.

use std::hint::black_box;

use auth::password::PasswordScheme;
use auth::validate::Password;
use criterion::{Criterion, criterion_group, criterion_main};

fn argon2id(c: &mut Criterion) {
    let scheme = PasswordScheme::owasp();
    let password = Password::parse("plum harbor quietly juggles".into()).unwrap_or_else(|e| panic!("{e}"));
    let phc = scheme.hash(&password).unwrap_or_else(|e| panic!("{e}"));
    let mut group =
        c.benchmark_group(format!("argon2id m={} t={} p={}", scheme.params().0, scheme.params().1, scheme.params().2));
    group.sample_size(20);
    group.bench_function("hash (signup)", |b| b.iter(|| scheme.hash(black_box(&password))));
    group.bench_function("verify (signin)", |b| b.iter(|| scheme.verify(black_box(&password), &phc)));
    group.bench_function("verify_dummy (signin, unknown email)", |b| {
        b.iter(|| scheme.verify_dummy(black_box(&password)))
    });
    group.finish();
}

criterion_group!(benches, argon2id);
criterion_main!(benches);
