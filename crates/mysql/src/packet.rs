//! The packet layer: `3-byte little-endian length | 1-byte sequence id | payload`.
//!
//! A payload of 0xFFFFFF bytes or more travels as several packets: every full
//! 0xFFFFFF-byte chunk is followed by another packet, and the last one is
//! shorter (possibly empty). [`PacketReader`] joins them back together and
//! [`write_packet`] splits them.
//!
//! The reader owns its input buffer and hands out owned [`Bytes`], so several
//! packets arriving in one read (pipelining) or one packet spread over many
//! reads are both just "more bytes in the buffer"; nothing ever borrows from a
//! buffer that a later read may replace. Every length is checked against the
//! configured maximum *before* any byte of the body is buffered.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest payload one physical packet can carry.
pub(crate) const MAX_CHUNK: usize = 0xFF_FFFF;

/// How much we ask the socket for at most in one read; a header that promises
/// a big body does not make us allocate it up front.
const READ_CHUNK: usize = 64 * 1024;

/// Why no packet could be read.
#[derive(Debug)]
pub(crate) enum PacketError {
    /// The socket failed.
    Io(io::Error),
    /// The peer closed the stream cleanly between packets.
    Closed,
    /// The peer closed the stream in the middle of a packet.
    Truncated,
    /// The (joined) payload would exceed the configured maximum.
    TooLarge { seq: u8, size: usize },
    /// The sequence id is not the one the protocol expects here.
    OutOfOrder { expected: u8, got: u8 },
}

impl From<io::Error> for PacketError {
    fn from(e: io::Error) -> Self {
        PacketError::Io(e)
    }
}

/// One logical packet (all chunks of a split payload joined).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Packet {
    /// Sequence id of the last physical packet; the reply continues after it.
    pub(crate) seq: u8,
    pub(crate) payload: Bytes,
}

/// Incremental packet decoder with its own input buffer.
#[derive(Debug)]
pub(crate) struct PacketReader {
    buf: BytesMut,
    /// Chunks of a split payload collected so far.
    partial: Vec<u8>,
    /// Sequence id the next chunk of `partial` must carry, while one is open.
    partial_seq: Option<u8>,
    max_payload: usize,
}

impl PacketReader {
    pub(crate) fn new(max_payload: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(4096),
            partial: Vec::new(),
            partial_seq: None,
            max_payload,
        }
    }

    /// Appends raw bytes as if they had been read from the socket.
    #[cfg(test)]
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Decodes the next complete packet from what is buffered, if there is one.
    /// `expected_seq` is the id the first chunk must carry.
    pub(crate) fn try_next(&mut self, expected_seq: u8) -> Result<Option<Packet>, PacketError> {
        loop {
            if self.buf.len() < 4 {
                return Ok(None);
            }
            let len = usize::from(self.buf[0])
                | usize::from(self.buf[1]) << 8
                | usize::from(self.buf[2]) << 16;
            let seq = self.buf[3];
            let want = self.partial_seq.unwrap_or(expected_seq);
            if seq != want {
                return Err(PacketError::OutOfOrder {
                    expected: want,
                    got: seq,
                });
            }
            let size = self.partial.len() + len;
            if size > self.max_payload {
                return Err(PacketError::TooLarge { seq, size });
            }
            if self.buf.len() < 4 + len {
                return Ok(None);
            }
            self.buf.advance(4);
            let chunk = self.buf.split_to(len);
            if len == MAX_CHUNK {
                // More chunks follow; keep collecting.
                self.partial.extend_from_slice(&chunk);
                self.partial_seq = Some(seq.wrapping_add(1));
                continue;
            }
            let payload = if self.partial_seq.take().is_some() {
                self.partial.extend_from_slice(&chunk);
                Bytes::from(std::mem::take(&mut self.partial))
            } else {
                chunk.freeze()
            };
            return Ok(Some(Packet { seq, payload }));
        }
    }

    /// How many more bytes are needed to finish the physical packet that is
    /// being received (at least 1).
    fn bytes_wanted(&self) -> usize {
        if self.buf.len() < 4 {
            return 4 - self.buf.len();
        }
        let len = usize::from(self.buf[0])
            | usize::from(self.buf[1]) << 8
            | usize::from(self.buf[2]) << 16;
        (4 + len).saturating_sub(self.buf.len()).max(1)
    }

    /// Hands out whatever is buffered beyond the packets read so far (bytes a
    /// client sent right behind its SSLRequest: the start of its TLS
    /// handshake), leaving the reader empty.
    pub(crate) fn take_buffered(&mut self) -> Bytes {
        self.partial.clear();
        self.partial_seq = None;
        self.buf.split().freeze()
    }

    /// True when nothing of a next packet has arrived yet.
    fn at_boundary(&self) -> bool {
        self.buf.is_empty() && self.partial_seq.is_none()
    }

    /// Reads from `stream` until a whole packet is available.
    pub(crate) async fn read<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        expected_seq: u8,
    ) -> Result<Packet, PacketError> {
        loop {
            if let Some(packet) = self.try_next(expected_seq)? {
                return Ok(packet);
            }
            // try_next validated the header (if any), so `wanted` is bounded by
            // the maximum; cap it further so a lying header costs nothing.
            let wanted = self.bytes_wanted().clamp(4096, READ_CHUNK);
            self.buf.reserve(wanted);
            let n = stream.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Err(if self.at_boundary() {
                    PacketError::Closed
                } else {
                    PacketError::Truncated
                });
            }
        }
    }
}

