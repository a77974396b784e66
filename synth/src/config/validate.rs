//! The checks between `stages.toml` as written ([`super::raw`]) and the model ([`super::Stage`]): every
//! value against what AWS accepts, with its span, and each stage resolved over `[defaults]` and the
//! built-in fallbacks.

use std::collections::BTreeMap;
use std::ops::Range;

use contract::Function;
use toml::Spanned;

use super::error::Source;
use super::rate_limits::{FALLBACK_IP_RATE_LIMITS, RawIpRateLimits};
use super::raw::{RawConfig, RawDomain, RawFunction, RawLayer, STAGE_ONLY};
use super::{
    ArnKind, Config, ConfigError, Domain, FALLBACK, FALLBACK_CACHE_TTL, FALLBACK_LOCKOUT, FALLBACK_PASSWORD_MIN_CHARS,
    FALLBACK_SESSION, FALLBACK_THROTTLE, FALLBACK_TOKEN_LIFETIME, FunctionSettings, Lockout, MAX_NAME_LEN, MAX_TAGS,
    Provision, RETENTION_DAYS, SessionLifetimes, Stage, Throttle, arn,
};

/// A layer's settings per function, by function, each with the span of its name.
type Functions<'r> = BTreeMap<Function, (Range<usize>, &'r RawFunction)>;

/// What every stage is resolved against: the project's name, its top-level region and architecture,
/// `[defaults]` and `[pipeline]`.
struct Project<'r> {
    name: &'r str,
    region: &'r str,
    architecture: super::Architecture,
    defaults: &'r RawLayer,
    default_functions: &'r Functions<'r>,
    pipeline: &'r Option<super::pipeline::RawPipeline>,
}

/// A stage over `[defaults]`: each setting the stage leaves out comes from `[defaults]`, then from the
/// built-in fallback.
struct Inherit<'r> {
    stage: &'r RawLayer,
    defaults: &'r RawLayer,
}

impl Inherit<'_> {
    fn number(&self, key: fn(&RawLayer) -> &Option<Spanned<u32>>, fallback: u32) -> u32 {
        pick(&[key(self.stage), key(self.defaults)], fallback)
    }

    fn value<T: Copy>(&self, key: fn(&RawLayer) -> &Option<Spanned<T>>, fallback: T) -> T {
        key(self.stage).as_ref().or(key(self.defaults).as_ref()).map_or(fallback, |v| *v.get_ref())
    }

    /// Where the setting that counts was written, if anywhere.
    fn span<T>(&self, key: fn(&RawLayer) -> &Option<Spanned<T>>) -> Option<Range<usize>> {
        key(self.stage).as_ref().or(key(self.defaults).as_ref()).map(Spanned::span)
    }
}

pub(super) struct Validator<'a> {
    pub(super) src: Source<'a>,
    /// The functions every stage has.
    pub(super) all: &'a [Function],
}

/// Lambda's highest account concurrency quota by default is 1000; raised quotas go further.
const MAX_RESERVED_CONCURRENCY: u32 = 10_000;

