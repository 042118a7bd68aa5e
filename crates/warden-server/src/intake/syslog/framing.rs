//! Syslog over a byte stream (TCP, TLS): RFC 6587 octet counting
//! (`MSG-LEN SP SYSLOG-MSG`) or non-transparent framing (one message a
//! line), chosen per connection by its first byte: a digit means octet
//! counting (a syslog message starts with `<`, never a digit), anything
//! else newline framing.
//!
//! The decoder holds at most `max` bytes of a message: a longer one is
//! read past (never buffered whole) and handed out as [`Frame::Oversized`]
//! with its first bytes, so a sender cannot grow memory with one endless
//! line or a huge length.

/// What the decoder made of the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One whole message (line ending removed).
    Message(Vec<u8>),
    /// A message over the limit: its first `max` bytes, and its length
    /// when it is known (octet counting, or a line that ended).
    Oversized { prefix: Vec<u8>, length: usize },
    /// The stream cannot be framed any more (a broken octet count, or a
    /// message cut short by the end of the connection): the bytes held,
    /// and why. The connection is then closed.
    Broken { bytes: Vec<u8>, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    OctetCounting,
    Newline,
}

/// Longest `MSG-LEN` taken (RFC 6587 allows any; 10 digits is past 4 GiB).
const MAX_LENGTH_DIGITS: usize = 10;

/// A message being read past because it is over the limit.
#[derive(Debug)]
struct Skip {
    prefix: Vec<u8>,
    seen: usize,
    /// Octet counting: bytes still to read past; newline: `None` (until
    /// the end of the line).
    remaining: Option<usize>,
}

/// Per-connection decoder.
#[derive(Debug)]
pub struct Decoder {
    max: usize,
    mode: Option<Mode>,
    buf: Vec<u8>,
    skip: Option<Skip>,
    broken: bool,
}

