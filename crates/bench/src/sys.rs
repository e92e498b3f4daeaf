//! What the operating system tells about processes: descriptor limits, CPU
//! time of this process and of the server, the server's memory and storage
//! writes, and the machine's listen queue overflows.

use std::path::Path;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}

/// CPU seconds (user + system, all threads) used by this process so far.
pub fn self_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the zeroed struct we own.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU seconds (utime + stime) of process `pid`, from `/proc/<pid>/stat`.
pub fn proc_cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu_ticks(&text).map(|ticks| ticks as f64 / clock_ticks())
}

/// utime + stime in ticks from a `/proc/<pid>/stat` line. The command name
/// may contain spaces and parentheses, so fields are counted after the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 overall, utime 14 and stime 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Bytes `pid` has caused to be written to storage (`write_bytes` of `/proc/<pid>/io`).
pub fn proc_write_bytes(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

/// Connection attempts the kernel dropped because a listen queue was full
/// (`TcpExt: ListenOverflows` of `/proc/net/netstat`, this network
/// namespace, every listener). Each dropped attempt waits for its SYN to be
/// sent again, one second later at first.
pub fn listen_overflows() -> Option<u64> {
    parse_listen_overflows(&std::fs::read_to_string("/proc/net/netstat").ok()?)
}

fn parse_listen_overflows(netstat: &str) -> Option<u64> {
    let mut tcp_ext = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (tcp_ext.next()?, tcp_ext.next()?);
    let at = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// Bytes of TCP socket buffers the kernel holds, machine-wide (this network
/// namespace): `mem` of the `TCP:` line of `/proc/net/sockstat`, in pages.
/// A client that stops reading leaves the data it is owed here, in the
/// server's send buffer, before it shows in the server's own memory.
pub fn tcp_buffer_bytes() -> Option<u64> {
    let pages = parse_sockstat_tcp_mem(&std::fs::read_to_string("/proc/net/sockstat").ok()?)?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).unwrap_or(4096))
}

fn parse_sockstat_tcp_mem(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    words.find(|w| *w == "mem")?;
    words.next()?.parse().ok()
}

/// Resident memory of a process, from `/proc/<pid>/status`, in bytes.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Memory {
    /// `VmRSS`: everything resident, including shared file mappings.
    pub rss: u64,
    /// `RssAnon`: anonymous resident pages, i.e. heap and stacks.
    pub rss_anon: u64,
}

/// Reads `VmRSS` and `RssAnon` of `pid`.
pub fn proc_memory(pid: u32) -> Option<Memory> {
    let text =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    parse_status_memory(&text)
}

fn parse_status_memory(text: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..].split_whitespace().next()?.parse().ok()?;
        Some(kb * 1024)
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        rss_anon: field("RssAnon:").unwrap_or(0),
    })
}

/// True if process `pid` exists and is not a zombie (a child that died and
/// was not reaped yet still has a `/proc` entry, in state `Z`).
pub fn proc_alive(pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let state = text
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .map(str::trim)
        .unwrap_or("");
    !(state.starts_with('Z') || state.starts_with('X'))
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_odd_name_parses() {
        let line = "1234 (a) b (c)) S 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 10 1000 50";
        assert_eq!(parse_stat_cpu_ticks(line), Some(300));
    }

    #[test]
    fn status_memory_parses() {
        let text = "Name:\tx\nVmRSS:\t    2048 kB\nRssAnon:\t    1024 kB\n";
        let m = parse_status_memory(text).unwrap();
        assert_eq!((m.rss, m.rss_anon), (2048 * 1024, 1024 * 1024));
    }

    #[test]
    fn listen_overflows_parse() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 132 133\nIpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(parse_listen_overflows(text), Some(132));
        assert_eq!(parse_listen_overflows("IpExt: a\nIpExt: 1\n"), None);
        assert!(listen_overflows().is_some());
    }

    #[test]
    fn sockstat_parses() {
        let text =
            "sockets: used 9\nTCP: inuse 1 orphan 0 tw 80 alloc 1 mem 282\nUDP: inuse 0 mem 0\n";
        assert_eq!(parse_sockstat_tcp_mem(text), Some(282));
        assert_eq!(parse_sockstat_tcp_mem("UDP: inuse 0 mem 3\n"), None);
        assert!(tcp_buffer_bytes().is_some());
    }

    #[test]
    fn own_process_is_readable() {
        let pid = std::process::id();
        assert!(proc_cpu_secs(pid).is_some());
        assert!(proc_memory(pid).unwrap().rss > 0);
        assert!(self_cpu_secs() >= 0.0);
        assert!(proc_write_bytes(pid).is_some());
        assert!(proc_alive(pid));
        assert!(!proc_alive(u32::MAX));
    }
}
