//! Replays the fuzz corpus (seeds and any saved crash regressions) through the fuzz logic, so
//! every CI run exercises it on the stable toolchain.

use wharf_testkit::replay_corpus as replay;

#[test]
fn rule_parse_corpus() {
    replay("rule_parse", wharf_rule::fuzz_logic::rule);
}

#[test]
fn dynamic_yaml_corpus() {
    replay("dynamic_yaml", wharf_config::fuzz_logic::dynamic_yaml);
}

#[test]
fn dynamic_toml_corpus() {
    replay("dynamic_toml", wharf_config::fuzz_logic::dynamic_toml);
}

#[test]
fn static_flags_corpus() {
    replay("static_flags", wharf_config::fuzz_logic::static_flags);
}

#[test]
fn docker_labels_corpus() {
    replay("docker_labels", wharf_config::fuzz_logic::docker_labels);
}

#[test]
fn redis_keys_corpus() {
    replay("redis_keys", wharf_config::fuzz_logic::redis_keys);
}

#[test]
fn breaker_expr_corpus() {
    replay("breaker_expr", wharf_rule::fuzz_logic::breaker);
}

#[test]
fn go_duration_corpus() {
    replay("go_duration", wharf_model::fuzz_logic::go_duration);
}

#[test]
fn yaml_anchors_corpus() {
    replay("yaml_anchors", wharf_config::fuzz_logic::yaml_anchors);
}
