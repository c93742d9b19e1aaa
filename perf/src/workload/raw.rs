//! `raw:PROG:VERS:PROC`: any procedure with empty arguments, to probe what a server answers and
//! how fast its RPC layer turns a call around.
//!
//! Every well-formed reply counts as a round trip whatever its status (PROC_UNAVAIL,
//! GARBAGE_ARGS…); the report's status counts say which answers came back. Result bytes are
//! not checked: their layout depends on the procedure.

use super::{Procedure, ResultsError, Workload};
use brickd::proto::rpc::ReplyStatus;

/// Calls one procedure with no arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    procedure: Procedure,
    name: String,
}

impl Raw {
    /// Parses `PROG:VERS:PROC` (each decimal or `0x` hex).
    pub fn parse(text: &str) -> Result<Raw, &'static str> {
        let mut numbers = [0u32; 3];
        let mut fields = text.split(':');
        for slot in &mut numbers {
            let field = fields.next().ok_or("three numbers are needed")?;
            *slot = parse_u32(field).ok_or("each field must be a 32-bit unsigned number")?;
        }
        if fields.next().is_some() {
            return Err("more than three numbers");
        }
        let [prog, vers, proc_num] = numbers;
        Ok(Raw {
            procedure: Procedure {
                prog,
                vers,
                proc_num,
            },
            name: format!("raw:{prog}:{vers}:{proc_num}"),
        })
    }
}

fn parse_u32(field: &str) -> Option<u32> {
    match field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("0X"))
    {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => field.parse().ok(),
    }
}

impl Workload for Raw {
    fn name(&self) -> &str {
        &self.name
    }

    fn procedure(&self) -> Procedure {
        self.procedure
    }

    fn encode_args(&self, _out: &mut Vec<u8>) {}

    fn accepts(&self, _status: ReplyStatus) -> bool {
        true
    }

    fn check_results(&self, _results: &[u8]) -> Result<(), ResultsError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_accepts_every_status() {
        let raw = Raw::parse("999999:1:0").unwrap();
        assert!(raw.accepts(ReplyStatus::ProgUnavail));
        assert!(raw.accepts(ReplyStatus::ProcUnavail));
        assert_eq!(raw.check_results(b"anything"), Ok(()));
    }

    #[test]
    fn raw_refuses_numbers_out_of_range() {
        assert!(Raw::parse("4294967296:1:0").is_err());
        assert!(Raw::parse("0xffffffff:1:0").is_ok());
    }
}
