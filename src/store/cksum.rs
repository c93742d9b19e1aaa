//! glusterd's volume checksum (`vols/<volume>/cksum` and the value peers compare).
//!
//! Pure code over byte slices. glusterd computes it after every store of a volume and on
//! every load (reference §8, `glusterd_volume_compute_cksum`):
//!
//! 1. Split `info` into lines as `fgets` with a [`SORT_LINE_BYTES_MAX`]-byte piece limit does
//!    (each line keeps its `\n`; a line is cut at its first NUL, as `strdup` would), sort them
//!    bytewise (`strcmp`) and join them.
//! 2. `c1` = [`checksum`] of the sorted bytes, starting from 0.
//! 3. The `cksum` file holds `info=<c1>\n`.
//! 4. The volume's checksum (`volinfo->cksum`, sent to peers as `volume<N>.ckusm`) is
//!    [`checksum`] of those `cksum` file bytes, starting from `c1`.
//!
//! [`checksum`] reads its input in [`CHUNK_BYTES`] chunks and folds each chunk into four bytes
//! (see [`checksum`] for the exact step, quirks included).

/// The chunk size glusterd reads a file in (`GF_CHECKSUM_BUF_SIZE`).
pub const CHUNK_BYTES: usize = 1024;

/// The four bytes a zero checksum is replaced with before a chunk is folded in, in memory
/// order (the checksum is a little-endian `uint32_t` viewed as bytes).
pub const SEED_BYTES: [u8; 4] = [0xba, 0xbe, 0xb0, 0x0b];

/// From this op-version on (`GD_OP_VERSION_5_4`) each chunk is folded with its real length;
/// before it, always with [`CHUNK_BYTES`], stale bytes of the previous chunk included.
pub const OP_VERSION_EXACT_CHUNKS: u32 = 50_400;

/// The longest piece `glusterd_readin_file` reads as one line (`PATH_MAX + 256` bytes of
/// buffer, one kept for the NUL). Longer lines are sorted as several pieces.
pub const SORT_LINE_BYTES_MAX: usize = 4351;

/// A volume's two checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VolumeChecksum {
    /// The checksum of the sorted `info` file: the number in the `cksum` file.
    pub info: u32,
    /// The checksum chained over the `cksum` file's text: what glusterd keeps in
    /// `volinfo->cksum` and peers compare.
    pub chained: u32,
}

impl VolumeChecksum {
    /// Computes both checksums of a volume from its `info` file bytes, at a cluster
    /// op-version of [`OP_VERSION_EXACT_CHUNKS`] or more (every glusterd since 5.4).
    pub fn of_info(info: &[u8]) -> VolumeChecksum {
        VolumeChecksum::of_info_at(info, OP_VERSION_EXACT_CHUNKS)
    }

    /// Like [`VolumeChecksum::of_info`], for a cluster running at `op_version`.
    pub fn of_info_at(info: &[u8], op_version: u32) -> VolumeChecksum {
        let sorted = sorted_lines(info);
        let info_cksum = checksum(&sorted, 0, op_version);
        let file = cksum_file_text(info_cksum);
        VolumeChecksum {
            info: info_cksum,
            chained: checksum(file.as_bytes(), info_cksum, op_version),
        }
    }

    /// The text of the `cksum` file: `info=<info>\n`.
    pub fn file_text(&self) -> String {
        cksum_file_text(self.info)
    }
}

fn cksum_file_text(info: u32) -> String {
    format!("info={info}\n")
}

/// The lines of `info` sorted as glusterd sorts them before checksumming (step 1 of the
/// module documentation).
pub fn sorted_lines(info: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut rest = info;
    while !rest.is_empty() {
        let limit = rest.len().min(SORT_LINE_BYTES_MAX);
        let end = rest[..limit]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(limit, |newline| newline + 1);
        let piece = &rest[..end];
        rest = &rest[end..];
        let until_nul = piece.iter().position(|&b| b == 0).unwrap_or(piece.len());
        lines.push(&piece[..until_nul]);
    }
    lines.sort_unstable();
    lines.concat()
}

/// glusterd's file checksum (`get_checksum_for_file` + `compute_checksum`), continuing from
/// `checksum`: the data is folded in [`CHUNK_BYTES`] chunks, each with the step below, where
/// `b` are the four bytes of the running checksum in little-endian order and `c` the chunk of
/// length `n`:
///
/// - if the checksum is 0, `b` becomes [`SEED_BYTES`];
/// - for `i` = 0, 4, 8, … while `i < n − 4`: `b[k] ^= c[i+k] << k` for `k` = 0..3 (each
///   truncated to 8 bits);
/// - then for `r` = 0 ..= `n mod 4` (inclusive): `b[r] ^= c[n−4+r] << r`. Tail bytes can be
///   mixed twice, and one can be skipped; that is glusterd's algorithm and is kept.
///
/// Below [`OP_VERSION_EXACT_CHUNKS`] every chunk is folded as a full [`CHUNK_BYTES`] buffer,
/// whose end still holds bytes of the previous chunk (zeros at first).
///
/// A last chunk of 1 to 3 bytes makes glusterd read up to 3 bytes before its buffer (`c[n−4]`
/// with `n < 4`), which is undefined; those bytes count as 0 here. Text files whose length is
/// 1 to 3 more than a multiple of 1024 hit it, and only at op-version ≥ 50400.
pub fn checksum(data: &[u8], checksum: u32, op_version: u32) -> u32 {
    let mut sum = checksum.to_le_bytes();
    if op_version >= OP_VERSION_EXACT_CHUNKS {
        for chunk in data.chunks(CHUNK_BYTES) {
            fold_chunk(&mut sum, chunk);
        }
    } else {
        let mut buffer = [0u8; CHUNK_BYTES];
        for chunk in data.chunks(CHUNK_BYTES) {
            buffer[..chunk.len()].copy_from_slice(chunk);
            fold_chunk(&mut sum, &buffer);
        }
    }
    u32::from_le_bytes(sum)
}

