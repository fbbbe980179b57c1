//! What the login throttle costs a login: the same login route with the default throttle and
//! with `Throttle::disabled()`, side by side, with argon2 (as deployed) and with a plain
//! password comparison (where the throttle's own work is all that differs).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use crate::{Error, client::Conn, db, percentile, verdict};

/// One arm: a server and what it measured over all rounds.
pub(crate) struct Arm {
    pub(crate) label: &'static str,
    pub(crate) addr: SocketAddr,
    rates: Vec<f64>,
    latencies: Vec<u64>,
}

impl Arm {
    pub(crate) fn new(label: &'static str, addr: SocketAddr) -> Self {
        Self {
            label,
            addr,
            rates: Vec::new(),
            latencies: Vec::new(),
        }
    }

    fn rate(&self) -> f64 {
        let mut rates = self.rates.clone();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied().unwrap_or(0.0)
    }
}

/// `conns` connections logging in back to back (each as its own user, with the right password)
/// for `duration`: logins per second and each login's latency in nanoseconds.
async fn slice(
    addr: SocketAddr,
    conns: usize,
    duration: Duration,
) -> Result<(f64, Vec<u64>), Error> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..conns {
        tasks.spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let body = format!(
                "username={}&password={}",
                db::username(i % db::USERS),
                db::PASSWORD
            );
            let mut latencies = Vec::new();
            let started = Instant::now();
            while started.elapsed() < duration {
                let sent = Instant::now();
                let answer = conn.post_form("/login", &body).await?;
                if answer.status != 200 {
                    return Err::<_, Error>(format!("a login answered {}", answer.status).into());
                }
                latencies.push(u64::try_from(sent.elapsed().as_nanos()).unwrap_or(u64::MAX));
            }
            Ok((latencies, started.elapsed()))
        });
    }
    let (mut all, mut longest) = (Vec::new(), Duration::ZERO);
    while let Some(result) = tasks.join_next().await {
        let (latencies, elapsed) = result??;
        all.extend(latencies);
        longest = longest.max(elapsed);
    }
    Ok((all.len() as f64 / longest.as_secs_f64(), all))
}

/// Measures the arms in interleaved rounds (pairs: throttled, then not), and prints the table.
pub(crate) async fn check(
    arms: &mut [Arm],
    conns: usize,
    rounds: usize,
    duration: Duration,
) -> Result<(), Error> {
    for round in 0..rounds {
        eprintln!("throttle round {}/{rounds}", round + 1);
        // Alternate which arm of a pair goes first, so neither always gets the warmer machine.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..arms.len()).collect()
        } else {
            (0..arms.len()).rev().collect()
        };
        for i in order {
            let (rate, latencies) = slice(arms[i].addr, conns, duration).await?;
            arms[i].rates.push(rate);
            arms[i].latencies.extend(latencies);
        }
    }
    println!();
    println!(
        "Login throttle's cost ({conns} connections logging in back to back, {rounds} interleaved rounds of {:.1} s, logins/s the median round):",
        duration.as_secs_f64()
    );
    println!();
    println!("| login | logins/s | p50 µs | p99 µs | throttled / disabled |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for arm in arms.iter_mut() {
        arm.latencies.sort_unstable();
    }
    let mut argon2_ratio = None;
    for pair in arms.chunks(2) {
        let [on, off] = pair else { continue };
        let ratio = on.rate() / off.rate();
        if on.label.contains("argon2") {
            argon2_ratio = Some(ratio);
        }
        for (arm, versus) in [(on, format!("{ratio:.3}x")), (off, "-".to_owned())] {
            println!(
                "| {} | {:.0} | {:.0} | {:.0} | {versus} |",
                arm.label,
                arm.rate(),
                percentile(&arm.latencies, 50),
                percentile(&arm.latencies, 99),
            );
        }
    }
    if let Some(ratio) = argon2_ratio {
        println!();
        println!(
            "- throttle on a login (argon2): {ratio:.3}x the logins/s of Throttle::disabled() (target at least 0.95x): {}",
            verdict(ratio >= 0.95)
        );
    }
    Ok(())
}
