//! The documentation's promises that can be checked mechanically.

use std::path::PathBuf;

fn read(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rows of the markdown table whose header line is `header`.
fn table(text: &str, header: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| *l != header)
        .take_while(|l| l.starts_with('|'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_migration_guide_and_the_readme_list_the_same_differences() {
    let header = "| Traefik 3.7 | wharf | why |";
    let readme = table(&read("README.md"), header);
    let guide = table(&read("docs/migrating-from-traefik.md"), header);
    assert!(readme.len() > 10, "the README's table is missing");
    assert_eq!(
        readme, guide,
        "docs/migrating-from-traefik.md and README.md must carry the same table of differences"
    );
}
