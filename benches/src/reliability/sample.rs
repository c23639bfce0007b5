//! What a server process tree holds right now: resident memory and open descriptors, read from
//! `/proc` (the soak samples them every second, the floods record the peak).

use super::procfs;

/// Resident memory of `root` and its descendants, in KiB (sum of `VmRSS`).
pub fn tree_rss_kib(root: u32) -> u64 {
    procfs::tree_status_kib(root, "VmRSS")
}

/// Open file descriptors of `root` and its descendants (entries of `/proc/PID/fd`).
pub fn tree_fds(root: u32) -> u64 {
    procfs::tree(root)
        .iter()
        .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/fd")).ok())
        .map(|d| d.count() as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_memory_and_descriptors() {
        let me = std::process::id();
        assert!(super::tree_rss_kib(me) > 0);
        assert!(super::tree_fds(me) >= 3);
    }
}
