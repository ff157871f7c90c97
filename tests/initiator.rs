// SPDX-License-Identifier: GPL-2.0-only
//! A small raw iSCSI initiator (RFC 3720) for the integration tests.
//!
//! It is an *oracle*: it shares no code with the port (`iscsi_scst`, `iscsi_scstd`), only the
//! standard library and the `crc32c` crate, and every byte layout below is written out from
//! RFC 3720 §10. It is proven against an independent target (tgt, `tests/initiator_vs_tgt.rs`)
//! so that later tests can trust it when they drive our own target.
//!
//! What it does:
//! - PDUs (`Pdu`): the 48-byte BHS, AHS, data segment padding, optional CRC32C header and
//!   data digests (little-endian on the wire, the data digest covers the pad bytes).
//! - `Connection`: a TCP connection with a deadline on every receive, so a test never hangs;
//!   login (security → operational → full feature) with the keys of `LoginParams`, returning
//!   the target's keys and status (`LoginOutcome`); raw PDUs for bad-input tests
//!   (`Connection::send_bytes`, `Connection::recv_pdu`, `Connection::raw_exchange`,
//!   `LoginRequest`).
//! - Full feature phase: SendTargets with continuation, NOP-Out/NOP-In, logout, and SCSI
//!   commands with Data-In (status collapse included), SCSI Response with sense, R2T →
//!   Data-Out within the target's MaxRecvDataSegmentLength, immediate and unsolicited data up
//!   to FirstBurstLength; helpers for INQUIRY, TEST UNIT READY, READ CAPACITY(16), READ(10),
//!   WRITE(10) and REPORT LUNS.
//! - It checks what a target must get right: ITTs, the StatSN sequence, DataSN and R2TSN
//!   order, Data-In within the expected length, R2Ts within MaxBurstLength and never asking
//!   for bytes twice, data segments within the MaxRecvDataSegmentLength we declared, digests.
//!   A violation is an `Error`, never a panic.
//!
//! One command at a time per connection; error recovery level 0 only.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Length of the Basic Header Segment.
pub const BHS_LEN: usize = 48;
/// Largest data segment the 24-bit DataSegmentLength can express.
pub const MAX_DATA_SEGMENT_LENGTH: usize = 0x00ff_ffff;
/// MaxRecvDataSegmentLength in force during login, and the default afterwards (RFC 3720 §12.12).
pub const LOGIN_MAX_RECV_DATA_SEGMENT_LENGTH: usize = 8192;
/// The reserved tag value 0xffffffff (ITT or TTT "none").
pub const RESERVED_TAG: u32 = 0xffff_ffff;

/// Opcodes (byte 0, bits 0–5) of RFC 3720 §10.2.1.2.
pub mod op {
    /// NOP-Out.
    pub const NOP_OUT: u8 = 0x00;
    /// SCSI Command.
    pub const SCSI_CMD: u8 = 0x01;
    /// SCSI Task Management Function Request.
    pub const TASK_MGMT_REQ: u8 = 0x02;
    /// Login Request.
    pub const LOGIN_REQ: u8 = 0x03;
    /// Text Request.
    pub const TEXT_REQ: u8 = 0x04;
    /// SCSI Data-Out.
    pub const DATA_OUT: u8 = 0x05;
    /// Logout Request.
    pub const LOGOUT_REQ: u8 = 0x06;
    /// SNACK Request.
    pub const SNACK_REQ: u8 = 0x10;
    /// NOP-In.
    pub const NOP_IN: u8 = 0x20;
    /// SCSI Response.
    pub const SCSI_RSP: u8 = 0x21;
    /// SCSI Task Management Function Response.
    pub const TASK_MGMT_RSP: u8 = 0x22;
    /// Login Response.
    pub const LOGIN_RSP: u8 = 0x23;
    /// Text Response.
    pub const TEXT_RSP: u8 = 0x24;
    /// SCSI Data-In.
    pub const DATA_IN: u8 = 0x25;
    /// Logout Response.
    pub const LOGOUT_RSP: u8 = 0x26;
    /// Ready To Transfer.
    pub const R2T: u8 = 0x31;
    /// Asynchronous Message.
    pub const ASYNC_MSG: u8 = 0x32;
    /// Reject.
    pub const REJECT: u8 = 0x3f;

    /// The RFC name of an opcode, for messages.
    pub fn name(opcode: u8) -> &'static str {
        match opcode {
            NOP_OUT => "NOP-Out",
            SCSI_CMD => "SCSI Command",
            TASK_MGMT_REQ => "Task Management Request",
            LOGIN_REQ => "Login Request",
            TEXT_REQ => "Text Request",
            DATA_OUT => "Data-Out",
            LOGOUT_REQ => "Logout Request",
            SNACK_REQ => "SNACK",
            NOP_IN => "NOP-In",
            SCSI_RSP => "SCSI Response",
            TASK_MGMT_RSP => "Task Management Response",
            LOGIN_RSP => "Login Response",
            TEXT_RSP => "Text Response",
            DATA_IN => "Data-In",
            LOGOUT_RSP => "Logout Response",
            R2T => "R2T",
            ASYNC_MSG => "Async Message",
            REJECT => "Reject",
            _ => "unknown opcode",
        }
    }
}

/// Byte 0: the immediate-delivery bit (I).
pub const FLAG_IMMEDIATE: u8 = 0x40;
/// Byte 1: the final bit (F) of most PDUs.
pub const FLAG_FINAL: u8 = 0x80;
/// Byte 1 of a Login PDU: transit (T).
pub const LOGIN_TRANSIT: u8 = 0x80;
/// Byte 1 of a Login PDU: continue (C).
pub const LOGIN_CONTINUE: u8 = 0x40;
/// Byte 1 of a Text PDU: continue (C).
pub const TEXT_CONTINUE: u8 = 0x40;
/// Byte 1 of a SCSI Command: read (R).
pub const CMD_READ: u8 = 0x40;
/// Byte 1 of a SCSI Command: write (W).
pub const CMD_WRITE: u8 = 0x20;
/// Byte 1 of a SCSI Command: task attribute SIMPLE.
pub const CMD_ATTR_SIMPLE: u8 = 0x01;
/// Byte 1 of a Data-In: acknowledge (A).
pub const DATA_IN_ACK: u8 = 0x40;
/// Byte 1 of a Data-In: status present (S).
pub const DATA_IN_STATUS: u8 = 0x01;
/// Byte 1 of a SCSI Response / Data-In: bidirectional read residual overflow (o).
pub const RESID_BIDI_OVERFLOW: u8 = 0x10;
/// Byte 1 of a SCSI Response / Data-In: bidirectional read residual underflow (u).
pub const RESID_BIDI_UNDERFLOW: u8 = 0x08;
/// Byte 1 of a SCSI Response / Data-In: residual overflow (O).
pub const RESID_OVERFLOW: u8 = 0x04;
/// Byte 1 of a SCSI Response / Data-In: residual underflow (U).
pub const RESID_UNDERFLOW: u8 = 0x02;

/// Login stage: SecurityNegotiation.
pub const STAGE_SECURITY: u8 = 0;
/// Login stage: LoginOperationalNegotiation.
pub const STAGE_OPERATIONAL: u8 = 1;
/// Login stage: FullFeaturePhase.
pub const STAGE_FULL_FEATURE: u8 = 3;

/// Logout reason: close the session.
pub const LOGOUT_CLOSE_SESSION: u8 = 0;
/// Logout reason: close the connection.
pub const LOGOUT_CLOSE_CONNECTION: u8 = 1;

/// SCSI status GOOD.
pub const STATUS_GOOD: u8 = 0x00;
/// SCSI status CHECK CONDITION.
pub const STATUS_CHECK_CONDITION: u8 = 0x02;
/// Sense key UNIT ATTENTION.
pub const SENSE_KEY_UNIT_ATTENTION: u8 = 0x06;

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a text (key=value) segment could not be encoded or decoded (RFC 3720 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextError {
    /// Non-empty text that does not end with a NUL.
    MissingTerminator,
    /// Two NULs in a row (an empty key=value pair) at this offset.
    EmptyPair {
        /// Byte offset of the pair.
        offset: usize,
    },
    /// A pair without `=` at this offset.
    MissingEquals {
        /// Byte offset of the pair.
        offset: usize,
    },
    /// A pair with an empty key at this offset.
    EmptyKey {
        /// Byte offset of the pair.
        offset: usize,
    },
    /// A key longer than 63 bytes.
    KeyTooLong {
        /// Byte offset of the pair.
        offset: usize,
        /// Length of the key.
        len: usize,
    },
    /// A byte not allowed in a key name (letters, digits, `.-+@_`).
    BadKeyByte {
        /// Byte offset of the offending byte.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A value that is not UTF-8, or (when encoding) holds a NUL.
    BadValue {
        /// Byte offset of the pair.
        offset: usize,
    },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::MissingTerminator => write!(f, "text does not end with NUL"),
            TextError::EmptyPair { offset } => write!(f, "empty key=value pair at byte {offset}"),
            TextError::MissingEquals { offset } => write!(f, "pair without '=' at byte {offset}"),
            TextError::EmptyKey { offset } => write!(f, "empty key at byte {offset}"),
            TextError::KeyTooLong { offset, len } => {
                write!(f, "key of {len} bytes (> 63) at byte {offset}")
            }
            TextError::BadKeyByte { offset, byte } => {
                write!(f, "byte {byte:#04x} not allowed in a key at byte {offset}")
            }
            TextError::BadValue { offset } => {
                write!(
                    f,
                    "value not UTF-8 or holding NUL in the pair at byte {offset}"
                )
            }
        }
    }
}

impl std::error::Error for TextError {}

