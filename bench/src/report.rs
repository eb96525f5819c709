//! What a run prints: the results table, latency percentiles and the process's memory.

use hdrhistogram::Histogram;

/// One line of the results table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub query: String,
    pub connections: usize,
    pub requests_per_sec: f64,
    /// None when no request completed inside the measured window.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub errors: u64,
    /// None when no request completed at all.
    pub statements_per_request: Option<f64>,
    /// Largest resident set seen while the query ran; None where it cannot be read.
    pub rss_mb: Option<f64>,
    /// The figures cover the whole run, warm-up and drain included, because too few requests
    /// completed inside the measured window.
    pub whole_run: bool,
    /// The server's CPU time per completed request, warm-up included; None where it was not
    /// measured.
    pub cpu_ms_per_request: Option<f64>,
}

/// Marks rows whose figures cover the whole run.
const WHOLE_RUN_MARK: &str = " †";

/// The latency at `quantile` (0–1) of a histogram of microseconds, in milliseconds; None when
/// the histogram is empty.
pub fn percentile_ms(latencies: &Histogram<u64>, quantile: f64) -> Option<f64> {
    if latencies.is_empty() {
        return None;
    }
    Some(latencies.value_at_quantile(quantile) as f64 / 1000.0)
}

/// A latency with the precision that matters at its size.
pub fn format_ms(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 1000.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "–".to_string())
}

/// Anju's rows against the peer's, as a Markdown table: requests per second of each and their
/// ratio (above 1: Anju answers more), and the medians.
pub fn peer_table(rows: &[(Row, Row)], peer: &str) -> String {
    let mut out = format!(
        "| query | conns | Anju req/s | {peer} req/s | ratio | Anju p50 ms | {peer} p50 ms | \
         Anju CPU ms/req | {peer} CPU ms/req | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for (ours, theirs) in rows {
        let ratio = (theirs.requests_per_sec > 0.0)
            .then(|| format!("{:.2}×", ours.requests_per_sec / theirs.requests_per_sec));
        out.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} / {} |\n",
            ours.query,
            ours.connections,
            ours.requests_per_sec,
            theirs.requests_per_sec,
            or_dash(ratio),
            or_dash(ours.p50_ms.map(format_ms)),
            or_dash(theirs.p50_ms.map(format_ms)),
            or_dash(ours.cpu_ms_per_request.map(|c| format!("{c:.2}"))),
            or_dash(theirs.cpu_ms_per_request.map(|c| format!("{c:.2}"))),
            ours.errors,
            theirs.errors,
        ));
    }
    out
}

/// The results as a Markdown table.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| query | conns | req/s | p50 ms | p99 ms | errors | stmts/req | RSS MB |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        out.push_str(&format!(
            "| {}{} | {} | {:.1} | {} | {} | {} | {} | {} |\n",
            row.query,
            if row.whole_run { WHOLE_RUN_MARK } else { "" },
            row.connections,
            row.requests_per_sec,
            or_dash(row.p50_ms.map(format_ms)),
            or_dash(row.p99_ms.map(format_ms)),
            row.errors,
            or_dash(row.statements_per_request.map(|s| format!("{s:.2}"))),
            or_dash(row.rss_mb.map(|mb| format!("{mb:.0}"))),
        ));
    }
    if rows.iter().any(|r| r.whole_run) {
        out.push_str(&format!(
            "\n{} fewer requests completed inside the measured window than there are connections: \
             the figures cover the whole run, warm-up and the wait for the last answers included.\n",
            WHOLE_RUN_MARK.trim()
        ));
    }
    out
}

/// The current and the peak resident set of this process, in MB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// VmRSS
    pub rss_mb: f64,
    /// VmHWM: the peak since start, or since the peak was last reset.
    pub peak_mb: f64,
}

/// Reads this process's memory from `/proc/self/status`; None off Linux.
pub fn memory() -> Option<Memory> {
    parse_status(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// Resets VmHWM to the current resident set (Linux 4.0+), so that a later peak is the server's
/// and not the import's. False when the kernel does not allow it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Linux's clock ticks per second in `/proc` (USER_HZ, 100 on every architecture Linux
/// reports it for).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time from the text of a `/proc/…/stat` line, in milliseconds.
pub fn parse_stat_cpu_ms(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime), counted from 1 with the pid and the name as 1 and 2.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 1000.0 / TICKS_PER_SECOND)
}

/// CPU time used so far by this process's threads named `name` (as the thread builder named
/// them, cut to the 15 bytes the kernel keeps), in milliseconds.
pub fn threads_cpu_ms(name: &str) -> Option<f64> {
    let name = &name[..name.len().min(15)];
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
            total += parse_stat_cpu_ms(&stat).unwrap_or(0.0);
        }
    }
    Some(total)
}

