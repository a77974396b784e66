//! A command run as a person with the emulator's credentials, and nothing of this machine's AWS setup:
//! no profile, region, endpoint or credentials file of the developer's reaches a test.

use std::path::Path;
use std::process::Command;

/// `command` with test credentials; `dir` is a scratch directory (its missing files stand for none).
pub fn as_person<'a>(command: &'a mut Command, dir: &Path) -> &'a mut Command {
    command
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION")
        .env_remove("AWS_ENDPOINT_URL")
}
