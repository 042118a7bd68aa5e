//! STIX 2.1 patterning (STIX 2.1 part 9): a tokenizer, a recursive-descent
//! parser for the whole grammar, and [`harvest`], which picks out the
//! equality comparisons Warden can match against an alert's observables.
//!
//! The parser accepts the full grammar (FOLLOWEDBY, qualifiers, every
//! comparison operator, sets, timestamp, binary and hex literals), so a
//! pattern that is valid but does more than Warden can match is told apart
//! from one that is not a pattern at all. Only [`harvest`] is selective.
//!
//! Precedence, loosest first: `FOLLOWEDBY`, `OR`, `AND` between
//! observations; `OR`, `AND` between comparisons inside `[ ]`.

use std::collections::HashSet;
use std::fmt;
use std::iter::Peekable;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::CharIndices;

use crate::context::records::IndicatorType;

/// How deep brackets and parentheses may nest. Real patterns stay in single
/// digits; the limit keeps a hostile pattern from exhausting the stack.
const MAX_DEPTH: usize = 64;

/// A parsed pattern: observation expressions.
///
/// Chains of one operator are flat lists, and a run of qualifiers is one
/// list, so the tree is only as deep as the brackets nest ([`MAX_DEPTH`]):
/// walking or dropping it cannot exhaust the stack, however long the
/// pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Observation {
    /// `[ comparison ]`
    Match(Comparison),
    /// Two or more operands.
    And(Vec<Observation>),
    /// Two or more operands.
    Or(Vec<Observation>),
    /// Two or more operands.
    FollowedBy(Vec<Observation>),
    /// One or more qualifiers, in order.
    Qualified(Box<Observation>, Vec<Qualifier>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Qualifier {
    Within(String),
    Repeats(u64),
    StartStop(String, String),
}

impl Qualifier {
    fn keyword(&self) -> &'static str {
        match self {
            Qualifier::Within(_) => "WITHIN",
            Qualifier::Repeats(_) => "REPEATS",
            Qualifier::StartStop(..) => "START/STOP",
        }
    }
}

/// Comparison expressions inside one observation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Comparison {
    /// Two or more operands.
    And(Vec<Comparison>),
    /// Two or more operands.
    Or(Vec<Comparison>),
    Test {
        path: ObjectPath,
        negated: bool,
        op: Operator,
        value: Literal,
    },
    Exists(ObjectPath),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::In => "IN",
            Operator::Like => "LIKE",
            Operator::Matches => "MATCHES",
            Operator::IsSubset => "ISSUBSET",
            Operator::IsSuperset => "ISSUPERSET",
        })
    }
}

/// `file:hashes.'SHA-256'`, `network-traffic:extensions.x[*].y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectPath {
    pub object_type: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Property(String),
    /// `[n]`, or `[*]` as `None`.
    Index(Option<u64>),
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Property(name) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_plain_name(name) {
                        f.write_str(name)?;
                    } else {
                        write!(f, "'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))?;
                    }
                }
                Step::Index(Some(n)) => write!(f, "[{n}]")?,
                Step::Index(None) => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(String),
    Binary(String),
    Hex(String),
    Set(Vec<Literal>),
}

/// Why a pattern does not parse, with the byte offset where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.message)
    }
}

fn error<T>(offset: usize, message: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError {
        offset,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Op(Operator),
    /// Identifiers and keywords; which one is decided by position.
    Word(String),
    Str(String),
    Timestamp(String),
    Binary(String),
    Hex(String),
    Int(i64),
    Float(f64),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LBracket => "'['".into(),
            Token::RBracket => "']'".into(),
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::Comma => "','".into(),
            Token::Colon => "':'".into(),
            Token::Dot => "'.'".into(),
            Token::Star => "'*'".into(),
            Token::Op(op) => format!("'{op}'"),
            Token::Word(word) => format!("{word:?}"),
            Token::Str(_) => "a string".into(),
            Token::Timestamp(_) => "a timestamp".into(),
            Token::Binary(_) => "a binary literal".into(),
            Token::Hex(_) => "a hex literal".into(),
            Token::Int(_) | Token::Float(_) => "a number".into(),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(word) if word.eq_ignore_ascii_case(keyword))
    }
}