/// CPU time used so far by process `pid` (all its threads), in milliseconds.
pub fn process_cpu_ms(pid: u32) -> Option<f64> {
    parse_stat_cpu_ms(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// VmRSS and VmHWM from the text of `/proc/PID/status`.
pub fn parse_status(status: &str) -> Option<Memory> {
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    };
    Some(Memory {
        rss_mb: field("VmRSS:")?,
        peak_mb: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        assert_eq!(percentile_ms(&h, 0.5), None);
        // 1 ms, 2 ms, …, 100 ms, recorded in microseconds.
        for ms in 1..=100u64 {
            h.record(ms * 1000).unwrap();
        }
        let p50 = percentile_ms(&h, 0.5).unwrap();
        let p99 = percentile_ms(&h, 0.99).unwrap();
        // Three significant digits: within 0.1 % of the exact value.
        assert!((p50 - 50.0).abs() <= 0.05, "p50 = {p50}");
        assert!((p99 - 99.0).abs() <= 0.1, "p99 = {p99}");
    }

    #[test]
    fn table_has_a_header_and_one_line_per_row() {
        let rows = [
            Row {
                query: "Q0".into(),
                connections: 64,
                requests_per_sec: 12345.67,
                p50_ms: Some(4.5678),
                p99_ms: Some(12.34),
                errors: 0,
                statements_per_request: Some(0.0),
                rss_mb: Some(41.6),
                whole_run: false,
                cpu_ms_per_request: None,
            },
            Row {
                query: "Q1b".into(),
                connections: 64,
                requests_per_sec: 0.0,
                p50_ms: None,
                p99_ms: Some(2500.4),
                errors: 3,
                statements_per_request: None,
                rss_mb: None,
                whole_run: true,
                cpu_ms_per_request: None,
            },
        ];
        let table = markdown_table(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines,
            [
                "| query | conns | req/s | p50 ms | p99 ms | errors | stmts/req | RSS MB |",
                "|---|---:|---:|---:|---:|---:|---:|---:|",
                "| Q0 | 64 | 12345.7 | 4.57 | 12.3 | 0 | 0.00 | 42 |",
                "| Q1b † | 64 | 0.0 | – | 2500 | 3 | – | – |",
                "",
                "† fewer requests completed inside the measured window than there are \
                 connections: the figures cover the whole run, warm-up and the wait for the last \
                 answers included.",
            ]
        );
        assert!(!markdown_table(&rows[..1]).contains('†'));
    }

    #[test]
    fn the_peer_table_divides_anju_by_the_peer() {
        let row = |rate: f64, p50: Option<f64>, errors: u64| Row {
            query: "Q2x".into(),
            connections: 16,
            requests_per_sec: rate,
            p50_ms: p50,
            p99_ms: None,
            errors,
            statements_per_request: None,
            rss_mb: None,
            whole_run: false,
            cpu_ms_per_request: (rate > 100.0).then_some(1.234),
        };
        let table = peer_table(
            &[
                (row(1500.0, Some(10.5), 0), row(1000.0, Some(15.31), 2)),
                (row(10.0, None, 0), row(0.0, None, 9)),
            ],
            "PostGraphile 5.1.5",
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[2],
            "| Q2x | 16 | 1500.0 | 1000.0 | 1.50× | 10.5 | 15.3 | 1.23 | 1.23 | 0 / 2 |"
        );
        assert_eq!(
            lines[3],
            "| Q2x | 16 | 10.0 | 0.0 | – | – | – | – | – | 0 / 9 |"
        );
        assert!(lines[0].contains("PostGraphile 5.1.5 req/s"));
    }

    #[test]
    fn stat_gives_user_plus_system_time() {
        // Fields 14 and 15: 250 and 50 ticks; the name holds a space and a parenthesis.
        let stat = "4242 (anju (server) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 \
                    0 4 0 1234 100000 200 18446744073709551615";
        assert_eq!(parse_stat_cpu_ms(stat), Some(3000.0));
        assert_eq!(parse_stat_cpu_ms("4242 (anju) S 1"), None);
        let mine = process_cpu_ms(std::process::id()).unwrap();
        assert!(mine >= 0.0);
    }

    #[test]
    fn status_gives_current_and_peak_resident_sets() {
        let status =
            "Name:\tanju\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss_mb: 100.0,
                peak_mb: 200.0
            })
        );
        assert_eq!(parse_status("Name:\tanju\n"), None);
    }
}
