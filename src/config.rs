//! Layered configuration: the built-in defaults (the commented
//! `config/callpop.toml`, compiled in), then a file given with `--config`,
//! then `CALLPOP_SECTION__KEY` variables. Unknown keys are refused by name.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use ipnet::IpNet;
use serde::Deserialize;

/// The defaults, which are also the documentation of every key.
pub const DEFAULTS: &str = include_str!("../config/callpop.toml");

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub sip: Sip,
    pub phone: Phone,
    pub company: Company,
    pub pop: Pop,
    pub api: Api,
    /// Links to PBXs besides the built-in SIP endpoint.
    #[serde(default)]
    pub links: Vec<Link>,
}

/// One `[[links]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub kind: LinkKind,
    pub name: String,
    pub host: String,
    #[serde(default = "ami_port")]
    pub port: u16,
    pub username: String,
    pub secret: Secret,
    #[serde(default)]
    pub trunk_contexts: Vec<String>,
    #[serde(default)]
    pub internal_contexts: Vec<String>,
    #[serde(default)]
    pub trunks: Vec<String>,
    #[serde(default)]
    pub internal: Vec<String>,
    #[serde(default)]
    pub extensions: std::collections::HashMap<String, String>,
    #[serde(default = "originate_channel")]
    pub originate_channel: String,
    #[serde(default = "originate_context")]
    pub originate_context: String,
    #[serde(default = "ping_secs")]
    pub ping_secs: u64,
    #[serde(default = "link_stale_after_secs")]
    pub stale_after_secs: u64,
    #[serde(default = "yes")]
    pub ask_presentation: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// The Asterisk Manager Interface.
    Ami,
}

fn ami_port() -> u16 {
    5038
}

fn originate_channel() -> String {
    "PJSIP/{extension}".into()
}

fn originate_context() -> String {
    "from-internal".into()
}

fn ping_secs() -> u64 {
    20
}

fn link_stale_after_secs() -> u64 {
    4 * 3600
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    pub listen: SocketAddr,
    pub base_url: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    pub url: Secret,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sip {
    pub enabled: bool,
    pub listen: SocketAddr,
    pub trusted_peers: Vec<IpNet>,
    pub stale_after_secs: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    pub home_region: String,
}

/// The `[company]` section: what the CRM pages need to know about the company.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// An IANA zone name; calendars and typed times are read in it.
    pub time_zone: String,
    /// The ISO 4217 code new opportunities are valued in unless told.
    pub currency: String,
}

/// Three capital letters, the shape of an ISO 4217 code such as "EUR".
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

impl Company {
    /// The company's time zone; `check` made sure the name is known.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pop {
    pub desktop: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    #[serde(default)]
    pub token: Option<Secret>,
    /// How often an open pop stream checks its token or session again.
    pub stream_check_secs: u64,
}

/// A value that must not reach logs: `Debug` prints a placeholder.
/// Database URLs are secrets too, since they may carry a password.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Config {
    /// Reads the defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        Config::load_from(file, std::env::vars())
    }

    /// As [`Config::load`], with the environment handed in (for tests).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            anyhow::ensure!(
                path.is_file(),
                "config file {} does not exist",
                path.display()
            );
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }

        let env = config::Environment::with_prefix("CALLPOP")
            .prefix_separator("_")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("sip.trusted_peers")
            .try_parsing(true)
            .source(Some(
                env.into_iter()
                    .filter(|(key, _)| key != "CALLPOP_CONFIG")
                    .collect(),
            ));
        let config: Config = builder
            .add_source(env)
            .build()
            .and_then(|c| c.try_deserialize())
            .context("invalid configuration")?;

        config.check()?;
        Ok(config)
    }

    /// Checks what the types alone cannot say.
    fn check(&self) -> anyhow::Result<()> {
        let base = &self.server.base_url;
        anyhow::ensure!(
            base.starts_with("http://") || base.starts_with("https://"),
            "invalid configuration: server.base_url must start with http:// or https://, \
             got {base:?}"
        );
        let url = self.database.url.expose();
        anyhow::ensure!(
            url.starts_with("sqlite:")
                || url.starts_with("postgres:")
                || url.starts_with("postgresql:"),
            "invalid configuration: database.url must start with sqlite: or postgres:"
        );
        let stale = self.sip.stale_after_secs;
        anyhow::ensure!(
            (60..=7 * 86_400).contains(&stale),
            "invalid configuration: sip.stale_after_secs must be from 60 to 604800, got {stale}"
        );
        self.check_links()?;
        let every = self.api.stream_check_secs;
        anyhow::ensure!(
            (1..=30).contains(&every),
            "invalid configuration: api.stream_check_secs must be from 1 to 30, got {every}"
        );
        anyhow::ensure!(
            crate::lookup::Normalizer::new(&self.phone.home_region).is_ok(),
            "invalid configuration: phone.home_region {:?} is not a known region code",
            self.phone.home_region
        );
        anyhow::ensure!(
            self.company.time_zone.parse::<chrono_tz::Tz>().is_ok(),
            "invalid configuration: company.time_zone {:?} is not a known IANA time zone",
            self.company.time_zone
        );
        anyhow::ensure!(
            is_currency_code(&self.company.currency),
            "invalid configuration: company.currency {:?} is not an ISO 4217 code such as USD",
            self.company.currency
        );
        Ok(())
    }
}

