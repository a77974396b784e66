//! The stage's mail in the synthesized stacks: the codes table and the SES identity in the data stack,
//! a function granted `codes-table` and `mail-identity` getting exactly those, on exact ARNs, sending only
//! as the stage's sender, and `iam.md` showing the row with its condition.

use serde_json::{Value, json};

use testkit as testing;

const STAGES: &str = include_str!("../../stages.toml");
const IMPORTING: &str = include_str!("fixtures/importing-stages.toml");

/// A function that sends codes, as the new routes will: it writes the codes table and mails.
fn mailer() -> contract::Function {
    testing::declare(
        "mailer",
        "route = { method = \"POST\", path = \"/mailer\", access = \"public\" }\n\
         env = [\"AUTH_CODES_TABLE_NAME\", \"AUTH_MAIL_SENDER\"]\n\
         grants = { codes-table = [\"dynamodb:PutItem\", \"dynamodb:UpdateItem\"], mail-identity = [\"ses:SendEmail\"] }",
    )
}

fn config(text: &str) -> synth::Config {
    synth::parse("stages.toml", text, &testing::with(&[mailer()])).unwrap_or_else(|e| panic!("{}", e.one_line()))
}

/// `(data, api)` of `stage` with the mailer declared.
fn stacks(text: &str, stage: &str) -> (Value, Value) {
    let c = config(text);
    let s = synth::synth(&c, c.stage(stage).unwrap_or_else(|e| panic!("{e}")));
    (s.data.unwrap_or_else(|| panic!("no data stack")).to_json(), s.api.to_json())
}

