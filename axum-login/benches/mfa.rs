//! What checking a second factor costs: a TOTP code (`Mfa::verify_totp` on the memory store,
//! with and without an encryption key, and one HMAC-SHA-1 code alone), a recovery code, and a
//! passkey assertion (`Passkeys::finish_authentication`, which runs the signature check on
//! tokio's blocking pool, and the bare webauthn-rs check it wraps). The memory stores keep the
//! database out of the numbers: add a store round trip (see the `sqlx_store` bench) for a real
//! deployment.
//!
//! Run: `cargo bench -p axum-login@0.1.0 --features totp,passkeys --bench mfa`
//! (fewer iterations: `BENCH_ITERATIONS=200 cargo bench ...`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use axum_login::{
    clock::ManualClock,
    mfa::{
        CodeCheck, EncryptionKey, MemoryPasskeyStore, MemorySecondFactorStore, Mfa, Passkeys, Totp,
        TotpSecret,
        passkey::{Url, WebauthnBuilder},
    },
};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};

fn print(case: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    let mean = total / u32::try_from(samples.len()).unwrap();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "| {:<52} | {:>6} | {:>10} | {:>10} | {:>10} |",
        case,
        samples.len(),
        format!("{mean:.1?}"),
        format!("{:.1?}", at(0.5)),
        format!("{:.1?}", at(0.99)),
    );
}

async fn totp(iterations: usize, key: Option<EncryptionKey>) -> Vec<Duration> {
    let clock = ManualClock::new();
    let mut mfa = Mfa::new(MemorySecondFactorStore::default(), Totp::new("Bench"));
    if let Some(key) = key {
        mfa = mfa.with_encryption_key(key);
    }
    let enrolment = mfa.start_totp_enrollment("1", "bench").await.unwrap();
    let code = mfa.totp().code(enrolment.secret(), &clock);
    mfa.confirm_totp("1", &code, &clock).await.unwrap().unwrap();
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        clock.advance(Duration::from_secs(30));
        let code = mfa.totp().code(enrolment.secret(), &clock);
        let start = Instant::now();
        let check = mfa.verify_totp("1", &code, &clock).await.unwrap();
        samples.push(start.elapsed());
        assert_eq!(check, CodeCheck::Accepted);
    }
    samples
}

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    println!(
        "| {:<52} | {:>6} | {:>10} | {:>10} | {:>10} |",
        "case", "n", "mean", "p50", "p99"
    );
    println!(
        "|{:-<54}|{:-<8}|{:-<12}|{:-<12}|{:-<12}|",
        "", "", "", "", ""
    );

    let secret = TotpSecret::generate();
    let totp_params = Totp::new("Bench");
    let mut samples = Vec::with_capacity(iterations);
    for step in 0..iterations as u64 {
        let start = Instant::now();
        std::hint::black_box(totp_params.code_at_step(&secret, step));
        samples.push(start.elapsed());
    }
    print("one TOTP code (HMAC-SHA-1)", samples);
    print(
        "verify_totp, memory store, secret in the clear",
        totp(iterations, None).await,
    );
    print(
        "verify_totp, memory store, secret encrypted",
        totp(iterations, Some(EncryptionKey::generate())).await,
    );

    let mfa = Mfa::new(MemorySecondFactorStore::default(), Totp::new("Bench"));
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations.div_ceil(10) {
        let codes = mfa.regenerate_recovery_codes("1").await.unwrap();
        let codes: Vec<String> = codes.iter().map(str::to_owned).collect();
        for code in &codes {
            let start = Instant::now();
            assert!(mfa.use_recovery_code("1", code).await.unwrap());
            samples.push(start.elapsed());
        }
    }
    print("use_recovery_code, memory store", samples);

    let origin = Url::parse("https://app.example.com").unwrap();
    let passkeys = Passkeys::new(
        MemoryPasskeyStore::default(),
        "app.example.com",
        &origin,
        "Bench",
    )
    .unwrap();
    let webauthn = WebauthnBuilder::new("app.example.com", &origin)
        .unwrap()
        .build()
        .unwrap();
    let mut authenticator = SoftPasskey::new(true);
    let (options, state) = passkeys
        .start_registration("1", "bench", "Bench")
        .await
        .unwrap();
    let response = authenticator
        .do_registration(origin.clone(), options)
        .unwrap();
    let passkey = passkeys
        .finish_registration("1", &response, state)
        .await
        .unwrap();

    let slow = iterations.div_ceil(4);
    let mut samples = Vec::with_capacity(slow);
    for _ in 0..slow {
        let (options, state) = passkeys.start_authentication("1").await.unwrap().unwrap();
        let assertion = authenticator
            .do_authentication(origin.clone(), options)
            .unwrap();
        let start = Instant::now();
        passkeys
            .finish_authentication("1", &assertion, state)
            .await
            .unwrap();
        samples.push(start.elapsed());
    }
    print("Passkeys::finish_authentication (blocking pool)", samples);

    let mut samples = Vec::with_capacity(slow);
    let mut stored = passkey;
    for _ in 0..slow {
        let (options, state) = webauthn
            .start_passkey_authentication(std::slice::from_ref(&stored))
            .unwrap();
        let assertion = authenticator
            .do_authentication(origin.clone(), options)
            .unwrap();
        let start = Instant::now();
        let result = webauthn
            .finish_passkey_authentication(&assertion, &state)
            .unwrap();
        samples.push(start.elapsed());
        stored.update_credential(&result);
    }
    print("webauthn-rs signature check alone (ECDSA P-256)", samples);
}