/// Everything that can go wrong talking to a target.
#[derive(Debug)]
pub enum Error {
    /// An I/O error other than a timeout or the peer closing.
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
    /// No (complete) answer within the connection's timeout.
    Timeout {
        /// What was being waited for.
        what: &'static str,
        /// The timeout in force.
        after: Duration,
    },
    /// The peer closed the connection.
    Closed {
        /// What was being read or written.
        what: &'static str,
    },
    /// A received header digest does not match.
    HeaderDigest {
        /// CRC32C computed over BHS and AHS.
        computed: u32,
        /// The digest on the wire.
        received: u32,
    },
    /// A received data digest does not match.
    DataDigest {
        /// CRC32C computed over data and padding.
        computed: u32,
        /// The digest on the wire.
        received: u32,
    },
    /// The target sent a data segment longer than we allow.
    DataSegmentTooLong {
        /// DataSegmentLength of the PDU.
        len: usize,
        /// The MaxRecvDataSegmentLength in force.
        limit: usize,
    },
    /// A PDU could not be encoded (length out of range, bad AHS, bad LUN, bad CDB …).
    Encode(String),
    /// Malformed key=value text.
    Text(TextError),
    /// A negotiated value we cannot use.
    Negotiation(String),
    /// A PDU of another kind than the one expected.
    UnexpectedPdu {
        /// What was expected.
        expected: &'static str,
        /// The opcode received.
        opcode: u8,
    },
    /// A response for another task than ours.
    WrongItt {
        /// Our Initiator Task Tag.
        expected: u32,
        /// The one received.
        received: u32,
    },
    /// A StatSN out of sequence.
    StatSn {
        /// The StatSN we expected.
        expected: u32,
        /// The one received.
        received: u32,
    },
    /// Any other violation of RFC 3720 by the target.
    Protocol(String),
    /// The target answered with a Reject PDU.
    Rejected {
        /// The reason code (byte 2).
        reason: u8,
        /// The rejected PDU's header (the Reject's data segment).
        header: Vec<u8>,
    },
    /// The login ended with a non-zero status class (from [`LoginOutcome::into_success`]).
    LoginFailed {
        /// Status-Class.
        class: u8,
        /// Status-Detail.
        detail: u8,
    },
    /// A command ended with a status other than GOOD (from [`ScsiResult::into_good`]).
    ScsiStatus {
        /// The SCSI status.
        status: u8,
        /// The iSCSI response code.
        response: u8,
        /// The sense data.
        sense: Vec<u8>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Timeout { what, after } => write!(f, "{what}: no answer within {after:?}"),
            Error::Closed { what } => write!(f, "{what}: connection closed by the peer"),
            Error::HeaderDigest { computed, received } => write!(
                f,
                "header digest mismatch: computed {computed:#010x}, received {received:#010x}"
            ),
            Error::DataDigest { computed, received } => write!(
                f,
                "data digest mismatch: computed {computed:#010x}, received {received:#010x}"
            ),
            Error::DataSegmentTooLong { len, limit } => write!(
                f,
                "data segment of {len} bytes exceeds MaxRecvDataSegmentLength {limit}"
            ),
            Error::Encode(m) => write!(f, "cannot encode: {m}"),
            Error::Text(e) => write!(f, "malformed text: {e}"),
            Error::Negotiation(m) => write!(f, "negotiation: {m}"),
            Error::UnexpectedPdu { expected, opcode } => write!(
                f,
                "expected {expected}, received {} ({opcode:#04x})",
                op::name(*opcode)
            ),
            Error::WrongItt { expected, received } => {
                write!(
                    f,
                    "ITT {received:#010x} received, expected {expected:#010x}"
                )
            }
            Error::StatSn { expected, received } => {
                write!(f, "StatSN {received} received, expected {expected}")
            }
            Error::Protocol(m) => write!(f, "protocol violation by the target: {m}"),
            Error::Rejected { reason, .. } => write!(f, "target sent Reject, reason {reason:#04x}"),
            Error::LoginFailed { class, detail } => {
                write!(
                    f,
                    "login failed: status class {class:#04x} detail {detail:#04x}"
                )
            }
            Error::ScsiStatus {
                status,
                response,
                sense,
            } => write!(
                f,
                "SCSI status {status:#04x} (response {response:#04x}), sense {sense:02x?}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Text(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TextError> for Error {
    fn from(e: TextError) -> Self {
        Error::Text(e)
    }
}

fn io_error(e: io::Error, what: &'static str, after: Duration) -> Error {
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Error::Closed { what },
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout { what, after },
        _ => Error::Io { what, source: e },
    }
}

// ---------------------------------------------------------------------------------------------
// Byte helpers

fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

fn be24(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([0, b[off], b[off + 1], b[off + 2]])
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// Writes a 24-bit big-endian length at `b[off..off + 3]`; fails above 2^24 − 1.
pub fn put_u24(b: &mut [u8], off: usize, v: usize) -> Result<(), Error> {
    if v > MAX_DATA_SEGMENT_LENGTH {
        return Err(Error::Encode(format!(
            "length {v} does not fit 24 bits (max {MAX_DATA_SEGMENT_LENGTH})"
        )));
    }
    let bytes = u32::try_from(v)
        .map_err(|_| Error::Encode(format!("length {v} does not fit 24 bits")))?
        .to_be_bytes();
    b[off..off + 3].copy_from_slice(&bytes[1..4]);
    Ok(())
}

/// `n` rounded up to a multiple of 4 (the padding of AHS and data segments).
pub fn padded_len(n: usize) -> usize {
    n.next_multiple_of(4)
}

/// CRC32C (Castagnoli) of `data`, as iSCSI digests compute it (RFC 3720 §12.1, Appendix B.4).
/// On the wire the value is sent least significant byte first ([`u32::to_le_bytes`]).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

fn usize_to_u32(v: usize, what: &str) -> Result<u32, Error> {
    u32::try_from(v).map_err(|_| Error::Encode(format!("{what} {v} does not fit 32 bits")))
}

/// The 8-byte LUN field for a LUN number (SAM): peripheral addressing below 256, flat space
/// addressing up to 16383.
pub fn encode_lun(lun: u16) -> Result<[u8; 8], Error> {
    let mut b = [0u8; 8];
    let [hi, lo] = lun.to_be_bytes();
    if lun < 256 {
        b[1] = lo;
    } else if lun < 0x4000 {
        b[0] = 0x40 | hi;
        b[1] = lo;
    } else {
        return Err(Error::Encode(format!(
            "LUN {lun} exceeds flat space (16383)"
        )));
    }
    Ok(b)
}

/// The LUN number of an 8-byte LUN field in peripheral or flat space addressing (`None` for
/// other addressing methods or a non-zero second level).
pub fn decode_lun(b: [u8; 8]) -> Option<u16> {
    if b[2..].iter().any(|x| *x != 0) {
        return None;
    }
    match b[0] >> 6 {
        0 if b[0] == 0 => Some(u16::from(b[1])),
        1 => Some(u16::from_be_bytes([b[0] & 0x3f, b[1]])),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Text

/// A list of key=value pairs, in wire order.
pub type Keys = Vec<(String, String)>;

/// Builds an owned key list from string pairs.
pub fn keys(pairs: &[(&str, &str)]) -> Keys {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The value of the last occurrence of `key` in `pairs`.
pub fn key_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

const MAX_KEY_LEN: usize = 63;

fn check_key(key: &[u8], offset: usize) -> Result<(), TextError> {
    if key.is_empty() {
        return Err(TextError::EmptyKey { offset });
    }
    if key.len() > MAX_KEY_LEN {
        return Err(TextError::KeyTooLong {
            offset,
            len: key.len(),
        });
    }
    for (i, &c) in key.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'@' | b'_' | b'#');
        if !ok {
            return Err(TextError::BadKeyByte {
                offset: offset + i,
                byte: c,
            });
        }
    }
    Ok(())
}

/// Encodes `key=value\0` pairs (RFC 3720 §5.1), checking the key syntax.
pub fn encode_text<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<Vec<u8>, TextError> {
    let mut out = Vec::new();
    for (k, v) in pairs {
        let (k, v) = (k.as_ref().as_bytes(), v.as_ref().as_bytes());
        let offset = out.len();
        check_key(k, offset)?;
        if v.contains(&0) {
            return Err(TextError::BadValue { offset });
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
        out.push(0);
    }
    Ok(out)
}

/// Decodes a complete text segment (every PDU of a continued exchange concatenated) into its
/// pairs, rejecting malformed text: a missing final NUL, empty pairs, a pair without `=`, a bad
/// key, a value that is not UTF-8.
pub fn decode_text(data: &[u8]) -> Result<Keys, TextError> {
    let mut out = Vec::new();
    let Some((&last, body)) = data.split_last() else {
        return Ok(out);
    };
    if last != 0 {
        return Err(TextError::MissingTerminator);
    }
    let mut offset = 0;
    for item in body.split(|b| *b == 0) {
        if item.is_empty() {
            return Err(TextError::EmptyPair { offset });
        }
        let eq = item
            .iter()
            .position(|b| *b == b'=')
            .ok_or(TextError::MissingEquals { offset })?;
        let (k, v) = (&item[..eq], &item[eq + 1..]);
        check_key(k, offset)?;
        let key =
            std::str::from_utf8(k).map_err(|_| TextError::BadKeyByte { offset, byte: k[0] })?;
        let value = std::str::from_utf8(v).map_err(|_| TextError::BadValue { offset })?;
        out.push((key.to_owned(), value.to_owned()));
        offset += item.len() + 1;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// PDUs

/// Which digests are in force (both off during login).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Digests {
    /// CRC32C header digest after BHS + AHS.
    pub header: bool,
    /// CRC32C data digest after the padded data segment.
    pub data: bool,
}

/// One iSCSI PDU: the BHS as bytes, the AHS (a multiple of 4 bytes) and the unpadded data
/// segment. Accessors name the BHS fields; which ones are meaningful depends on the opcode.
#[derive(Clone, PartialEq, Eq)]
pub struct Pdu {
    /// The Basic Header Segment. [`Pdu::encode`] fills TotalAHSLength and DataSegmentLength
    /// (bytes 4–7) from `ahs` and `data`.
    pub bhs: [u8; BHS_LEN],
    /// The Additional Header Segments, already padded to 4 bytes each.
    pub ahs: Vec<u8>,
    /// The data segment without padding.
    pub data: Vec<u8>,
}

impl fmt::Debug for Pdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pdu({} {:#04x}, flags {:#04x}, itt {:#010x}, ahs {}, data {}; bhs {:02x?})",
            op::name(self.opcode()),
            self.opcode(),
            self.flags(),
            self.itt(),
            self.ahs.len(),
            self.data.len(),
            self.bhs
        )
    }
}

impl Pdu {
    /// A zeroed PDU with this opcode.
    pub fn new(opcode: u8) -> Self {
        let mut bhs = [0u8; BHS_LEN];
        bhs[0] = opcode & 0x3f;
        Pdu {
            bhs,
            ahs: Vec::new(),
            data: Vec::new(),
        }
    }

    /// Opcode (byte 0, bits 0–5).
    pub fn opcode(&self) -> u8 {
        self.bhs[0] & 0x3f
    }

    /// The immediate bit (byte 0, bit 6).
    pub fn immediate(&self) -> bool {
        self.bhs[0] & FLAG_IMMEDIATE != 0
    }

    /// Byte 1 (the opcode-specific flags).
    pub fn flags(&self) -> u8 {
        self.bhs[1]
    }

    /// The F bit (byte 1, bit 7).
    pub fn final_bit(&self) -> bool {
        self.bhs[1] & FLAG_FINAL != 0
    }

    /// TotalAHSLength in 4-byte words (byte 4), as on the wire.
    pub fn total_ahs_length(&self) -> u8 {
        self.bhs[4]
    }

    /// DataSegmentLength (bytes 5–7), as on the wire.
    pub fn data_segment_length(&self) -> u32 {
        be24(&self.bhs, 5)
    }

    /// The LUN field (bytes 8–15).
    pub fn lun(&self) -> [u8; 8] {
        let mut l = [0u8; 8];
        l.copy_from_slice(&self.bhs[8..16]);
        l
    }

    /// Initiator Task Tag (bytes 16–19).
    pub fn itt(&self) -> u32 {
        be32(&self.bhs, 16)
    }

    /// Target Transfer Tag (bytes 20–23) of NOP, Text, Data and R2T PDUs.
    pub fn ttt(&self) -> u32 {
        be32(&self.bhs, 20)
    }

    /// StatSN of target PDUs / CmdSN of initiator PDUs (bytes 24–27).
    pub fn sn24(&self) -> u32 {
        be32(&self.bhs, 24)
    }

    /// ExpCmdSN of target PDUs / ExpStatSN of initiator PDUs (bytes 28–31).
    pub fn sn28(&self) -> u32 {
        be32(&self.bhs, 28)
    }

    /// MaxCmdSN of target PDUs (bytes 32–35).
    pub fn max_cmdsn(&self) -> u32 {
        be32(&self.bhs, 32)
    }

    /// DataSN / R2TSN / ExpDataSN (bytes 36–39).
    pub fn sn36(&self) -> u32 {
        be32(&self.bhs, 36)
    }

    /// Buffer Offset of Data and R2T PDUs (bytes 40–43).
    pub fn buffer_offset(&self) -> u32 {
        be32(&self.bhs, 40)
    }

    /// Residual Count (Data-In, SCSI Response) / Desired Data Transfer Length (R2T), bytes 44–47.
    pub fn word44(&self) -> u32 {
        be32(&self.bhs, 44)
    }

    /// Login Response Status-Class (byte 36).
    pub fn status_class(&self) -> u8 {
        self.bhs[36]
    }

    /// Login Response Status-Detail (byte 37).
    pub fn status_detail(&self) -> u8 {
        self.bhs[37]
    }

    /// Login CSG (byte 1, bits 2–3).
    pub fn csg(&self) -> u8 {
        (self.bhs[1] >> 2) & 3
    }

    /// Login NSG (byte 1, bits 0–1).
    pub fn nsg(&self) -> u8 {
        self.bhs[1] & 3
    }

    /// The wire bytes: BHS with TotalAHSLength and DataSegmentLength filled in, AHS, header
    /// digest, data, zero padding, data digest (the digests little-endian, the data digest
    /// over data and padding, no data digest for an empty segment).
    pub fn encode(&self, digests: Digests) -> Result<Vec<u8>, Error> {
        if !self.ahs.len().is_multiple_of(4) {
            return Err(Error::Encode(format!(
                "AHS of {} bytes is not a multiple of 4",
                self.ahs.len()
            )));
        }
        let ahs_words = u8::try_from(self.ahs.len() / 4)
            .map_err(|_| Error::Encode(format!("AHS of {} bytes exceeds 1020", self.ahs.len())))?;
        let mut bhs = self.bhs;
        bhs[4] = ahs_words;
        put_u24(&mut bhs, 5, self.data.len())?;
        let mut out =
            Vec::with_capacity(BHS_LEN + self.ahs.len() + padded_len(self.data.len()) + 8);
        out.extend_from_slice(&bhs);
        out.extend_from_slice(&self.ahs);
        if digests.header {
            let crc = crc32c(&out);
            out.extend_from_slice(&crc.to_le_bytes());
        }
        if !self.data.is_empty() {
            let start = out.len();
            out.extend_from_slice(&self.data);
            out.resize(start + padded_len(self.data.len()), 0);
            if digests.data {
                let crc = crc32c(&out[start..]);
                out.extend_from_slice(&crc.to_le_bytes());
            }
        }
        Ok(out)
    }
}

fn read_full<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    what: &'static str,
    after: Duration,
) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| io_error(e, what, after))
}

/// Reads one PDU from `r`: BHS, AHS, header digest (checked), data segment of at most
/// `max_data` bytes, padding, data digest (checked). `after` is only used in timeout errors.
pub fn read_pdu<R: Read>(
    r: &mut R,
    digests: Digests,
    max_data: usize,
    after: Duration,
) -> Result<Pdu, Error> {
    let mut bhs = [0u8; BHS_LEN];
    read_full(r, &mut bhs, "receiving a BHS", after)?;
    let mut ahs = vec![0u8; usize::from(bhs[4]) * 4];
    read_full(r, &mut ahs, "receiving an AHS", after)?;
    if digests.header {
        let mut d = [0u8; 4];
        read_full(r, &mut d, "receiving a header digest", after)?;
        let received = u32::from_le_bytes(d);
        let mut c = crc32c::crc32c(&bhs);
        c = crc32c::crc32c_append(c, &ahs);
        if c != received {
            return Err(Error::HeaderDigest {
                computed: c,
                received,
            });
        }
    }
    let len = be24(&bhs, 5) as usize;
    if len > max_data {
        return Err(Error::DataSegmentTooLong {
            len,
            limit: max_data,
        });
    }
    let mut data = vec![0u8; padded_len(len)];
    read_full(r, &mut data, "receiving a data segment", after)?;
    if digests.data && len > 0 {
        let mut d = [0u8; 4];
        read_full(r, &mut d, "receiving a data digest", after)?;
        let received = u32::from_le_bytes(d);
        let computed = crc32c(&data);
        if computed != received {
            return Err(Error::DataDigest { computed, received });
        }
    }
    data.truncate(len);
    Ok(Pdu { bhs, ahs, data })
}

/// A Login Request, field by field (RFC 3720 §10.12), for normal and hand-made logins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// T bit.
    pub transit: bool,
    /// C bit.
    pub cont: bool,
    /// Current stage.
    pub csg: u8,
    /// Next stage.
    pub nsg: u8,
    /// Version-max (byte 2).
    pub version_max: u8,
    /// Version-min (byte 3).
    pub version_min: u8,
    /// ISID (bytes 8–13).
    pub isid: [u8; 6],
    /// TSIH (bytes 14–15).
    pub tsih: u16,
    /// Initiator Task Tag.
    pub itt: u32,
    /// Connection ID (bytes 20–21).
    pub cid: u16,
    /// CmdSN.
    pub cmdsn: u32,
    /// ExpStatSN.
    pub exp_statsn: u32,
    /// The text data segment.
    pub data: Vec<u8>,
}

