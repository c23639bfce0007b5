//! CPU time and memory of a server's whole process tree, read from `/proc`. The tree, not the
//! started PID, so that a server that forks (a supervisor and its worker processes) is charged
//! for all of them: the figure that compares servers is the tree's CPU time per request.

/// `(ppid, utime+stime+cutime+cstime in ticks, comm)` of one process.
pub fn proc_stat(pid: u32) -> Option<(u32, u64, String)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    // Fields after the command name start at field 3 (state).
    let f: Vec<&str> = s[close + 1..].split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let ppid = num(1)? as u32;
    let cpu = num(11)? + num(12)? + num(13)? + num(14)?;
    Some((ppid, cpu, comm))
}

/// `root` and every process descended from it.
pub fn tree(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                if let Some((ppid, _, _)) = proc_stat(pid) {
                    parent.push((pid, ppid));
                }
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() && out.len() < 10_000 {
        let p = out[i];
        out.extend(parent.iter().filter(|&&(_, pp)| pp == p).map(|&(c, _)| c));
        i += 1;
    }
    out
}

fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// CPU time of the whole tree in microseconds.
pub fn tree_cpu_us(root: u32) -> u64 {
    let ticks: u64 = tree(root)
        .iter()
        .filter_map(|&p| proc_stat(p))
        .map(|(_, c, _)| c)
        .sum();
    ticks * 1_000_000 / clock_ticks_per_s()
}

/// Sum over the tree of a `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn tree_status_kib(root: u32, field: &str) -> u64 {
    tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::{tree, tree_status_kib};

    #[test]
    fn own_process_is_accounted() {
        let me = std::process::id();
        assert!(tree(me).contains(&me));
        assert!(tree_status_kib(me, "VmHWM") > 0);
    }
}
