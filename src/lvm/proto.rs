//! The wire protocol between [`LvmClient`](super::LvmClient) and `brickd lvm-helper`.
//!
//! Sans-IO: this module turns messages into bytes and bytes into messages, and never touches a
//! socket. Every frame is a 4-byte big-endian payload length followed by the payload; a payload
//! is a kind byte, a 4-byte request id (the reply echoes it) and the kind's fields. Integers are
//! big-endian, text is a 2-byte length and UTF-8, a list is a 2-byte count and its texts.
//!
//! ```text
//! request  0x01 Ping
//!          0x02 VgInfo      vg
//!          0x03 ChangeTags  vg, add list, delete list
//! response 0x81 Pong        helper pid (u32)
//!          0x82 VgInfo      present (u8 0/1) [name, uuid, tags list, free bytes (u64)]
//!          0x83 TagsChanged
//!          0x84 Failed      failure kind (u8), lvm2_run code (i32), command, output
//! ```
//!
//! Decoding accepts only the canonical encoding (flags 0 or 1, known kinds, no trailing bytes),
//! so a decoded message re-encodes to exactly the bytes it came from. No input makes it panic.

use std::fmt;

/// Bytes of the length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

/// The largest payload either side sends or accepts.
pub const FRAME_PAYLOAD_BYTES_MAX: usize = 64 * 1024;

/// The most texts in one list (tags of a VG, tags to add, tags to delete).
pub const LIST_ITEMS_MAX: usize = 1024;

const KIND_PING: u8 = 0x01;
const KIND_VG_INFO: u8 = 0x02;
const KIND_CHANGE_TAGS: u8 = 0x03;
const KIND_PONG: u8 = 0x81;
const KIND_VG_INFO_REPLY: u8 = 0x82;
const KIND_TAGS_CHANGED: u8 = 0x83;
const KIND_FAILED: u8 = 0x84;

/// A frame or message that cannot be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A frame announces more payload than [`FRAME_PAYLOAD_BYTES_MAX`] (a "negative" 32-bit
    /// length lands here too).
    #[error("frame of {bytes} payload bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The announced payload length.
        bytes: u64,
        /// The limit.
        max: usize,
    },
    /// A message ends before one of its fields.
    #[error("message truncated: {field} needs {needed} more bytes, {left} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the payload.
        left: usize,
    },
    /// The kind byte is not one this side accepts.
    #[error("unknown message kind 0x{0:02x}")]
    UnknownKind(u8),
    /// A flag or enumeration byte has a value that is not defined.
    #[error("{field} has undefined value {value}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
    /// A text field is not UTF-8.
    #[error("{field} is not UTF-8")]
    NotUtf8 {
        /// The field.
        field: &'static str,
    },
    /// A list has more items than [`LIST_ITEMS_MAX`].
    #[error("{field} has {count} items, the limit is {max}")]
    TooManyItems {
        /// The field.
        field: &'static str,
        /// The count (announced or given).
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A text is longer than a 2-byte length can say.
    #[error("{field} is {bytes} bytes long, the limit is 65535")]
    TextTooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        bytes: usize,
    },
    /// A message has bytes after its last field.
    #[error("{count} bytes after the end of the message")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// An encoded message would exceed [`FRAME_PAYLOAD_BYTES_MAX`].
    #[error("message of {bytes} bytes exceeds the frame limit of {max}")]
    MessageTooLarge {
        /// The encoded payload length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

/// Splits the first complete frame off `input`.
///
/// Returns the payload and the number of bytes the frame took, `Ok(None)` when `input` does not
/// hold a whole frame yet, or an error when the length prefix exceeds the limit (which is known
/// from the first four bytes, before any payload is buffered).
pub fn split_frame(input: &[u8]) -> Result<Option<(&[u8], usize)>, ProtoError> {
    let Some(header) = input.first_chunk::<FRAME_HEADER_BYTES>() else {
        return Ok(None);
    };
    let payload_bytes = frame_payload_len(*header)?;
    let frame_bytes = FRAME_HEADER_BYTES + payload_bytes;
    Ok(input
        .get(FRAME_HEADER_BYTES..frame_bytes)
        .map(|payload| (payload, frame_bytes)))
}

/// The payload length a frame header announces, checked against the limit.
pub fn frame_payload_len(header: [u8; FRAME_HEADER_BYTES]) -> Result<usize, ProtoError> {
    let bytes = u32::from_be_bytes(header);
    match usize::try_from(bytes) {
        Ok(len) if len <= FRAME_PAYLOAD_BYTES_MAX => Ok(len),
        _ => Err(ProtoError::FrameTooLarge {
            bytes: u64::from(bytes),
            max: FRAME_PAYLOAD_BYTES_MAX,
        }),
    }
}

/// A request from the client, with the id its reply must carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Chosen by the client; echoed by the helper.
    pub id: u32,
    /// What is asked.
    pub body: RequestBody,
}