impl LoginRequest {
    /// The PDU (always immediate, as RFC 3720 requires of Login Requests).
    pub fn to_pdu(&self) -> Pdu {
        let mut p = Pdu::new(op::LOGIN_REQ);
        p.bhs[0] |= FLAG_IMMEDIATE;
        p.bhs[1] = (if self.transit { LOGIN_TRANSIT } else { 0 })
            | (if self.cont { LOGIN_CONTINUE } else { 0 })
            | ((self.csg & 3) << 2)
            | (self.nsg & 3);
        p.bhs[2] = self.version_max;
        p.bhs[3] = self.version_min;
        p.bhs[8..14].copy_from_slice(&self.isid);
        put16(&mut p.bhs, 14, self.tsih);
        put32(&mut p.bhs, 16, self.itt);
        put16(&mut p.bhs, 20, self.cid);
        put32(&mut p.bhs, 24, self.cmdsn);
        put32(&mut p.bhs, 28, self.exp_statsn);
        p.data = self.data.clone();
        p
    }
}

// ---------------------------------------------------------------------------------------------
// Login parameters and results

static ISID_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh random-format ISID (type 01b), unique within this process and likely across
/// processes (it mixes in the PID).
pub fn fresh_isid() -> [u8; 6] {
    let n = ISID_COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let [_, p1, p2, p3] = pid.to_be_bytes();
    let [_, _, n1, n2] = n.to_be_bytes();
    [0x40 | (p1 & 0x3f), p2, p3, 0x5c, n1, n2]
}

/// What a login sends: the keys of the security stage (InitiatorName, SessionType, TargetName,
/// AuthMethod …) and of the operational stage (digests, burst lengths …), plus the header
/// fields of the new connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginParams {
    /// Keys sent in the SecurityNegotiation stage.
    pub security_keys: Keys,
    /// Keys sent in the LoginOperationalNegotiation stage.
    pub operational_keys: Keys,
    /// ISID of the session.
    pub isid: [u8; 6],
    /// TSIH: 0 for a new session.
    pub tsih: u16,
    /// Connection ID.
    pub cid: u16,
    /// The initial CmdSN.
    pub cmdsn: u32,
}

impl LoginParams {
    /// A discovery session: `InitiatorName`, `SessionType=Discovery`, `AuthMethod=None`.
    pub fn discovery(initiator_name: &str) -> Self {
        LoginParams {
            security_keys: keys(&[
                ("InitiatorName", initiator_name),
                ("SessionType", "Discovery"),
                ("AuthMethod", "None"),
            ]),
            operational_keys: Vec::new(),
            isid: fresh_isid(),
            tsih: 0,
            cid: 0,
            cmdsn: 1,
        }
    }

    /// A normal session: `InitiatorName`, `SessionType=Normal`, `TargetName`,
    /// `AuthMethod=None`.
    pub fn normal(initiator_name: &str, target_name: &str) -> Self {
        LoginParams {
            security_keys: keys(&[
                ("InitiatorName", initiator_name),
                ("SessionType", "Normal"),
                ("TargetName", target_name),
                ("AuthMethod", "None"),
            ]),
            ..LoginParams::discovery(initiator_name)
        }
    }

    /// Adds an operational key (e.g. `("MaxBurstLength", "16384")`).
    pub fn with_key(mut self, key: &str, value: &str) -> Self {
        self.operational_keys
            .push((key.to_owned(), value.to_owned()));
        self
    }
}

/// The session parameters in force after login (RFC 3720 §12 defaults where a key was not
/// negotiated or the target answered Irrelevant / NotUnderstood / Reject).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// HeaderDigest=CRC32C.
    pub header_digest: bool,
    /// DataDigest=CRC32C.
    pub data_digest: bool,
    /// The MaxRecvDataSegmentLength the target declared: the most we may send in one PDU.
    pub target_max_recv_data_segment_length: u32,
    /// The MaxRecvDataSegmentLength we declared: the most the target may send in one PDU.
    pub initiator_max_recv_data_segment_length: u32,
    /// InitialR2T.
    pub initial_r2t: bool,
    /// ImmediateData.
    pub immediate_data: bool,
    /// FirstBurstLength.
    pub first_burst_length: u32,
    /// MaxBurstLength.
    pub max_burst_length: u32,
    /// MaxOutstandingR2T.
    pub max_outstanding_r2t: u32,
    /// DataPDUInOrder.
    pub data_pdu_in_order: bool,
    /// DataSequenceInOrder.
    pub data_sequence_in_order: bool,
    /// ErrorRecoveryLevel.
    pub error_recovery_level: u32,
}

impl Default for Negotiated {
    fn default() -> Self {
        Negotiated {
            header_digest: false,
            data_digest: false,
            target_max_recv_data_segment_length: 8192,
            initiator_max_recv_data_segment_length: 8192,
            initial_r2t: true,
            immediate_data: true,
            first_burst_length: 65536,
            max_burst_length: 262_144,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
        }
    }
}

fn parse_number(s: &str) -> Option<u32> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        s.parse().ok()
    }
}

fn is_non_answer(v: &str) -> bool {
    matches!(v, "Irrelevant" | "NotUnderstood" | "Reject")
}

impl Negotiated {
    /// The parameters from the keys we offered and the target's answers (all stages).
    pub fn from_keys(
        offered: &[(String, String)],
        answered: &[(String, String)],
    ) -> Result<Self, Error> {
        let mut n = Negotiated::default();
        let answer = |k: &str| key_value(answered, k).filter(|v| !is_non_answer(v));
        let number = |k: &str, dflt: u32| -> Result<u32, Error> {
            match answer(k) {
                None => Ok(dflt),
                Some(v) => parse_number(v)
                    .ok_or_else(|| Error::Negotiation(format!("{k}={v} is not a number"))),
            }
        };
        let boolean = |k: &str, dflt: bool| -> Result<bool, Error> {
            match answer(k) {
                None => Ok(dflt),
                Some("Yes") => Ok(true),
                Some("No") => Ok(false),
                Some(v) => Err(Error::Negotiation(format!("{k}={v} is not Yes or No"))),
            }
        };
        let digest = |k: &str| -> Result<bool, Error> {
            match answer(k) {
                None | Some("None") => Ok(false),
                Some("CRC32C") => Ok(true),
                Some(v) => Err(Error::Negotiation(format!("{k}={v}: unknown digest"))),
            }
        };
        n.header_digest = digest("HeaderDigest")?;
        n.data_digest = digest("DataDigest")?;
        n.target_max_recv_data_segment_length = number("MaxRecvDataSegmentLength", 8192)?;
        n.initiator_max_recv_data_segment_length =
            match key_value(offered, "MaxRecvDataSegmentLength") {
                None => 8192,
                Some(v) => parse_number(v).ok_or_else(|| {
                    Error::Negotiation(format!(
                        "offered MaxRecvDataSegmentLength={v} is not a number"
                    ))
                })?,
            };
        n.initial_r2t = boolean("InitialR2T", true)?;
        n.immediate_data = boolean("ImmediateData", true)?;
        n.first_burst_length = number("FirstBurstLength", 65536)?;
        n.max_burst_length = number("MaxBurstLength", 262_144)?;
        n.max_outstanding_r2t = number("MaxOutstandingR2T", 1)?;
        n.data_pdu_in_order = boolean("DataPDUInOrder", true)?;
        n.data_sequence_in_order = boolean("DataSequenceInOrder", true)?;
        n.error_recovery_level = number("ErrorRecoveryLevel", 0)?;
        if n.target_max_recv_data_segment_length < 512 {
            return Err(Error::Negotiation(format!(
                "target MaxRecvDataSegmentLength {} < 512",
                n.target_max_recv_data_segment_length
            )));
        }
        if n.max_burst_length < 512 || n.first_burst_length < 512 {
            return Err(Error::Negotiation(format!(
                "burst lengths below 512: FirstBurstLength {} MaxBurstLength {}",
                n.first_burst_length, n.max_burst_length
            )));
        }
        Ok(n)
    }
}

/// How a login ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginOutcome {
    /// Status-Class of the last Login Response (0 = success).
    pub status_class: u8,
    /// Status-Detail of the last Login Response.
    pub status_detail: u8,
    /// Every key the target sent, in order, over all stages.
    pub keys: Keys,
    /// The TSIH the target assigned (last Login Response).
    pub tsih: u16,
    /// Whether the connection reached the full feature phase.
    pub full_feature: bool,
    /// The parameters in force (meaningful when `full_feature`).
    pub negotiated: Negotiated,
    /// Version-max of the last Login Response.
    pub version_max: u8,
    /// Version-active of the last Login Response.
    pub version_active: u8,
    /// Number of Login Responses received.
    pub responses: usize,
}

impl LoginOutcome {
    /// Status class 0 and full feature phase reached.
    pub fn succeeded(&self) -> bool {
        self.status_class == 0 && self.full_feature
    }

    /// The last value the target sent for `key`.
    pub fn key(&self, key: &str) -> Option<&str> {
        key_value(&self.keys, key)
    }

    /// `Ok(self)` if the login succeeded, [`Error::LoginFailed`] otherwise.
    pub fn into_success(self) -> Result<Self, Error> {
        if self.succeeded() {
            Ok(self)
        } else {
            Err(Error::LoginFailed {
                class: self.status_class,
                detail: self.status_detail,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Results of full-feature requests

/// A target found by SendTargets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveredTarget {
    /// TargetName.
    pub name: String,
    /// Its TargetAddress values (`host:port,tpgt`).
    pub addresses: Vec<String>,
}

/// The answer to a text request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextReply {
    /// The keys of every Text Response, concatenated and decoded.
    pub keys: Keys,
    /// The number of Text Response PDUs (more than one when the target continued).
    pub pdus: usize,
}

impl TextReply {
    /// SendTargets answer grouped by TargetName.
    pub fn targets(&self) -> Vec<DiscoveredTarget> {
        let mut out: Vec<DiscoveredTarget> = Vec::new();
        for (k, v) in &self.keys {
            if k == "TargetName" {
                out.push(DiscoveredTarget {
                    name: v.clone(),
                    addresses: Vec::new(),
                });
            } else if k == "TargetAddress" {
                if let Some(t) = out.last_mut() {
                    t.addresses.push(v.clone());
                }
            }
        }
        out
    }
}

/// A Logout Response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogoutResponse {
    /// Response (byte 2): 0 = closed successfully.
    pub response: u8,
    /// Time2Wait.
    pub time2wait: u16,
    /// Time2Retain.
    pub time2retain: u16,
}

/// How a SCSI command ended, with counters of what went over the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScsiResult {
    /// iSCSI response code (0 = command completed at target).
    pub response: u8,
    /// SCSI status.
    pub status: u8,
    /// Sense data (without the 2-byte SenseLength).
    pub sense: Vec<u8>,
    /// Data-In received, up to the highest byte the target sent.
    pub data: Vec<u8>,
    /// Residual count when the U bit was set.
    pub residual_underflow: Option<u32>,
    /// Residual count when the O bit was set.
    pub residual_overflow: Option<u32>,
    /// The status came in the last Data-In (S bit) rather than a SCSI Response.
    pub status_in_data_in: bool,
    /// Data-In PDUs received.
    pub data_in_pdus: usize,
    /// R2Ts received.
    pub r2ts: usize,
    /// Largest Desired Data Transfer Length of an R2T.
    pub largest_r2t: u32,
    /// Data-Out PDUs sent (solicited and unsolicited).
    pub data_out_pdus: usize,
    /// Bytes sent as immediate data in the command PDU.
    pub immediate_bytes: usize,
    /// Bytes sent in unsolicited Data-Out PDUs.
    pub unsolicited_bytes: usize,
    /// Bytes sent in Data-Out PDUs answering R2Ts.
    pub solicited_bytes: usize,
}

impl ScsiResult {
    /// iSCSI response 0 and status GOOD.
    pub fn is_good(&self) -> bool {
        self.response == 0 && self.status == STATUS_GOOD
    }

    /// The sense key, from fixed (0x70/0x71) or descriptor (0x72/0x73) sense data.
    pub fn sense_key(&self) -> Option<u8> {
        match self.sense.first().map(|b| b & 0x7f) {
            Some(0x70 | 0x71) => self.sense.get(2).map(|b| b & 0x0f),
            Some(0x72 | 0x73) => self.sense.get(1).map(|b| b & 0x0f),
            _ => None,
        }
    }

