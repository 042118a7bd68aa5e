//! Provider wire formats and the HTTP transport.
//!
//! (Being written: `openai`, `anthropic`, `HttpTransport`.)
