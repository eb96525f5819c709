//! Rate limits by query cost, per principal: a leaky bucket per token subject or API key (and per
//! client address for anonymous callers) holds up to a budget of points and refills at a
//! restore rate; every request is charged its document's cost before anything runs.
//!
//! With Redis, the buckets live there and every replica shares them: one Lua script refills,
//! checks and debits atomically, on Redis's own clock, so replicas' clocks do not matter.
//! Without Redis, or while it fails (its calls share the cache's timeout and circuit breaker),
//! each process keeps its own buckets: a fault in Redis never fails a request.

use crate::auth::{Caller, Role};
use crate::cache::{Cache, RedisBackend};
use redis::Script;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The budgets in force unless configured otherwise (`role=maximum:restore per second`).
pub use crate::config::DEFAULT_RATE_LIMITS;

/// One bucket's size and refill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Points the bucket holds when full.
    pub maximum: u64,
    /// Points restored per second.
    pub restore_rate: u64,
}

/// Budgets by role, and for callers without credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    roles: HashMap<Role, Budget>,
    anonymous: Budget,
}

impl RateLimits {
    /// Reads `role=maximum:restore,...`; roles not named keep their default budget.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut limits = Self::defaults();
        limits.apply(text)?;
        Ok(limits)
    }

    fn defaults() -> Self {
        let mut limits = Self {
            roles: HashMap::new(),
            anonymous: Budget {
                maximum: 0,
                restore_rate: 1,
            },
        };
        // The default text is a constant that parses.
        let _ = limits.apply(DEFAULT_RATE_LIMITS);
        limits
    }

    fn apply(&mut self, text: &str) -> Result<(), String> {
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || format!("rate limit `{entry}` is not `role=maximum:restore_per_second`");
            let (who, budget) = entry.split_once('=').ok_or_else(bad)?;
            let (maximum, restore) = budget.split_once(':').ok_or_else(bad)?;
            let budget = Budget {
                maximum: maximum.trim().parse().map_err(|_| bad())?,
                restore_rate: restore.trim().parse().map_err(|_| bad())?,
            };
            if budget.maximum == 0 || budget.restore_rate == 0 {
                return Err(format!(
                    "rate limit `{entry}`: both numbers must be above 0"
                ));
            }
            match who.trim() {
                "anonymous" => self.anonymous = budget,
                role => {
                    let role: Role = role.parse()?;
                    self.roles.insert(role, budget);
                }
            }
        }
        Ok(())
    }

    /// The budget of a principal of `role`, or of an anonymous caller.
    pub fn budget(&self, role: Option<Role>) -> Budget {
        role.and_then(|r| self.roles.get(&r).copied())
            .unwrap_or(self.anonymous)
    }
}

/// A bucket after a request was weighed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Status {
    pub budget: Budget,
    /// Points left now.
    pub available: f64,
}

/// What a bucket said to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Charged; the bucket as it is now.
    Allowed(Status),
    /// Not charged: too few points. Enough are back after `retry_after` seconds.
    Throttled { status: Status, retry_after: u64 },
}

/// Refills `level` for `elapsed` seconds and takes `cost` if it is there: the new level, and
/// whether the cost was taken.
fn refill_and_take(level: f64, elapsed: f64, budget: Budget, cost: f64) -> (f64, bool) {
    let level = (level + elapsed.max(0.0) * budget.restore_rate as f64).min(budget.maximum as f64);
    if cost <= level {
        (level - cost, true)
    } else {
        (level, false)
    }
}

fn decide(level: f64, taken: bool, budget: Budget, cost: f64) -> Decision {
    let status = Status {
        budget,
        available: level,
    };
    if taken {
        Decision::Allowed(status)
    } else {
        let missing = (cost - level).max(0.0);
        Decision::Throttled {
            status,
            retry_after: ((missing / budget.restore_rate as f64).ceil() as u64).max(1),
        }
    }
}

/// Refills by the time elapsed on Redis's clock, checks and debits, in one step.
/// KEYS[1]: the bucket; ARGV: maximum, restore rate per second, cost. Returns whether the cost
/// was taken and the level after.
const BUCKET_SCRIPT: &str = r#"
local maximum = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(saved[1])
local at = tonumber(saved[2])
if level == nil or at == nil then level = maximum at = now end
level = math.min(maximum, level + math.max(0, now - at) * rate)
local taken = 0
if cost <= level then
  level = level - cost
  taken = 1
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(maximum / rate * 1000) + 1000)
return {taken, tostring(level)}
"#;

