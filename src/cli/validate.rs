//! `likes serve`'s flags checked one by one and against each other, then
//! turned into a `Config`: a value that cannot work is refused here, with
//! the flag it came from named, before anything starts.

use super::ServeArgs;
use crate::catalogue::Catalogue;
use crate::config::{Config, ConfigError, PageSource};
use crate::limits::{Access, ClientIpSource, Limits, Timeouts};
use crate::model::ServerId;
use std::time::Duration;

/// The longest WebSocket init deadline or keepalive interval accepted.
const MAX_WS_TIMER: Duration = Duration::from_secs(3600);

/// The longest window accepted; buckets are kept for an hour.
const MAX_WINDOW: Duration = Duration::from_secs(30 * 60);

impl ServeArgs {
    /// Validates the flags and loads the catalogue.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        for (name, value) in [
            ("--flush-interval", self.flush_interval),
            ("--flush-try-timeout", self.flush_try_timeout),
            ("--flush-hard-timeout", self.flush_hard_timeout),
            ("--observe-interval", self.observe_interval),
            ("--shutdown-grace", self.shutdown_grace),
            ("--ack-timeout", self.ack_timeout),
            ("--header-read-timeout", self.header_read_timeout),
            ("--body-read-timeout", self.body_read_timeout),
            ("--idle-timeout", self.idle_timeout),
        ] {
            if value.is_zero() {
                return invalid(format!("{name} must be greater than zero"));
            }
        }
        if self.flush_try_timeout > self.flush_hard_timeout {
            return invalid(format!(
                "--flush-try-timeout ({}) must not exceed --flush-hard-timeout ({})",
                humantime::format_duration(self.flush_try_timeout),
                humantime::format_duration(self.flush_hard_timeout)
            ));
        }
        // A bucket is complete once its flush try commits (within the try
        // timeout) and is read at the next observation; the default also
        // covers any flush the hard timeout allows, plus clock skew.
        if self.flush_hard_timeout >= self.shutdown_grace {
            return invalid(format!(
                "--shutdown-grace ({}) must exceed --flush-hard-timeout ({}): a flush in progress at shutdown finishes first",
                humantime::format_duration(self.shutdown_grace),
                humantime::format_duration(self.flush_hard_timeout)
            ));
        }
        if self.ack_linger > self.flush_interval {
            return invalid(format!(
                "--ack-linger ({}) must not exceed --flush-interval ({}): every like is flushed by then",
                humantime::format_duration(self.ack_linger),
                humantime::format_duration(self.flush_interval)
            ));
        }
        let minimum_window = self.flush_try_timeout + self.observe_interval;
        let observe_window = self
            .observe_window
            .unwrap_or(self.flush_hard_timeout + self.observe_interval + Duration::from_secs(2));
        if observe_window < minimum_window || observe_window > MAX_WINDOW {
            return invalid(format!(
                "--observe-window ({}) must be between flush try timeout + observe interval ({}) and {}",
                humantime::format_duration(observe_window),
                humantime::format_duration(minimum_window),
                humantime::format_duration(MAX_WINDOW)
            ));
        }
        for (name, value) in [
            ("--buffer-max-likes", self.buffer_max_likes),
            ("--buffer-max-bytes", self.buffer_max_bytes),
            ("--max-connections", self.max_connections),
            (
                "--max-subscriptions-per-connection",
                self.max_subscriptions_per_connection,
            ),
            ("--client-ip-hop", self.client_ip_hop),
        ] {
            if value == 0 {
                return invalid(format!("{name} must be at least 1"));
            }
        }
        for (name, value) in [
            ("--ws-init-timeout", self.ws_init_timeout),
            ("--ws-keepalive", self.ws_keepalive),
            ("--stream-keepalive", self.stream_keepalive),
            ("--write-timeout", self.write_timeout),
        ] {
            if value.is_zero() || value > MAX_WS_TIMER {
                return invalid(format!("{name} must be between 1ms and 1h"));
            }
        }
        let server_id = match self.server_id {
            Some(id) => id,
            None => gethostname::gethostname().to_string_lossy().into_owned(),
        };
        let server_id = ServerId::new(server_id)
            .map_err(|e| ConfigError::Invalid(format!("--server-id: {e}")))?;
        if let Some(folder) = &self.page_dir
            && !folder.join("index.html").is_file()
        {
            return invalid(format!(
                "--page-dir {}: no index.html there (build the page with npm run build in web/)",
                folder.display()
            ));
        }
        let catalogue = match &self.sessions {
            Some(path) => Catalogue::load(path)?,
            None => Catalogue::sample(),
        };
        Ok(Config {
            listen: self.listen,
            store: self.store.url,
            catalogue,
            server_id,
            flush_interval: self.flush_interval,
            flush_try_timeout: self.flush_try_timeout,
            flush_hard_timeout: self.flush_hard_timeout,
            observe_interval: self.observe_interval,
            observe_window,
            buffer_max_likes: self.buffer_max_likes,
            buffer_max_bytes: self.buffer_max_bytes,
            ack: self.ack,
            ack_timeout: self.ack_timeout,
            ack_linger: self.ack_linger,
            shutdown_grace: self.shutdown_grace,
            limits: Limits {
                rate_per_liker: self.rate_per_liker,
                rate_per_address: self.rate_per_address,
                client_ip: ClientIpSource {
                    header: self.client_ip_header,
                    hop: self.client_ip_hop,
                },
                max_connections: self.max_connections,
                max_connections_per_address: self.max_connections_per_address,
                timeouts: Timeouts {
                    header_read: self.header_read_timeout,
                    body_read: self.body_read_timeout,
                    idle: self.idle_timeout,
                    write: self.write_timeout,
                },
                ws_operation_rate: self.ws_operation_rate,
                max_subscriptions_per_connection: self.max_subscriptions_per_connection,
                ws_init_timeout: self.ws_init_timeout,
                ws_keepalive: self.ws_keepalive,
                stream_keepalive: self.stream_keepalive,
            },
            access: Access {
                allowed_origins: self.allowed_origins,
                introspection: self.introspection,
                graphiql: self.graphiql,
            },
            page: match (self.page, self.page_dir) {
                (false, _) => PageSource::Off,
                (true, None) => PageSource::Embedded,
                (true, Some(folder)) => PageSource::Folder(folder),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::config::Ack;
    use crate::limits::{AllowedOrigins, Rate};
    use crate::store::StoreUrl;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["likes", "serve", "--server-id", "test"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let Command::Serve(serve) = cli.command else {
            panic!("parsed as serve")
        };
        serve.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_sensible() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.store, StoreUrl::Sqlite("likes.db".into()));
        assert_eq!(config.flush_interval, Duration::from_secs(1));
        assert_eq!(config.flush_hard_timeout, Duration::from_secs(10));
        assert_eq!(config.observe_window, Duration::from_secs(13));
        assert_eq!(config.buffer_max_bytes, 64 << 20);
        assert_eq!(config.limits.rate_per_liker, Rate::per_second(20));
        assert_eq!(config.access.allowed_origins, AllowedOrigins::SameOrigin);
        assert!(config.access.introspection && config.access.graphiql);
        assert_eq!(config.page, PageSource::Embedded);
        assert_eq!(config.ack, Ack::Stored);
        assert_eq!(config.ack_linger, Duration::from_millis(10));
    }

    #[test]
    fn production_switches_parse() {
        let config = parse(&[
            "--introspection",
            "false",
            "--graphiql",
            "false",
            "--allowed-origins",
            "https://conference.example",
            "--rate-per-address",
            "off",
            "--client-ip-header",
            "X-Forwarded-For",
            "--client-ip-hop",
            "2",
            "--buffer-max-bytes",
            "512KiB",
            "--page",
            "false",
            "--ack",
            "buffered",
        ])
        .unwrap();
        assert_eq!(config.ack, Ack::Buffered);
        assert!(!config.access.introspection && !config.access.graphiql);
        assert_eq!(config.page, PageSource::Off);
        assert_eq!(
            config.access.allowed_origins,
            AllowedOrigins::List(vec!["https://conference.example".into()])
        );
        assert_eq!(config.limits.rate_per_address, Rate::OFF);
        assert_eq!(config.limits.client_ip.hop, 2);
        assert_eq!(config.buffer_max_bytes, 512 << 10);
    }

    #[test]
    fn bad_values_say_why() {
        assert!(
            parse(&["--flush-interval", "soon"])
                .unwrap_err()
                .contains("--flush-interval")
        );
        assert!(
            parse(&["--flush-interval", "0s"])
                .unwrap_err()
                .contains("greater than zero")
        );
        assert!(
            parse(&["--flush-try-timeout", "20s"])
                .unwrap_err()
                .contains("must not exceed")
        );
        assert!(
            parse(&["--observe-window", "1s"])
                .unwrap_err()
                .contains("--observe-window")
        );
        assert!(
            parse(&["--store", "mysql://x"])
                .unwrap_err()
                .contains("store URL")
        );
        for (flag, value) in [
            ("--buffer-max-bytes", "lots"),
            ("--buffer-max-bytes", "1TB"),
            ("--rate-per-liker", "fast"),
            ("--allowed-origins", "conference.example"),
            ("--max-connections", "0"),
            ("--ws-keepalive", "0s"),
            ("--ws-keepalive", "2h"),
            ("--introspection", "maybe"),
            ("--page-dir", "/nonexistent"),
            ("--ack", "never"),
            ("--ack-timeout", "0s"),
            ("--ack-linger", "2s"),
        ] {
            assert!(
                parse(&[flag, value]).unwrap_err().contains(flag),
                "{flag} {value} was accepted or did not name the flag"
            );
        }
        assert!(
            parse(&["--sessions", "/nonexistent.json"])
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