struct Lexer<'a> {
    text: &'a str,
    chars: Peekable<CharIndices<'a>>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            chars: text.char_indices().peekable(),
        }
    }

    fn tokens(mut self) -> Result<Vec<(usize, Token)>, PatternError> {
        let mut out = Vec::new();
        while let Some(&(at, c)) = self.chars.peek() {
            if c.is_whitespace() {
                self.chars.next();
                continue;
            }
            let token = match c {
                '[' => self.single(Token::LBracket),
                ']' => self.single(Token::RBracket),
                '(' => self.single(Token::LParen),
                ')' => self.single(Token::RParen),
                ',' => self.single(Token::Comma),
                ':' => self.single(Token::Colon),
                '.' => self.single(Token::Dot),
                '*' => self.single(Token::Star),
                '=' => self.single(Token::Op(Operator::Eq)),
                '!' => {
                    self.chars.next();
                    if self.eat('=') {
                        Token::Op(Operator::Ne)
                    } else {
                        return error(at, "'!' must be followed by '='");
                    }
                }
                '<' => {
                    self.chars.next();
                    if self.eat('=') {
                        Token::Op(Operator::Le)
                    } else if self.eat('>') {
                        Token::Op(Operator::Ne)
                    } else {
                        Token::Op(Operator::Lt)
                    }
                }
                '>' => {
                    self.chars.next();
                    if self.eat('=') {
                        Token::Op(Operator::Ge)
                    } else {
                        Token::Op(Operator::Gt)
                    }
                }
                '\'' => Token::Str(self.string(at)?),
                '-' | '+' | '0'..='9' => self.number(at)?,
                c if c.is_ascii_alphabetic() || c == '_' => self.word_or_prefixed(at)?,
                other => return error(at, format!("unexpected character {other:?}")),
            };
            out.push((at, token));
        }
        Ok(out)
    }

    fn single(&mut self, token: Token) -> Token {
        self.chars.next();
        token
    }

    fn eat(&mut self, want: char) -> bool {
        self.chars.next_if(|&(_, c)| c == want).is_some()
    }

    /// A quoted string starting at the `'` under the cursor. Only `\'` and
    /// `\\` are escapes, as the grammar says.
    fn string(&mut self, start: usize) -> Result<String, PatternError> {
        self.chars.next();
        let mut value = String::new();
        loop {
            match self.chars.next() {
                None => return error(start, "string is not closed"),
                Some((_, '\'')) => return Ok(value),
                Some((at, '\\')) => match self.chars.next() {
                    Some((_, c @ ('\'' | '\\'))) => value.push(c),
                    Some((_, other)) => {
                        return error(at, format!("unknown escape \\{other} in string"));
                    }
                    None => return error(start, "string is not closed"),
                },
                Some((_, c)) => value.push(c),
            }
        }
    }

    fn number(&mut self, start: usize) -> Result<Token, PatternError> {
        let mut end = start;
        let mut seen_dot = false;
        let mut seen_digit = false;
        while let Some(&(at, c)) = self.chars.peek() {
            let fits = match c {
                '-' | '+' => at == start,
                '0'..='9' => {
                    seen_digit = true;
                    true
                }
                '.' if !seen_dot => {
                    seen_dot = true;
                    true
                }
                _ => false,
            };
            if !fits {
                break;
            }
            end = at + c.len_utf8();
            self.chars.next();
        }
        let text = self.text.get(start..end).unwrap_or_default();
        if !seen_digit {
            return error(start, format!("{text:?} is not a number"));
        }
        if seen_dot {
            text.parse::<f64>()
                .map(Token::Float)
                .or_else(|_| error(start, format!("{text:?} is not a number")))
        } else {
            text.parse::<i64>()
                .map(Token::Int)
                .or_else(|_| error(start, format!("{text:?} is out of range")))
        }
    }

    /// An identifier, or one of the prefixed literals `t'...'`, `b'...'`,
    /// `h'...'`.
    fn word_or_prefixed(&mut self, start: usize) -> Result<Token, PatternError> {
        let mut end = start;
        while let Some(&(at, c)) = self.chars.peek() {
            if !(c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                break;
            }
            end = at + c.len_utf8();
            self.chars.next();
        }
        let word = self.text.get(start..end).unwrap_or_default();
        if self.chars.peek().is_some_and(|&(_, c)| c == '\'') {
            let quote = end;
            return match word {
                "t" => {
                    let value = self.string(quote)?;
                    if time::OffsetDateTime::parse(
                        &value,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .is_err()
                    {
                        return error(start, format!("timestamp {value:?} is not RFC 3339"));
                    }
                    Ok(Token::Timestamp(value))
                }
                "b" => {
                    let value = self.string(quote)?;
                    if !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
                    {
                        return error(start, "binary literal is not base64");
                    }
                    Ok(Token::Binary(value))
                }
                "h" => {
                    let value = self.string(quote)?;
                    if value.len() % 2 != 0 || !value.chars().all(|c| c.is_ascii_hexdigit()) {
                        return error(start, "hex literal is not an even number of hex digits");
                    }
                    Ok(Token::Hex(value))
                }
                // `LIKE'%x'` without a space: the word ends here and the
                // string is the next token.
                _ => Ok(Token::Word(word.to_owned())),
            };
        }
        Ok(Token::Word(word.to_owned()))
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    end: usize,
    depth: usize,
}

/// Parse a STIX 2.1 pattern.
pub(crate) fn parse(text: &str) -> Result<Observation, PatternError> {
    let tokens = Lexer::new(text).tokens()?;
    let mut parser = Parser {
        tokens,
        next: 0,
        end: text.len(),
        depth: 0,
    };
    if parser.peek().is_none() {
        return error(0, "pattern is empty");
    }
    let pattern = parser.followed_by()?;
    match parser.peek_at() {
        None => Ok(pattern),
        Some((at, token)) => error(at, format!("unexpected {}", token.describe())),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(_, t)| t)
    }

    fn peek_at(&self) -> Option<(usize, &Token)> {
        self.tokens.get(self.next).map(|(at, t)| (*at, t))
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |(at, _)| *at)
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).map(|(_, t)| t.clone());
        if token.is_some() {
            self.next += 1;
        }
        token
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is_keyword(keyword))
    }

    fn expect(&mut self, want: &Token, what: &str) -> Result<(), PatternError> {
        let at = self.offset();
        match self.bump() {
            Some(ref token) if token == want => Ok(()),
            Some(token) => error(at, format!("expected {what}, found {}", token.describe())),
            None => error(at, format!("expected {what}, found the end")),
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), PatternError> {
        let at = self.offset();
        match self.bump() {
            Some(token) if token.is_keyword(keyword) => Ok(()),
            Some(token) => error(
                at,
                format!("expected {keyword}, found {}", token.describe()),
            ),
            None => error(at, format!("expected {keyword}, found the end")),
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return error(self.offset(), "pattern is nested too deeply");
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// `operand (KEYWORD operand)*` as one flat list; a single operand is
    /// returned as it is.
    fn chain<T>(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<T, PatternError>,
        join: fn(Vec<T>) -> T,
    ) -> Result<T, PatternError> {
        let first = operand(self)?;
        if !self.at_keyword(keyword) {
            return Ok(first);
        }
        let mut all = vec![first];
        while self.at_keyword(keyword) {
            self.bump();
            all.push(operand(self)?);
        }
        Ok(join(all))
    }

    fn followed_by(&mut self) -> Result<Observation, PatternError> {
        self.chain("FOLLOWEDBY", Self::observation_or, Observation::FollowedBy)
    }

    fn observation_or(&mut self) -> Result<Observation, PatternError> {
        self.chain("OR", Self::observation_and, Observation::Or)
    }

    fn observation_and(&mut self) -> Result<Observation, PatternError> {
        self.chain("AND", Self::qualified, Observation::And)
    }

    fn qualified(&mut self) -> Result<Observation, PatternError> {
        let observation = self.observation()?;
        let mut qualifiers = Vec::new();
        loop {
            let qualifier = if self.at_keyword("WITHIN") {
                self.bump();
                let at = self.offset();
                let seconds = match self.bump() {
                    Some(Token::Int(n)) if n > 0 => n.to_string(),
                    Some(Token::Float(x)) if x > 0.0 => x.to_string(),
                    _ => return error(at, "WITHIN needs a positive number of seconds"),
                };
                self.expect_keyword("SECONDS")?;
                Qualifier::Within(seconds)
            } else if self.at_keyword("REPEATS") {
                self.bump();
                let at = self.offset();
                let times = match self.bump() {
                    Some(Token::Int(n)) if n > 0 => n.unsigned_abs(),
                    _ => return error(at, "REPEATS needs a positive whole number"),
                };
                self.expect_keyword("TIMES")?;
                Qualifier::Repeats(times)
            } else if self.at_keyword("START") {
                self.bump();
                let start = self.timestamp("START")?;
                self.expect_keyword("STOP")?;
                let stop = self.timestamp("STOP")?;
                Qualifier::StartStop(start, stop)
            } else if qualifiers.is_empty() {
                return Ok(observation);
            } else {
                return Ok(Observation::Qualified(Box::new(observation), qualifiers));
            };
            qualifiers.push(qualifier);
        }
    }

    fn timestamp(&mut self, after: &str) -> Result<String, PatternError> {
        let at = self.offset();
        match self.bump() {
            Some(Token::Timestamp(value)) => Ok(value),
            _ => error(at, format!("{after} needs a timestamp t'...'")),
        }
    }

    fn observation(&mut self) -> Result<Observation, PatternError> {
        let at = self.offset();
        match self.bump() {
            Some(Token::LBracket) => {
                self.enter()?;
                let comparison = self.comparison_or()?;
                self.expect(&Token::RBracket, "']'")?;
                self.leave();
                Ok(Observation::Match(comparison))
            }
            Some(Token::LParen) => {
                self.enter()?;
                let inner = self.followed_by()?;
                self.expect(&Token::RParen, "')'")?;
                self.leave();
                Ok(inner)
            }
            Some(token) => error(
                at,
                format!("expected '[' or '(', found {}", token.describe()),
            ),
            None => error(at, "expected '[' or '(', found the end"),
        }
    }

    fn comparison_or(&mut self) -> Result<Comparison, PatternError> {
        self.chain("OR", Self::comparison_and, Comparison::Or)
    }

    fn comparison_and(&mut self) -> Result<Comparison, PatternError> {
        self.chain("AND", Self::test, Comparison::And)
    }

    fn test(&mut self) -> Result<Comparison, PatternError> {
        if self.peek() == Some(&Token::LParen) {
            self.bump();
            self.enter()?;
            let inner = self.comparison_or()?;
            self.expect(&Token::RParen, "')'")?;
            self.leave();
            return Ok(inner);
        }
        if self.at_keyword("EXISTS") {
            self.bump();
            return Ok(Comparison::Exists(self.path()?));
        }
        let path = self.path()?;
        let negated = self.at_keyword("NOT");
        if negated {
            self.bump();
        }
        let at = self.offset();
        let op = match self.bump() {
            Some(Token::Op(op)) => op,
            Some(Token::Word(word)) => match word.to_ascii_uppercase().as_str() {
                "IN" => Operator::In,
                "LIKE" => Operator::Like,
                "MATCHES" => Operator::Matches,
                "ISSUBSET" => Operator::IsSubset,
                "ISSUPERSET" => Operator::IsSuperset,
                _ => return error(at, format!("expected an operator, found {word:?}")),
            },
            Some(token) => {
                return error(
                    at,
                    format!("expected an operator, found {}", token.describe()),
                );
            }
            None => return error(at, "expected an operator, found the end"),
        };
        let at = self.offset();
        let value = match op {
            Operator::In => self.set()?,
            _ => self.literal()?,
        };
        let fits = match (op, &value) {
            (Operator::Eq | Operator::Ne, Literal::Set(_)) => false,
            (Operator::Eq | Operator::Ne | Operator::In, _) => true,
            (Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge, v) => {
                !matches!(v, Literal::Bool(_) | Literal::Set(_))
            }
            (Operator::Like | Operator::Matches | Operator::IsSubset | Operator::IsSuperset, v) => {
                matches!(v, Literal::String(_))
            }
        };
        if !fits {
            return error(at, format!("this kind of value cannot follow {op}"));
        }
        Ok(Comparison::Test {
            path,
            negated,
            op,
            value,
        })
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        let at = self.offset();
        match self.bump() {
            Some(Token::Str(s)) => Ok(Literal::String(s)),
            Some(Token::Int(n)) => Ok(Literal::Int(n)),
            Some(Token::Float(x)) => Ok(Literal::Float(x)),
            Some(Token::Timestamp(t)) => Ok(Literal::Timestamp(t)),
            Some(Token::Binary(b)) => Ok(Literal::Binary(b)),
            Some(Token::Hex(h)) => Ok(Literal::Hex(h)),
            Some(Token::Word(w)) if w == "true" => Ok(Literal::Bool(true)),
            Some(Token::Word(w)) if w == "false" => Ok(Literal::Bool(false)),
            Some(token) => error(at, format!("expected a value, found {}", token.describe())),
            None => error(at, "expected a value, found the end"),
        }
    }

    fn set(&mut self) -> Result<Literal, PatternError> {
        self.expect(&Token::LParen, "'(' to open a set")?;
        let mut items = vec![self.literal()?];
        while self.peek() == Some(&Token::Comma) {
            self.bump();
            items.push(self.literal()?);
        }
        self.expect(&Token::RParen, "')' to close the set")?;
        Ok(Literal::Set(items))
    }

    fn path(&mut self) -> Result<ObjectPath, PatternError> {
        let at = self.offset();
        let object_type = match self.bump() {
            Some(Token::Word(word)) => word,
            Some(token) => {
                return error(
                    at,
                    format!("expected an object type, found {}", token.describe()),
                );
            }
            None => return error(at, "expected an object type, found the end"),
        };
        self.expect(&Token::Colon, "':' after the object type")?;
        let mut steps = vec![Step::Property(self.property()?)];
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.bump();
                    steps.push(Step::Property(self.property()?));
                }
                Some(Token::LBracket) => {
                    self.bump();
                    let at = self.offset();
                    let index = match self.bump() {
                        Some(Token::Star) => None,
                        Some(Token::Int(n)) if n >= 0 => Some(n.unsigned_abs()),
                        _ => return error(at, "expected an index or '*'"),
                    };
                    self.expect(&Token::RBracket, "']' after the index")?;
                    steps.push(Step::Index(index));
                }
                _ => return Ok(ObjectPath { object_type, steps }),
            }
        }
    }

    fn property(&mut self) -> Result<String, PatternError> {
        let at = self.offset();
        match self.bump() {
            Some(Token::Word(word)) => Ok(word),
            Some(Token::Str(name)) => Ok(name),
            Some(token) => error(
                at,
                format!("expected a property name, found {}", token.describe()),
            ),
            None => error(at, "expected a property name, found the end"),
        }
    }
}