/// A bucket kept in this process.
#[derive(Debug, Clone, Copy)]
struct Local {
    level: f64,
    at: Instant,
}

/// Buckets kept in this process beyond which full ones are forgotten.
const LOCAL_BUCKETS: usize = 10_000;

/// Every bucket of the service.
pub struct Limiter {
    limits: RateLimits,
    local: Mutex<HashMap<String, Local>>,
    redis: Option<Arc<RedisBackend>>,
    prefix: String,
    script: Script,
}

impl Limiter {
    /// Buckets sized by `limits`, in the cache's Redis when it has one.
    pub fn new(limits: RateLimits, cache: &Cache) -> Self {
        Self {
            limits,
            local: Mutex::new(HashMap::new()),
            redis: cache.redis(),
            prefix: cache.prefix().to_owned(),
            script: Script::new(BUCKET_SCRIPT),
        }
    }

    /// The bucket of a caller: its principal (token subject or API key) by the role's budget,
    /// or, without credentials, its address by the anonymous budget.
    pub fn subject(&self, caller: &Caller, peer: Option<IpAddr>) -> (String, Budget) {
        match caller.principal() {
            Some(p) => (
                format!("principal:{}", p.actor),
                self.limits.budget(Some(p.role)),
            ),
            None => (
                format!(
                    "address:{}",
                    peer.map_or_else(|| "unknown".into(), |a| a.to_string())
                ),
                self.limits.budget(None),
            ),
        }
    }

    /// Charges `cost` to `subject`'s bucket if it holds that much (a cost of 0 only reads it).
    pub async fn take(&self, subject: &str, budget: Budget, cost: u64) -> Decision {
        let cost = cost as f64;
        if let Some(redis) = &self.redis {
            let key = format!("{}:rate:{subject}", self.prefix);
            let script = &self.script;
            let answer = redis
                .call(|mut c| async move {
                    script
                        .key(key)
                        .arg(budget.maximum)
                        .arg(budget.restore_rate)
                        .arg(cost)
                        .invoke_async::<(i64, String)>(&mut c)
                        .await
                })
                .await;
            if let Ok((taken, level)) = answer {
                if let Ok(level) = level.parse::<f64>() {
                    return decide(level, taken == 1, budget, cost);
                }
            }
        }
        self.take_local(subject, budget, cost)
    }

    fn take_local(&self, subject: &str, budget: Budget, cost: f64) -> Decision {
        let now = Instant::now();
        let mut buckets = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= LOCAL_BUCKETS && !buckets.contains_key(subject) {
            // A full bucket holds nothing worth remembering.
            let full = |b: &Local| {
                refill_and_take(b.level, (now - b.at).as_secs_f64(), budget, 0.0).0
                    >= budget.maximum as f64
            };
            buckets.retain(|_, b| !full(b));
        }
        let bucket = buckets.entry(subject.to_owned()).or_insert(Local {
            level: budget.maximum as f64,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        let (level, taken) = refill_and_take(bucket.level, elapsed, budget, cost);
        *bucket = Local { level, at: now };
        decide(level, taken, budget, cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Budget = Budget {
        maximum: 100,
        restore_rate: 10,
    };

    #[test]
    fn budgets_parse_with_defaults_for_roles_not_named() {
        let limits = RateLimits::parse("officer=50:5, anonymous=10:1").unwrap();
        assert_eq!(
            limits.budget(Some(Role::Officer)),
            Budget {
                maximum: 50,
                restore_rate: 5
            }
        );
        assert_eq!(limits.budget(None).maximum, 10);
        assert_eq!(limits.budget(Some(Role::Admin)).maximum, 20_000);
        for bad in [
            "officer=50",
            "officer=x:1",
            "chief=1:1",
            "officer=0:1",
            "officer",
        ] {
            assert!(RateLimits::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_bucket_refills_up_to_its_maximum_and_never_charges_a_refusal() {
        assert_eq!(refill_and_take(100.0, 0.0, B, 30.0), (70.0, true));
        assert_eq!(refill_and_take(20.0, 0.0, B, 30.0), (20.0, false));
        assert_eq!(refill_and_take(20.0, 1.0, B, 30.0), (0.0, true));
        assert_eq!(refill_and_take(90.0, 60.0, B, 0.0), (100.0, true));
        match decide(20.0, false, B, 45.0) {
            Decision::Throttled { retry_after, .. } => assert_eq!(retry_after, 3),
            other => panic!("{other:?}"),
        }
    }
}
