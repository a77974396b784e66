//! The [`AttemptStore`] on DynamoDB: a consistent `GetItem` and conditional `UpdateItem`s.
//!
//! An attempt is claimed by one of two updates, each conditional on the state it expects and both on
//! the count not being locked: `ADD failures 1` while the stored window is open and below the limit,
//! or a new window (`failures = 1`) when there is no item or its window is over. When neither holds,
//! a consistent read tells why: locked (refused), a full window whose lock was never written (locked
//! now), or a concurrent request that moved the window (the loop tries again). So of any number of
//! concurrent attempts at most the limit are let through. A lock may only move `locked_until` later.
//! Each write also moves the item's time to live, so DynamoDB deletes the counts once they no longer
//! matter.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use contract::attempts::{EXPIRES_AT, FAILURES, LOCKED_UNTIL, PARTITION_KEY, WINDOW_START};

use super::{AttemptStore, Attempts, AttemptsError, Claim, CounterKey, LockoutPolicy};

/// How often a failure is retried when concurrent requests keep moving the window under it; each
/// round loses only to a write that itself succeeded, so more than two rounds means a bug or a flood.
const MAX_ROUNDS: usize = 8;

/// The attempts table (`AUTH_ATTEMPTS_TABLE_NAME`), partition key [`PARTITION_KEY`] holding a [`CounterKey`].
#[derive(Debug, Clone)]
pub struct DynamoAttempts {
    client: Client,
    table: String,
}

impl DynamoAttempts {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoAttempts {
        DynamoAttempts { client, table: table.into() }
    }

    /// An `UpdateItem` of `key`'s item that returns the whole item after the update, with the
    /// attribute names it uses bound (DynamoDB refuses names an expression does not use).
    fn update(&self, key: &CounterKey, names: &[(&str, &str)]) -> UpdateItemFluentBuilder {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.as_str().to_owned()))
            .return_values(ReturnValue::AllNew);
        for (placeholder, name) in names {
            update = update.expression_attribute_names(*placeholder, *name);
        }
        update
    }
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// `Ok(Some(item))` after an update, `Ok(None)` when its condition did not hold.
fn conditional(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError>>,
) -> Result<Option<HashMap<String, AttributeValue>>, AttemptsError> {
    match result {
        Ok(output) => Ok(Some(output.attributes.unwrap_or_default())),
        Err(error) if error.as_service_error().is_some_and(UpdateItemError::is_conditional_check_failed_exception) => {
            Ok(None)
        }
        Err(error) => Err(AttemptsError::Unavailable(format!("DynamoDB UpdateItem: {}", DisplayErrorContext(&error)))),
    }
}

