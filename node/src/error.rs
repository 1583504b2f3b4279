//! One error type for every route: `{"error":{"code","message"}}` with the
//! SPEC §7 status, both from [`Code`]. Internal errors are logged with
//! detail and answered without it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger::code::Code;
use ledger::rules::Refusal;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// SPEC code.
    pub code: Code,
    /// What to tell the client.
    pub message: String,
}

impl ApiError {
    /// An error with `code`.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
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
    /// The JSON body `{"error":{"code","message"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::new(r.code, r.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}