/// What a request asks of the helper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// Is the helper alive? Answered with its pid, without running LVM.
    Ping,
    /// Report a volume group (`vgs`).
    VgInfo {
        /// The VG name.
        vg: String,
    },
    /// Add and delete tags in one `vgchange` (one metadata commit).
    ChangeTags {
        /// The VG name.
        vg: String,
        /// Tags to add.
        add: Vec<String>,
        /// Tags to delete.
        delete: Vec<String>,
    },
}

/// A volume group as `vgs` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VgInfo {
    /// The VG name.
    pub name: String,
    /// LVM's VG UUID (`vg_uuid`, e.g. `q3Ug3X-Ugpj-5PIu-ijuK-90rv-IL1m-9orVRl`).
    pub uuid: String,
    /// The VG's tags, in LVM's (sorted) order.
    pub tags: Vec<String>,
    /// Unallocated space in the VG (`vg_free`), in bytes.
    pub free_bytes: u64,
}

/// The helper's reply, carrying the id of the request it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The request's id.
    pub id: u32,
    /// The answer.
    pub body: ResponseBody,
}

/// What the helper answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// Answer to [`RequestBody::Ping`].
    Pong {
        /// The helper's process id.
        pid: u32,
    },
    /// Answer to [`RequestBody::VgInfo`]; `None` when LVM has no such VG.
    VgInfo(Option<VgInfo>),
    /// Answer to [`RequestBody::ChangeTags`]: the change is committed.
    TagsChanged,
    /// The request failed.
    Failed(Failure),
}

/// Why the helper could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure.
    pub kind: FailureKind,
    /// `lvm2_run`'s return code for [`FailureKind::Command`], else 0.
    pub code: i32,
    /// The LVM command line, when one was run.
    pub command: String,
    /// LVM's captured messages, or the helper's explanation.
    pub output: String,
}

/// The class of a [`Failure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The helper refused the request before running LVM (a name or tag LVM does not allow).
    Refused = 1,
    /// liblvm2cmd could not be loaded or initialised in the helper.
    Unavailable = 2,
    /// `lvm2_run` returned a failure code.
    Command = 3,
    /// The command succeeded but its report could not be parsed.
    BadReport = 4,
}

impl FailureKind {
    fn from_byte(value: u8) -> Result<FailureKind, ProtoError> {
        Ok(match value {
            1 => FailureKind::Refused,
            2 => FailureKind::Unavailable,
            3 => FailureKind::Command,
            4 => FailureKind::BadReport,
            _ => {
                return Err(ProtoError::BadValue {
                    field: "failure kind",
                    value,
                })
            }
        })
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Refused => "refused",
            FailureKind::Unavailable => "liblvm2cmd unavailable",
            FailureKind::Command => "command failed",
            FailureKind::BadReport => "unreadable report",
        })
    }
}

impl Request {
    /// Appends this request as one frame to `out`; on error `out` is left as it was.
    pub fn encode_frame(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        let mut frame = FrameWriter::start(out);
        let result = self.encode_payload(&mut frame);
        frame.finish(result)
    }

    fn encode_payload(&self, w: &mut FrameWriter<'_>) -> Result<(), ProtoError> {
        match &self.body {
            RequestBody::Ping => w.header(KIND_PING, self.id),
            RequestBody::VgInfo { vg } => {
                w.header(KIND_VG_INFO, self.id);
                w.text("vg", vg)?;
            }
            RequestBody::ChangeTags { vg, add, delete } => {
                w.header(KIND_CHANGE_TAGS, self.id);
                w.text("vg", vg)?;
                w.list("add", add)?;
                w.list("delete", delete)?;
            }
        }
        Ok(())
    }