impl Validator<'_> {
    pub(super) fn err(&self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> ConfigError {
        self.src.error(Some(span), message, help)
    }

    pub(super) fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let project = self.name(&raw.project, "project", MAX_NAME_LEN)?;
        self.region(&raw.region)?;
        self.only_in_a_stage(&raw.defaults)?;
        let default_functions = self.layer(&raw.defaults)?;

        let stages_span = raw.stages.span();
        let raw_stages = raw.stages.into_inner();
        if raw_stages.is_empty() {
            return Err(self.err(
                stages_span,
                "no stages defined",
                "add a section such as [stages.dev] with at least a region",
            ));
        }
        let context = Project {
            name: &project,
            region: raw.region.get_ref(),
            architecture: raw.architecture,
            defaults: &raw.defaults,
            default_functions: &default_functions,
            pipeline: &raw.pipeline,
        };
        let mut stages = BTreeMap::new();
        let mut spans = BTreeMap::new();
        let mut mappings: BTreeMap<(String, Option<String>), String> = BTreeMap::new();
        for (name, raw_stage) in raw_stages {
            let stage = self.stage(&context, &name, raw_stage)?;
            spans.insert(stage.name.clone(), name.span());
            if let Some(domain) = &stage.domain {
                let key = (domain.name.clone(), domain.base_path.clone());
                if let Some(other) = mappings.insert(key, stage.name.clone()) {
                    return Err(self.err(
                        name.span(),
                        format!("stages `{other}` and `{}` map the same base path of {}", stage.name, domain.name),
                        "give each stage its own domain.base_path",
                    ));
                }
            }
            stages.insert(stage.name.clone(), stage);
        }
        self.pipelines_apart(&stages, &spans, &project)?;
        self.mail_identities_apart(&stages, &spans)?;
        self.names_apart(&spans, &project)?;
        let mut functions = self.all.to_vec();
        functions.sort();
        Ok(Config { project, stages, functions })
    }

    /// `dev` and `dev-eu` would share every `<project>-dev-*` name pattern: a policy scoped to one stage's
    /// names would reach the other's.
    fn names_apart(&self, spans: &BTreeMap<String, Range<usize>>, project: &str) -> Result<(), ConfigError> {
        for (name, span) in spans {
            if let Some(other) = spans.keys().find(|o| name.starts_with(&format!("{o}-"))) {
                return Err(self.err(
                    span.clone(),
                    format!("stage `{name}` begins with stage `{other}` and a hyphen"),
                    format!(
                        "rename one: names scoped to stage {other} (`{project}-{other}-*`) would also match {name}'s"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Refuses in `[defaults]` the keys only a stage has.
    fn only_in_a_stage(&self, defaults: &RawLayer) -> Result<(), ConfigError> {
        let spans = [
            ("region", defaults.region.as_ref().map(Spanned::span)),
            ("account", defaults.account.as_ref().map(Spanned::span)),
            ("protect", defaults.protect.as_ref().map(Spanned::span)),
            ("artifact_bucket", defaults.artifact_bucket.as_ref().map(Spanned::span)),
            ("architecture", defaults.architecture.as_ref().map(Spanned::span)),
            ("table", defaults.table.as_ref().map(Spanned::span)),
            ("key", defaults.key.as_ref().map(Spanned::span)),
            ("secret", defaults.secret.as_ref().map(Spanned::span)),
            ("domain", defaults.domain.as_ref().map(Spanned::span)),
            ("mail", defaults.mail.as_ref().map(Spanned::span)),
            ("pipeline", defaults.pipeline.as_ref().map(Spanned::span)),
        ];
        debug_assert!(spans.iter().map(|(k, _)| *k).eq(STAGE_ONLY.iter().copied()), "every stage-only key is checked");
        match spans.into_iter().find_map(|(key, span)| span.map(|s| (key, s))) {
            Some((key, span)) => Err(self.err(
                span,
                format!("`{key}` is a stage's own setting; [defaults] cannot give it"),
                match key {
                    "region" | "architecture" => "set it at the top of the file, or in each [stages.<name>]".to_owned(),
                    "pipeline" => {
                        "the project's pipeline is [pipeline]; a stage's own settings are [stages.<name>.pipeline]"
                            .to_owned()
                    }
                    "mail" => "each stage sends as its own address, under an identity of its own account and region: \
                               set `mail` in each [stages.<name>] that sends mail"
                        .to_owned(),
                    _ => format!("set `{key}` in each [stages.<name>] that needs it"),
                },
            )),
            None => Ok(()),
        }
    }

    /// Checks every inherited setting of one layer (`[defaults]` or a stage) and returns its settings per
    /// function, by function.
    fn layer<'r>(&self, layer: &'r RawLayer) -> Result<Functions<'r>, ConfigError> {
        self.settings_values(
            &layer.memory_mb,
            &layer.timeout_seconds,
            &layer.log_retention_days,
            &layer.reserved_concurrency,
        )?;
        self.stage_values(&layer.token_lifetime_seconds, &layer.authorizer_cache_ttl_seconds, &layer.throttle)?;
        self.password_min_chars(&layer.password_min_chars)?;
        self.lockout(&layer.lockout)?;
        self.session(&layer.session)?;
        self.ip_rate_limits(&layer.ip_rate_limits)?;
        self.tags(&layer.tags)?;
        self.functions(&layer.functions)
    }

    /// A name made of `[a-z][a-z0-9-]*`, at most `max` characters.
    fn name(&self, name: &Spanned<String>, what: &str, max: usize) -> Result<String, ConfigError> {
        let n = name.get_ref();
        let valid = n.len() <= max
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !n.ends_with('-')
            && !n.contains("--");
        if !valid {
            return Err(self.err(
                name.span(),
                format!("invalid {what} name `{n}`"),
                format!(
                    "use lowercase letters, digits and single hyphens, starting with a letter, at most {max} characters"
                ),
            ));
        }
        Ok(n.clone())
    }

    fn region(&self, region: &Spanned<String>) -> Result<(), ConfigError> {
        let r = region.get_ref();
        let parts: Vec<&str> = r.split('-').collect();
        let valid = (3..=4).contains(&parts.len())
            && parts[0].len() == 2
            && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        if valid {
            Ok(())
        } else {
            Err(self.err(
                region.span(),
                format!("`{r}` is not an AWS region"),
                "use a region code such as `us-east-1` or `eu-west-2`",
            ))
        }
    }

    fn range(&self, value: &Option<Spanned<u32>>, key: &str, min: u32, max: u32, why: &str) -> Result<(), ConfigError> {
        match value {
            Some(v) if !(min..=max).contains(v.get_ref()) => Err(self.err(
                v.span(),
                format!("{key} = {} is out of range", v.get_ref()),
                format!("use a value from {min} to {max}{why}"),
            )),
            _ => Ok(()),
        }
    }

    fn settings_values(
        &self,
        memory: &Option<Spanned<u32>>,
        timeout: &Option<Spanned<u32>>,
        retention: &Option<Spanned<u32>>,
        reserved: &Option<Spanned<u32>>,
    ) -> Result<(), ConfigError> {
        self.range(memory, "memory_mb", 128, 10240, " (Lambda's limits)")?;
        self.range(
            reserved,
            "reserved_concurrency",
            1,
            MAX_RESERVED_CONCURRENCY,
            ": 0 would stop the function; it counts against the account's concurrency limit (1000 unless raised), \
             of which Lambda keeps 100 unreserved",
        )?;
        self.range(timeout, "timeout_seconds", 1, 29, ": API Gateway gives up on an integration after 29 s")?;
        if let Some(r) = retention
            && !RETENTION_DAYS.contains(r.get_ref())
        {
            return Err(self.err(
                r.span(),
                format!("log_retention_days = {} is not a retention CloudWatch Logs offers", r.get_ref()),
                format!("use one of {RETENTION_DAYS:?}"),
            ));
        }
        Ok(())
    }

    fn stage_values(
        &self,
        lifetime: &Option<Spanned<u32>>,
        ttl: &Option<Spanned<u32>>,
        throttle: &Option<Spanned<Throttle>>,
    ) -> Result<(), ConfigError> {
        self.range(lifetime, "token_lifetime_seconds", 60, 86400, " (one minute to one day)")?;
        self.range(ttl, "authorizer_cache_ttl_seconds", 0, 3600, " (API Gateway's limits; 0 turns caching off)")?;
        if let Some(t) = throttle {
            let Throttle { rate_limit, burst_limit } = *t.get_ref();
            if !(rate_limit > 0.0 && rate_limit <= 10000.0) || burst_limit == 0 || burst_limit > 5000 {
                return Err(self.err(
                    t.span(),
                    format!("throttle rate_limit = {rate_limit}, burst_limit = {burst_limit} is out of range"),
                    "use a rate_limit above 0 and at most 10000 requests per second, and a burst_limit from 1 to 5000",
                ));
            }
        }
        Ok(())
    }

    fn password_min_chars(&self, value: &Option<Spanned<u32>>) -> Result<(), ConfigError> {
        self.range(
            value,
            "password_min_chars",
            8,
            64,
            ": NIST SP 800-63B allows no fewer than 8, and 15 for a password that is the only factor",
        )
    }

    fn lockout(&self, lockout: &Option<Spanned<Lockout>>) -> Result<(), ConfigError> {
        let Some(l) = lockout else { return Ok(()) };
        let Lockout { max_failures, window_seconds, cooldown_seconds, daily_per_address, daily_per_email } =
            *l.get_ref();
        let bad = if !(3..=100).contains(&max_failures) {
            Some(format!("lockout max_failures = {max_failures} is out of range"))
        } else if !(60..=86_400).contains(&window_seconds) {
            Some(format!("lockout window_seconds = {window_seconds} is out of range"))
        } else if !(60..=86_400).contains(&cooldown_seconds) {
            Some(format!("lockout cooldown_seconds = {cooldown_seconds} is out of range"))
        } else if !(max_failures..=10_000).contains(&daily_per_address) {
            Some(format!("lockout daily_per_address = {daily_per_address} is out of range"))
        } else if !(daily_per_address..=100_000).contains(&daily_per_email) {
            Some(format!("lockout daily_per_email = {daily_per_email} is out of range"))
        } else {
            None
        };
        match bad {
            Some(message) => Err(self.err(
                l.span(),
                message,
                "use max_failures from 3 to 100 (fewer stops a user who mistypes twice), window_seconds and \
                 cooldown_seconds from 60 to 86400, daily_per_address from max_failures to 10000, and \
                 daily_per_email from daily_per_address to 100000",
            )),
            None => Ok(()),
        }
    }

    fn session(&self, session: &Option<Spanned<SessionLifetimes>>) -> Result<(), ConfigError> {
        let Some(s) = session else { return Ok(()) };
        let SessionLifetimes { absolute_seconds, idle_seconds, grace_seconds } = *s.get_ref();
        let bad = if !(3600..=31_536_000).contains(&absolute_seconds) {
            Some(format!("session absolute_seconds = {absolute_seconds} is out of range"))
        } else if !(300..=absolute_seconds).contains(&idle_seconds) {
            Some(format!("session idle_seconds = {idle_seconds} is out of range"))
        } else if grace_seconds > 60 {
            Some(format!("session grace_seconds = {grace_seconds} is out of range"))
        } else {
            None
        };
        match bad {
            Some(message) => Err(self.err(
                s.span(),
                message,
                "use absolute_seconds from 3600 (an hour) to 31536000 (a year), idle_seconds from 300 to \
                 absolute_seconds, and grace_seconds from 0 (no grace: any repeat ends the session) to 60",
            )),
            None => Ok(()),
        }
    }

    fn tags(&self, tags: &BTreeMap<Spanned<String>, Spanned<String>>) -> Result<(), ConfigError> {
        for (k, v) in tags {
            if k.get_ref().is_empty() || k.get_ref().len() > 128 || k.get_ref().to_ascii_lowercase().starts_with("aws:")
            {
                return Err(self.err(
                    k.span(),
                    format!("invalid tag key `{}`", k.get_ref()),
                    "use 1 to 128 characters, not starting with `aws:`",
                ));
            }
            if v.get_ref().len() > 256 {
                return Err(self.err(v.span(), "tag value is longer than 256 characters", "shorten the value"));
            }
        }
        Ok(())
    }

    fn functions<'r>(&self, raw: &'r BTreeMap<Spanned<String>, RawFunction>) -> Result<Functions<'r>, ConfigError> {
        let mut out = BTreeMap::new();
        for (name, settings) in raw {
            let Some(function) = Function::find(self.all, name.get_ref()).cloned() else {
                let known: Vec<&str> = self.all.iter().map(|f| f.name()).collect();
                return Err(self.err(
                    name.span(),
                    format!("no function named `{}` is declared", name.get_ref()),
                    format!(
                        "functions are {}, each declared in handlers/<name>/Cargo.toml; delete these settings if the \
                         function was removed",
                        known.join(", ")
                    ),
                ));
            };
            self.settings_values(
                &settings.memory_mb,
                &settings.timeout_seconds,
                &settings.log_retention_days,
                &settings.reserved_concurrency,
            )?;
            out.insert(function, (name.span(), settings));
        }
        Ok(out)
    }

    fn stage(&self, project: &Project<'_>, name: &Spanned<String>, raw: RawLayer) -> Result<Stage, ConfigError> {
        let stage_name = self.name(name, "stage", MAX_NAME_LEN)?;
        self.function_names_fit(project.name, name)?;
        let (region, account, protect) = self.placement(project, &stage_name, &raw)?;
        let artifact_bucket = raw.artifact_bucket.as_ref().map(|b| self.bucket(b)).transpose()?;
        let stage_functions = self.layer(&raw)?;

        let inherit = Inherit { stage: &raw, defaults: project.defaults };
        let token_lifetime_seconds = inherit.number(|l| &l.token_lifetime_seconds, FALLBACK_TOKEN_LIFETIME);
        let authorizer_cache_ttl_seconds = inherit.number(|l| &l.authorizer_cache_ttl_seconds, FALLBACK_CACHE_TTL);
        if authorizer_cache_ttl_seconds > token_lifetime_seconds {
            return Err(self.err(
                inherit.span(|l| &l.authorizer_cache_ttl_seconds).unwrap_or(name.span()),
                format!("authorizer_cache_ttl_seconds ({authorizer_cache_ttl_seconds}) is longer than token_lifetime_seconds ({token_lifetime_seconds})"),
                "a cached Allow would outlive the token; lower the cache TTL or raise the token lifetime",
            ));
        }
        let functions = self.function_settings(&inherit, &stage_functions, project.default_functions);
        let tags = self.merged_tags(&inherit, name)?;

        let table = self.provision(&raw.table, ArnKind::Table, &region, account.as_deref())?;
        let key = self.provision(&raw.key, ArnKind::Key, &region, account.as_deref())?;
        let secret = self.provision(&raw.secret, ArnKind::Secret, &region, account.as_deref())?;
        let domain = raw.domain.as_ref().map(|d| self.domain(d.get_ref(), &region, account.as_deref())).transpose()?;
        let mail = raw.mail.as_ref().map(|m| self.mail(m, &region, account.as_deref())).transpose()?;
        self.mail_needed(name, mail.as_ref())?;
        let architecture = raw.architecture.as_ref().map_or(project.architecture, |a| *a.get_ref());
        let stage_pipeline = raw.pipeline.as_ref().map(Spanned::get_ref);
        let pipeline = self.pipeline(project.pipeline, name, stage_pipeline, account.as_deref(), architecture)?;

        Ok(Stage {
            name: stage_name,
            region,
            account,
            protect,
            artifact_bucket,
            architecture,
            log_retention_days: inherit.number(|l| &l.log_retention_days, FALLBACK.log_retention_days),
            token_lifetime_seconds,
            password_min_chars: inherit.number(|l| &l.password_min_chars, FALLBACK_PASSWORD_MIN_CHARS),
            authorizer_cache_ttl_seconds,
            throttle: inherit.value(|l| &l.throttle, FALLBACK_THROTTLE),
            ip_rate_limits: raw
                .ip_rate_limits
                .as_ref()
                .or(project.defaults.ip_rate_limits.as_ref())
                .map_or(FALLBACK_IP_RATE_LIMITS, RawIpRateLimits::resolve),
            lockout: inherit.value(|l| &l.lockout, FALLBACK_LOCKOUT),
            session: inherit.value(|l| &l.session, FALLBACK_SESSION),
            tags,
            functions,
            table,
            key,
            secret,
            domain,
            mail,
            pipeline,
        })
    }

    /// Function and role names are `<project>-<stage>-<function>` and must fit AWS's limit.
    fn function_names_fit(&self, project: &str, stage: &Spanned<String>) -> Result<(), ConfigError> {
        for f in self.all {
            let full = format!("{project}-{}-{}", stage.get_ref(), f.name());
            if full.len() > MAX_NAME_LEN {
                return Err(self.err(
                    stage.span(),
                    format!("the function name `{full}` is {} characters; AWS allows {MAX_NAME_LEN}", full.len()),
                    "shorten the project or the stage name",
                ));
            }
        }
        Ok(())
    }

    /// Where the stage is deployed: its region, its account (when it names one) and whether it is
    /// protected, which needs a named account.
    fn placement(
        &self,
        project: &Project<'_>,
        stage_name: &str,
        raw: &RawLayer,
    ) -> Result<(String, Option<String>, bool), ConfigError> {
        if let Some(region) = &raw.region {
            self.region(region)?;
        }
        let region = raw.region.as_ref().map_or(project.region, |r| r.get_ref()).to_owned();
        let account = match &raw.account {
            Some(a) if a.get_ref().len() != 12 || !a.get_ref().bytes().all(|b| b.is_ascii_digit()) => {
                return Err(self.err(
                    a.span(),
                    format!("`{}` is not an AWS account id", a.get_ref()),
                    "use the 12-digit account id, as a string",
                ));
            }
            Some(a) => Some(a.get_ref().clone()),
            None => None,
        };
        let protect = raw.protect.as_ref().is_some_and(|p| *p.get_ref());
        if let Some(p) = &raw.protect
            && protect
            && account.is_none()
        {
            return Err(self.err(
                p.span(),
                format!("stage `{stage_name}` is protected but does not name its account"),
                "add account = \"<12-digit id>\" to the stage, so that no deploy or destroy acts on it with another \
                 account's credentials",
            ));
        }
        Ok((region, account, protect))
    }

    /// Each function's settings, most specific first: the function in this stage, this stage, the function
    /// in [defaults], [defaults], then the built-in fallback.
    fn function_settings(
        &self,
        inherit: &Inherit<'_>,
        in_stage: &Functions<'_>,
        in_defaults: &Functions<'_>,
    ) -> BTreeMap<Function, FunctionSettings> {
        let mut functions = BTreeMap::new();
        for f in self.all {
            let in_stage = in_stage.get(f).map(|(_, s)| *s);
            let in_defaults = in_defaults.get(f).map(|(_, s)| *s);
            let layer = |get: fn(&RawFunction) -> &Option<Spanned<u32>>,
                         key: fn(&RawLayer) -> &Option<Spanned<u32>>,
                         fallback: u32| {
                let none = None;
                let (stage, defaults) = (key(inherit.stage), key(inherit.defaults));
                pick(&[in_stage.map_or(&none, get), stage, in_defaults.map_or(&none, get), defaults], fallback)
            };
            functions.insert(
                f.clone(),
                FunctionSettings {
                    memory_mb: layer(|r| &r.memory_mb, |l| &l.memory_mb, FALLBACK.memory_mb),
                    timeout_seconds: layer(|r| &r.timeout_seconds, |l| &l.timeout_seconds, FALLBACK.timeout_seconds),
                    log_retention_days: layer(
                        |r| &r.log_retention_days,
                        |l| &l.log_retention_days,
                        FALLBACK.log_retention_days,
                    ),
                    reserved_concurrency: layer(
                        |r| &r.reserved_concurrency,
                        |l| &l.reserved_concurrency,
                        FALLBACK.reserved_concurrency,
                    ),
                },
            );
        }
        functions
    }

    /// The stage's tags over those of [defaults], within AWS's limit per resource.
    fn merged_tags(
        &self,
        inherit: &Inherit<'_>,
        name: &Spanned<String>,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let plain = |l: &RawLayer| -> Vec<(String, String)> {
            l.tags.iter().map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())).collect()
        };
        let mut tags: BTreeMap<String, String> = plain(inherit.defaults).into_iter().collect();
        tags.extend(plain(inherit.stage));
        if tags.len() > MAX_TAGS {
            let span = inherit.stage.tags.keys().next().map_or(name.span(), |k| k.span());
            return Err(self.err(
                span,
                format!(
                    "stage {} has {} tags with those of [defaults]; AWS allows {MAX_TAGS} per resource",
                    name.get_ref(),
                    tags.len()
                ),
                "remove some tags",
            ));
        }
        Ok(tags)
    }

    /// A table, key or secret the stage creates (unset or `"create"`), or imports by ARN.
    fn provision(
        &self,
        value: &Option<Spanned<String>>,
        kind: ArnKind,
        region: &str,
        account: Option<&str>,
    ) -> Result<Provision, ConfigError> {
        match value {
            None => Ok(Provision::Create),
            Some(v) if v.get_ref() == "create" => Ok(Provision::Create),
            Some(v) => match arn::check(v.get_ref(), kind, region, account) {
                Ok(name) => Ok(Provision::Import { arn: v.get_ref().clone(), name: name.to_owned() }),
                Err(e) => Err(self.err(
                    v.span(),
                    e,
                    format!(
                        "write \"create\", or the ARN of an existing {} resource such as `{}`",
                        kind.service(),
                        kind.example()
                    ),
                )),
            },
        }
    }

    /// An S3 bucket name: 3 to 63 lowercase letters, digits, hyphens and dots, starting and ending
    /// with a letter or digit.
    fn bucket(&self, bucket: &Spanned<String>) -> Result<String, ConfigError> {
        let b = bucket.get_ref();
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid = (3..=63).contains(&b.len())
            && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
            && alnum(b.chars().next())
            && alnum(b.chars().last())
            && !b.contains("..")
            && !b.starts_with("xn--")
            && !b.ends_with("-s3alias")
            && b.split('.').filter(|p| p.parse::<u8>().is_ok()).count() < 4;
        if !valid {
            return Err(self.err(
                bucket.span(),
                format!("`{b}` is not a valid S3 bucket name"),
                "use 3 to 63 lowercase letters, digits, hyphens or dots, starting and ending with a letter or digit",
            ));
        }
        Ok(b.clone())
    }

    fn domain(&self, raw: &RawDomain, region: &str, account: Option<&str>) -> Result<Domain, ConfigError> {
        let name = raw.name.get_ref();
        if !super::mail::host_name(name) {
            return Err(self.err(
                raw.name.span(),
                format!("`{name}` is not a domain name"),
                "use a lowercase host name such as `api.example.com`",
            ));
        }
        let certificate_arn = match &raw.certificate_arn {
            Some(c) => {
                arn::check(c.get_ref(), ArnKind::Certificate, region, account).map_err(|e| {
                    self.err(
                        c.span(),
                        e,
                        "a regional API needs an ACM certificate in the stage's own region and account",
                    )
                })?;
                Some(c.get_ref().clone())
            }
            None => None,
        };
        let base_path = match &raw.base_path {
            Some(p) if p.get_ref().is_empty() => None,
            Some(p) => {
                let ok = p.get_ref().bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
                if !ok {
                    return Err(self.err(
                        p.span(),
                        format!("`{}` is not a base path", p.get_ref()),
                        "use letters, digits, `.`, `_` and `-`, without slashes",
                    ));
                }
                Some(p.get_ref().clone())
            }
            None => None,
        };
        Ok(Domain { name: name.clone(), certificate_arn, base_path })
    }
}

/// The first value that is set, else the fallback.
fn pick(layers: &[&Option<Spanned<u32>>], fallback: u32) -> u32 {
    layers.iter().find_map(|l| l.as_ref().map(|v| *v.get_ref())).unwrap_or(fallback)
}