/// What [`harvest`] found in a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Harvest {
    /// Values to match, in pattern order, without repeats.
    pub values: Vec<(IndicatorType, String)>,
    /// What was passed over, and why (for the skip reason): the first
    /// [`MAX_NOTES`] distinct notes.
    pub passed_over: Vec<String>,
    /// How many more things were passed over.
    pub more: usize,
    seen: HashSet<(IndicatorType, String)>,
}

/// Notes kept for a skip reason; a reason is a line, not a report.
const MAX_NOTES: usize = 5;

/// The equality comparisons Warden can match: `=` on an address, domain,
/// URL, e-mail address or file hash, inside observations joined only by
/// `OR` and without qualifiers. Everything else is passed over, with a note.
///
/// Inside one observation both `OR` and `AND` are walked: under `AND` a
/// harvested value is one necessary part of the match, which is still the
/// part an analyst wants to hear about.
pub(crate) fn harvest(pattern: &Observation) -> Harvest {
    let mut out = Harvest::default();
    observation(pattern, &mut out);
    out
}

fn observation(pattern: &Observation, out: &mut Harvest) {
    match pattern {
        Observation::Match(comparison) => harvest_comparison(comparison, out),
        Observation::Or(all) => {
            for one in all {
                observation(one, out);
            }
        }
        Observation::And(_) => note(out, "observations joined by AND".into()),
        Observation::FollowedBy(_) => note(out, "observations joined by FOLLOWEDBY".into()),
        Observation::Qualified(_, qualifiers) => {
            for qualifier in qualifiers {
                note(out, format!("qualifier {}", qualifier.keyword()));
            }
        }
    }
}