    /// Decodes a request from a frame's payload.
    pub fn decode(payload: &[u8]) -> Result<Request, ProtoError> {
        let mut r = Reader { rest: payload };
        let kind = r.u8("kind")?;
        let id = r.u32("request id")?;
        let body = match kind {
            KIND_PING => RequestBody::Ping,
            KIND_VG_INFO => RequestBody::VgInfo { vg: r.text("vg")? },
            KIND_CHANGE_TAGS => RequestBody::ChangeTags {
                vg: r.text("vg")?,
                add: r.list("add")?,
                delete: r.list("delete")?,
            },
            other => return Err(ProtoError::UnknownKind(other)),
        };
        r.finish()?;
        Ok(Request { id, body })
    }
}

impl Response {
    /// Appends this response as one frame to `out`; on error `out` is left as it was.
    pub fn encode_frame(&self, out: &mut Vec<u8>) -> Result<(), ProtoError> {
        let mut frame = FrameWriter::start(out);
        let result = self.encode_payload(&mut frame);
        frame.finish(result)
    }

    fn encode_payload(&self, w: &mut FrameWriter<'_>) -> Result<(), ProtoError> {
        match &self.body {
            ResponseBody::Pong { pid } => {
                w.header(KIND_PONG, self.id);
                w.bytes(&pid.to_be_bytes());
            }
            ResponseBody::VgInfo(None) => {
                w.header(KIND_VG_INFO_REPLY, self.id);
                w.bytes(&[0]);
            }
            ResponseBody::VgInfo(Some(info)) => {
                w.header(KIND_VG_INFO_REPLY, self.id);
                w.bytes(&[1]);
                w.text("name", &info.name)?;
                w.text("uuid", &info.uuid)?;
                w.list("tags", &info.tags)?;
                w.bytes(&info.free_bytes.to_be_bytes());
            }
            ResponseBody::TagsChanged => w.header(KIND_TAGS_CHANGED, self.id),
            ResponseBody::Failed(failure) => {
                w.header(KIND_FAILED, self.id);
                w.bytes(&[failure.kind as u8]);
                w.bytes(&failure.code.to_be_bytes());
                w.text("command", &failure.command)?;
                w.text("output", &failure.output)?;
            }
        }
        Ok(())
    }

    /// Decodes a response from a frame's payload.
    pub fn decode(payload: &[u8]) -> Result<Response, ProtoError> {
        let mut r = Reader { rest: payload };
        let kind = r.u8("kind")?;
        let id = r.u32("request id")?;
        let body = match kind {
            KIND_PONG => ResponseBody::Pong { pid: r.u32("pid")? },
            KIND_VG_INFO_REPLY => match r.u8("present")? {
                0 => ResponseBody::VgInfo(None),
                1 => ResponseBody::VgInfo(Some(VgInfo {
                    name: r.text("name")?,
                    uuid: r.text("uuid")?,
                    tags: r.list("tags")?,
                    free_bytes: r.u64("free bytes")?,
                })),
                value => {
                    return Err(ProtoError::BadValue {
                        field: "present",
                        value,
                    })
                }
            },
            KIND_TAGS_CHANGED => ResponseBody::TagsChanged,
            KIND_FAILED => ResponseBody::Failed(Failure {
                kind: FailureKind::from_byte(r.u8("failure kind")?)?,
                code: r.i32("code")?,
                command: r.text("command")?,
                output: r.text("output")?,
            }),
            other => return Err(ProtoError::UnknownKind(other)),
        };
        r.finish()?;
        Ok(Response { id, body })
    }
}

