use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::*;

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Tree {
    name: String,
    children: Vec<Tree>,
}

#[test]
fn recursive_types_compile_to_a_finite_tree_and_check_deeply() {
    let v = Validator::of::<Tree>();
    let mut errors = ValidationErrors::new();
    let input =
        json!({"name": "root", "children": [{"name": "a", "children": [{"children": []}]}]});
    assert!(v
        .validate::<Tree>(input, &mut Loc::new("body"), &mut errors, false)
        .is_none());
    let e = serde_json::to_value(errors.items()).unwrap();
    assert_eq!(
        e[0]["loc"],
        json!(["body", "children", 0, "children", 0, "name"])
    );
    assert_eq!(e[0]["type"], "missing");
}

#[test]
fn lax_integers_follow_pydantic() {
    let v = Validator::of::<i64>();
    for (input, ok) in [
        ("42", Some(42)),
        (" -7 ", Some(-7)),
        ("+3", Some(3)),
        ("1_000", Some(1000)),
        ("5.0", Some(5)),
        ("5.5", None),
        ("1__0", None),
        ("", None),
        ("0x10", None),
    ] {
        let mut errors = ValidationErrors::new();
        let got = v.validate::<i64>(json!(input), &mut Loc::new("query"), &mut errors, true);
        assert_eq!(got, ok, "{input:?}");
    }
}

#[test]
fn rust_integer_ranges_are_enforced_as_bounds() {
    let v = Validator::of::<u8>();
    let mut errors = ValidationErrors::new();
    assert!(v
        .validate::<u8>(json!("300"), &mut Loc::new("query"), &mut errors, true)
        .is_none());
    assert_eq!(errors.items()[0].kind, "less_than_equal");
    assert_eq!(
        errors.items()[0].msg,
        "Input should be less than or equal to 255"
    );
}

#[test]
fn a_validator_is_compiled_once_per_type_and_thread() {
    let a = Validator::of::<Tree>();
    let b = Validator::of::<Tree>();
    assert!(std::rc::Rc::ptr_eq(&a, &b));
    assert_eq!(a.schema()["title"], "Tree");
}