    /// The additional sense code and qualifier.
    pub fn asc_ascq(&self) -> Option<(u8, u8)> {
        match self.sense.first().map(|b| b & 0x7f) {
            Some(0x70 | 0x71) => Some((*self.sense.get(12)?, *self.sense.get(13)?)),
            Some(0x72 | 0x73) => Some((*self.sense.get(2)?, *self.sense.get(3)?)),
            _ => None,
        }
    }

    /// `Ok(self)` when GOOD, [`Error::ScsiStatus`] otherwise.
    pub fn into_good(self) -> Result<Self, Error> {
        if self.is_good() {
            Ok(self)
        } else {
            Err(Error::ScsiStatus {
                status: self.status,
                response: self.response,
                sense: self.sense,
            })
        }
    }
}

/// CDBs of the convenience helpers.
pub mod cdb {
    /// INQUIRY (standard data) with this allocation length.
    pub fn inquiry(alloc_len: u16) -> [u8; 6] {
        let [h, l] = alloc_len.to_be_bytes();
        [0x12, 0, 0, h, l, 0]
    }

    /// TEST UNIT READY.
    pub fn test_unit_ready() -> [u8; 6] {
        [0; 6]
    }

    /// READ CAPACITY(16) (SERVICE ACTION IN(16), service action 0x10).
    pub fn read_capacity16(alloc_len: u32) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[0] = 0x9e;
        c[1] = 0x10;
        c[10..14].copy_from_slice(&alloc_len.to_be_bytes());
        c
    }

    /// READ(10).
    pub fn read10(lba: u32, blocks: u16) -> [u8; 10] {
        let mut c = [0u8; 10];
        c[0] = 0x28;
        c[2..6].copy_from_slice(&lba.to_be_bytes());
        c[7..9].copy_from_slice(&blocks.to_be_bytes());
        c
    }

    /// WRITE(10).
    pub fn write10(lba: u32, blocks: u16) -> [u8; 10] {
        let mut c = read10(lba, blocks);
        c[0] = 0x2a;
        c
    }

    /// REPORT LUNS (select report 0).
    pub fn report_luns(alloc_len: u32) -> [u8; 12] {
        let mut c = [0u8; 12];
        c[0] = 0xa0;
        c[6..10].copy_from_slice(&alloc_len.to_be_bytes());
        c
    }
}

/// (last LBA, block length) from READ CAPACITY(16) data.
pub fn parse_read_capacity16(data: &[u8]) -> Option<(u64, u32)> {
    let lba = u64::from_be_bytes(data.get(0..8)?.try_into().ok()?);
    let bl = u32::from_be_bytes(data.get(8..12)?.try_into().ok()?);
    Some((lba, bl))
}

/// The LUN fields of REPORT LUNS data (as many as the data holds).
pub fn parse_report_luns(data: &[u8]) -> Vec<[u8; 8]> {
    let list_len = data
        .get(0..4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    data.get(8..)
        .unwrap_or(&[])
        .chunks_exact(8)
        .take(list_len / 8)
        .filter_map(|c| c.try_into().ok())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The connection

struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "deadline passed"))?;
        self.stream.set_read_timeout(Some(left))?;
        let mut s = self.stream;
        s.read(buf)
    }
}

/// `a` ≤ `b` in serial number arithmetic (RFC 1982, 32 bits).
fn sn_le(a: u32, b: u32) -> bool {
    b.wrapping_sub(a) < 0x8000_0000
}

/// One TCP connection to a target and the session state of this initiator.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    digests: Digests,
    recv_limit: usize,
    isid: [u8; 6],
    tsih: u16,
    cid: u16,
    cmdsn: u32,
    exp_statsn: u32,
    statsn_known: bool,
    exp_cmdsn: u32,
    max_cmdsn: u32,
    next_itt: u32,
    negotiated: Negotiated,
    full_feature: bool,
    async_messages: Vec<Pdu>,
}

const MAX_LOGIN_ROUNDS: usize = 16;
const MAX_TEXT_ROUNDS: usize = 4096;

