use super::*;

fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_validate() {
    Config::default().validate().unwrap();
}

#[test]
fn shipped_config_file_is_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/relaybox.toml");
    let cfg = Config::load_from(Some(&path), &[], &Overrides::default()).unwrap();
    assert_eq!(
        cfg,
        Config::default(),
        "config/relaybox.toml drifted from the defaults"
    );
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:1\"\n[limits]\nmax_batch = 7\n",
    )
    .unwrap();
    let env = vars(&[
        ("RELAYBOX_LIMITS_MAX_BATCH", "9"),
        (
            "RELAYBOX_SERVER_PUBLIC_URLS",
            "wss://a.example, https://b.example",
        ),
        ("RELAYBOX_WEBSOCKET_PING_INTERVAL_MS", "1000"),
        ("PATH", "/bin"),
    ]);
    let flags = Overrides {
        listen: Some("127.0.0.1:2".into()),
        ..Default::default()
    };
    let cfg = Config::load_from(Some(&path), &env, &flags).unwrap();
    assert_eq!(cfg.limits.max_batch, 9);
    assert_eq!(cfg.server.listen, "127.0.0.1:2");
    assert_eq!(
        cfg.server.public_urls,
        vec!["wss://a.example", "https://b.example"]
    );
    assert_eq!(cfg.websocket.ping_interval_ms, 1000);
}

#[test]
fn bad_env_values_are_errors() {
    let none = Overrides::default();
    let err = Config::load_from(None, &vars(&[("RELAYBOX_LIMITS_MAX_BATCH", "x")]), &none);
    assert!(matches!(err, Err(ConfigError::Env { .. })));
    let err = Config::load_from(None, &vars(&[("RELAYBOX_NO_SUCH_KEY", "1")]), &none);
    assert!(matches!(err, Err(ConfigError::Env { .. })));
}

#[test]
fn unknown_file_keys_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[server]\nlisten_addr = \"x\"\n").unwrap();
    let err = Config::load_from(Some(&path), &[], &Overrides::default());
    assert!(matches!(err, Err(ConfigError::Parse { .. })), "{err:?}");
}

#[test]
fn validate_rejects_bad_values() {
    let cases: [fn(&mut Config); 15] = [
        (|c: &mut Config| c.server.listen = "nope".into()),
        (|c: &mut Config| c.server.public_urls = vec!["ftp://x".into()]),
        (|c: &mut Config| c.limits.ttl_min_secs = 60),
        (|c: &mut Config| c.limits.ttl_max_secs = 5),
        (|c: &mut Config| c.limits.max_batch = 0),
        (|c: &mut Config| c.limits.max_frame_bytes = 10),
        (|c: &mut Config| c.websocket.ping_interval_ms = 30_000),
        (|c: &mut Config| c.websocket.idle_timeout_ms = 1),
        (|c: &mut Config| c.log.level = "info,[".into()),
        (|c: &mut Config| c.limits.send_queue = 0),
        (|c: &mut Config| {
            c.store.backend = StoreBackend::Redis;
            c.store.redis_url = "http://x".into();
        }),
        (|c: &mut Config| {
            c.store.backend = StoreBackend::Redis;
            c.store.redis_cluster_nodes = vec!["not a url".into()];
        }),
        (|c: &mut Config| {
            c.store.backend = StoreBackend::Redis;
            c.store.redis_timeout_ms = 0;
        }),
        (|c: &mut Config| {
            c.store.backend = StoreBackend::Redis;
            c.store.redis_wait_replicas = 1;
            c.store.redis_wait_timeout_ms = 0;
        }),
        (|c: &mut Config| {
            c.store.backend = StoreBackend::Redis;
            c.store.ack_flush_ms = 0;
        }),
    ];
    for (i, mutate) in cases.iter().enumerate() {
        let mut cfg = Config::default();
        mutate(&mut cfg);
        assert!(cfg.validate().is_err(), "case {i} should fail validation");
    }
}

#[test]
fn redis_backend_from_the_environment() {
    let env = vars(&[
        ("RELAYBOX_STORE_BACKEND", "redis"),
        ("RELAYBOX_STORE_REDIS_URL", "redis://10.0.0.5:6380"),
        ("RELAYBOX_STORE_REDIS_WAIT_REPLICAS", "1"),
        ("RELAYBOX_STORE_ACK_FLUSH_MS", "250"),
    ]);
    let cfg = Config::load_from(None, &env, &Overrides::default()).unwrap();
    assert_eq!(cfg.store.backend, StoreBackend::Redis);
    cfg.validate().unwrap();
    let r = cfg.redis_config();
    assert_eq!(r.url, "redis://10.0.0.5:6380");
    assert_eq!(r.wait_replicas, 1);
    assert_eq!(r.ack_flush_ms, 250);
    assert!(!r.is_cluster());
    let env = vars(&[
        ("RELAYBOX_STORE_BACKEND", "redis"),
        (
            "RELAYBOX_STORE_REDIS_CLUSTER_NODES",
            "redis://a:7000,redis://b:7001",
        ),
    ]);
    let cfg = Config::load_from(None, &env, &Overrides::default()).unwrap();
    cfg.validate().unwrap();
    assert!(cfg.redis_config().is_cluster());
    let bad = Config::load_from(
        None,
        &vars(&[("RELAYBOX_STORE_BACKEND", "postgres")]),
        &Overrides::default(),
    );
    assert!(bad.is_err());
}
