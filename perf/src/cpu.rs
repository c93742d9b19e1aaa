//! CPU time of the server under test, from `/proc/PID/stat` (utime + stime, all threads).

use std::io;

/// Clock ticks per second that `/proc/PID/stat` counts in (`sysconf(_SC_CLK_TCK)`).
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf takes no pointers and has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// utime + stime of process `pid`, in clock ticks.
pub fn process_cpu_ticks(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat_cpu_ticks(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat has no utime/stime fields"),
        )
    })
}

/// utime + stime from the text of a `/proc/PID/stat` file.
///
/// The second field is the command name in parentheses and may itself hold spaces and
/// parentheses, so fields are counted from the last `)`: after it come state (field 3) …
/// utime (field 14) and stime (field 15).
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let mut fields = after_comm.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_fields_fourteen_and_fifteen() {
        let stat = "10812 (glusterd) S 1 10811 10811 0 -1 4194624 2012 0 0 0 35 17 0 0 20 0 9 0 \
                    123 456 789";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(52));
    }

    #[test]
    fn command_names_with_spaces_and_parentheses_are_skipped() {
        let stat = "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 100 23 0 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(123));
        assert_eq!(parse_stat_cpu_ticks("7 (x) R 1 2"), None);
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        assert!(process_cpu_ticks(std::process::id()).is_ok());
        assert!(clock_ticks_per_second() >= 1);
    }
}
