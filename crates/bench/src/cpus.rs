//! CPU pinning (`--server-cpus`, `--generator-cpus`): on one machine the
//! load generator competes with the server for the same cores, which an
//! Internet load from other machines does not. Giving each its own cores
//! keeps the generator's lateness out of the server's figures (see
//! `send_lag`); both runs of a comparison get the same layout.

use std::io;

use anyhow::{bail, Context};

/// Parses a CPU list as `taskset -c` takes it: `0`, `0-3`, `0,2,4-5`.
pub fn parse(list: &str) -> anyhow::Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (part, part),
        };
        let lo: usize = lo
            .trim()
            .parse()
            .with_context(|| format!("bad CPU in {list:?}"))?;
        let hi: usize = hi
            .trim()
            .parse()
            .with_context(|| format!("bad CPU in {list:?}"))?;
        if lo > hi {
            bail!("bad CPU range {part:?} in {list:?}");
        }
        if hi >= libc::CPU_SETSIZE as usize {
            bail!("CPU {hi} in {list:?} is beyond what the kernel's CPU sets hold");
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

fn cpu_set(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain bits; all zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: `parse` keeps every CPU below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    set
}

/// Pins the calling thread, and every thread or process it starts from
/// now on, to `cpus`. Call it before the runtime's threads exist.
pub fn pin_self(cpus: &[usize]) -> io::Result<()> {
    let set = cpu_set(cpus);
    // SAFETY: a valid set of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The CPUs the calling thread may run on now.
pub fn current() -> io::Result<Vec<usize>> {
    // SAFETY: all zero is the empty set; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid set of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: reading bits of an initialized set.
    Ok((0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Makes the process `cmd` starts run on `cpus` only.
pub fn pin_child(cmd: &mut tokio::process::Command, cpus: &[usize]) {
    let set = cpu_set(cpus);
    // SAFETY: between fork and exec the closure makes one system call
    // (async-signal-safe) on memory copied into the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_as_taskset_takes_them() {
        assert_eq!(parse("0").unwrap(), vec![0]);
        assert_eq!(parse("0-3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse("4,0-1, 1").unwrap(), vec![0, 1, 4]);
        assert!(parse("").is_err());
        assert!(parse("3-1").is_err());
        assert!(parse("a").is_err());
        assert!(parse("99999").is_err());
    }

    /// On a thread of its own: pinning is per thread.
    #[test]
    fn pinning_narrows_what_current_reports() {
        std::thread::spawn(|| {
            let all = current().unwrap();
            assert!(!all.is_empty());
            pin_self(&all[..1]).unwrap();
            assert_eq!(current().unwrap(), all[..1]);
        })
        .join()
        .unwrap();
    }
}