impl Config {
    fn check_links(&self) -> anyhow::Result<()> {
        let mut names = std::collections::HashSet::from(["sip"]);
        for (i, link) in self.links.iter().enumerate() {
            let at = format!("invalid configuration: links[{i}]");
            let name = &link.name;
            anyhow::ensure!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)),
                "{at}.name must be letters, digits, '-' or '_', got {name:?}"
            );
            anyhow::ensure!(names.insert(name), "{at}.name {name:?} is used twice");
            anyhow::ensure!(!link.host.is_empty(), "{at}.host is empty");
            // These go into the Manager protocol's lines: a line break would
            // end the field and start another.
            let lines = [
                ("host", link.host.as_str()),
                ("username", link.username.as_str()),
                ("secret", link.secret.expose()),
                ("originate_channel", link.originate_channel.as_str()),
                ("originate_context", link.originate_context.as_str()),
            ];
            for (key, value) in lines {
                anyhow::ensure!(
                    !value.chars().any(char::is_control),
                    "{at}.{key} must not hold line breaks or control characters"
                );
            }
            anyhow::ensure!(link.port != 0, "{at}.port must not be 0");
            anyhow::ensure!(
                link.originate_channel.contains("{extension}"),
                "{at}.originate_channel must contain {{extension}}, got {:?}",
                link.originate_channel
            );
            anyhow::ensure!(
                (1..=3600).contains(&link.ping_secs),
                "{at}.ping_secs must be from 1 to 3600, got {}",
                link.ping_secs
            );
            anyhow::ensure!(
                (1..=7 * 86_400).contains(&link.stale_after_secs),
                "{at}.stale_after_secs must be from 1 to 604800, got {}",
                link.stale_after_secs
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_links_are_read_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("callpop.toml");
        std::fs::write(
            &file,
            "[[links]]\nkind = \"ami\"\nname = \"office\"\nhost = \"10.0.0.5\"\n\
             username = \"crm\"\nsecret = \"crmsecret\"\ntrunks = [\"PJSIP/5061\"]\n\
             extensions = { \"DAHDI/7\" = \"112\" }\n\
             [[links]]\nkind = \"ami\"\nname = \"branch\"\nhost = \"10.0.0.6\"\nport = 5039\n\
             username = \"crm\"\nsecret = \"other\"\n",
        )
        .unwrap();
        let config = Config::load_from(Some(&file), env(&[])).unwrap();
        assert_eq!(config.links.len(), 2);
        let office = &config.links[0];
        assert_eq!(office.kind, LinkKind::Ami);
        assert_eq!((office.host.as_str(), office.port), ("10.0.0.5", 5038));
        assert_eq!(office.trunks, ["PJSIP/5061"]);
        assert_eq!(
            office.extensions.get("DAHDI/7").map(String::as_str),
            Some("112")
        );
        assert_eq!(office.originate_channel, "PJSIP/{extension}");
        assert!(office.ask_presentation);
        assert_eq!(config.links[1].port, 5039);
        assert!(!format!("{config:?}").contains("crmsecret"));
    }

    #[test]
    fn bad_links_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("callpop.toml");
        let base = "[[links]]\nkind = \"ami\"\nhost = \"h\"\nusername = \"u\"\nsecret = \"s\"\n";
        let cases = [
            ("name = \"sip\"\n", "links[0].name"),
            ("name = \"a b\"\n", "links[0].name"),
            ("name = \"x\"\nping_secs = 0\n", "links[0].ping_secs"),
            (
                "name = \"x\"\noriginate_channel = \"SIP/201\"\n",
                "originate_channel",
            ),
            ("name = \"x\"\nkind2 = 1\n", "kind2"),
            (
                "name = \"x\"\noriginate_context = \"x\\r\\nAction: Originate\"\n",
                "links[0].originate_context",
            ),
        ];
        for (extra, named) in cases {
            std::fs::write(&file, format!("{base}{extra}")).unwrap();
            let err = Config::load_from(Some(&file), env(&[])).unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains(named), "{extra}: {text}");
        }
        std::fs::write(&file, base.replace("\"ami\"", "\"fax\"") + "name = \"x\"\n").unwrap();
        let text = format!(
            "{:#}",
            Config::load_from(Some(&file), env(&[])).unwrap_err()
        );
        assert!(text.contains("fax"), "{text}");
    }

    #[test]
    fn the_config_files_own_variable_is_not_read_as_a_setting() {
        let config = Config::load_from(None, env(&[("CALLPOP_CONFIG", "/etc/callpop.toml")]));
        assert!(config.is_ok(), "{:#}", config.unwrap_err());
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.server.base_url, "http://127.0.0.1:8080");
        assert_eq!(config.database.url.expose(), "sqlite://data/callpop.db");
        assert_eq!(config.sip.listen.to_string(), "127.0.0.1:5060");
        assert_eq!(config.phone.home_region, "US");
        assert_eq!(config.company.tz(), chrono_tz::UTC);
        assert_eq!(config.company.currency, "USD");
        assert!(!config.pop.desktop);
        assert!(config.api.token.is_none());
        assert!(config
            .sip
            .trusted_peers
            .iter()
            .any(|n| n.contains(&"127.0.0.1".parse::<std::net::IpAddr>().unwrap())));
    }

    #[test]
    fn a_file_changes_only_what_it_holds_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("callpop.toml");
        std::fs::write(
            &file,
            "[phone]\nhome_region = \"DE\"\n[pop]\ndesktop = true\n",
        )
        .unwrap();
        let vars = env(&[
            ("CALLPOP_POP__DESKTOP", "false"),
            ("CALLPOP_SIP__TRUSTED_PEERS", "10.1.0.0/16,192.0.2.7/32"),
        ]);
        let config = Config::load_from(Some(&file), vars).unwrap();

        assert_eq!(config.phone.home_region, "DE");
        assert!(!config.pop.desktop, "the environment overrides the file");
        assert_eq!(
            config.server.listen.to_string(),
            "127.0.0.1:8080",
            "default kept"
        );
        let peers: Vec<String> = config
            .sip
            .trusted_peers
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(peers, ["10.1.0.0/16", "192.0.2.7/32"]);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("CALLPOP_SERVER__LISTEN", "nowhere", "server.listen"),
            ("CALLPOP_SERVER__BASE_URL", "ftp://x", "server.base_url"),
            ("CALLPOP_DATABASE__URL", "mysql://x", "database.url"),
            ("CALLPOP_PHONE__HOME_REGION", "ZZ", "phone.home_region"),
            ("CALLPOP_POP__DESKTOP", "maybe", "pop.desktop"),
            (
                "CALLPOP_COMPANY__TIME_ZONE",
                "Mars/Olympus",
                "company.time_zone",
            ),
            ("CALLPOP_COMPANY__CURRENCY", "dollars", "company.currency"),
            (
                "CALLPOP_SIP__STALE_AFTER_SECS",
                "10000000000000000",
                "sip.stale_after_secs",
            ),
        ];
        for (key, value, named) in cases {
            let err = Config::load_from(None, env(&[(key, value)])).unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains(named), "{key}={value}: {text}");
        }
    }

    #[test]
    fn a_mistyped_database_scheme_does_not_repeat_the_password() {
        let vars = env(&[(
            "CALLPOP_DATABASE__URL",
            "postgress://u:Sup3rSecret@db/callpop",
        )]);
        let text = format!("{:#}", Config::load_from(None, vars).unwrap_err());
        assert!(
            text.contains("database.url") && !text.contains("Sup3rSecret"),
            "{text}"
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let vars = env(&[
            ("CALLPOP_API__TOKEN", "s3cret-token"),
            (
                "CALLPOP_DATABASE__URL",
                "postgres://callpop:pa55word@db/callpop",
            ),
        ]);
        let config = Config::load_from(None, vars).unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cret-token") && !shown.contains("pa55word"),
            "{shown}"
        );
        assert_eq!(config.api.token.unwrap().expose(), "s3cret-token");
    }
}
