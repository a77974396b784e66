//! The [`SessionStore`] on DynamoDB: consistent `GetItem`s and conditional writes.
//!
//! A rotation is one `UpdateItem` conditional on the generation the caller read and on the session not
//! being revoked, so of any number of concurrent refreshes with one token exactly one rotates; the
//! others find the condition failed and read again. A revocation is an update conditional on the
//! session existing (it never creates an item). A user's "signed out everywhere" time only moves
//! forward. Every write sets the item's time to live, so DynamoDB deletes what no longer matters.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::AttributeValue;
use contract::sessions::{
    CREATED_AT, EXPIRES_AT, GENERATION, LAST_USED, PARTITION_KEY, PREVIOUS_HASH, REVOKED, ROTATED_AT, SEED, TOKEN_HASH,
    USER, VALID_AFTER,
};

use super::{SEED_BYTES, Session, SessionError, SessionId, SessionStore, Standing};

/// The sessions table (`AUTH_SESSIONS_TABLE_NAME`), partition key [`PARTITION_KEY`].
#[derive(Debug, Clone)]
pub struct DynamoSessions {
    client: Client,
    table: String,
}

impl DynamoSessions {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoSessions {
        DynamoSessions { client, table: table.into() }
    }

    async fn read(&self, key: String) -> Result<Option<HashMap<String, AttributeValue>>, SessionError> {
        self.read_only(key, &[]).await
    }

    /// The item at `key`, read consistently: only `attributes` when there are any.
    async fn read_only(
        &self,
        key: String,
        attributes: &[&str],
    ) -> Result<Option<HashMap<String, AttributeValue>>, SessionError> {
        let mut request = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key))
            .consistent_read(true);
        if !attributes.is_empty() {
            let names: Vec<String> = (0..attributes.len()).map(|i| format!("#a{i}")).collect();
            request = request.projection_expression(names.join(", "));
            for (name, attribute) in names.iter().zip(attributes) {
                request = request.expression_attribute_names(name, *attribute);
            }
        }
        let output = request
            .send()
            .await
            .map_err(|e| SessionError::Unavailable(format!("DynamoDB GetItem: {}", DisplayErrorContext(&e))))?;
        Ok(output.item)
    }
}

/// `session <32 hex digits>`.
pub fn session_key(id: &SessionId) -> String {
    format!("session {id}")
}

/// `user <normalized email>`.
pub fn user_key(user: &str) -> String {
    format!("user {user}")
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// `Ok(true)` after an update, `Ok(false)` when its condition did not hold.
fn conditional(result: Result<UpdateItemOutput, SdkError<UpdateItemError>>) -> Result<bool, SessionError> {
    match result {
        Ok(_) => Ok(true),
        Err(error) if error.as_service_error().is_some_and(UpdateItemError::is_conditional_check_failed_exception) => {
            Ok(false)
        }
        Err(error) => Err(SessionError::Unavailable(format!("DynamoDB UpdateItem: {}", DisplayErrorContext(&error)))),
    }
}

fn read_number(item: &HashMap<String, AttributeValue>, name: &str) -> Result<u64, SessionError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| SessionError::Corrupt(format!("{name} is missing or not a whole number")))
}

fn read_revoked(item: &HashMap<String, AttributeValue>) -> Result<bool, SessionError> {
    match item.get(REVOKED) {
        None => Ok(false),
        Some(AttributeValue::Bool(b)) => Ok(*b),
        Some(_) => Err(SessionError::Corrupt(format!("{REVOKED} is not a boolean"))),
    }
}

fn read_user(item: &HashMap<String, AttributeValue>) -> Result<String, SessionError> {
    item.get(USER)
        .and_then(|v| v.as_s().ok())
        .filter(|s| !s.is_empty())
        .cloned()
        .ok_or_else(|| SessionError::Corrupt(format!("{USER} is missing")))
}

/// What the authorizer needs of a session item.
pub fn standing_from_item(item: &HashMap<String, AttributeValue>) -> Result<Standing, SessionError> {
    Ok(Standing { user: read_user(item)?, revoked: read_revoked(item)?, expires_at: read_number(item, EXPIRES_AT)? })
}

/// A session from its item.
pub fn session_from_item(id: SessionId, item: &HashMap<String, AttributeValue>) -> Result<Session, SessionError> {
    let user = read_user(item)?;
    let text = |name: &str| -> Result<String, SessionError> {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .filter(|s| !s.is_empty())
            .cloned()
            .ok_or_else(|| SessionError::Corrupt(format!("{name} is missing")))
    };
    let seed = super::from_hex::<SEED_BYTES>(&text(SEED)?)
        .ok_or_else(|| SessionError::Corrupt(format!("{SEED} is not {SEED_BYTES} bytes of hex")))?;
    let revoked = read_revoked(item)?;
    Ok(Session {
        id,
        user,
        generation: read_number(item, GENERATION)?,
        created_at: read_number(item, CREATED_AT)?,
        last_used: read_number(item, LAST_USED)?,
        rotated_at: read_number(item, ROTATED_AT)?,
        revoked,
        seed,
        token_hash: text(TOKEN_HASH)?,
        previous_hash: text(PREVIOUS_HASH).ok(),
    })
}