/// Appends one frame to a buffer, filling in the length prefix when done.
struct FrameWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> FrameWriter<'a> {
    fn start(out: &'a mut Vec<u8>) -> FrameWriter<'a> {
        let start = out.len();
        out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
        FrameWriter { out, start }
    }

    fn header(&mut self, kind: u8, id: u32) {
        self.out.push(kind);
        self.out.extend_from_slice(&id.to_be_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn text(&mut self, field: &'static str, text: &str) -> Result<(), ProtoError> {
        let len = u16::try_from(text.len()).map_err(|_| ProtoError::TextTooLong {
            field,
            bytes: text.len(),
        })?;
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn list(&mut self, field: &'static str, items: &[String]) -> Result<(), ProtoError> {
        let count = match u16::try_from(items.len()) {
            Ok(count) if items.len() <= LIST_ITEMS_MAX => count,
            _ => {
                return Err(ProtoError::TooManyItems {
                    field,
                    count: items.len(),
                    max: LIST_ITEMS_MAX,
                })
            }
        };
        self.out.extend_from_slice(&count.to_be_bytes());
        items.iter().try_for_each(|item| self.text(field, item))
    }

    fn finish(self, result: Result<(), ProtoError>) -> Result<(), ProtoError> {
        let payload_bytes = self.out.len() - self.start - FRAME_HEADER_BYTES;
        let result = result.and_then(|()| {
            if payload_bytes > FRAME_PAYLOAD_BYTES_MAX {
                return Err(ProtoError::MessageTooLarge {
                    bytes: payload_bytes,
                    max: FRAME_PAYLOAD_BYTES_MAX,
                });
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                // Fits: the limit is far below u32::MAX.
                let prefix = (payload_bytes as u32).to_be_bytes();
                self.out[self.start..self.start + FRAME_HEADER_BYTES].copy_from_slice(&prefix);
                Ok(())
            }
            Err(err) => {
                self.out.truncate(self.start);
                Err(err)
            }
        }
    }
}

/// Reads fields off the front of a payload.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, needed: usize) -> Result<&'a [u8], ProtoError> {
        if self.rest.len() < needed {
            return Err(ProtoError::Truncated {
                field,
                needed,
                left: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(needed);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ProtoError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(field, N)?);
        Ok(array)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, ProtoError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, ProtoError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, ProtoError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, ProtoError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, ProtoError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    fn text(&mut self, field: &'static str) -> Result<String, ProtoError> {
        let len = usize::from(self.u16(field)?);
        let bytes = self.take(field, len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| ProtoError::NotUtf8 { field })
    }

    fn list(&mut self, field: &'static str) -> Result<Vec<String>, ProtoError> {
        let count = usize::from(self.u16(field)?);
        if count > LIST_ITEMS_MAX {
            return Err(ProtoError::TooManyItems {
                field,
                count,
                max: LIST_ITEMS_MAX,
            });
        }
        // Each item takes at least its 2-byte length, so the payload bounds the allocation.
        let mut items = Vec::with_capacity(count.min(self.rest.len() / 2));
        for _ in 0..count {
            items.push(self.text(field)?);
        }
        Ok(items)
    }

    fn finish(self) -> Result<(), ProtoError> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(ProtoError::TrailingBytes { count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_of(request: &Request) -> Vec<u8> {
        let mut out = Vec::new();
        request.encode_frame(&mut out).unwrap();
        out
    }

    fn change_tags() -> Request {
        Request {
            id: 7,
            body: RequestBody::ChangeTags {
                vg: "vg0".into(),
                add: vec!["a".into(), "b".into()],
                delete: vec!["c".into()],
            },
        }
    }

    fn responses() -> Vec<Response> {
        let failed = Failure {
            kind: FailureKind::Command,
            code: 5,
            command: "vgs vg0".into(),
            output: "Volume group \"vg0\" not found".into(),
        };
        [
            ResponseBody::Pong { pid: 42 },
            ResponseBody::VgInfo(None),
            ResponseBody::VgInfo(Some(VgInfo {
                name: "vg0".into(),
                uuid: "q3Ug3X-Ugpj-5PIu-ijuK-90rv-IL1m-9orVRl".into(),
                tags: vec!["x".into(), "y=z".into()],
                free_bytes: 62_914_560,
            })),
            ResponseBody::TagsChanged,
            ResponseBody::Failed(failed),
        ]
        .into_iter()
        .enumerate()
        .map(|(id, body)| Response {
            id: id as u32,
            body,
        })
        .collect()
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let requests = [
            Request {
                id: 1,
                body: RequestBody::Ping,
            },
            Request {
                id: u32::MAX,
                body: RequestBody::VgInfo { vg: "vg0".into() },
            },
            change_tags(),
        ];
        for request in requests {
            let frame = frame_of(&request);
            let (payload, used) = split_frame(&frame).unwrap().unwrap();
            assert_eq!(used, frame.len());
            assert_eq!(Request::decode(payload), Ok(request));
        }
        for response in responses() {
            let mut frame = Vec::new();
            response.encode_frame(&mut frame).unwrap();
            let (payload, _) = split_frame(&frame).unwrap().unwrap();
            assert_eq!(Response::decode(payload), Ok(response));
        }
    }

    #[test]
    fn split_frame_waits_for_the_whole_frame() {
        let frame = frame_of(&change_tags());
        for cut in 0..frame.len() {
            assert_eq!(split_frame(&frame[..cut]), Ok(None), "cut at {cut}");
        }
        let mut two = frame.clone();
        two.extend_from_slice(&frame);
        let (_, used) = split_frame(&two).unwrap().unwrap();
        assert_eq!(used, frame.len());
    }

    #[test]
    fn truncated_payloads_are_errors() {
        let frame = frame_of(&change_tags());
        let payload = &frame[FRAME_HEADER_BYTES..];
        for cut in 0..payload.len() {
            assert!(
                matches!(
                    Request::decode(&payload[..cut]),
                    Err(ProtoError::Truncated { .. })
                ),
                "cut at {cut}"
            );
        }
        for response in responses() {
            let mut frame = Vec::new();
            response.encode_frame(&mut frame).unwrap();
            let payload = &frame[FRAME_HEADER_BYTES..];
            for cut in 0..payload.len() {
                assert!(Response::decode(&payload[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn oversized_and_negative_lengths_are_refused_from_the_header() {
        let limit = FRAME_PAYLOAD_BYTES_MAX as u32;
        assert_eq!(
            frame_payload_len(limit.to_be_bytes()),
            Ok(FRAME_PAYLOAD_BYTES_MAX)
        );
        for announced in [limit + 1, i32::MAX as u32, (-1i32) as u32, 0x8000_0000] {
            assert_eq!(
                split_frame(&announced.to_be_bytes()),
                Err(ProtoError::FrameTooLarge {
                    bytes: u64::from(announced),
                    max: FRAME_PAYLOAD_BYTES_MAX
                })
            );
        }
    }

    #[test]
    fn oversized_messages_are_not_encoded() {
        let mut out = vec![9];
        let huge = Request {
            id: 1,
            body: RequestBody::ChangeTags {
                vg: "vg".into(),
                add: vec!["t".repeat(60_000), "u".repeat(60_000)],
                delete: vec![],
            },
        };
        assert!(matches!(
            huge.encode_frame(&mut out),
            Err(ProtoError::MessageTooLarge { .. })
        ));
        let long_text = Request {
            id: 1,
            body: RequestBody::VgInfo {
                vg: "v".repeat(70_000),
            },
        };
        assert!(matches!(
            long_text.encode_frame(&mut out),
            Err(ProtoError::TextTooLong { .. })
        ));
        let many = Request {
            id: 1,
            body: RequestBody::ChangeTags {
                vg: "vg".into(),
                add: vec![String::new(); LIST_ITEMS_MAX + 1],
                delete: vec![],
            },
        };
        assert!(matches!(
            many.encode_frame(&mut out),
            Err(ProtoError::TooManyItems { .. })
        ));
        assert_eq!(out, [9], "a failed encode leaves the buffer as it was");
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        assert_eq!(
            Request::decode(&[]),
            Err(ProtoError::Truncated {
                field: "kind",
                needed: 1,
                left: 0
            })
        );
        assert_eq!(
            Request::decode(&[0x81, 0, 0, 0, 1]),
            Err(ProtoError::UnknownKind(0x81)),
            "a response kind is not a request"
        );
        assert_eq!(
            Response::decode(&[0x82, 0, 0, 0, 1, 2]),
            Err(ProtoError::BadValue {
                field: "present",
                value: 2
            })
        );
        assert_eq!(
            Request::decode(&[0x02, 0, 0, 0, 1, 0, 2, 0xff, 0xfe]),
            Err(ProtoError::NotUtf8 { field: "vg" })
        );
        assert_eq!(
            Request::decode(&[0x01, 0, 0, 0, 1, 0]),
            Err(ProtoError::TrailingBytes { count: 1 })
        );
        assert_eq!(
            Request::decode(&[0x03, 0, 0, 0, 1, 0, 1, b'v', 0xff, 0xff]),
            Err(ProtoError::TooManyItems {
                field: "add",
                count: 0xffff,
                max: LIST_ITEMS_MAX
            })
        );
        assert_eq!(
            Response::decode(&[0x84, 0, 0, 0, 1, 9]),
            Err(ProtoError::BadValue {
                field: "failure kind",
                value: 9
            })
        );
        // A pseudo-random walk over byte strings: nothing panics.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..2_000usize {
            let bytes: Vec<u8> = (0..len % 64)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = split_frame(&bytes);
            let _ = Request::decode(&bytes);
            let _ = Response::decode(&bytes);
        }
    }
}
