//! The book's tour (`docs/tour.md`) names a file and a function at every step; this test keeps
//! those names true: each function must still be defined in the file the tour names.

use std::path::Path;

#[test]
fn every_function_the_tour_names_exists_in_its_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tour = std::fs::read_to_string(root.join("docs/tour.md")).expect("docs/tour.md");
    let rows: Vec<(String, String)> = tour
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | step | `file` | `function` |
            match cells.as_slice() {
                ["", step, file, func, ""] if step.parse::<u32>().is_ok() => Some((
                    file.trim_matches('`').to_owned(),
                    func.trim_matches('`').to_owned(),
                )),
                _ => None,
            }
        })
        .collect();
    assert!(
        rows.len() >= 20,
        "the tour's table has only {} rows",
        rows.len()
    );
    let mut missing = Vec::new();
    for (file, func) in &rows {
        let source = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        // `fn name(` also matches `async fn name(`; generic functions are `fn name<`.
        let defined =
            source.contains(&format!("fn {func}(")) || source.contains(&format!("fn {func}<"));
        if !defined {
            missing.push(format!("{file}: fn {func}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the tour names functions that no longer exist: {missing:?}"
    );
}