impl Decoder {
    /// A decoder that takes messages of up to `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            mode: None,
            buf: Vec::new(),
            skip: None,
            broken: false,
        }
    }

    /// The framing detected, for logs (`None` before the first byte).
    pub fn mode_name(&self) -> Option<&'static str> {
        self.mode.map(|m| match m {
            Mode::OctetCounting => "octet-counting",
            Mode::Newline => "newline",
        })
    }

    /// Whether the stream can no longer be framed (close the connection).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// How many bytes a read may add without going over the buffer bound.
    pub fn room(&self) -> usize {
        // A whole message, its length prefix and a line ending.
        (self.max + MAX_LENGTH_DIGITS + 2)
            .saturating_sub(self.buf.len())
            .max(1)
    }

    /// Take bytes read from the connection; the frames they complete go
    /// to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Frame>) {
        while !data.is_empty() && !self.broken {
            if let Some(skip) = &mut self.skip {
                data = skip_bytes(skip, data, self.max);
                if skip.remaining == Some(0)
                    && let Some(skip) = self.skip.take()
                {
                    out.push(Frame::Oversized {
                        prefix: skip.prefix,
                        length: skip.seen,
                    });
                }
                continue;
            }
            let take = data.len().min(self.room());
            let (now, later) = data.split_at(take);
            self.buf.extend_from_slice(now);
            data = later;
            self.drain(out);
        }
    }

    /// The connection ended: what is left becomes a last frame.
    pub fn finish(&mut self, out: &mut Vec<Frame>) {
        if self.broken {
            return;
        }
        if let Some(skip) = self.skip.take() {
            match skip.remaining {
                // A line over the limit ended with the connection.
                None => out.push(Frame::Oversized {
                    prefix: skip.prefix,
                    length: skip.seen,
                }),
                Some(left) => out.push(Frame::Broken {
                    bytes: skip.prefix,
                    reason: format!(
                        "the connection closed {left} bytes before the end of an \
                         octet-counted message of {} bytes",
                        skip.seen + left
                    ),
                }),
            }
            return;
        }
        let rest = std::mem::take(&mut self.buf);
        match self.mode {
            Some(Mode::Newline) => {
                let line = trim_line(&rest);
                if !line.is_empty() {
                    out.push(Frame::Message(line.to_vec()));
                }
            }
            Some(Mode::OctetCounting) if !rest.iter().all(u8::is_ascii_whitespace) => {
                out.push(Frame::Broken {
                    reason: format!(
                        "the connection closed in the middle of an octet-counted message \
                         ({} bytes received)",
                        rest.len()
                    ),
                    bytes: rest,
                });
            }
            _ => {}
        }
    }

    fn drain(&mut self, out: &mut Vec<Frame>) {
        loop {
            if self.mode.is_none() {
                // Blank lines and stray line endings before the first frame
                // decide nothing.
                let start = self
                    .buf
                    .iter()
                    .position(|b| !matches!(b, b'\n' | b'\r' | b'\0'));
                match start {
                    None => {
                        self.buf.clear();
                        return;
                    }
                    Some(at) => {
                        self.buf.drain(..at);
                    }
                }
                self.mode = Some(match self.buf.first() {
                    Some(b) if b.is_ascii_digit() => Mode::OctetCounting,
                    _ => Mode::Newline,
                });
            }
            let progressed = match self.mode {
                Some(Mode::OctetCounting) => self.octet_frame(out),
                _ => self.line_frame(out),
            };
            if !progressed || self.broken || self.skip.is_some() {
                return;
            }
        }
    }

    /// One newline-framed message, if the buffer holds a whole line.
    fn line_frame(&mut self, out: &mut Vec<Frame>) -> bool {
        match self.buf.iter().position(|b| *b == b'\n') {
            Some(end) => {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                let line = trim_line(&line);
                if line.len() > self.max {
                    out.push(Frame::Oversized {
                        prefix: line.get(..self.max).unwrap_or(line).to_vec(),
                        length: line.len(),
                    });
                } else if !line.is_empty() {
                    out.push(Frame::Message(line.to_vec()));
                }
                true
            }
            None if self.buf.len() > self.max + 1 => {
                // Over the limit with no end in sight: keep its start, read
                // past the rest of the line.
                let held = std::mem::take(&mut self.buf);
                self.skip = Some(Skip {
                    prefix: held.get(..self.max).unwrap_or(&held).to_vec(),
                    seen: held.len(),
                    remaining: None,
                });
                true
            }
            None => false,
        }
    }

    /// One octet-counted message, if the buffer holds it.
    fn octet_frame(&mut self, out: &mut Vec<Frame>) -> bool {
        // Line endings between frames are tolerated (some senders add one).
        let start = self
            .buf
            .iter()
            .position(|b| !matches!(b, b'\n' | b'\r'))
            .unwrap_or(self.buf.len());
        self.buf.drain(..start);
        if self.buf.is_empty() {
            return false;
        }
        let digits = self.buf.iter().take_while(|b| b.is_ascii_digit()).count();
        let Some(&after) = self.buf.get(digits) else {
            if digits > MAX_LENGTH_DIGITS {
                self.break_stream(out, "an octet count longer than 10 digits");
            }
            return false;
        };
        if digits == 0 || digits > MAX_LENGTH_DIGITS || after != b' ' {
            let reason = if digits == 0 {
                "a frame that does not start with an octet count (RFC 6587 octet \
                 counting was detected on this connection)"
            } else {
                "an octet count not followed by a space"
            };
            self.break_stream(out, reason);
            return false;
        }
        let length: usize = std::str::from_utf8(self.buf.get(..digits).unwrap_or_default())
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(usize::MAX);
        let body_start = digits + 1;
        if length > self.max {
            let held: Vec<u8> = self.buf.drain(..).skip(body_start).collect();
            let mut skip = Skip {
                prefix: Vec::new(),
                seen: 0,
                remaining: Some(length),
            };
            let rest = skip_bytes(&mut skip, &held, self.max);
            // Whatever followed the long message is the next frame.
            self.buf.extend_from_slice(rest);
            if skip.remaining == Some(0) {
                out.push(Frame::Oversized {
                    prefix: skip.prefix,
                    length,
                });
                return true;
            }
            self.skip = Some(skip);
            return true;
        }
        if self.buf.len() < body_start + length {
            return false;
        }
        let frame: Vec<u8> = self
            .buf
            .drain(..body_start + length)
            .skip(body_start)
            .collect();
        let message = trim_line(&frame);
        if !message.is_empty() {
            out.push(Frame::Message(message.to_vec()));
        }
        true
    }

    fn break_stream(&mut self, out: &mut Vec<Frame>, reason: &str) {
        let mut bytes = std::mem::take(&mut self.buf);
        bytes.truncate(self.max);
        out.push(Frame::Broken {
            bytes,
            reason: format!("RFC 6587 framing broken: {reason}; the connection is closed"),
        });
        self.broken = true;
    }
}

/// Read past an over-long message; returns the bytes after it.
fn skip_bytes<'a>(skip: &mut Skip, data: &'a [u8], max: usize) -> &'a [u8] {
    let (part, rest) = match skip.remaining {
        Some(left) => {
            let n = left.min(data.len());
            skip.remaining = Some(left - n);
            data.split_at(n)
        }
        None => match data.iter().position(|b| *b == b'\n') {
            Some(end) => {
                skip.remaining = Some(0);
                let (line, rest) = data.split_at(end);
                (line, rest.get(1..).unwrap_or_default())
            }
            None => (data, &[][..]),
        },
    };
    let keep = max.saturating_sub(skip.prefix.len()).min(part.len());
    skip.prefix
        .extend_from_slice(part.get(..keep).unwrap_or_default());
    skip.seen += part.len();
    rest
}

/// A line without its `\r\n`, `\n` or trailing NULs.
fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line.get(end - 1), Some(b'\n' | b'\r' | b'\0')) {
        end -= 1;
    }
    line.get(..end).unwrap_or_default()
}