fn harvest_comparison(comparison: &Comparison, out: &mut Harvest) {
    match comparison {
        Comparison::And(all) | Comparison::Or(all) => {
            for one in all {
                harvest_comparison(one, out);
            }
        }
        Comparison::Exists(path) => note(out, format!("EXISTS {path}")),
        Comparison::Test {
            path,
            negated,
            op,
            value,
        } => {
            let not = if *negated { "NOT " } else { "" };
            let Some(target) = target(path) else {
                note(out, format!("{path} is not matched"));
                return;
            };
            let (false, Operator::Eq, Literal::String(text)) = (negated, op, value) else {
                note(out, format!("{path} {not}{op}"));
                return;
            };
            match normalise(target, text) {
                Ok(value) => {
                    let kind = target.indicator_type();
                    if out.seen.insert((kind, value.clone())) {
                        out.values.push((kind, value));
                    }
                }
                Err(why) => note(out, format!("{path} {why}")),
            }
        }
    }
}

fn note(out: &mut Harvest, what: String) {
    if out.passed_over.contains(&what) {
        return;
    }
    if out.passed_over.len() < MAX_NOTES {
        out.passed_over.push(what);
    } else {
        out.more += 1;
    }
}

/// What a harvested comparison is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Ipv4,
    Ipv6,
    Other(IndicatorType),
}