/// Frames `payload` into `out` as one or more physical packets, starting at
/// sequence id `*seq` and leaving `*seq` at the id of the next packet.
pub(crate) fn write_packet(out: &mut Vec<u8>, payload: &[u8], seq: &mut u8) {
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_CHUNK);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(*seq);
        *seq = seq.wrapping_add(1);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        // A chunk of exactly MAX_CHUNK bytes promises a continuation, even an
        // empty one.
        if n < MAX_CHUNK {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::ReadBuf;

    fn framed(payload: &[u8], seq: u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = seq;
        write_packet(&mut out, payload, &mut s);
        out
    }

    fn next(r: &mut PacketReader, seq: u8) -> Option<Packet> {
        match r.try_next(seq) {
            Ok(p) => p,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn single_packet() {
        let mut r = PacketReader::new(1024);
        r.feed(&[3, 0, 0, 0, b'a', b'b', b'c']);
        let p = next(&mut r, 0).expect("packet");
        assert_eq!(p.seq, 0);
        assert_eq!(&p.payload[..], b"abc");
        assert!(next(&mut r, 1).is_none());
        assert!(r.at_boundary());
    }

    #[test]
    fn empty_packet() {
        let mut r = PacketReader::new(1024);
        r.feed(&[0, 0, 0, 5]);
        let p = next(&mut r, 5).expect("packet");
        assert_eq!(p.seq, 5);
        assert!(p.payload.is_empty());
    }

    #[test]
    fn pipelined_packets_in_one_buffer() {
        let mut r = PacketReader::new(1024);
        let mut bytes = framed(b"\x03select 1", 0);
        bytes.extend(framed(b"\x03select 2", 0));
        bytes.extend(framed(b"\x0e", 0));
        r.feed(&bytes);
        let first = next(&mut r, 0).expect("first");
        let second = next(&mut r, 0).expect("second");
        // The first payload stays valid while the buffer is reused.
        r.feed(&framed(b"\x01", 0));
        let third = next(&mut r, 0).expect("third");
        let fourth = next(&mut r, 0).expect("fourth");
        assert_eq!(&first.payload[..], b"\x03select 1");
        assert_eq!(&second.payload[..], b"\x03select 2");
        assert_eq!(&third.payload[..], b"\x0e");
        assert_eq!(&fourth.payload[..], b"\x01");
        assert!(next(&mut r, 0).is_none());
    }

    #[test]
    fn packet_fed_byte_by_byte() {
        let mut r = PacketReader::new(1024);
        let bytes = framed(b"hello world", 3);
        for (i, b) in bytes.iter().enumerate() {
            assert!(next(&mut r, 3).is_none(), "complete too early at {i}");
            r.feed(&[*b]);
        }
        let p = next(&mut r, 3).expect("packet");
        assert_eq!(&p.payload[..], b"hello world");
    }

    #[test]
    fn split_payload_is_joined() {
        let payload: Vec<u8> = (0..MAX_CHUNK + 10).map(|i| (i % 251) as u8).collect();
        let bytes = framed(&payload, 0);
        // Two physical packets: 0xFFFFFF bytes with seq 0, then 10 with seq 1.
        assert_eq!(bytes.len(), payload.len() + 8);
        assert_eq!(&bytes[..4], &[0xFF, 0xFF, 0xFF, 0]);
        assert_eq!(&bytes[4 + MAX_CHUNK..8 + MAX_CHUNK], &[10, 0, 0, 1]);
        let mut r = PacketReader::new(64 << 20);
        // Feed in uneven slices, as a socket would deliver them.
        for chunk in bytes.chunks(1_000_003) {
            r.feed(chunk);
        }
        let p = next(&mut r, 0).expect("joined packet");
        assert_eq!(p.seq, 1);
        assert_eq!(p.payload.len(), payload.len());
        assert!(p.payload[..] == payload[..]);
    }

    #[test]
    fn payload_of_exactly_max_chunk_ends_with_empty_packet() {
        let payload = vec![7u8; MAX_CHUNK];
        let bytes = framed(&payload, 0);
        assert_eq!(bytes.len(), MAX_CHUNK + 8);
        assert_eq!(&bytes[bytes.len() - 4..], &[0, 0, 0, 1]);
        let mut r = PacketReader::new(64 << 20);
        r.feed(&bytes[..MAX_CHUNK + 4]);
        assert!(next(&mut r, 0).is_none(), "must wait for the continuation");
        r.feed(&bytes[MAX_CHUNK + 4..]);
        let p = next(&mut r, 0).expect("packet");
        assert_eq!(p.payload.len(), MAX_CHUNK);
    }

    #[test]
    fn empty_payload_is_one_empty_packet() {
        assert_eq!(framed(b"", 9), vec![0, 0, 0, 9]);
    }

    #[test]
    fn sequence_wraps_around() {
        let mut seq = 255;
        let mut out = Vec::new();
        write_packet(&mut out, b"x", &mut seq);
        assert_eq!(seq, 0);
        assert_eq!(out, vec![1, 0, 0, 255, b'x']);
    }

    #[test]
    fn oversized_header_is_refused_before_the_body_arrives() {
        let mut r = PacketReader::new(100);
        r.feed(&[101, 0, 0, 0]);
        match r.try_next(0) {
            Err(PacketError::TooLarge { seq: 0, size: 101 }) => {}
            other => panic!("expected TooLarge, got {other:?}"),
        }
        // Exactly the maximum is fine.
        let mut r = PacketReader::new(100);
        r.feed(&framed(&[1u8; 100], 0));
        assert_eq!(next(&mut r, 0).expect("packet").payload.len(), 100);
    }

    #[test]
    fn split_payload_over_the_maximum_is_refused() {
        let mut r = PacketReader::new(MAX_CHUNK + 5);
        let bytes = framed(&vec![0u8; MAX_CHUNK + 6], 0);
        r.feed(&bytes);
        match r.try_next(0) {
            Err(PacketError::TooLarge { seq: 1, size }) => assert_eq!(size, MAX_CHUNK + 6),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn wrong_sequence_is_reported() {
        let mut r = PacketReader::new(100);
        r.feed(&[1, 0, 0, 7, 0]);
        match r.try_next(0) {
            Err(PacketError::OutOfOrder {
                expected: 0,
                got: 7,
            }) => {}
            other => panic!("expected OutOfOrder, got {other:?}"),
        }
    }

    #[test]
    fn wrong_sequence_inside_split_payload_is_reported() {
        let mut bytes = framed(&vec![0u8; MAX_CHUNK], 0);
        // Corrupt the continuation's sequence id.
        let at = bytes.len() - 1;
        bytes[at] = 5;
        let mut r = PacketReader::new(64 << 20);
        r.feed(&bytes);
        match r.try_next(0) {
            Err(PacketError::OutOfOrder {
                expected: 1,
                got: 5,
            }) => {}
            other => panic!("expected OutOfOrder, got {other:?}"),
        }
    }

    /// Delivers its data in tiny pieces, as a slow network would.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self
                .step
                .min(self.data.len() - self.pos)
                .min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.data[start..start + n]);
            self.pos += n;
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn async_read_one_packet_across_many_reads() {
        let mut data = framed(b"first packet", 0);
        data.extend(framed(b"second", 0));
        let mut stream = Trickle {
            data,
            pos: 0,
            step: 1,
        };
        let mut r = PacketReader::new(1024);
        let a = r.read(&mut stream, 0).await.expect("first");
        let b = r.read(&mut stream, 0).await.expect("second");
        assert_eq!(&a.payload[..], b"first packet");
        assert_eq!(&b.payload[..], b"second");
        assert!(matches!(
            r.read(&mut stream, 0).await,
            Err(PacketError::Closed)
        ));
    }

    #[tokio::test]
    async fn async_read_truncated_input() {
        let data = framed(b"hello", 0);
        // Header promises 5 bytes; only 2 arrive before the stream ends.
        let mut stream: &[u8] = &data[..6];
        let mut r = PacketReader::new(1024);
        assert!(matches!(
            r.read(&mut stream, 0).await,
            Err(PacketError::Truncated)
        ));
        // A truncated header is also truncation, not a clean close.
        let mut stream: &[u8] = &data[..2];
        let mut r = PacketReader::new(1024);
        assert!(matches!(
            r.read(&mut stream, 0).await,
            Err(PacketError::Truncated)
        ));
    }

    #[tokio::test]
    async fn async_read_truncated_split_payload() {
        let data = framed(&vec![1u8; MAX_CHUNK + 3], 0);
        // The first chunk is complete, the continuation never arrives.
        let mut stream: &[u8] = &data[..MAX_CHUNK + 4];
        let mut r = PacketReader::new(64 << 20);
        assert!(matches!(
            r.read(&mut stream, 0).await,
            Err(PacketError::Truncated)
        ));
    }
}
