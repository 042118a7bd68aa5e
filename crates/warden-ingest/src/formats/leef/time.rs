//! `devTime` read with the Java date pattern `devTimeFormat` names
//! (`MMM dd yyyy HH:mm:ss.SSS zzz`, `yyyy-MM-dd'T'HH:mm:ss.SSSXXX`...).
//!
//! The letters read: `yyyy` (or `yy`, 20yy), `MM`/`M` or `MMM` (a month
//! name), `dd`/`d`, `HH`/`H`, `mm`/`m`, `ss`/`s`, `S...` (fraction), and
//! `z`, `Z`, `X` (a zone: `UTC`, `GMT`, `Z`, `GMT+02:00`, `+0200`);
//! `'...'` is literal text. A pattern with other letters (`a`, `h`, `E`)
//! is refused, and so is a date without a year.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::formats::text::{DateError, parse_zone};

/// One element of a compiled pattern.
#[derive(Debug, PartialEq)]
enum Token {
    /// A pattern letter and how many times it repeats.
    Field(char, usize),
    Literal(char),
}

fn tokens(pattern: &str) -> Result<Vec<Token>, DateError> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // Quoted literal; '' is a quote.
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push(Token::Literal('\''));
                continue;
            }
            for q in chars.by_ref() {
                if q == '\'' {
                    break;
                }
                out.push(Token::Literal(q));
            }
        } else if c.is_ascii_alphabetic() {
            if !matches!(c, 'y' | 'M' | 'd' | 'H' | 'm' | 's' | 'S' | 'z' | 'Z' | 'X') {
                return Err(DateError::Unreadable);
            }
            let mut count = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                count += 1;
            }
            out.push(Token::Field(c, count));
        } else {
            out.push(Token::Literal(c));
        }
    }
    Ok(out)
}

/// Read `value` with the Java date pattern `pattern`.
pub(super) fn parse_with_pattern(value: &str, pattern: &str) -> Result<OffsetDateTime, DateError> {
    let tokens = tokens(pattern)?;
    let mut rest = value.trim();
    let (mut year, mut month, mut day) = (None, None, None);
    let (mut hour, mut minute, mut second, mut nanos) = (0u8, 0u8, 0u8, 0u32);
    let mut offset = UtcOffset::UTC;
    for (index, token) in tokens.iter().enumerate() {
        match token {
            Token::Literal(c) => {
                rest = rest.strip_prefix(*c).ok_or(DateError::Unreadable)?;
            }
            Token::Field('M', count) if *count >= 3 => {
                let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
                month = Some(month_named(&name).ok_or(DateError::Unreadable)?);
                rest = rest.get(name.len()..).unwrap_or_default();
            }
            Token::Field('z' | 'Z' | 'X', _) => {
                // A zone runs to the next literal of the pattern, or the end.
                let stop = match tokens.get(index + 1) {
                    Some(Token::Literal(c)) => rest.find(*c).unwrap_or(rest.len()),
                    _ => rest.len(),
                };
                let (zone, tail) = rest.split_at_checked(stop).ok_or(DateError::Unreadable)?;
                offset = parse_zone(zone)?;
                rest = tail;
            }
            Token::Field(letter, count) => {
                // Fixed width for repeated letters; 1-2 digits for single
                // ones (`d` reads `7` and `17`); a fraction takes all its
                // digits.
                let width = match letter {
                    'S' => rest.chars().take_while(char::is_ascii_digit).count(),
                    _ if *count >= 2 => *count,
                    _ => rest
                        .chars()
                        .take(2)
                        .take_while(char::is_ascii_digit)
                        .count(),
                };
                let digits = rest.get(..width).ok_or(DateError::Unreadable)?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(DateError::Unreadable);
                }
                rest = rest.get(width..).unwrap_or_default();
                let number: u32 = digits.parse().map_err(|_| DateError::Unreadable)?;
                let small = || u8::try_from(number).map_err(|_| DateError::Unreadable);
                match letter {
                    'y' if *count == 2 => year = Some(2000 + i32::try_from(number).unwrap_or(0)),
                    'y' => year = Some(i32::try_from(number).map_err(|_| DateError::Unreadable)?),
                    'M' => {
                        month = Some(Month::try_from(small()?).map_err(|_| DateError::Unreadable)?);
                    }
                    'd' => day = Some(small()?),
                    'H' => hour = small()?,
                    'm' => minute = small()?,
                    's' => second = small()?,
                    _ => {
                        let kept: String = digits.chars().take(9).collect();
                        let scale = 10u32.pow(9 - u32::try_from(kept.len()).unwrap_or(9));
                        nanos = kept
                            .parse::<u32>()
                            .ok()
                            .and_then(|n| n.checked_mul(scale))
                            .ok_or(DateError::Unreadable)?;
                    }
                }
            }
        }
    }
    if !rest.trim().is_empty() {
        return Err(DateError::Unreadable);
    }
    let year = year.ok_or(DateError::NoYear)?;
    let date = Date::from_calendar_date(
        year,
        month.ok_or(DateError::Unreadable)?,
        day.ok_or(DateError::Unreadable)?,
    )
    .map_err(|_| DateError::Unreadable)?;
    let time =
        Time::from_hms_nano(hour, minute, second, nanos).map_err(|_| DateError::Unreadable)?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

fn month_named(name: &str) -> Option<Month> {
    let lower = name.to_ascii_lowercase();
    let short = lower.get(..3)?;
    let index = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|m| *m == short)?;
    Month::try_from(u8::try_from(index + 1).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_patterns_that_leef_senders_use() {
        let at = |value: &str, pattern: &str| {
            parse_with_pattern(value, pattern).map(|t| t.unix_timestamp())
        };
        assert_eq!(
            at("Jan 28 2015 02:00:36 GMT+00:00", "MMM dd yyyy HH:mm:ss z"),
            Ok(1_422_410_436)
        );
        assert_eq!(
            at(
                "2015-01-28T03:00:36.120+01:00",
                "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"
            ),
            Ok(1_422_410_436)
        );
        assert_eq!(
            at("28/01/2015 02:00:36", "dd/MM/yyyy HH:mm:ss"),
            Ok(1_422_410_436)
        );
        assert_eq!(
            at("Jan 28 02:00:36", "MMM dd HH:mm:ss"),
            Err(DateError::NoYear)
        );
        assert_eq!(
            at("Jan 28 2015 02:00:36 PM", "MMM dd yyyy hh:mm:ss a"),
            Err(DateError::Unreadable)
        );
        assert_eq!(
            at("2015-01-28 02:00:36 trailing", "yyyy-MM-dd HH:mm:ss"),
            Err(DateError::Unreadable)
        );
    }
}
