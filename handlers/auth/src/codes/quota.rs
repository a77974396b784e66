//! How many mails an address may be sent: at most [`MailLimits::per_hour`] in any clock hour and
//! [`MailLimits::per_day`] in any UTC day, whoever asks, so that signup and password reset cannot be
//! turned into a way to flood someone's inbox. The counters live beside the codes
//! (`mail <mailbox> h<hour>`, `mail <mailbox> d<day>`), each expiring after its window, and count per
//! [`mailbox`]: the `+tag`s of one address share its limits.

use std::future::Future;

use super::CodeError;

/// The most mails one address is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailLimits {
    pub per_hour: u32,
    pub per_day: u32,
}

/// Three an hour (a resend or two), ten a day.
pub const DEFAULT_MAIL_LIMITS: MailLimits = MailLimits { per_hour: 3, per_day: 10 };

/// One counted window: its key, its limit and when its counter may be forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub key: String,
    pub limit: u32,
    pub expires_at: u64,
}

/// The hour's window, then the day's, for `email` at `now`. The hour is taken first: requests the hour
/// refuses count for nothing, so a burst cannot use up the day; a mail the day refuses has at most used
/// a place of the hour (stricter, never looser).
pub fn windows(email: &str, now: u64, limits: MailLimits) -> [Window; 2] {
    let (hour, day) = (now / 3_600, now / 86_400);
    let email = mailbox(email);
    [
        Window { key: format!("mail {email} h{hour}"), limit: limits.per_hour, expires_at: (hour + 1) * 3_600 },
        Window { key: format!("mail {email} d{day}"), limit: limits.per_day, expires_at: (day + 1) * 86_400 },
    ]
}

/// The inbox an address reaches, as far as the service can tell: the local part's `+tag` dropped, since
/// `ann+1@example.com` and `ann+2@example.com` reach ann@example.com at most providers. Provider-specific
/// spellings (Gmail ignores dots) are not folded: only a provider knows its own.
pub fn mailbox(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
        None => email.to_owned(),
    }
}

/// Where the counters are kept.
pub trait MailQuota: Send + Sync {
    /// Counts one mail in `window` unless it is full: `Ok(false)` when it was.
    fn take(&self, window: &Window) -> impl Future<Output = Result<bool, CodeError>> + Send;
}

impl<T: MailQuota + ?Sized> MailQuota for std::sync::Arc<T> {
    fn take(&self, window: &Window) -> impl Future<Output = Result<bool, CodeError>> + Send {
        (**self).take(window)
    }
}

/// Whether `email` may be sent one more mail at `now`, counting it when so.
pub async fn may_send(quota: &impl MailQuota, email: &str, now: u64, limits: MailLimits) -> Result<bool, CodeError> {
    for window in windows(email, now, limits) {
        if !quota.take(&window).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::memory::MemoryCodes;

    const MIDNIGHT: u64 = 1_800_000_000 / 86_400 * 86_400;

    /// The attack: one address asked for again and again, as fast as the API answers.
    #[tokio::test]
    async fn an_address_is_sent_at_most_its_hours_and_its_days_mails() {
        let store = MemoryCodes::new();
        let limits = MailLimits { per_hour: 3, per_day: 5 };
        let mut sent = 0;
        for _ in 0..20 {
            sent += u32::from(may_send(&store, "ann@example.com", MIDNIGHT + 10, limits).await.unwrap_or_default());
        }
        assert_eq!(sent, 3, "the hour's limit");
        // The burst used none of the day: the next hour allows two more, the day's limit being five.
        let mut later = 0;
        for _ in 0..20 {
            later += u32::from(may_send(&store, "ann@example.com", MIDNIGHT + 3_610, limits).await.unwrap_or_default());
        }
        assert_eq!(later, 2, "the day's limit");
        // Another address is counted on its own, and the next day starts again.
        assert!(may_send(&store, "bob@example.com", MIDNIGHT + 3_610, limits).await.unwrap_or_default());
        assert!(may_send(&store, "ann@example.com", MIDNIGHT + 86_400, limits).await.unwrap_or_default());
    }

    /// The attack: one inbox flooded through its `+tag` addresses, each a new address to the service.
    #[tokio::test]
    async fn tagged_addresses_share_their_inboxs_limits() {
        let store = MemoryCodes::new();
        let mut sent = 0;
        for n in 0..20 {
            let tagged = format!("ann+{n}@example.com");
            sent += u32::from(may_send(&store, &tagged, MIDNIGHT + 10, DEFAULT_MAIL_LIMITS).await.unwrap_or_default());
        }
        assert_eq!(sent, DEFAULT_MAIL_LIMITS.per_hour);
        assert!(!may_send(&store, "ann@example.com", MIDNIGHT + 10, DEFAULT_MAIL_LIMITS).await.unwrap_or(true));
        assert_eq!(mailbox("a+b+c@example.com"), "a@example.com");
    }

    #[test]
    fn windows_expire_when_they_end() {
        let [hour, day] = windows("ann@example.com", MIDNIGHT + 3_700, DEFAULT_MAIL_LIMITS);
        assert_eq!((day.expires_at, hour.expires_at), (MIDNIGHT + 86_400, MIDNIGHT + 7_200));
        assert_ne!(day.key, hour.key);
    }
}
