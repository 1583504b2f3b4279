//! One error type for every route: `{"error":{"code","message","details"?}}`
//! ([`ErrorBody`]) with the SPEC §7 status, both from [`Code`]; a refusal's
//! ids and numbers travel as `details` ([`Detail`]). Internal errors are
//! logged with detail and answered without it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger::code::{Code, Detail, ErrorAnswer, ErrorBody};
use ledger::rules::Refusal;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// SPEC code.
    pub code: Code,
    /// What to tell the client.
    pub message: String,
    /// The ids and numbers of a refusal.
    pub detail: Option<Detail>,
    /// Answered `307 Temporary Redirect` to this URL instead of the code's
    /// status: a standby's answer to a submission, naming the writer.
    pub redirect: Option<String>,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            detail: None,
            redirect: None,
        }
    }
    /// An error with `code` about `detail`, said in English as the message.
    pub fn because(code: Code, detail: Detail) -> ApiError {
        ApiError {
            code,
            message: detail.to_string(),
            detail: Some(detail),
            redirect: None,
        }
    }
    /// `not_found` of the `thing` (`entry`, `org`, `fund`, …) with `id`.
    pub fn no(thing: &str, id: impl std::fmt::Display) -> ApiError {
        let detail = Detail::NotFound {
            thing: thing.to_owned(),
            id: id.to_string(),
        };
        ApiError::because(Code::NotFound, detail)
    }
    /// `schema_violation` for a bad query parameter or body shape.
    pub fn bad_param(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::SchemaViolation, message)
    }
    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::NotFound, message)
    }
    /// `internal`: the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(Code::Internal, "internal error")
    }
    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).expect("SPEC statuses are valid")
    }
    /// The JSON body `{"error":{"code","message","details"?}}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorAnswer {
                code: self.code,
                message: self.message.clone(),
                details: self.detail.clone(),
            },
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError {
            code: r.code,
            message: r.message,
            detail: r.detail,
            redirect: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self.redirect {
            Some(to) => (
                StatusCode::TEMPORARY_REDIRECT,
                [(axum::http::header::LOCATION, to.clone())],
                Json(self.body()),
            )
                .into_response(),
            None => (self.status(), Json(self.body())).into_response(),
        }
    }
}
