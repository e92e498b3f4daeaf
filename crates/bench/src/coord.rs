//! Barriers between workers and the parent, in-process or over pipes.
//!
//! A worker calls [`Coord::barrier`] between phases; once every worker has
//! arrived, the parent does its own bookkeeping (CPU samples, memory) and
//! answers with a start time on the shared monotonic clock, so that all
//! workers begin the next phase together. A worker process speaks a line
//! protocol: `BARRIER <name> <value>` and `RESULT <json>` on stdout, `GO <ns>
//! <sum>` on stdin, where `sum` adds up the values all workers brought to the
//! barrier (e.g. how many publishes succeeded, so subscribers know what to expect).

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, Mutex};

use crate::stats::WorkerResult;

/// A message from a worker to the parent.
#[derive(Debug)]
pub enum ToParent {
    /// Arrived at the named barrier, bringing a value to be summed.
    Barrier(String, u64),
    /// Finished, with its measurements.
    Done(Box<WorkerResult>),
}

/// The worker's side.
pub enum Coord {
    /// Worker running as tasks inside the parent process.
    Local {
        tx: mpsc::UnboundedSender<ToParent>,
        go: Mutex<mpsc::UnboundedReceiver<(u64, u64)>>,
    },
    /// Worker process talking to the parent over stdin/stdout.
    Stdio {
        lines: Mutex<Lines<BufReader<tokio::io::Stdin>>>,
    },
}

impl Coord {
    /// A worker process's coordinator on its own stdin/stdout.
    pub fn stdio() -> Coord {
        Coord::Stdio {
            lines: Mutex::new(BufReader::new(tokio::io::stdin()).lines()),
        }
    }

    /// Waits at barrier `name` with `value`; returns the agreed start time
    /// (monotonic ns) and the sum of every worker's value.
    pub async fn barrier(&self, name: &str, value: u64) -> anyhow::Result<(u64, u64)> {
        match self {
            Coord::Local { tx, go } => {
                tx.send(ToParent::Barrier(name.to_owned(), value))
                    .map_err(|_| anyhow!("parent gone"))?;
                go.lock()
                    .await
                    .recv()
                    .await
                    .ok_or_else(|| anyhow!("parent gone"))
            }
            Coord::Stdio { lines } => {
                write_stdout(&format!("BARRIER {name} {value}\n")).await?;
                let line = lines
                    .lock()
                    .await
                    .next_line()
                    .await?
                    .ok_or_else(|| anyhow!("parent gone"))?;
                parse_go(&line)
            }
        }
    }

    /// Hands the final result to the parent.
    pub async fn done(&self, result: WorkerResult) -> anyhow::Result<()> {
        match self {
            Coord::Local { tx, .. } => tx
                .send(ToParent::Done(Box::new(result)))
                .map_err(|_| anyhow!("parent gone")),
            Coord::Stdio { .. } => {
                let json = serde_json::to_string(&result)?;
                write_stdout(&format!("RESULT {json}\n")).await
            }
        }
    }
}

async fn write_stdout(line: &str) -> anyhow::Result<()> {
    let mut out = tokio::io::stdout();
    out.write_all(line.as_bytes()).await?;
    out.flush().await?;
    Ok(())
}

fn parse_go(line: &str) -> anyhow::Result<(u64, u64)> {
    let mut parts = line.strip_prefix("GO ").unwrap_or("").split_whitespace();
    let mut num = || parts.next().and_then(|n| n.parse().ok());
    match (num(), num()) {
        (Some(t), Some(sum)) => Ok((t, sum)),
        _ => Err(anyhow!("unexpected line from parent: {line:?}")),
    }
}

/// The parent's side of one worker. There are a handful per run, so the
/// size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Link {
    /// An in-process worker.
    Local {
        rx: mpsc::UnboundedReceiver<ToParent>,
        go: mpsc::UnboundedSender<(u64, u64)>,
    },
    /// A worker process.
    Process {
        child: Child,
        stdin: ChildStdin,
        lines: Lines<BufReader<ChildStdout>>,
    },
}

impl Link {
    /// An in-process link and the worker's matching [`Coord`].
    pub fn local() -> (Link, Coord) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (go_tx, go_rx) = mpsc::unbounded_channel();
        (
            Link::Local { rx, go: go_tx },
            Coord::Local {
                tx,
                go: Mutex::new(go_rx),
            },
        )
    }

    /// Wraps a spawned worker process (stdin and stdout piped).
    pub fn process(mut child: Child) -> anyhow::Result<Link> {
        let stdin = child.stdin.take().context("worker stdin not piped")?;
        let stdout = child.stdout.take().context("worker stdout not piped")?;
        Ok(Link::Process {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// The worker's next message.
    pub async fn recv(&mut self) -> anyhow::Result<ToParent> {
        match self {
            Link::Local { rx, .. } => rx
                .recv()
                .await
                .ok_or_else(|| anyhow!("worker task ended without a result")),
            Link::Process { lines, child, .. } => {
                let Some(line) = lines.next_line().await? else {
                    let status = child.wait().await?;
                    bail!("worker process exited ({status}) without a result");
                };
                if let Some(rest) = line.strip_prefix("BARRIER ") {
                    let (name, value) = rest.trim().rsplit_once(' ').unwrap_or((rest.trim(), "0"));
                    Ok(ToParent::Barrier(name.to_owned(), value.parse()?))
                } else if let Some(json) = line.strip_prefix("RESULT ") {
                    Ok(ToParent::Done(Box::new(serde_json::from_str(json)?)))
                } else {
                    bail!("unexpected line from worker: {line:?}")
                }
            }
        }
    }

    /// Releases the worker from its barrier at `start_ns`, with the sum of values.
    pub async fn go(&mut self, start_ns: u64, sum: u64) -> anyhow::Result<()> {
        match self {
            Link::Local { go, .. } => go.send((start_ns, sum)).map_err(|_| anyhow!("worker gone")),
            Link::Process { stdin, .. } => {
                stdin
                    .write_all(format!("GO {start_ns} {sum}\n").as_bytes())
                    .await?;
                stdin.flush().await?;
                Ok(())
            }
        }
    }

    /// Reaps a worker process.
    pub async fn finish(self) {
        if let Link::Process {
            mut child, stdin, ..
        } = self
        {
            drop(stdin);
            let _ = child.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_lines_parse() {
        assert_eq!(parse_go("GO 123 4\n").unwrap(), (123, 4));
        assert!(parse_go("NO").is_err());
    }

    #[tokio::test]
    async fn local_barrier_round_trip() {
        let (mut link, coord) = Link::local();
        let worker = tokio::spawn(async move {
            let t = coord.barrier("start", 3).await.unwrap();
            coord.done(WorkerResult::default()).await.unwrap();
            t
        });
        match link.recv().await.unwrap() {
            ToParent::Barrier(n, v) => assert_eq!((n.as_str(), v), ("start", 3)),
            other => panic!("{other:?}"),
        }
        link.go(77, 3).await.unwrap();
        assert!(matches!(link.recv().await.unwrap(), ToParent::Done(_)));
        assert_eq!(worker.await.unwrap(), (77, 3));
    }
}