impl AttemptStore for DynamoAttempts {
    async fn get(&self, key: &CounterKey) -> Result<Option<Attempts>, AttemptsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AttemptsError::Unavailable(format!("DynamoDB GetItem: {}", DisplayErrorContext(&e))))?;
        output.item.map(|item| attempts_from_item(&item)).transpose()
    }

    async fn claim(
        &self,
        key: &CounterKey,
        now: u64,
        policy: &LockoutPolicy,
    ) -> Result<Result<Attempts, u64>, AttemptsError> {
        let cutoff = number(policy.window_cutoff(now));
        let expires = number(policy.expires_at(now));
        let names =
            [("#failures", FAILURES), ("#window", WINDOW_START), ("#expires", EXPIRES_AT), ("#locked", LOCKED_UNTIL)];
        for _ in 0..MAX_ROUNDS {
            // One more attempt in the open window, below the limit.
            let added = self
                .update(key, &names)
                .update_expression("ADD #failures :one SET #expires = :expires")
                .condition_expression(
                    "#window > :cutoff AND #failures < :max AND (attribute_not_exists(#locked) OR #locked <= :now)",
                )
                .expression_attribute_values(":one", number(1))
                .expression_attribute_values(":expires", expires.clone())
                .expression_attribute_values(":cutoff", cutoff.clone())
                .expression_attribute_values(":max", number(u64::from(policy.max_failures)))
                .expression_attribute_values(":now", number(now))
                .send()
                .await;
            if let Some(item) = conditional(added)? {
                return attempts_from_item(&item).map(Ok);
            }
            // No item, or its window is over: this attempt opens a new one.
            let opened = self
                .update(key, &names)
                .update_expression("SET #failures = :one, #window = :now, #expires = :expires")
                .condition_expression(
                    "(attribute_not_exists(#window) OR #window <= :cutoff) AND (attribute_not_exists(#locked) OR \
                     #locked <= :now)",
                )
                .expression_attribute_values(":one", number(1))
                .expression_attribute_values(":now", number(now))
                .expression_attribute_values(":expires", expires.clone())
                .expression_attribute_values(":cutoff", cutoff.clone())
                .send()
                .await;
            if let Some(item) = conditional(opened)? {
                return attempts_from_item(&item).map(Ok);
            }
            // Neither: locked, full, or moved by a concurrent attempt.
            match policy.claim(self.get(key).await?, now) {
                Claim::Locked(seconds) => return Ok(Err(seconds)),
                Claim::LockNow => {
                    self.lock(key, now, policy).await?;
                    return Ok(Err(policy.cooldown_seconds));
                }
                Claim::Count(_) => {}
            }
        }
        Err(AttemptsError::Unavailable(format!(
            "the window kept moving under {MAX_ROUNDS} attempts to count a sign-in"
        )))
    }

    async fn lock(&self, key: &CounterKey, now: u64, policy: &LockoutPolicy) -> Result<(), AttemptsError> {
        let locked = policy.locked(now);
        let result = self
            .update(
                key,
                &[
                    ("#failures", FAILURES),
                    ("#window", WINDOW_START),
                    ("#expires", EXPIRES_AT),
                    ("#locked", LOCKED_UNTIL),
                ],
            )
            .update_expression("SET #locked = :until, #failures = :zero, #window = :until, #expires = :expires")
            .condition_expression("attribute_not_exists(#locked) OR #locked < :until")
            .expression_attribute_values(":until", number(locked.window_start))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":expires", number(policy.lock_expires_at(now)))
            .send()
            .await;
        // A failed condition: a lock at least as long is already there.
        conditional(result).map(|_| ())
    }

    async fn release(&self, key: &CounterKey, window_start: u64) -> Result<(), AttemptsError> {
        let result = self
            .update(key, &[("#failures", FAILURES), ("#window", WINDOW_START)])
            .update_expression("ADD #failures :minus_one")
            .condition_expression("#window = :window AND #failures > :zero")
            .expression_attribute_values(":minus_one", AttributeValue::N("-1".to_owned()))
            .expression_attribute_values(":window", number(window_start))
            .expression_attribute_values(":zero", number(0))
            .send()
            .await;
        // The window moved on (or the item expired): there is nothing left to give back.
        conditional(result).map(|_| ())
    }

    async fn reset(&self, key: &CounterKey) -> Result<(), AttemptsError> {
        let result = self
            .update(key, &[("#failures", FAILURES), ("#locked", LOCKED_UNTIL), ("#window", WINDOW_START)])
            .update_expression("SET #failures = :zero REMOVE #locked")
            .condition_expression("attribute_exists(#window)")
            .expression_attribute_values(":zero", number(0))
            .send()
            .await;
        // No item: nothing to reset (the time to live removed it).
        conditional(result).map(|_| ())
    }
}

fn attempts_from_item(item: &HashMap<String, AttributeValue>) -> Result<Attempts, AttemptsError> {
    let read = |name: &str| -> Result<Option<u64>, AttemptsError> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(n)) => n
                .parse()
                .map(Some)
                .map_err(|_| AttemptsError::Corrupt(format!("attribute {name} is not a whole number"))),
            Some(_) => Err(AttemptsError::Corrupt(format!("attribute {name} is not a number"))),
        }
    };
    let failures = read(FAILURES)?.ok_or_else(|| AttemptsError::Corrupt(format!("attribute {FAILURES} is missing")))?;
    Ok(Attempts {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        window_start: read(WINDOW_START)?
            .ok_or_else(|| AttemptsError::Corrupt(format!("attribute {WINDOW_START} is missing")))?,
        locked_until: read(LOCKED_UNTIL)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_read_and_malformed_ones_are_corrupt() {
        let item = HashMap::from([
            (FAILURES.to_owned(), number(3)),
            (WINDOW_START.to_owned(), number(1_700_000_000)),
            (LOCKED_UNTIL.to_owned(), number(1_700_000_900)),
        ]);
        assert_eq!(
            attempts_from_item(&item),
            Ok(Attempts { failures: 3, window_start: 1_700_000_000, locked_until: Some(1_700_000_900) })
        );
        let cases = [
            HashMap::from([(WINDOW_START.to_owned(), number(1))]),
            HashMap::from([(FAILURES.to_owned(), number(1))]),
            HashMap::from([(FAILURES.to_owned(), AttributeValue::S("1".into())), (WINDOW_START.to_owned(), number(1))]),
            HashMap::from([
                (FAILURES.to_owned(), AttributeValue::N("1.5".into())),
                (WINDOW_START.to_owned(), number(1)),
            ]),
        ];
        for item in cases {
            assert!(matches!(attempts_from_item(&item), Err(AttemptsError::Corrupt(_))), "{item:?}");
        }
    }
}