impl Target {
    fn indicator_type(self) -> IndicatorType {
        match self {
            Target::Ipv4 | Target::Ipv6 => IndicatorType::Ip,
            Target::Other(kind) => kind,
        }
    }
}

fn target(path: &ObjectPath) -> Option<Target> {
    let property = |step: Option<&Step>| match step {
        Some(Step::Property(name)) => Some(name.to_ascii_lowercase()),
        _ => None,
    };
    let first = property(path.steps.first())?;
    let object = path.object_type.to_ascii_lowercase();
    match (object.as_str(), first.as_str(), path.steps.len()) {
        ("ipv4-addr", "value", 1) => Some(Target::Ipv4),
        ("ipv6-addr", "value", 1) => Some(Target::Ipv6),
        ("domain-name", "value", 1) => Some(Target::Other(IndicatorType::Domain)),
        ("url", "value", 1) => Some(Target::Other(IndicatorType::Url)),
        ("email-addr", "value", 1) => Some(Target::Other(IndicatorType::Email)),
        ("file", "hashes", 2) => {
            let name = property(path.steps.get(1))?
                .to_ascii_uppercase()
                .replace('-', "");
            match name.as_str() {
                "SHA256" => Some(Target::Other(IndicatorType::Sha256)),
                "SHA1" => Some(Target::Other(IndicatorType::Sha1)),
                "MD5" => Some(Target::Other(IndicatorType::Md5)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The value in the form alerts carry it (canonical addresses, host names
/// lower case without a trailing dot, hashes lower case), or why not.
fn normalise(target: Target, value: &str) -> Result<String, String> {
    let text = value.trim();
    let shown = shown(text);
    // A /32 or /128 network is one address; any other is a range.
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let kind = match target {
        Target::Ipv4 => {
            return match (address.parse::<Ipv4Addr>(), prefix) {
                (Ok(v4), None | Some("32")) => Ok(v4.to_string()),
                (Ok(_), Some(_)) => Err(format!("'{shown}' is a network range")),
                (Err(_), _) => Err(format!("'{shown}' is not an IPv4 address")),
            };
        }
        Target::Ipv6 => {
            return match (address.parse::<Ipv6Addr>(), prefix) {
                (Ok(v6), None | Some("128")) => Ok(v6.to_string()),
                (Ok(_), Some(_)) => Err(format!("'{shown}' is a network range")),
                (Err(_), _) => Err(format!("'{shown}' is not an IPv6 address")),
            };
        }
        Target::Other(kind) => kind,
    };
    match kind {
        IndicatorType::Domain => {
            let domain = text.trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() || domain.contains(char::is_whitespace) {
                Err(format!("'{shown}' is not a domain name"))
            } else {
                Ok(domain)
            }
        }
        IndicatorType::Sha256 | IndicatorType::Sha1 | IndicatorType::Md5 => {
            let (length, name) = match kind {
                IndicatorType::Sha256 => (64, "SHA-256"),
                IndicatorType::Sha1 => (40, "SHA-1"),
                _ => (32, "MD5"),
            };
            if text.len() == length && text.chars().all(|c| c.is_ascii_hexdigit()) {
                Ok(text.to_ascii_lowercase())
            } else {
                Err(format!("'{shown}' is not a valid {name} hash"))
            }
        }
        IndicatorType::Ip | IndicatorType::Url | IndicatorType::Email => {
            if text.is_empty() {
                Err("value is empty".into())
            } else {
                Ok(text.to_owned())
            }
        }
    }
}

/// A value as a note quotes it: at most 80 characters.
fn shown(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}
