//! Charging each request its cost against the caller's rate-limit bucket
//! ([`crate::ratelimit`]), and reporting it in `extensions.cost`.
//!
//! The cost is the document's complexity as validation computes it (see [`super::limits`] for
//! the model). It is charged right after validation, before any resolver or SQL runs; a request
//! the bucket cannot pay for is refused whole with `THROTTLED` and charged nothing. The actual
//! cost is the requested cost: a page that comes back shorter than asked is not refunded, so a
//! client can always predict its charge from its document.

use super::errors::refusal;
use crate::error::Code;
use crate::ratelimit::{Budget, Decision, Limiter, Status};
use async_graphql::extensions::ExtensionContext;
use async_graphql::{ServerError, ValidationResult, Value};
use std::sync::{Arc, Mutex};

/// One request's meter: whose bucket it draws on, and what was charged. Put in the request's
/// data by the HTTP layer, which reads [`Meter::retry_after`] back to answer 429.
pub struct Meter {
    limiter: Arc<Limiter>,
    subject: String,
    budget: Budget,
    charged: Mutex<Option<Charge>>,
}

#[derive(Debug, Clone, Copy)]
struct Charge {
    cost: u64,
    status: Status,
    retry_after: Option<u64>,
}

impl Meter {
    /// A meter drawing on `subject`'s bucket of `budget`.
    pub fn new(limiter: Arc<Limiter>, subject: String, budget: Budget) -> Arc<Self> {
        Arc::new(Self {
            limiter,
            subject,
            budget,
            charged: Mutex::new(None),
        })
    }

    /// The cost charged (or refused) for this request's document, once it was computed.
    pub fn requested_cost(&self) -> Option<u64> {
        self.charge().map(|c| c.cost)
    }

    /// Seconds until the bucket could pay for the refused request; `None` unless throttled.
    pub fn retry_after(&self) -> Option<u64> {
        self.charge().and_then(|c| c.retry_after)
    }

    fn charge(&self) -> Option<Charge> {
        *self.charged.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, charge: Charge) {
        *self.charged.lock().unwrap_or_else(|e| e.into_inner()) = Some(charge);
    }

    /// Charges `cost` to the bucket; a refusal is the error to answer with (`THROTTLED`, or
    /// `QUERY_TOO_COSTLY` beyond the whole budget), and then nothing is charged.
    pub async fn pay(&self, cost: u64) -> Result<(), ServerError> {
        if cost > self.budget.maximum {
            let decision = self.limiter.take(&self.subject, self.budget, 0).await;
            let status = match decision {
                Decision::Allowed(s) | Decision::Throttled { status: s, .. } => s,
            };
            self.record(Charge {
                cost,
                status,
                retry_after: None,
            });
            return Err(refusal(
                format!(
                    "the query costs {cost} points, more than your whole budget of {}",
                    self.budget.maximum
                ),
                Code::QueryTooCostly,
            ));
        }
        match self.limiter.take(&self.subject, self.budget, cost).await {
            Decision::Allowed(status) => {
                self.record(Charge {
                    cost,
                    status,
                    retry_after: None,
                });
                Ok(())
            }
            Decision::Throttled {
                status,
                retry_after,
            } => {
                self.record(Charge {
                    cost,
                    status,
                    retry_after: Some(retry_after),
                });
                Err(refusal(
                    format!(
                        "the query costs {cost} points and {} are available; retry in {retry_after} s",
                        status.available.floor()
                    ),
                    Code::Throttled,
                ))
            }
        }
    }

    /// `extensions.cost` of the response (the HTTP layer adds it: the engine's request hook
    /// runs before the request's data is attached).
    pub async fn report(&self) -> Value {
        let charge = match self.charge() {
            Some(c) => c,
            // The document never reached the charge (it did not parse or validate): nothing was
            // charged, and the bucket is shown as it stands.
            None => {
                let status = match self.limiter.take(&self.subject, self.budget, 0).await {
                    Decision::Allowed(s) | Decision::Throttled { status: s, .. } => s,
                };
                Charge {
                    cost: 0,
                    status,
                    retry_after: None,
                }
            }
        };
        let charged = if charge.retry_after.is_some() || charge.cost > self.budget.maximum {
            0
        } else {
            charge.cost
        };
        let json = serde_json::json!({
            "requestedQueryCost": charge.cost,
            "actualQueryCost": charged,
            "throttleStatus": {
                "maximumAvailable": charge.status.budget.maximum,
                "currentlyAvailable": charge.status.available.floor() as u64,
                "restoreRate": charge.status.budget.restore_rate,
            },
        });
        Value::from_json(json).unwrap_or(Value::Null)
    }
}

/// Charges the validated document's cost to the request's [`Meter`]; nothing for a request
/// without one. Run right after validation by [`super::rules::Rules`].
pub async fn charge(
    ctx: &ExtensionContext<'_>,
    result: &ValidationResult,
) -> Result<(), ServerError> {
    match ctx.data_opt::<Arc<Meter>>() {
        Some(meter) => meter.pay(result.complexity as u64).await,
        None => Ok(()),
    }
}
