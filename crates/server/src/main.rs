//! `relaybox`: the relay server and its small key and token tools.
//!
//! `relaybox serve` prints exactly one line to stdout once it accepts clients,
//! `RELAYBOX_LISTEN=<addr>`, so scripts and tests that bind port 0 learn the
//! port; logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use relaybox::cli::{self, TokenArgs};
use relaybox::config::{Config, Overrides};

#[derive(Parser)]
#[command(
    name = "relaybox",
    version,
    about = "Self-hosted WalletConnect v2 relay"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay.
    Serve {
        /// TOML config file (see config/relaybox.toml); RELAYBOX_CONFIG also works.
        #[arg(long, env = "RELAYBOX_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
        #[arg(long)]
        listen: Option<String>,
        /// Directory of the sled database.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Public URL clients use (repeatable); its ws/wss/http/https forms are accepted as JWT aud.
        #[arg(long = "public-url")]
        public_urls: Vec<String>,
        /// For client CI: any audience, no project id, a temporary store deleted on exit,
        /// no per-IP limits, loopback only (prints what it relaxes).
        #[arg(long)]
        dev: bool,
        /// Let --dev listen on a non-loopback address.
        #[arg(long, requires = "dev")]
        dev_public: bool,
    },
    /// Ask the admin API (on server.admin_listen) about a client, or kick it, or the store.
    Admin {
        /// The admin listener, http://host:port.
        #[arg(
            long,
            env = "RELAYBOX_ADMIN_URL",
            default_value = "http://127.0.0.1:9091"
        )]
        url: String,
        /// server.admin_token.
        #[arg(long, env = "RELAYBOX_SERVER_ADMIN_TOKEN", hide_env_values = true)]
        token: String,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        call: AdminCommand,
    },
    /// Write a snapshot of everything the relay keeps (messages, subscriptions,
    /// positions, attestations, webhooks, the relay key) to a file.
    Export {
        /// The file to write (gzip'd NDJSON, created 0600: it holds the relay key).
        #[arg(long)]
        out: PathBuf,
        /// Read the configured backend directly (with sled: the relay must be stopped).
        #[arg(long, env = "RELAYBOX_CONFIG", conflicts_with = "url")]
        config: Option<PathBuf>,
        /// Or stream it from a running relay's admin listener, http://host:port.
        #[arg(long)]
        url: Option<String>,
        /// server.admin_token, with --url.
        #[arg(long, env = "RELAYBOX_SERVER_ADMIN_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Directory of the store, as for serve.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Load an export into the configured backend (sled or Redis).
    Import {
        /// The file `relaybox export` wrote.
        file: PathBuf,
        /// TOML config file naming the target backend.
        #[arg(long, env = "RELAYBOX_CONFIG")]
        config: Option<PathBuf>,
        /// Directory of the store, as for serve.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Sign or verify the Notify JWT claims of seed 002.
    Notify {
        #[command(subcommand)]
        call: NotifyCommand,
    },
    /// Print a new Ed25519 seed (hex) and its did:key as JSON.
    Keygen,
    /// Sign a client-auth JWT, or verify one with --verify.
    Token {
        /// 32-byte seed as hex (signing).
        #[arg(long, conflicts_with = "verify")]
        seed: Option<String>,
        /// A JWT to verify instead of signing.
        #[arg(long)]
        verify: Option<String>,
        /// Audience: the relay URL.
        #[arg(long)]
        aud: String,
        /// Subject (default: 32 random bytes as hex).
        #[arg(long)]
        sub: Option<String>,
        /// Issued-at, Unix seconds (default: now).
        #[arg(long)]
        iat: Option<i64>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: i64,
        /// Clock for --verify, Unix seconds (default: now).
        #[arg(long)]
        now: Option<u64>,
        /// Clock leeway for --verify, seconds.
        #[arg(long, default_value_t = 120)]
        leeway: u64,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// A client's subscriptions, pending messages and open sockets.
    Client { client_id: String },
    /// Close a client's sockets on this node (4010: reconnect elsewhere; or 1001).
    Kick {
        client_id: String,
        #[arg(long, default_value_t = 4010)]
        code: u16,
    },
    /// Close a client's sockets and delete its subscriptions and positions.
    Drop { client_id: String },
    /// A topic's stored messages and its subscribers with their positions.
    Topic { topic: String },
    /// Delete every message a topic holds, for every subscriber.
    DeleteTopicMessages { topic: String },
    /// The store's figures, sockets and readiness.
    Stats,
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Sign claims (a JSON object: sub, ksu, app, aud, … as the act needs).
    Sign {
        /// 32-byte seed as hex: the signer's did:key is the iss.
        #[arg(long)]
        seed: String,
        /// The act, e.g. notify_subscription.
        #[arg(long)]
        act: String,
        /// The claims as JSON; iss, act, iat, exp (iat + the act's TTL), mjv are filled in.
        #[arg(long)]
        claims: String,
        /// Issued-at, Unix seconds (default: now).
        #[arg(long)]
        iat: Option<i64>,
    },
    /// Verify a token for an act; prints its claims and the issuer's clock skew.
    Verify {
        token: String,
        #[arg(long)]
        act: String,
        /// Clock, Unix seconds (default: now).
        #[arg(long)]
        now: Option<u64>,
    },
}

/// Prints a command's output, or its error with a non-zero exit.
fn report(result: anyhow::Result<String>) -> ExitCode {
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("relaybox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config of a tool that opens the store (`export`, `import`).
fn tool_config(file: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let overrides = Overrides {
        data_dir,
        ..Overrides::default()
    };
    let config = Config::load(file.as_deref(), &overrides)?;
    config.validate()?;
    relaybox::telemetry::init(&config.log);
    Ok(config)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            public_urls,
            dev,
            dev_public,
        } => {
            let overrides = Overrides {
                listen,
                data_dir,
                public_urls,
            };
            let dev = dev.then_some(dev_public);
            match serve(config, overrides, dev) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("relaybox: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Admin {
            url,
            token,
            json,
            call,
        } => {
            let call = match call {
                AdminCommand::Client { client_id } => {
                    relaybox::admin_cli::AdminCall::Client(client_id)
                }
                AdminCommand::Kick { client_id, code } => relaybox::admin_cli::AdminCall::Kick {
                    client: client_id,
                    code,
                },
                AdminCommand::Drop { client_id } => relaybox::admin_cli::AdminCall::Drop(client_id),
                AdminCommand::Topic { topic } => relaybox::admin_cli::AdminCall::Topic(topic),
                AdminCommand::DeleteTopicMessages { topic } => {
                    relaybox::admin_cli::AdminCall::DeleteTopicMessages(topic)
                }
                AdminCommand::Stats => relaybox::admin_cli::AdminCall::Stats,
            };
            report(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|rt| rt.block_on(relaybox::admin_cli::run(&url, &token, call, json))),
            )
        }
        Command::Export {
            out,
            config,
            url,
            token,
            data_dir,
        } => {
            use relaybox::export::cli::{run_export, Source};
            report((|| {
                let source = match url {
                    Some(url) => {
                        let token = token.ok_or_else(|| {
                            anyhow::anyhow!("--url needs --token (server.admin_token)")
                        })?;
                        Source::Admin(url, token)
                    }
                    None => Source::Config(Box::new(tool_config(config, data_dir)?)),
                };
                run_export(source, &out)
            })())
        }
        Command::Import {
            file,
            config,
            data_dir,
        } => report(
            tool_config(config, data_dir).and_then(|c| relaybox::export::cli::run_import(c, &file)),
        ),
        Command::Notify { call } => report(match call {
            NotifyCommand::Sign {
                seed,
                act,
                claims,
                iat,
            } => relaybox::notify_cli::sign(&seed, &act, &claims, iat),
            NotifyCommand::Verify { token, act, now } => {
                relaybox::notify_cli::verify(&token, &act, now)
            }
        }),
        Command::Keygen => {
            println!("{}", cli::keygen());
            ExitCode::SUCCESS
        }
        Command::Token {
            seed,
            verify,
            aud,
            sub,
            iat,
            ttl,
            now,
            leeway,
        } => {
            let args = TokenArgs {
                seed,
                verify,
                aud,
                sub,
                iat,
                ttl,
                now,
                leeway,
            };
            report(cli::token(&args))
        }
    }
}

/// `dev`: `Some(public)` for `--dev` (`--dev-public`).
fn serve(file: Option<PathBuf>, overrides: Overrides, dev: Option<bool>) -> anyhow::Result<()> {
    let mut config = Config::load(file.as_deref(), &overrides)?;
    let dev = dev.map(|public| config.apply_dev(public)).transpose()?;
    config.validate()?;
    relaybox::telemetry::init(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let server = relaybox::start(config.clone()).await?;
        println!("RELAYBOX_LISTEN={}", server.local_addr);
        if dev.is_some() {
            eprintln!("{}", config.dev_banner(server.local_addr));
        }
        relaybox::shutdown::signal().await;
        tracing::info!("shutdown requested");
        server.shutdown().await
    });
    drop(runtime);
    if let Some(dev) = dev {
        dev.finish();
    }
    result
}
