//! The audit of what a response shows unmasked, written before it leaves.

use super::protocol::Rejection;
use super::AppState;
use crate::auth::audit::{self};
use crate::graphql::RequestId;

/// Audits the records a response shows unmasked, before it leaves: personal data leaves only on
/// record, so when the audit cannot be written the response is withheld. A connection lost
/// under the insert (a database restart, a killed backend) is retried once: the pool checks a
/// connection before handing it out, so the retry runs on a live one. When the database still
/// cannot be reached the client is told to come back (503, `Retry-After`).
pub(super) async fn audit_reads(
    state: &AppState,
    who: &crate::auth::Principal,
    request_id: &RequestId,
    purpose: Option<&str>,
    reads: &[(&'static str, String)],
) -> Result<(), Rejection> {
    if reads.is_empty() {
        return Ok(());
    }
    let record = || audit::record_reads(&state.db, who, &request_id.0, purpose, reads);
    let outcome = match record().await {
        Err(e) if crate::error::is_unavailable(&e) => {
            tracing::warn!(request_id = %request_id.0, error = %e, "audit of unmasked reads lost its connection; retrying");
            record().await
        }
        outcome => outcome,
    };
    outcome.map_err(|e| {
        tracing::error!(request_id = %request_id.0, error = %e, "cannot audit unmasked reads; response withheld");
        if crate::error::is_unavailable(&e) {
            Rejection::database_unavailable()
        } else {
            Rejection::internal()
        }
    })
}