impl Connection {
    /// Connects with `timeout` for the connect and, afterwards, for every send and every
    /// receive (a receive of one PDU must complete within it).
    pub fn connect<A: ToSocketAddrs>(addr: A, timeout: Duration) -> Result<Self, Error> {
        let addrs = addr
            .to_socket_addrs()
            .map_err(|e| io_error(e, "resolving the target address", timeout))?;
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, timeout) {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .and_then(|()| stream.set_write_timeout(Some(timeout)))
                        .and_then(|()| stream.set_read_timeout(Some(timeout)))
                        .map_err(|e| io_error(e, "configuring the socket", timeout))?;
                    return Ok(Connection {
                        stream,
                        peer: a,
                        timeout,
                        digests: Digests::default(),
                        recv_limit: LOGIN_MAX_RECV_DATA_SEGMENT_LENGTH,
                        isid: fresh_isid(),
                        tsih: 0,
                        cid: 0,
                        cmdsn: 1,
                        exp_statsn: 0,
                        statsn_known: false,
                        exp_cmdsn: 1,
                        max_cmdsn: 1,
                        next_itt: 1,
                        negotiated: Negotiated::default(),
                        full_feature: false,
                        async_messages: Vec::new(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => io_error(e, "connecting", timeout),
            None => Error::Encode("the address resolved to nothing".to_owned()),
        })
    }

    /// The target's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The per-operation timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Changes the per-operation timeout.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<(), Error> {
        self.stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| io_error(e, "setting the write timeout", timeout))?;
        self.timeout = timeout;
        Ok(())
    }

    /// The digests in force (set by a successful login).
    pub fn digests(&self) -> Digests {
        self.digests
    }

    /// Forces the digests used by [`Connection::send_pdu`] and [`Connection::recv_pdu`].
    pub fn set_digests(&mut self, digests: Digests) {
        self.digests = digests;
    }

    /// The largest data segment [`Connection::recv_pdu`] accepts (8192 during login, then
    /// the MaxRecvDataSegmentLength we declared).
    pub fn recv_limit(&self) -> usize {
        self.recv_limit
    }

    /// Changes the largest data segment accepted.
    pub fn set_recv_limit(&mut self, limit: usize) {
        self.recv_limit = limit;
    }

    /// The parameters negotiated at login.
    pub fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// Whether the connection is in the full feature phase.
    pub fn is_full_feature(&self) -> bool {
        self.full_feature
    }

    /// The ISID of the session.
    pub fn isid(&self) -> [u8; 6] {
        self.isid
    }

    /// The TSIH of the session (0 before login).
    pub fn tsih(&self) -> u16 {
        self.tsih
    }

    /// The CmdSN the next non-immediate command will carry.
    pub fn cmdsn(&self) -> u32 {
        self.cmdsn
    }

    /// The ExpStatSN the next PDU will carry.
    pub fn exp_statsn(&self) -> u32 {
        self.exp_statsn
    }

    /// ExpCmdSN and MaxCmdSN from the target's last PDU.
    pub fn command_window(&self) -> (u32, u32) {
        (self.exp_cmdsn, self.max_cmdsn)
    }

    /// Asynchronous Messages received while waiting for something else.
    pub fn async_messages(&self) -> &[Pdu] {
        &self.async_messages
    }

    /// A new Initiator Task Tag (never 0xffffffff).
    pub fn alloc_itt(&mut self) -> u32 {
        let itt = self.next_itt;
        self.next_itt = self.next_itt.wrapping_add(1);
        if self.next_itt == RESERVED_TAG {
            self.next_itt = 1;
        }
        itt
    }

    /// Sends raw bytes (hand-made PDUs, truncated or over-long ones).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let t = self.timeout;
        (&self.stream)
            .write_all(bytes)
            .map_err(|e| io_error(e, "sending", t))
    }

    /// Encodes `pdu` with the digests in force and sends it.
    pub fn send_pdu(&mut self, pdu: &Pdu) -> Result<(), Error> {
        let bytes = pdu.encode(self.digests)?;
        self.send_bytes(&bytes)
    }

    /// Receives one PDU within the timeout, checking digests and the data segment limit. It
    /// does not interpret the PDU (raw access for bad-input tests).
    pub fn recv_pdu(&mut self) -> Result<Pdu, Error> {
        let mut r = DeadlineReader {
            stream: &self.stream,
            deadline: Instant::now() + self.timeout,
        };
        read_pdu(&mut r, self.digests, self.recv_limit, self.timeout)
    }

    /// Sends hand-made bytes and returns the next PDU (or the error, e.g. [`Error::Closed`]).
    pub fn raw_exchange(&mut self, bytes: &[u8]) -> Result<Pdu, Error> {
        self.send_bytes(bytes)?;
        self.recv_pdu()
    }

    /// Records ExpCmdSN/MaxCmdSN of a target PDU and, when `consumes_statsn`, checks that its
    /// StatSN is the next one.
    fn note_target_pdu(&mut self, pdu: &Pdu, consumes_statsn: bool) -> Result<(), Error> {
        let (exp, max) = (pdu.sn28(), pdu.max_cmdsn());
        // RFC 3720 §3.2.2.1: a MaxCmdSN below ExpCmdSN - 1 is ignored, as are stale values.
        if sn_le(exp.wrapping_sub(1), max) {
            if sn_le(self.exp_cmdsn, exp) {
                self.exp_cmdsn = exp;
            }
            if sn_le(self.max_cmdsn, max) || !self.statsn_known {
                self.max_cmdsn = max;
            }
        }
        if consumes_statsn {
            let statsn = pdu.sn24();
            if self.statsn_known && statsn != self.exp_statsn {
                return Err(Error::StatSn {
                    expected: self.exp_statsn,
                    received: statsn,
                });
            }
            self.exp_statsn = statsn.wrapping_add(1);
            self.statsn_known = true;
        }
        Ok(())
    }

    fn check_window(&self) -> Result<(), Error> {
        if sn_le(self.cmdsn, self.max_cmdsn) {
            Ok(())
        } else {
            Err(Error::Protocol(format!(
                "command window closed: CmdSN {} > MaxCmdSN {}",
                self.cmdsn, self.max_cmdsn
            )))
        }
    }

    // --- login -----------------------------------------------------------------------------

    fn login_request(
        &self,
        itt: u32,
        csg: u8,
        nsg: u8,
        transit: bool,
        cont: bool,
        data: &[u8],
    ) -> Pdu {
        LoginRequest {
            transit,
            cont,
            csg,
            nsg,
            version_max: 0,
            version_min: 0,
            isid: self.isid,
            tsih: self.tsih,
            itt,
            cid: self.cid,
            cmdsn: self.cmdsn,
            exp_statsn: self.exp_statsn,
            data: data.to_vec(),
        }
        .to_pdu()
    }

    fn recv_login_response(&mut self, itt: u32) -> Result<Pdu, Error> {
        let resp = self.recv_pdu()?;
        match resp.opcode() {
            op::LOGIN_RSP => {}
            op::REJECT => {
                return Err(Error::Rejected {
                    reason: resp.bhs[2],
                    header: resp.data,
                })
            }
            other => {
                return Err(Error::UnexpectedPdu {
                    expected: "Login Response",
                    opcode: other,
                })
            }
        }
        if resp.itt() != itt {
            return Err(Error::WrongItt {
                expected: itt,
                received: resp.itt(),
            });
        }
        let ok = resp.status_class() == 0;
        self.note_target_pdu(&resp, ok)?;
        if ok && resp.bhs[8..14] != self.isid {
            return Err(Error::Protocol(format!(
                "Login Response ISID {:02x?}, ours {:02x?}",
                &resp.bhs[8..14],
                self.isid
            )));
        }
        Ok(resp)
    }

    /// One login round: the request text (split into C-bit continuations above 8192 bytes),
    /// then the response text (asking for continuations while the target sets C).
    fn login_round(
        &mut self,
        itt: u32,
        csg: u8,
        nsg: u8,
        text: &[u8],
        responses: &mut usize,
    ) -> Result<(Pdu, Vec<u8>), Error> {
        let chunks: Vec<&[u8]> = if text.is_empty() {
            vec![&[][..]]
        } else {
            text.chunks(LOGIN_MAX_RECV_DATA_SEGMENT_LENGTH).collect()
        };
        let n = chunks.len();
        let mut resp = None;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let last = i + 1 == n;
            let req = self.login_request(itt, csg, nsg, last, !last, chunk);
            self.send_pdu(&req)?;
            let r = self.recv_login_response(itt)?;
            *responses += 1;
            if !last && (r.status_class() != 0 || !r.data.is_empty()) {
                let data = r.data.clone();
                return Ok((r, data));
            }
            resp = Some(r);
        }
        let mut resp = resp.ok_or_else(|| Error::Encode("empty login round".to_owned()))?;
        let mut text = resp.data.clone();
        let mut rounds = 0;
        while resp.flags() & LOGIN_CONTINUE != 0 && resp.status_class() == 0 {
            if resp.flags() & LOGIN_TRANSIT != 0 {
                return Err(Error::Protocol(
                    "Login Response with both T and C set".to_owned(),
                ));
            }
            rounds += 1;
            if rounds > MAX_TEXT_ROUNDS {
                return Err(Error::Protocol(
                    "endless Login Response continuation".to_owned(),
                ));
            }
            let req = self.login_request(itt, csg, nsg, false, false, &[]);
            self.send_pdu(&req)?;
            resp = self.recv_login_response(itt)?;
            *responses += 1;
            text.extend_from_slice(&resp.data);
        }
        Ok((resp, text))
    }

    /// Logs in: the security stage with `params.security_keys` (asking to go to the
    /// operational stage), then the operational stage with `params.operational_keys` (asking
    /// for the full feature phase), repeating a stage with no keys while the target does not
    /// transit. A non-zero status class ends the login and is returned in the outcome (not as
    /// an error). On success the negotiated digests and data segment limits take effect.
    pub fn login(&mut self, params: &LoginParams) -> Result<LoginOutcome, Error> {
        self.isid = params.isid;
        self.tsih = params.tsih;
        self.cid = params.cid;
        self.cmdsn = params.cmdsn;
        self.exp_cmdsn = params.cmdsn;
        self.max_cmdsn = params.cmdsn;
        self.digests = Digests::default();
        self.recv_limit = LOGIN_MAX_RECV_DATA_SEGMENT_LENGTH;
        self.full_feature = false;
        let itt = self.alloc_itt();
        let mut outcome = LoginOutcome::default();
        let mut stage = STAGE_SECURITY;
        let mut text = encode_text(&params.security_keys)?;
        for _ in 0..MAX_LOGIN_ROUNDS {
            let nsg = if stage == STAGE_SECURITY {
                STAGE_OPERATIONAL
            } else {
                STAGE_FULL_FEATURE
            };
            let (resp, rtext) = self.login_round(itt, stage, nsg, &text, &mut outcome.responses)?;
            outcome.status_class = resp.status_class();
            outcome.status_detail = resp.status_detail();
            outcome.version_max = resp.bhs[2];
            outcome.version_active = resp.bhs[3];
            outcome.tsih = be16(&resp.bhs, 14);
            outcome.keys.extend(decode_text(&rtext)?);
            if outcome.status_class != 0 {
                return Ok(outcome);
            }
            if resp.csg() != stage {
                return Err(Error::Protocol(format!(
                    "Login Response CSG {} in stage {stage}",
                    resp.csg()
                )));
            }
            if resp.flags() & LOGIN_TRANSIT == 0 {
                text.clear();
                continue;
            }
            if resp.nsg() != nsg {
                return Err(Error::Protocol(format!(
                    "Login Response NSG {} (we asked for {nsg})",
                    resp.nsg()
                )));
            }
            if nsg == STAGE_FULL_FEATURE {
                if resp.bhs[3] != 0 {
                    return Err(Error::Protocol(format!(
                        "Version-active {} (we speak 0)",
                        resp.bhs[3]
                    )));
                }
                if outcome.tsih == 0 {
                    return Err(Error::Protocol(
                        "final Login Response with TSIH 0".to_owned(),
                    ));
                }
                let mut offered = params.security_keys.clone();
                offered.extend(params.operational_keys.iter().cloned());
                let n = Negotiated::from_keys(&offered, &outcome.keys)?;
                self.tsih = outcome.tsih;
                self.negotiated = n;
                self.digests = Digests {
                    header: n.header_digest,
                    data: n.data_digest,
                };
                self.recv_limit = n.initiator_max_recv_data_segment_length as usize;
                self.full_feature = true;
                outcome.negotiated = n;
                outcome.full_feature = true;
                return Ok(outcome);
            }
            stage = STAGE_OPERATIONAL;
            text = encode_text(&params.operational_keys)?;
        }
        Err(Error::Protocol(format!(
            "login not finished after {MAX_LOGIN_ROUNDS} rounds"
        )))
    }

    // --- full feature phase ---------------------------------------------------------------

    /// Receives the next PDU for task `itt`, answering target NOP-In pings and keeping Async
    /// Messages on the way; a Reject becomes [`Error::Rejected`].
    fn recv_for(&mut self, itt: u32) -> Result<Pdu, Error> {
        loop {
            let pdu = self.recv_pdu()?;
            match pdu.opcode() {
                op::NOP_IN if pdu.itt() == RESERVED_TAG => {
                    self.note_target_pdu(&pdu, false)?;
                    if pdu.ttt() != RESERVED_TAG {
                        let mut out = Pdu::new(op::NOP_OUT);
                        out.bhs[0] |= FLAG_IMMEDIATE;
                        out.bhs[1] = FLAG_FINAL;
                        out.bhs[8..16].copy_from_slice(&pdu.bhs[8..16]);
                        put32(&mut out.bhs, 16, RESERVED_TAG);
                        put32(&mut out.bhs, 20, pdu.ttt());
                        put32(&mut out.bhs, 24, self.cmdsn);
                        put32(&mut out.bhs, 28, self.exp_statsn);
                        self.send_pdu(&out)?;
                    }
                }
                op::ASYNC_MSG => {
                    self.note_target_pdu(&pdu, false)?;
                    self.async_messages.push(pdu);
                }
                op::REJECT => {
                    // RFC 7143 §11.17.1: "The StatSN is advanced after a Reject."
                    self.note_target_pdu(&pdu, true)?;
                    return Err(Error::Rejected {
                        reason: pdu.bhs[2],
                        header: pdu.data,
                    });
                }
                _ if pdu.itt() != itt => {
                    return Err(Error::WrongItt {
                        expected: itt,
                        received: pdu.itt(),
                    })
                }
                _ => return Ok(pdu),
            }
        }
    }

    fn require_full_feature(&self, what: &str) -> Result<(), Error> {
        if self.full_feature {
            Ok(())
        } else {
            Err(Error::Encode(format!(
                "{what} needs the full feature phase"
            )))
        }
    }

    /// A Text Request with `keys`, following continuations (the target's TTT) until the final
    /// Text Response. The requests are immediate (as open-iscsi sends them), so they do not
    /// need the command window: tgt, for one, never reopens it in a discovery session.
    pub fn text_request<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        keys: &[(K, V)],
    ) -> Result<TextReply, Error> {
        self.require_full_feature("a Text Request")?;
        let mut data = encode_text(keys)?;
        let itt = self.alloc_itt();
        let mut ttt = RESERVED_TAG;
        let mut text = Vec::new();
        let mut pdus = 0;
        loop {
            if pdus >= MAX_TEXT_ROUNDS {
                return Err(Error::Protocol(
                    "endless Text Response continuation".to_owned(),
                ));
            }
            let mut req = Pdu::new(op::TEXT_REQ);
            req.bhs[0] |= FLAG_IMMEDIATE;
            req.bhs[1] = FLAG_FINAL;
            put32(&mut req.bhs, 16, itt);
            put32(&mut req.bhs, 20, ttt);
            put32(&mut req.bhs, 24, self.cmdsn);
            put32(&mut req.bhs, 28, self.exp_statsn);
            req.data = std::mem::take(&mut data);
            self.send_pdu(&req)?;
            let resp = self.recv_for(itt)?;
            if resp.opcode() != op::TEXT_RSP {
                return Err(Error::UnexpectedPdu {
                    expected: "Text Response",
                    opcode: resp.opcode(),
                });
            }
            self.note_target_pdu(&resp, true)?;
            pdus += 1;
            text.extend_from_slice(&resp.data);
            let (f, c) = (resp.final_bit(), resp.flags() & TEXT_CONTINUE != 0);
            if f && c {
                return Err(Error::Protocol(
                    "Text Response with both F and C set".to_owned(),
                ));
            }
            if f {
                if resp.ttt() != RESERVED_TAG {
                    return Err(Error::Protocol(format!(
                        "final Text Response with TTT {:#010x}",
                        resp.ttt()
                    )));
                }
                break;
            }
            if resp.ttt() == RESERVED_TAG {
                return Err(Error::Protocol(
                    "non-final Text Response without a TTT to continue".to_owned(),
                ));
            }
            ttt = resp.ttt();
        }
        Ok(TextReply {
            keys: decode_text(&text)?,
            pdus,
        })
    }

    /// `SendTargets=All`, grouped by target.
    pub fn send_targets(&mut self) -> Result<(TextReply, Vec<DiscoveredTarget>), Error> {
        let reply = self.text_request(&[("SendTargets", "All")])?;
        let targets = reply.targets();
        Ok((reply, targets))
    }

    /// An immediate NOP-Out carrying `data`, expecting a NOP-In with the same ITT, TTT
    /// 0xffffffff and the data echoed.
    pub fn nop_out(&mut self, data: &[u8]) -> Result<(), Error> {
        self.require_full_feature("a NOP-Out")?;
        let itt = self.alloc_itt();
        let mut req = Pdu::new(op::NOP_OUT);
        req.bhs[0] |= FLAG_IMMEDIATE;
        req.bhs[1] = FLAG_FINAL;
        put32(&mut req.bhs, 16, itt);
        put32(&mut req.bhs, 20, RESERVED_TAG);
        put32(&mut req.bhs, 24, self.cmdsn);
        put32(&mut req.bhs, 28, self.exp_statsn);
        req.data = data.to_vec();
        self.send_pdu(&req)?;
        let resp = self.recv_for(itt)?;
        if resp.opcode() != op::NOP_IN {
            return Err(Error::UnexpectedPdu {
                expected: "NOP-In",
                opcode: resp.opcode(),
            });
        }
        self.note_target_pdu(&resp, true)?;
        if resp.ttt() != RESERVED_TAG {
            return Err(Error::Protocol(format!(
                "NOP-In answer with TTT {:#010x}",
                resp.ttt()
            )));
        }
        if resp.data != data {
            return Err(Error::Protocol(format!(
                "NOP-In echoed {} bytes that differ from the {} sent",
                resp.data.len(),
                data.len()
            )));
        }
        Ok(())
    }

    /// Sends a SCSI Command PDU without data and without waiting for anything (for task
    /// management tests: the command is left outstanding); returns its ITT and CmdSN. `write`
    /// sets the W bit with `edtl` bytes to write (none are sent).
    pub fn send_scsi_command_only(
        &mut self,
        cdb: &[u8],
        lun: u16,
        write: bool,
        edtl: u32,
    ) -> Result<(u32, u32), Error> {
        self.require_full_feature("a SCSI Command")?;
        if cdb.is_empty() || cdb.len() > 16 {
            return Err(Error::Encode(format!("CDB of {} bytes", cdb.len())));
        }
        let itt = self.alloc_itt();
        let mut cmd = Pdu::new(op::SCSI_CMD);
        cmd.bhs[1] = FLAG_FINAL | CMD_ATTR_SIMPLE | if write { CMD_WRITE } else { 0 };
        cmd.bhs[8..16].copy_from_slice(&encode_lun(lun)?);
        put32(&mut cmd.bhs, 16, itt);
        put32(&mut cmd.bhs, 20, edtl);
        put32(&mut cmd.bhs, 24, self.cmdsn);
        put32(&mut cmd.bhs, 28, self.exp_statsn);
        cmd.bhs[32..32 + cdb.len()].copy_from_slice(cdb);
        self.check_window()?;
        self.send_pdu(&cmd)?;
        let sn = self.cmdsn;
        self.cmdsn = self.cmdsn.wrapping_add(1);
        Ok((itt, sn))
    }

    /// An immediate Task Management Function Request (RFC 3720 §10.5) with `function` (1 =
    /// ABORT TASK … 8 = TASK REASSIGN), `lun`, Referenced Task Tag `rtt` (0xffffffff for the
    /// functions without one) and `ref_cmdsn`, expecting the Task Management Function
    /// Response with its ITT; returns its Response byte (0 = function complete, 1 = task does
    /// not exist, 2 = LUN does not exist, 4 = reassignment not supported, 5 = not supported,
    /// 255 = rejected).
    pub fn task_management(
        &mut self,
        function: u8,
        lun: u16,
        rtt: u32,
        ref_cmdsn: u32,
    ) -> Result<u8, Error> {
        self.require_full_feature("a Task Management Request")?;
        let itt = self.alloc_itt();
        let mut req = Pdu::new(op::TASK_MGMT_REQ);
        req.bhs[0] |= FLAG_IMMEDIATE;
        req.bhs[1] = FLAG_FINAL | (function & 0x7f);
        req.bhs[8..16].copy_from_slice(&encode_lun(lun)?);
        put32(&mut req.bhs, 16, itt);
        put32(&mut req.bhs, 20, rtt);
        put32(&mut req.bhs, 24, self.cmdsn);
        put32(&mut req.bhs, 28, self.exp_statsn);
        put32(&mut req.bhs, 32, ref_cmdsn);
        self.send_pdu(&req)?;
        let resp = self.recv_for(itt)?;
        if resp.opcode() != op::TASK_MGMT_RSP {
            return Err(Error::UnexpectedPdu {
                expected: "Task Management Response",
                opcode: resp.opcode(),
            });
        }
        self.note_target_pdu(&resp, true)?;
        if !resp.final_bit() {
            return Err(Error::Protocol(
                "Task Management Response without F bit".to_owned(),
            ));
        }
        Ok(resp.bhs[2])
    }

    /// Logout with reason "close the session".
    pub fn logout(&mut self) -> Result<LogoutResponse, Error> {
        self.logout_with_reason(LOGOUT_CLOSE_SESSION)
    }

    /// An immediate Logout Request with this reason code.
    pub fn logout_with_reason(&mut self, reason: u8) -> Result<LogoutResponse, Error> {
        self.require_full_feature("a Logout Request")?;
        let itt = self.alloc_itt();
        let mut req = Pdu::new(op::LOGOUT_REQ);
        req.bhs[0] |= FLAG_IMMEDIATE;
        req.bhs[1] = FLAG_FINAL | (reason & 0x7f);
        put32(&mut req.bhs, 16, itt);
        put16(&mut req.bhs, 20, self.cid);
        put32(&mut req.bhs, 24, self.cmdsn);
        put32(&mut req.bhs, 28, self.exp_statsn);
        self.send_pdu(&req)?;
        let resp = self.recv_for(itt)?;
        if resp.opcode() != op::LOGOUT_RSP {
            return Err(Error::UnexpectedPdu {
                expected: "Logout Response",
                opcode: resp.opcode(),
            });
        }
        self.note_target_pdu(&resp, true)?;
        self.full_feature = false;
        Ok(LogoutResponse {
            response: resp.bhs[2],
            time2wait: be16(&resp.bhs, 40),
            time2retain: be16(&resp.bhs, 42),
        })
    }

    /// Sends `data[start..end]` as one Data-Out sequence (DataSN from 0, F on the last PDU),
    /// each PDU within the target's MaxRecvDataSegmentLength. Returns the PDU count.
    fn send_data_out_sequence(
        &mut self,
        itt: u32,
        lun: [u8; 8],
        ttt: u32,
        data: &[u8],
        start: usize,
        end: usize,
    ) -> Result<usize, Error> {
        let mrdsl = self.negotiated.target_max_recv_data_segment_length as usize;
        let mut off = start;
        let mut datasn: u32 = 0;
        let mut pdus = 0;
        while off < end {
            let n = mrdsl.min(end - off);
            let mut p = Pdu::new(op::DATA_OUT);
            p.bhs[1] = if off + n == end { FLAG_FINAL } else { 0 };
            p.bhs[8..16].copy_from_slice(&lun);
            put32(&mut p.bhs, 16, itt);
            put32(&mut p.bhs, 20, ttt);
            put32(&mut p.bhs, 28, self.exp_statsn);
            put32(&mut p.bhs, 36, datasn);
            put32(&mut p.bhs, 40, usize_to_u32(off, "buffer offset")?);
            p.data = data[off..off + n].to_vec();
            self.send_pdu(&p)?;
            datasn = datasn.wrapping_add(1);
            off += n;
            pdus += 1;
        }
        Ok(pdus)
    }

    /// Runs one SCSI command to completion on `lun`: `data_out` is written (immediate data and
    /// unsolicited Data-Out as negotiated, then Data-Out answering each R2T), up to
    /// `expected_in_len` bytes are read (Data-In, with or without status collapse). CDBs over
    /// 16 bytes go in an Extended CDB AHS; a command with both directions carries the
    /// Bidirectional Read Expected Data Transfer Length AHS. The status, sense and data come
    /// back in the result whatever the status; target protocol violations are errors.
    pub fn scsi_command(
        &mut self,
        cdb: &[u8],
        lun: u16,
        data_out: Option<&[u8]>,
        expected_in_len: u32,
    ) -> Result<ScsiResult, Error> {
        self.require_full_feature("a SCSI Command")?;
        if cdb.is_empty() || cdb.len() > 16 + 1019 {
            return Err(Error::Encode(format!("CDB of {} bytes", cdb.len())));
        }
        let out = data_out.unwrap_or(&[]);
        let write = !out.is_empty();
        let read = expected_in_len > 0;
        let lun_bytes = encode_lun(lun)?;
        let neg = self.negotiated;
        let itt = self.alloc_itt();

        let mut cmd = Pdu::new(op::SCSI_CMD);
        cmd.bhs[1] = FLAG_FINAL
            | CMD_ATTR_SIMPLE
            | (if read { CMD_READ } else { 0 })
            | (if write { CMD_WRITE } else { 0 });
        cmd.bhs[8..16].copy_from_slice(&lun_bytes);
        put32(&mut cmd.bhs, 16, itt);
        let edtl = if write {
            usize_to_u32(out.len(), "write length")?
        } else {
            expected_in_len
        };
        put32(&mut cmd.bhs, 20, edtl);
        put32(&mut cmd.bhs, 24, self.cmdsn);
        put32(&mut cmd.bhs, 28, self.exp_statsn);
        let head = cdb.len().min(16);
        cmd.bhs[32..32 + head].copy_from_slice(&cdb[..head]);
        if cdb.len() > 16 {
            let ext = &cdb[16..];
            let ahs_len = u16::try_from(ext.len() + 1)
                .map_err(|_| Error::Encode("extended CDB too long".to_owned()))?;
            let mut ahs = Vec::new();
            ahs.extend_from_slice(&ahs_len.to_be_bytes());
            ahs.push(0x01); // AHSType: Extended CDB
            ahs.push(0);
            ahs.extend_from_slice(ext);
            ahs.resize(padded_len(ahs.len()), 0);
            cmd.ahs.extend_from_slice(&ahs);
        }
        if write && read {
            cmd.ahs.extend_from_slice(&[0x00, 0x05, 0x02, 0x00]); // AHSType: Bidi read length
            cmd.ahs.extend_from_slice(&expected_in_len.to_be_bytes());
        }
        let mut result = ScsiResult::default();
        if write && neg.immediate_data {
            let imm = out
                .len()
                .min(neg.first_burst_length as usize)
                .min(neg.target_max_recv_data_segment_length as usize);
            cmd.data = out[..imm].to_vec();
            result.immediate_bytes = imm;
        }
        // F = 0 announces unsolicited Data-Out PDUs after the command (RFC 3720 §10.3.1).
        let unsolicited_end = if write && !neg.initial_r2t {
            out.len().min(neg.first_burst_length as usize)
        } else {
            0
        };
        if result.immediate_bytes < unsolicited_end {
            cmd.bhs[1] &= !FLAG_FINAL;
        }
        self.check_window()?;
        self.send_pdu(&cmd)?;
        self.cmdsn = self.cmdsn.wrapping_add(1);

        // The byte ranges already sent, to catch a target asking for bytes twice (ERL 0).
        let mut sent: Vec<(usize, usize)> = Vec::new();
        if result.immediate_bytes > 0 {
            sent.push((0, result.immediate_bytes));
        }
        {
            let (start, end) = (result.immediate_bytes, unsolicited_end);
            if start < end {
                result.data_out_pdus +=
                    self.send_data_out_sequence(itt, lun_bytes, RESERVED_TAG, out, start, end)?;
                result.unsolicited_bytes = end - start;
                sent.push((start, end));
            }
        }

        let mut data = vec![0u8; expected_in_len as usize];
        let mut data_end = 0usize;
        let mut next_datasn: u32 = 0;
        let mut next_r2tsn: u32 = 0;
        loop {
            let pdu = self.recv_for(itt)?;
            match pdu.opcode() {
                op::DATA_IN => {
                    let status = pdu.flags() & DATA_IN_STATUS != 0;
                    self.note_target_pdu(&pdu, status)?;
                    if !read {
                        return Err(Error::Protocol(
                            "Data-In for a command without R bit".to_owned(),
                        ));
                    }
                    if pdu.sn36() != next_datasn {
                        return Err(Error::Protocol(format!(
                            "Data-In DataSN {}, expected {next_datasn}",
                            pdu.sn36()
                        )));
                    }
                    next_datasn = next_datasn.wrapping_add(1);
                    let off = pdu.buffer_offset() as usize;
                    let end = off + pdu.data.len();
                    if end > data.len() {
                        return Err(Error::Protocol(format!(
                            "Data-In bytes {off}..{end} beyond the expected length {}",
                            data.len()
                        )));
                    }
                    data[off..end].copy_from_slice(&pdu.data);
                    data_end = data_end.max(end);
                    result.data_in_pdus += 1;
                    if status {
                        if !pdu.final_bit() {
                            return Err(Error::Protocol("Data-In with S but not F".to_owned()));
                        }
                        result.status = pdu.bhs[3];
                        result.status_in_data_in = true;
                        Self::residuals(&pdu, &mut result);
                        break;
                    }
                }
                op::R2T => {
                    self.note_target_pdu(&pdu, false)?;
                    if !write {
                        return Err(Error::Protocol(
                            "R2T for a command without W bit".to_owned(),
                        ));
                    }
                    if pdu.sn36() != next_r2tsn {
                        return Err(Error::Protocol(format!(
                            "R2TSN {}, expected {next_r2tsn}",
                            pdu.sn36()
                        )));
                    }
                    next_r2tsn = next_r2tsn.wrapping_add(1);
                    let (off, len) = (pdu.buffer_offset() as usize, pdu.word44());
                    if len == 0 || len > neg.max_burst_length {
                        return Err(Error::Protocol(format!(
                            "R2T for {len} bytes (MaxBurstLength {})",
                            neg.max_burst_length
                        )));
                    }
                    let end = off + len as usize;
                    if end > out.len() {
                        return Err(Error::Protocol(format!(
                            "R2T for bytes {off}..{end} beyond the {} to write",
                            out.len()
                        )));
                    }
                    if pdu.ttt() == RESERVED_TAG {
                        return Err(Error::Protocol("R2T with TTT 0xffffffff".to_owned()));
                    }
                    if let Some((a, b)) = sent.iter().find(|(a, b)| off < *b && *a < end) {
                        return Err(Error::Protocol(format!(
                            "R2T {} asks for bytes {off}..{end}, but {a}..{b} were already sent",
                            pdu.sn36()
                        )));
                    }
                    sent.push((off, end));
                    result.r2ts += 1;
                    result.largest_r2t = result.largest_r2t.max(len);
                    result.data_out_pdus +=
                        self.send_data_out_sequence(itt, lun_bytes, pdu.ttt(), out, off, end)?;
                    result.solicited_bytes += end - off;
                }
                op::SCSI_RSP => {
                    self.note_target_pdu(&pdu, true)?;
                    if !pdu.final_bit() {
                        return Err(Error::Protocol("SCSI Response without F bit".to_owned()));
                    }
                    result.response = pdu.bhs[2];
                    result.status = pdu.bhs[3];
                    Self::residuals(&pdu, &mut result);
                    if pdu.data.len() >= 2 {
                        let sl = usize::from(be16(&pdu.data, 0));
                        let sense = pdu.data.get(2..2 + sl).ok_or_else(|| {
                            Error::Protocol(format!(
                                "SenseLength {sl} exceeds the {}-byte data segment",
                                pdu.data.len()
                            ))
                        })?;
                        result.sense = sense.to_vec();
                    } else if !pdu.data.is_empty() {
                        return Err(Error::Protocol(
                            "1-byte SCSI Response data segment".to_owned(),
                        ));
                    }
                    break;
                }
                other => {
                    return Err(Error::UnexpectedPdu {
                        expected: "Data-In, R2T or SCSI Response",
                        opcode: other,
                    })
                }
            }
        }
        data.truncate(data_end);
        result.data = data;
        Ok(result)
    }

    fn residuals(pdu: &Pdu, result: &mut ScsiResult) {
        let f = pdu.flags();
        if f & RESID_UNDERFLOW != 0 {
            result.residual_underflow = Some(pdu.word44());
        }
        if f & RESID_OVERFLOW != 0 {
            result.residual_overflow = Some(pdu.word44());
        }
    }

    /// TEST UNIT READY.
    pub fn test_unit_ready(&mut self, lun: u16) -> Result<ScsiResult, Error> {
        self.scsi_command(&cdb::test_unit_ready(), lun, None, 0)
    }

    /// Standard INQUIRY data (`alloc_len` bytes at most).
    pub fn inquiry(&mut self, lun: u16, alloc_len: u16) -> Result<ScsiResult, Error> {
        self.scsi_command(&cdb::inquiry(alloc_len), lun, None, u32::from(alloc_len))
    }

    /// READ CAPACITY(16) with a 32-byte allocation length (see [`parse_read_capacity16`]).
    pub fn read_capacity16(&mut self, lun: u16) -> Result<ScsiResult, Error> {
        self.scsi_command(&cdb::read_capacity16(32), lun, None, 32)
    }

    /// READ(10) of `blocks` blocks of `block_size` bytes.
    pub fn read10(
        &mut self,
        lun: u16,
        lba: u32,
        blocks: u16,
        block_size: u32,
    ) -> Result<ScsiResult, Error> {
        let len = u32::from(blocks)
            .checked_mul(block_size)
            .ok_or_else(|| Error::Encode("READ(10) length overflows".to_owned()))?;
        self.scsi_command(&cdb::read10(lba, blocks), lun, None, len)
    }

    /// WRITE(10) of `data`, which must be a whole number (at most 65535) of blocks.
    pub fn write10(
        &mut self,
        lun: u16,
        lba: u32,
        data: &[u8],
        block_size: u32,
    ) -> Result<ScsiResult, Error> {
        let bs = block_size as usize;
        if bs == 0 || !data.len().is_multiple_of(bs) {
            return Err(Error::Encode(format!(
                "{} bytes are not whole blocks of {block_size}",
                data.len()
            )));
        }
        let blocks = u16::try_from(data.len() / bs)
            .map_err(|_| Error::Encode(format!("{} blocks > 65535", data.len() / bs)))?;
        self.scsi_command(&cdb::write10(lba, blocks), lun, Some(data), 0)
    }

    /// REPORT LUNS (sent to LUN 0; see [`parse_report_luns`]).
    pub fn report_luns(&mut self, alloc_len: u32) -> Result<ScsiResult, Error> {
        self.scsi_command(&cdb::report_luns(alloc_len), 0, None, alloc_len)
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn bhs_hex(bhs: &[u8; 48]) -> String {
        bhs.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A hex layout written with spaces and `|` between fields, as plain hex.
    fn squash(layout: &str) -> String {
        layout.chars().filter(|c| c.is_ascii_hexdigit()).collect()
    }

    #[test]
    fn crc32c_rfc3720_b4_vectors() {
        // RFC 3720 Appendix B.4.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0u8; 32]).to_le_bytes(), [0xaa, 0x36, 0x91, 0x8a]);
        assert_eq!(
            crc32c(&[0xffu8; 32]).to_le_bytes(),
            [0x43, 0xab, 0xa8, 0x62]
        );
        let inc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&inc).to_le_bytes(), [0x4e, 0x79, 0xdd, 0x46]);
        let dec: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&dec).to_le_bytes(), [0x5c, 0xdb, 0x3f, 0x11]);
        let read_cmd: [u8; 48] = [
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
            0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(crc32c(&read_cmd).to_le_bytes(), [0x56, 0x3a, 0x96, 0xd9]);
    }

    #[test]
    fn u24_lengths_and_padding() {
        let mut b = [0u8; 8];
        put_u24(&mut b, 5, 0x12_3456).unwrap();
        assert_eq!(&b[5..8], &[0x12, 0x34, 0x56]);
        assert_eq!(be24(&b, 5), 0x12_3456);
        put_u24(&mut b, 5, MAX_DATA_SEGMENT_LENGTH).unwrap();
        assert_eq!(&b[5..8], &[0xff, 0xff, 0xff]);
        assert!(matches!(
            put_u24(&mut b, 5, MAX_DATA_SEGMENT_LENGTH + 1),
            Err(Error::Encode(_))
        ));
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 8, 9].map(padded_len),
            [0, 4, 4, 4, 4, 8, 8, 12]
        );
    }

    #[test]
    fn encode_pads_and_fills_lengths() {
        let mut p = Pdu::new(op::NOP_OUT);
        p.data = vec![1, 2, 3, 4, 5];
        let w = p.encode(Digests::default()).unwrap();
        assert_eq!(w.len(), 48 + 8);
        assert_eq!(&w[4..8], &[0, 0, 0, 5]);
        assert_eq!(&w[48..], &[1, 2, 3, 4, 5, 0, 0, 0]);
        p.ahs = vec![0; 8];
        let w = p.encode(Digests::default()).unwrap();
        assert_eq!(w[4], 2);
        assert_eq!(w.len(), 48 + 8 + 8);
        p.ahs = vec![0; 6];
        assert!(matches!(
            p.encode(Digests::default()),
            Err(Error::Encode(_))
        ));
        // No data digest without data.
        let q = Pdu::new(op::NOP_OUT);
        let w = q
            .encode(Digests {
                header: false,
                data: true,
            })
            .unwrap();
        assert_eq!(w.len(), 48);
    }

    #[test]
    fn digests_on_the_wire_and_checked_on_receive() {
        let mut p = Pdu::new(op::DATA_OUT);
        p.bhs[1] = FLAG_FINAL;
        put32(&mut p.bhs, 16, 0x1234_5678);
        p.data = vec![0xab; 5];
        let d = Digests {
            header: true,
            data: true,
        };
        let w = p.encode(d).unwrap();
        assert_eq!(w.len(), 48 + 4 + 8 + 4);
        assert_eq!(&w[48..52], &crc32c(&w[..48]).to_le_bytes());
        // The data digest covers the three pad bytes.
        let mut padded = vec![0xab; 5];
        padded.extend_from_slice(&[0, 0, 0]);
        assert_eq!(&w[60..64], &crc32c(&padded).to_le_bytes());
        assert_ne!(crc32c(&padded), crc32c(&[0xab; 5]));

        let back = read_pdu(&mut &w[..], d, 8192, Duration::ZERO).unwrap();
        assert_eq!(back.data, p.data);
        assert_eq!(back.itt(), 0x1234_5678);
        assert_eq!(back.data_segment_length(), 5);

        let mut bad = w.clone();
        bad[20] ^= 1;
        assert!(matches!(
            read_pdu(&mut &bad[..], d, 8192, Duration::ZERO),
            Err(Error::HeaderDigest { .. })
        ));
        let mut bad = w.clone();
        bad[57] ^= 1; // a pad byte
        assert!(matches!(
            read_pdu(&mut &bad[..], d, 8192, Duration::ZERO),
            Err(Error::DataDigest { .. })
        ));
        assert!(matches!(
            read_pdu(&mut &w[..], d, 4, Duration::ZERO),
            Err(Error::DataSegmentTooLong { len: 5, limit: 4 })
        ));
        assert!(matches!(
            read_pdu(&mut &w[..30], d, 8192, Duration::ZERO),
            Err(Error::Closed { .. })
        ));
    }

    #[test]
    fn login_request_layout() {
        let req = LoginRequest {
            transit: true,
            cont: false,
            csg: STAGE_OPERATIONAL,
            nsg: STAGE_FULL_FEATURE,
            version_max: 0,
            version_min: 0,
            isid: [0x40, 0x01, 0x02, 0x03, 0x04, 0x05],
            tsih: 0x0a0b,
            itt: 0x1122_3344,
            cid: 0x0102,
            cmdsn: 0x0000_0007,
            exp_statsn: 0x0000_0009,
            data: b"A=B\0".to_vec(),
        };
        let w = req.to_pdu().encode(Digests::default()).unwrap();
        // opcode|I, T|CSG=1|NSG=3, Version-max, Version-min | TotalAHSLength, DSL 4 |
        // ISID | TSIH | ITT | CID | reserved | CmdSN | ExpStatSN | 16 reserved bytes
        let expected_bhs = squash(
            "43 87 00 00 | 00 000004 | 400102030405 | 0a0b | 11223344 | 0102 | 0000 | 00000007 | \
             00000009 | 00000000000000000000000000000000",
        );
        assert_eq!(bhs_hex(w[..48].try_into().unwrap()), expected_bhs);
        assert_eq!(&w[48..], b"A=B\0");
        let c = LoginRequest {
            transit: false,
            cont: true,
            csg: STAGE_SECURITY,
            nsg: STAGE_OPERATIONAL,
            ..req
        };
        assert_eq!(c.to_pdu().bhs[1], 0x41);
    }

    #[test]
    fn login_response_fields() {
        let mut b = [0u8; 48];
        b[0] = 0x23;
        b[1] = 0x87;
        b[3] = 0x00;
        b[8..14].copy_from_slice(&[0x40, 1, 2, 3, 4, 5]);
        b[14..16].copy_from_slice(&[0x00, 0x07]);
        b[16..20].copy_from_slice(&[0, 0, 0, 9]);
        b[24..28].copy_from_slice(&[0, 0, 0, 0x21]); // StatSN
        b[28..32].copy_from_slice(&[0, 0, 0, 0x05]); // ExpCmdSN
        b[32..36].copy_from_slice(&[0, 0, 0, 0x25]); // MaxCmdSN
        b[36] = 0x02;
        b[37] = 0x01;
        let p = Pdu {
            bhs: b,
            ahs: vec![],
            data: vec![],
        };
        assert_eq!(p.opcode(), op::LOGIN_RSP);
        assert_eq!((p.csg(), p.nsg()), (1, 3));
        assert_eq!(p.itt(), 9);
        assert_eq!(be16(&p.bhs, 14), 7);
        assert_eq!((p.sn24(), p.sn28(), p.max_cmdsn()), (0x21, 5, 0x25));
        assert_eq!((p.status_class(), p.status_detail()), (2, 1));
    }

    #[test]
    fn scsi_command_layout_via_fake_target() {
        // The SCSI Command, Data-Out (unsolicited and solicited) layouts, checked byte by byte
        // on what a fake target receives.
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let target = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let nd = Digests::default();
            let rd = |s: &mut TcpStream| read_pdu(s, nd, 1 << 20, Duration::ZERO).unwrap();
            let cmd = rd(&mut s);
            let mut seen = vec![cmd.clone()];
            // Unsolicited Data-Out 1000..2000 (FirstBurstLength 2000, immediate 1000).
            seen.push(rd(&mut s));
            // R2T for 2000..3000 with TTT 0x77.
            let mut r2t = Pdu::new(op::R2T);
            r2t.bhs[1] = 0x80;
            r2t.bhs[8..16].copy_from_slice(&cmd.bhs[8..16]);
            put32(&mut r2t.bhs, 16, cmd.itt());
            put32(&mut r2t.bhs, 20, 0x77);
            put32(&mut r2t.bhs, 24, 8);
            put32(&mut r2t.bhs, 28, 6);
            put32(&mut r2t.bhs, 32, 20);
            put32(&mut r2t.bhs, 36, 0);
            put32(&mut r2t.bhs, 40, 2000);
            put32(&mut r2t.bhs, 44, 1000);
            s.write_all(&r2t.encode(nd).unwrap()).unwrap();
            seen.push(rd(&mut s));
            let mut rsp = Pdu::new(op::SCSI_RSP);
            rsp.bhs[1] = 0x80;
            rsp.bhs[3] = STATUS_CHECK_CONDITION;
            put32(&mut rsp.bhs, 16, cmd.itt());
            put32(&mut rsp.bhs, 24, 8);
            put32(&mut rsp.bhs, 28, 6);
            put32(&mut rsp.bhs, 32, 20);
            let mut sense = vec![0u8; 18];
            sense[0] = 0x70;
            sense[2] = 0x05;
            sense[12] = 0x24;
            rsp.data = vec![0, 18];
            rsp.data.extend_from_slice(&sense);
            s.write_all(&rsp.encode(nd).unwrap()).unwrap();
            seen
        });
        let mut c = Connection::connect(addr, Duration::from_secs(5)).unwrap();
        c.full_feature = true;
        c.cmdsn = 5;
        c.max_cmdsn = 20;
        c.exp_statsn = 8;
        c.statsn_known = true;
        c.next_itt = 0x42;
        c.negotiated = Negotiated {
            initial_r2t: false,
            immediate_data: true,
            first_burst_length: 2000,
            max_burst_length: 1000,
            target_max_recv_data_segment_length: 1000,
            ..Negotiated::default()
        };
        let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let r = c
            .scsi_command(&cdb::write10(0x0102_0304, 6), 3, Some(&data[..]), 0)
            .unwrap();
        assert_eq!(r.status, STATUS_CHECK_CONDITION);
        assert_eq!(r.sense_key(), Some(5));
        assert_eq!(r.asc_ascq(), Some((0x24, 0)));
        assert_eq!(
            (r.immediate_bytes, r.unsolicited_bytes, r.solicited_bytes),
            (1000, 1000, 1000)
        );
        assert_eq!((r.r2ts, r.data_out_pdus), (1, 2));
        assert_eq!(c.exp_statsn(), 9);
        assert_eq!(c.cmdsn(), 6);
        let seen = target.join().unwrap();

        // opcode, W|SIMPLE (no F: unsolicited Data-Out follows), reserved |
        // TotalAHSLength, DSL 1000 | LUN 3 | ITT | EDTL 3000 | CmdSN | ExpStatSN | CDB
        let expected_cmd = squash(
            "01 21 0000 | 00 0003e8 | 0003000000000000 | 00000042 | 00000bb8 | 00000005 | \
             00000008 | 2a000102030400000600 000000000000",
        );
        assert_eq!(bhs_hex(&seen[0].bhs), expected_cmd);
        assert_eq!(seen[0].data, &data[..1000]);
        // Data-Out, F, reserved | TotalAHSLength, DSL 1000 | LUN | ITT | TTT 0xffffffff |
        // reserved | ExpStatSN | reserved | DataSN 0 | Buffer Offset 1000 | reserved
        let expected_unsolicited = squash(
            "05 80 0000 | 00 0003e8 | 0003000000000000 | 00000042 | ffffffff | 00000000 | \
             00000008 | 00000000 | 00000000 | 000003e8 | 00000000",
        );
        assert_eq!(bhs_hex(&seen[1].bhs), expected_unsolicited);
        assert_eq!(seen[1].data, &data[1000..2000]);
        // as above with the R2T's TTT 0x77, DataSN 0 again (a new sequence), offset 2000
        let expected_solicited = squash(
            "05 80 0000 | 00 0003e8 | 0003000000000000 | 00000042 | 00000077 | 00000000 | \
             00000008 | 00000000 | 00000000 | 000007d0 | 00000000",
        );
        assert_eq!(bhs_hex(&seen[2].bhs), expected_solicited);
        assert_eq!(seen[2].data, &data[2000..3000]);
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn data_in_with_status_collapse_and_checks() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let target = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let nd = Digests::default();
            let cmd = read_pdu(&mut s, nd, 1 << 20, Duration::ZERO).unwrap();
            assert_eq!(bhs_hex(&cmd.bhs)[..4], *"01c1"); // F|R|SIMPLE
            for (sn, off, last) in [(0u32, 0u32, false), (1, 4, true)] {
                let mut d = Pdu::new(op::DATA_IN);
                d.bhs[1] = if last {
                    0x80 | DATA_IN_STATUS | RESID_UNDERFLOW
                } else {
                    0
                };
                put32(&mut d.bhs, 16, cmd.itt());
                put32(&mut d.bhs, 20, RESERVED_TAG);
                put32(&mut d.bhs, 24, 1);
                put32(&mut d.bhs, 28, 2);
                put32(&mut d.bhs, 32, 9);
                put32(&mut d.bhs, 36, sn);
                put32(&mut d.bhs, 40, off);
                put32(&mut d.bhs, 44, if last { 8 } else { 0 });
                d.data = vec![sn as u8 + 1; 4];
                s.write_all(&d.encode(nd).unwrap()).unwrap();
            }
            // A second command gets a Data-In beyond its expected length.
            let cmd = read_pdu(&mut s, nd, 1 << 20, Duration::ZERO).unwrap();
            let mut d = Pdu::new(op::DATA_IN);
            put32(&mut d.bhs, 16, cmd.itt());
            put32(&mut d.bhs, 24, 2);
            put32(&mut d.bhs, 28, 3);
            put32(&mut d.bhs, 32, 9);
            put32(&mut d.bhs, 40, 14);
            d.data = vec![0; 4];
            s.write_all(&d.encode(nd).unwrap()).unwrap();
        });
        let mut c = Connection::connect(addr, Duration::from_secs(5)).unwrap();
        c.full_feature = true;
        c.max_cmdsn = 10;
        c.exp_statsn = 1;
        c.statsn_known = true;
        let r = c.scsi_command(&cdb::read10(0, 1), 0, None, 16).unwrap();
        assert!(r.is_good());
        assert!(r.status_in_data_in);
        assert_eq!(r.data, vec![1, 1, 1, 1, 2, 2, 2, 2]);
        assert_eq!(r.residual_underflow, Some(8));
        assert_eq!(r.data_in_pdus, 2);
        assert_eq!(c.exp_statsn(), 2);
        let e = c.scsi_command(&cdb::read10(0, 1), 0, None, 16).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e}");
        target.join().unwrap();
    }

    #[test]
    fn target_ping_is_answered_while_a_command_waits() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let target = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let nd = Digests::default();
            let cmd = read_pdu(&mut s, nd, 1 << 20, Duration::ZERO).unwrap();
            // NOP-In ping: ITT reserved, TTT 0x99, StatSN not advanced.
            let mut ping = Pdu::new(op::NOP_IN);
            ping.bhs[1] = 0x80;
            put32(&mut ping.bhs, 16, RESERVED_TAG);
            put32(&mut ping.bhs, 20, 0x99);
            put32(&mut ping.bhs, 24, 4);
            put32(&mut ping.bhs, 28, 2);
            put32(&mut ping.bhs, 32, 9);
            s.write_all(&ping.encode(nd).unwrap()).unwrap();
            let pong = read_pdu(&mut s, nd, 1 << 20, Duration::ZERO).unwrap();
            let mut rsp = Pdu::new(op::SCSI_RSP);
            rsp.bhs[1] = 0x80;
            put32(&mut rsp.bhs, 16, cmd.itt());
            put32(&mut rsp.bhs, 24, 4);
            put32(&mut rsp.bhs, 28, 2);
            put32(&mut rsp.bhs, 32, 9);
            s.write_all(&rsp.encode(nd).unwrap()).unwrap();
            (cmd, pong)
        });
        let mut c = Connection::connect(addr, Duration::from_secs(5)).unwrap();
        c.full_feature = true;
        c.max_cmdsn = 10;
        c.exp_statsn = 4;
        c.statsn_known = true;
        // InitialR2T=Yes: all 512 bytes go as immediate data and F is set.
        let r = c
            .scsi_command(&cdb::write10(0, 1), 0, Some(&[7u8; 512][..]), 0)
            .unwrap();
        assert!(r.is_good());
        assert_eq!((r.immediate_bytes, r.r2ts), (512, 0));
        let (cmd, pong) = target.join().unwrap();
        assert_eq!(cmd.bhs[1], FLAG_FINAL | CMD_WRITE | CMD_ATTR_SIMPLE);
        assert_eq!(cmd.data.len(), 512);
        // NOP-Out|I, F | LUN | ITT reserved | TTT echoed | CmdSN (2, not advanced) | ExpStatSN 4
        let expected = squash(
            "40 80 0000 | 00 000000 | 0000000000000000 | ffffffff | 00000099 | 00000002 | \
             00000004 | 00000000000000000000000000000000",
        );
        assert_eq!(bhs_hex(&pong.bhs), expected);
        assert_eq!(c.exp_statsn(), 5);
    }

    #[test]
    fn text_continuation_and_logout_layouts() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let target = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let nd = Digests::default();
            let rd = |s: &mut TcpStream| read_pdu(s, nd, 1 << 20, Duration::ZERO).unwrap();
            let rsp = |itt: u32, flags: u8, ttt: u32, statsn: u32, data: &[u8]| {
                let mut p = Pdu::new(op::TEXT_RSP);
                p.bhs[1] = flags;
                put32(&mut p.bhs, 16, itt);
                put32(&mut p.bhs, 20, ttt);
                put32(&mut p.bhs, 24, statsn);
                put32(&mut p.bhs, 28, 3);
                put32(&mut p.bhs, 32, 9);
                p.data = data.to_vec();
                p.encode(nd).unwrap()
            };
            let first = rd(&mut s);
            // "TargetName=t1\0TargetAddress=a:1,1\0" split inside a key: C set, TTT 0x5.
            s.write_all(&rsp(
                first.itt(),
                TEXT_CONTINUE,
                5,
                7,
                b"TargetName=t1\0Target",
            ))
            .unwrap();
            let second = rd(&mut s);
            s.write_all(&rsp(
                second.itt(),
                FLAG_FINAL,
                RESERVED_TAG,
                8,
                b"Address=a:1,1\0",
            ))
            .unwrap();
            let logout = rd(&mut s);
            let mut lr = Pdu::new(op::LOGOUT_RSP);
            lr.bhs[1] = 0x80;
            put32(&mut lr.bhs, 16, logout.itt());
            put32(&mut lr.bhs, 24, 9);
            put32(&mut lr.bhs, 28, 3);
            put32(&mut lr.bhs, 32, 9);
            put16(&mut lr.bhs, 40, 2);
            put16(&mut lr.bhs, 42, 20);
            s.write_all(&lr.encode(nd).unwrap()).unwrap();
            (first, second, logout)
        });
        let mut c = Connection::connect(addr, Duration::from_secs(5)).unwrap();
        c.full_feature = true;
        c.cmdsn = 3;
        c.max_cmdsn = 9;
        c.exp_statsn = 7;
        c.statsn_known = true;
        c.cid = 0x0102;
        c.next_itt = 0x10;
        let (reply, targets) = c.send_targets().unwrap();
        assert_eq!(reply.pdus, 2);
        assert_eq!(
            targets,
            vec![DiscoveredTarget {
                name: "t1".to_owned(),
                addresses: vec!["a:1,1".to_owned()]
            }]
        );
        let lo = c.logout().unwrap();
        assert_eq!(
            lo,
            LogoutResponse {
                response: 0,
                time2wait: 2,
                time2retain: 20
            }
        );
        let (first, second, logout) = target.join().unwrap();
        // Text|I, F | DSL 16 | LUN | ITT | TTT reserved | CmdSN 3 | ExpStatSN 7 | reserved
        let expected = squash(
            "44 80 0000 | 00 000010 | 0000000000000000 | 00000010 | ffffffff | 00000003 | \
             00000007 | 00000000000000000000000000000000",
        );
        assert_eq!(bhs_hex(&first.bhs), expected);
        assert_eq!(first.data, b"SendTargets=All\0");
        // The continuation: same ITT, the target's TTT, no data, ExpStatSN 8.
        let expected = squash(
            "44 80 0000 | 00 000000 | 0000000000000000 | 00000010 | 00000005 | 00000003 | \
             00000008 | 00000000000000000000000000000000",
        );
        assert_eq!(bhs_hex(&second.bhs), expected);
        // Logout|I, F|reason 0 | ITT | CID | CmdSN | ExpStatSN 9
        let expected = squash(
            "46 80 0000 | 00 000000 | 0000000000000000 | 00000011 | 0102 0000 | 00000003 | \
             00000009 | 00000000000000000000000000000000",
        );
        assert_eq!(bhs_hex(&logout.bhs), expected);
        assert_eq!(c.exp_statsn(), 10);
        assert!(!c.is_full_feature());
    }

    #[test]
    fn receive_times_out_instead_of_hanging() {
        use std::net::TcpListener;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut c = Connection::connect(addr, Duration::from_millis(200)).unwrap();
        let (_peer, _) = l.accept().unwrap();
        let t = Instant::now();
        assert!(matches!(c.recv_pdu(), Err(Error::Timeout { .. })));
        assert!(t.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn key_text_round_trip() {
        let pairs = keys(&[
            ("InitiatorName", "iqn.2024-01.local.test:init"),
            ("HeaderDigest", "CRC32C,None"),
            ("X-com.example.key_1", ""),
            ("TargetAlias", "d\u{e9}j\u{e0} vu"),
        ]);
        let bytes = encode_text(&pairs).unwrap();
        assert!(bytes.starts_with(b"InitiatorName=iqn.2024-01.local.test:init\0HeaderDigest="));
        assert_eq!(*bytes.last().unwrap(), 0);
        assert_eq!(decode_text(&bytes).unwrap(), pairs);
        assert_eq!(decode_text(b"").unwrap(), Vec::new());
        assert_eq!(
            decode_text(b"A=b=c\0").unwrap(),
            keys(&[("A", "b=c")]),
            "only the first '=' separates"
        );
        assert_eq!(key_value(&keys(&[("A", "1"), ("A", "2")]), "A"), Some("2"));
    }

    #[test]
    fn malformed_text_is_rejected() {
        assert_eq!(decode_text(b"A=b"), Err(TextError::MissingTerminator));
        assert_eq!(
            decode_text(b"A=b\0\0"),
            Err(TextError::EmptyPair { offset: 4 })
        );
        assert_eq!(decode_text(b"\0"), Err(TextError::EmptyPair { offset: 0 }));
        assert_eq!(
            decode_text(b"A=b\0garbage\0"),
            Err(TextError::MissingEquals { offset: 4 })
        );
        assert_eq!(decode_text(b"=v\0"), Err(TextError::EmptyKey { offset: 0 }));
        assert_eq!(
            decode_text(b"Ke y=v\0"),
            Err(TextError::BadKeyByte {
                offset: 2,
                byte: b' '
            })
        );
        let long = format!("{}=v\0", "K".repeat(64));
        assert_eq!(
            decode_text(long.as_bytes()),
            Err(TextError::KeyTooLong { offset: 0, len: 64 })
        );
        assert_eq!(
            decode_text(b"A=\xff\xfe\0"),
            Err(TextError::BadValue { offset: 0 })
        );
        assert_eq!(
            encode_text(&[("A=B", "c")]),
            Err(TextError::BadKeyByte {
                offset: 1,
                byte: b'='
            })
        );
        assert_eq!(
            encode_text(&[("A", "c\0d")]),
            Err(TextError::BadValue { offset: 0 })
        );
        assert_eq!(
            encode_text(&[("", "c")]),
            Err(TextError::EmptyKey { offset: 0 })
        );
    }

    #[test]
    fn negotiated_values_follow_answers_and_defaults() {
        let offered = keys(&[("MaxRecvDataSegmentLength", "4096"), ("InitialR2T", "No")]);
        let answered = keys(&[
            ("TargetPortalGroupTag", "1"),
            ("HeaderDigest", "CRC32C"),
            ("DataDigest", "None"),
            ("MaxRecvDataSegmentLength", "0x2000"),
            ("InitialR2T", "Yes"),
            ("ImmediateData", "Irrelevant"),
            ("MaxBurstLength", "16384"),
        ]);
        let n = Negotiated::from_keys(&offered, &answered).unwrap();
        assert!(n.header_digest && !n.data_digest);
        assert_eq!(n.target_max_recv_data_segment_length, 8192);
        assert_eq!(n.initiator_max_recv_data_segment_length, 4096);
        assert!(n.initial_r2t);
        assert!(n.immediate_data);
        assert_eq!(n.max_burst_length, 16384);
        assert_eq!(n.first_burst_length, 65536);
        assert!(matches!(
            Negotiated::from_keys(&[], &keys(&[("MaxBurstLength", "lots")])),
            Err(Error::Negotiation(_))
        ));
        assert!(matches!(
            Negotiated::from_keys(&[], &keys(&[("HeaderDigest", "MD5")])),
            Err(Error::Negotiation(_))
        ));
    }

    #[test]
    fn luns_and_cdbs() {
        assert_eq!(encode_lun(1).unwrap(), [0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encode_lun(0x123).unwrap(), [0x41, 0x23, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(encode_lun(0x4000), Err(Error::Encode(_))));
        assert_eq!(decode_lun([0x41, 0x23, 0, 0, 0, 0, 0, 0]), Some(0x123));
        assert_eq!(decode_lun([0, 7, 0, 0, 0, 0, 0, 0]), Some(7));
        assert_eq!(decode_lun([0x80, 7, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(
            cdb::read10(0x0102_0304, 0x0506),
            [0x28, 0, 1, 2, 3, 4, 0, 5, 6, 0]
        );
        assert_eq!(cdb::inquiry(0x1ff), [0x12, 0, 0, 1, 0xff, 0]);
        assert_eq!(
            cdb::read_capacity16(32),
            [0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0]
        );
        assert_eq!(
            cdb::report_luns(0x10),
            [0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]
        );
        let mut rc = vec![0, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0, 0, 2, 0];
        rc.resize(32, 0);
        assert_eq!(parse_read_capacity16(&rc), Some((0x1f_ffff, 512)));
        let rl = [
            0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            parse_report_luns(&rl),
            vec![[0; 8], [0, 1, 0, 0, 0, 0, 0, 0]]
        );
    }

    #[test]
    fn serial_number_comparison() {
        assert!(sn_le(1, 1));
        assert!(sn_le(1, 2));
        assert!(!sn_le(2, 1));
        assert!(sn_le(0xffff_fff0, 3));
        assert!(!sn_le(3, 0xffff_fff0));
    }
}