fn statements(api: &Value, role: &str) -> Vec<Value> {
    api["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn the_codes_table_expires_its_items_and_is_protected_like_the_others() {
    let (dev, _) = stacks(STAGES, "dev");
    let (prod, _) = stacks(STAGES, "prod");
    let table = &dev["Resources"]["CodesTable"];
    assert_eq!(table["Properties"]["TableName"], "auth-dev-codes");
    assert_eq!(
        table["Properties"]["KeySchema"],
        json!([{"AttributeName": contract::codes::PARTITION_KEY, "KeyType": "HASH"}])
    );
    assert_eq!(
        table["Properties"]["TimeToLiveSpecification"],
        json!({"AttributeName": contract::codes::EXPIRES_AT, "Enabled": true})
    );
    assert_eq!(dev["Outputs"]["CodesTableArn"]["Export"]["Name"], "auth-dev-codes-table-arn");
    assert_eq!(dev["Outputs"]["CodesTableName"]["Export"]["Name"], "auth-dev-codes-table-name");
    for id in ["CodesTable", "MailIdentity"] {
        assert_eq!(prod["Resources"][id]["DeletionPolicy"], "Retain", "{id}");
        assert_eq!(prod["Resources"][id]["UpdateReplacePolicy"], "Retain", "{id}");
        assert_eq!(dev["Resources"][id]["DeletionPolicy"], "Delete", "{id}");
    }
    assert_eq!(prod["Resources"]["CodesTable"]["Properties"]["DeletionProtectionEnabled"], true);
}

#[test]
fn a_named_domain_gets_an_identity_with_easy_dkim_and_its_records_as_outputs() {
    let (data, _) = stacks(STAGES, "prod");
    let identity = &data["Resources"]["MailIdentity"];
    assert_eq!(identity["Type"], "AWS::SES::EmailIdentity");
    assert_eq!(identity["Properties"]["EmailIdentity"], "auth.example.com");
    assert_eq!(identity["Properties"]["DkimAttributes"], json!({"SigningEnabled": true}));
    assert_eq!(identity["Properties"]["DkimSigningAttributes"], json!({"NextSigningKeyLength": "RSA_2048_BIT"}));
    for n in 1..=3 {
        let name = &data["Outputs"][format!("MailDkim{n}Name")];
        assert_eq!(name["Value"], json!({"Fn::GetAtt": ["MailIdentity", format!("DkimDNSTokenName{n}")]}));
        let says = name["Description"].as_str().unwrap_or_default();
        assert!(
            says.contains("CNAME") && says.contains("auth.example.com") && says.contains(&format!("MailDkim{n}Value")),
            "{says}"
        );
        let value = &data["Outputs"][format!("MailDkim{n}Value")];
        assert_eq!(value["Value"], json!({"Fn::GetAtt": ["MailIdentity", format!("DkimDNSTokenValue{n}")]}));
        assert!(name.get("Export").is_none(), "records are for people, not stacks");
    }
    assert_eq!(
        data["Outputs"]["MailIdentityArn"],
        json!({"Description": "ARN of the SES identity of auth.example.com",
               "Value": {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${MailIdentity}"},
               "Export": {"Name": "auth-prod-mail-identity-arn"}})
    );
}

#[test]
fn a_function_granted_mail_sends_only_as_the_stages_sender_from_its_identity() {
    let (_, api) = stacks(STAGES, "dev");
    let granted: Vec<Value> = statements(&api, "MailerRole").into_iter().skip(1).collect();
    assert_eq!(
        granted,
        [
            json!({"Effect": "Allow", "Action": ["dynamodb:PutItem"],
                   "Resource": [{"Fn::ImportValue": "auth-dev-codes-table-arn"}]}),
            json!({"Effect": "Allow", "Action": ["dynamodb:UpdateItem"],
                   "Resource": [{"Fn::ImportValue": "auth-dev-codes-table-arn"}]}),
            json!({"Effect": "Allow", "Action": ["ses:SendEmail"],
                   "Resource": [{"Fn::ImportValue": "auth-dev-mail-identity-arn"}],
                   "Condition": {"StringEquals": {"ses:FromAddress": ["no-reply@dev.auth.example.com"]}}}),
        ]
    );
    let env = &api["Resources"]["MailerFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(
        env,
        &json!({"AUTH_CODES_TABLE_NAME": {"Fn::ImportValue": "auth-dev-codes-table-name"},
                "AUTH_MAIL_SENDER": "no-reply@dev.auth.example.com"})
    );
    // No role may send but those whose declarations grant it.
    let declared: Vec<String> = config(STAGES)
        .functions
        .iter()
        .filter(|f| f.grants().iter().any(|g| g.on == contract::Target::MailIdentity))
        .map(|f| format!("{}Role", f.pascal_name()))
        .collect();
    let senders: Vec<String> = api["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(id, r)| r["Type"] == "AWS::IAM::Role" && r.to_string().contains("ses:") && !declared.contains(id))
        .map(|(id, _)| id.clone())
        .collect();
    assert!(senders.is_empty(), "{senders:?}");
}

#[test]
fn iam_md_shows_the_send_row_with_its_condition_and_the_boundary_allows_no_more() {
    let c = config(STAGES);
    let files = synth::files(&c, c.stage("dev").unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let iam = files.iter().find(|f| f.path == "templates/dev/iam.md").map(|f| f.contents.clone()).unwrap_or_default();
    assert!(
        iam.contains(
            "| role/auth-dev-mailer | Allow | ses:SendEmail | import:auth-dev-mail-identity-arn | StringEquals \
             ses:FromAddress = no-reply@dev.auth.example.com | auth-dev-api MailerRole policy mailer |"
        ),
        "{iam}"
    );
    assert!(iam.contains("| role/auth-dev-mailer | Allow | dynamodb:PutItem | import:auth-dev-codes-table-arn | - |"));
    // The stage's boundary: the identity's ARN and the sender, as the role has them.
    assert!(iam.contains(
        "| (unattached) ${PermissionsBoundary} | Allow | ses:SendEmail | \
         arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/dev.auth.example.com | StringEquals \
         ses:FromAddress = no-reply@dev.auth.example.com |"
    ));
    let defences =
        files.iter().find(|f| f.path == "templates/dev/defences.md").map(|f| f.contents.clone()).unwrap_or_default();
    assert!(defences.contains("| auth-dev-data | MailIdentity | DKIM signing | true | higher |"), "{defences}");
    assert!(defences.contains(
        "| auth-dev-api | MailerFunction | env AUTH_MAIL_SENDER | no-reply@dev.auth.example.com | unchanged |"
    ));
}

#[test]
fn an_existing_identity_is_named_by_its_literal_arn_and_not_created() {
    let (data, api) = stacks(IMPORTING, "legacy");
    assert!(data["Resources"].get("MailIdentity").is_none());
    assert!(data["Outputs"].get("MailIdentityArn").is_none());
    let send = statements(&api, "MailerRole").into_iter().find(|s| s["Action"] == json!(["ses:SendEmail"]));
    assert_eq!(
        send,
        Some(json!({"Effect": "Allow", "Action": ["ses:SendEmail"],
                    "Resource": ["arn:aws:ses:eu-west-1:123456789012:identity/example.com"],
                    "Condition": {"StringEquals": {"ses:FromAddress": ["no-reply@auth.example.com"]}}}))
    );
    // No pipeline in that file, so no boundary; a deploy role would not manage an identity it did not make.
    let c = config(IMPORTING);
    assert!(synth::synth(&c, &c.stages["legacy"]).pipeline.is_none());
}

#[test]
fn a_deploy_role_manages_the_identity_it_creates_and_nothing_else_of_ses() {
    let c = config(STAGES);
    let pipeline = synth::synth(&c, &c.stages["prod"]).pipeline.unwrap_or_else(|| panic!("no pipeline")).to_json();
    let statements = pipeline["Resources"]["DeployRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ses: Vec<&Value> = statements.iter().filter(|s| s.to_string().contains("\"ses:")).collect();
    assert_eq!(ses.len(), 1, "{ses:?}");
    assert_eq!(
        ses[0]["Resource"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/auth.example.com"}])
    );
    assert!(!ses[0]["Action"].to_string().contains("SendEmail"), "the deploy role sends no mail");
}
