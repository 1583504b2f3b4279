//! One error type for every route: `{"error":{"code","message"}}` with the
//! SPEC §7 status. Internal errors are logged with detail and answered
//! without it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ledger::rules::{Code, Refusal};
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// SPEC code.
    pub code: &'static str,
    /// What to tell the client.
    pub message: String,
}

impl ApiError {
    /// An error with `code` (a SPEC code string).
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
    /// `schema_violation` for a bad query parameter or body shape.
    pub fn bad_param(message: impl Into<String>) -> ApiError {
        ApiError::new("schema_violation", message)
    }
    /// `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("not_found", message)
    }
    /// `internal`: the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new("internal", "internal error")
    }
    /// The HTTP status of a SPEC code.
    pub fn status(code: &str) -> StatusCode {
        match code {
            "malformed_json" | "schema_violation" | "bad_signature" => StatusCode::BAD_REQUEST,
            "unknown_key" | "key_revoked" | "role_missing" => StatusCode::FORBIDDEN,
            "not_found" => StatusCode::NOT_FOUND,
            "method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
            "nonce_conflict" => StatusCode::CONFLICT,
            "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "rule_violation" | "pii_detected" => StatusCode::UNPROCESSABLE_ENTITY,
            "overloaded" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    /// The JSON body `{"error":{"code","message"}}`.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        if r.code == Code::Internal {
            return ApiError::internal(r.message);
        }
        ApiError::new(r.code.as_str(), r.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (ApiError::status(self.code), Json(self.body())).into_response()
    }
}