impl SessionStore for DynamoSessions {
    async fn create(&self, session: &Session, expires_at: u64) -> Result<(), SessionError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, AttributeValue::S(session_key(&session.id)))
            .item(USER, AttributeValue::S(session.user.clone()))
            .item(GENERATION, number(session.generation))
            .item(CREATED_AT, number(session.created_at))
            .item(LAST_USED, number(session.last_used))
            .item(ROTATED_AT, number(session.rotated_at))
            .item(REVOKED, AttributeValue::Bool(session.revoked))
            .item(SEED, AttributeValue::S(hex::encode(session.seed)))
            .item(TOKEN_HASH, AttributeValue::S(session.token_hash.clone()))
            .item(EXPIRES_AT, number(expires_at))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(PutItemError::is_conditional_check_failed_exception) => {
                Err(SessionError::Exists)
            }
            Err(error) => Err(SessionError::Unavailable(format!("DynamoDB PutItem: {}", DisplayErrorContext(&error)))),
        }
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, SessionError> {
        self.read(session_key(id)).await?.map(|item| session_from_item(*id, &item)).transpose()
    }

    async fn rotate(
        &self,
        id: &SessionId,
        from: u64,
        next_hash: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<bool, SessionError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(session_key(id)))
            .update_expression(
                "SET #gen = :next, #previous = #hash, #hash = :hash, #used = :now, #rotated = :now, #expires = :expires",
            )
            .expression_attribute_names("#previous", PREVIOUS_HASH)
            .expression_attribute_names("#hash", TOKEN_HASH)
            .expression_attribute_values(":hash", AttributeValue::S(next_hash.to_owned()))
            .condition_expression("#gen = :from AND #revoked = :false")
            .expression_attribute_names("#gen", GENERATION)
            .expression_attribute_names("#used", LAST_USED)
            .expression_attribute_names("#rotated", ROTATED_AT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#revoked", REVOKED)
            .expression_attribute_values(":from", number(from))
            .expression_attribute_values(":next", number(from + 1))
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":expires", number(expires_at))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        conditional(result)
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, SessionError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(session_key(id)))
            .update_expression("SET #revoked = :true")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#revoked", REVOKED)
            .expression_attribute_names("#id", PARTITION_KEY)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        conditional(result)
    }

    async fn standing(&self, id: &SessionId) -> Result<Option<Standing>, SessionError> {
        let Some(item) = self.read_only(session_key(id), &[USER, REVOKED, EXPIRES_AT]).await? else { return Ok(None) };
        standing_from_item(&item).map(Some)
    }

    async fn valid_after(&self, user: &str) -> Result<Option<u64>, SessionError> {
        match self.read(user_key(user)).await? {
            Some(item) => read_number(&item, VALID_AFTER).map(Some),
            None => Ok(None),
        }
    }

    async fn end_all(&self, user: &str, now: u64, expires_at: u64) -> Result<(), SessionError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(user_key(user)))
            .update_expression("SET #after = :now, #expires = :expires")
            .condition_expression("attribute_not_exists(#after) OR #after <= :now")
            .expression_attribute_names("#after", VALID_AFTER)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":expires", number(expires_at))
            .send()
            .await;
        // A failed condition means a later sign-out everywhere is already stored: nothing to do.
        conditional(result).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn a_well_formed_item_is_read_and_a_malformed_one_is_corrupt_not_a_panic() {
        let id = SessionId::from_bytes([7; 16]);
        let good = item(&[
            (USER, AttributeValue::S("a@example.com".into())),
            (GENERATION, number(3)),
            (CREATED_AT, number(10)),
            (LAST_USED, number(20)),
            (ROTATED_AT, number(20)),
            (REVOKED, AttributeValue::Bool(false)),
            (SEED, AttributeValue::S("ab".repeat(32))),
            (TOKEN_HASH, AttributeValue::S("cd".repeat(32))),
        ]);
        let session = session_from_item(id, &good).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((session.generation, session.created_at, session.revoked), (3, 10, false));
        for (name, bad) in [
            (USER, AttributeValue::N("1".into())),
            (GENERATION, AttributeValue::S("three".into())),
            (REVOKED, AttributeValue::S("no".into())),
            (SEED, AttributeValue::S("zz".repeat(32))),
        ] {
            let mut broken = good.clone();
            broken.insert(name.to_owned(), bad);
            assert!(matches!(session_from_item(id, &broken), Err(SessionError::Corrupt(_))), "{name}");
        }
        assert_eq!(session_key(&id), format!("session {}", "07".repeat(16)));
    }
}
