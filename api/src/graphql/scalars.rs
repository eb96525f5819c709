//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date in ISO 8601 form, e.g. `"2019-12-31"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

/// A calendar date in ISO 8601 form, e.g. `"2019-12-31"`.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    InputValueError::custom(format!("`{s}` is not a date of the form YYYY-MM-DD"))
                }),
            // Worded as every refused value is, so that it is coded `BAD_USER_INPUT` alike.
            other => Err(InputValueError::custom(format!(
                "a date is a string of the form YYYY-MM-DD, not {other}"
            ))),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

/// Maps an optional stored date to the scalar.
pub fn date(d: Option<NaiveDate>) -> Option<Date> {
    d.map(Date)
}