/// One `compute_checksum` step over one chunk.
fn fold_chunk(sum: &mut [u8; 4], chunk: &[u8]) {
    if *sum == [0; 4] {
        *sum = SEED_BYTES;
    }
    let n = chunk.len();
    let mut i = 0;
    while i + 4 < n {
        for k in 0..4 {
            sum[k] ^= chunk[i + k] << k;
        }
        i += 4;
    }
    // r = 0 ..= n mod 4, inclusive: b[r] ^= c[n-4+r] << r. Before the chunk (n < 4) glusterd
    // reads outside its buffer: such bytes count as 0.
    for (r, byte) in sum.iter_mut().enumerate().take(n % 4 + 1) {
        if let Some(index) = (n + r).checked_sub(4) {
            *byte ^= chunk[index] << r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct transcription of the reference's wording, to check the optimised loop against.
    fn reference_step(sum: u32, chunk: &[u8]) -> u32 {
        let mut b = sum.to_le_bytes();
        if sum == 0 {
            b = [0xba, 0xbe, 0xb0, 0x0b];
        }
        let n = chunk.len() as i64;
        let mut i = 0i64;
        while i < n - 4 {
            let i_u = i as usize;
            b[0] ^= chunk[i_u];
            b[1] ^= ((chunk[i_u + 1] as u32) << 1) as u8;
            b[2] ^= ((chunk[i_u + 2] as u32) << 2) as u8;
            b[3] ^= ((chunk[i_u + 3] as u32) << 3) as u8;
            i += 4;
        }
        for r in 0..=(n % 4) {
            let index = n - 4 + r;
            if index >= 0 {
                b[r as usize] ^= ((chunk[index as usize] as u32) << r) as u8;
            }
        }
        u32::from_le_bytes(b)
    }

    #[test]
    fn zero_checksum_starts_from_the_seed() {
        // Four bytes: the main loop does nothing, the tail mixes c[0] into b[0] only.
        assert_eq!(
            checksum(b"\x01\x02\x03\x04", 0, 100_000),
            u32::from_le_bytes([0xba ^ 0x01, 0xbe, 0xb0, 0x0b])
        );
    }

    #[test]
    fn fold_matches_the_reference_wording_for_every_tail_length() {
        let data: Vec<u8> = (0..3000u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [4usize, 5, 6, 7, 8, 9, 1023, 1024, 1025, 1028, 2048, 3000] {
            let mut expected = 0u32;
            for chunk in data[..len].chunks(CHUNK_BYTES) {
                expected = reference_step(expected, chunk);
            }
            assert_eq!(checksum(&data[..len], 0, 100_000), expected, "len {len}");
        }
    }

    #[test]
    fn old_op_versions_fold_whole_stale_buffers() {
        let data: Vec<u8> = (0..1500u32).map(|i| (i % 251) as u8).collect();
        let mut buffer = [0u8; CHUNK_BYTES];
        buffer.copy_from_slice(&data[..1024]);
        let first = reference_step(0, &buffer);
        buffer[..476].copy_from_slice(&data[1024..]);
        let expected = reference_step(first, &buffer);
        assert_eq!(checksum(&data, 0, 40_000), expected);
        assert_ne!(checksum(&data, 0, 100_000), expected);
    }

    proptest::proptest! {
        #[test]
        fn checksum_takes_any_input(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..2100),
            seed in proptest::num::u32::ANY,
            op_version in 1u32..100_001,
        ) {
            let _ = checksum(&data, seed, op_version);
            // Sorting only reorders lines and drops what follows a NUL.
            proptest::prop_assert!(sorted_lines(&data).len() <= data.len());
        }
    }

    #[test]
    fn lines_are_sorted_bytewise_with_their_newlines() {
        assert_eq!(
            sorted_lines(b"type=0\ncount=1\nbrick-0=h:-b\n"),
            b"brick-0=h:-b\ncount=1\ntype=0\n"
        );
        // A last line without newline takes part as it is.
        assert_eq!(sorted_lines(b"b=1\na=2"), b"a=2b=1\n");
        // strcmp: a prefix sorts first; bytes compare unsigned.
        assert_eq!(sorted_lines(b"ab\na\n\xc3=1\n"), b"a\nab\n\xc3=1\n");
        // Lines are cut at a NUL, like strdup.
        assert_eq!(sorted_lines(b"z=1\nb\0junk\n"), b"bz=1\n");
    }

    #[test]
    fn long_lines_are_sorted_as_pieces() {
        let mut info = b"z=".to_vec();
        info.resize(SORT_LINE_BYTES_MAX + 10, b'q');
        info.extend_from_slice(b"\na=1\n");
        let sorted = sorted_lines(&info);
        // The long line is read as a 4351-byte piece "z=qqq…" and an 11-byte piece
        // "qqqqqqqqqq\n", which sorts between "a=1\n" and the first piece.
        assert!(sorted.starts_with(b"a=1\nqqqqqqqqqq\nz=qqq"));
        assert_eq!(sorted.len(), info.len());
        assert!(!sorted.ends_with(b"\n"));
    }

    #[test]
    fn cksum_file_text_and_chained_value() {
        let info = b"type=0\ncount=1\n";
        let sum = VolumeChecksum::of_info(info);
        assert_eq!(sum.info, checksum(&sorted_lines(info), 0, 100_000));
        assert_eq!(sum.file_text(), format!("info={}\n", sum.info));
        assert_eq!(
            sum.chained,
            checksum(sum.file_text().as_bytes(), sum.info, 100_000)
        );
    }
}
