//! The [`CodeStore`] on DynamoDB: one item per purpose and address, written whole by each new code,
//! spent by conditional writes. A try is an `UpdateItem` conditional on the tag the guess was judged
//! against and a try being left; the right code is a `DeleteItem` conditional on the same and on the
//! code being alive, returning the old item: of concurrent callers with one code, exactly one gets
//! what it unlocks. Every item carries its time to live, so DynamoDB removes dead codes.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use contract::codes::{EXPIRES_AT, PARTITION_KEY, PAYLOAD, TAG, TRIES_LEFT};

use super::quota::{MailQuota, Window};
use super::{CodeError, CodeStore, Issued, Kept, Purpose};

/// A mail counter's count.
const COUNT: &str = "count";

impl MailQuota for DynamoCodes {
    /// One `UpdateItem` adding one, conditional on the count being under the limit: concurrent mails to
    /// one address are counted one by one, and no more than the limit get through.
    async fn take(&self, window: &Window) -> Result<bool, CodeError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(window.key.clone()))
            .update_expression("ADD #count :one SET #expires = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":limit", number(u64::from(window.limit)))
            .expression_attribute_values(":expires", number(window.expires_at))
            .send()
            .await;
        updated(result)
    }
}

/// The codes table (`AUTH_CODES_TABLE_NAME`), partition key [`PARTITION_KEY`].
#[derive(Debug, Clone)]
pub struct DynamoCodes {
    client: Client,
    table: String,
}

impl DynamoCodes {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoCodes {
        DynamoCodes { client, table: table.into() }
    }
}

/// `<purpose> <normalized email>`.
pub fn code_key(purpose: Purpose, email: &str) -> String {
    format!("{} {email}", purpose.as_str())
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn unavailable(what: &str, error: impl std::error::Error) -> CodeError {
    CodeError::Unavailable(format!("DynamoDB {what}: {}", DisplayErrorContext(error)))
}

impl CodeStore for DynamoCodes {
    async fn put(&self, email: &str, issued: &Issued, payload: Option<&[u8]>) -> Result<(), CodeError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, AttributeValue::S(code_key(issued.purpose, email)))
            .item(TAG, AttributeValue::B(Blob::new(issued.tag.to_vec())))
            .item(TRIES_LEFT, number(u64::from(issued.tries_left)))
            .item(EXPIRES_AT, number(issued.expires_at));
        if let Some(payload) = payload {
            request = request.item(PAYLOAD, AttributeValue::B(Blob::new(payload.to_vec())));
        }
        request.send().await.map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    async fn get(&self, email: &str, purpose: Purpose) -> Result<Option<Kept>, CodeError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(code_key(purpose, email)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        output.item.map(|item| kept_from_item(purpose, &item)).transpose()
    }

    async fn spend_try(&self, email: &str, purpose: Purpose, tag: &[u8; 32]) -> Result<bool, CodeError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(code_key(purpose, email)))
            .update_expression("SET #tries = #tries - :one")
            .condition_expression("#tag = :tag AND #tries > :zero")
            .expression_attribute_names("#tries", TRIES_LEFT)
            .expression_attribute_names("#tag", TAG)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":tag", AttributeValue::B(Blob::new(tag.to_vec())))
            .send()
            .await;
        updated(result)
    }

    async fn consume(
        &self,
        email: &str,
        purpose: Purpose,
        tag: &[u8; 32],
        now: u64,
    ) -> Result<Option<Option<Vec<u8>>>, CodeError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(code_key(purpose, email)))
            .condition_expression("#tag = :tag AND #tries > :zero AND #expires > :now")
            .expression_attribute_names("#tag", TAG)
            .expression_attribute_names("#tries", TRIES_LEFT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":tag", AttributeValue::B(Blob::new(tag.to_vec())))
            .expression_attribute_values(":zero", number(0))
            .expression_attribute_values(":now", number(now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => {
                let old = output.attributes.unwrap_or_default();
                Ok(Some(old.get(PAYLOAD).and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec())))
            }
            Err(e) if condition_failed_delete(&e) => Ok(None),
            Err(e) => Err(unavailable("DeleteItem", e)),
        }
    }
}

/// `Ok(true)` after a conditional update, `Ok(false)` when its condition did not hold.
fn updated(result: Result<UpdateItemOutput, SdkError<UpdateItemError>>) -> Result<bool, CodeError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(UpdateItemError::is_conditional_check_failed_exception) => Ok(false),
        Err(e) => Err(unavailable("UpdateItem", e)),
    }
}

fn condition_failed_delete(error: &SdkError<DeleteItemError>) -> bool {
    error.as_service_error().is_some_and(DeleteItemError::is_conditional_check_failed_exception)
}

/// What a code item holds.
pub fn kept_from_item(purpose: Purpose, item: &HashMap<String, AttributeValue>) -> Result<Kept, CodeError> {
    let whole = |name: &str| -> Result<u64, CodeError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| CodeError::Corrupt(format!("{name} is missing or not a whole number")))
    };
    let tag: [u8; 32] = item
        .get(TAG)
        .and_then(|v| v.as_b().ok())
        .and_then(|b| b.as_ref().try_into().ok())
        .ok_or_else(|| CodeError::Corrupt(format!("{TAG} is missing or not 32 bytes")))?;
    let tries_left =
        u32::try_from(whole(TRIES_LEFT)?).map_err(|_| CodeError::Corrupt(format!("{TRIES_LEFT} is too large")))?;
    Ok(Kept {
        issued: Issued { purpose, tag, expires_at: whole(EXPIRES_AT)?, tries_left },
        payload: item.get(PAYLOAD).and_then(|v| v.as_b().ok()).map(|b| b.as_ref().to_vec()),
    })
}
