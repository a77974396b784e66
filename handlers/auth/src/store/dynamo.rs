//! The [`UserStore`] on DynamoDB: a conditional `PutItem`, a consistent `GetItem`, and a conditional
//! `UpdateItem` for a reset.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use contract::table::PARTITION_KEY;

use super::{CREATED_AT_ATTRIBUTE, CreateOutcome, HASH_ATTRIBUTE, NFKC_ATTRIBUTE, StoreError, StoredUser, UserStore};
use crate::validate::Email;

/// The users table (`AUTH_TABLE_NAME`), partition key [`PARTITION_KEY`].
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore { client, table: table.into() }
    }
}

impl UserStore for DynamoStore {
    async fn create(&self, user: &StoredUser) -> Result<CreateOutcome, StoreError> {
        // Uniqueness is the condition on the write itself, never a read before it: two concurrent
        // signups of one email cannot both pass.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, AttributeValue::S(user.email.as_str().to_owned()))
            .item(HASH_ATTRIBUTE, AttributeValue::B(Blob::new(user.encrypted_hash.clone())))
            .item(CREATED_AT_ATTRIBUTE, AttributeValue::N(user.created_at.to_string()))
            .item(NFKC_ATTRIBUTE, AttributeValue::Bool(user.normalized))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(CreateOutcome::AlreadyExists)
            }
            Err(error) => Err(StoreError::Unavailable(format!("DynamoDB PutItem: {}", DisplayErrorContext(&error)))),
        }
    }

    async fn get(&self, email: &Email) -> Result<Option<StoredUser>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(email.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(format!("DynamoDB GetItem: {}", DisplayErrorContext(&e))))?;
        output.item.map(|item| user_from_item(email, &item)).transpose()
    }

    async fn set_password(&self, user: &StoredUser) -> Result<bool, StoreError> {
        // Conditional on the row: a reset never makes an account.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(user.email.as_str().to_owned()))
            .update_expression("SET #hash = :hash, #nfkc = :nfkc")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#hash", HASH_ATTRIBUTE)
            .expression_attribute_names("#nfkc", NFKC_ATTRIBUTE)
            .expression_attribute_values(":hash", AttributeValue::B(Blob::new(user.encrypted_hash.clone())))
            .expression_attribute_values(":nfkc", AttributeValue::Bool(user.normalized))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(error) => Err(StoreError::Unavailable(format!("DynamoDB UpdateItem: {}", DisplayErrorContext(&error)))),
        }
    }
}

fn user_from_item(email: &Email, item: &HashMap<String, AttributeValue>) -> Result<StoredUser, StoreError> {
    let encrypted_hash = match item.get(HASH_ATTRIBUTE) {
        Some(AttributeValue::B(blob)) => blob.as_ref().to_vec(),
        _ => return Err(StoreError::Corrupt(format!("attribute {HASH_ATTRIBUTE} is missing or not binary"))),
    };
    let created_at = match item.get(CREATED_AT_ATTRIBUTE) {
        Some(AttributeValue::N(number)) => number
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("attribute {CREATED_AT_ATTRIBUTE} is not a whole number")))?,
        _ => return Err(StoreError::Corrupt(format!("attribute {CREATED_AT_ATTRIBUTE} is missing or not a number"))),
    };
    let normalized = match item.get(NFKC_ATTRIBUTE) {
        None => false,
        Some(AttributeValue::Bool(b)) => *b,
        Some(_) => return Err(StoreError::Corrupt(format!("attribute {NFKC_ATTRIBUTE} is not a boolean"))),
    };
    Ok(StoredUser { email: email.clone(), encrypted_hash, created_at, normalized })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("alice@example.com").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_well_formed_item_is_read() {
        let item = HashMap::from([
            (PARTITION_KEY.to_owned(), AttributeValue::S("alice@example.com".into())),
            (HASH_ATTRIBUTE.to_owned(), AttributeValue::B(Blob::new(vec![1, 2, 3]))),
            (CREATED_AT_ATTRIBUTE.to_owned(), AttributeValue::N("1700000000".into())),
        ]);
        let user = user_from_item(&email(), &item).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(user.encrypted_hash, vec![1, 2, 3]);
        assert_eq!(user.created_at, 1_700_000_000);
    }

    #[test]
    fn malformed_items_are_corrupt_not_a_panic() {
        let cases = [
            vec![(CREATED_AT_ATTRIBUTE, AttributeValue::N("1".into()))],
            vec![
                (HASH_ATTRIBUTE, AttributeValue::S("text".into())),
                (CREATED_AT_ATTRIBUTE, AttributeValue::N("1".into())),
            ],
            vec![(HASH_ATTRIBUTE, AttributeValue::B(Blob::new(vec![1])))],
            vec![
                (HASH_ATTRIBUTE, AttributeValue::B(Blob::new(vec![1]))),
                (CREATED_AT_ATTRIBUTE, AttributeValue::N("1.5".into())),
            ],
        ];
        for case in cases {
            let item = case.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            assert!(matches!(user_from_item(&email(), &item), Err(StoreError::Corrupt(_))));
        }
    }
}
