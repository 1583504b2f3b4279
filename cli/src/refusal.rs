//! A node's refusal as the CLI receives it: the HTTP status and the SPEC's
//! error code, message and details (SPEC §7, [`ErrorBody`]). Said to the
//! user by `i18n` and `explain` from the code and the details, never by
//! reading the English message; made by `client` and `receipt`, and from
//! the rules' own refusals checked here before signing.

use std::fmt;

use ledger::code::{Code, Detail, ErrorBody};
use ledger::rules::Refusal;

/// A non-2xx answer, or a refusal of the rules checked locally.
#[derive(Debug, Clone)]
pub struct NodeError {
    /// HTTP status.
    pub status: u16,
    /// SPEC error code; `None` when the answer was not the SPEC's error
    /// (a proxy's page, a server that is not a node).
    pub code: Option<Code>,
    /// The node's words (English).
    pub message: String,
    /// The refusal's ids and numbers, when it has them.
    pub detail: Option<Detail>,
}

impl NodeError {
    /// An error body the node sent with `status`.
    pub fn from_body(status: u16, ErrorBody { error }: ErrorBody) -> NodeError {
        NodeError {
            status,
            code: Some(error.code),
            message: error.message,
            detail: error.details,
        }
    }

    /// Reads `{"error":{"code","message","details"?}}`, or describes what
    /// came instead.
    pub fn from_answer(status: u16, body: &[u8]) -> NodeError {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(body) => NodeError::from_body(status, body),
            Err(_) => NodeError {
                status,
                code: None,
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into(),
                detail: None,
            },
        }
    }

    /// The code as the SPEC writes it, or `http_<status>` when the answer
    /// had none.
    pub fn code_str(&self) -> String {
        match self.code {
            Some(c) => c.as_str().to_owned(),
            None => format!("http_{}", self.status),
        }
    }
}

impl From<Refusal> for NodeError {
    fn from(r: Refusal) -> NodeError {
        NodeError {
            status: r.code.http_status(),
            code: Some(r.code),
            message: r.message,
            detail: r.detail,
        }
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code_str(), self.status, self.message)
    }
}

impl std::error::Error for NodeError {}
