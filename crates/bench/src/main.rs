//! `relaybox-bench`: load scenarios against a WalletConnect v2 relay (or the
//! built-in ceiling server), with HDR latency histograms, CPU accounting and
//! relay/ceiling comparisons. See docs/benchmarks.md for how to run it.

mod abuse_report;
mod ceiling;
mod clock;
mod conn;
mod coord;
mod cpus;
mod identity;
mod output;
mod pacer;
mod payload;
mod phases;
mod plot;
mod progress;
mod report;
mod rss;
mod run;
mod scenario;
mod spec;
mod stats;
mod sys;
mod target;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::output::Comparison;
use crate::report::Summary;
use crate::spec::{Cli, Command, RunArgs, Scenario, TargetKind, WorkerSpec};
use crate::target::Target;

fn main() -> ExitCode {
    let cli = Cli::parse();
    sys::raise_fd_limit();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let outcome = match cli.command {
        Command::CeilingServer { listen, threads } => ceiling::serve_blocking(&listen, threads),
        Command::Worker { spec } => worker(&spec),
        Command::Pairs(a) => bench(Scenario::Pairs, a),
        Command::Fanout(a) => bench(Scenario::Fanout, a),
        Command::Mailbox(a) => bench(Scenario::Mailbox, a),
        Command::Connect(a) => bench(Scenario::Connect, a),
        Command::Idle(a) => bench(Scenario::Idle, a),
        Command::Abuse(mut a) => {
            if a.load.rate <= 0.0 {
                a.load.rate = 1000.0;
            }
            if a.compare || a.target == TargetKind::Ceiling {
                Err(anyhow::anyhow!(
                    "abuse measures the relay's limits; the ceiling has none (no --compare, no --target ceiling)"
                ))
            } else {
                bench(Scenario::Abuse, a)
            }
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relaybox-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?)
}

fn worker(spec: &str) -> anyhow::Result<()> {
    let spec: WorkerSpec = serde_json::from_str(spec)?;
    runtime(spec.load.threads_per_process())?
        .block_on(scenario::run_worker(spec, coord::Coord::stdio()))
}

fn bench(scenario: Scenario, args: RunArgs) -> anyhow::Result<()> {
    // A spawned server runs where asked, or where this process could run
    // before it pinned itself (children inherit the pinning otherwise).
    let server_cpus = match &args.server_cpus {
        Some(list) => Some(cpus::parse(list).context("--server-cpus")?),
        None if args.generator_cpus.is_some() => {
            Some(cpus::current().context("reading this process's CPUs")?)
        }
        None => None,
    };
    if let Some(list) = &args.generator_cpus {
        let cpus = cpus::parse(list).context("--generator-cpus")?;
        cpus::pin_self(&cpus).with_context(|| {
            format!(
                "pinning the generator to CPUs {list} (--generator-cpus; {} usable here)",
                sys::cpus()
            )
        })?;
    }
    let threads = if args.load.processes > 1 {
        1
    } else {
        args.load.threads_per_process()
    };
    runtime(threads)?.block_on(async move {
        if args.compare {
            let relay = once(scenario, &args, TargetKind::Relay, server_cpus.as_deref()).await?;
            let ceiling =
                once(scenario, &args, TargetKind::Ceiling, server_cpus.as_deref()).await?;
            if let Some(path) = &args.plot {
                let title = format!("{} latency: relay vs ceiling", scenario.name());
                plot::write(path, &title, &[&relay, &ceiling])?;
            }
            let cmp = Comparison::new(relay, ceiling);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&cmp)?);
            } else {
                print!("{}", output::compare_table(&cmp));
            }
        } else {
            let s = once(scenario, &args, args.target, server_cpus.as_deref()).await?;
            if let Some(path) = &args.plot {
                plot::write(
                    path,
                    &format!("{} latency ({})", scenario.name(), s.target),
                    &[&s],
                )?;
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", output::table(&s));
            }
        }
        Ok(())
    })
}

async fn once(
    scenario: Scenario,
    args: &RunArgs,
    kind: TargetKind,
    server_cpus: Option<&[usize]>,
) -> anyhow::Result<Summary> {
    let target = match (&args.url, kind) {
        (Some(url), _) if !args.compare => Target::external(url, args.server_pid),
        (_, TargetKind::Relay) => {
            Target::spawn_relay(&args.relay_bin, scenario, &args.relay_env, server_cpus).await?
        }
        (_, TargetKind::Ceiling) => Target::spawn_ceiling(server_cpus).await?,
    };
    let outcome = run::run(scenario, &args.load, &target).await;
    target.stop().await;
    Ok(report::summarize(outcome?))
}
