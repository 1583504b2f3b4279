//! A node's refusal as the CLI receives it: the HTTP status and the SPEC's
//! error code and message (SPEC §7). Said to the user by `i18n`; made by
//! `client` and `receipt`.

use serde_json::Value;

/// A non-2xx answer: status and the SPEC's error code and message.
#[derive(Debug, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct NodeError {
    /// HTTP status.
    pub status: u16,
    /// SPEC error code.
    pub code: String,
    /// Message.
    pub message: String,
}

impl NodeError {
    /// Reads `{"error":{"code","message"}}`, or describes what came instead.
    pub fn from_answer(status: u16, body: &[u8]) -> NodeError {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let field = |f: &str| v["error"][f].as_str().map(str::to_string);
        NodeError {
            status,
            code: field("code").unwrap_or_else(|| format!("http_{status}")),
            message: field("message")
                .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into()),
        }
    }
}
