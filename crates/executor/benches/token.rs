//! The per-request token check: [`validate_token`] of a valid HS256 token (two base64url
//! JSON parts, one HMAC-SHA256, one base64url signature), and SHA-256 of a small input.

use std::hint::black_box;

use amelie_executor::admin::users::{make_token, validate_token, User};
use amelie_vm::func::sha256;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let users = vec![User {
        name: "bench".into(),
        secret: "a secret of some thirty-two bytes".into(),
    }];
    let token = make_token("bench", &users[0].secret, 1_700_000_000, 1_900_000_000);
    assert!(validate_token(&token, &users, 1_800_000_000).is_some());
    c.bench_function("token/validate", |b| {
        b.iter(|| validate_token(black_box(&token), black_box(&users), 1_800_000_000))
    });
    let input = b"SELECT abalance FROM accounts WHERE aid = 1";
    c.bench_function("token/sha256_43B", |b| b.iter(|| sha256(black_box(input))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
